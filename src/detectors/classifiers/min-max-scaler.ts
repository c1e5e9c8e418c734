/**
 * Min–max feature scaling to [0, 1], fitted on a training matrix and applied to any matrix with the
 * same columns.
 *
 * Matches scikit-learn's `MinMaxScaler()` (feature_range=(0, 1), clip=False; sklearn 1.2
 * `sklearn/preprocessing/_data.py`) operation for operation, so results agree bit for bit:
 *   range  = max_j − min_j   (over the training rows)
 *   scale  = 1 / range, except 1 where range < 10·ε (ε = 2^−52: a constant feature), as
 *            `_handle_zeros_in_scale` does
 *   offset = 0 − min_j · scale   (sklearn's `min_`)
 *   transform(x) = x · scale + offset
 * A constant training feature therefore maps its training value to 0. Values outside the training
 * range map outside [0, 1] (no clipping). Ma et al. (Pattern Recognition 2021) scale detector
 * features this way before the logistic-regression detector.
 *
 * Input contract: a finite, non-empty feature matrix (NaN is rejected, unlike sklearn, which ignores
 * it when fitting); `transform` needs the fitted number of columns.
 */
import { z } from 'zod';
import { inconsistentState, parseClassifierState } from './classifier-state.ts';
import { checkFeatureMatrix, checkScoringInput, type FeatureMatrix } from './feature-matrix.ts';

export interface MinMaxScalerState {
  readonly kind: 'min-max-scaler';
  /** Per-feature minimum over the training rows (sklearn `data_min_`). */
  readonly dataMin: number[];
  /** Per-feature maximum over the training rows (sklearn `data_max_`). */
  readonly dataMax: number[];
}

export interface MinMaxScaler {
  readonly columns: number;
  readonly dataMin: Float64Array;
  readonly dataMax: Float64Array;
  /** sklearn `scale_`. */
  readonly scale: Float64Array;
  /** sklearn `min_`: transform(x) = x · scale + offset. */
  readonly offset: Float64Array;
  transform(x: FeatureMatrix): FeatureMatrix;
  toJSON(): MinMaxScalerState;
}

const constantRange = 10 * Number.EPSILON;

/** Learns each feature's minimum and maximum from the rows of `x`. */
export function fitMinMaxScaler(x: FeatureMatrix): MinMaxScaler {
  checkFeatureMatrix(x);
  const { rows, columns, values } = x;
  const dataMin = new Float64Array(columns).fill(Number.POSITIVE_INFINITY);
  const dataMax = new Float64Array(columns).fill(Number.NEGATIVE_INFINITY);
  for (let rowIndex = 0; rowIndex < rows; rowIndex++) {
    for (let column = 0; column < columns; column++) {
      const value = values[rowIndex * columns + column] ?? 0;
      if (value < (dataMin[column] ?? 0)) dataMin[column] = value;
      if (value > (dataMax[column] ?? 0)) dataMax[column] = value;
    }
  }
  return makeScaler(dataMin, dataMax);
}

function makeScaler(dataMin: Float64Array, dataMax: Float64Array): MinMaxScaler {
  const columns = dataMin.length;
  const scale = new Float64Array(columns);
  const offset = new Float64Array(columns);
  for (let column = 0; column < columns; column++) {
    const minimum = dataMin[column] ?? 0;
    const range = (dataMax[column] ?? 0) - minimum;
    const columnScale = 1 / (range < constantRange ? 1 : range);
    scale[column] = columnScale;
    offset[column] = 0 - minimum * columnScale;
  }
  return {
    columns,
    dataMin,
    dataMax,
    scale,
    offset,
    transform(x: FeatureMatrix): FeatureMatrix {
      checkScoringInput(x, columns, 'min-max scaler');
      const out = new Float64Array(x.values.length);
      for (let index = 0; index < out.length; index++) {
        const column = index % columns;
        out[index] = (x.values[index] ?? 0) * (scale[column] ?? 1) + (offset[column] ?? 0);
      }
      return { rows: x.rows, columns, values: out };
    },
    toJSON(): MinMaxScalerState {
      return { kind: 'min-max-scaler', dataMin: Array.from(dataMin), dataMax: Array.from(dataMax) };
    },
  };
}

const stateSchema = z
  .object({
    kind: z.literal('min-max-scaler'),
    dataMin: z.array(z.number()).min(1),
    dataMax: z.array(z.number()).min(1),
  })
  .strict();

/** Rebuilds a fitted scaler from `toJSON()` output, after validating it. */
export function restoreMinMaxScaler(state: unknown): MinMaxScaler {
  const parsed = parseClassifierState(stateSchema, state, 'min-max scaler');
  if (parsed.dataMin.length !== parsed.dataMax.length) {
    inconsistentState(
      'min-max scaler',
      `dataMin has ${parsed.dataMin.length} features but dataMax has ${parsed.dataMax.length}`,
    );
  }
  parsed.dataMin.forEach((minimum, column) => {
    if (!(minimum <= (parsed.dataMax[column] ?? Number.NaN))) {
      inconsistentState('min-max scaler', `feature ${column} has dataMin > dataMax`);
    }
  });
  return makeScaler(Float64Array.from(parsed.dataMin), Float64Array.from(parsed.dataMax));
}
