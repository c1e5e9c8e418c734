import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  activate,
  crossEntropyWithTap,
  images,
  leakedTensors,
  maxRelativeDifference,
  tinyModel,
} from '../../test/support/engines.ts';
import { Random } from '../core/random.ts';
import type { ArchitectureInput } from '../models/architecture.ts';
import { createClassifier, withPullbackGradients } from './classifier.ts';
import type { Engine } from './contracts.ts';

/** Tiny instances of every architecture and stem, fast enough for the reference cpu backend. */
const zoo: [string, ArchitectureInput][] = [
  ['small-cnn', { arch: 'small-cnn', classes: 3, channels: 1, size: 16, width: 0.25 }],
  [
    'small-cnn paper head',
    { arch: 'small-cnn', classes: 2, channels: 3, size: 16, width: 0.25, head: 'paper' },
  ],
  ['resnet18 small stem', { arch: 'resnet18', classes: 2, channels: 1, size: 12, width: 0.125 }],
  ['resnet34 small stem', { arch: 'resnet34', classes: 4, channels: 3, size: 8, width: 0.125 }],
  [
    'resnet50 imagenet stem',
    { arch: 'resnet50', classes: 3, channels: 3, size: 32, width: 0.125, head: 'paper' },
  ],
];

describe.each(['cpu', 'wasm'] as const)('input gradients on the %s engine', (engineName) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await activate(engineName);
  });

  it.each(zoo)('%s: input gradient matches central finite differences', (_, architecture) => {
    const model = tinyModel(engine, architecture);
    const x = images(2, architecture.size, architecture.channels);
    const tap = model.classifier.info.layers[1];
    const taps = tap === undefined ? [] : [tap];
    const f = crossEntropyWithTap([0, 1], tap);
    const { value, grad } = model.classifier.valueAndGrad(x, f, taps);
    expect(value.shape).toEqual([2]);
    const gradient = grad.dataSync() as Float32Array;
    /** Central difference of Σ objective along a direction given as a dense array (float32: h ≫ rounding). */
    const derivative = (direction: Float32Array, h: number) =>
      tf.tidy(() => {
        const step = tf.tensor4d(direction, x.shape);
        const at = (sign: number) =>
          tf.sum(f(model.classifier.predict(tf.add(x, tf.mul(step, sign * h)) as tf.Tensor4D, taps)));
        return (tf.sub(at(1), at(-1)).dataSync()[0] ?? Number.NaN) / (2 * h);
      });
    // Along g/‖g‖ the derivative is ‖g‖: checks the gradient's magnitude as a whole.
    const norm = Math.hypot(...gradient);
    expect(norm).toBeGreaterThan(0);
    // ReLU and max-pool kinks bias large steps and float32 rounding biases small ones; a wrong gradient
    // misses at every step, so the check takes the better of two.
    const error = (direction: Float32Array, exact: number) =>
      Math.min(...[1e-3, 3e-3].map((h) => Math.abs(derivative(direction, h) - exact)));
    expect(
      error(
        gradient.map((g) => g / norm),
        norm,
      ),
    ).toBeLessThan(0.03 * norm);
    // Coordinate-wise on the largest entries and two random ones: checks individual entries and signs.
    const order = [...gradient.keys()].sort(
      (a, b) => Math.abs(gradient[b] ?? 0) - Math.abs(gradient[a] ?? 0),
    );
    const random = new Random(3);
    const largest = Math.abs(gradient[order[0] ?? 0] ?? 0);
    for (const index of [
      ...order.slice(0, 4),
      random.integer(gradient.length),
      random.integer(gradient.length),
    ]) {
      const unit = new Float32Array(gradient.length);
      unit[index] = 1;
      const exact = gradient[index] ?? Number.NaN;
      expect(error(unit, exact)).toBeLessThan(0.03 * Math.abs(exact) + 0.01 * largest);
    }
    tf.dispose([x, value, grad]);
    model.network.dispose();
  });
});

describe('classifier on the cpu engine', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await activate('cpu');
  });

  it.each(zoo)('%s: folding batch norm changes nothing', (_, architecture) => {
    const folded = tinyModel(engine, architecture, 5, true);
    const unfolded = tinyModel(engine, architecture, 5, false);
    const x = images(3, architecture.size, architecture.channels);
    const a = tf.tidy(() => folded.classifier.predict(x).logits.dataSync());
    const b = tf.tidy(() => unfolded.classifier.predict(x).logits.dataSync());
    expect(maxRelativeDifference(a, b)).toBeLessThan(1e-5);
    x.dispose();
    folded.network.dispose();
    unfolded.network.dispose();
  });

  it('the cotangent (pullback) route gives the same gradient as tfjs differentiation', () => {
    const architecture = zoo[4]?.[1] ?? zoo[0]?.[1];
    if (architecture === undefined) throw new Error('zoo is empty');
    const model = tinyModel(engine, architecture);
    const viaPullback = createClassifier(withPullbackGradients(model.network), {
      name: 'pullback',
      classNames: model.classifier.info.classNames,
      bounds: model.classifier.info.bounds,
    });
    const x = images(2, architecture.size, architecture.channels);
    for (const taps of [[], ['feature'], ['layer2', 'pool']]) {
      const f = crossEntropyWithTap([2, 0], taps[0]);
      const direct = model.classifier.valueAndGrad(x, f, taps);
      const pulled = viaPullback.valueAndGrad(x, f, taps);
      expect(maxRelativeDifference(pulled.value.dataSync(), direct.value.dataSync())).toBeLessThan(1e-6);
      expect(maxRelativeDifference(pulled.grad.dataSync(), direct.grad.dataSync())).toBeLessThan(1e-5);
      tf.dispose([direct.value, direct.grad, pulled.value, pulled.grad]);
    }
    x.dispose();
    model.network.dispose();
  });

  it('each sample’s gradient is its own (no interaction across the batch)', () => {
    const model = tinyModel(engine, { arch: 'resnet18', classes: 2, channels: 1, size: 12, width: 0.125 });
    const x = images(3, 12, 1);
    const batch = model.classifier.valueAndGrad(x, crossEntropyWithTap([1, 0, 1]));
    const single = tf.tidy(() => tf.slice(x, [1, 0, 0, 0], [1, 12, 12, 1])) as tf.Tensor4D;
    const alone = model.classifier.valueAndGrad(single, crossEntropyWithTap([0]));
    const row = tf.tidy(() => tf.slice(batch.grad, [1, 0, 0, 0], [1, 12, 12, 1]).dataSync());
    expect(maxRelativeDifference(row, alone.grad.dataSync())).toBeLessThan(1e-5);
    tf.dispose([x, single, batch.value, batch.grad, alone.value, alone.grad]);
    model.network.dispose();
  });

  it('predict and valueAndGrad leak no tensors, on both gradient routes', () => {
    const model = tinyModel(engine, {
      arch: 'small-cnn',
      classes: 2,
      channels: 1,
      size: 16,
      width: 0.25,
      head: 'paper',
    });
    const viaPullback = createClassifier(withPullbackGradients(model.network), {
      name: 'pullback',
      classNames: ['a', 'b'],
      bounds: { lower: 0, upper: 1 },
    });
    const x = images(2, 16, 1);
    const leaks = leakedTensors(() => {
      const outputs = model.classifier.predict(x, ['block2', 'feature']);
      tf.dispose([outputs.logits, ...outputs.taps.values()]);
      for (const classifier of [model.classifier, viaPullback]) {
        const result = classifier.valueAndGrad(x, crossEntropyWithTap([0, 1], 'feature'), [
          'feature',
          'block1',
        ]);
        tf.dispose([result.value, result.grad]);
      }
    });
    expect(leaks).toBe(0);
    x.dispose();
    model.network.dispose();
  });

  it('rejects wrong input shapes, unknown taps and per-batch objectives with clear errors', () => {
    const model = tinyModel(engine, { arch: 'small-cnn', classes: 2, channels: 1, size: 16, width: 0.25 });
    const rgb = images(1, 16, 3);
    expect(() => model.classifier.predict(rgb)).toThrowError(
      /expects images of shape \[batch, 16, 16, 1\], got \[1, 16, 16, 3\]/,
    );
    const x = images(2, 16, 1);
    expect(() => model.classifier.predict(x, ['layer9'])).toThrowError(
      /unknown tap "layer9"[\s\S]*block1, block2, block3, pool, logits/,
    );
    expect(() =>
      model.classifier.valueAndGrad(x, ({ logits }) => tf.sum(logits) as unknown as tf.Tensor1D),
    ).toThrowError(/one value per sample, shape \[2\]/);
    tf.dispose([rgb, x]);
    model.network.dispose();
  });
});

describe('wasm engine', () => {
  it.each(zoo)('%s: logits and input gradients agree with the cpu reference', async (_, architecture) => {
    const x = images(2, architecture.size, architecture.channels);
    const run = async (name: 'cpu' | 'wasm') => {
      const engine = await activate(name);
      const model = tinyModel(engine, architecture, 11);
      const logits = tf.tidy(() => model.classifier.predict(x).logits.dataSync());
      const { value, grad } = model.classifier.valueAndGrad(x, crossEntropyWithTap([1, 0]));
      const gradient = grad.dataSync() as Float32Array;
      tf.dispose([value, grad]);
      model.network.dispose();
      return { logits, gradient };
    };
    const reference = await run('cpu');
    const wasm = await run('wasm');
    expect(maxRelativeDifference(wasm.logits, reference.logits)).toBeLessThan(1e-4);
    expect(maxRelativeDifference(wasm.gradient, reference.gradient)).toBeLessThan(1e-4);
    x.dispose();
  });

  it('a network refuses to run after another engine was activated', async () => {
    const cpu = await activate('cpu');
    const model = tinyModel(cpu, { arch: 'small-cnn', classes: 2, channels: 1, size: 16, width: 0.25 });
    await activate('wasm');
    const x = images(1, 16, 1);
    expect(() => model.classifier.predict(x)).toThrowError(
      /built on the cpu engine, but the wasm engine was activated/,
    );
    x.dispose();
    model.network.dispose();
  });
});
