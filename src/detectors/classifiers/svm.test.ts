import { describe, expect, it } from 'vitest';
import { MedrobustError } from '../../core/errors.ts';
import { featureMatrix } from './feature-matrix.ts';
import { fitSvm, restoreSvm } from './svm.ts';

/*
 * Reference values from scikit-learn 1.2.1 (numpy 1.24.2), /usr/bin/python3:
 *
 *   import numpy as np
 *   from sklearn.svm import SVC
 *   def case(seed, n, d, gamma, C, shift):
 *       rng = np.random.default_rng(seed)
 *       y = rng.integers(0, 2, n)
 *       X = np.round(rng.normal(size=(n, d)) * 0.4 + y[:, None] * shift, 3)
 *       T = np.round(rng.normal(size=(5, d)) * 0.5 + 0.25, 3)
 *       m = SVC(kernel='rbf', gamma=gamma, C=C).fit(X, y)
 *       print(m.support_.tolist(), m.dual_coef_[0].tolist(), repr(m.intercept_[0]),
 *             m.decision_function(T).tolist())
 *   case(1, 30, 3, 2.8, 1.0, 0.5); case(5, 24, 2, 0.5, 10.0, 0.6); case(9, 20, 2, 2.8, 0.01, 0.3)
 *
 * and a case where every support vector is at the bound C (no free ones), so the intercept comes from
 * the KKT-bounds branch of libsvm's calculate_rho:
 *
 *   rng = np.random.default_rng(0); n = 16; d = 2
 *   y = np.array([0, 1] * (n // 2)); rng.shuffle(y)
 *   X = np.round(rng.normal(size=(n, d)) * 0.5 + y[:, None] * 0.2, 3)
 *   m = SVC(kernel='rbf', gamma=2.8, C=0.001).fit(X, y)
 *   T = np.round(rng.normal(size=(5, d)) * 0.5 + 0.1, 3)
 *
 * libsvm keeps its kernel cache in float32, so sklearn's own intercept carries ~1e-8·C of rounding;
 * the decision tolerances below allow for that.
 */
const cases = [
  {
    name: 'γ = 2.8, C = 1 (Ma et al.), 3-D',
    gamma: 2.8,
    c: 1,
    x: [
      [0.24, 0.016, -0.117],
      [0.187, 0.397, 0.503],
      [0.39, 1.018, 0.903],
      [-0.584, -0.256, 0.43],
      [-0.169, 0.085, 0.087],
      [0.847, -0.445, -0.151],
      [1.317, 0.759, 0.765],
      [0.294, -0.159, 0.567],
      [0.044, -0.491, -0.273],
      [-0.029, -0.378, -0.039],
      [0.538, 0.514, 0.297],
      [0.237, 0.356, 0.128],
      [-0.327, 0.293, -0.201],
      [0.852, 0.071, 0.866],
      [-0.008, -0.499, -0.126],
      [0.022, 0.109, -0.393],
      [0.057, 0.58, 0.313],
      [0.594, 0.804, -0.16],
      [0.102, 0.49, -0.119],
      [-0.324, 0.301, 0.101],
      [0.858, 0.362, -0.093],
      [0.456, 0.322, 0.81],
      [0.577, -0.152, 0.022],
      [0.854, 0.772, 0.244],
      [0.5, 0.678, 0.687],
      [0.35, 0.103, -0.038],
      [-0.104, 0.422, -0.9],
      [0.445, 0.513, -0.07],
      [0.133, -0.261, 0.345],
      [-0.05, 0.268, 0.488],
    ],
    y: [0, 1, 1, 1, 0, 0, 1, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0],
    t: [
      [0.441, -0.188, -0.507],
      [1.127, 0.194, -0.094],
      [0.322, 0.154, 0.676],
      [0.267, 0.257, -0.107],
      [0.485, -0.267, 0.583],
    ],
    support: [5, 8, 11, 14, 18, 19, 25, 26, 28, 29, 1, 2, 3, 6, 7, 13, 16, 17, 20, 22, 27],
    dual: [
      -1.0, -0.5168800311153239, -1.0, -0.25384705108074745, -1.0, -0.6103138964260684, -1.0, -1.0, -1.0,
      -1.0, 1.0, 0.46581286751198653, 1.0, 0.6489028528797811, 1.0, 0.341716571018762, 1.0,
      0.42396868182367864, 0.5006400053879314, 1.0, 1.0,
    ],
    intercept: 0.209683248017784,
    decision: [
      -0.6027491008506934, 0.6792259920694785, 0.8241314689212934, -0.9137266656195736, 0.5991244792798128,
    ],
    tolerance: 1e-7,
  },
  {
    name: 'γ = 0.5, C = 10, first label 1',
    gamma: 0.5,
    c: 10,
    x: [
      [0.217, 1.24],
      [0.681, -0.093],
      [-0.033, -0.465],
      [0.348, 0.405],
      [-0.285, 0.221],
      [0.575, 0.364],
      [0.764, 0.932],
      [-0.657, -0.103],
      [0.208, 0.531],
      [-0.516, 0.008],
      [-0.015, -0.122],
      [-0.419, -0.158],
      [0.163, 0.058],
      [0.09, -0.444],
      [0.468, 0.287],
      [-0.799, 0.109],
      [-0.441, 0.013],
      [0.017, -0.795],
      [-0.093, -0.102],
      [0.985, 0.127],
      [0.295, -0.44],
      [0.467, 0.264],
      [1.179, 0.827],
      [0.973, 0.257],
    ],
    y: [1, 1, 0, 1, 0, 1, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 0],
    t: [
      [0.672, 0.67],
      [-0.053, 0.215],
      [0.925, 0.052],
      [0.344, 0.239],
      [0.555, 0.068],
    ],
    support: [4, 14, 20, 23, 1, 8, 12, 19, 21, 22],
    dual: [
      -8.610523328287645, -10.0, -8.267035065847578, -10.0, 10.0, 9.840790257173401, 10.0, 5.279060785380357,
      0.17940133730762772, 1.578306014273841,
    ],
    intercept: -0.8615527403202039,
    decision: [
      1.558792620977516, -0.3128634364866404, 0.9212440460773319, 0.750608202599309, 0.7369050520295644,
    ],
    tolerance: 1e-6,
  },
  {
    name: 'γ = 2.8, C = 0.01',
    gamma: 2.8,
    c: 0.01,
    x: [
      [-0.813, 0.564],
      [0.281, 1.309],
      [0.63, 0.411],
      [-0.263, 0.557],
      [-0.203, 0.628],
      [0.141, 0.374],
      [-0.309, 1.237],
      [0.262, 0.146],
      [0.624, -0.057],
      [0.607, -0.168],
      [0.518, -0.118],
      [-0.435, 0.062],
      [-0.286, 0.521],
      [0.309, 0.504],
      [0.337, 0.158],
      [0.311, 0.721],
      [-0.073, -0.305],
      [-0.388, -0.089],
      [0.0, 1.052],
      [-0.471, -0.433],
    ],
    y: [0, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0],
    t: [
      [0.097, 0.575],
      [0.116, -0.229],
      [-0.153, 0.075],
      [0.737, -0.239],
      [0.204, -0.057],
    ],
    support: [0, 3, 4, 16, 17, 19, 1, 5, 6, 7, 9, 10, 11, 12, 15, 18],
    dual: [
      -0.01, -0.01, -0.01, -0.01, -0.01, -0.01, 0.004527997505388648, 0.01, 0.01, 0.0028450842760357467,
      0.000540425425778216, 0.008325014283942073, 0.01, 0.01, 0.0016749857160579273, 0.002086492792797389,
    ],
    intercept: 0.9904175750416863,
    decision: [
      0.9977750442918658, 0.9868249465100772, 0.9856685162415602, 0.9983551157662445, 0.9947074526691092,
    ],
    tolerance: 1e-9,
  },
  {
    name: 'γ = 2.8, C = 0.001, no free support vectors',
    gamma: 2.8,
    c: 0.001,
    x: [
      [-0.109, -0.623],
      [-0.166, -0.072],
      [0.042, 0.406],
      [0.521, -0.064],
      [0.683, -0.333],
      [0.176, 0.452],
      [0.247, -0.172],
      [-0.261, -0.029],
      [0.11, -0.505],
      [-0.105, -0.08],
      [0.27, 0.107],
      [0.378, -0.127],
      [0.135, 0.592],
      [0.747, -0.63],
      [0.957, 0.873],
      [0.591, 0.332],
    ],
    y: [0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 1, 1],
    t: [
      [-0.057, 0.829],
      [1.08, 1.001],
      [0.758, 0.279],
      [-0.504, 0.098],
      [0.428, -0.544],
    ],
    support: [0, 3, 4, 5, 8, 9, 10, 13, 1, 2, 6, 7, 11, 12, 14, 15],
    dual: [
      -0.001, -0.001, -0.001, -0.001, -0.001, -0.001, -0.001, -0.001, 0.001, 0.001, 0.001, 0.001, 0.001,
      0.001, 0.001, 0.001,
    ],
    intercept: 0.00031839957670309893,
    decision: [
      0.0012902486087554418, 0.0013769665827886384, 0.0008114612534864433, 0.0012833058633873239,
      -0.0016995539529137743,
    ],
    tolerance: 1e-9,
  },
];

function expectClose(actual: ArrayLike<number>, expected: readonly number[], tolerance: number): void {
  expect(actual.length).toBe(expected.length);
  expected.forEach((value, index) => {
    expect(Math.abs((actual[index] ?? Number.NaN) - value)).toBeLessThanOrEqual(tolerance);
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

describe('fitSvm', () => {
  it.each(cases)('matches sklearn SVC(kernel=rbf): $name', (reference) => {
    const model = fitSvm(featureMatrix(reference.x), Uint8Array.from(reference.y), {
      gamma: reference.gamma,
      c: reference.c,
    });
    expect(Array.from(model.supportIndices)).toEqual(reference.support);
    expectClose(model.dualCoefficients, reference.dual, 1e-12);
    expectClose([model.intercept], [reference.intercept], reference.tolerance);
    expectClose(model.score(featureMatrix(reference.t)), reference.decision, reference.tolerance);
    // The support vectors are the training rows themselves, in float64.
    expect(model.supportVectors.rows).toBe(reference.support.length);
    expect(Array.from(model.supportVectors.values)).toEqual(
      reference.support.flatMap((index) => reference.x[index]),
    );
  });

  it('is positive for class 1 regardless of which label comes first', () => {
    const x = featureMatrix([[0], [0.1], [0.2], [1], [1.1], [1.2]]);
    const ones = Uint8Array.from([0, 0, 0, 1, 1, 1]);
    const reversed = Uint8Array.from([1, 1, 1, 0, 0, 0]);
    const probe = featureMatrix([[0.05], [1.15]]);
    const [low, high] = fitSvm(x, ones).score(probe);
    expect(low).toBeLessThan(0);
    expect(high).toBeGreaterThan(0);
    const [lowReversed, highReversed] = fitSvm(x, reversed).score(probe);
    expect(lowReversed).toBeGreaterThan(0);
    expect(highReversed).toBeLessThan(0);
  });

  it('round-trips through plain JSON with identical scores', () => {
    const reference = cases[0];
    if (reference === undefined) throw new Error('missing case');
    const model = fitSvm(featureMatrix(reference.x), Uint8Array.from(reference.y));
    const state = model.toJSON();
    expect(state.kind).toBe('svm');
    expect(JSON.parse(JSON.stringify(state))).toEqual(state);
    const restored = restoreSvm(JSON.parse(JSON.stringify(state)));
    const probe = featureMatrix(reference.t);
    expect(Array.from(restored.score(probe))).toEqual(Array.from(model.score(probe)));
    expect(restored.gamma).toBe(2.8);
    expect(restored.c).toBe(1);
  });

  it('rejects bad input, bad options and bad state', () => {
    const x = featureMatrix([[0], [1], [2], [3]]);
    const y = Uint8Array.from([0, 0, 1, 1]);
    expect(caught(() => fitSvm(x, Uint8Array.from([0, 1]))).message).toMatch(/2 labels for 4 feature rows/);
    expect(caught(() => fitSvm(x, Uint8Array.from([1, 1, 1, 1]))).message).toMatch(/single class/);
    expect(caught(() => fitSvm(x, y, { gamma: 0 })).message).toMatch(
      /gamma must be a positive finite number/,
    );
    expect(caught(() => fitSvm(x, y, { c: -1 })).message).toMatch(/C must be a positive finite number/);
    expect(caught(() => fitSvm(x, y, { tolerance: Number.NaN })).message).toMatch(/tolerance/);
    const model = fitSvm(x, y);
    expect(caught(() => model.score(featureMatrix([[1, 2]]))).message).toMatch(
      /fitted on 1 features but got 2/,
    );
    const state = model.toJSON();
    const mismatched = caught(() => restoreSvm({ ...state, dualCoefficients: [1] }));
    expect(mismatched.code).toBe('invalid-model');
    expect(mismatched.message).toMatch(/support vectors but 1 dual coefficients/);
    expect(
      caught(() =>
        restoreSvm({
          ...state,
          supportVectors: [[1], [1, 2], [3], [4]].slice(0, state.supportVectors.length),
        }),
      ).message,
    ).toMatch(/support vector 1 has 2 features/);
    expect(caught(() => restoreSvm({ ...state, gamma: -1 })).message).toMatch(/gamma/);
    expect(caught(() => restoreSvm({ ...state, kind: 'rbf' })).message).toMatch(/kind/);
    expect(caught(() => restoreSvm({ ...state, extra: 1 })).message).toMatch(/extra/);
  });
});
