import { describe, expect, it } from 'vitest';
import { MedrobustError } from '../../core/errors.ts';
import {
  checkTrainingSet,
  featureMatrix,
  featureMatrixFromValues,
  row,
  selectLabels,
  selectRows,
  toRowArrays,
} from './feature-matrix.ts';

function expectError(action: () => unknown, code: string, pattern: RegExp): void {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(MedrobustError);
    expect((error as MedrobustError).code).toBe(code);
    expect((error as MedrobustError).message).toMatch(pattern);
    expect((error as MedrobustError).hint).toBeTruthy();
    return;
  }
  throw new Error(`expected a MedrobustError matching ${pattern}`);
}

describe('featureMatrix', () => {
  it('stores rows row-major and reads rows back', () => {
    const m = featureMatrix([[1, 2, 3], Float32Array.from([4, 5, 6])]);
    expect(m.rows).toBe(2);
    expect(m.columns).toBe(3);
    expect(Array.from(m.values)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(row(m, 1))).toEqual([4, 5, 6]);
    expect(toRowArrays(m)).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
  });

  it('selects rows in the given order, repeats allowed', () => {
    const m = featureMatrix([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    const selected = selectRows(m, [2, 0, 2]);
    expect(selected.rows).toBe(3);
    expect(Array.from(selected.values)).toEqual([5, 6, 1, 2, 5, 6]);
    expect(Array.from(selectLabels(Uint8Array.from([0, 1, 1]), [2, 0]))).toEqual([1, 0]);
  });

  it('rejects empty, ragged, non-finite and out-of-range input', () => {
    expectError(() => featureMatrix([]), 'invalid-argument', /no rows/);
    expectError(
      () => featureMatrix([[1, 2], [3]]),
      'invalid-argument',
      /row 1 .* 1 features but row 0 has 2/,
    );
    expectError(() => featureMatrix([[1, Number.NaN]]), 'invalid-argument', /NaN .* row 0, column 1/);
    expectError(
      () => featureMatrix([[1], [Number.POSITIVE_INFINITY]]),
      'invalid-argument',
      /Infinity .* row 1/,
    );
    expectError(
      () => featureMatrixFromValues(2, 2, new Float64Array(3)),
      'invalid-argument',
      /holds 3 values/,
    );
    expectError(
      () => featureMatrixFromValues(0, 2, new Float64Array(0)),
      'invalid-argument',
      /at least one row/,
    );
    const m = featureMatrix([[1], [2]]);
    expectError(() => row(m, 2), 'invalid-argument', /row 2 is out of range/);
    expectError(() => selectRows(m, []), 'invalid-argument', /no rows were selected/);
    expectError(
      () => selectLabels(Uint8Array.from([0, 1]), [5]),
      'invalid-argument',
      /label 5 is out of range/,
    );
  });
});

describe('checkTrainingSet', () => {
  const x = featureMatrix([[0], [1], [2]]);

  it('counts the classes', () => {
    expect(checkTrainingSet(x, Uint8Array.from([0, 1, 1]))).toEqual({ negatives: 1, positives: 2 });
  });

  it('rejects mismatched lengths, labels other than 0/1, a single class and non-Uint8Array labels', () => {
    expectError(
      () => checkTrainingSet(x, Uint8Array.from([0, 1])),
      'invalid-argument',
      /2 labels for 3 feature rows/,
    );
    expectError(() => checkTrainingSet(x, Uint8Array.from([0, 2, 1])), 'invalid-argument', /label 1 is 2/);
    expectError(
      () => checkTrainingSet(x, Uint8Array.from([1, 1, 1])),
      'invalid-argument',
      /single class \(all 1\)/,
    );
    expectError(
      () => checkTrainingSet(x, Uint8Array.from([0, 0, 0])),
      'invalid-argument',
      /single class \(all 0\)/,
    );
    expectError(
      () => checkTrainingSet(x, [0, 1, 1] as unknown as Uint8Array),
      'invalid-argument',
      /must be a Uint8Array/,
    );
  });
});
