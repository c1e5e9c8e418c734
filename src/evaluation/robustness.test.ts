/**
 * The sweep's bookkeeping on the linear fixture, where every number is hand-computable:
 * logits [−10m + 5, 10m − 5] (class 1 iff the mean pixel m > 0.5), four 2×2 images with means
 * 0.3, 0.45, 0.56, 0.8 and true labels 0, 0, 1, 1 (all correct). An L∞ attack of ε moves m by ε
 * toward the boundary, so an image flips iff |m − 0.5| < ε.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { linearModel } from '../../test/support/attack-fixtures.ts';
import { activate } from '../../test/support/engines.ts';
import type { ImageSet } from '../data/image-set.ts';
import type { Classifier } from '../engine/contracts.ts';
import { evaluateRobustness, formatEpsilon } from './robustness.ts';

const means = [0.3, 0.45, 0.56, 0.8];
const set: ImageSet = {
  images: Float32Array.from(means.flatMap((m) => [m - 0.05, m + 0.05, m - 0.05, m + 0.05])),
  shape: [4, 2, 2, 1],
  labels: Int32Array.from([0, 0, 1, 1]),
  labelsPerImage: 1,
  classNames: ['healthy', 'disease'],
  task: 'binary',
};

let model: Classifier;
beforeAll(async () => {
  model = linearModel(await activate('cpu'));
});

describe('evaluateRobustness', () => {
  it('computes accuracy, success, flip rate and sizes per (attack, ε), and the worst case', async () => {
    const results = await evaluateRobustness(model, set, {
      attacks: [{ name: 'fgsm' }, { name: 'deepfool', options: { norm: 'linf' } }],
      epsilons: [0.04, 0.1, 0.25],
      batchSize: 3,
      healthyClass: 0,
    });
    expect(results.clean.accuracy).toBe(1);
    const fgsm = results.entries.filter((entry) => entry.attack === 'fgsm');
    // Distances to the boundary: 0.2, 0.05, 0.06, 0.3 → flips at ε = 0.04: none; 0.1: two; 0.25: three.
    expect(fgsm.map((entry) => entry.adversarialAccuracy)).toEqual([1, 0.5, 0.25]);
    expect(fgsm.map((entry) => entry.successRate)).toEqual([0, 0.5, 0.75]);
    // Diseased images (0.56, 0.8) called correctly: at ε = 0.1 only 0.56 becomes healthy.
    expect(fgsm[1]?.diseaseToHealthyFlipRate).toBe(0.5);
    for (const entry of fgsm) expect(entry.maxLinf).toBeCloseTo(entry.epsilon, 5);
    // DeepFool (minimal L∞) needs 1.02·distance: at ε = 0.1 it fools 0.45 and 0.56, at 0.25 also 0.3.
    const deepfool = results.entries.filter((entry) => entry.attack === 'deepfool');
    expect(deepfool.map((entry) => entry.adversarialAccuracy)).toEqual([1, 0.5, 0.25]);
    expect(deepfool[0]?.maxLinf).toBe(0); // nothing within 0.04: clean images kept
    expect(results.worstCase.map((entry) => entry.adversarialAccuracy)).toEqual([1, 0.5, 0.25]);
    expect(results.worstCase[1]?.attacks).toEqual(['fgsm', 'deepfool']);
    expect(results.flags).toEqual([]);
  });

  it('skips finished entries on resume and leaks no tensors', async () => {
    let calls = 0;
    const before = tf.memory().numTensors;
    const results = await evaluateRobustness(model, set, {
      attacks: [{ name: 'fgsm' }, { name: 'pgd', options: { steps: 3 } }],
      epsilons: [0.1],
      previous: [{ attack: 'fgsm', epsilon: 0.1, robust: Uint8Array.from([1, 0, 0, 1]) }],
      onEntry: () => {
        calls++;
      },
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(calls).toBe(1);
    expect(results.entries.map((entry) => entry.attack)).toEqual(['pgd']);
    expect(results.worstCase[0]?.adversarialAccuracy).toBe(0.5);
  });

  it('flags a model that outputs probabilities', async () => {
    const softmaxModel: Classifier = {
      ...model,
      predict: (x, taps) => {
        const outputs = model.predict(x, taps);
        const probabilities = tf.softmax(outputs.logits) as tf.Tensor2D;
        outputs.logits.dispose();
        return { logits: probabilities, taps: outputs.taps };
      },
    };
    const results = await evaluateRobustness(softmaxModel, set, {
      attacks: [{ name: 'fgsm' }],
      epsilons: [0.1],
    });
    expect(results.flags.map((flag) => flag.code)).toContain('softmax-outputs');
  });

  it('writes ε as a fraction of 255 when it is one', () => {
    expect(formatEpsilon(1 / 255)).toBe('1/255');
    expect(formatEpsilon(0.5 / 255)).toBe('0.5/255');
    expect(formatEpsilon(0.3)).toBe('76.5/255');
    expect(formatEpsilon(0.1234567)).toBe('0.1234567');
  });
});
