/**
 * BU (Monte-Carlo dropout variance) against values worked out by hand and by enumerating every
 * dropout mask:
 * - one feature f = 1, dropout 0.5, logits (a·m, −a·m) with a = ln(3)/4 and m ∈ {0, 2}: a kept pass
 *   gives p = (3/4, 1/4), a dropped one (1/2, 1/2), so with half the passes kept the variance of each
 *   class's probability is (1/2)(1/2)(1/4)² = 1/64;
 * - a 3-feature, 2-class head with dropout 0.3: the expectation over all 2³ masks of the per-class
 *   variance, which the MC estimate with many samples must approach;
 * - dropout rate 0 gives zero uncertainty; the differentiable form equals the host values; the
 *   linear head (no dropout) is refused with the fix.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activate, images, tinyModel } from '../../test/support/engines.ts';
import type { Engine } from '../engine/contracts.ts';
import type { LoadedModel } from '../models/model.ts';
import { bu } from './bu.ts';
import type { FeatureMatrix } from './classifiers/feature-matrix.ts';
import { fitDetector } from './detector.ts';
import type { FeatureSet } from './features.ts';

let engine: Engine;
let paperHead: LoadedModel;

beforeAll(async () => {
  engine = await activate('cpu');
  paperHead = tinyModel(engine, {
    arch: 'small-cnn',
    classes: 3,
    channels: 1,
    size: 16,
    width: 0.25,
    head: 'paper',
  });
});

afterAll(() => {
  paperHead.network.dispose();
});

function featureSet(rows: readonly (readonly number[])[]): FeatureSet {
  const matrix: FeatureMatrix = {
    rows: rows.length,
    columns: rows[0]?.length ?? 0,
    values: Float64Array.from(rows.flat()),
  };
  return {
    taps: new Map([['feature', matrix]]),
    logits: { rows: rows.length, columns: 0, values: new Float64Array() },
    predictions: new Int32Array(rows.length),
  };
}

/** A head state: dropout then one dense layer [classes, features] without bias. */
function headState(rate: number, weight: readonly (readonly number[])[]) {
  return {
    layers: [
      { kind: 'dropout', rate },
      {
        kind: 'dense',
        inFeatures: weight[0]?.length ?? 0,
        outFeatures: weight.length,
        weight: Float32Array.from(weight.flat()),
        bias: null,
      },
    ],
  };
}

function uncertainty(state: ReturnType<typeof headState>, rows: number[][], samples: number): Float64Array {
  const characteristic = bu.restore(state, bu.parse({ samples }), ['feature']);
  const features = featureSet(rows);
  return characteristic.compute({ model: paperHead.classifier, features, images: tf.zeros([1, 16, 16, 1]) })
    .values;
}

/** E over every mask of the per-class variance of the softmax, averaged over classes (no sampling). */
function enumerated(rate: number, weight: number[][], feature: number[]): number {
  const d = feature.length;
  const passes: { probability: number; p: number[] }[] = [];
  for (let mask = 0; mask < 1 << d; mask++) {
    let probability = 1;
    const kept = feature.map((value, j) => {
      const keep = (mask >> j) & 1;
      probability *= keep ? 1 - rate : rate;
      return keep ? value / (1 - rate) : 0;
    });
    const logits = weight.map((row) => row.reduce((sum, w, j) => sum + w * (kept[j] ?? 0), 0));
    const largest = Math.max(...logits);
    const exps = logits.map((z) => Math.exp(z - largest));
    const total = exps.reduce((a, b) => a + b, 0);
    passes.push({ probability, p: exps.map((e) => e / total) });
  }
  const classes = weight.length;
  let sum = 0;
  for (let k = 0; k < classes; k++) {
    const mean = passes.reduce((acc, pass) => acc + pass.probability * (pass.p[k] ?? 0), 0);
    sum += passes.reduce((acc, pass) => acc + pass.probability * ((pass.p[k] ?? 0) - mean) ** 2, 0);
  }
  return sum / classes;
}

describe('BU: Monte-Carlo dropout variance', () => {
  it('gives 1/64 on the one-feature head worked out by hand', () => {
    const a = Math.log(3) / 4;
    const [value] = uncertainty(headState(0.5, [[a], [-a]]), [[1]], 10_000);
    expect(value).toBeCloseTo(1 / 64, 4);
  });

  it('approaches the expectation over every dropout mask', () => {
    const weight = [
      [1.5, -0.5, 2],
      [-1, 1, 0.5],
    ];
    const rows = [
      [0.8, 0.2, 0.5],
      [0.1, 1.2, 0.3],
    ];
    const values = uncertainty(headState(0.3, weight), rows, 10_000);
    rows.forEach((row, index) => {
      const exact = enumerated(0.3, weight, row);
      expect(Math.abs((values[index] ?? 0) - exact) / exact).toBeLessThan(0.03);
    });
  });

  it('is zero without dropout, and its differentiable form equals the host values', () => {
    expect(
      uncertainty(
        headState(0, [
          [1, 2],
          [3, -1],
        ]),
        [[0.5, 0.5]],
        10,
      )[0],
    ).toBeCloseTo(0, 12);
    const state = headState(0.3, [
      [1.5, -0.5, 2],
      [-1, 1, 0.5],
    ]);
    const characteristic = bu.restore(state, bu.parse({}), ['feature']);
    const rows = [
      [0.8, 0.2, 0.5],
      [0.1, 1.2, 0.3],
    ];
    const host = uncertainty(state, rows, 50);
    const before = tf.memory().numTensors;
    const logits = tf.zeros([2, 2]) as tf.Tensor2D;
    const feature = tf.tensor2d(rows);
    const tensor = characteristic.tensor?.({ logits, taps: new Map([['feature', feature]]) });
    expect(tensor?.shape).toEqual([2, 1]);
    const values = tensor?.dataSync() ?? new Float32Array();
    host.forEach((value, index) => {
      expect(values[index]).toBeCloseTo(value, 6);
    });
    tf.dispose([logits, feature, tensor as tf.Tensor]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("samples the model's own head: weights equal the exported fc.2 and the tap is 'feature'", () => {
    const head = paperHead.classifier.dropoutHead?.();
    expect(head?.tap).toBe('feature');
    const dense = head?.layers.find((layer) => layer.kind === 'dense');
    expect(dense?.kind === 'dense' ? Array.from(dense.weight.data) : []).toEqual(
      Array.from(paperHead.network.exportWeights().get('fc.2.weight')?.data ?? []),
    );
  });

  it('refuses a model without a dropout head, saying how to get one', () => {
    const linear = tinyModel(engine, {
      arch: 'small-cnn',
      classes: 2,
      channels: 1,
      size: 16,
      width: 0.25,
      head: 'linear',
    });
    const x = images(4, 16, 1, 3);
    expect(() =>
      fitDetector(
        linear.classifier,
        bu,
        {},
        { reference: { x, labels: Int32Array.from([0, 1, 0, 1]) }, clean: x, adversarial: x },
      ),
    ).toThrow(/no dropout in its dense head/);
    linear.network.dispose();
    x.dispose();
  });
});
