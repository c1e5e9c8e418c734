import { describe, expect, it } from 'vitest';
import { MedrobustError } from '../../core/errors.ts';
import { stratifiedFoldAssignment, stratifiedFolds } from './stratified-folds.ts';

/*
 * Reference fold assignments from scikit-learn 1.2.1 (numpy 1.24.2), /usr/bin/python3:
 *
 *   import numpy as np
 *   from sklearn.model_selection import StratifiedKFold
 *   folds = np.empty(len(y), int)
 *   splits = list(StratifiedKFold(k).split(np.zeros(len(y)), y))
 *   for f, (tr, te) in enumerate(splits): folds[te] = f
 *   print(folds.tolist(), [te.tolist() for tr, te in splits][:2])
 *
 * (warnings ignored: the third case has fewer members in class 1 than folds, which sklearn allows.)
 */
const cases: { labels: number[]; folds: number; assignment: number[]; firstTests: number[][] }[] = [
  // These two would come out differently if classes were numbered in sorted order instead of by
  // first appearance.
  {
    labels: [1, 0, 1, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0],
    folds: 3,
    assignment: [0, 0, 0, 1, 0, 0, 1, 1, 1, 2, 2, 2, 2],
    firstTests: [
      [0, 1, 2, 4, 5],
      [3, 6, 7, 8],
    ],
  },
  {
    labels: [2, 2, 1, 0, 1, 2, 0, 0, 2, 1, 2, 2],
    folds: 3,
    assignment: [0, 0, 0, 0, 1, 1, 1, 2, 1, 2, 2, 2],
    firstTests: [
      [0, 1, 2, 3],
      [4, 5, 6, 8],
    ],
  },
  {
    labels: [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0],
    folds: 3,
    assignment: [0, 0, 1, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2],
    firstTests: [
      [0, 1, 3, 4, 5],
      [2, 6, 7, 8],
    ],
  },
  {
    labels: [2, 0, 1, 1, 2, 0, 0, 2, 1, 1, 0, 2, 2, 2],
    folds: 4,
    assignment: [0, 0, 0, 1, 0, 1, 2, 1, 2, 3, 3, 1, 2, 3],
    firstTests: [
      [0, 1, 2, 4],
      [3, 5, 7, 11],
    ],
  },
  {
    labels: [0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0],
    folds: 5,
    assignment: [0, 0, 1, 1, 2, 2, 3, 0, 1, 3, 4, 4],
    firstTests: [
      [0, 1, 7],
      [2, 3, 8],
    ],
  },
  {
    labels: [0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1],
    folds: 2,
    assignment: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
    firstTests: [
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
      [10, 11, 12, 13, 14, 15, 16, 17, 18, 19],
    ],
  },
  {
    labels: [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0],
    folds: 5,
    assignment: [0, 0, 1, 0, 0, 1, 2, 1, 1, 2, 3, 2, 3, 3, 4, 4, 4],
    firstTests: [
      [0, 1, 3, 4],
      [2, 5, 7, 8],
    ],
  },
];

describe('stratifiedFoldAssignment', () => {
  it.each(cases)(
    'matches sklearn StratifiedKFold($folds) on $labels',
    ({ labels, folds, assignment, firstTests }) => {
      expect(Array.from(stratifiedFoldAssignment(labels, folds))).toEqual(assignment);
      const split = stratifiedFolds(labels, folds);
      expect(split).toHaveLength(folds);
      expect(split.slice(0, 2).map((fold) => Array.from(fold.test))).toEqual(firstTests);
      // Train and test partition the indices, both increasing.
      for (const fold of split) {
        const all = [...fold.train, ...fold.test].sort((a, b) => a - b);
        expect(all).toEqual(labels.map((_, index) => index));
        expect(Array.from(fold.train)).toEqual([...fold.train].sort((a, b) => a - b));
      }
    },
  );

  it('rejects what sklearn rejects, and bad fold counts', () => {
    const expectError = (action: () => unknown, pattern: RegExp): void => {
      expect(action).toThrow(MedrobustError);
      expect(action).toThrow(pattern);
    };
    // sklearn: "n_splits=4 cannot be greater than the number of members in each class."
    expectError(
      () => stratifiedFoldAssignment([0, 0, 0, 1, 1], 4),
      /more than the number of examples of every class/,
    );
    // sklearn: "Cannot have number of splits n_splits=5 greater than the number of samples: n_samples=4."
    expectError(() => stratifiedFoldAssignment([0, 1, 0, 1], 5), /more folds than examples/);
    expectError(() => stratifiedFoldAssignment([0, 1, 0, 1], 1), /integer ≥ 2/);
    expectError(() => stratifiedFoldAssignment([0, 1, 0, 1], 2.5), /integer ≥ 2/);
    expectError(() => stratifiedFoldAssignment([1, 1, 1, 1], 2), /single class/);
    expectError(() => stratifiedFoldAssignment([0, 0.5, 1, 1], 2), /not an integer class/);
  });
});
