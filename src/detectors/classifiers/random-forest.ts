/**
 * Random forest of CART trees for binary detection (default 30 trees, as scikit-learn's
 * `RandomForestClassifier(n_estimators=30)` in Ma et al., Pattern Recognition 2021), built with the
 * npm package ml-random-forest 2.1.0 (mljs; trees from ml-cart 2.1.1: Gini gain, split thresholds at
 * midpoints between neighbouring values whose labels differ, leaves at ≤ 3 rows or Gini gain ≤ 0.01).
 *
 * The score of a row is the fraction of trees that vote 1 (adversarial), in [0, 1] — sklearn's
 * `predict_proba[:, 1]` for fully grown trees, whose leaves are pure. (The package's own
 * `predictProbability` is not used: its reduce has no initial value, so it miscounts the first tree.)
 *
 * It does not reproduce sklearn's forest: sklearn draws `max_features` candidate features afresh at
 * every split; ml-random-forest draws one feature subset per tree (random subspaces) and each tree
 * then uses only those. Here `maxFeatures: 'all'` (the default) gives every tree all features
 * (distinct, no replacement), so the trees differ by their bootstrap sample only (bagging, sklearn's
 * `bootstrap=True`); `'sqrt'` gives each tree ⌊√columns⌋ distinct features (much faster, weaker trees).
 * Deterministic under `seed` (the package's Mersenne Twister from random-js).
 *
 * Speed: ml-cart's split search costs O(rows²) per feature per node (it re-partitions the labels for
 * every candidate threshold), so fitting is slow on large or wide inputs. Measured (Node 20, 2 CPU
 * cores shared with other jobs), 2000 rows × 128 features: 50–58 s per tree with `'all'` (≈ 25–30 min
 * for 30 trees); 1.7–2.8 s per tree with `'sqrt'` (≈ 50–85 s for 30 trees). Scoring is fast (2000 rows,
 * 30 trees: ≈ 0.15 s). 80 rows × 4 features: ≈ 0.1 s for 30 trees.
 *
 * Serialisation uses the package's toJSON/load; tree nodes are stored without the per-node copies of
 * the tree options the package writes (they are restored from each tree's options).
 *
 * Input contract: a finite feature matrix, one 0/1 label per row, both classes present.
 */
import { RandomForestClassifier } from 'ml-random-forest';
import { z } from 'zod';
import { MedrobustError } from '../../core/errors.ts';
import { inconsistentState, parseClassifierState } from './classifier-state.ts';
import { checkScoringInput, checkTrainingSet, type FeatureMatrix, toRowArrays } from './feature-matrix.ts';

export interface RandomForestOptions {
  /** Number of trees; default 30. */
  readonly trees?: number;
  /**
   * Features each tree sees: 'all' (default), 'sqrt' (⌊√columns⌋), an integer count ≥ 1, or a
   * fraction in (0, 1) of the columns (at least one).
   */
  readonly maxFeatures?: 'all' | 'sqrt' | number;
  /** Seed of the bootstrap and feature draws (a 32-bit integer); default 42. */
  readonly seed?: number;
  /** Maximum tree depth; default unlimited. */
  readonly maxDepth?: number;
}

/** A tree node as stored: a leaf with its class distribution, or a split. */
export type RandomForestNodeState =
  | { readonly distribution: number[][] }
  | {
      readonly splitColumn: number;
      readonly splitValue: number;
      readonly left: RandomForestNodeState;
      readonly right: RandomForestNodeState;
    };

export interface RandomForestState {
  readonly kind: 'random-forest';
  /** Number of features the forest was fitted on. */
  readonly columns: number;
  /** ml-random-forest's `toJSON()` model (name 'RFClassifier'), with compact tree nodes. */
  readonly model: {
    readonly name: 'RFClassifier';
    readonly baseModel: {
      readonly indexes: number[][];
      readonly n: number;
      readonly nEstimators: number;
      readonly estimators: {
        readonly name: 'DTClassifier';
        readonly options: Record<string, unknown>;
        readonly root: RandomForestNodeState;
      }[];
      readonly [key: string]: unknown;
    };
  };
}

export interface RandomForest {
  readonly trees: number;
  readonly columns: number;
  /** Fraction of trees voting adversarial, per row. */
  score(x: FeatureMatrix): Float64Array;
  toJSON(): RandomForestState;
}

function invalidOption(message: string, hint: string): never {
  throw new MedrobustError('invalid-argument', message, { hint });
}

/** The number of features per tree, in [1, columns]. */
function featuresPerTree(maxFeatures: RandomForestOptions['maxFeatures'], columns: number): number {
  if (maxFeatures === 'all') return columns;
  if (maxFeatures === 'sqrt') return Math.max(1, Math.floor(Math.sqrt(columns)));
  const hint = "use 'all', 'sqrt', an integer count of features or a fraction in (0, 1)";
  if (typeof maxFeatures !== 'number' || !Number.isFinite(maxFeatures) || maxFeatures <= 0) {
    return invalidOption(
      `maxFeatures must be 'all', 'sqrt' or a positive number, got ${String(maxFeatures)}`,
      hint,
    );
  }
  if (Number.isInteger(maxFeatures)) {
    if (maxFeatures > columns) {
      return invalidOption(`maxFeatures is ${maxFeatures} but there are only ${columns} features`, hint);
    }
    return maxFeatures;
  }
  if (maxFeatures >= 1)
    return invalidOption(`maxFeatures ${maxFeatures} is neither an integer nor a fraction`, hint);
  return Math.max(1, Math.floor(maxFeatures * columns));
}

/**
 * The package reads maxFeatures in (0, 1] as a fraction (so 1 means all) and larger integers as a
 * count: encode a count for it.
 */
function packageMaxFeatures(count: number, columns: number): number {
  if (count === columns) return 1;
  if (count === 1) return 1.5 / columns; // ⌊columns · 1.5/columns⌋ = 1
  return count;
}

function compactNode(node: unknown): RandomForestNodeState {
  const source = node as {
    distribution?: unknown;
    splitColumn?: number;
    splitValue?: number;
    left?: unknown;
    right?: unknown;
  };
  if (source.distribution !== undefined) {
    return { distribution: JSON.parse(JSON.stringify(source.distribution)) as number[][] };
  }
  return {
    splitColumn: source.splitColumn ?? -1,
    splitValue: source.splitValue ?? Number.NaN,
    left: compactNode(source.left),
    right: compactNode(source.right),
  };
}

function makeForest(forest: RandomForestClassifier, columns: number, state: RandomForestState): RandomForest {
  const trees = state.model.baseModel.nEstimators;
  return {
    trees,
    columns,
    score(x: FeatureMatrix): Float64Array {
      checkScoringInput(x, columns, 'random forest');
      const votes = forest.predictionValues(toRowArrays(x));
      const out = new Float64Array(x.rows);
      for (let rowIndex = 0; rowIndex < x.rows; rowIndex++) {
        let positive = 0;
        for (let tree = 0; tree < trees; tree++) if (votes.get(rowIndex, tree) === 1) positive++;
        out[rowIndex] = positive / trees;
      }
      return out;
    },
    toJSON(): RandomForestState {
      return JSON.parse(JSON.stringify(state)) as RandomForestState;
    },
  };
}

/** Fits the forest on rows `x` with labels `labels` (0 clean, 1 adversarial). */
export function fitRandomForest(
  x: FeatureMatrix,
  labels: Uint8Array,
  options: RandomForestOptions = {},
): RandomForest {
  const { trees = 30, maxFeatures = 'all', seed = 42, maxDepth } = options;
  checkTrainingSet(x, labels);
  if (!Number.isInteger(trees) || trees < 1) {
    invalidOption(
      `the number of trees must be a positive integer, got ${trees}`,
      'use trees: 30 (the default)',
    );
  }
  if (!Number.isInteger(seed) || seed < -(2 ** 31) || seed >= 2 ** 31) {
    invalidOption(`the seed must be a 32-bit integer, got ${seed}`, 'pass an integer seed such as 42');
  }
  if (maxDepth !== undefined && (!Number.isInteger(maxDepth) || maxDepth < 1)) {
    invalidOption(
      `maxDepth must be a positive integer, got ${maxDepth}`,
      'leave maxDepth unset for fully grown trees',
    );
  }
  const count = featuresPerTree(maxFeatures, x.columns);
  const forest = new RandomForestClassifier({
    nEstimators: trees,
    maxFeatures: packageMaxFeatures(count, x.columns),
    replacement: false,
    seed,
    useSampleBagging: true,
    noOOB: true,
    treeOptions: maxDepth === undefined ? {} : { maxDepth },
  });
  forest.train(toRowArrays(x), Array.from(labels));
  const model = forest.toJSON();
  const baseModel = model.baseModel as unknown as Record<string, unknown> & {
    estimators: { options: Record<string, unknown>; root: unknown }[];
  };
  const state: RandomForestState = {
    kind: 'random-forest',
    columns: x.columns,
    model: {
      name: 'RFClassifier',
      baseModel: JSON.parse(
        JSON.stringify({
          ...baseModel,
          estimators: baseModel.estimators.map((estimator) => ({
            name: 'DTClassifier',
            options: estimator.options,
            root: compactNode(estimator.root),
          })),
        }),
      ),
    },
  };
  return makeForest(forest, x.columns, state);
}

const nodeSchema: z.ZodType<RandomForestNodeState> = z.lazy(() =>
  z.union([
    z.object({ distribution: z.array(z.array(z.number()).min(1)).length(1) }).strict(),
    z
      .object({
        splitColumn: z.number().int().nonnegative(),
        splitValue: z.number(),
        left: nodeSchema,
        right: nodeSchema,
      })
      .strict(),
  ]),
);

const stateSchema = z
  .object({
    kind: z.literal('random-forest'),
    columns: z.number().int().positive(),
    model: z
      .object({
        name: z.literal('RFClassifier'),
        baseModel: z.looseObject({
          indexes: z.array(z.array(z.number().int().nonnegative()).min(1)).min(1),
          n: z.number().int().positive(),
          nEstimators: z.number().int().positive(),
          estimators: z
            .array(
              z
                .object({
                  name: z.literal('DTClassifier'),
                  options: z.looseObject({ kind: z.literal('classifier') }),
                  root: nodeSchema,
                })
                .strict(),
            )
            .min(1),
        }),
      })
      .strict(),
  })
  .strict();

function largestSplitColumn(node: RandomForestNodeState): number {
  if ('distribution' in node) return -1;
  return Math.max(node.splitColumn, largestSplitColumn(node.left), largestSplitColumn(node.right));
}

/** Rebuilds a forest from `toJSON()` output (via the package's `load`), after validating it. */
export function restoreRandomForest(state: unknown): RandomForest {
  const parsed = parseClassifierState(stateSchema, state, 'random forest') as RandomForestState;
  const { baseModel } = parsed.model;
  if (
    baseModel.estimators.length !== baseModel.nEstimators ||
    baseModel.indexes.length !== baseModel.nEstimators
  ) {
    inconsistentState(
      'random forest',
      `nEstimators is ${baseModel.nEstimators} but there are ${baseModel.estimators.length} trees and ${baseModel.indexes.length} feature lists`,
    );
  }
  baseModel.indexes.forEach((features, tree) => {
    if (features.length !== baseModel.n || features.some((feature) => feature >= parsed.columns)) {
      inconsistentState('random forest', `tree ${tree} uses features outside the ${parsed.columns} columns`);
    }
    if (largestSplitColumn(baseModel.estimators[tree]?.root ?? { distribution: [[1]] }) >= features.length) {
      inconsistentState('random forest', `tree ${tree} splits on a feature it was not given`);
    }
  });
  const forest = RandomForestClassifier.load(
    JSON.parse(JSON.stringify(parsed.model)) as Parameters<typeof RandomForestClassifier.load>[0],
  );
  return makeForest(forest, parsed.columns, parsed);
}
