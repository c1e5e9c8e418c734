/**
 * One engine benchmark case, run in a fresh process so its peak RSS is its own. Reads the case as
 * JSON from argv[2], prints one JSON result line. Used by bench/engine.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Random } from '../src/core/random.ts';
import { loadEngine } from '../src/engine/load-engine.ts';
import { buildModel, createModel } from '../src/models/model.ts';

export interface EngineCase {
  engine: 'wasm' | 'cpu' | 'torch' | 'pytorch';
  kernels: 'ours' | 'stock' | '';
  threads: number;
  model: 'resnet18' | 'resnet50';
  size: number;
  batch: number;
  task: 'forward' | 'input-gradient' | 'train-step' | 'pgd-20';
  repeats: number;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as EngineCase;
const engine = await loadEngine(spec.engine, {
  ...(spec.kernels === '' ? {} : { kernels: spec.kernels }),
  ...(spec.threads > 0 ? { threads: spec.threads } : {}),
});
const threads = Number(engine.describe().threads ?? 1);
const { manifest, weights } = createModel({
  architecture: { arch: spec.model, classes: 2, channels: 3, size: spec.size },
});
const { classifier, network } = buildModel(engine, manifest, weights);
const random = new Random(1);
const x = tf.tensor4d(random.uniformArray(spec.batch * spec.size * spec.size * 3, 0, 1), [
  spec.batch,
  spec.size,
  spec.size,
  3,
]);
const labels = tf.tensor1d(
  Array.from({ length: spec.batch }, (_, i) => i % 2),
  'int32',
);
const crossEntropy = ({ logits }: { logits: tf.Tensor2D }) =>
  tf.neg(tf.sum(tf.mul(tf.oneHot(labels, 2), tf.logSoftmax(logits)), 1)) as tf.Tensor1D;

const run = (): void => {
  if (spec.task === 'forward') {
    tf.tidy(() => classifier.predict(x).logits.dataSync());
  } else if (spec.task === 'input-gradient') {
    const { value, grad } = classifier.valueAndGrad(x, crossEntropy);
    grad.dataSync();
    tf.dispose([value, grad]);
  } else if (spec.task === 'pgd-20') {
    // L∞ PGD: 20 steps of ε/4 from a random start (the same loop as bench/peers/pytorch.py).
    const epsilon = 8 / 255;
    let adversarial = tf.tidy(
      () =>
        tf.clipByValue(
          tf.add(x, tf.randomUniform(x.shape, -epsilon, epsilon, 'float32', 2)),
          0,
          1,
        ) as tf.Tensor4D,
    );
    for (let step = 0; step < 20; step++) {
      const { value, grad } = classifier.valueAndGrad(adversarial, crossEntropy);
      const next = tf.tidy(() => {
        const moved = tf.add(adversarial, tf.mul(epsilon / 4, tf.sign(grad)));
        return tf.clipByValue(tf.minimum(tf.maximum(moved, tf.sub(x, epsilon)), tf.add(x, epsilon)), 0, 1);
      });
      tf.dispose([value, grad, adversarial]);
      adversarial = next as tf.Tensor4D;
    }
    adversarial.dataSync();
    adversarial.dispose();
  } else {
    network.trainStep({ x, labels }, { kind: 'sgd', learningRate: 0.01, momentum: 0.9, weightDecay: 5e-4 });
  }
};

let result: Record<string, unknown>;
try {
  run(); // warm-up: kernel set-up, XNNPACK weight packing, JIT
  const times: number[] = [];
  for (let i = 0; i < spec.repeats; i++) {
    const start = performance.now();
    run();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  result = { ms: Number((times[Math.floor(times.length / 2)] ?? Number.NaN).toFixed(1)) };
} catch (error) {
  result = { ms: null, error: error instanceof Error ? error.message.split('\n')[0] : String(error) };
}
const rssMB = Math.round(process.resourceUsage().maxRSS / 1024);
process.stdout.write(`${JSON.stringify({ ...spec, threads, ...result, rssMB })}\n`);
network.dispose();
