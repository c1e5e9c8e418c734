/**
 * Support vector machine with the RBF kernel K(a, b) = exp(−γ ‖a − b‖²), C-SVC, binary.
 *
 * Semantics: scikit-learn's `SVC(kernel='rbf', gamma=γ, C=C)` (sklearn 1.2; defaults tol=1e-3,
 * shrinking=True), the detector classifier of Ma et al. (Pattern Recognition 2021), whose code uses
 * γ = 2.8 and C = 1 (the defaults here). The score is sklearn's `decision_function`:
 *   score(x) = Σₖ dₖ K(svₖ, x) + b,   dₖ = αₖ·(+1 for class 1, −1 for class 0)
 * so it is positive for class 1 (adversarial) — sklearn's `classes_[1]` — and `dualCoefficients`
 * and `intercept` are sklearn's `dual_coef_[0]` and `intercept_[0]`.
 *
 * Training runs libsvm itself, as sklearn does: the npm package libsvm-js 0.2.1 (mljs; libsvm
 * compiled by emscripten; its asm.js build, which loads synchronously, so `fitSvm` is synchronous; the
 * wasm build is ~2.5× faster but can only be instantiated asynchronously). Three details
 * make its result match sklearn's to ~1e-9 rather than merely "close":
 *  - sklearn's libsvm groups the training rows by class in sorted label order (class 0 first); plain
 *    libsvm groups them by first appearance. The rows are handed to libsvm class 0 first (each class
 *    in its original order), so both run the same SMO iterations (WSS2 working-set selection,
 *    shrinking, tolerance 1e-3) on the same permutation and pick the same support vectors, in
 *    sklearn's `support_` order.
 *  - libsvm-js exposes no decision values; the dual coefficients are read from libsvm's model text
 *    (`%.16g`, exact to ~1e-16) and the support vectors are taken from the float64 training rows (the
 *    text rounds them to 8 digits).
 *  - the model text rounds ρ to 6 digits (`%g`), so the intercept b = ρ is recomputed here exactly
 *    as libsvm's `Solver::calculate_rho` does: the mean of yᵢ∇ᵢ over free support vectors
 *    (0 < αᵢ < C), or the midpoint of the KKT bounds when there are none.
 * After fitting, scoring is plain TypeScript kernel evaluation over the stored support vectors; a
 * restored model never calls libsvm-js (still imported by this module; it is plain JavaScript, no
 * native code or .wasm file).
 *
 * Measured (Node 20, asm.js build, 2 CPU cores shared with other jobs), 2000 rows × 128 features,
 * γ = 2.8: fit ≈ 3.5–5 s, of which libsvm's SMO is ≈ 3 s (every row is a support vector at this γ on
 * 128 features); scoring 2000 rows ≈ 2 s.
 *
 * Input contract: a finite feature matrix, one 0/1 label per row, both classes; γ > 0, C > 0.
 */
import Libsvm from 'libsvm-js/asm.js';
import { z } from 'zod';
import { MedrobustError } from '../../core/errors.ts';
import { inconsistentState, parseClassifierState } from './classifier-state.ts';
import {
  checkScoringInput,
  checkTrainingSet,
  type FeatureMatrix,
  featureMatrix,
  row,
  selectRows,
} from './feature-matrix.ts';

export interface SvmOptions {
  /** RBF kernel width γ; default 2.8 (Ma et al.). */
  readonly gamma?: number;
  /** Soft-margin cost C; default 1. */
  readonly c?: number;
  /** libsvm stopping tolerance (sklearn `tol`); default 1e-3. */
  readonly tolerance?: number;
  /** libsvm kernel cache in MB (sklearn `cache_size`); default 200. Affects speed only. */
  readonly cacheSizeMegabytes?: number;
}

export interface SvmState {
  readonly kind: 'svm';
  readonly gamma: number;
  readonly c: number;
  /** One row per support vector. */
  readonly supportVectors: number[][];
  /** sklearn `dual_coef_[0]`: αₖ·(±1), positive for class-1 support vectors. */
  readonly dualCoefficients: number[];
  /** sklearn `intercept_[0]`. */
  readonly intercept: number;
}

export interface Svm {
  readonly gamma: number;
  readonly c: number;
  readonly supportVectors: FeatureMatrix;
  readonly dualCoefficients: Float64Array;
  readonly intercept: number;
  /** Σₖ dₖ K(svₖ, x) + b for each row: > 0 predicts adversarial. */
  score(x: FeatureMatrix): Float64Array;
  toJSON(): SvmState;
}

export interface FittedSvm extends Svm {
  /** Indices of the support vectors in the training rows, class 0 first (sklearn `support_`). */
  readonly supportIndices: Int32Array;
}

function checkPositive(name: string, value: number, hint: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new MedrobustError('invalid-argument', `${name} must be a positive finite number, got ${value}`, {
      hint,
    });
  }
}

/** ‖a − b‖² between row `aRow` of `a` and row `bRow` of `b` (same number of columns). */
function squaredDistance(a: FeatureMatrix, aRow: number, b: FeatureMatrix, bRow: number): number {
  const { columns } = a;
  const aValues = a.values;
  const bValues = b.values;
  const aOffset = aRow * columns;
  const bOffset = bRow * columns;
  let sum = 0;
  for (let column = 0; column < columns; column++) {
    const difference = (aValues[aOffset + column] ?? 0) - (bValues[bOffset + column] ?? 0);
    sum += difference * difference;
  }
  return sum;
}

/**
 * The intercept b = ρ as libsvm's `Solver::calculate_rho` computes it at the optimum, in libsvm's own
 * sign convention (yᵢ = +1 for class 0, coefficients yⱼαⱼ, yᵢ∇ᵢ = Σⱼ yⱼαⱼ K(xⱼ, xᵢ) − yᵢ).
 */
function libsvmRho(
  x: FeatureMatrix,
  labels: Uint8Array,
  supportIndices: Int32Array,
  libsvmCoefficients: Float64Array,
  gamma: number,
  c: number,
): number {
  const alpha = new Float64Array(x.rows);
  supportIndices.forEach((index, k) => {
    alpha[index] = Math.abs(libsvmCoefficients[k] ?? 0);
  });
  const yGradient = (index: number): number => {
    let sum = 0;
    supportIndices.forEach((supportIndex, k) => {
      sum += (libsvmCoefficients[k] ?? 0) * Math.exp(-gamma * squaredDistance(x, supportIndex, x, index));
    });
    return sum - (labels[index] === 0 ? 1 : -1);
  };
  let free = 0;
  let freeSum = 0;
  for (const index of supportIndices) {
    const value = alpha[index] ?? 0;
    if (value > 0 && value < c) {
      free++;
      freeSum += yGradient(index);
    }
  }
  if (free > 0) return freeSum / free;
  let upper = Number.POSITIVE_INFINITY;
  let lower = Number.NEGATIVE_INFINITY;
  for (let index = 0; index < x.rows; index++) {
    const y = labels[index] === 0 ? 1 : -1;
    const value = yGradient(index);
    const atUpperBound = (alpha[index] ?? 0) >= c;
    // At the upper bound, y = −1 bounds ρ from above; at the lower bound (α = 0), y = +1 does.
    if (atUpperBound ? y === -1 : y === 1) upper = Math.min(upper, value);
    else lower = Math.max(lower, value);
  }
  return (upper + lower) / 2;
}

/** Reads the support-vector coefficients (first field of each line after "SV") from libsvm's model text. */
function parseCoefficients(model: string, expected: number): Float64Array {
  const lines = model.split('\n');
  const labelLine = lines.find((line) => line.startsWith('label '));
  if (labelLine?.trim() !== 'label 0 1') {
    throw new MedrobustError('internal', `libsvm-js returned an unexpected label order (${labelLine})`);
  }
  const start = lines.indexOf('SV') + 1;
  if (start === 0 || lines.length < start + expected) {
    throw new MedrobustError('internal', 'libsvm-js returned a model without its support vectors');
  }
  const coefficients = new Float64Array(expected);
  for (let k = 0; k < expected; k++) {
    const value = Number((lines[start + k] ?? '').split(' ')[0]);
    if (!Number.isFinite(value)) {
      throw new MedrobustError(
        'internal',
        `libsvm-js returned an unreadable coefficient on line ${start + k}`,
      );
    }
    coefficients[k] = value;
  }
  return coefficients;
}

function makeSvm(
  supportVectors: FeatureMatrix,
  dualCoefficients: Float64Array,
  intercept: number,
  gamma: number,
  c: number,
): Svm {
  const { columns } = supportVectors;
  return {
    gamma,
    c,
    supportVectors,
    dualCoefficients,
    intercept,
    score(x: FeatureMatrix): Float64Array {
      checkScoringInput(x, columns, 'SVM');
      const out = new Float64Array(x.rows);
      for (let rowIndex = 0; rowIndex < x.rows; rowIndex++) {
        let sum = 0;
        for (let k = 0; k < supportVectors.rows; k++) {
          sum +=
            (dualCoefficients[k] ?? 0) * Math.exp(-gamma * squaredDistance(supportVectors, k, x, rowIndex));
        }
        out[rowIndex] = sum + intercept;
      }
      return out;
    },
    toJSON(): SvmState {
      const vectors: number[][] = [];
      for (let k = 0; k < supportVectors.rows; k++) vectors.push(Array.from(row(supportVectors, k)));
      return {
        kind: 'svm',
        gamma,
        c,
        supportVectors: vectors,
        dualCoefficients: Array.from(dualCoefficients),
        intercept,
      };
    },
  };
}

/** Trains the RBF SVM with libsvm (sklearn `SVC(kernel='rbf', gamma, C).fit(x, y)`). */
export function fitSvm(x: FeatureMatrix, labels: Uint8Array, options: SvmOptions = {}): FittedSvm {
  const { gamma = 2.8, c = 1, tolerance = 1e-3, cacheSizeMegabytes = 200 } = options;
  checkTrainingSet(x, labels);
  checkPositive('gamma', gamma, 'pass gamma > 0 (the RBF kernel width; Ma et al. use 2.8)');
  checkPositive('C', c, 'pass c > 0 (the soft-margin cost; sklearn default 1)');
  checkPositive('the tolerance', tolerance, 'pass tolerance > 0 (sklearn default 1e-3)');
  checkPositive('the cache size', cacheSizeMegabytes, 'pass cacheSizeMegabytes > 0 (sklearn default 200)');
  // Class 0 first, then class 1, each in the original order: sklearn's libsvm grouping.
  const order: number[] = [];
  for (const wanted of [0, 1]) {
    labels.forEach((label, index) => {
      if (label === wanted) order.push(index);
    });
  }
  const samples = order.map((index) => row(x, index));
  const model = new Libsvm({
    type: Libsvm.SVM_TYPES.C_SVC,
    kernel: Libsvm.KERNEL_TYPES.RBF,
    gamma,
    cost: c,
    tolerance,
    cacheSize: cacheSizeMegabytes,
    shrinking: true,
    quiet: true,
  });
  let supportIndices: Int32Array;
  let libsvmCoefficients: Float64Array;
  try {
    model.train(
      samples,
      order.map((index) => labels[index] ?? 0),
    );
    supportIndices = Int32Array.from(model.getSVIndices(), (position) => order[position] ?? -1);
    libsvmCoefficients = parseCoefficients(model.serializeModel(), supportIndices.length);
  } finally {
    model.free();
  }
  const rho = libsvmRho(x, labels, supportIndices, libsvmCoefficients, gamma, c);
  // sklearn flips libsvm's signs for binary SVC so that positive means classes_[1].
  const dualCoefficients = libsvmCoefficients.map((coefficient) => -coefficient);
  const svm = makeSvm(selectRows(x, supportIndices), dualCoefficients, rho, gamma, c);
  return { ...svm, supportIndices };
}

const stateSchema = z
  .object({
    kind: z.literal('svm'),
    gamma: z.number().positive(),
    c: z.number().positive(),
    supportVectors: z.array(z.array(z.number()).min(1)).min(1),
    dualCoefficients: z.array(z.number()).min(1),
    intercept: z.number(),
  })
  .strict();

/** Rebuilds an SVM from `toJSON()` output, after validating it; scoring needs no libsvm-js. */
export function restoreSvm(state: unknown): Svm {
  const parsed = parseClassifierState(stateSchema, state, 'SVM');
  if (parsed.supportVectors.length !== parsed.dualCoefficients.length) {
    inconsistentState(
      'SVM',
      `${parsed.supportVectors.length} support vectors but ${parsed.dualCoefficients.length} dual coefficients`,
    );
  }
  const columns = parsed.supportVectors[0]?.length ?? 0;
  parsed.supportVectors.forEach((vector, k) => {
    if (vector.length !== columns) {
      inconsistentState(
        'SVM',
        `support vector ${k} has ${vector.length} features but support vector 0 has ${columns}`,
      );
    }
  });
  return makeSvm(
    featureMatrix(parsed.supportVectors),
    Float64Array.from(parsed.dualCoefficients),
    parsed.intercept,
    parsed.gamma,
    parsed.c,
  );
}
