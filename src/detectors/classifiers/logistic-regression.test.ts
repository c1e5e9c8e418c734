import { describe, expect, it } from 'vitest';
import { MedrobustError } from '../../core/errors.ts';
import { featureMatrix } from './feature-matrix.ts';
import {
  fitLogisticRegression,
  fitLogisticRegressionCV,
  logspace,
  restoreLogisticRegression,
} from './logistic-regression.ts';

/*
 * Reference values from scikit-learn 1.2.1 (numpy 1.24.2), /usr/bin/python3. sklearn's
 * `newton-cholesky` solver is used for the references because it reaches the exact optimum
 * (it agrees with `newton-cg` to ~1e-12); `lbfgs`, even at tol=1e-12, stops ~1e-6 away.
 *
 *   import numpy as np
 *   from sklearn.linear_model import LogisticRegression
 *   rng = np.random.default_rng(7)
 *   n, d = 30, 3
 *   y = rng.integers(0, 2, n)
 *   X = np.round(rng.normal(size=(n, d)) + y[:, None] * np.array([1.0, -0.5, 0.3]), 3)
 *   T = np.round(rng.normal(size=(6, d)), 3)
 *   for C in [1.0, 0.05, 1000.0]:
 *       m = LogisticRegression(C=C, tol=1e-12, max_iter=100000, solver='newton-cholesky').fit(X, y)
 *       print(C, m.coef_[0].tolist(), repr(m.intercept_[0]), m.decision_function(T).tolist())
 */
const X = [
  [1.695, -1.844, -0.158],
  [-0.901, -1.79, -1.542],
  [0.765, -1.767, 0.571],
  [1.157, -0.687, -2.217],
  [0.461, -0.549, 0.413],
  [-0.53, -0.978, -0.679],
  [0.191, 0.561, -0.508],
  [-0.033, 0.884, -0.584],
  [-0.112, 0.11, 0.064],
  [-1.225, 0.076, 1.359],
  [-1.547, 0.859, 0.119],
  [0.359, 1.5, 1.062],
  [-0.199, -0.425, 0.877],
  [-0.189, 0.683, -0.067],
  [0.667, 1.439, -0.676],
  [1.203, -0.963, 0.427],
  [-1.187, -0.579, -0.196],
  [1.899, 0.645, -1.024],
  [-0.795, 0.647, -1.992],
  [-0.463, -0.097, 1.257],
  [1.689, -0.827, -0.069],
  [-0.25, 1.524, -0.428],
  [-0.304, 0.353, -0.121],
  [-0.197, -1.114, -0.012],
  [0.556, 0.666, 0.953],
  [-0.024, 0.668, -0.34],
  [2.052, -0.505, 0.883],
  [-1.291, 0.347, -1.688],
  [-2.035, -0.304, -0.9],
  [1.164, 1.745, -0.532],
];
const y = Uint8Array.from([
  1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 1,
]);
const T = [
  [-0.624, 0.205, 0.493],
  [-0.176, -0.206, 0.702],
  [0.52, -1.034, -0.079],
  [0.035, -1.054, 0.26],
  [-0.858, 0.972, 0.193],
  [0.089, -0.591, -0.119],
];
const references = [
  {
    c: 1.0,
    weights: [1.6590439505798555, -0.8432505899211933, 0.11580255744854268],
    intercept: 0.04990635379359658,
    decision: [
      -1.1011127814799462, 0.012917635344184782, 1.7753819160352005, 1.0268676787774504, -2.170843035619751,
      0.6821418597022523,
    ],
  },
  {
    c: 0.05,
    weights: [0.36298186847118746, -0.187880588331877, 0.03887625836295475],
    intercept: -0.018986384761428016,
    decision: [
      -0.2648365959225471, -0.016876659045196106, 0.36096149076807693, 0.20185194791123015,
      -0.505541641904241, 0.11973015449145537,
    ],
  },
  {
    c: 1000.0,
    weights: [4.449018488042944, -2.199324487495035, 0.24943708996325453],
    intercept: 0.48195798533885365,
    decision: [
      -2.6221185857845417, 0.3270964130214773, 5.049843589083954, 3.0206152856305692, -5.424901920884258,
      2.148038389178614,
    ],
  },
];

function expectRelativelyClose(
  actual: ArrayLike<number>,
  expected: readonly number[],
  tolerance: number,
): void {
  expect(actual.length).toBe(expected.length);
  expected.forEach((value, index) => {
    const difference = Math.abs((actual[index] ?? Number.NaN) - value);
    expect(difference).toBeLessThanOrEqual(tolerance * Math.max(1, Math.abs(value)));
  });
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

describe('fitLogisticRegression', () => {
  it.each(references)('matches sklearn LogisticRegression(C=$c)', ({ c, weights, intercept, decision }) => {
    const model = fitLogisticRegression(featureMatrix(X), y, { c });
    expect(model.converged).toBe(true);
    expectRelativelyClose(model.weights, weights, 1e-8);
    expectRelativelyClose([model.intercept], [intercept], 1e-8);
    expectRelativelyClose(model.score(featureMatrix(T)), decision, 1e-8);
    expect(model.c).toBe(c);
  });

  /*
   * Linearly separable data: the L2 penalty keeps the optimum finite.
   *   X = [[0.1,0.2],[0.3,0.1],[0.2,0.5],[0.4,0.4],[0.0,0.3],[0.35,0.2],
   *        [0.8,0.9],[0.9,0.6],[0.7,0.8],[1.0,0.7],[0.75,1.0],[0.95,0.95]]; y = [0]*6 + [1]*6
   *   m = LogisticRegression(C=100.0, tol=1e-12, max_iter=100000, solver='newton-cholesky').fit(X, y)
   *   print(m.coef_[0].tolist(), repr(m.intercept_[0]), m.decision_function([[0.5,0.5],[0.6,0.55]]).tolist())
   */
  it('matches sklearn on separable data with weak regularisation (C = 100)', () => {
    const separable = featureMatrix([
      [0.1, 0.2],
      [0.3, 0.1],
      [0.2, 0.5],
      [0.4, 0.4],
      [0.0, 0.3],
      [0.35, 0.2],
      [0.8, 0.9],
      [0.9, 0.6],
      [0.7, 0.8],
      [1.0, 0.7],
      [0.75, 1.0],
      [0.95, 0.95],
    ]);
    const labels = Uint8Array.from([0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]);
    const model = fitLogisticRegression(separable, labels, { c: 100 });
    expectRelativelyClose(model.weights, [7.854249898646355, 6.30525764660942], 1e-8);
    expectRelativelyClose([model.intercept], [-7.920176958939631], 1e-8);
    expectRelativelyClose(
      model.score(
        featureMatrix([
          [0.5, 0.5],
          [0.6, 0.55],
        ]),
      ),
      [-0.8404231863117442, 0.2602646858833637],
      1e-8,
    );
  });

  it('round-trips through JSON with identical scores', () => {
    const model = fitLogisticRegression(featureMatrix(X), y);
    const state = JSON.parse(JSON.stringify(model.toJSON()));
    expect(state.kind).toBe('logistic-regression');
    const restored = restoreLogisticRegression(state);
    expect(Array.from(restored.score(featureMatrix(T)))).toEqual(Array.from(model.score(featureMatrix(T))));
    expect(Array.from(restored.weights)).toEqual(Array.from(model.weights));
    expect(restored.intercept).toBe(model.intercept);
  });

  it('rejects bad input, bad options and bad state', () => {
    const x = featureMatrix(X);
    expect(caught(() => fitLogisticRegression(x, y.subarray(0, 29))).message).toMatch(/29 labels for 30/);
    expect(caught(() => fitLogisticRegression(x, new Uint8Array(30))).message).toMatch(/single class/);
    expect(
      caught(() => fitLogisticRegression(featureMatrix([[0], [Number.NaN]]), Uint8Array.from([0, 1])))
        .message,
    ).toMatch(/NaN/);
    expect(caught(() => fitLogisticRegression(x, y, { c: 0 })).message).toMatch(
      /C must be a positive finite number/,
    );
    expect(caught(() => fitLogisticRegression(x, y, { c: Number.POSITIVE_INFINITY })).message).toMatch(
      /C must be/,
    );
    expect(caught(() => fitLogisticRegression(x, y, { maxIterations: 0 })).message).toMatch(/maxIterations/);
    const model = fitLogisticRegression(x, y);
    expect(caught(() => model.score(featureMatrix([[1, 2]]))).message).toMatch(
      /fitted on 3 features but got 2/,
    );
    const bad = caught(() =>
      restoreLogisticRegression({ kind: 'logistic-regression', weights: [1, 'x'], c: 1 }),
    );
    expect(bad.code).toBe('invalid-model');
    expect(bad.message).toMatch(/weights\.1/);
    expect(bad.message).toMatch(/intercept/);
    expect(
      caught(() => restoreLogisticRegression({ kind: 'svm', weights: [1], intercept: 0, c: 1 })).message,
    ).toMatch(/kind/);
    expect(
      caught(() =>
        restoreLogisticRegression({ kind: 'logistic-regression', weights: [], intercept: 0, c: 1 }),
      ).message,
    ).toMatch(/weights/);
  });
});

describe('logspace', () => {
  it('matches numpy logspace', () => {
    // np.logspace(-4, 4, 10).tolist(); np.logspace(-2, 3, 6).tolist(). V8's `**` and C's pow may
    // differ in the last bit for non-integer exponents (166.81005372000556 here).
    expect(logspace(-4, 4, 10)).toEqual([
      0.0001,
      0.000774263682681127,
      0.005994842503189409,
      0.046415888336127774,
      0.3593813663804626,
      2.782559402207126,
      21.54434690031882,
      expect.closeTo(166.81005372000558, 12),
      1291.5496650148827,
      10000.0,
    ]);
    expect(logspace(-2, 3, 6)).toEqual([0.01, 0.1, 1.0, 10.0, 100.0, 1000.0]);
    expect(() => logspace(0, 1, 0)).toThrow(/logspace\(0, 1, 0\)/);
  });
});

/*
 * LogisticRegressionCV references: scikit-learn 1.2.1, /usr/bin/python3.
 *
 *   rng = np.random.default_rng(seed); n = 37; d = 2         # seed = 18, then 24
 *   y = (rng.random(n) < 0.42).astype(int)
 *   X = np.round(rng.normal(size=(n, d)) + y[:, None] * 0.8, 2)
 *   a = LogisticRegressionCV(cv=5, tol=1e-10, max_iter=100000).fit(X, y)
 *   b = LogisticRegressionCV(cv=5, tol=1e-12, max_iter=100000, solver='newton-cholesky').fit(X, y)
 *   folds = np.empty(n, int)
 *   for k, (tr, te) in enumerate(StratifiedKFold(5).split(X, y)): folds[te] = k
 *   print(folds.tolist(), a.C_[0], b.C_[0], b.scores_[1].mean(axis=0).tolist(), b.coef_, b.intercept_)
 *
 * Both solvers choose the same C and give the same fold accuracies on these two datasets (chosen
 * among seeds 1–29 because no held-out point lies within 0.01 of any fold's decision boundary, where
 * lbfgs's inexact solutions could flip a prediction). Both start with label 1, so sklearn's
 * "order of first appearance" class numbering matters. Seed 24 has a 5-way tie for the best summed
 * accuracy, and sklearn takes the first; its mean accuracies also show the fold-order summation
 * (0.5928571428571427 at index 4 vs 0.5928571428571429 at index 0). The refit coefficients are
 * checked against the newton-cholesky refit (lbfgs's warm-started refit is ~4e-5 off).
 */
const cvCases = [
  {
    seed: 18,
    x: [
      [2.66, 1.34],
      [-1.15, -0.0],
      [0.69, 1.52],
      [0.57, 0.06],
      [1.34, -1.99],
      [-1.41, -0.52],
      [-0.51, -0.13],
      [-0.01, 1.0],
      [-1.52, 2.98],
      [1.41, 0.03],
      [0.23, 0.32],
      [-2.23, 0.4],
      [-1.11, -0.54],
      [-1.1, -0.6],
      [0.02, -1.29],
      [2.32, -0.48],
      [-0.5, -0.03],
      [0.62, 0.21],
      [0.03, 0.49],
      [0.36, -0.98],
      [1.37, 0.13],
      [-1.17, -0.12],
      [-0.53, 0.22],
      [1.06, 0.17],
      [0.28, -0.09],
      [-0.86, 2.31],
      [0.76, 0.61],
      [0.81, -1.44],
      [-0.73, 0.89],
      [-1.96, -0.9],
      [2.41, 1.35],
      [-1.03, 0.0],
      [1.5, -0.04],
      [-0.03, 0.3],
      [0.8, 2.29],
      [0.07, -0.19],
      [0.19, -0.42],
    ],
    y: [
      1, 0, 1, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 1, 0, 1, 1, 0, 0, 0, 1, 0, 1, 0, 1,
      0, 0,
    ],
    folds: [
      0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 2, 3, 2, 3, 3, 3, 4, 3, 4, 4, 4, 4,
      4, 4,
    ],
    c: 0.3593813663804626,
    meanScores: [
      0.65, 0.65, 0.65, 0.7321428571428571, 0.9214285714285715, 0.8678571428571429, 0.8678571428571429,
      0.8428571428571429, 0.8428571428571429, 0.8428571428571429,
    ],
    weights: [1.2585379896270679, 0.7978984035159409],
    intercept: -1.1342389627251448,
  },
  {
    seed: 24,
    x: [
      [0.27, 0.47],
      [1.97, 0.24],
      [-0.29, 1.62],
      [-0.87, -0.03],
      [-1.34, -0.24],
      [0.83, 1.19],
      [-1.39, -2.53],
      [1.34, 2.47],
      [-0.7, 0.26],
      [0.03, -2.16],
      [-2.67, -0.07],
      [1.29, -0.72],
      [-0.33, -0.79],
      [-0.16, -0.49],
      [1.17, 0.01],
      [-0.23, -0.49],
      [1.18, 0.29],
      [0.95, 0.02],
      [1.13, 0.47],
      [1.34, -0.8],
      [-0.83, -1.28],
      [1.52, -0.67],
      [-0.12, -1.79],
      [-0.22, -0.99],
      [0.61, -0.26],
      [1.44, -0.98],
      [0.91, -0.24],
      [1.21, -0.22],
      [-0.15, -0.26],
      [-0.89, 0.45],
      [-1.6, -0.28],
      [-0.31, -0.02],
      [-0.46, 1.36],
      [-1.0, -0.71],
      [-0.26, 0.31],
      [0.27, 2.8],
      [-1.95, 1.62],
    ],
    y: [
      1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 1, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 1, 0, 1,
      0, 1,
    ],
    folds: [
      0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 2, 1, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4,
      4, 4,
    ],
    c: 2.782559402207126,
    meanScores: [
      0.5928571428571429, 0.5928571428571429, 0.5928571428571429, 0.6178571428571429, 0.5928571428571427,
      0.6428571428571428, 0.6428571428571428, 0.6428571428571428, 0.6428571428571428, 0.6428571428571428,
    ],
    weights: [0.7847893578788642, 0.45210358810039303],
    intercept: -0.48515847228003284,
  },
];

describe('fitLogisticRegressionCV', () => {
  it.each(cvCases)('matches sklearn LogisticRegressionCV(cv=5) on dataset $seed', (reference) => {
    const result = fitLogisticRegressionCV(featureMatrix(reference.x), Uint8Array.from(reference.y));
    expect(Array.from(result.foldAssignment)).toEqual(reference.folds);
    expect(result.c).toBe(reference.c);
    expect(Array.from(result.meanScores)).toEqual(reference.meanScores);
    expect(result.foldScores).toHaveLength(5);
    expect(result.cs).toEqual(logspace(-4, 4, 10));
    expect(result.model.c).toBe(reference.c);
    expectRelativelyClose(result.model.weights, reference.weights, 1e-8);
    expectRelativelyClose([result.model.intercept], [reference.intercept], 1e-8);
  });

  it('takes the first of tied Cs, in the order given', () => {
    // On dataset 24 the Cs from index 5 on tie; reversed, the largest C (10^4) comes first among them.
    const reference = cvCases[1];
    if (reference === undefined) throw new Error('missing case');
    const cs = logspace(-4, 4, 10).reverse();
    const result = fitLogisticRegressionCV(featureMatrix(reference.x), Uint8Array.from(reference.y), { cs });
    expect(result.c).toBe(10000);
    expect(Array.from(result.meanScores)).toEqual(
      reference.meanScores
        .slice()
        .reverse()
        .map((score) => expect.closeTo(score, 14)),
    );
  });

  it('rejects bad options', () => {
    const x = featureMatrix(X);
    expect(caught(() => fitLogisticRegressionCV(x, y, { cs: [] })).message).toMatch(/candidate Cs is empty/);
    expect(caught(() => fitLogisticRegressionCV(x, y, { cs: [1, -1] })).message).toMatch(/C must be/);
    expect(caught(() => fitLogisticRegressionCV(x, y, { folds: 1 })).message).toMatch(/integer ≥ 2/);
    expect(caught(() => fitLogisticRegressionCV(x, y, { folds: 31 })).message).toMatch(
      /more folds than examples/,
    );
    // One example of class 1 and two folds: fold assignment works (sklearn only warns), but fold 0
    // holds out the only class-1 example, leaving a single class to train on.
    const few = featureMatrix([[0], [1], [2], [3], [4], [5], [6]]);
    expect(
      caught(() => fitLogisticRegressionCV(few, Uint8Array.from([1, 0, 0, 0, 0, 0, 0]), { folds: 2 }))
        .message,
    ).toMatch(/fold 0 leaves a single class/);
  });
});
