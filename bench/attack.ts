/**
 * `npm run bench -- attack [--json] [--quick]`: PGD-20 images per second (batch 32) for the small
 * CNN and ResNet-18 at 28 px and ResNet-18 at 64 px, with and without early stopping of images
 * already fooled, on the wasm engine with medrobust's kernels and with tfjs' stock kernels (the
 * baseline, same run) and on the torch engine where it loads. Each case runs in a fresh process.
 */
import { nativeEngineStatus } from '../src/engine/load-engine.ts';
import type { AttackCase } from './attack-case.ts';
import { runCases } from './cases.ts';
import { markdownTable } from './table.ts';

export async function attackBenchmark(argv: readonly string[]): Promise<void> {
  const json = argv.includes('--json');
  const quick = argv.includes('--quick');
  const native = nativeEngineStatus();
  if (!native.available) process.stderr.write(`bench attack: torch skipped: ${native.reason}\n`);
  const models: [AttackCase['model'], number][] = quick
    ? [['resnet18', 28]]
    : [
        ['small-cnn', 28],
        ['resnet18', 28],
        ['resnet18', 64],
      ];
  const cases: AttackCase[] = [];
  for (const [model, size] of models) {
    for (const earlyStop of [false, true]) {
      const common = { model, size, batch: 32, earlyStop };
      // Stock kernels take minutes per PGD-20 run at 64 px: measured once, without early stop.
      if (!(size >= 64 && earlyStop)) cases.push({ ...common, engine: 'wasm', kernels: 'stock', repeats: 1 });
      cases.push({ ...common, engine: 'wasm', kernels: 'ours', repeats: size >= 64 ? 1 : 2 });
      if (native.available) cases.push({ ...common, engine: 'torch', kernels: '', repeats: 3 });
    }
  }
  const results = await runCases('attack-case.ts', cases, json);
  const stockOf = (result: Record<string, unknown>) =>
    results.find(
      (other) =>
        other.kernels === 'stock' &&
        other.model === result.model &&
        other.size === result.size &&
        other.earlyStop === false,
    );
  const rows = results.map((result) => {
    const stock = stockOf(result);
    const speedup =
      result.kernels !== 'stock' &&
      typeof stock?.imagesPerSecond === 'number' &&
      typeof result.imagesPerSecond === 'number'
        ? `${(result.imagesPerSecond / stock.imagesPerSecond).toFixed(1)} ×`
        : '';
    return [
      String(result.model),
      String(result.size),
      String(result.batch),
      result.earlyStop ? 'yes' : 'no',
      result.engine === 'wasm' ? `wasm ${String(result.kernels)}` : String(result.engine),
      result.imagesPerSecond === null || result.imagesPerSecond === undefined
        ? '—'
        : String(result.imagesPerSecond),
      speedup,
      String(result.fooled ?? ''),
      result.rssMB === undefined ? '—' : String(result.rssMB),
      String(result.error ?? ''),
    ];
  });
  const header = [
    'model',
    'size',
    'batch',
    'early stop',
    'engine',
    'images/s',
    'vs stock',
    'fooled',
    'peak RSS MB',
    'note',
  ];
  process.stdout.write(`${markdownTable(header, rows)}\n`);
}
