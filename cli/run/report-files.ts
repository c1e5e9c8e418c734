/**
 * `medrobust report RUN_DIR` and `medrobust run merge`: the report of a run folder (report.json,
 * report.md and a self-contained report.html beside the store; accuracy-vs-ε charts under report/),
 * and the merge of shard folders into one run whose report equals a one-machine run's.
 */

import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { MedrobustError } from '../../src/core/errors.ts';
import type { Experiment } from '../../src/evaluation/experiment/schema.ts';
import { RunStore, storeFileName, type UnitRecord } from '../../src/node/run-store.ts';
import { renderChart } from '../../src/report/charts.ts';
import { accuracyCurvesSpec, curvePoints } from '../../src/report/curves.ts';
import { buildRunReport, type RunReport, reportHtml, reportMarkdown } from '../../src/report/run-report.ts';
import { writeAtomically } from '../files.ts';
import { planUnits, unitFolder } from './plan.ts';
import { logFileName } from './runner.ts';

function openRun(directory: string): RunStore {
  const path = join(directory, storeFileName);
  if (!existsSync(path)) {
    throw new MedrobustError(
      'not-found',
      `${directory} is not a medrobust run folder (no ${storeFileName})`,
      {
        hint: 'pass the --out folder of a `medrobust run EXPERIMENT.json --out DIR`',
      },
    );
  }
  return RunStore.open(path, { create: false });
}

function experimentOf(store: RunStore, directory: string): Experiment {
  const text = store.getMeta('experiment');
  if (text === undefined) {
    throw new MedrobustError('invalid-data', `${directory}: the run store holds no experiment`, {
      hint: 'run the experiment into this folder first (`medrobust run EXPERIMENT.json --out DIR`)',
    });
  }
  return JSON.parse(text) as Experiment;
}

const curveFile = (dataset: string, model: string) => `report/curves-${dataset}-${model}.png`;

/** Renders the report of a run folder; returns it with the paths written. */
export async function writeRunReport(directory: string): Promise<{ report: RunReport; files: string[] }> {
  const runDirectory = resolve(directory);
  const store = openRun(runDirectory);
  let units: UnitRecord[];
  let meta: Record<string, string>;
  let experiment: Experiment;
  try {
    units = store.units();
    meta = store.meta();
    experiment = experimentOf(store, runDirectory);
  } finally {
    store.close();
  }
  const planned = planUnits(experiment).map((unit) => unit.id);
  const finished = units
    .map((unit) => unit.finishedAt)
    .filter((time): time is string => time !== null)
    .sort();
  const startedTimes = units
    .map((unit) => unit.startedAt)
    .filter((time): time is string => time !== null)
    .sort();
  const provenance = {
    medrobust: meta.medrobust ?? 'unknown',
    git: meta.git ?? 'unknown',
    engines: [
      ...new Set(units.map((unit) => unit.engine).filter((engine): engine is string => engine !== null)),
    ].join('; '),
    seed: experiment.seed,
    machine: meta.machine ?? 'unknown',
    node: meta.node ?? 'unknown',
    shards:
      [...new Set(units.map((unit) => unit.shard).filter((shard): shard is string => shard !== null))]
        .sort()
        .join(', ') || 'none (one machine)',
    started: startedTimes[0] ?? null,
    finished: finished[finished.length - 1] ?? null,
    unitSeconds: Math.round(units.reduce((sum, unit) => sum + (unit.seconds ?? 0), 0) * 10) / 10,
    experimentFile: meta.experimentPath ?? 'unknown',
    experiment,
  };
  const report = buildRunReport(
    {
      experiment: { name: experiment.name, description: experiment.description },
      planned,
      units,
      provenance,
    },
    curveFile,
  );
  const files: string[] = [];
  await mkdir(join(runDirectory, 'report'), { recursive: true });
  for (const group of report.robustness) {
    const points = curvePoints([{ name: `${group.dataset} / ${group.model}`, results: group }]);
    const chart = await renderChart(
      accuracyCurvesSpec(points, 'series', `accuracy against ε: ${group.dataset} / ${group.model}`),
    );
    const path = curveFile(group.dataset, group.model);
    await writeAtomically(join(runDirectory, path), chart.png);
    await writeAtomically(join(runDirectory, path.replace(/\.png$/, '.svg')), chart.svg);
    files.push(path);
  }
  const figureData = (path: string) => {
    try {
      return new Uint8Array(readFileSync(join(runDirectory, path)));
    } catch {
      return undefined;
    }
  };
  await writeAtomically(
    join(runDirectory, 'report.json'),
    `${JSON.stringify(report, (_, value) => (typeof value === 'number' && !Number.isFinite(value) ? null : value), 2)}\n`,
  );
  await writeAtomically(join(runDirectory, 'report.md'), reportMarkdown(report));
  await writeAtomically(join(runDirectory, 'report.html'), reportHtml(report, figureData));
  files.push('report.json', 'report.md', 'report.html');
  return { report, files };
}

/**
 * Combines shard folders into `out`: for each unit, the row of the shard that owned it (a shard's
 * prerequisite copies are used only when no owner finished it), with its artefact folder copied.
 */
export async function mergeRuns(
  sources: readonly string[],
  out: string,
): Promise<{ units: number; missing: string[] }> {
  if (sources.length === 0) {
    throw new MedrobustError('invalid-argument', 'run merge needs the shard folders to combine', {
      hint: 'medrobust run merge runs/shard-1 runs/shard-2 runs/shard-3 --out runs/all',
    });
  }
  const outDirectory = resolve(out);
  const opened = sources.map((source) => {
    const directory = resolve(source);
    if (directory === outDirectory) {
      throw new MedrobustError('invalid-argument', `--out ${out} is one of the folders to merge`, {
        hint: 'merge into a new folder',
      });
    }
    const store = openRun(directory);
    const result = { directory, units: store.units(), meta: store.meta() };
    store.close();
    return result;
  });
  const reference = opened[0];
  if (reference === undefined) throw new Error('no sources');
  for (const source of opened) {
    if (source.meta.experimentHash !== reference.meta.experimentHash) {
      throw new MedrobustError(
        'invalid-argument',
        `${source.directory} ran another experiment (or other settings) than ${reference.directory}`,
        {
          hint: 'merge only the shards of one `medrobust run EXPERIMENT.json --shard K/N`, run with the same experiment file',
        },
      );
    }
  }
  const experiment = JSON.parse(reference.meta.experiment ?? '{}') as Experiment;
  const planned = planUnits(experiment);
  await mkdir(outDirectory, { recursive: true });
  const target = RunStore.open(join(outDirectory, storeFileName));
  const missing: string[] = [];
  let merged = 0;
  try {
    for (const [key, value] of Object.entries(reference.meta))
      if (key !== 'shard') target.setMeta(key, value);
    target.setMeta('shard', '');
    target.setMeta('mergedFrom', JSON.stringify(opened.map((source) => source.directory)));
    for (const unit of planned) {
      const candidates = opened.flatMap((source) =>
        source.units
          .filter((row) => row.id === unit.id && row.hash === unit.hash)
          .map((row) => ({ source, row })),
      );
      const rank = (row: UnitRecord) => (row.status === 'done' ? 0 : 2) + (row.owned ? 0 : 1);
      const chosen = candidates.sort((a, b) => rank(a.row) - rank(b.row))[0];
      if (chosen === undefined) {
        missing.push(unit.id);
        continue;
      }
      const folder = unitFolder(unit.id);
      if (existsSync(join(chosen.source.directory, folder))) {
        await cp(join(chosen.source.directory, folder), join(outDirectory, folder), {
          recursive: true,
          force: true,
        });
      }
      target.put({ ...chosen.row, owned: true });
      merged++;
    }
  } finally {
    target.close();
  }
  const logs = await Promise.all(
    opened.map(async (source) => {
      try {
        return await readFile(join(source.directory, logFileName), 'utf8');
      } catch {
        return '';
      }
    }),
  );
  await writeAtomically(join(outDirectory, logFileName), logs.join(''));
  return { units: merged, missing };
}
