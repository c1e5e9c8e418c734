/**
 * Fixture models for attack tests.
 * - `linearModel`: logits = [−10·m + 5, 10·m − 5] with m the image's mean pixel, so class 1 iff
 *   m > 0.5 and the loss gradient is the same for every pixel: attack outputs are hand-computable.
 * - `ownLabels`: a small random convolutional network and images labelled by its own predictions
 *   (100 % clean accuracy), for properties every attack must have.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Random } from '../../src/core/random.ts';
import { createClassifier } from '../../src/engine/classifier.ts';
import type { Classifier, Engine } from '../../src/engine/contracts.ts';
import type { NetworkSpec } from '../../src/engine/network-spec.ts';

export function linearModel(engine: Engine, size = 2): Classifier {
  const spec: NetworkSpec = {
    inputShape: [size, size, 1],
    nodes: [
      { id: 'pool', inputs: ['input'], layer: { kind: 'globalAveragePool' } },
      {
        id: 'fc',
        inputs: ['pool'],
        layer: { kind: 'dense', name: 'fc', inFeatures: 1, outFeatures: 2, bias: true },
      },
    ],
    output: 'fc',
    taps: { pool: 'pool', logits: 'fc' },
  };
  const weights = new Map([
    ['fc.weight', { shape: [2, 1], data: Float32Array.from([-10, 10]) }],
    ['fc.bias', { shape: [2], data: Float32Array.from([5, -5]) }],
  ]);
  return createClassifier(engine.buildNetwork(spec, weights), {
    name: 'linear fixture',
    classNames: ['dark', 'bright'],
    bounds: { lower: 0, upper: 1 },
  });
}

export interface LabelledFixture {
  readonly model: Classifier;
  readonly x: tf.Tensor4D;
  readonly labels: Int32Array;
  dispose(): void;
}

/**
 * A small random convolutional network (conv 3×3 → ReLU → conv 3×3 stride 2 → ReLU → pool → dense,
 * He-scaled weights, no batch norm, so its logits respond to the input) and images labelled by its
 * own predictions.
 */
export function ownLabels(engine: Engine, count = 8, classes = 3, size = 12): LabelledFixture {
  const random = new Random(21);
  const spec: NetworkSpec = {
    inputShape: [size, size, 1],
    nodes: [
      {
        id: 'conv1',
        inputs: ['input'],
        layer: {
          kind: 'conv2d',
          name: 'conv1',
          inChannels: 1,
          outChannels: 8,
          kernelSize: 3,
          stride: 1,
          padding: 1,
          bias: true,
        },
      },
      { id: 'relu1', inputs: ['conv1'], layer: { kind: 'relu' } },
      {
        id: 'conv2',
        inputs: ['relu1'],
        layer: {
          kind: 'conv2d',
          name: 'conv2',
          inChannels: 8,
          outChannels: 8,
          kernelSize: 3,
          stride: 2,
          padding: 1,
          bias: true,
        },
      },
      { id: 'relu2', inputs: ['conv2'], layer: { kind: 'relu' } },
      { id: 'pool', inputs: ['relu2'], layer: { kind: 'globalAveragePool' } },
      {
        id: 'fc',
        inputs: ['pool'],
        layer: { kind: 'dense', name: 'fc', inFeatures: 8, outFeatures: classes, bias: true },
      },
    ],
    output: 'fc',
    taps: { block1: 'relu1', block2: 'relu2', pool: 'pool', logits: 'fc' },
  };
  const he = (length: number, fanIn: number) => random.normalArray(length, Math.sqrt(2 / fanIn));
  const weights = new Map([
    ['conv1.weight', { shape: [8, 1, 3, 3], data: he(72, 9) }],
    ['conv1.bias', { shape: [8], data: random.normalArray(8, 0.1) }],
    ['conv2.weight', { shape: [8, 8, 3, 3], data: he(576, 72) }],
    ['conv2.bias', { shape: [8], data: random.normalArray(8, 0.1) }],
    ['fc.weight', { shape: [classes, 8], data: random.normalArray(classes * 8, 3) }],
    ['fc.bias', { shape: [classes], data: new Float32Array(classes) }],
  ]);
  // Images with different brightness and left–right slope, so the pooled features (and classes) differ.
  const pixels = new Float32Array(count * size * size);
  for (let k = 0; k < count; k++) {
    const brightness = 0.15 + (0.7 * k) / Math.max(1, count - 1);
    const slope = random.uniformIn(-0.4, 0.4);
    for (let i = 0; i < size * size; i++) {
      const column = (i % size) / (size - 1) - 0.5;
      const value = brightness + slope * column + random.normal() * 0.05;
      pixels[k * size * size + i] = Math.min(1, Math.max(0, value));
    }
  }
  const x = tf.tensor4d(pixels, [count, size, size, 1]);
  // Centre the classifier on these images' pooled features (b = −W·μ, logits scaled to spread
  // about ±3), so the classes differ between images and small perturbations can change them.
  const probe = engine.buildNetwork(spec, weights);
  const features = tf.tidy(() => {
    const outputs = probe.forward(x, ['pool'], 'predict');
    return outputs.taps.get('pool')?.arraySync() as number[][];
  });
  probe.dispose();
  const mean = Array.from(
    { length: 8 },
    (_, j) => features.reduce((sum, row) => sum + (row[j] ?? 0), 0) / count,
  );
  const spread = Math.sqrt(
    features.reduce((sum, row) => sum + row.reduce((s2, v, j) => s2 + (v - (mean[j] ?? 0)) ** 2, 0), 0) /
      count,
  );
  const fcWeight = random.normalArray(classes * 8, 3 / Math.max(spread, 1e-6));
  const fcBias = Float32Array.from(
    { length: classes },
    (_, c) => -mean.reduce((sum, m, j) => sum + (fcWeight[c * 8 + j] ?? 0) * m, 0),
  );
  weights.set('fc.weight', { shape: [classes, 8], data: fcWeight });
  weights.set('fc.bias', { shape: [classes], data: fcBias });
  const network = engine.buildNetwork(spec, weights);
  const model = createClassifier(network, {
    name: 'convolutional fixture',
    classNames: Array.from({ length: classes }, (_, index) => `class ${index}`),
    bounds: { lower: 0, upper: 1 },
  });
  const labels = tf.tidy(() => Int32Array.from(tf.argMax(model.predict(x).logits, 1).dataSync()));
  return {
    model,
    x,
    labels,
    dispose() {
      x.dispose();
      network.dispose();
    },
  };
}
