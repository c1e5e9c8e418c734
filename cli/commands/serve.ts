/**
 * `medrobust serve --model DIR --detectors DIR[,DIR] [--port 8080] [--host 127.0.0.1]`: the
 * guarded-inference server (server/app.ts) and its web page, with a pool of inference workers
 * (server/worker-pool.ts). Ctrl-C (SIGINT) or SIGTERM lets requests in flight finish, then stops.
 */
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from '@commander-js/extra-typings';
import { buildServer, type Example } from '../../server/app.ts';
import { expandDetectorDirectories, type ModelDescription } from '../../server/guarded-model.ts';
import { defaultImageLimits } from '../../server/images.ts';
import { WorkerPool } from '../../server/worker-pool.ts';
import { MedrobustError } from '../../src/core/errors.ts';
import { openDataset } from '../../src/node/datasets.ts';
import { engineOption } from '../common-options.ts';
import { parseInteger, parseList } from '../parse.ts';

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** "20mb", "512kb", "1048576" → bytes. */
export function parseByteSize(value: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|k|mb|m|gb|g)?\s*$/i.exec(value);
  const unit = (match?.[2] ?? 'b').toLowerCase()[0] as 'b' | 'k' | 'm' | 'g';
  const bytes =
    match === null ? Number.NaN : Number(match[1]) * { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[unit];
  if (!(Number.isFinite(bytes) && bytes >= 1024)) {
    throw new MedrobustError('invalid-argument', `--max-upload: "${value}" is not a size of at least 1 kB`, {
      hint: 'give bytes or a size with a unit, e.g. 20mb or 512kb',
    });
  }
  return Math.floor(bytes);
}

/** Up to `perClass` test images of each class, in dataset order, as the page's examples. */
export async function readExamples(path: string, model: ModelDescription, perClass = 3): Promise<Example[]> {
  const dataset = await openDataset(path);
  const split = dataset.splits.includes('test')
    ? 'test'
    : (dataset.splits[0] as (typeof dataset.splits)[number]);
  const set = dataset.read(split);
  const [, height, width, channels] = set.shape;
  const [modelHeight, modelWidth, modelChannels] = model.inputShape;
  if (height !== modelHeight || width !== modelWidth || channels !== modelChannels) {
    throw new MedrobustError(
      'invalid-data',
      `--examples ${path}: images are ${height}×${width}×${channels}; the model takes ${modelHeight}×${modelWidth}×${modelChannels}`,
      { hint: 'give the dataset the model was trained on (or one at its resolution)' },
    );
  }
  const size = height * width * channels;
  const counts = new Map<number, number>();
  const examples: Example[] = [];
  for (let index = 0; index < set.shape[0] && examples.length < perClass * set.classNames.length; index++) {
    const label = set.labels[index * set.labelsPerImage] as number;
    if ((counts.get(label) ?? 0) >= perClass) continue;
    counts.set(label, (counts.get(label) ?? 0) + 1);
    examples.push({
      className: set.classNames[label] ?? String(label),
      image: set.images.slice(index * size, (index + 1) * size),
    });
  }
  return examples;
}

export function serveCommand(): Command {
  const cores = availableParallelism();
  const defaultWorkers = Math.max(1, Math.min(2, cores));
  return new Command('serve')
    .description('guarded inference: an HTTP API and web page that classify images and flag adversarial ones')
    .requiredOption('--model <dir>', 'model directory')
    .option(
      '--detectors <dirs>',
      'detector directories, comma-separated (each from `medrobust detect --out D`: D/detectors/<name>, or D/detectors for all)',
      parseList,
      [] as string[],
    )
    .option('--port <port>', 'TCP port (0: any free port)', parseInteger('--port', 0, 65535), 8080)
    .option('--host <address>', 'address to listen on (0.0.0.0 for every interface)', '127.0.0.1')
    .addOption(engineOption())
    .option(
      '--workers <count>',
      `inference worker threads, each with its own copy of the model (default ${defaultWorkers})`,
      parseInteger('--workers', 1, 64),
    )
    .option(
      '--threads <count>',
      'engine threads per worker (default: cores ÷ workers)',
      parseInteger('--threads', 1, 256),
    )
    .option(
      '--queue <count>',
      'requests that may wait for a worker before new ones get 429',
      parseInteger('--queue', 0, 100_000),
      32,
    )
    .option(
      '--max-upload <size>',
      'largest upload (e.g. 20mb)',
      parseByteSize,
      defaultImageLimits.uploadBytes,
    )
    .option(
      '--max-side <pixels>',
      'largest width or height of an uploaded image',
      parseInteger('--max-side', 8, 65_536),
      defaultImageLimits.maximumSide,
    )
    .option(
      '--allow-attacks',
      'enable POST /v1/attack and the page’s attack panel (never on a server facing patients)',
    )
    .option(
      '--examples <path>',
      'dataset whose test images the page offers as examples (e.g. data/breastmnist.npz)',
    )
    .option('--runs <dir>', 'folder of `medrobust run` outputs listed on the page', 'runs')
    .option('--web <dir>', 'the built web page', join(packageRoot, 'web', 'dist'))
    .option('--quiet', 'no request log')
    .action(async (options) => {
      const workers = options.workers ?? defaultWorkers;
      const threads = options.threads ?? Math.max(1, Math.floor(cores / workers));
      const detectors = await expandDetectorDirectories(options.detectors);
      if (detectors.length === 0) {
        process.stderr.write(
          'medrobust: warning: no --detectors: predictions are served without adversarial-input checks\n',
        );
      }
      const pool = await WorkerPool.start({
        setup: { model: resolve(options.model), detectors, engine: options.engine, threads },
        workers,
        queueLimit: options.queue,
      });
      if (pool.warning !== undefined) process.stderr.write(`medrobust: warning: ${pool.warning}\n`);
      try {
        const examples =
          options.examples === undefined ? [] : await readExamples(options.examples, pool.description);
        const app = await buildServer({
          pool,
          allowAttacks: options.allowAttacks === true,
          limits: { uploadBytes: options.maxUpload, maximumSide: options.maxSide },
          runs: options.runs,
          webRoot: options.web,
          examples,
          logger: options.quiet !== true,
        });
        const address = await app.listen({ port: options.port, host: options.host });
        const model = pool.description;
        process.stderr.write(
          `medrobust: serving ${model.name} (${model.architecture}, ${model.inputShape.join('×')}, ${model.classNames.join('/')}) ` +
            `with ${model.detectors.length} detector(s) on ${address} — ${workers} worker(s) × ${threads} thread(s), ` +
            `engine ${String(model.engine.engine)}${options.allowAttacks === true ? ', attacks on' : ''}\n`,
        );
        await new Promise<void>((done) => {
          const stop = () => {
            process.off('SIGINT', stop);
            process.off('SIGTERM', stop);
            process.stderr.write('medrobust: stopping (finishing requests in flight)\n');
            done();
          };
          process.on('SIGINT', stop);
          process.on('SIGTERM', stop);
        });
        await app.close();
      } finally {
        await pool.close();
      }
    });
}
