/**
 * The feature matrix and binary labels shared by the detector classifiers in this folder.
 *
 * A `FeatureMatrix` is a dense row-major float64 matrix: row i is one example (one image's detector
 * features), column j one feature; `values[i * columns + j]` is feature j of example i. Labels are a
 * `Uint8Array` of 0 (clean) and 1 (adversarial), one per row.
 *
 * Input contract enforced here, so that every classifier can rely on it: at least one row and one
 * column, every row the same length, every value finite (NaN and ±Infinity are rejected: sklearn's
 * estimators reject them too, via `check_array(force_all_finite=True)`), labels only 0 or 1.
 */
import { MedrobustError } from '../../core/errors.ts';

export interface FeatureMatrix {
  readonly rows: number;
  readonly columns: number;
  /** Row-major, `rows * columns` values. */
  readonly values: Float64Array;
}

/** Builds a feature matrix from rows of numbers (arrays or typed arrays), copying them. */
export function featureMatrix(rows: readonly ArrayLike<number>[]): FeatureMatrix {
  const first = rows[0];
  if (first === undefined) {
    throw new MedrobustError('invalid-argument', 'the feature matrix has no rows', {
      hint: 'pass at least one row of features',
    });
  }
  const columns = first.length;
  const values = new Float64Array(rows.length * columns);
  rows.forEach((source, rowIndex) => {
    if (source.length !== columns) {
      throw new MedrobustError(
        'invalid-argument',
        `row ${rowIndex} of the feature matrix has ${source.length} features but row 0 has ${columns}`,
        { hint: 'give every row the same number of features' },
      );
    }
    for (let column = 0; column < columns; column++) {
      values[rowIndex * columns + column] = source[column] ?? Number.NaN;
    }
  });
  return checkFeatureMatrix(fromValues(rows.length, columns, values));
}

/** Wraps an existing row-major array (not copied) as a feature matrix, after checking it. */
export function featureMatrixFromValues(rows: number, columns: number, values: Float64Array): FeatureMatrix {
  return checkFeatureMatrix(fromValues(rows, columns, values));
}

function fromValues(rows: number, columns: number, values: Float64Array): FeatureMatrix {
  return { rows, columns, values };
}

/**
 * Checks the shape and values of a feature matrix and returns it: positive integer dimensions,
 * `values.length === rows * columns`, every value finite.
 */
export function checkFeatureMatrix(matrix: FeatureMatrix, name = 'feature matrix'): FeatureMatrix {
  const { rows, columns, values } = matrix;
  if (!Number.isInteger(rows) || rows < 1 || !Number.isInteger(columns) || columns < 1) {
    throw new MedrobustError(
      'invalid-argument',
      `the ${name} must have at least one row and one column, got ${rows} × ${columns}`,
      { hint: 'pass a non-empty matrix of features' },
    );
  }
  if (!(values instanceof Float64Array) || values.length !== rows * columns) {
    throw new MedrobustError(
      'invalid-argument',
      `the ${name} is ${rows} × ${columns} but holds ${values.length} values`,
      { hint: 'values must be a row-major Float64Array of length rows * columns' },
    );
  }
  for (let index = 0; index < values.length; index++) {
    const value = values[index] ?? Number.NaN;
    if (!Number.isFinite(value)) {
      const row = Math.floor(index / columns);
      throw new MedrobustError(
        'invalid-argument',
        `the ${name} holds ${value} (not a finite number) at row ${row}, column ${index - row * columns}`,
        { hint: 'remove or impute NaN / infinite features before fitting or scoring' },
      );
    }
  }
  return matrix;
}

/** Row i of the matrix, as a view on its values (not a copy). */
export function row(matrix: FeatureMatrix, index: number): Float64Array {
  if (!Number.isInteger(index) || index < 0 || index >= matrix.rows) {
    throw new MedrobustError('invalid-argument', `row ${index} is out of range for ${matrix.rows} rows`, {
      hint: `use a row index in [0, ${matrix.rows - 1}]`,
    });
  }
  return matrix.values.subarray(index * matrix.columns, (index + 1) * matrix.columns);
}

/** A new matrix made of the given rows, in the given order (indices may repeat). */
export function selectRows(matrix: FeatureMatrix, indices: ArrayLike<number>): FeatureMatrix {
  if (indices.length === 0) {
    throw new MedrobustError('invalid-argument', 'no rows were selected', {
      hint: 'select at least one row',
    });
  }
  const { columns } = matrix;
  const values = new Float64Array(indices.length * columns);
  for (let target = 0; target < indices.length; target++) {
    values.set(row(matrix, indices[target] ?? -1), target * columns);
  }
  return { rows: indices.length, columns, values };
}

/** The rows as plain number arrays (for libraries that want `number[][]`). */
export function toRowArrays(matrix: FeatureMatrix): number[][] {
  const out: number[][] = new Array(matrix.rows);
  for (let index = 0; index < matrix.rows; index++) out[index] = Array.from(row(matrix, index));
  return out;
}

/** Picks the given entries of a label vector. */
export function selectLabels(labels: Uint8Array, indices: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(indices.length);
  for (let target = 0; target < indices.length; target++) {
    const index = indices[target] ?? -1;
    const label = labels[index];
    if (label === undefined) {
      throw new MedrobustError('invalid-argument', `label ${index} is out of range for ${labels.length}`, {
        hint: `use a label index in [0, ${labels.length - 1}]`,
      });
    }
    out[target] = label;
  }
  return out;
}

/**
 * Checks a training set: a valid matrix, one 0/1 label per row, both classes present. Returns the
 * number of examples of each class.
 */
export function checkTrainingSet(
  features: FeatureMatrix,
  labels: Uint8Array,
): { readonly negatives: number; readonly positives: number } {
  checkFeatureMatrix(features);
  if (!(labels instanceof Uint8Array)) {
    throw new MedrobustError('invalid-argument', 'the labels must be a Uint8Array of 0 and 1', {
      hint: 'pass labels as Uint8Array.from([...]) with 0 = clean, 1 = adversarial',
    });
  }
  if (labels.length !== features.rows) {
    throw new MedrobustError(
      'invalid-argument',
      `there are ${labels.length} labels for ${features.rows} feature rows`,
      { hint: 'give exactly one label per row of the feature matrix' },
    );
  }
  let positives = 0;
  for (let index = 0; index < labels.length; index++) {
    const label = labels[index];
    if (label === 1) positives++;
    else if (label !== 0) {
      throw new MedrobustError('invalid-argument', `label ${index} is ${label}; labels must be 0 or 1`, {
        hint: 'use 0 for clean and 1 for adversarial examples',
      });
    }
  }
  const negatives = labels.length - positives;
  if (positives === 0 || negatives === 0) {
    throw new MedrobustError(
      'invalid-argument',
      `the labels hold a single class (${positives === 0 ? 'all 0' : 'all 1'}); a classifier needs both`,
      { hint: 'include both clean (0) and adversarial (1) examples in the training set' },
    );
  }
  return { negatives, positives };
}

/** Checks that a matrix to score is valid and has the number of features the classifier was fitted on. */
export function checkScoringInput(
  features: FeatureMatrix,
  expectedColumns: number,
  classifier: string,
): void {
  checkFeatureMatrix(features);
  if (features.columns !== expectedColumns) {
    throw new MedrobustError(
      'invalid-argument',
      `the ${classifier} was fitted on ${expectedColumns} features but got ${features.columns}`,
      { hint: 'score rows with the same features, in the same order, as the training set' },
    );
  }
}
