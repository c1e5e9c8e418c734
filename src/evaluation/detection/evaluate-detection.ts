/**
 * The detection experiment of Ma et al. 2021 §5 (SPEC.md §5), end to end: keep the test images the
 * model classifies correctly, attack each one with every attack at one ε (successful or not), take
 * the deep features of the clean images, their adversarial twins and clean reference (training)
 * images once, compute every detector's characteristics once, and evaluate each (detector, attack)
 * under each protocol (protocols.ts); with several attacks, the cross-attack matrix (grouped splits:
 * train on one attack, test on another). It also fits each detector on all the data, for saving.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type AttackResult, classify } from '../../attacks/attack.ts';
import { getAttack } from '../../attacks/registry.ts';
import { MedrobustError } from '../../core/errors.ts';
import type { ImageSet } from '../../data/image-set.ts';
import { imageBatch, selectImages } from '../../data/transforms.ts';
import type { FeatureMatrix } from '../../detectors/classifiers/feature-matrix.ts';
import {
  assembleDetector,
  type Characteristic,
  type Detector,
  type FittedDetector,
} from '../../detectors/detector.ts';
import { extractFeatures, type FeatureSet, stageTaps } from '../../detectors/features.ts';
import { getDetector } from '../../detectors/registry.ts';
import type { Classifier } from '../../engine/contracts.ts';
import { rocCurve } from '../../models/metrics.ts';
import { type AdaptiveOutcome, evaluateAdaptive } from './adaptive-evaluation.ts';
import type { DetectionMetrics } from './detection-metrics.ts';

const zeroMetrics: DetectionMetrics = { auc: 0, truePositiveRateAt5: 0, accuracy: 0, samples: 0 };

import {
  defaultProtocolSettings,
  groupedProtocol,
  type ProtocolName,
  type ProtocolResult,
  type ProtocolSettings,
  runProtocol,
  type TwinCharacteristics,
} from './protocols.ts';

export interface NamedRequest {
  readonly name: string;
  readonly options?: Readonly<Record<string, unknown>>;
}

export interface DetectionSettings {
  readonly attacks: readonly NamedRequest[];
  readonly epsilon: number;
  readonly detectors: readonly NamedRequest[];
  readonly protocols: readonly ProtocolName[];
  readonly batchSize?: number;
  readonly seed?: number;
  readonly splits?: number;
  /** Adaptive attackers (grouped protocol, first split): weight λ of the detector term, and whether to add the feature-matching attacker. */
  readonly adaptive?: { readonly weight: number; readonly featureMatching: boolean };
  readonly onProgress?: (message: string) => void;
  /** Each attack's adversarial images as soon as they exist (for writing them). */
  readonly onAttack?: (output: AttackOutput) => void | Promise<void>;
  /** Adversarial images of an attack finished earlier (resume), or undefined to run it. */
  readonly previousAttack?: (
    attack: string,
  ) => Promise<
    { adversarial: Float32Array; predictions: Int32Array; success: Uint8Array; seconds: number } | undefined
  >;
}

export interface AttackOutput {
  readonly attack: string;
  readonly epsilon: number;
  /** [images × h × w × c] of the source images, in order. */
  readonly clean: Float32Array;
  readonly adversarial: Float32Array;
  readonly labels: Int32Array;
  readonly predictions: Int32Array;
  readonly success: Uint8Array;
  /** Index of each source image in the test set given. */
  readonly sources: Int32Array;
  readonly seconds: number;
}

export interface DetectionRow {
  readonly detector: string;
  readonly attack: string;
  readonly protocol: ProtocolName;
  readonly adversary: 'oblivious' | 'adaptive' | 'feature-matching';
  readonly mean: { readonly all: DetectionMetrics; readonly successful: DetectionMetrics };
  readonly standardDeviation: { readonly all: DetectionMetrics; readonly successful: DetectionMetrics };
  /** AUC of each split. */
  readonly splitAucs: readonly number[];
  /** The ROC curve of every split's test scores together. */
  readonly roc: {
    readonly falsePositiveRate: readonly number[];
    readonly truePositiveRate: readonly number[];
  };
}

export interface CrossAttackCell {
  readonly detector: string;
  readonly trainedOn: string;
  readonly testedOn: string;
  readonly auc: number;
}

export interface AttackSummary {
  readonly attack: string;
  readonly epsilon: number;
  readonly images: number;
  readonly successRate: number;
  readonly seconds: number;
}

export interface DetectionResults {
  readonly images: number;
  readonly cleanAccuracy: number;
  readonly sources: Int32Array;
  readonly attacks: readonly AttackSummary[];
  readonly rows: readonly DetectionRow[];
  readonly crossAttack: readonly CrossAttackCell[];
  /** Adaptive attackers against each (detector, attack), when asked for. */
  readonly adaptive: readonly Omit<AdaptiveOutcome, 'scores' | 'labels'>[];
  /** Each (detector, attack) fitted on all its data, for saving and serving. */
  readonly fitted: readonly {
    readonly detector: string;
    readonly attack: string;
    readonly fitted: FittedDetector;
  }[];
}

/** One (detector, attack)'s prepared pieces. */
interface Prepared {
  readonly detector: Detector<unknown>;
  readonly options: unknown;
  readonly taps: readonly string[];
  readonly characteristic: Characteristic;
}

export function rowFromProtocol(
  detector: string,
  attack: string,
  adversary: DetectionRow['adversary'],
  result: ProtocolResult,
): DetectionRow {
  const scores = result.splits.flatMap((split) => Array.from(split.scores));
  const labels = result.splits.flatMap((split) => Array.from(split.labels));
  const curve = rocCurve(scores, labels);
  return {
    detector,
    attack,
    protocol: result.protocol,
    adversary,
    mean: result.mean,
    standardDeviation: result.standardDeviation,
    splitAucs: result.splits.map((split) => split.all.auc),
    roc: {
      falsePositiveRate: Array.from(curve.falsePositiveRate),
      truePositiveRate: Array.from(curve.truePositiveRate),
    },
  };
}

/** Runs one attack over the source images in batches. */
export function attackImages(
  model: Classifier,
  set: ImageSet,
  request: NamedRequest,
  epsilon: number,
  batchSize: number,
  seed: number,
): { adversarial: Float32Array; predictions: Int32Array; success: Uint8Array; seconds: number } {
  const attack = getAttack(request.name);
  if (attack.kind !== 'fixed-epsilon') {
    throw new MedrobustError(
      'invalid-argument',
      `detection needs a fixed-ε attack; ${request.name} is a ${attack.kind} attack`,
      {
        hint: 'use paper-fgsm, paper-bim, paper-pgd, paper-cw, pgd, apgd-ce, apgd-dlr or square',
      },
    );
  }
  const count = set.shape[0];
  const [, height, width, channels] = set.shape;
  const pixels = height * width * channels;
  const adversarial = new Float32Array(count * pixels);
  const predictions = new Int32Array(count);
  const success = new Uint8Array(count);
  const started = performance.now();
  for (let start = 0, batch = 0; start < count; start += batchSize, batch++) {
    const end = Math.min(count, start + batchSize);
    const x = imageBatch(set, start, end);
    const result: AttackResult = attack.run(
      model,
      { x, labels: set.labels.subarray(start, end) },
      undefined,
      { ...(request.options ?? {}), epsilon },
      { seed: seed + batch },
    );
    adversarial.set(result.adversarial.dataSync(), start * pixels);
    predictions.set(result.predictions, start);
    success.set(result.success, start);
    tf.dispose([x, result.adversarial]);
  }
  return { adversarial, predictions, success, seconds: (performance.now() - started) / 1000 };
}

export async function evaluateDetection(
  model: Classifier,
  test: ImageSet,
  reference: ImageSet,
  settings: DetectionSettings,
): Promise<DetectionResults> {
  const batchSize = settings.batchSize ?? 100;
  const seed = settings.seed ?? 0;
  const protocolSettings: ProtocolSettings = {
    ...defaultProtocolSettings,
    seed,
    ...(settings.splits === undefined ? {} : { splits: settings.splits }),
  };
  if (test.labelsPerImage !== 1 || reference.labelsPerImage !== 1) {
    throw new MedrobustError('unsupported', 'detection needs single-label data', {
      hint: 'multi-label models have no single predicted class for KD, LID or Mahalanobis',
    });
  }
  const detectors = settings.detectors.map((request) => {
    const detector = getDetector(request.name);
    const options = detector.parse(request.options ?? {});
    return { detector, options, taps: detector.taps(model.info, options) };
  });
  for (const request of settings.attacks) getAttack(request.name);

  // 1. The correctly classified test images.
  const cleanPredictions = new Int32Array(test.shape[0]);
  for (let start = 0; start < test.shape[0]; start += batchSize) {
    const end = Math.min(test.shape[0], start + batchSize);
    const x = imageBatch(test, start, end);
    cleanPredictions.set(classify(model, x).predictions, start);
    x.dispose();
  }
  const sources = Int32Array.from(
    Array.from(cleanPredictions.keys()).filter((index) => cleanPredictions[index] === test.labels[index]),
  );
  const correct = selectImages(test, sources);
  // The feature-matching attacker reads the reference features of every stage too.
  const allTaps = [
    ...new Set([
      ...detectors.flatMap((entry) => entry.taps),
      ...(settings.adaptive?.featureMatching === true ? stageTaps(model.info) : []),
    ]),
  ];

  // 2. Features of the reference and clean images, and the characteristics' fitted parts.
  settings.onProgress?.(`features of ${reference.shape[0]} reference and ${correct.shape[0]} clean images`);
  const referenceImages = imageBatch(reference, 0, reference.shape[0]);
  const cleanImages = imageBatch(correct, 0, correct.shape[0]);
  try {
    const referenceFeatures = extractFeatures(model, referenceImages, allTaps, batchSize);
    const cleanFeatures = extractFeatures(model, cleanImages, allTaps, batchSize);
    const classes = model.info.classNames.length;
    const prepared: Prepared[] = detectors.map(({ detector, options, taps }) => ({
      detector,
      options,
      taps,
      characteristic: detector.prepare(
        { model, features: referenceFeatures, labels: reference.labels, classes },
        options,
        taps,
      ),
    }));

    // 3. Each attack, its features and every detector's characteristics.
    const attackSummaries: AttackSummary[] = [];
    const twinsByAttack = new Map<
      string,
      Map<string, TwinCharacteristics & { twins: { clean: FeatureMatrix; adversarial: FeatureMatrix } }>
    >();
    const featuresByAttack = new Map<string, FeatureSet>();
    const adversarialByAttack = new Map<string, Float32Array>();
    for (const request of settings.attacks) {
      const previous = await settings.previousAttack?.(request.name);
      if (previous !== undefined && previous.adversarial.length !== correct.images.length) {
        throw new MedrobustError(
          'invalid-data',
          `the saved ${request.name} images do not match this run's images`,
          {
            hint: 'choose another --out, or delete the folder to start again',
          },
        );
      }
      if (previous === undefined) {
        settings.onProgress?.(`${request.name} on ${correct.shape[0]} correctly classified images`);
      }
      const result = previous ?? attackImages(model, correct, request, settings.epsilon, batchSize, seed);
      if (previous === undefined)
        await settings.onAttack?.({
          attack: request.name,
          epsilon: settings.epsilon,
          clean: correct.images,
          adversarial: result.adversarial,
          labels: correct.labels,
          predictions: result.predictions,
          success: result.success,
          sources,
          seconds: result.seconds,
        });
      attackSummaries.push({
        attack: request.name,
        epsilon: settings.epsilon,
        images: correct.shape[0],
        successRate: result.success.reduce((sum, value) => sum + value, 0) / Math.max(1, correct.shape[0]),
        seconds: result.seconds,
      });
      const adversarialImages = tf.tensor4d(result.adversarial, [
        correct.shape[0],
        ...correct.shape.slice(1),
      ] as [number, number, number, number]);
      try {
        const adversarialFeatures = extractFeatures(model, adversarialImages, allTaps, batchSize);
        featuresByAttack.set(request.name, adversarialFeatures);
        adversarialByAttack.set(request.name, result.adversarial);
        const perDetector = new Map<
          string,
          TwinCharacteristics & { twins: { clean: FeatureMatrix; adversarial: FeatureMatrix } }
        >();
        for (const entry of prepared) {
          settings.onProgress?.(`${entry.detector.name} characteristics for ${request.name}`);
          const twins = entry.characteristic.twins(
            { model, features: cleanFeatures, images: cleanImages },
            { model, features: adversarialFeatures, images: adversarialImages },
          );
          perDetector.set(entry.detector.name, {
            clean: twins.clean,
            adversarial: twins.adversarial,
            labels: correct.labels,
            success: result.success,
            twins,
          });
        }
        twinsByAttack.set(request.name, perDetector);
      } finally {
        adversarialImages.dispose();
      }
    }

    // Characteristics as a deployed detector computes them (LID: against its stored reference batch).
    const deploymentTwins = (entry: Prepared, attack: string) => {
      const adversarialFeatures = featuresByAttack.get(attack) as FeatureSet;
      const adversarialImages = tf.tensor4d(
        adversarialByAttack.get(attack) as Float32Array,
        cleanImages.shape,
      );
      try {
        return {
          clean: entry.characteristic.compute({ model, features: cleanFeatures, images: cleanImages }),
          adversarial: entry.characteristic.compute({
            model,
            features: adversarialFeatures,
            images: adversarialImages,
          }),
        };
      } finally {
        adversarialImages.dispose();
      }
    };

    // 4. Protocols, cross-attack matrix and the detectors fitted on everything.
    const rows: DetectionRow[] = [];
    const crossAttack: CrossAttackCell[] = [];
    const fitted: DetectionResults['fitted'][number][] = [];
    for (const entry of prepared) {
      for (const request of settings.attacks) {
        const data = twinsByAttack.get(request.name)?.get(entry.detector.name);
        if (data === undefined) continue;
        for (const protocol of settings.protocols) {
          settings.onProgress?.(`${entry.detector.name} × ${request.name}: ${protocol} protocol`);
          const result = runProtocol(protocol, entry.detector, entry.options, data, protocolSettings);
          rows.push(rowFromProtocol(entry.detector.name, request.name, 'oblivious', result));
        }
        fitted.push({
          detector: entry.detector.name,
          attack: request.name,
          fitted: assembleDetector(
            model,
            entry.detector,
            entry.options,
            entry.taps,
            entry.characteristic,
            deploymentTwins(entry, request.name),
            {
              attack: request.name,
              epsilon: settings.epsilon,
              clean: data.clean.rows,
              adversarial: data.adversarial.rows,
              reference: reference.shape[0],
            },
            seed,
          ),
        });
      }
      if (settings.attacks.length > 1) {
        for (const trainedOn of settings.attacks) {
          for (const testedOn of settings.attacks) {
            const train = twinsByAttack.get(trainedOn.name)?.get(entry.detector.name);
            const testData = twinsByAttack.get(testedOn.name)?.get(entry.detector.name);
            if (train === undefined || testData === undefined) continue;
            const result = groupedProtocol(entry.detector, entry.options, train, protocolSettings, testData);
            crossAttack.push({
              detector: entry.detector.name,
              trainedOn: trainedOn.name,
              testedOn: testedOn.name,
              auc: result.mean.all.auc,
            });
          }
        }
      }
    }
    const adaptive: AdaptiveOutcome[] = [];
    if (settings.adaptive !== undefined) {
      adaptive.push(
        ...evaluateAdaptive({
          model,
          correct,
          cleanFeatures,
          referenceFeatures,
          referenceLabels: reference.labels,
          prepared,
          attacks: settings.attacks.map((request) => ({
            attack: request.name,
            adversarialFeatures: featuresByAttack.get(request.name) as FeatureSet,
            twins: twinsByAttack.get(request.name) as Map<string, TwinCharacteristics>,
          })),
          epsilon: settings.epsilon,
          weight: settings.adaptive.weight,
          featureMatching: settings.adaptive.featureMatching,
          batchSize,
          protocolSettings,
          ...(settings.onProgress === undefined ? {} : { onProgress: settings.onProgress }),
        }),
      );
      for (const outcome of adaptive) {
        const curve = rocCurve(outcome.scores, outcome.labels);
        rows.push({
          detector: outcome.detector,
          attack: outcome.attack,
          protocol: 'grouped',
          adversary: outcome.adversary,
          mean: { all: outcome.adaptive, successful: outcome.adaptive },
          standardDeviation: { all: zeroMetrics, successful: zeroMetrics },
          splitAucs: [outcome.adaptive.auc],
          roc: {
            falsePositiveRate: Array.from(curve.falsePositiveRate),
            truePositiveRate: Array.from(curve.truePositiveRate),
          },
        });
      }
    }
    return {
      images: test.shape[0],
      cleanAccuracy: sources.length / Math.max(1, test.shape[0]),
      sources,
      attacks: attackSummaries,
      rows,
      crossAttack,
      adaptive: adaptive.map(({ scores: _scores, labels: _labels, ...outcome }) => outcome),
      fitted,
    };
  } finally {
    tf.dispose([referenceImages, cleanImages]);
  }
}
