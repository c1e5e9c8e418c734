/**
 * `npm run bench -- NAME [options]`: medrobust's benchmarks (never timed tests).
 */
import { attackBenchmark } from './attack.ts';
import { engineBenchmark } from './engine.ts';
import { serveBenchmark } from './serve.ts';
import { trainBenchmark } from './train.ts';

const benchmarks: Readonly<Record<string, (argv: readonly string[]) => Promise<void>>> = Object.freeze({
  engine: engineBenchmark,
  attack: attackBenchmark,
  train: trainBenchmark,
  serve: serveBenchmark,
});

const [name = '', ...rest] = process.argv.slice(2);
const benchmark = benchmarks[name];
if (benchmark === undefined) {
  process.stderr.write(
    `usage: npm run bench -- NAME [options]; NAME is one of: ${Object.keys(benchmarks).join(', ')}\n`,
  );
  process.exitCode = 2;
} else {
  await benchmark(rest);
}
