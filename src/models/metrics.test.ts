import { describe, expect, it } from 'vitest';
import { classificationMetrics, rocAuc, rocCurve, truePositiveRateAt } from './metrics.ts';

// Reference values from Debian's python3-sklearn 1.2.1 (sklearn.metrics.roc_auc_score / roc_curve
// with drop_intermediate=False) on the arrays written here; the scores were drawn with
// numpy.random.default_rng(0) and rounded to 3 (multi-class) or 2 (multi-label) decimals.
const multiClassScores = [
  0.672, 0.285, 0.043, 0.009, 0.467, 0.524, 0.323, 0.388, 0.289, 0.533, 0.465, 0.002, 0.529, 0.021, 0.45,
  0.111, 0.546, 0.343, 0.399, 0.563, 0.038, 0.086, 0.465, 0.449, 0.308, 0.192, 0.5, 0.423, 0.296, 0.281,
  0.568, 0.321, 0.111, 0.463, 0.337, 0.199,
];
const multiClassLabels = [0, 1, 2, 0, 1, 2, 0, 1, 2, 1, 1, 0];
const multiLabelTargets = [0, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0, 0, 1, 1, 1, 0, 1, 0, 0, 1];
const multiLabelScores = [
  0.23, 0.62, 0.08, 0.83, 0.79, 0.24, 0.88, 0.06, 0.34, 0.15, 0.45, 0.8, 0.23, 0.05, 0.4, 0.2, 0.09, 0.58,
  0.3, 0.67,
];

describe('ROC and AUC', () => {
  it('counts tied positive/negative pairs as one half (hand-computed and sklearn: 8/9)', () => {
    // Positives {0.5, 0.9, 0.7}, negatives {0.5, 0.5, 0.2}: 9 pairs, 7 won outright, 2 ties → 8/9.
    const scores = [0.5, 0.5, 0.5, 0.9, 0.2, 0.7];
    const labels = [0, 1, 0, 1, 0, 1];
    expect(rocAuc(scores, labels)).toBeCloseTo(8 / 9, 12);
    const curve = rocCurve(scores, labels);
    expect([...curve.falsePositiveRate]).toEqual([0, 0, 0, 2 / 3, 1]);
    expect([...curve.truePositiveRate]).toEqual([0, 1 / 3, 2 / 3, 1, 1]);
    expect(truePositiveRateAt(curve, 0.05)).toBeCloseTo(2 / 3, 12);
  });

  it('is 1 for perfect ranking, 0 for reversed, and NaN with one class', () => {
    expect(rocAuc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])).toBe(1);
    expect(rocAuc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1])).toBe(0);
    expect(rocAuc([0.3, 0.4], [1, 1])).toBeNaN();
  });

  it('multi-class: mean one-vs-rest AUC and argmax accuracy (sklearn: 0.6463183421516755)', () => {
    const metrics = classificationMetrics(multiClassScores, multiClassLabels, 3, 'multi-class');
    expect(metrics.auc).toBeCloseTo(0.6463183421516755, 12);
    // The argmax of each row, read off the scores above.
    const predicted = [0, 2, 1, 0, 0, 2, 1, 1, 2, 0, 0, 1];
    const correct = predicted.filter((label, n) => label === multiClassLabels[n]).length;
    expect(metrics.accuracy).toBeCloseTo(correct / 12, 12);
    expect(metrics.confusion.flat().reduce((a, b) => a + b, 0)).toBe(12);
  });

  it('multi-label: mean per-label AUC and accuracy at 0.5 (sklearn: 0.41708333333333336, 0.4)', () => {
    const metrics = classificationMetrics(multiLabelScores, multiLabelTargets, 2, 'multi-label');
    expect(metrics.auc).toBeCloseTo(0.41708333333333336, 12);
    expect(metrics.accuracy).toBeCloseTo(0.4, 12);
  });

  it('binary: AUC of the positive class and accuracy at 0.5, with per-class recall', () => {
    // Rows: [p0, p1]; labels 1, 0, 1, 0.
    const metrics = classificationMetrics(
      [0.2, 0.8, 0.6, 0.4, 0.55, 0.45, 0.9, 0.1],
      [1, 0, 1, 0],
      2,
      'binary',
    );
    expect(metrics.auc).toBe(1);
    expect(metrics.accuracy).toBe(0.75);
    expect(metrics.recall).toEqual([1, 0.5]);
    expect(metrics.confusion).toEqual([
      [2, 0],
      [1, 1],
    ]);
  });
});
