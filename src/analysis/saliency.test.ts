/**
 * Saliency and Grad-CAM against references:
 * - the gradient map against central finite differences of the cross-entropy (h = 1e-3, float32);
 * - SmoothGrad with zero noise equals the gradient map;
 * - integrated gradients' completeness: attributions sum to p_y(x) − p_y(black) (Sundararajan et al.
 *   2017, Prop. 1), within the midpoint rule's error;
 * - the statistics of a 2 × 2 map worked out by hand;
 * - Grad-CAM on a linear head against the closed form: with A → GAP → logits = W·a + b and
 *   p = softmax, ∂p_t/∂a_k = p_t (W_tk − Σ_j p_j W_jk), so α_k = that / (h′w′) and the map is
 *   ReLU(Σ_k α_k A_k), computed here on the host from the tapped A and the exported W.
 * No tensor leaks in any of them.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activate, images, tinyModel } from '../../test/support/engines.ts';
import type { Engine } from '../engine/contracts.ts';
import type { LoadedModel } from '../models/model.ts';
import { gradCam, guidedGradCam } from './grad-cam.ts';
import {
  gradientSaliency,
  integratedGradients,
  mapOf,
  saliencyStatistics,
  smoothGradSaliency,
} from './saliency.ts';

let engine: Engine;
let model: LoadedModel;

beforeAll(async () => {
  engine = await activate('cpu');
  model = tinyModel(engine, { arch: 'small-cnn', classes: 3, channels: 1, size: 16, width: 0.25 });
});

afterAll(() => {
  model.network.dispose();
});

function crossEntropyAt(x: tf.Tensor4D, label: number): number {
  const { logits } = model.classifier.predict(x);
  const value = tf.tidy(() => -((tf.logSoftmax(logits).arraySync() as number[][])[0]?.[label] ?? Number.NaN));
  logits.dispose();
  return value;
}

describe('saliency', () => {
  it('the gradient map is |∂CE/∂x| by finite differences (grey images)', () => {
    const x = images(1, 16, 1, 5);
    const labels = Int32Array.from([2]);
    const before = tf.memory().numTensors;
    const saliency = gradientSaliency(model.classifier, x, labels);
    expect(tf.memory().numTensors).toBe(before);
    expect([saliency.count, saliency.height, saliency.width]).toEqual([1, 16, 16]);
    const pixels = x.dataSync();
    const h = 1e-3;
    for (const index of [0, 37, 120, 255]) {
      const plus = Float32Array.from(pixels);
      const minus = Float32Array.from(pixels);
      plus[index] = (plus[index] ?? 0) + h;
      minus[index] = (minus[index] ?? 0) - h;
      const up = tf.tensor4d(plus, x.shape);
      const down = tf.tensor4d(minus, x.shape);
      const numeric = Math.abs((crossEntropyAt(up, 2) - crossEntropyAt(down, 2)) / (2 * h));
      tf.dispose([up, down]);
      expect(saliency.values[index]).toBeCloseTo(numeric, 2);
    }
    x.dispose();
  });

  it('SmoothGrad without noise is the gradient map; with noise it differs and stays non-negative', () => {
    const x = images(2, 16, 1, 6);
    const labels = Int32Array.from([0, 1]);
    const plain = gradientSaliency(model.classifier, x, labels);
    const before = tf.memory().numTensors;
    const smooth = smoothGradSaliency(model.classifier, x, labels, { samples: 3, noise: 0 });
    const noisy = smoothGradSaliency(model.classifier, x, labels, { samples: 4, noise: 0.2, seed: 1 });
    expect(tf.memory().numTensors).toBe(before);
    smooth.values.forEach((value, index) => {
      expect(value).toBeCloseTo(plain.values[index] ?? Number.NaN, 5);
    });
    expect(Array.from(noisy.values)).not.toEqual(Array.from(plain.values));
    // Stacking noisy copies into one call draws the same noise in the same order as one copy per call.
    const oneByOne = smoothGradSaliency(model.classifier, x, labels, {
      samples: 4,
      noise: 0.2,
      seed: 1,
      batchLimit: 2,
    });
    oneByOne.values.forEach((value, index) => {
      expect(value).toBeCloseTo(noisy.values[index] ?? Number.NaN, 5);
    });
    expect(Math.min(...noisy.values)).toBeGreaterThanOrEqual(0);
    x.dispose();
  });

  it('integrated gradients are complete: attributions sum to p(x) − p(black)', () => {
    const x = images(3, 16, 1, 8);
    const labels = Int32Array.from([0, 1, 2]);
    const before = tf.memory().numTensors;
    // ReLU and max-pool kinks along the path make the midpoint rule converge slowly on this random
    // 16-px model (measured error 8 %, 5 %, 1.2 % of the smallest difference at 32, 128, 512 steps).
    const result = integratedGradients(model.classifier, x, labels, { steps: 512 });
    expect(tf.memory().numTensors).toBe(before);
    const stepByStep = integratedGradients(model.classifier, x, labels, { steps: 8, batchLimit: 3 });
    const stacked = integratedGradients(model.classifier, x, labels, { steps: 8 });
    stacked.totals.forEach((total, index) => {
      expect(total).toBeCloseTo(stepByStep.totals[index] ?? Number.NaN, 6);
    });
    result.totals.forEach((total, index) => {
      const difference = result.differences[index] ?? Number.NaN;
      expect(Math.abs(total - difference)).toBeLessThan(0.03 * Math.abs(difference));
    });
    x.dispose();
  });

  it('statistics of a 2 × 2 map, by hand', () => {
    // Max 2, threshold 1: three of four pixels. p = (0, 1/4, 1/4, 1/2): H = ln 2 + (1/2) ln 2 = 1.5 ln 2,
    // normalised by ln 4 = 2 ln 2 → 0.75.
    const statistics = saliencyStatistics([0, 1, 1, 2], 0.5);
    expect(statistics.aboveThreshold).toBe(0.75);
    expect(statistics.entropy).toBeCloseTo(0.75, 12);
    expect(statistics.mean).toBe(1);
    expect(saliencyStatistics([0, 0, 0, 0])).toEqual({ aboveThreshold: 0, entropy: 0, mean: 0, maximum: 0 });
    expect(saliencyStatistics([1, 1, 1, 1]).entropy).toBeCloseTo(1, 12);
  });
});

describe('Grad-CAM', () => {
  it('matches the closed form on a linear head', () => {
    const x = images(2, 16, 1, 9);
    const targets = Int32Array.from([1, 2]);
    const before = tf.memory().numTensors;
    const cam = gradCam(model.classifier, x, targets);
    expect(tf.memory().numTensors).toBe(before);
    expect(cam.tap).toBe('block3');
    const { logits, taps } = model.classifier.predict(x, ['block3']);
    const activation = taps.get('block3') as tf.Tensor4D;
    const [, h = 0, w = 0, k = 0] = activation.shape;
    const a = activation.arraySync() as number[][][][];
    const z = logits.arraySync() as number[][];
    tf.dispose([logits, activation]);
    const weight = model.network.exportWeights().get('fc.weight');
    const W = (row: number, column: number) => weight?.data[row * k + column] ?? Number.NaN;
    const classes = 3;
    targets.forEach((t, n) => {
      const row = z[n] ?? [];
      const largest = Math.max(...row);
      const e = row.map((v) => Math.exp(v - largest));
      const p = e.map((v) => v / e.reduce((s, u) => s + u, 0));
      const alpha = Array.from({ length: k }, (_, c) => {
        let mixed = 0;
        for (let j = 0; j < classes; j++) mixed += (p[j] ?? 0) * W(j, c);
        return ((p[t] ?? 0) * (W(t, c) - mixed)) / (h * w);
      });
      expect(cam.probabilities[n]).toBeCloseTo(p[t] ?? Number.NaN, 5);
      for (let i = 0; i < h; i++) {
        for (let j = 0; j < w; j++) {
          let sum = 0;
          for (let c = 0; c < k; c++) sum += (alpha[c] ?? 0) * (a[n]?.[i]?.[j]?.[c] ?? 0);
          expect(cam.coarse.values[(n * h + i) * w + j]).toBeCloseTo(Math.max(0, sum), 6);
        }
      }
    });
    expect([cam.maps.height, cam.maps.width]).toEqual([16, 16]);
    expect(Math.min(...mapOf(cam.maps, 0))).toBeGreaterThanOrEqual(0);
    x.dispose();
  });

  it('guided Grad-CAM is the guided gradient times the upsampled map, channel-summed', () => {
    const x = images(2, 16, 1, 12);
    const targets = Int32Array.from([0, 2]);
    const cam = gradCam(model.classifier, x, targets);
    const before = tf.memory().numTensors;
    const guided = guidedGradCam(model.classifier, x, targets, cam);
    expect(tf.memory().numTensors).toBe(before);
    const gradient = model.classifier.guidedGradient?.(x, ({ logits }) =>
      tf.tidy(
        () =>
          tf.sum(tf.mul(tf.softmax(logits), tf.oneHot(tf.tensor1d(targets, 'int32'), 3)), 1) as tf.Tensor1D,
      ),
    );
    const g = gradient?.dataSync() ?? new Float32Array();
    for (const index of [0, 17, 255, 300, 511]) {
      expect(guided.values[index]).toBeCloseTo(Math.abs((g[index] ?? 0) * (cam.maps.values[index] ?? 0)), 6);
    }
    gradient?.dispose();
    x.dispose();
  });

  it('works through the paper head (dropout off), and refuses bad targets', () => {
    const paper = tinyModel(engine, {
      arch: 'small-cnn',
      classes: 2,
      channels: 1,
      size: 16,
      width: 0.25,
      head: 'paper',
    });
    const x = images(2, 16, 1, 10);
    const cam = gradCam(paper.classifier, x, Int32Array.from([0, 1]));
    const { logits } = paper.classifier.predict(x);
    const p = tf.tidy(() => tf.softmax(logits).arraySync() as number[][]);
    logits.dispose();
    expect(cam.probabilities[0]).toBeCloseTo(p[0]?.[0] ?? Number.NaN, 5);
    expect(cam.probabilities[1]).toBeCloseTo(p[1]?.[1] ?? Number.NaN, 5);
    expect(() => gradCam(paper.classifier, x, Int32Array.from([0, 2]))).toThrow(/class indices in 0…1/);
    paper.network.dispose();
    x.dispose();
  });
});
