/**
 * Minimisation attacks: DeepFool's step on the linear fixture is hand-computable (it lands on the
 * boundary in one step), and CW-L2 and DeepFool find perturbations no larger than PGD-L2's at equal
 * success on the convolutional fixture. APGD's checkpoints follow Croce & Hein's recursion.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LabelledFixture, linearModel, ownLabels } from '../../test/support/attack-fixtures.ts';
import { activate } from '../../test/support/engines.ts';
import type { Classifier } from '../engine/contracts.ts';
import { apgdCheckpoints } from './apgd.ts';
import { cwL2 } from './cw-l2.ts';
import { deepfool } from './deepfool.ts';
import { pgd } from './pgd.ts';
import { squareFraction } from './square.ts';

let linear: Classifier;
let fixture: LabelledFixture;
beforeAll(async () => {
  const engine = await activate('cpu');
  linear = linearModel(engine);
  fixture = ownLabels(engine);
});
afterAll(() => fixture.dispose());

describe('DeepFool on the linear fixture (hand-computed)', () => {
  // m = 0.45: f′ = z₁ − z₀ = 20m − 10 = −1, w = ∇f′ = 5 per pixel, ‖w‖₂² = 100, ‖w‖₁ = 20.
  // L2: r = (1 + 10⁻⁴)/100 · 5 = 0.050005 per pixel; L∞: r = (1 + 10⁻⁴)/20 · sign(w) = 0.050005.
  // Output x + 1.02 r: the boundary m = 0.5 crossed by the 2 % overshoot.
  it.each(['l2', 'linf'] as const)('%s: one step to just past the boundary', (norm) => {
    const x = tf.tensor4d([0, 0.3, 0.6, 0.9], [1, 2, 2, 1]);
    const result = deepfool.run(linear, { x, labels: Int32Array.of(0) }, undefined, { norm });
    const expected = [0, 0.3, 0.6, 0.9].map((value) => value + 1.02 * 0.050005);
    Array.from(result.adversarial.dataSync()).forEach((value, index) => {
      expect(value).toBeCloseTo(expected[index] ?? 0, 5);
    });
    expect(Array.from(result.success)).toEqual([1]);
    tf.dispose([x, result.adversarial]);
  });
});

describe('minimal perturbations are no larger than PGD-L2 at equal success', () => {
  it('CW-L2 and DeepFool fool every image PGD-L2 fools at ε, with L2 ≤ ε', () => {
    const { model, x, labels } = fixture;
    const epsilon = 1.5;
    const projected = pgd.run(
      model,
      { x, labels },
      undefined,
      { epsilon, norm: 'l2', steps: 40, restarts: 2 },
      { seed: 2 },
    );
    const carlini = cwL2.run(model, { x, labels }, undefined, {
      steps: 200,
      searchSteps: 6,
      initialConstant: 1,
      learningRate: 0.05,
    });
    const fool = deepfool.run(model, { x, labels }, undefined, { norm: 'l2' });
    const fooled = Array.from(projected.success, (value, index) => (value ? index : -1)).filter(
      (index) => index >= 0,
    );
    expect(fooled.length).toBeGreaterThan(0);
    for (const index of fooled) {
      expect(carlini.success[index], `CW-L2 image ${index}`).toBe(1);
      expect(carlini.l2[index] ?? Number.POSITIVE_INFINITY).toBeLessThanOrEqual(epsilon + 1e-4);
      expect(fool.success[index], `DeepFool image ${index}`).toBe(1);
      expect(fool.l2[index] ?? Number.POSITIVE_INFINITY).toBeLessThanOrEqual(epsilon + 1e-4);
    }
    tf.dispose([projected.adversarial, carlini.adversarial, fool.adversarial]);
  });
});

describe('schedules', () => {
  it("APGD's checkpoints: intervals 22, 19, 16, 13, 10, 7, 6, 6 of N = 100", () => {
    expect(apgdCheckpoints(100)).toEqual([0, 22, 41, 57, 70, 80, 87, 93, 99]);
  });

  it("Square's window share halves on the paper's schedule", () => {
    expect(squareFraction(0.8, 0, 10_000)).toBe(0.8);
    expect(squareFraction(0.8, 11, 10_000)).toBe(0.4);
    expect(squareFraction(0.8, 51, 10_000)).toBe(0.2);
    expect(squareFraction(0.8, 9000, 10_000)).toBeCloseTo(0.8 / 512, 12);
    expect(squareFraction(0.8, 100, 1000)).toBeCloseTo(0.8 / 16, 12); // 1000 of 10 000 rescaled
    expect(squareFraction(0.8, 101, 1000)).toBeCloseTo(0.8 / 32, 12);
  });
});
