/**
 * The detector contract and its one wrapper (DESIGN.md §2, §5 rules 2 and 4). A detector, as in
 * Ma et al. 2021 §5, is a characteristic of the model's deep features (KD's density, LID, the raw or
 * binarised feature, Mahalanobis scores) followed by a binary classifier that separates clean (0)
 * from adversarial (1) characteristics. A definition says how to fit the characteristic on clean
 * reference images (the model's training images), how the paper computes it for clean samples and
 * their adversarial twins, how to compute it for new inputs, and, where the detector is
 * differentiable, the same as a tfjs expression of the model's outputs (for adaptive attacks).
 *
 * `fitDetector` runs the whole thing and returns a `FittedDetector`: scores (higher = more likely
 * adversarial), a threshold calibrated on its training data, and a state that serialises.
 *
 * Input contract: NHWC float32 images within the model's bounds; clean and adversarial images are
 * index-aligned twins; reference labels are true classes.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { z } from 'zod';
import type { Citation } from '../core/citation.ts';
import { MedrobustError } from '../core/errors.ts';
import { parseOptions } from '../core/options.ts';
import type { Classifier, ModelInfo, Outputs } from '../engine/contracts.ts';
import {
  type BinaryClassifierState,
  type ClassifierSettings,
  type FittedBinaryClassifier,
  fitBinaryClassifier,
  restoreBinaryClassifier,
  scaleTensor,
} from './binary-classifier.ts';
import type { FeatureMatrix } from './classifiers/feature-matrix.ts';
import {
  fitMinMaxScaler,
  type MinMaxScaler,
  type MinMaxScalerState,
  restoreMinMaxScaler,
} from './classifiers/min-max-scaler.ts';
import { checkTaps, extractFeatures, type FeatureSet } from './features.ts';

/** What a characteristic is computed from: features of some images, and the images themselves. */
export interface CharacteristicInput {
  readonly model: Classifier;
  readonly features: FeatureSet;
  readonly images: tf.Tensor4D;
}

/** A JSON-able state; typed arrays are allowed (the directory writer stores them as arrays). */
export type DetectorStateValue =
  | number
  | string
  | boolean
  | null
  | Float64Array
  | Float32Array
  | Int32Array
  | readonly DetectorStateValue[]
  | { readonly [key: string]: DetectorStateValue };

export interface Characteristic {
  /** Characteristics of clean samples and their index-aligned adversarial twins, as the paper computes them. */
  twins(
    clean: CharacteristicInput,
    adversarial: CharacteristicInput,
  ): { readonly clean: FeatureMatrix; readonly adversarial: FeatureMatrix };
  /** Characteristics of new inputs. */
  compute(input: CharacteristicInput): FeatureMatrix;
  /** The same from one forward pass's outputs (with the detector's taps), differentiable; absent when not. */
  tensor?(outputs: Outputs): tf.Tensor2D;
  toJSON(): DetectorStateValue;
}

export interface ReferenceSet {
  /** The model the detector guards (BU reads its dropout head). */
  readonly model: Classifier;
  readonly features: FeatureSet;
  /** True classes of the reference images. */
  readonly labels: Int32Array;
  readonly classes: number;
}

export interface DetectorDefinition<Schema extends z.ZodType> {
  readonly name: string;
  readonly description: string;
  readonly paper: Citation;
  readonly options: Schema;
  /** The classifier over the characteristic (the paper's choice per detector). */
  readonly classifier: (options: z.output<Schema>) => ClassifierSettings;
  /** Min-max scale the characteristic before the classifier (the authors do for KD and LID). */
  readonly scale: boolean;
  /** The taps the characteristic reads. */
  readonly taps: (info: ModelInfo, options: z.output<Schema>) => string[];
  /** Fits the characteristic on clean reference data; `taps` are the ones `taps` chose. */
  readonly prepare: (
    reference: ReferenceSet,
    options: z.output<Schema>,
    taps: readonly string[],
  ) => Characteristic;
  readonly restore: (
    state: DetectorStateValue,
    options: z.output<Schema>,
    taps: readonly string[],
  ) => Characteristic;
}

export interface Detector<Options = unknown> {
  readonly name: string;
  readonly description: string;
  readonly paper: Citation;
  readonly options: z.ZodType<Options>;
  classifier(options: Options): ClassifierSettings;
  readonly scale: boolean;
  parse(options: unknown): Options;
  taps(info: ModelInfo, options: Options): string[];
  prepare(reference: ReferenceSet, options: Options, taps: readonly string[]): Characteristic;
  restore(state: DetectorStateValue, options: Options, taps: readonly string[]): Characteristic;
}

export function defineDetector<Schema extends z.ZodType>(
  definition: DetectorDefinition<Schema>,
): Detector<z.output<Schema>> {
  type Options = z.output<Schema>;
  return Object.freeze({
    name: definition.name,
    description: definition.description,
    paper: definition.paper,
    options: definition.options as z.ZodType<Options>,
    classifier: definition.classifier,
    scale: definition.scale,
    parse: (input: unknown): Options =>
      parseOptions(
        definition.options,
        input,
        definition.name,
        `\`medrobust detect --list\` shows ${definition.name}'s options and defaults`,
      ),
    taps: (info: ModelInfo, options: Options) => {
      const taps = definition.taps(info, options);
      checkTaps(info, taps, definition.name);
      return taps;
    },
    prepare: (reference: ReferenceSet, options: Options, taps: readonly string[]) => {
      if (reference.labels.length !== reference.features.predictions.length) {
        throw new MedrobustError(
          'invalid-argument',
          `${definition.name}: ${reference.labels.length} labels for ${reference.features.predictions.length} reference images`,
          { hint: 'give one true class per reference image' },
        );
      }
      return definition.prepare(reference, options, taps);
    },
    restore: definition.restore,
  });
}

/** Stacks clean (label 0) over adversarial (label 1) characteristics. */
export function poolTwins(
  clean: FeatureMatrix,
  adversarial: FeatureMatrix,
): { x: FeatureMatrix; y: Uint8Array } {
  const values = new Float64Array(clean.values.length + adversarial.values.length);
  values.set(clean.values);
  values.set(adversarial.values, clean.values.length);
  const y = new Uint8Array(clean.rows + adversarial.rows);
  y.fill(1, clean.rows);
  return { x: { rows: clean.rows + adversarial.rows, columns: clean.columns, values }, y };
}

/** Replaces non-finite characteristic values (an infinite LID) by the largest finite magnitude seen. */
export function finiteCharacteristics(matrix: FeatureMatrix): FeatureMatrix {
  let largest = 0;
  for (const value of matrix.values) if (Number.isFinite(value)) largest = Math.max(largest, Math.abs(value));
  const cap = largest === 0 ? 1 : 10 * largest;
  const values = Float64Array.from(matrix.values, (value) =>
    Number.isFinite(value) ? value : Number.isNaN(value) ? 0 : Math.sign(value) * cap,
  );
  return { rows: matrix.rows, columns: matrix.columns, values };
}

/** The classifier stage: optional min-max scaling, then the binary classifier, and its threshold. */
export interface DetectorHead {
  readonly scaler: MinMaxScaler | undefined;
  readonly classifier: FittedBinaryClassifier;
  /** Scores at or above it are called adversarial (the accuracy-maximising cut on the training rows). */
  readonly threshold: number;
}

export function fitDetectorHead(
  detector: Detector<unknown>,
  options: unknown,
  x: FeatureMatrix,
  y: Uint8Array,
  seed: number,
  scale = detector.scale,
): DetectorHead {
  const finite = finiteCharacteristics(x);
  const scaler = scale ? fitMinMaxScaler(finite) : undefined;
  const scaled = scaler === undefined ? finite : scaler.transform(finite);
  const classifier = fitBinaryClassifier(detector.classifier(options), scaled, y, seed);
  return { scaler, classifier, threshold: accuracyThreshold(classifier.score(scaled), y) };
}

export function scoreDetectorHead(head: DetectorHead, x: FeatureMatrix): Float64Array {
  const finite = finiteCharacteristics(x);
  return head.classifier.score(head.scaler === undefined ? finite : head.scaler.transform(finite));
}

/**
 * The detector's score as a differentiable function of a forward pass's outputs (characteristic,
 * scaling, classifier in tfjs), or undefined when a part has no differentiable form.
 */
export function headScoreTensor(
  characteristic: Characteristic,
  head: DetectorHead,
): ((outputs: Outputs) => tf.Tensor1D) | undefined {
  const { tensor } = characteristic;
  const { scoreTensor } = head.classifier;
  if (tensor === undefined || scoreTensor === undefined) return undefined;
  return (outputs) =>
    tf.tidy(() => {
      const values = tensor(outputs);
      return scoreTensor(head.scaler === undefined ? values : scaleTensor(head.scaler, values));
    });
}

/** The threshold that maximises accuracy on labelled scores (predict adversarial when score ≥ threshold). */
export function accuracyThreshold(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const order = Array.from({ length: scores.length }, (_, index) => index).sort(
    (a, b) => (scores[a] ?? 0) - (scores[b] ?? 0),
  );
  let positives = 0;
  for (let i = 0; i < labels.length; i++) positives += labels[i] === 1 ? 1 : 0;
  // Threshold below everything: every positive right, every negative wrong.
  let correct = positives;
  let best = correct;
  let threshold = (scores[order[0] ?? 0] ?? 0) - 1e-9;
  for (let k = 0; k < order.length; k++) {
    const index = order[k] ?? 0;
    correct += labels[index] === 1 ? -1 : 1;
    const next = order[k + 1];
    if (next !== undefined && scores[next] === scores[index]) continue;
    if (correct > best) {
      best = correct;
      const current = scores[index] ?? 0;
      threshold = next === undefined ? current + 1e-9 : (current + (scores[next] ?? 0)) / 2;
    }
  }
  return threshold;
}

export interface DetectorState {
  readonly format: 'medrobust-detector';
  readonly version: 1;
  readonly detector: string;
  readonly options: DetectorStateValue;
  readonly model: {
    readonly name: string;
    readonly inputShape: readonly number[];
    readonly classNames: readonly string[];
  };
  readonly taps: readonly string[];
  readonly characteristic: DetectorStateValue;
  readonly scaler: MinMaxScalerState | null;
  readonly classifier: BinaryClassifierState;
  readonly threshold: number;
  /** What it was fitted on (attack, ε, counts): provenance for reports and the server. */
  readonly fittedOn: { readonly [key: string]: DetectorStateValue };
}

export interface FittedDetector {
  readonly name: string;
  readonly taps: readonly string[];
  /** Scores at or above it are called adversarial (chosen for accuracy on the training data). */
  readonly threshold: number;
  /** Higher = more likely adversarial. */
  score(x: tf.Tensor4D): Promise<Float32Array>;
  /**
   * The same scores from features already extracted from `x` (at least this detector's `taps`), so
   * several detectors on one model share one forward pass (the inference server does).
   */
  scoreFeatures(features: FeatureSet, x: tf.Tensor4D): Promise<Float32Array>;
  /** The score as a differentiable function of a forward pass's outputs (taps = `taps`), when there is one. */
  scoreTensor?(outputs: Outputs): tf.Tensor1D;
  toJSON(): DetectorState;
}

function fittedDetector(
  model: Classifier,
  detector: Detector<unknown>,
  options: unknown,
  taps: readonly string[],
  characteristic: Characteristic,
  head: DetectorHead,
  fittedOn: DetectorState['fittedOn'],
): FittedDetector {
  const scoreTensor = headScoreTensor(characteristic, head);
  const scoreWith = (features: FeatureSet, x: tf.Tensor4D) =>
    Float32Array.from(scoreDetectorHead(head, characteristic.compute({ model, features, images: x })));
  return Object.freeze({
    name: detector.name,
    taps,
    threshold: head.threshold,
    score: async (x: tf.Tensor4D) => scoreWith(extractFeatures(model, x, taps), x),
    scoreFeatures: async (features: FeatureSet, x: tf.Tensor4D) => scoreWith(features, x),
    ...(scoreTensor === undefined ? {} : { scoreTensor }),
    toJSON: (): DetectorState => ({
      format: 'medrobust-detector',
      version: 1,
      detector: detector.name,
      options: options as DetectorStateValue,
      model: {
        name: model.info.name,
        inputShape: [...model.info.inputShape],
        classNames: [...model.info.classNames],
      },
      taps: [...taps],
      characteristic: characteristic.toJSON(),
      scaler: head.scaler?.toJSON() ?? null,
      classifier: head.classifier.toJSON(),
      threshold: head.threshold,
      fittedOn,
    }),
  });
}

export interface DetectorTrainingSet {
  /** Clean images of the model's training split, with true classes. */
  readonly reference: { readonly x: tf.Tensor4D; readonly labels: Int32Array };
  /** Clean images and their adversarial twins (same order). */
  readonly clean: tf.Tensor4D;
  readonly adversarial: tf.Tensor4D;
  /** Provenance stored with the detector (attack, ε…). */
  readonly fittedOn?: DetectorState['fittedOn'];
}

/**
 * Fits the classifier stage on characteristics already computed with `compute` (clean and adversarial twins) and
 * returns the fitted detector: what `fitDetector` does after its feature passes, shared with the
 * detection evaluation, which computes characteristics once for every protocol.
 */
export function assembleDetector(
  model: Classifier,
  detector: Detector<unknown>,
  options: unknown,
  taps: readonly string[],
  characteristic: Characteristic,
  twins: { readonly clean: FeatureMatrix; readonly adversarial: FeatureMatrix },
  fittedOn: DetectorState['fittedOn'],
  seed = 0,
): FittedDetector {
  const { x, y } = poolTwins(twins.clean, twins.adversarial);
  const head = fitDetectorHead(detector, options, x, y, seed);
  return fittedDetector(model, detector, options, taps, characteristic, head, fittedOn);
}

/** Fits a detector on all of the given data (for deployment; protocols evaluate it on held-out splits). */
export function fitDetector(
  model: Classifier,
  detector: Detector<unknown>,
  optionsInput: unknown,
  data: DetectorTrainingSet,
  seed = 0,
): FittedDetector {
  const options = detector.parse(optionsInput);
  if (data.clean.shape[0] !== data.adversarial.shape[0]) {
    throw new MedrobustError(
      'invalid-argument',
      `${detector.name}: ${data.clean.shape[0]} clean images but ${data.adversarial.shape[0]} adversarial ones`,
      { hint: 'give each clean image its adversarial twin, in the same order' },
    );
  }
  const taps = detector.taps(model.info, options);
  const reference: ReferenceSet = {
    model,
    features: extractFeatures(model, data.reference.x, taps),
    labels: data.reference.labels,
    classes: model.info.classNames.length,
  };
  const characteristic = detector.prepare(reference, options, taps);
  const input = (images: tf.Tensor4D): CharacteristicInput => ({
    model,
    features: extractFeatures(model, images, taps),
    images,
  });
  // Train on characteristics computed the way `score` will compute them for new inputs (for LID that
  // is against the stored reference batch, not the paper's per-minibatch neighbours).
  const twins = {
    clean: characteristic.compute(input(data.clean)),
    adversarial: characteristic.compute(input(data.adversarial)),
  };
  return assembleDetector(
    model,
    detector,
    options,
    taps,
    characteristic,
    twins,
    {
      clean: data.clean.shape[0],
      adversarial: data.adversarial.shape[0],
      reference: data.reference.x.shape[0],
      ...(data.fittedOn ?? {}),
    },
    seed,
  );
}

/** Rebuilds a fitted detector from its state, for `model` (which must match the one it was fitted on). */
export function restoreDetector(
  model: Classifier,
  detector: Detector<unknown>,
  state: DetectorState,
): FittedDetector {
  const info = model.info;
  if (
    state.model.classNames.join('\u0000') !== info.classNames.join('\u0000') ||
    state.model.inputShape.join('x') !== info.inputShape.join('x')
  ) {
    throw new MedrobustError(
      'invalid-model',
      `detector ${state.detector} was fitted on a model with input ${state.model.inputShape.join('×')} and classes ${state.model.classNames.join(', ')}; this model has ${info.inputShape.join('×')} and ${info.classNames.join(', ')}`,
      { hint: 'load the detector with the model it was fitted on' },
    );
  }
  const options = detector.parse(state.options);
  checkTaps(info, state.taps, detector.name);
  const characteristic = detector.restore(state.characteristic, options, state.taps);
  const head: DetectorHead = {
    scaler: state.scaler === null ? undefined : restoreMinMaxScaler(state.scaler),
    classifier: restoreBinaryClassifier(state.classifier),
    threshold: state.threshold,
  };
  return fittedDetector(model, detector, options, state.taps, characteristic, head, state.fittedOn);
}
