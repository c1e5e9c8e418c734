/**
 * `npm run bench -- engine [--quick] [--json] [--threads N] [--engines wasm,torch]`: forward,
 * input-gradient, train-step and PGD-20 times of ResNet-18/50, each case in a fresh process so its
 * peak RSS is its own. Baselines measured in the same run:
 * - wasm with tfjs' stock kernels, for medrobust's kernel pack (`× stock`);
 * - PyTorch itself (bench/peers/pytorch.py, Debian's python3-torch), for the torch engine (`× PyTorch`).
 * Engines default to wasm, plus torch where its addon loads. Prints a table; with --json also one
 * JSON object per line.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { nativeEngineStatus } from '../src/engine/load-engine.ts';
import type { EngineCase } from './engine-case.ts';
import { markdownTable } from './table.ts';

const run = promisify(execFile);
const python = '/usr/bin/python3';

type Engine = 'wasm' | 'torch';

function option(argv: readonly string[], name: string): string | undefined {
  const index = argv.indexOf(name);
  return index >= 0 ? argv[index + 1] : undefined;
}

async function runCase(entry: EngineCase): Promise<Record<string, unknown>> {
  try {
    const { stdout } =
      entry.engine === 'pytorch'
        ? await run(python, [join(import.meta.dirname, 'peers', 'pytorch.py'), JSON.stringify(entry)], {
            maxBuffer: 1 << 20,
          })
        : await run(
            process.execPath,
            ['--import', 'tsx/esm', join(import.meta.dirname, 'engine-case.ts'), JSON.stringify(entry)],
            { maxBuffer: 1 << 20 },
          );
    return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    return { ...entry, ms: null, rssMB: null, error: message };
  }
}

export async function engineBenchmark(argv: readonly string[]): Promise<void> {
  const quick = argv.includes('--quick');
  const json = argv.includes('--json');
  const threads = Number(option(argv, '--threads') ?? 0); // 0: the engine's default (every core)
  const native = nativeEngineStatus();
  const requested = (option(argv, '--engines') ?? (native.available ? 'wasm,torch' : 'wasm')).split(',');
  const engines = requested.filter((name): name is Engine => name === 'wasm' || name === 'torch');
  if (engines.length !== requested.length) {
    process.stderr.write(`bench engine: --engines takes wasm and/or torch, got ${requested.join(',')}\n`);
    process.exitCode = 2;
    return;
  }
  if (engines.includes('torch') && !native.available) {
    process.stderr.write(`bench engine: torch skipped: ${native.reason}\n`);
    engines.splice(engines.indexOf('torch'), 1);
  }

  const cases: EngineCase[] = [];
  const add = (
    model: EngineCase['model'],
    size: number,
    batch: number,
    task: EngineCase['task'],
    repeats: number,
  ) => {
    const common = { threads, model, size, batch, task };
    if (engines.includes('wasm')) {
      // The slowest wasm cases run once: the ratio, not the decimals, is what they show.
      const wasmRepeats = size >= 224 || task === 'pgd-20' ? 1 : repeats;
      if (task !== 'pgd-20' || size <= 64) {
        for (const kernels of ['stock', 'ours'] as const) {
          cases.push({ ...common, engine: 'wasm', kernels, repeats: wasmRepeats });
        }
      }
    }
    if (engines.includes('torch')) {
      // This machine's timings vary by ±30 % from run to run: more repeats for the native pair.
      const nativeRepeats =
        task === 'pgd-20' || (model === 'resnet50' && size >= 224) ? repeats + 1 : repeats + 4;
      cases.push({ ...common, engine: 'torch', kernels: '', repeats: nativeRepeats });
      cases.push({ ...common, engine: 'pytorch', kernels: '', repeats: nativeRepeats });
    }
  };
  if (quick) {
    add('resnet18', 64, 8, 'forward', 3);
    add('resnet18', 64, 8, 'input-gradient', 3);
    add('resnet18', 64, 32, 'train-step', 2);
    add('resnet18', 224, 8, 'input-gradient', 2);
  } else {
    for (const model of ['resnet18', 'resnet50'] as const) {
      for (const size of [64, 224]) {
        add(model, size, 8, 'forward', 3);
        add(model, size, 8, 'input-gradient', 3);
        add(model, size, 32, 'train-step', 2);
      }
      add(model, 64, 16, 'pgd-20', 1);
    }
    add('resnet50', 224, 16, 'pgd-20', 1);
  }

  const results: Record<string, unknown>[] = [];
  for (const entry of cases) {
    let result: Record<string, unknown>;
    if (
      entry.engine === 'wasm' &&
      entry.kernels === 'stock' &&
      entry.task !== 'forward' &&
      entry.task !== 'input-gradient'
    ) {
      result = {
        ...entry,
        ms: null,
        rssMB: null,
        error:
          entry.task === 'train-step' ? 'stock wasm cannot train: no Conv2DBackpropFilter kernel' : 'not run',
      };
    } else if (entry.engine === 'wasm' && entry.task === 'train-step' && entry.size >= 224) {
      result = { ...entry, ms: null, rssMB: null, error: 'not run on wasm (minutes per step)' };
    } else {
      result = await runCase(entry);
    }
    results.push(result);
    if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else process.stderr.write('.');
  }
  if (!json) process.stderr.write('\n');

  const baselineOf = (result: Record<string, unknown>) =>
    results.find(
      (other) =>
        (result.engine === 'torch' ? other.engine === 'pytorch' : other.kernels === 'stock') &&
        other.model === result.model &&
        other.size === result.size &&
        other.batch === result.batch &&
        other.task === result.task,
    );
  const rows = results.map((result) => {
    const baseline = baselineOf(result);
    const compared = result.engine === 'torch' || (result.engine === 'wasm' && result.kernels === 'ours');
    const ratio =
      compared && typeof baseline?.ms === 'number' && typeof result.ms === 'number'
        ? `${(result.ms / baseline.ms).toFixed(2)} × ${result.engine === 'torch' ? 'PyTorch' : 'stock'}`
        : '';
    return [
      String(result.model),
      String(result.size),
      String(result.batch),
      String(result.task),
      result.engine === 'wasm' ? `wasm ${String(result.kernels)}` : String(result.engine),
      String(result.threads),
      result.ms === null || result.ms === undefined ? '—' : String(result.ms),
      ratio,
      result.rssMB === null || result.rssMB === undefined ? '—' : String(result.rssMB),
      String(result.error ?? ''),
    ];
  });
  const header = [
    'model',
    'size',
    'batch',
    'task',
    'engine',
    'threads',
    'ms',
    'ratio',
    'peak RSS MB',
    'note',
  ];
  process.stdout.write(`${markdownTable(header, rows)}\n`);
}
