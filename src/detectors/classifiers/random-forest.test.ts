import { describe, expect, it } from 'vitest';
import { MedrobustError } from '../../core/errors.ts';
import { featureMatrix } from './feature-matrix.ts';
import { fitRandomForest, type RandomForestState, restoreRandomForest } from './random-forest.ts';

/*
 * ml-random-forest cannot reproduce sklearn's forest tree for tree (different randomness, per-tree
 * instead of per-split feature draws, ml-cart's stopping rules), so these tests check properties, and
 * accuracy against sklearn's on a fixed noisy dataset. That dataset and sklearn's accuracy come from
 * scikit-learn 1.2.1 (numpy 1.24.2), /usr/bin/python3:
 *
 *   import numpy as np
 *   from sklearn.ensemble import RandomForestClassifier
 *   rng = np.random.default_rng(21)
 *   def make(n):
 *       X = np.round(rng.normal(size=(n, 4)), 2)
 *       y = (X[:, 0] + 0.8 * X[:, 1] - 0.5 * X[:, 2] * X[:, 3] + rng.normal(size=n) * 0.6 > 0).astype(int)
 *       return X, y
 *   X, y = make(80); T, u = make(40)
 *   accs = [(RandomForestClassifier(n_estimators=30, random_state=s).fit(X, y).predict(T) == u).mean()
 *           for s in range(20)]
 *   print(np.mean(accs), np.min(accs), np.max(accs))   # 0.73375 0.65 0.8
 *
 * (The label noise caps any classifier well below 1; LogisticRegression() scores 0.725.)
 */
const sklearnMeanAccuracy = 0.73375;
const trainX = [
  [0.36, 1.51, -1.79, 1.69],
  [-0.05, -0.8, -0.8, -1.08],
  [-0.22, 0.83, 0.58, 0.64],
  [-1.69, -1.57, 1.55, 0.97],
  [2.18, 1.21, -1.02, 1.29],
  [0.63, 0.21, -0.82, 0.0],
  [-0.15, 0.89, 0.12, 1.58],
  [-0.77, 0.47, 0.5, -0.86],
  [-1.18, 1.01, 0.52, -0.16],
  [0.39, -0.68, 0.24, -0.61],
  [0.19, 0.99, -0.34, 0.85],
  [-1.03, -0.29, -1.36, -0.1],
  [0.08, -0.2, -0.27, 1.34],
  [1.42, -1.22, 1.17, -1.72],
  [-0.73, -0.17, 0.11, -1.05],
  [-0.72, 0.08, -0.69, -0.64],
  [0.67, 0.93, -0.06, 0.02],
  [-0.02, -0.45, -0.51, -1.04],
  [0.65, -0.08, -0.14, 0.2],
  [0.53, 1.42, -0.27, -0.4],
  [0.2, -0.85, 1.27, 0.93],
  [0.69, -0.12, 0.74, 1.05],
  [0.5, -0.28, -1.69, 0.95],
  [-0.35, -0.84, 0.89, 0.34],
  [-1.42, -0.1, -0.27, 0.99],
  [-1.9, -0.39, -0.14, 1.42],
  [-1.08, -2.94, -1.38, 0.26],
  [0.81, 1.73, 0.4, -0.8],
  [0.88, -0.01, -0.2, 0.02],
  [1.27, -0.9, -1.02, -0.07],
  [-0.07, -0.81, -0.88, 0.38],
  [1.34, 0.71, 0.69, 1.25],
  [-1.99, -1.51, -0.71, -1.2],
  [-0.99, 0.07, -1.28, -0.44],
  [-2.04, -0.97, 1.35, -0.54],
  [0.32, 0.71, -0.49, 0.58],
  [0.21, 0.7, -0.64, -1.44],
  [-1.02, -0.55, 0.54, -0.2],
  [-0.4, -0.18, 1.1, -0.58],
  [1.51, -1.23, -0.59, 0.86],
  [0.52, -0.86, -0.11, -0.71],
  [0.85, 0.54, -0.71, 0.4],
  [-0.37, -0.07, 0.06, -0.56],
  [0.43, 0.46, 0.43, 1.1],
  [-0.27, -1.48, -0.49, 0.2],
  [0.02, 0.58, 0.81, -0.12],
  [-0.11, -0.99, 1.03, -0.26],
  [-1.08, -1.11, -0.41, 1.56],
  [0.77, -1.69, -0.12, 0.26],
  [0.63, 0.34, -0.64, 0.41],
  [-0.55, -2.24, -0.71, -0.69],
  [0.95, 1.06, -1.05, 0.17],
  [0.09, -1.44, -2.05, -0.09],
  [0.14, -0.59, -2.71, -0.03],
  [-0.58, -0.89, -0.32, -1.13],
  [0.56, 0.01, -0.56, 0.28],
  [-0.03, -1.52, -0.14, -0.46],
  [-1.74, -0.65, 0.43, -0.62],
  [1.41, 1.7, -0.31, 0.55],
  [1.99, -0.33, -0.9, -0.42],
  [-1.37, -1.35, 0.21, -0.42],
  [0.25, 0.49, -0.76, -0.19],
  [-0.27, -0.67, -0.84, 0.32],
  [-0.14, 0.33, 1.0, 1.01],
  [-1.11, -0.86, -0.26, 0.12],
  [0.94, -0.96, -0.44, 0.25],
  [1.23, 1.38, -1.01, -0.21],
  [-0.81, 0.85, 0.45, -0.36],
  [-0.61, 0.29, 0.98, -0.77],
  [-0.32, 0.11, 0.02, 0.34],
  [-1.0, -0.59, -2.1, 0.06],
  [1.07, -2.06, -0.63, 0.9],
  [-0.14, -1.9, 1.17, -1.43],
  [1.37, -0.58, -0.71, 0.03],
  [-0.02, 0.6, 0.5, -0.15],
  [1.32, 0.71, 0.27, 0.14],
  [-0.1, -0.08, 0.66, 0.47],
  [0.04, 1.02, -0.26, 0.44],
  [0.86, -1.12, -0.26, 1.67],
  [-0.96, 1.15, -1.06, 0.41],
];
const trainY = [
  1, 0, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0, 1, 0, 0, 0, 1,
  1, 0, 1, 1, 0, 1, 0, 1, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 1, 1, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0,
  0, 1, 0, 1, 0, 0, 0, 0,
];
const testX = [
  [1.48, -0.56, -0.02, 0.64],
  [0.3, -0.32, 1.7, 1.34],
  [-2.41, 0.97, 0.55, 0.99],
  [0.1, 0.83, 1.93, 1.71],
  [1.79, 1.06, 0.93, 0.95],
  [-1.09, 2.27, 0.25, 0.34],
  [0.13, 0.49, -2.09, 0.24],
  [-1.24, -0.96, -1.83, -1.69],
  [0.6, -0.47, -0.09, -0.16],
  [-1.14, -0.69, -1.24, -0.3],
  [-2.19, -0.38, 0.91, 1.21],
  [1.14, 0.5, -0.99, 0.91],
  [0.52, 0.27, -1.2, 0.39],
  [1.41, 0.74, -0.22, 0.54],
  [0.01, 0.18, 0.84, 0.34],
  [0.07, 0.38, -0.81, -0.99],
  [0.48, -0.59, 0.56, -1.83],
  [1.19, -0.1, 1.66, -2.46],
  [-1.67, 1.4, 0.16, 0.3],
  [0.13, 0.16, 0.54, -1.0],
  [-0.16, 1.3, 0.18, -0.61],
  [0.1, 1.04, -0.19, -0.17],
  [0.49, 0.85, 1.47, -0.12],
  [0.35, 1.05, -1.88, 0.15],
  [0.47, -0.07, -0.84, 0.59],
  [1.25, -0.07, -0.47, -0.2],
  [1.56, 1.25, 0.06, -1.07],
  [-1.24, -0.3, -0.29, 0.29],
  [-1.1, -0.1, 0.55, -1.66],
  [2.31, 0.6, 0.55, -1.27],
  [-0.99, 1.04, 0.91, -2.4],
  [1.18, 0.76, 0.65, -1.07],
  [0.29, -0.57, 0.6, 1.87],
  [0.68, 1.05, -0.27, -0.98],
  [0.05, 1.08, 1.51, -0.02],
  [0.3, -0.35, -1.67, 0.13],
  [0.39, -0.37, -0.13, -1.75],
  [0.1, 1.43, 0.02, 0.64],
  [0.49, -0.71, 0.26, -0.77],
  [2.96, 0.25, -1.04, -1.49],
];
const testY = [
  1, 0, 0, 0, 1, 0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1,
  0, 0, 1, 1,
];

function accuracy(scores: Float64Array, labels: readonly number[]): number {
  let correct = 0;
  labels.forEach((label, index) => {
    if (((scores[index] ?? 0) > 0.5 ? 1 : 0) === label) correct++;
  });
  return correct / labels.length;
}

/** Area under the ROC curve by the rank (Mann–Whitney) statistic, ties counting one half. */
function areaUnderCurve(scores: Float64Array, labels: readonly number[]): number {
  let pairs = 0;
  let wins = 0;
  labels.forEach((positive, i) => {
    if (positive !== 1) return;
    labels.forEach((negative, j) => {
      if (negative !== 0) return;
      pairs++;
      const difference = (scores[i] ?? 0) - (scores[j] ?? 0);
      wins += difference > 0 ? 1 : difference === 0 ? 0.5 : 0;
    });
  });
  return wins / pairs;
}

function caught(action: () => unknown): MedrobustError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(MedrobustError);
    return error as MedrobustError;
  }
  throw new Error('expected a MedrobustError');
}

const x = featureMatrix(trainX);
const y = Uint8Array.from(trainY);
const test = featureMatrix(testX);

describe('fitRandomForest', () => {
  it('has 30 trees by default and scores the fraction of trees voting 1', () => {
    const forest = fitRandomForest(x, y);
    expect(forest.trees).toBe(30);
    const scores = forest.score(test);
    for (const score of scores) {
      expect(score).toBeGreaterThanOrEqual(0);
      expect(score).toBeLessThanOrEqual(1);
      expect(Math.abs(score * 30 - Math.round(score * 30))).toBeLessThan(1e-9);
    }
  });

  it('is deterministic under a seed, and the seed matters', () => {
    const first = fitRandomForest(x, y, { seed: 7 });
    const second = fitRandomForest(x, y, { seed: 7 });
    const other = fitRandomForest(x, y, { seed: 8 });
    expect(second.toJSON()).toEqual(first.toJSON());
    expect(Array.from(second.score(test))).toEqual(Array.from(first.score(test)));
    expect(other.toJSON()).not.toEqual(first.toJSON());
  });

  it('ranks every positive above every negative on separable data (AUC 1)', () => {
    // Class 1 iff feature 0 > 0.5, with a gap; feature 1 is noise.
    const rows: number[][] = [];
    const labels: number[] = [];
    for (let index = 0; index < 40; index++) {
      const positive = index % 2;
      rows.push([positive ? 0.6 + (index % 7) * 0.05 : 0.1 + (index % 5) * 0.06, ((index * 37) % 11) / 11]);
      labels.push(positive);
    }
    const forest = fitRandomForest(featureMatrix(rows), Uint8Array.from(labels), { seed: 3 });
    expect(areaUnderCurve(forest.score(featureMatrix(rows)), labels)).toBe(1);
    const probe = featureMatrix([
      [0.05, 0.5],
      [0.35, 0.1],
      [0.7, 0.9],
      [0.95, 0.2],
    ]);
    expect(areaUnderCurve(forest.score(probe), [0, 0, 1, 1])).toBe(1);
  });

  it("is about as accurate as sklearn's forest on a noisy dataset", () => {
    expect(
      Math.abs(accuracy(fitRandomForest(x, y).score(test), testY) - sklearnMeanAccuracy),
    ).toBeLessThanOrEqual(0.1);
    const seeds = [1, 2, 3, 4, 5];
    const mean =
      seeds
        .map((seed) => accuracy(fitRandomForest(x, y, { seed }).score(test), testY))
        .reduce((a, b) => a + b) / seeds.length;
    expect(Math.abs(mean - sklearnMeanAccuracy)).toBeLessThanOrEqual(0.07);
  });

  it('gives each tree the requested number of distinct features', () => {
    const featuresPerTree = (options: Parameters<typeof fitRandomForest>[2]): number[][] =>
      fitRandomForest(x, y, { trees: 3, ...options }).toJSON().model.baseModel.indexes;
    for (const [options, count] of [
      [{}, 4],
      [{ maxFeatures: 'sqrt' }, 2],
      [{ maxFeatures: 3 }, 3],
      [{ maxFeatures: 1 }, 1],
      [{ maxFeatures: 0.5 }, 2],
    ] as const) {
      const indexes = featuresPerTree(options);
      expect(indexes).toHaveLength(3);
      for (const features of indexes) {
        expect(features).toHaveLength(count);
        expect(new Set(features).size).toBe(count);
      }
    }
  });

  it('round-trips through plain JSON with identical scores', () => {
    const forest = fitRandomForest(x, y, { trees: 10, seed: 11 });
    const state = forest.toJSON();
    expect(state.kind).toBe('random-forest');
    const text = JSON.stringify(state);
    expect(JSON.parse(text)).toEqual(state);
    const restored = restoreRandomForest(JSON.parse(text));
    expect(restored.trees).toBe(10);
    expect(Array.from(restored.score(test))).toEqual(Array.from(forest.score(test)));
    expect(Array.from(restored.score(x))).toEqual(Array.from(forest.score(x)));
  });

  it('rejects bad input, bad options and bad state', () => {
    expect(caught(() => fitRandomForest(x, y.subarray(1))).message).toMatch(/79 labels for 80/);
    expect(caught(() => fitRandomForest(x, new Uint8Array(80))).message).toMatch(/single class/);
    expect(
      caught(() => fitRandomForest(featureMatrix([[Number.NaN], [1]]), Uint8Array.from([0, 1]))).message,
    ).toMatch(/NaN/);
    expect(caught(() => fitRandomForest(x, y, { trees: 0 })).message).toMatch(/number of trees/);
    expect(caught(() => fitRandomForest(x, y, { seed: 1.5 })).message).toMatch(/32-bit integer/);
    expect(caught(() => fitRandomForest(x, y, { maxFeatures: 5 })).message).toMatch(/only 4 features/);
    expect(caught(() => fitRandomForest(x, y, { maxFeatures: 1.5 })).message).toMatch(
      /neither an integer nor a fraction/,
    );
    expect(caught(() => fitRandomForest(x, y, { maxFeatures: 'log2' as unknown as 'sqrt' })).message).toMatch(
      /maxFeatures must be/,
    );
    expect(caught(() => fitRandomForest(x, y, { maxDepth: 0 })).message).toMatch(/maxDepth/);

    const forest = fitRandomForest(x, y, { trees: 2 });
    expect(caught(() => forest.score(featureMatrix([[1, 2]]))).message).toMatch(
      /fitted on 4 features but got 2/,
    );
    const state = forest.toJSON();
    const edit = (change: (copy: RandomForestState & Record<string, unknown>) => void): unknown => {
      const copy = JSON.parse(JSON.stringify(state));
      change(copy);
      return copy;
    };
    const wrongCount = caught(() =>
      restoreRandomForest(
        edit((copy) => {
          (copy.model.baseModel as { nEstimators: number }).nEstimators = 3;
        }),
      ),
    );
    expect(wrongCount.code).toBe('invalid-model');
    expect(wrongCount.message).toMatch(/nEstimators is 3 but there are 2 trees/);
    expect(
      caught(() =>
        restoreRandomForest(
          edit((copy) => {
            (copy as { columns: number }).columns = 2;
          }),
        ),
      ).message,
    ).toMatch(/outside the 2 columns/);
    expect(
      caught(() =>
        restoreRandomForest(
          edit((copy) => {
            (copy.model.baseModel.estimators[0] as { root: unknown }).root = {
              splitColumn: 9,
              splitValue: 0,
              left: { distribution: [[1]] },
              right: { distribution: [[0, 1]] },
            };
          }),
        ),
      ).message,
    ).toMatch(/tree 0 splits on a feature it was not given/);
    expect(
      caught(() =>
        restoreRandomForest(
          edit((copy) => {
            (copy.model.baseModel.estimators[1] as { root: unknown }).root = { splitColumn: 0 };
          }),
        ),
      ).message,
    ).toMatch(/estimators\.1\.root/);
    expect(caught(() => restoreRandomForest({ ...state, kind: 'forest' })).message).toMatch(/kind/);
  });
});
