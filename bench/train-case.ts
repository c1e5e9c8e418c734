/**
 * One training benchmark case in a fresh process: epochs of `trainEpoch` over synthetic images
 * (labels 0/1 at random) with standard training, PGD-7 adversarial training (Madry et al. 2018),
 * fast FGSM training (Wong et al. 2020) or TRADES-10 (Zhang et al. 2019, β = 6) at ε = 2/255, SGD
 * with momentum. The first epoch warms up;
 * the median of the others is reported. Reads the case as JSON from argv[2]; prints one JSON line.
 */
import { Random } from '../src/core/random.ts';
import { loadEngine } from '../src/engine/load-engine.ts';
import { type AdversarialTrainingSettings, adversaryFor } from '../src/evaluation/adversarial-training.ts';
import { buildModel, createModel } from '../src/models/model.ts';
import { trainEpoch } from '../src/models/train-loop.ts';

export interface TrainCase {
  engine: 'wasm' | 'torch';
  model: 'small-cnn' | 'resnet18';
  size: number;
  batch: number;
  method: 'standard' | 'pgd-7' | 'fast' | 'trades';
  batches: number;
  repeats: number;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as TrainCase;
const engine = await loadEngine(spec.engine);
const { manifest, weights } = createModel({
  architecture: { arch: spec.model, classes: 2, channels: 1, size: spec.size },
  seed: 1,
});
const { classifier, network } = buildModel(engine, manifest, weights, { foldBatchNorm: false });
const random = new Random(3);
const count = spec.batch * spec.batches;
const data = {
  images: random.uniformArray(count * spec.size * spec.size, 0, 1),
  shape: [count, spec.size, spec.size, 1] as const,
  labels: Int32Array.from({ length: count }, () => random.integer(2)),
  classes: 2,
};
const settings: AdversarialTrainingSettings | undefined =
  spec.method === 'standard'
    ? undefined
    : spec.method === 'trades'
      ? { method: 'trades', epsilon: 2 / 255, steps: 10, warmupEpochs: 0, beta: 6 }
      : { method: spec.method === 'fast' ? 'fast' : 'pgd', epsilon: 2 / 255, steps: 7, warmupEpochs: 0 };

let result: Record<string, unknown>;
try {
  const epoch = (index: number) =>
    trainEpoch(network, data, {
      batchSize: spec.batch,
      optimiser: { kind: 'sgd', learningRate: 0.01, momentum: 0.9 },
      seed: 0,
      epoch: index,
      ...(settings === undefined
        ? {}
        : {
            adversary: adversaryFor(classifier, settings, settings.epsilon, (batch) => index * 1000 + batch),
          }),
    });
  epoch(1);
  const times: number[] = [];
  for (let index = 0; index < spec.repeats; index++) times.push(epoch(index + 2).seconds);
  times.sort((a, b) => a - b);
  const seconds = times[Math.floor(times.length / 2)] ?? Number.NaN;
  result = {
    msPerBatch: Number(((seconds * 1000) / spec.batches).toFixed(1)),
    imagesPerSecond: Number((count / seconds).toFixed(1)),
  };
} catch (error) {
  result = {
    msPerBatch: null,
    imagesPerSecond: null,
    error: error instanceof Error ? error.message.split('\n')[0] : String(error),
  };
}
const rssMB = Math.round(process.resourceUsage().maxRSS / 1024);
process.stdout.write(`${JSON.stringify({ ...spec, ...result, rssMB })}\n`);
network.dispose();
