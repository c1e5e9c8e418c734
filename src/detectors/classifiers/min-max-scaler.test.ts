import { describe, expect, it } from 'vitest';
import { MedrobustError } from '../../core/errors.ts';
import { featureMatrix } from './feature-matrix.ts';
import { fitMinMaxScaler, restoreMinMaxScaler } from './min-max-scaler.ts';

/*
 * Reference values from scikit-learn 1.2.1 (numpy 1.24.2), /usr/bin/python3:
 *
 *   import numpy as np
 *   from sklearn.preprocessing import MinMaxScaler
 *   rng = np.random.default_rng(11)
 *   X = np.round(rng.normal(size=(12, 4)) * [1.0, 100.0, 0.01, 1.0], 4)
 *   X[:, 3] = 2.5  # constant feature
 *   T = np.round(rng.normal(size=(4, 4)) * [2.0, 150.0, 0.02, 1.0], 4)
 *   s = MinMaxScaler().fit(X)
 *   print(s.scale_.tolist(), s.min_.tolist(), s.transform(X).tolist(), s.transform(T).tolist())
 */
const X = [
  [0.0342, 135.9748, 0.0122, 2.5],
  [-0.298, -52.7384, 0.0057, 2.5],
  [0.7469, -184.7325, 0.0157, 2.5],
  [0.6804, -13.6566, -0.0038, 2.5],
  [0.8245, -20.253, -0.0015, 2.5],
  [-0.8703, -151.4384, 0.0039, 2.5],
  [-1.9203, -81.4054, -0.0047, 2.5],
  [-1.4925, 3.6638, 0.009, 2.5],
  [-0.7436, 38.4994, 0.0072, 2.5],
  [0.5447, 104.2875, -0.0021, 2.5],
  [0.3477, 24.7546, 0.011, 2.5],
  [-0.6616, -83.8167, -0.0173, 2.5],
];
const T = [
  [1.0556, -110.8185, 0.0277, 0.8219],
  [1.2548, 60.2561, 0.0191, -1.332],
  [1.2279, 90.4165, -0.0354, 0.347],
  [-0.5008, 117.2284, -0.0088, -0.0182],
];
const scale = [0.36432526960069955, 0.0031181080068960077, 30.3030303030303, 1.0];
const offset = [0.6996138152142233, 0.5760158873839167, 0.5242424242424242, -2.5];
const transformedX = [
  [0.7120737394345672, 1.0, 0.8939393939393938, 0.0],
  [0.5910448848732148, 0.4115718600730323, 0.6969696969696969, 0.0],
  [0.9717283590789858, 0.0, 0.9999999999999999, 0.0],
  [0.9475007286505392, 0.5334331335769407, 0.40909090909090906, 0.0],
  [1.0, 0.5128648459202518, 0.4787878787878787, 0.0],
  [0.38254153308073446, 0.10381459979239638, 0.6424242424242423, 0.0],
  [0.0, 0.3221850578393445, 0.3818181818181817, 0.0],
  [0.15585835033517925, 0.5874400114995824, 0.7969696969696969, 0.0],
  [0.42870154473914307, 0.6960611747846089, 0.7424242424242423, 0.0],
  [0.8980617895657244, 0.9011955761530841, 0.4606060606060606, 0.0],
  [0.8262897114543866, 0.6532034038514246, 0.8575757575757574, 0.0],
  [0.4585762168464005, 0.3146663640023161, 0.0, 0.0],
];
const transformedT = [
  [1.0841955698047219, 0.2304718352217115, 1.3636363636363635, -1.6781000000000001],
  [1.156769163509181, 0.7639009152582432, 1.103030303030303, -3.832],
  [1.1469688137569223, 0.8579442999894296, -0.5484848484848486, -2.153],
  [0.5171597201981929, 0.9415467000595247, 0.2575757575757575, -2.5182],
];

function caught(action: () => unknown): MedrobustError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(MedrobustError);
    return error as MedrobustError;
  }
  throw new Error('expected a MedrobustError');
}

function expectClose(actual: ArrayLike<number>, expected: readonly number[], tolerance: number): void {
  expect(actual.length).toBe(expected.length);
  expected.forEach((value, index) => {
    expect(Math.abs((actual[index] ?? Number.NaN) - value)).toBeLessThanOrEqual(tolerance);
  });
}

describe('fitMinMaxScaler', () => {
  const scaler = fitMinMaxScaler(featureMatrix(X));

  it('learns sklearn scale_ and min_', () => {
    expectClose(scaler.scale, scale, 1e-12);
    expectClose(scaler.offset, offset, 1e-12);
    expect(Array.from(scaler.dataMin)).toEqual([-1.9203, -184.7325, -0.0173, 2.5]);
    expect(Array.from(scaler.dataMax)).toEqual([0.8245, 135.9748, 0.0157, 2.5]);
  });

  it('transforms training and new rows as sklearn (constant feature → 0, no clipping)', () => {
    expectClose(scaler.transform(featureMatrix(X)).values, transformedX.flat(), 1e-12);
    expectClose(scaler.transform(featureMatrix(T)).values, transformedT.flat(), 1e-12);
  });

  it('round-trips through JSON', () => {
    const restored = restoreMinMaxScaler(JSON.parse(JSON.stringify(scaler.toJSON())));
    expect(Array.from(restored.transform(featureMatrix(T)).values)).toEqual(
      Array.from(scaler.transform(featureMatrix(T)).values),
    );
  });

  it('rejects bad input and bad state', () => {
    expect(() => fitMinMaxScaler(featureMatrix([[1, Number.NaN]]))).toThrow(/NaN/);
    expect(() => scaler.transform(featureMatrix([[1, 2, 3]]))).toThrow(/fitted on 4 features but got 3/);
    const restore = (state: unknown) => () => restoreMinMaxScaler(state);
    expect(restore({ kind: 'min-max-scaler', dataMin: [0, 1], dataMax: [1] })).toThrow(
      /dataMin has 2 features but dataMax has 1/,
    );
    expect(restore({ kind: 'min-max-scaler', dataMin: [2], dataMax: [1] })).toThrow(
      /feature 0 has dataMin > dataMax/,
    );
    expect(restore({ kind: 'min-max-scaler', dataMin: ['0'], dataMax: [1] })).toThrow(/dataMin\.0/);
    expect(restore({ kind: 'svm', dataMin: [0], dataMax: [1] })).toThrow(/kind/);
    expect(restore(null)).toThrow(MedrobustError);
    const error = caught(restore({ kind: 'min-max-scaler', dataMin: [0] }));
    expect(error.code).toBe('invalid-model');
    expect(error.message).toMatch(/invalid min-max scaler state[\s\S]*dataMax/);
  });
});
