/**
 * Detectors against adaptive attackers (adaptive.ts), on the first grouped split of source images:
 * each detector is fitted on the training images' clean and oblivious-adversarial characteristics
 * (as in the grouped protocol), the attacker knows it and attacks the *test* images with the paper's
 * PGD plus −λ × its score (or a surrogate's), and the detector's metrics on those images are
 * reported next to the oblivious ones, with the attack's success among the inputs the detector lets
 * through. The feature-matching attacker (no detector in its objective) is evaluated against every
 * detector the same way.
 */
import * as tf from '@tensorflow/tfjs-core';
import { classify } from '../../attacks/attack.ts';
import { Random } from '../../core/random.ts';
import type { ImageSet } from '../../data/image-set.ts';
import { imageBatch, selectImages } from '../../data/transforms.ts';
import { type ClassGaussian, fitClassGaussian } from '../../detectors/class-gaussian.ts';
import { selectRows } from '../../detectors/classifiers/feature-matrix.ts';
import {
  type Characteristic,
  type Detector,
  type DetectorHead,
  fitDetectorHead,
  headScoreTensor,
  poolTwins,
  scoreDetectorHead,
} from '../../detectors/detector.ts';
import {
  defaultFeatureTap,
  extractFeatures,
  type FeatureSet,
  selectFeatureRows,
  stageTaps,
  tapMatrix,
} from '../../detectors/features.ts';
import type { Classifier } from '../../engine/contracts.ts';
import {
  adaptivePgd,
  featureMatchingTerm,
  likelyWrongClasses,
  type ScoreTerm,
  surrogateTerm,
  typicalFeatureDistances,
} from './adaptive.ts';
import { type DetectionMetrics, detectionMetrics } from './detection-metrics.ts';
import {
  groupedSplits,
  oversample,
  type ProtocolSettings,
  type TwinCharacteristics,
  twinRows,
} from './protocols.ts';

export interface AdaptiveOutcome {
  readonly detector: string;
  readonly attack: string;
  readonly adversary: 'adaptive' | 'feature-matching';
  /** How the attacker differentiated the detector: its own score, or a surrogate. */
  readonly gradient: 'exact' | 'surrogate' | 'none';
  readonly weight: number;
  readonly oblivious: DetectionMetrics;
  readonly adaptive: DetectionMetrics;
  /** Share of test images the adaptive attack makes the model misclassify. */
  readonly attackSuccess: number;
  /** Of the adaptive images the detector does not flag, the share that fool the model. */
  readonly successAmongUndetected: number;
  /** Share of test images that are both misclassified and not flagged. */
  readonly evasion: number;
  readonly scores: Float64Array;
  readonly labels: Uint8Array;
}

export interface PreparedDetector {
  readonly detector: Detector<unknown>;
  readonly options: unknown;
  readonly taps: readonly string[];
  readonly characteristic: Characteristic;
}

export interface AttackData {
  readonly attack: string;
  readonly adversarialFeatures: FeatureSet;
  readonly twins: ReadonlyMap<string, TwinCharacteristics>;
}

export interface AdaptiveEvaluationInput {
  readonly model: Classifier;
  readonly correct: ImageSet;
  readonly cleanFeatures: FeatureSet;
  readonly referenceFeatures: FeatureSet;
  readonly referenceLabels: Int32Array;
  readonly prepared: readonly PreparedDetector[];
  readonly attacks: readonly AttackData[];
  readonly epsilon: number;
  readonly weight: number;
  readonly featureMatching: boolean;
  readonly batchSize: number;
  readonly protocolSettings: ProtocolSettings;
  readonly onProgress?: (message: string) => void;
}

function attackInBatches(
  set: ImageSet,
  batchSize: number,
  attack: (x: tf.Tensor4D, labels: Int32Array, start: number) => tf.Tensor4D,
): Float32Array {
  const [count, height, width, channels] = set.shape;
  const pixels = height * width * channels;
  const out = new Float32Array(count * pixels);
  for (let start = 0; start < count; start += batchSize) {
    const end = Math.min(count, start + batchSize);
    const x = imageBatch(set, start, end);
    const adversarial = attack(x, set.labels.subarray(start, end), start);
    out.set(adversarial.dataSync(), start * pixels);
    tf.dispose([x, adversarial]);
  }
  return out;
}

export function evaluateAdaptive(input: AdaptiveEvaluationInput): AdaptiveOutcome[] {
  const { model, correct, prepared, batchSize, protocolSettings } = input;
  const split = groupedSplits(correct.labels, protocolSettings)[0];
  if (split === undefined) return [];
  const random = new Random(protocolSettings.seed + 1);
  const trainSources = oversample(split.train, correct.labels, random);
  const testSet = selectImages(correct, split.test);
  const [count, height, width, channels] = testSet.shape;
  const testImages = tf.tensor4d(testSet.images, [count, height, width, channels]);
  const detectorTaps = [...new Set(prepared.flatMap((entry) => entry.taps))];
  const cleanTestFeatures = selectFeatureRows(input.cleanFeatures, split.test);
  const outcomes: AdaptiveOutcome[] = [];
  const featureTap = defaultFeatureTap(model.info);
  try {
    const evaluate = (
      entry: PreparedDetector,
      data: TwinCharacteristics,
      adversarialImages: Float32Array,
      meta: Pick<AdaptiveOutcome, 'attack' | 'adversary' | 'gradient' | 'weight'>,
      head: DetectorHead,
    ): AdaptiveOutcome => {
      const adversarial = tf.tensor4d(adversarialImages, [count, height, width, channels]);
      try {
        const adversarialFeatures = extractFeatures(model, adversarial, detectorTaps, batchSize);
        const twins = entry.characteristic.twins(
          { model, features: cleanTestFeatures, images: testImages },
          { model, features: adversarialFeatures, images: adversarial },
        );
        const pooled = poolTwins(twins.clean, twins.adversarial);
        const scores = scoreDetectorHead(head, pooled.x);
        const predictions = classify(model, adversarial).predictions;
        const fooled = Array.from(predictions, (prediction, index) =>
          prediction !== testSet.labels[index] ? 1 : 0,
        );
        const flagged = Array.from({ length: count }, (_, index) =>
          (scores[count + index] ?? 0) >= head.threshold ? 1 : 0,
        );
        const undetected = flagged.filter((flag) => flag === 0).length;
        const fooledUndetected = fooled.filter((value, index) => value === 1 && flagged[index] === 0).length;
        const obliviousTest = twinRows(data, split.test);
        return {
          detector: entry.detector.name,
          ...meta,
          oblivious: detectionMetrics(
            scoreDetectorHead(head, obliviousTest.x),
            obliviousTest.y,
            head.threshold,
          ),
          adaptive: detectionMetrics(scores, pooled.y, head.threshold),
          attackSuccess: fooled.reduce<number>((sum, value) => sum + value, 0) / Math.max(1, count),
          successAmongUndetected: undetected === 0 ? Number.NaN : fooledUndetected / undetected,
          evasion: fooledUndetected / Math.max(1, count),
          scores,
          labels: pooled.y,
        };
      } finally {
        adversarial.dispose();
      }
    };
    const fitHead = (entry: PreparedDetector, data: TwinCharacteristics): DetectorHead => {
      const training = twinRows(data, trainSources);
      return fitDetectorHead(entry.detector, entry.options, training.x, training.y, protocolSettings.seed);
    };
    // The feature-matching attacker's class Gaussians and hinge zeros depend on the reference only.
    const matchingTaps = stageTaps(model.info);
    const gaussians: ClassGaussian[] = input.featureMatching
      ? matchingTaps.map((tap) =>
          fitClassGaussian(
            tapMatrix(input.referenceFeatures, tap),
            input.referenceLabels,
            model.info.classNames.length,
          ),
        )
      : [];
    const typical = input.featureMatching
      ? typicalFeatureDistances(
          gaussians,
          matchingTaps.map((tap) => tapMatrix(input.referenceFeatures, tap)),
          input.referenceLabels,
          model.info.classNames.length,
        )
      : new Float64Array(0);

    for (const attack of input.attacks) {
      const heads = new Map(
        prepared.map((entry) => [
          entry.detector.name,
          fitHead(entry, attack.twins.get(entry.detector.name) as TwinCharacteristics),
        ]),
      );
      for (const entry of prepared) {
        const data = attack.twins.get(entry.detector.name) as TwinCharacteristics;
        const head = heads.get(entry.detector.name) as DetectorHead;
        const exactScore = headScoreTensor(entry.characteristic, head);
        const exact = exactScore !== undefined;
        let term: ScoreTerm;
        if (exactScore !== undefined) {
          term = { taps: entry.taps, score: exactScore };
        } else {
          const clean = selectRows(tapMatrix(input.cleanFeatures, featureTap), trainSources);
          const adversarial = selectRows(tapMatrix(attack.adversarialFeatures, featureTap), trainSources);
          const pooled = poolTwins(clean, adversarial);
          term = surrogateTerm(featureTap, pooled.x, pooled.y);
        }
        input.onProgress?.(
          `adaptive PGD against ${entry.detector.name} (${exact ? 'exact' : 'surrogate'} gradient), trained on ${attack.attack}`,
        );
        const images = attackInBatches(testSet, batchSize, (x, labels, start) =>
          adaptivePgd(model, x, labels, term, {
            epsilon: input.epsilon,
            weight: input.weight,
            // The surrogate is a logistic regression: it passes an input below 0 (probability ½).
            threshold: exact ? head.threshold : 0,
            seed: protocolSettings.seed + start,
          }),
        );
        term.dispose?.();
        outcomes.push(
          evaluate(
            entry,
            data,
            images,
            {
              attack: attack.attack,
              adversary: 'adaptive',
              gradient: exact ? 'exact' : 'surrogate',
              weight: input.weight,
            },
            head,
          ),
        );
      }
      if (input.featureMatching) {
        input.onProgress?.(`feature-matching PGD (${matchingTaps.join(', ')}) for ${attack.attack}`);
        const images = attackInBatches(testSet, batchSize, (x, labels, start) => {
          const term = featureMatchingTerm(matchingTaps, gaussians, likelyWrongClasses(model, x), typical);
          try {
            return adaptivePgd(model, x, labels, term, {
              epsilon: input.epsilon,
              weight: input.weight,
              threshold: 0,
              seed: protocolSettings.seed + start,
            });
          } finally {
            term.dispose?.();
          }
        });
        for (const entry of prepared) {
          const data = attack.twins.get(entry.detector.name) as TwinCharacteristics;
          outcomes.push(
            evaluate(
              entry,
              data,
              images,
              {
                attack: attack.attack,
                adversary: 'feature-matching',
                gradient: 'none',
                weight: input.weight,
              },
              heads.get(entry.detector.name) as DetectorHead,
            ),
          );
        }
      }
    }
    return outcomes;
  } finally {
    testImages.dispose();
  }
}
