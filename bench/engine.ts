/**
 * `npm run bench -- engine [--quick] [--json] [--threads N]`: forward, input-gradient and
 * train-step times of ResNet-18/50 on the wasm engine with medrobust's kernel pack and with tfjs'
 * stock kernels (the baseline, measured in the same run), each case in a fresh process so its peak
 * RSS is its own. Prints a table; with --json also one JSON object per line.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { EngineCase } from './engine-case.ts';

const run = promisify(execFile);

export async function engineBenchmark(argv: readonly string[]): Promise<void> {
  const quick = argv.includes('--quick');
  const json = argv.includes('--json');
  const threadsFlag = argv.indexOf('--threads');
  const threads = threadsFlag >= 0 ? Number(argv[threadsFlag + 1]) : 0; // 0: the engine's default
  const cases: EngineCase[] = [];
  const add = (
    model: EngineCase['model'],
    size: number,
    batch: number,
    task: EngineCase['task'],
    repeats: number,
  ) => {
    for (const kernels of ['stock', 'ours'] as const) {
      cases.push({ engine: 'wasm', kernels, threads, model, size, batch, task, repeats });
    }
  };
  if (quick) {
    add('resnet18', 64, 8, 'forward', 3);
    add('resnet18', 64, 8, 'input-gradient', 3);
    add('resnet18', 64, 32, 'train-step', 2);
    cases.push({
      engine: 'wasm',
      kernels: 'ours',
      threads,
      model: 'resnet18',
      size: 224,
      batch: 8,
      task: 'input-gradient',
      repeats: 1,
    });
  } else {
    for (const model of ['resnet18', 'resnet50'] as const) {
      for (const size of [64, 224]) {
        add(model, size, 8, 'forward', 3);
        add(model, size, 8, 'input-gradient', size === 224 && model === 'resnet50' ? 1 : 3);
      }
      add(model, 64, 32, 'train-step', 2);
    }
  }
  const results: Record<string, unknown>[] = [];
  for (const entry of cases) {
    if (entry.task === 'train-step' && entry.kernels === 'stock') {
      results.push({
        ...entry,
        ms: null,
        rssMB: null,
        error: 'stock wasm cannot train: no Conv2DBackpropFilter kernel',
      });
      continue;
    }
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx/esm', join(import.meta.dirname, 'engine-case.ts'), JSON.stringify(entry)],
      {
        maxBuffer: 1 << 20,
      },
    );
    const line = stdout.trim().split('\n').at(-1) ?? '{}';
    const result = JSON.parse(line) as Record<string, unknown>;
    results.push(result);
    if (json) process.stdout.write(`${line}\n`);
    else process.stderr.write('.');
  }
  if (!json) process.stderr.write('\n');
  const stockOf = (result: Record<string, unknown>) =>
    results.find(
      (other) =>
        other.kernels === 'stock' &&
        other.model === result.model &&
        other.size === result.size &&
        other.task === result.task,
    );
  const rows = results.map((result) => {
    const stock = stockOf(result);
    const ratio =
      result.kernels === 'ours' && typeof stock?.ms === 'number' && typeof result.ms === 'number'
        ? (result.ms / stock.ms).toFixed(2)
        : '';
    return [
      String(result.model),
      String(result.size),
      String(result.batch),
      String(result.task),
      String(result.kernels),
      String(result.threads),
      result.ms === null ? '—' : String(result.ms),
      ratio,
      result.rssMB === null ? '—' : String(result.rssMB),
      String(result.error ?? ''),
    ];
  });
  const header = [
    'model',
    'size',
    'batch',
    'task',
    'kernels',
    'threads',
    'ms',
    '× stock',
    'peak RSS MB',
    'note',
  ];
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const format = (row: string[]) =>
    `| ${row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(' | ')} |`;
  const table = [
    format(header),
    `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`,
    ...rows.map(format),
  ];
  process.stdout.write(`${table.join('\n')}\n`);
}
