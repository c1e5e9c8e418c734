import { describe, expect, it } from 'vitest';
import { type CurvePoint, epsilonTicks, halvingEpsilon } from './curves.ts';

const point = (epsilon: number, accuracy: number): CurvePoint => ({
  series: 's',
  attack: 'paper-pgd',
  epsilon,
  accuracy,
  accuracyOnCorrect: accuracy,
});

describe('accuracy-vs-ε curves', () => {
  it('labels the ε axis up to the largest ε plotted', () => {
    expect(epsilonTicks(4)).toEqual([0, 0.1, 0.2, 0.5, 1, 2, 4, 8]);
    expect(epsilonTicks(16)).toEqual([0, 0.1, 0.2, 0.5, 1, 2, 4, 8, 16]);
    expect(epsilonTicks(40)).toEqual([0, 0.1, 0.2, 0.5, 1, 2, 4, 8, 16, 32]);
  });

  it('finds where accuracy halves by linear interpolation', () => {
    // Hand-computed (the CIFAR-10 member of docs/results.md's natural study): clean 44 %, half 22 %,
    // crossed between 4/255 (26 %) and 8/255 (16.5 %): 4 + 4 · (26 − 22)/(26 − 16.5) = 5.684.
    const curve = [point(0, 0.44), point(2, 0.385), point(4, 0.26), point(8, 0.165), point(16, 0.125)];
    expect(halvingEpsilon(curve)).toBeCloseTo(4 + (4 * 0.04) / 0.095, 9);
    expect(halvingEpsilon([point(0, 0.8), point(4, 0.7)])).toBeNull();
    expect(halvingEpsilon([point(0, 0.8), point(1, 0.4)])).toBe(1);
  });
});
