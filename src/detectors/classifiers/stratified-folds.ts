/**
 * Stratified k-fold assignment, exactly as scikit-learn 1.2's non-shuffled
 * `StratifiedKFold(n_splits=k).split(X, y)` makes it (`StratifiedKFold._make_test_folds` in
 * `sklearn/model_selection/_split.py`):
 *   1. classes are numbered by order of first appearance in the labels;
 *   2. the labels sorted by that number are dealt round robin into the k folds, which fixes how many
 *      examples of each class every fold gets (allocation[fold][class] = the count of that class at
 *      sorted positions fold, fold + k, fold + 2k, …);
 *   3. the examples of each class, in their original order, fill fold 0 first, then fold 1, … with
 *      that many examples each (blocks, no shuffling).
 * Fold f's test set is the examples assigned to f, in increasing index order; its training set is the
 * rest, also in increasing order (sklearn's `split` yields `np.where` index arrays, so the same order).
 *
 * Input contract: labels of at least two distinct values (any small non-negative integers), and
 * 2 ≤ k ≤ number of examples. As in sklearn, k larger than every class's count is an error; k larger
 * than the smallest class is allowed (sklearn only warns), and then some folds lack that class.
 */
import { MedrobustError } from '../../core/errors.ts';

export interface Fold {
  /** Indices of the training examples of this fold, increasing. */
  readonly train: Int32Array;
  /** Indices of the held-out examples of this fold, increasing. */
  readonly test: Int32Array;
}

/** The fold (0 … folds−1) each example is held out in, as sklearn's `_make_test_folds` returns it. */
export function stratifiedFoldAssignment(labels: ArrayLike<number>, folds: number): Int32Array {
  if (!Number.isInteger(folds) || folds < 2) {
    throw new MedrobustError('invalid-argument', `the number of folds must be an integer ≥ 2, got ${folds}`, {
      hint: 'use folds: 5 (the sklearn default) or another integer of at least 2',
    });
  }
  const count = labels.length;
  if (folds > count) {
    throw new MedrobustError(
      'invalid-argument',
      `cannot split ${count} examples into ${folds} folds (more folds than examples)`,
      { hint: 'use fewer folds or more examples' },
    );
  }
  // Number the classes by first appearance.
  const classOf = new Map<number, number>();
  const encoded = new Int32Array(count);
  for (let index = 0; index < count; index++) {
    const label = labels[index] ?? Number.NaN;
    if (!Number.isInteger(label)) {
      throw new MedrobustError('invalid-argument', `label ${index} is ${label}, not an integer class`, {
        hint: 'pass integer class labels',
      });
    }
    let encodedClass = classOf.get(label);
    if (encodedClass === undefined) {
      encodedClass = classOf.size;
      classOf.set(label, encodedClass);
    }
    encoded[index] = encodedClass;
  }
  const classes = classOf.size;
  if (classes < 2) {
    throw new MedrobustError(
      'invalid-argument',
      'the labels hold a single class; stratified folds need two',
      {
        hint: 'include examples of both classes',
      },
    );
  }
  const classCounts = new Int32Array(classes);
  for (const encodedClass of encoded) classCounts[encodedClass] = (classCounts[encodedClass] ?? 0) + 1;
  if (classCounts.every((classCount) => folds > classCount)) {
    throw new MedrobustError(
      'invalid-argument',
      `${folds} folds is more than the number of examples of every class (${Array.from(classCounts).join(', ')})`,
      { hint: 'use fewer folds or more examples of each class' },
    );
  }
  // allocation[fold * classes + class]: round robin over the labels sorted by encoded class.
  const allocation = new Int32Array(folds * classes);
  let position = 0;
  for (let encodedClass = 0; encodedClass < classes; encodedClass++) {
    for (let member = 0; member < (classCounts[encodedClass] ?? 0); member++, position++) {
      const slot = (position % folds) * classes + encodedClass;
      allocation[slot] = (allocation[slot] ?? 0) + 1;
    }
  }
  // Fill each class's examples, in order, into fold 0, fold 1, … by the allocated counts.
  const assignment = new Int32Array(count);
  const currentFold = new Int32Array(classes);
  const filled = new Int32Array(classes);
  for (let index = 0; index < count; index++) {
    const encodedClass = encoded[index] ?? 0;
    let fold = currentFold[encodedClass] ?? 0;
    while ((filled[encodedClass] ?? 0) >= (allocation[fold * classes + encodedClass] ?? 0)) {
      fold++;
      filled[encodedClass] = 0;
    }
    currentFold[encodedClass] = fold;
    filled[encodedClass] = (filled[encodedClass] ?? 0) + 1;
    assignment[index] = fold;
  }
  return assignment;
}

/** The train/test index sets of each fold, in fold order (sklearn `StratifiedKFold(k).split`). */
export function stratifiedFolds(labels: ArrayLike<number>, folds: number): Fold[] {
  const assignment = stratifiedFoldAssignment(labels, folds);
  const result: Fold[] = [];
  for (let fold = 0; fold < folds; fold++) {
    const test: number[] = [];
    const train: number[] = [];
    assignment.forEach((assigned, index) => {
      (assigned === fold ? test : train).push(index);
    });
    result.push({ train: Int32Array.from(train), test: Int32Array.from(test) });
  }
  return result;
}
