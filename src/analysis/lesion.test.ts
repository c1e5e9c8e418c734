/** Lesion shares on a 2 × 2 image worked out by hand, and refusals of mismatched masks. */
import { describe, expect, it } from 'vitest';
import { lesionArea, massInside, perturbationEnergyInside } from './lesion.ts';

describe('lesion shares', () => {
  const mask = [1, 0, 0, 0];
  it('area, perturbation energy and map mass inside the lesion, by hand', () => {
    expect(lesionArea(mask)).toBe(0.25);
    // δ = (0.3, 0.1, 0, 0.2): energy 0.09 + 0.01 + 0 + 0.04 = 0.14, inside 0.09 → 9/14.
    expect(perturbationEnergyInside([0.5, 0.5, 0.5, 0.5], [0.8, 0.4, 0.5, 0.7], mask, 1)).toBeCloseTo(
      9 / 14,
      12,
    );
    // Two channels: pixel 0's δ = (0.1, 0.1) → 0.02 inside; pixel 3's δ = (0.2, 0) → 0.04; total 0.06 → 1/3.
    expect(
      perturbationEnergyInside([0, 0, 0, 0, 0, 0, 0, 0], [0.1, 0.1, 0, 0, 0, 0, 0.2, 0], mask, 2),
    ).toBeCloseTo(1 / 3, 12);
    expect(massInside([2, 1, 1, 0], mask)).toBe(0.5);
    // Negative values (a signed map) do not count as mass.
    expect(massInside([2, -5, 2, 0], mask)).toBe(0.5);
    expect(massInside([0, 0, 0, 0], mask)).toBeNaN();
    expect(perturbationEnergyInside([0, 0, 0, 0], [0, 0, 0, 0], mask, 1)).toBeNaN();
  });

  it('refuses a mask of the wrong size', () => {
    expect(() => massInside([1, 2, 3], mask)).toThrow(/a mask of 4 pixels for 3[\s\S]*/);
  });
});
