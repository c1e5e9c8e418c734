/**
 * Detection protocols and metrics: hand-computed thresholds and metrics; oversampling and stratified
 * splits by hand; the grouped protocol never puts a source image on both sides of a split; both
 * protocols report per-split metrics on all and on successful adversarial examples; clear errors.
 */
import { describe, expect, it } from 'vitest';
import { Random } from '../../core/random.ts';
import { accuracyThreshold } from '../../detectors/detector.ts';
import { getDetector } from '../../detectors/registry.ts';
import { detectionMetrics } from './detection-metrics.ts';
import {
  groupedProtocol,
  groupedSplits,
  oversample,
  paperProtocol,
  stratifiedSplit,
  type TwinCharacteristics,
} from './protocols.ts';

describe('detection metrics', () => {
  it('chooses the accuracy-maximising threshold and computes AUC, TPR at 5 % FPR and accuracy by hand', () => {
    // Sorted scores: 0.1(0) 0.2(0) 0.3(1) 0.4(0) 0.5(1) 0.6(1): best cut between 0.4 and 0.5 (5 of 6 right)
    // ties with the cut between 0.2 and 0.3 (5 of 6); the first best is kept.
    const scores = [0.5, 0.1, 0.3, 0.6, 0.2, 0.4];
    const labels = [1, 0, 1, 1, 0, 0];
    expect(accuracyThreshold(scores, labels)).toBeCloseTo(0.25, 12);
    const metrics = detectionMetrics(scores, labels, 0.45);
    // Pairs (positive > negative): 0.5 beats 3, 0.3 beats 2, 0.6 beats 3 → 8 of 9.
    expect(metrics.auc).toBeCloseTo(8 / 9, 12);
    // At FPR 0 the top two positives (0.6, 0.5) are found: TPR 2/3.
    expect(metrics.truePositiveRateAt5).toBeCloseTo(2 / 3, 12);
    expect(metrics.accuracy).toBeCloseTo(5 / 6, 12);
  });
});

describe('splits and oversampling', () => {
  const labels = Int32Array.from([0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
  it('oversamples the minority class to the majority count, only from its own members', () => {
    const result = oversample([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], labels, new Random(1));
    expect(result.filter((index) => labels[index] === 0)).toHaveLength(9);
    expect(result.filter((index) => labels[index] === 1)).toHaveLength(9);
  });
  it('splits source images by class with no overlap', () => {
    const { train, test } = stratifiedSplit(labels, 0.25, new Random(2));
    expect(new Set([...train, ...test]).size).toBe(12);
    expect(train.filter((index) => test.includes(index))).toEqual([]);
    expect(test.filter((index) => labels[index] === 0)).toHaveLength(1);
    expect(test.filter((index) => labels[index] === 1)).toHaveLength(2);
  });
});

describe('protocols', () => {
  // 60 source images; the clean and adversarial characteristics both carry an image-specific offset,
  // and the adversarial one adds a small shift that is weak against the spread of the offsets.
  const count = 60;
  const random = new Random(5);
  const offsets = Array.from({ length: count }, () => random.normal() * 3);
  const data: TwinCharacteristics = {
    clean: { rows: count, columns: 1, values: Float64Array.from(offsets) },
    adversarial: { rows: count, columns: 1, values: Float64Array.from(offsets, (offset) => offset + 0.3) },
    labels: Int32Array.from({ length: count }, (_, i) => (i < 20 ? 0 : 1)),
    success: Uint8Array.from({ length: count }, (_, i) => i % 2),
  };
  const kd = getDetector('kd');
  it('grouped splits are disjoint in source images', () => {
    for (const { train, test } of groupedSplits(data.labels)) {
      expect(train.filter((index) => test.includes(index))).toEqual([]);
      expect(train.length + test.length).toBe(count);
    }
  });
  it('both protocols run three splits and report AUCs in [0, 1], on all and on successful examples', () => {
    for (const result of [paperProtocol(kd, kd.parse({}), data), groupedProtocol(kd, kd.parse({}), data)]) {
      expect(result.splits).toHaveLength(3);
      for (const split of result.splits) {
        expect(split.all.auc).toBeGreaterThanOrEqual(0);
        expect(split.all.auc).toBeLessThanOrEqual(1);
        // Successful-only keeps every clean row and the successful half of the adversarial rows.
        expect(split.successful.samples).toBeLessThan(split.all.samples);
      }
    }
  });
  it('rejects mismatched twins and too few images', () => {
    expect(() => groupedProtocol(kd, kd.parse({}), { ...data, success: new Uint8Array(3) })).toThrow(
      /60 labels, 3 success flags/,
    );
    const tiny: TwinCharacteristics = {
      clean: { rows: 4, columns: 1, values: new Float64Array(4) },
      adversarial: { rows: 4, columns: 1, values: new Float64Array(4) },
      labels: new Int32Array(4),
      success: new Uint8Array(4),
    };
    expect(() => paperProtocol(kd, kd.parse({}), tiny)).toThrow(/at least 10 source images/);
  });
});
