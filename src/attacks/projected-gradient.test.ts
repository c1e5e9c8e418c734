/**
 * Reference values: on the linear fixture (logits = [−10m + 5, 10m − 5], m = mean pixel) every
 * pixel's loss gradient has the same sign, so FGSM, BIM and PGD outputs are hand-computable:
 * x ± ε per pixel, clipped to [0, 1]. Loss gradients are checked against central finite differences.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { linearModel } from '../../test/support/attack-fixtures.ts';
import { activate } from '../../test/support/engines.ts';
import { targeted } from '../core/goal.ts';
import type { Classifier } from '../engine/contracts.ts';
import { bim } from './bim.ts';
import { cwLinf } from './cw-linf.ts';
import { fgsm } from './fgsm.ts';
import { attackLoss, type LossName } from './losses.ts';
import { paperBim, paperCw, paperFgsm, paperPgd } from './paper-presets.ts';
import { pgd } from './pgd.ts';

let model: Classifier;
beforeAll(async () => {
  model = linearModel(await activate('cpu'));
});

/** A 2×2 grey image. */
function image(pixels: number[]): tf.Tensor4D {
  return tf.tensor4d(pixels, [1, 2, 2, 1]);
}

function values(t: tf.Tensor): number[] {
  return Array.from(t.dataSync()).map((value) => Number(value.toFixed(5)));
}

describe('projected-gradient attacks on the linear fixture (hand-computed)', () => {
  const dark = [0, 0.3, 0.6, 0.9]; // mean 0.45: class 0
  const brighter = [0.1, 0.4, 0.7, 1]; // + ε = 0.1, the last pixel clipped at 1

  it('FGSM moves every pixel by +ε (towards the other class) and clips', () => {
    const x = image(dark);
    const result = fgsm.run(model, { x, labels: Int32Array.of(0) }, undefined, { epsilon: 0.1 });
    expect(values(result.adversarial)).toEqual(brighter);
    expect(Array.from(result.predictions)).toEqual([1]);
    expect(Array.from(result.success)).toEqual([1]);
    expect(result.linf[0]).toBeCloseTo(0.1, 6);
    expect(result.l2[0]).toBeCloseTo(0.2, 5); // √(4 · 0.1²)
    tf.dispose([x, result.adversarial]);
  });

  it('BIM (20 steps of ε/20) and PGD (any random start, 20 steps of ε/10) end at the same corner', () => {
    const x = image(dark);
    for (const [attack, options] of [
      [bim, { epsilon: 0.1 }],
      [pgd, { epsilon: 0.1, relativeStepSize: 0.1 }],
      [paperBim, { epsilon: 0.1 }],
      [paperPgd, { epsilon: 0.1 }],
    ] as const) {
      const result = attack.run(model, { x, labels: Int32Array.of(0) }, undefined, options, { seed: 3 });
      expect(values(result.adversarial), attack.name).toEqual(brighter);
      result.adversarial.dispose();
    }
    x.dispose();
  });

  it("the paper's presets attack the clean prediction, not the true label", () => {
    // The model says "bright" (mean 0.55) although the truth is "dark": paper-fgsm pushes away from
    // its prediction (−ε), plain FGSM on the true label pushes further from "dark" (+ε).
    const x = image([0.2, 0.5, 0.6, 0.9]);
    const onPrediction = paperFgsm.run(model, { x, labels: Int32Array.of(0) }, undefined, { epsilon: 0.05 });
    const onTruth = fgsm.run(model, { x, labels: Int32Array.of(0) }, undefined, { epsilon: 0.05 });
    expect(values(onPrediction.adversarial)).toEqual([0.15, 0.45, 0.55, 0.85]);
    expect(values(onTruth.adversarial)).toEqual([0.25, 0.55, 0.65, 0.95]);
    tf.dispose([x, onPrediction.adversarial, onTruth.adversarial]);
  });

  it('the L2 fast gradient method moves along g/‖g‖₂: ε/2 per pixel of a 2×2 image', () => {
    const x = image(dark);
    const result = fgsm.run(model, { x, labels: Int32Array.of(0) }, undefined, { epsilon: 0.2, norm: 'l2' });
    expect(values(result.adversarial)).toEqual(brighter);
    tf.dispose([x, result.adversarial]);
  });

  it('CW-L∞ has no gradient once the margin passes −κ: a misclassified image stays put (κ = 0)', () => {
    const x = image([0.2, 0.5, 0.6, 0.78]); // mean 0.52: already class 1, label 0
    const result = cwLinf.run(model, { x, labels: Int32Array.of(0) }, undefined, { epsilon: 0.1 });
    expect(values(result.adversarial)).toEqual(values(x));
    // With the paper's κ = 100 the hinge is active, so it keeps pushing to the corner.
    const paper = paperCw.run(model, { x, labels: Int32Array.of(0) }, undefined, { epsilon: 0.1 });
    expect(values(paper.adversarial)).toEqual([0.3, 0.6, 0.7, 0.88]);
    tf.dispose([x, result.adversarial, paper.adversarial]);
  });

  it('a targeted goal pulls towards the target (−ε when the target is the darker class)', () => {
    const x = image([0.3, 0.5, 0.6, 0.8]); // mean 0.55: class 1
    const result = pgd.run(model, { x, labels: Int32Array.of(1) }, targeted([0]), {
      epsilon: 0.1,
      randomStart: false,
      relativeStepSize: 0.1,
    });
    expect(values(result.adversarial)).toEqual([0.2, 0.4, 0.5, 0.7]);
    expect(Array.from(result.success)).toEqual([1]);
    tf.dispose([x, result.adversarial]);
  });
});

describe('attack losses match central finite differences', () => {
  const logits = [
    [1.2, -0.4, 0.3, 2.1],
    [0.1, 0.5, -1.5, 0.2],
  ];
  const cases: [LossName, boolean][] = [
    ['cross-entropy', false],
    ['cross-entropy', true],
    ['margin', false],
    ['margin', true],
    ['dlr', false],
    ['dlr', true],
  ];
  it.each(cases)('%s (targeted: %s)', (loss, isTargeted) => {
    const labels = tf.tensor1d([3, 1], 'int32');
    const targets = isTargeted ? tf.tensor1d([0, 2], 'int32') : undefined;
    const settings = { loss, confidence: 0.5 };
    const f = (z: tf.Tensor) => tf.sum(attackLoss(settings, z as tf.Tensor2D, labels, targets));
    const z = tf.tensor2d(logits);
    const gradient = Array.from(tf.grad(f)(z).dataSync());
    const h = 1e-3;
    const flat = logits.flat();
    for (let i = 0; i < flat.length; i++) {
      const up = flat.map((value, j) => (j === i ? value + h : value));
      const down = flat.map((value, j) => (j === i ? value - h : value));
      const numeric =
        ((f(tf.tensor2d(up, [2, 4])).dataSync()[0] ?? 0) -
          (f(tf.tensor2d(down, [2, 4])).dataSync()[0] ?? 0)) /
        (2 * h);
      expect(gradient[i], `logit ${i}`).toBeCloseTo(numeric, 2);
    }
  });

  it('DLR on two classes is the margin over the clean margin size', () => {
    const z = tf.tensor2d([[2, -1]]);
    const value = attackLoss(
      { loss: 'dlr', confidence: 0, cleanMarginScale: tf.tensor1d([3]) },
      z,
      tf.tensor1d([0], 'int32'),
      undefined,
    );
    expect(value.dataSync()[0]).toBeCloseTo(-1, 6); // −(2 − (−1))/3
  });
});
