/**
 * `npm run bench -- train [--json] [--quick]`: training throughput (images per second, batch 64,
 * 28 px) of standard training, PGD-7 adversarial training, fast FGSM training and TRADES, for the small CNN
 * and ResNet-18, on the wasm engine and on the torch engine where it loads. Standard training of
 * the same engine and model is the baseline in the same run: the "vs standard" column is the
 * slowdown adversarial training costs (PGD-7 needs 7 input gradients per step, fast 1, TRADES-10
 * 10 plus a second forward and backward pass in the step). Each case
 * runs in a fresh process.
 */
import { nativeEngineStatus } from '../src/engine/load-engine.ts';
import { runCases } from './cases.ts';
import { markdownTable } from './table.ts';
import type { TrainCase } from './train-case.ts';

export async function trainBenchmark(argv: readonly string[]): Promise<void> {
  const json = argv.includes('--json');
  const quick = argv.includes('--quick');
  const native = nativeEngineStatus();
  if (!native.available) process.stderr.write(`bench train: torch skipped: ${native.reason}\n`);
  const engines: TrainCase['engine'][] = native.available ? ['wasm', 'torch'] : ['wasm'];
  const models: TrainCase['model'][] = quick ? ['small-cnn'] : ['small-cnn', 'resnet18'];
  const cases: TrainCase[] = [];
  for (const engine of engines)
    for (const model of models)
      for (const method of ['standard', 'pgd-7', 'fast', 'trades'] as const)
        cases.push({
          engine,
          model,
          size: 28,
          batch: 64,
          method,
          batches: quick ? 2 : 4,
          repeats: quick ? 1 : 3,
        });
  const results = await runCases('train-case.ts', cases, json);
  const rows = results.map((result) => {
    const standard = results.find(
      (other) =>
        other.method === 'standard' && other.engine === result.engine && other.model === result.model,
    );
    const slowdown =
      result.method !== 'standard' &&
      typeof standard?.imagesPerSecond === 'number' &&
      typeof result.imagesPerSecond === 'number'
        ? `${(standard.imagesPerSecond / result.imagesPerSecond).toFixed(1)} × slower`
        : '';
    return [
      String(result.engine),
      String(result.model),
      String(result.size),
      String(result.batch),
      String(result.method),
      typeof result.imagesPerSecond === 'number' ? String(result.imagesPerSecond) : '—',
      slowdown,
      result.rssMB === undefined ? '—' : String(result.rssMB),
      String(result.error ?? ''),
    ];
  });
  const header = [
    'engine',
    'model',
    'size',
    'batch',
    'training',
    'images/s',
    'vs standard',
    'peak RSS MB',
    'note',
  ];
  process.stdout.write(`${markdownTable(header, rows)}\n`);
}
