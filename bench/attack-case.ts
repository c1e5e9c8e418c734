/**
 * One attack benchmark case in a fresh process: PGD-20 (L∞, ε = 8/255, step ε/4, random start) on
 * one batch of 32 images labelled by the model's own predictions, with or without early stopping.
 * Reads the case as JSON from argv[2]; prints one JSON line. Used by bench/attack.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { pgd } from '../src/attacks/pgd.ts';
import { Random } from '../src/core/random.ts';
import { loadEngine } from '../src/engine/load-engine.ts';
import { buildModel, createModel } from '../src/models/model.ts';

export interface AttackCase {
  engine: 'wasm' | 'torch';
  kernels: 'ours' | 'stock' | '';
  model: 'small-cnn' | 'resnet18';
  size: number;
  batch: number;
  earlyStop: boolean;
  repeats: number;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as AttackCase;
const engine = await loadEngine(spec.engine, spec.kernels === '' ? {} : { kernels: spec.kernels });
const { manifest, weights } = createModel({
  architecture: { arch: spec.model, classes: 2, channels: 1, size: spec.size },
});
const { classifier, network } = buildModel(engine, manifest, weights);
const random = new Random(3);
const x = tf.tensor4d(random.uniformArray(spec.batch * spec.size * spec.size, 0, 1), [
  spec.batch,
  spec.size,
  spec.size,
  1,
]);
const labels = tf.tidy(() => Int32Array.from(tf.argMax(classifier.predict(x).logits, 1).dataSync()));
const options = { epsilon: 8 / 255, steps: 20, relativeStepSize: 0.25, earlyStop: spec.earlyStop };

let result: Record<string, unknown>;
try {
  const once = () => {
    const attacked = pgd.run(classifier, { x, labels }, undefined, options, { seed: 1 });
    const fooled = attacked.success.reduce((sum, value) => sum + value, 0);
    attacked.adversarial.dispose();
    return fooled;
  };
  once();
  const times: number[] = [];
  let fooled = 0;
  for (let i = 0; i < spec.repeats; i++) {
    const start = performance.now();
    fooled = once();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  const ms = times[Math.floor(times.length / 2)] ?? Number.NaN;
  result = {
    ms: Number(ms.toFixed(0)),
    imagesPerSecond: Number(((spec.batch * 1000) / ms).toFixed(1)),
    fooled,
  };
} catch (error) {
  result = {
    ms: null,
    imagesPerSecond: null,
    error: error instanceof Error ? error.message.split('\n')[0] : String(error),
  };
}
const rssMB = Math.round(process.resourceUsage().maxRSS / 1024);
process.stdout.write(`${JSON.stringify({ ...spec, ...result, rssMB })}\n`);
network.dispose();
