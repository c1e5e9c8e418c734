/**
 * `medrobust run EXPERIMENT.json [--out DIR] [--shard K/N] [--data PATH[,PATH…]]`: a declarative
 * experiment (src/evaluation/experiment/schema.ts) run unit by unit into a resumable run folder,
 * then its report; `medrobust run merge RUN_DIR… --out DIR` combines shard folders;
 * `medrobust report RUN_DIR` renders a run folder's report again. docs/experiments.md, docs/scale-out.md.
 */
import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { Command, Option } from '@commander-js/extra-typings';
import { MedrobustError } from '../../src/core/errors.ts';
import { engineNames } from '../../src/engine/load-engine.ts';
import { type Experiment, parseExperiment } from '../../src/evaluation/experiment/schema.ts';
import { reportSummaryText } from '../../src/report/run-report.ts';
import { parseChoice, parseInteger, parseList } from '../parse.ts';
import { parseShard } from '../run/plan.ts';
import { mergeRuns, writeRunReport } from '../run/report-files.ts';
import { runExperiment } from '../run/runner.ts';

/** The project's presets, resolved by name (`medrobust run demo`). */
export const experimentsDirectory = resolve(import.meta.dirname, '..', '..', 'experiments');

export async function readExperiment(
  path: string,
  dataOverride?: readonly string[],
): Promise<{ experiment: Experiment; path: string }> {
  let resolved = resolve(path);
  if (!path.endsWith('.json') && !path.includes('/')) resolved = join(experimentsDirectory, `${path}.json`);
  let text: string;
  try {
    text = await readFile(resolved, 'utf8');
  } catch (error) {
    throw new MedrobustError(
      'not-found',
      `${path}: cannot read the experiment (${(error as NodeJS.ErrnoException).code})`,
      {
        hint: 'pass an experiment JSON file, or a preset name: demo, paper (experiments/*.json)',
        cause: error,
      },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new MedrobustError('invalid-argument', `${path} is not valid JSON: ${(error as Error).message}`, {
      hint: 'check the commas and quotes near that position (experiments/demo.json is a complete example)',
      cause: error,
    });
  }
  if (dataOverride !== undefined && dataOverride.length > 0) json = withData(json, dataOverride, path);
  return { experiment: parseExperiment(json, path), path: resolved };
}

/** Points the experiment's first datasets at other files (`--data`), naming each after its file. */
function withData(json: unknown, paths: readonly string[], source: string): unknown {
  const experiment = json as {
    datasets?: { name?: string; path?: string }[];
    models?: { datasets?: string[] }[];
  };
  const datasets = experiment.datasets ?? [];
  if (paths.length > datasets.length) {
    throw new MedrobustError(
      'invalid-argument',
      `--data gives ${paths.length} datasets; ${source} has ${datasets.length}`,
      {
        hint: 'give at most one path per dataset of the experiment, in its order',
      },
    );
  }
  const renamed = new Map<string, string>();
  const updated = datasets.map((dataset, index) => {
    const path = paths[index];
    if (path === undefined) return dataset;
    const name =
      basename(path.replace(/[:/]+$/, ''))
        .replace(/\.(npz|npy|csv)$/i, '')
        .replace(/[^A-Za-z0-9._-]+/g, '-')
        .replace(/^[^A-Za-z0-9]+/, '') || `data${index + 1}`;
    if (dataset.name !== undefined) renamed.set(dataset.name, name);
    // A resolved path: --data is relative to where the command runs, not to the experiment file.
    return { ...dataset, name, path: path.startsWith('phantom:') ? path : resolve(path) };
  });
  return {
    ...experiment,
    datasets: updated,
    models: (experiment.models ?? []).map((model) =>
      model.datasets === undefined
        ? model
        : { ...model, datasets: model.datasets.map((name) => renamed.get(name) ?? name) },
    ),
  };
}

/** The report files among those writeRunReport wrote, as paths under the run folder. */
const reportFiles = (run: string, files: readonly string[]) =>
  files
    .filter((file) => file.startsWith('report.'))
    .map((file) => join(run, file))
    .join(', ');

export interface ExecuteOptions {
  readonly out?: string;
  readonly data?: readonly string[];
  readonly shard?: string;
  readonly engine?: (typeof engineNames)[number];
  readonly stopAfter?: number;
  readonly report: boolean;
  /** Print the report's summary tables after the run (the demo does). */
  readonly printSummary?: boolean;
}

/** Runs an experiment file into its run folder and renders the report; shared by `run` and `demo`. */
export async function executeRun(experimentPath: string, options: ExecuteOptions): Promise<void> {
  const shard = options.shard === undefined ? undefined : parseShard(options.shard);
  const { experiment, path } = await readExperiment(experimentPath, options.data);
  const out =
    options.out ??
    join(
      'runs',
      shard === undefined ? experiment.name : `${experiment.name}-shard-${shard.index}-of-${shard.count}`,
    );
  const summary = await runExperiment({
    experiment,
    experimentPath: path,
    runDirectory: out,
    ...(options.engine === undefined ? {} : { engine: options.engine }),
    ...(shard === undefined ? {} : { shard }),
    ...(options.stopAfter === undefined ? {} : { stopAfter: options.stopAfter }),
  });
  const lines = [
    `${summary.ran} units ran, ${summary.reused} kept from before, ${summary.failed} failed, ${summary.skipped} skipped, in ${summary.seconds.toFixed(1)} s; run folder ${out}`,
  ];
  if (shard !== undefined) {
    lines.push(
      `shard ${shard.index}/${shard.count} done; when every shard has finished: medrobust run merge ${out.replace(/shard-\d+-of/, 'shard-*-of')} --out ${join('runs', experiment.name)}`,
    );
  } else if (options.report) {
    const { report, files } = await writeRunReport(out);
    if (options.printSummary === true) lines.unshift('', reportSummaryText(report), '');
    lines.push(`report: ${reportFiles(out, files)}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  if (summary.failed > 0 || summary.skipped > 0) {
    throw new MedrobustError(
      'incomplete',
      `${summary.failed} unit(s) failed and ${summary.skipped} were skipped (their errors are in the report and ${out}/run-log.jsonl)`,
      { hint: 'fix the cause and run the same command again: finished units are kept' },
    );
  }
}

export function runCommand() {
  const command = new Command('run')
    // `run merge A B --out M`: --out belongs to merge, not to run.
    .enablePositionalOptions()
    .description(
      'run a declarative experiment (train, attack, detect, analyse) into a resumable run folder, then its report',
    )
    .argument('[experiment]', 'experiment JSON file, or a preset: demo, paper')
    .option('--out <dir>', 'run folder (default: runs/<experiment name>)')
    .option(
      '--data <paths>',
      "replace the experiment's datasets, in order, with these files (comma-separated)",
      parseList,
    )
    .option('--shard <K/N>', 'run only every N-th unit, starting with the K-th (then `medrobust run merge`)')
    .addOption(
      new Option(
        '--engine <name>',
        `engine, overriding the experiment's: ${engineNames.join(', ')}`,
      ).argParser(parseChoice('--engine', engineNames)),
    )
    .option(
      '--stop-after <units>',
      'stop after running this many units (the rest run next time)',
      parseInteger('--stop-after', 0),
    )
    .option('--no-report', 'do not render the report at the end')
    .action(async (experimentPath, options) => {
      if (experimentPath === undefined) {
        throw new MedrobustError('invalid-argument', 'run needs an experiment file', {
          hint: 'medrobust run experiments/demo.json (or a preset name: demo, paper); medrobust run merge RUN_DIR… --out DIR',
        });
      }
      await executeRun(experimentPath, options);
    });
  command.addCommand(
    new Command('merge')
      .description('combine the folders of `run --shard K/N` into one run folder and render its report')
      .argument('<runs...>', 'shard run folders')
      .requiredOption('--out <dir>', 'merged run folder')
      .action(async (runs, options) => {
        const { units, missing } = await mergeRuns(runs, options.out);
        const { files } = await writeRunReport(options.out);
        process.stdout.write(
          `${units} units merged into ${options.out}; report: ${reportFiles(options.out, files)}\n`,
        );
        if (missing.length > 0) {
          throw new MedrobustError(
            'incomplete',
            `${missing.length} unit(s) are in no shard folder: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`,
            {
              hint: 'run the missing shards (or pass all their folders) and merge again',
            },
          );
        }
      }),
  );
  return command;
}

export function reportCommand() {
  return new Command('report')
    .description('render the report of a run folder: report.html (self-contained), report.md and report.json')
    .argument('<run>', 'run folder (the --out of `medrobust run`)')
    .action(async (run) => {
      const { report, files } = await writeRunReport(run);
      process.stdout.write(
        `${report.complete ? '' : 'the run is not complete; '}wrote ${reportFiles(run, files)}\n`,
      );
    });
}
