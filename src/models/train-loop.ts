/**
 * The engine-independent training loop over an in-memory image set: seeded shuffling each epoch,
 * batching, optional inverse-frequency class weights (as the paper weights its multi-class runs),
 * and a progress callback per epoch. The step itself is the engine's `Network.trainStep`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MedrobustError } from '../core/errors.ts';
import { Random } from '../core/random.ts';
import { type AugmentationSettings, augmentBatch } from '../data/augment.ts';
import type { Network, OptimiserSettings } from '../engine/contracts.ts';

export interface TrainingSet {
  /** NHWC float32 in [0, 1]. */
  readonly images: Float32Array;
  readonly shape: readonly [number, number, number, number];
  /** Class index per image, or (multi-label) `labelsPerImage` 0/1 targets per image. */
  readonly labels: Int32Array;
  readonly classes: number;
  /** 1 (default): one class index per image; more: multi-label 0/1 targets, trained with mean BCE. */
  readonly labelsPerImage?: number;
}

export interface EpochReport {
  readonly epoch: number;
  readonly meanLoss: number;
  readonly seconds: number;
}

export interface TrainLoopOptions {
  readonly epochs: number;
  readonly batchSize: number;
  readonly optimiser: OptimiserSettings;
  readonly seed: number;
  /** Weight each class by N / (K · count): balances a skewed set such as PneumoniaMNIST. */
  readonly balanceClasses?: boolean;
  readonly onEpoch?: (report: EpochReport) => void;
}

/** N / (K · count_k) per class; a class with no image gets weight 0. */
export function inverseFrequencyWeights(labels: Int32Array, classes: number): number[] {
  const counts = new Array<number>(classes).fill(0);
  for (const label of labels) counts[label] = (counts[label] ?? 0) + 1;
  return counts.map((count) => (count === 0 ? 0 : labels.length / (classes * count)));
}

/** The seed of one epoch's shuffle: each epoch is reproducible on its own, so a run can resume at any epoch. */
export function epochSeed(seed: number, epoch: number): number {
  return (Math.imul(seed | 0, 1_000_003) + epoch * 7919) | 0;
}

export interface EpochOptions {
  readonly batchSize: number;
  readonly optimiser: OptimiserSettings;
  readonly seed: number;
  /** 1-based epoch number: selects the shuffle. */
  readonly epoch: number;
  readonly classWeights?: readonly number[];
  /** Seeded augmentation of each batch (seed, epoch and batch index select the draws). */
  readonly augment?: AugmentationSettings;
  /**
   * Replaces each (augmented) batch before the step, e.g. by adversarial images of the current
   * model (adversarial training), or adds TRADES twins to it; returns new tensors. Batch index is
   * 0-based within the epoch.
   */
  readonly adversary?: (x: tf.Tensor4D, labels: Int32Array, batchIndex: number) => AdversarialInput;
}

/** What an adversary makes of a batch: the images to train on and, for TRADES, their twins. */
export interface AdversarialInput {
  readonly x: tf.Tensor4D;
  readonly trades?: { readonly adversarial: tf.Tensor4D; readonly beta: number };
}

/** One epoch: shuffle (seeded by seed and epoch), then one train step per batch. */
export function trainEpoch(network: Network, data: TrainingSet, options: EpochOptions): EpochReport {
  const [count, height, width, channels] = data.shape;
  const perImage = data.labelsPerImage ?? 1;
  if (count === 0 || data.labels.length !== count * perImage) {
    throw new MedrobustError(
      'invalid-data',
      `training set has ${count} images and ${data.labels.length} labels`,
      {
        hint: 'give one label per image, and at least one image',
      },
    );
  }
  const started = performance.now();
  const pixels = height * width * channels;
  const random = new Random(epochSeed(options.seed, options.epoch));
  const order = Int32Array.from({ length: count }, (_, index) => index);
  for (let i = count - 1; i > 0; i--) {
    const j = random.integer(i + 1);
    [order[i], order[j]] = [order[j] ?? 0, order[i] ?? 0];
  }
  let lossSum = 0;
  for (let start = 0; start < count; start += options.batchSize) {
    const size = Math.min(options.batchSize, count - start);
    const batch = new Float32Array(size * pixels);
    const labels = new Int32Array(size * perImage);
    for (let k = 0; k < size; k++) {
      const index = order[start + k] ?? 0;
      batch.set(data.images.subarray(index * pixels, (index + 1) * pixels), k * pixels);
      labels.set(data.labels.subarray(index * perImage, (index + 1) * perImage), k * perImage);
    }
    const raw = tf.tensor4d(batch, [size, height, width, channels]);
    const x =
      options.augment === undefined
        ? raw
        : augmentBatch(raw, options.augment, epochSeed(options.seed, options.epoch) ^ (start + 1));
    if (x !== raw) raw.dispose();
    let input: AdversarialInput = { x };
    if (options.adversary !== undefined) {
      if (perImage !== 1) {
        x.dispose();
        throw new MedrobustError('unsupported', 'adversarial training needs one class label per image', {
          hint: 'train multi-label models without --adversarial',
        });
      }
      try {
        input = options.adversary(x, labels, Math.floor(start / options.batchSize));
      } finally {
        x.dispose();
      }
    }
    const y =
      perImage === 1
        ? tf.tensor1d(labels, 'int32')
        : tf.tensor2d(Float32Array.from(labels), [size, perImage]);
    try {
      const { loss } = network.trainStep(
        {
          x: input.x,
          ...(input.trades === undefined ? {} : { trades: input.trades }),
          labels: y,
          ...(options.classWeights === undefined || perImage > 1
            ? {}
            : { classWeights: options.classWeights }),
        },
        options.optimiser,
      );
      lossSum += loss * size;
    } finally {
      tf.dispose([input.x, ...(input.trades === undefined ? [] : [input.trades.adversarial]), y]);
    }
  }
  return { epoch: options.epoch, meanLoss: lossSum / count, seconds: (performance.now() - started) / 1000 };
}

export function trainLoop(network: Network, data: TrainingSet, options: TrainLoopOptions): EpochReport[] {
  const classWeights =
    options.balanceClasses && (data.labelsPerImage ?? 1) === 1
      ? inverseFrequencyWeights(data.labels, data.classes)
      : undefined;
  const reports: EpochReport[] = [];
  for (let epoch = 1; epoch <= options.epochs; epoch++) {
    const report = trainEpoch(network, data, {
      batchSize: options.batchSize,
      optimiser: options.optimiser,
      seed: options.seed,
      epoch,
      ...(classWeights === undefined ? {} : { classWeights }),
    });
    reports.push(report);
    options.onEpoch?.(report);
  }
  return reports;
}
