/**
 * `medrobust run EXPERIMENT.json`: plans the experiment's units (plan.ts), skips those the run
 * store holds as done with the same config hash, runs the rest in order (units.ts), writing each
 * unit's row after its artefacts, and renders the report at the end. A unit that fails is recorded
 * with its error and the units that need it are skipped; the others still run, and the command
 * exits non-zero. Kill it at any moment and run it again: it continues where it stopped.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { MultiBar, type SingleBar } from 'cli-progress';
import pino from 'pino';
import { MedrobustError } from '../../src/core/errors.ts';
import { loadEngine } from '../../src/engine/load-engine.ts';
import type { Experiment } from '../../src/evaluation/experiment/schema.ts';
import { RunStore, storeFileName, type UnitRecord } from '../../src/node/run-store.ts';
import { describeError } from '../errors.ts';
import { canonicalJson, hashOf, planUnits, type Shard, shardUnits, type Unit, unitFolder } from './plan.ts';
import { type RunContext, resolveFrom, runUnit, type UnitProgress } from './units.ts';

export const logFileName = 'run-log.jsonl';

export interface RunOptions {
  readonly experiment: Experiment;
  /** The experiment file (relative paths in it resolve from its folder). */
  readonly experimentPath: string;
  readonly runDirectory: string;
  /** Overrides the experiment's engine. */
  readonly engine?: Experiment['engine'];
  readonly shard?: Shard;
  /** Stop after this many units have run (tests of resumption); undefined: all. */
  readonly stopAfter?: number;
  /** Where progress goes (stderr). */
  readonly stream?: NodeJS.WriteStream;
}

export interface RunSummary {
  readonly planned: number;
  readonly ran: number;
  readonly reused: number;
  readonly failed: number;
  readonly skipped: number;
  readonly seconds: number;
}

const projectRoot = resolve(import.meta.dirname, '..', '..');

export function toolVersion(): string {
  return (JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string }).version;
}

export function gitRevision(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', 'HEAD'], {
      cwd: projectRoot,
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .toString()
      .trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd: projectRoot,
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .toString()
      .trim();
    return dirty === '' ? sha : `${sha} (with uncommitted changes)`;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

export function machineDescription(): string {
  const processors = cpus();
  return `${processors[0]?.model.trim() ?? 'unknown CPU'}, ${processors.length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, ${process.platform}/${process.arch}`;
}

/** Progress of the whole run: two bars on a terminal, plain lines otherwise. */
class Progress {
  private readonly bars: MultiBar | undefined;
  private overall: SingleBar | undefined;
  private current: SingleBar | undefined;
  private label = '';
  private readonly stream: NodeJS.WriteStream;

  constructor(stream: NodeJS.WriteStream, total: number) {
    this.stream = stream;
    if (stream.isTTY) {
      this.bars = new MultiBar({
        stream,
        clearOnComplete: false,
        hideCursor: true,
        format: '{name} [{bar}] {value}/{total} | ETA {eta_formatted} | {note}',
        etaBuffer: 20,
      });
      this.overall = this.bars.create(total, 0, { name: 'run ', note: '' });
    }
  }

  startUnit(label: string, index: number, total: number): void {
    this.label = label;
    if (this.bars === undefined) {
      this.stream.write(`[${index}/${total}] ${label}\n`);
      return;
    }
    this.current?.stop();
    if (this.current !== undefined) this.bars.remove(this.current);
    this.current = this.bars.create(1, 0, { name: 'unit', note: label });
  }

  unit(): UnitProgress {
    return {
      total: (total) => this.current?.setTotal(Math.max(1, total)),
      step: (message) => {
        if (this.current !== undefined)
          this.current.increment(
            message === undefined ? {} : { note: `${this.label}: ${message.slice(0, 80)}` },
          );
        else if (message !== undefined) this.stream.write(`    ${message}\n`);
      },
      log: (message) => this.line(message),
    };
  }

  endUnit(message: string): void {
    if (this.bars === undefined) {
      this.stream.write(`    ${message}\n`);
      return;
    }
    this.overall?.increment({ note: message.slice(0, 80) });
  }

  line(message: string): void {
    if (this.bars === undefined) this.stream.write(`    ${message}\n`);
    else this.bars.log(`${message}\n`);
  }

  stop(): void {
    this.bars?.stop();
  }
}

function engineText(describe: Readonly<Record<string, string | number | boolean>>): string {
  return Object.entries(describe)
    .filter(([key]) => key !== 'warning')
    .map(([key, value]) => `${key}=${value}`)
    .join(' ');
}

/** Fails before any work when a dataset or model path of the experiment does not exist. */
function checkPaths(experiment: Experiment, experimentPath: string): void {
  const directory = dirname(resolve(experimentPath));
  const missing = (path: string) => !path.startsWith('phantom:') && !existsSync(resolveFrom(directory, path));
  for (const dataset of experiment.datasets) {
    if (missing(dataset.path)) {
      throw new MedrobustError(
        'not-found',
        `${experimentPath}: dataset "${dataset.name}": cannot read the dataset (${resolveFrom(directory, dataset.path)} does not exist)`,
        {
          hint: 'pass a MedMNIST .npz file or an image folder with --data FILE (relative paths in the experiment resolve from its folder), or use phantom:chest-xray:28',
        },
      );
    }
  }
  for (const model of experiment.models) {
    if (model.load !== undefined && missing(model.load)) {
      throw new MedrobustError(
        'not-found',
        `${experimentPath}: model "${model.name}": ${resolveFrom(directory, model.load)} does not exist`,
        { hint: 'point "load" at a model directory written by `medrobust train` or `medrobust model init`' },
      );
    }
  }
}

export async function runExperiment(options: RunOptions): Promise<RunSummary> {
  const started = performance.now();
  const stream = options.stream ?? process.stderr;
  const { experiment } = options;
  checkPaths(experiment, options.experimentPath);
  const runDirectory = resolve(options.runDirectory);
  await mkdir(runDirectory, { recursive: true });
  const logger = pino(
    { base: null, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ dest: join(runDirectory, logFileName), sync: true, append: true, mkdir: true }),
  );
  const store = RunStore.open(join(runDirectory, storeFileName));
  try {
    const experimentHash = hashOf(experiment);
    const previousName = store.getMeta('experimentName');
    if (previousName !== undefined && previousName !== experiment.name) {
      stream.write(
        `medrobust: ${runDirectory} held experiment "${previousName}"; units of "${experiment.name}" that differ will run again\n`,
      );
    }
    store.setMeta('experimentName', experiment.name);
    store.setMeta('experiment', canonicalJson(experiment));
    store.setMeta('experimentHash', experimentHash);
    store.setMeta('experimentPath', resolve(options.experimentPath));
    store.setMeta(
      'shard',
      options.shard === undefined ? '' : `${options.shard.index}/${options.shard.count}`,
    );
    if (store.getMeta('createdAt') === undefined) store.setMeta('createdAt', new Date().toISOString());
    store.setMeta('medrobust', toolVersion());
    store.setMeta('git', gitRevision());
    store.setMeta('machine', machineDescription());
    store.setMeta('node', process.version);

    const units = planUnits(experiment);
    const removed = store.removeExcept(units.map((unit) => unit.id));
    if (removed > 0)
      stream.write(
        `medrobust: ${removed} unit(s) of an earlier version of the experiment are no longer in it and were dropped from the store\n`,
      );
    const selected = shardUnits(units, options.shard);
    const engine = await loadEngine(options.engine ?? experiment.engine);
    const engineDescription = engineText(engine.describe());
    store.setMeta('engine', engineDescription);
    logger.info(
      {
        event: 'run-start',
        experiment: experiment.name,
        units: selected.length,
        shard: store.getMeta('shard'),
        engine: engineDescription,
      },
      'run started',
    );
    stream.write(
      `medrobust: experiment "${experiment.name}", ${selected.length} units${options.shard === undefined ? '' : ` (shard ${options.shard.index}/${options.shard.count}: ${selected.filter((item) => item.owned).length} its own, the rest prerequisites)`}, engine ${engineDescription}, run folder ${runDirectory}\n`,
    );
    const context: RunContext = {
      experiment,
      experimentDirectory: dirname(resolve(options.experimentPath)),
      runDirectory,
      engine,
      datasets: new Map(),
    };
    const progress = new Progress(stream, selected.length);
    const shardText = options.shard === undefined ? null : `${options.shard.index}/${options.shard.count}`;
    const summary = { planned: selected.length, ran: 0, reused: 0, failed: 0, skipped: 0 };
    const unhealthy = new Set<string>();
    try {
      for (const [index, { unit, owned }] of selected.entries()) {
        const existing = store.unit(unit.id);
        const label = unit.id;
        progress.startUnit(label, index + 1, selected.length);
        if (existing?.status === 'done' && existing.hash === unit.hash) {
          summary.reused++;
          progress.endUnit(`${label}: done earlier, kept`);
          logger.info({ event: 'unit-kept', unit: unit.id, hash: unit.hash }, 'unit kept');
          continue;
        }
        if (options.stopAfter !== undefined && summary.ran >= options.stopAfter) break;
        const blocker = unit.needs.find((need) => unhealthy.has(need));
        const base = {
          id: unit.id,
          position: unit.position,
          kind: unit.kind,
          hash: unit.hash,
          config: configOf(unit),
          owned,
          shard: shardText,
        };
        if (blocker !== undefined) {
          unhealthy.add(unit.id);
          summary.skipped++;
          const error = `needs ${blocker}, which did not finish`;
          store.put({
            ...base,
            status: 'skipped',
            startedAt: null,
            finishedAt: null,
            seconds: null,
            metrics: null,
            artefacts: [],
            error,
            engine: null,
          });
          progress.endUnit(`${label}: skipped (${error})`);
          logger.warn({ event: 'unit-skipped', unit: unit.id, reason: error }, 'unit skipped');
          continue;
        }
        if (existing !== undefined && existing.hash !== unit.hash && unit.kind !== 'model') {
          // Settings changed: the old artefacts describe another unit.
          await rm(join(runDirectory, unitFolder(unit.id)), { recursive: true, force: true });
        }
        const startedAt = new Date().toISOString();
        const unitStart = performance.now();
        store.put({
          ...base,
          status: 'running',
          startedAt,
          finishedAt: null,
          seconds: null,
          metrics: null,
          artefacts: [],
          error: null,
          engine: engineDescription,
        });
        logger.info({ event: 'unit-start', unit: unit.id, hash: unit.hash, owned }, 'unit started');
        const unitProgress = progress.unit();
        const forwarding: UnitProgress = {
          total: unitProgress.total,
          step: (message) => {
            if (message !== undefined)
              logger.debug({ event: 'unit-progress', unit: unit.id, message }, message);
            unitProgress.step(message);
          },
          log: (message) => {
            logger.info({ event: 'unit-note', unit: unit.id, message }, message);
            unitProgress.log(message);
          },
        };
        let record: UnitRecord;
        try {
          const outcome = await runUnit(context, unit, forwarding);
          const seconds = (performance.now() - unitStart) / 1000;
          record = {
            ...base,
            status: 'done',
            startedAt,
            finishedAt: new Date().toISOString(),
            seconds,
            metrics: outcome.metrics,
            artefacts: outcome.artefacts,
            error: null,
            engine: engineDescription,
          };
          summary.ran++;
          progress.endUnit(`${label}: done in ${seconds.toFixed(1)} s`);
        } catch (error) {
          const seconds = (performance.now() - unitStart) / 1000;
          const message = describeError(error);
          record = {
            ...base,
            status: 'failed',
            startedAt,
            finishedAt: new Date().toISOString(),
            seconds,
            metrics: null,
            artefacts: [],
            error: message,
            engine: engineDescription,
          };
          unhealthy.add(unit.id);
          summary.failed++;
          progress.endUnit(`${label}: FAILED`);
          progress.line(`medrobust: ${unit.id} failed: ${message}`);
        }
        // The store first, then the log: a 'unit-done' line always names a unit the store keeps.
        store.put(record);
        if (record.status === 'done')
          logger.info({ event: 'unit-done', unit: unit.id, seconds: record.seconds }, 'unit done');
        else logger.error({ event: 'unit-failed', unit: unit.id, error: record.error }, 'unit failed');
      }
    } finally {
      progress.stop();
    }
    const seconds = (performance.now() - started) / 1000;
    logger.info({ event: 'run-end', ...summary, seconds }, 'run ended');
    return { ...summary, seconds };
  } finally {
    store.close();
    logger.flush();
  }
}

/** What a unit's row records of its settings. */
function configOf(unit: Unit): unknown {
  const common = { dataset: unit.dataset.name, model: unit.model.name, needs: unit.needs };
  switch (unit.kind) {
    case 'model':
      return {
        ...common,
        data: unit.dataset,
        recipe: unit.model.train ?? null,
        load: unit.model.load ?? null,
      };
    case 'attack':
      return { ...common, attack: unit.attack, epsilons: unit.epsilons };
    case 'detect':
      return common;
    case 'analysis':
      return { ...common, analysis: unit.analysis };
  }
}

/** Whether a folder holds a run. */
export const isRunDirectory = (directory: string) => existsSync(join(directory, storeFileName));
