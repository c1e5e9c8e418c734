import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { activate, maxRelativeDifference, tinyModel } from '../../test/support/engines.ts';
import { Random } from '../core/random.ts';
import { generatePhantoms } from '../data/phantoms/index.ts';
import { evaluateClassifier } from './evaluate.ts';
import { inverseFrequencyWeights, trainLoop } from './train-loop.ts';

/** 24 grey 8×8 images: class 1 has a bright top-left quadrant; 3 of 4 images are class 0. */
function syntheticSet() {
  const random = new Random(11);
  const labels = Int32Array.from({ length: 24 }, (_, i) => (i % 4 === 0 ? 1 : 0));
  const images = new Float32Array(24 * 64);
  labels.forEach((label, n) => {
    for (let p = 0; p < 64; p++) {
      images[n * 64 + p] = (label === 1 && p % 8 < 4 && p < 32 ? 0.8 : 0.2) + random.uniformIn(-0.1, 0.1);
    }
  });
  return { images, labels, shape: [24, 8, 8, 1] as const, classes: 2 };
}

describe('training loop', () => {
  it('weights classes by N / (K · count), as a balanced loss needs', () => {
    // 6 images: four of class 0, two of class 1, none of class 2.
    expect(inverseFrequencyWeights(Int32Array.from([0, 0, 0, 0, 1, 1]), 3)).toEqual([0.5, 1, 0]);
  });

  it('reduces the loss, reports every epoch, and is repeatable under a seed', async () => {
    const engine = await activate('wasm');
    const run = () => {
      const model = tinyModel(
        engine,
        { arch: 'small-cnn', classes: 2, channels: 1, size: 8, width: 0.25 },
        3,
      );
      const epochs: number[] = [];
      const reports = trainLoop(model.network, syntheticSet(), {
        epochs: 4,
        batchSize: 8,
        optimiser: { kind: 'adam', learningRate: 0.01 },
        seed: 5,
        balanceClasses: true,
        onEpoch: (report) => epochs.push(report.epoch),
      });
      const weights = model.network.exportWeights().get('fc.weight')?.data ?? new Float32Array();
      model.network.dispose();
      return { reports, weights, epochs };
    };
    const before = tf.memory().numTensors;
    const first = run();
    expect(tf.memory().numTensors).toBe(before);
    expect(first.epochs).toEqual([1, 2, 3, 4]);
    expect(first.reports.at(-1)?.meanLoss ?? 1).toBeLessThan(0.5 * (first.reports[0]?.meanLoss ?? 0));
    const second = run();
    expect(maxRelativeDifference(second.weights, first.weights)).toBe(0);
  });

  it('rejects mismatched images and labels', async () => {
    const engine = await activate('wasm');
    const model = tinyModel(engine, { arch: 'small-cnn', classes: 2, channels: 1, size: 8, width: 0.25 });
    const set = { ...syntheticSet(), labels: Int32Array.from([0, 1]) };
    expect(() =>
      trainLoop(model.network, set, {
        epochs: 1,
        batchSize: 8,
        optimiser: { kind: 'sgd', learningRate: 0.1 },
        seed: 0,
      }),
    ).toThrowError(/24 images and 2 labels/);
    model.network.dispose();
  });
});

describe('multi-label training', () => {
  it('learns two independent findings with the mean binary cross-entropy (AUC per label ≥ 0.9)', async () => {
    // 48 grey 8×8 images; finding 0 brightens the left half, finding 1 the right half, independently.
    const random = new Random(13);
    const count = 48;
    const labels = new Int32Array(count * 2);
    const images = new Float32Array(count * 64);
    for (let n = 0; n < count; n++) {
      const left = random.uniform() < 0.5 ? 1 : 0;
      const right = random.uniform() < 0.5 ? 1 : 0;
      labels[2 * n] = left;
      labels[2 * n + 1] = right;
      for (let p = 0; p < 64; p++) {
        const bright = p % 8 < 4 ? left : right;
        images[n * 64 + p] = (bright ? 0.7 : 0.3) + random.uniformIn(-0.15, 0.15);
      }
    }
    const engine = await activate('wasm');
    const model = tinyModel(engine, { arch: 'small-cnn', classes: 2, channels: 1, size: 8, width: 0.25 }, 2);
    const reports = trainLoop(
      model.network,
      { images, labels, shape: [count, 8, 8, 1], classes: 2, labelsPerImage: 2 },
      {
        epochs: 12,
        batchSize: 16,
        optimiser: { kind: 'adam', learningRate: 0.01 },
        seed: 1,
        balanceClasses: true,
      },
    );
    expect(reports.at(-1)?.meanLoss ?? 1).toBeLessThan((reports[0]?.meanLoss ?? 0) * 0.6);
    const set = {
      images,
      shape: [count, 8, 8, 1] as const,
      labels,
      labelsPerImage: 2,
      classNames: ['left', 'right'],
      task: 'multi-label' as const,
    };
    const evaluation = evaluateClassifier(model.classifier, set);
    expect(evaluation.auc).toBeGreaterThanOrEqual(0.9);
    model.network.dispose();
  });
});

describe('training on phantoms', () => {
  it('a small CNN learns to find chest X-ray opacities in a few seconds (held-out accuracy ≥ 90 %)', async () => {
    const engine = await activate('wasm');
    const train = generatePhantoms({ kind: 'chest-xray', count: 160, size: 16, seed: 1 });
    const test = generatePhantoms({ kind: 'chest-xray', count: 64, size: 16, seed: 2 });
    const model = tinyModel(engine, { arch: 'small-cnn', classes: 2, channels: 1, size: 16, width: 0.5 }, 7);
    trainLoop(
      model.network,
      { images: train.images, shape: train.shape, labels: train.labels, classes: 2 },
      { epochs: 8, batchSize: 16, optimiser: { kind: 'adam', learningRate: 3e-3 }, seed: 1 },
    );
    const x = tf.tensor4d(test.images, [64, 16, 16, 1]);
    const predicted = tf.tidy(() => tf.argMax(model.classifier.predict(x).logits, 1).arraySync() as number[]);
    const correct = predicted.filter((label, index) => label === test.labels[index]).length;
    expect(correct / 64).toBeGreaterThanOrEqual(0.9);
    x.dispose();
    model.network.dispose();
  });
});
