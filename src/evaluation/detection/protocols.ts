/**
 * Detection protocols (SPEC.md §5): how a detector's classifier is trained and tested on the
 * characteristics of clean images and their adversarial twins.
 *
 * - `paper`, the authors' code (Ma et al. 2021): oversample the minority class of source images (the
 *   disease class in the paper's datasets) to balance, pool clean (0) and adversarial (1) rows,
 *   min-max scale everything (KD, LID, Mahalanobis), then three random 80/20 splits of the pooled
 *   rows; mean AUC. It leaks: an oversampled copy, or the clean twin of an adversarial test row, can
 *   sit in the training split.
 * - `grouped`, the primary number: three random 80/20 splits of the *source images* (stratified by
 *   class) before anything else; oversampling and scaling are fitted on the training images only;
 *   the test split holds each test image's clean and adversarial rows once.
 *
 * Metrics per split (detection-metrics.ts): AUC, TPR at 5 % FPR and accuracy at a threshold chosen on
 * the training split, on all adversarial rows and on those whose attack succeeded; mean and standard
 * deviation over splits. The cross-attack matrix trains on one attack's training images and tests on
 * another attack's test images (grouped splits, shared across attacks).
 */
import { MedrobustError } from '../../core/errors.ts';
import { Random } from '../../core/random.ts';
import { type FeatureMatrix, selectRows } from '../../detectors/classifiers/feature-matrix.ts';
import { fitMinMaxScaler } from '../../detectors/classifiers/min-max-scaler.ts';
import {
  type Detector,
  finiteCharacteristics,
  fitDetectorHead,
  poolTwins,
  scoreDetectorHead,
} from '../../detectors/detector.ts';
import { type DetectionMetrics, detectionMetrics } from './detection-metrics.ts';

export const protocolNames = ['grouped', 'paper'] as const;
export type ProtocolName = (typeof protocolNames)[number];

/** The characteristics of one attack's clean/adversarial twins, row i from source image i. */
export interface TwinCharacteristics {
  readonly clean: FeatureMatrix;
  readonly adversarial: FeatureMatrix;
  /** True class of each source image. */
  readonly labels: Int32Array;
  /** 1 where the attack fooled the model on that image. */
  readonly success: Uint8Array;
}

export interface ProtocolSettings {
  readonly splits: number;
  readonly testFraction: number;
  readonly seed: number;
}

export const defaultProtocolSettings: ProtocolSettings = { splits: 3, testFraction: 0.2, seed: 0 };

export interface SplitResult {
  readonly all: DetectionMetrics;
  readonly successful: DetectionMetrics;
  /** Test scores and labels (0 clean, 1 adversarial), for ROC curves. */
  readonly scores: Float64Array;
  readonly labels: Uint8Array;
}

export interface ProtocolResult {
  readonly protocol: ProtocolName;
  readonly splits: readonly SplitResult[];
  readonly mean: { readonly all: DetectionMetrics; readonly successful: DetectionMetrics };
  readonly standardDeviation: { readonly all: DetectionMetrics; readonly successful: DetectionMetrics };
}

function checkTwins(data: TwinCharacteristics): void {
  const count = data.labels.length;
  if (data.clean.rows !== count || data.adversarial.rows !== count || data.success.length !== count) {
    throw new MedrobustError(
      'invalid-argument',
      `detection data: ${data.clean.rows} clean rows, ${data.adversarial.rows} adversarial rows, ${count} labels, ${data.success.length} success flags`,
      { hint: 'give one clean and one adversarial row per source image' },
    );
  }
  if (count < 10) {
    throw new MedrobustError('invalid-argument', `detection needs at least 10 source images, got ${count}`, {
      hint: 'attack more images (--images), keeping those the model classifies correctly',
    });
  }
}

/** Source images with the minority classes' images resampled (with replacement) up to the majority's count. */
export function oversample(indices: readonly number[], labels: Int32Array, random: Random): number[] {
  const byClass = new Map<number, number[]>();
  for (const index of indices) {
    const label = labels[index] ?? 0;
    byClass.set(label, [...(byClass.get(label) ?? []), index]);
  }
  const largest = Math.max(...[...byClass.values()].map((members) => members.length));
  const result = [...indices];
  for (const members of byClass.values()) {
    for (let extra = members.length; extra < largest; extra++)
      result.push(members[random.integer(members.length)] ?? 0);
  }
  return result;
}

/** A stratified split of 0…count−1 into training and test source images. */
export function stratifiedSplit(
  labels: Int32Array,
  testFraction: number,
  random: Random,
): { readonly train: number[]; readonly test: number[] } {
  const byClass = new Map<number, number[]>();
  labels.forEach((label, index) => {
    byClass.set(label, [...(byClass.get(label) ?? []), index]);
  });
  const train: number[] = [];
  const test: number[] = [];
  for (const members of [...byClass.entries()].sort(([a], [b]) => a - b).map(([, m]) => m)) {
    const order = random.permutation(members.length).map((position) => members[position] ?? 0);
    const testCount = Math.round(testFraction * members.length);
    test.push(...order.slice(0, testCount));
    train.push(...order.slice(testCount));
  }
  return { train, test };
}

function evaluateSplit(
  detector: Detector<unknown>,
  options: unknown,
  trainX: FeatureMatrix,
  trainY: Uint8Array,
  testX: FeatureMatrix,
  testY: Uint8Array,
  testSuccessful: Uint8Array,
  seed: number,
  scale: boolean,
): SplitResult {
  const head = fitDetectorHead(detector, options, trainX, trainY, seed, scale);
  const { threshold } = head;
  const scores = scoreDetectorHead(head, testX);
  const keep = Array.from(testY.keys()).filter((row) => testY[row] === 0 || testSuccessful[row] === 1);
  return {
    all: detectionMetrics(scores, testY, threshold),
    successful: detectionMetrics(
      Float64Array.from(keep, (row) => scores[row] ?? 0),
      Uint8Array.from(keep, (row) => testY[row] ?? 0),
      threshold,
    ),
    scores,
    labels: testY,
  };
}

/** Twin rows of the given source images: clean rows, then adversarial rows, with labels and success. */
export function twinRows(data: TwinCharacteristics, sources: readonly number[]) {
  const pooled = poolTwins(selectRows(data.clean, sources), selectRows(data.adversarial, sources));
  const successful = new Uint8Array(pooled.y.length);
  sources.forEach((source, i) => {
    successful[sources.length + i] = data.success[source] ?? 0;
  });
  return { ...pooled, successful };
}

function summarise(protocol: ProtocolName, splits: SplitResult[]): ProtocolResult {
  const keys = Object.keys(splits[0]?.all ?? {}) as (keyof DetectionMetrics)[];
  const statistic = (
    pick: (split: SplitResult) => DetectionMetrics,
    kind: 'mean' | 'sd',
  ): DetectionMetrics => {
    const entries = keys.map((key) => {
      const values = splits.map((split) => pick(split)[key]).filter((value) => Number.isFinite(value));
      const mean = values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length);
      if (kind === 'mean') return [key, values.length === 0 ? Number.NaN : mean];
      const variance =
        values.reduce((sum, value) => sum + (value - mean) ** 2, 0) / Math.max(1, values.length - 1);
      return [key, values.length < 2 ? 0 : Math.sqrt(variance)];
    });
    return Object.fromEntries(entries) as unknown as DetectionMetrics;
  };
  return {
    protocol,
    splits,
    mean: { all: statistic((s) => s.all, 'mean'), successful: statistic((s) => s.successful, 'mean') },
    standardDeviation: {
      all: statistic((s) => s.all, 'sd'),
      successful: statistic((s) => s.successful, 'sd'),
    },
  };
}

/** The authors' protocol: oversample, pool, scale everything, random 80/20 splits of pooled rows. */
export function paperProtocol(
  detector: Detector<unknown>,
  options: unknown,
  data: TwinCharacteristics,
  settings: ProtocolSettings = defaultProtocolSettings,
): ProtocolResult {
  checkTwins(data);
  const random = new Random(settings.seed);
  const sources = oversample(Array.from(data.labels.keys()), data.labels, random);
  const pooled = twinRows(data, sources);
  // The authors scale all pooled rows before splitting (part of the leak).
  const finite = finiteCharacteristics(pooled.x);
  const x = detector.scale ? fitMinMaxScaler(finite).transform(finite) : finite;
  const splits: SplitResult[] = [];
  for (let split = 0; split < settings.splits; split++) {
    const order = random.permutation(pooled.y.length);
    const testCount = Math.round(settings.testFraction * order.length);
    const test = order.slice(0, testCount);
    const train = order.slice(testCount);
    splits.push(
      evaluateSplit(
        detector,
        options,
        selectRows(x, train),
        Uint8Array.from(train, (row) => pooled.y[row] ?? 0),
        selectRows(x, test),
        Uint8Array.from(test, (row) => pooled.y[row] ?? 0),
        Uint8Array.from(test, (row) => pooled.successful[row] ?? 0),
        settings.seed + split,
        false,
      ),
    );
  }
  return summarise('paper', splits);
}

/** The grouped splits of source images a grouped evaluation uses (shared across attacks). */
export function groupedSplits(
  labels: Int32Array,
  settings: ProtocolSettings = defaultProtocolSettings,
): { readonly train: number[]; readonly test: number[] }[] {
  const random = new Random(settings.seed);
  return Array.from({ length: settings.splits }, () =>
    stratifiedSplit(labels, settings.testFraction, random),
  );
}

/** Grouped protocol: train on one attack's training images, test on `test`'s test images (the same attack by default). */
export function groupedProtocol(
  detector: Detector<unknown>,
  options: unknown,
  data: TwinCharacteristics,
  settings: ProtocolSettings = defaultProtocolSettings,
  testData: TwinCharacteristics = data,
): ProtocolResult {
  checkTwins(data);
  checkTwins(testData);
  if (testData.labels.length !== data.labels.length) {
    throw new MedrobustError(
      'invalid-argument',
      `cross-attack detection needs the same source images: ${data.labels.length} versus ${testData.labels.length}`,
      { hint: 'attack the same images with every attack' },
    );
  }
  const random = new Random(settings.seed + 1);
  const splits = groupedSplits(data.labels, settings).map(({ train, test }, split) => {
    const training = twinRows(data, oversample(train, data.labels, random));
    const testing = twinRows(testData, test);
    return evaluateSplit(
      detector,
      options,
      training.x,
      training.y,
      testing.x,
      testing.y,
      testing.successful,
      settings.seed + split,
      detector.scale,
    );
  });
  return summarise('grouped', splits);
}

export function runProtocol(
  protocol: ProtocolName,
  detector: Detector<unknown>,
  options: unknown,
  data: TwinCharacteristics,
  settings: ProtocolSettings = defaultProtocolSettings,
): ProtocolResult {
  return protocol === 'paper'
    ? paperProtocol(detector, options, data, settings)
    : groupedProtocol(detector, options, data, settings);
}
