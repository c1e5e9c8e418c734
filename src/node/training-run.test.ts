import { describe, expect, it } from 'vitest';
import { countsAsBest } from './training-run.ts';

describe('countsAsBest', () => {
  it('keeps the better validation AUC', () => {
    expect(countsAsBest(0.95, 0.9, 3, undefined, undefined)).toBe(true);
    expect(countsAsBest(0.9, 0.95, 3, undefined, 'stop')).toBe(false);
  });

  it('never keeps the epoch where catastrophic overfitting fired, or later, when stopping', () => {
    // Measured on PneumoniaMNIST, fast training at 16/255: epoch 5 had the best AUC so far (0.9914)
    // and a held-out PGD-10 accuracy of 5.5 % (53.1 % two epochs before): it must not be kept.
    expect(countsAsBest(0.9914, 0.9841, 5, 5, 'stop')).toBe(false);
    expect(countsAsBest(0.9841, 0.9821, 4, 5, 'stop')).toBe(true);
    // With --on-overfitting warn the user chose to go on: AUC alone decides.
    expect(countsAsBest(0.9914, 0.9841, 5, 5, 'warn')).toBe(true);
  });
});
