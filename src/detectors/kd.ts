/**
 * KD: kernel density of the deep feature under the predicted class (Feinman et al. 2017; Ma et al.
 * 2021 §5). Fitted on clean reference (training) images: one Gaussian KDE per true class (bandwidth
 * 1.0 by default). The characteristic of an image is the log density, with its normalising constants,
 * of its feature under the KDE of the class the model predicts for it; adversarial images tend to sit
 * in low-density regions of the class they are pushed into. Classifier: logistic regression on the
 * min-max-scaled characteristic. Differentiable (adaptive attacks use the same expression in tfjs).
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { MedrobustError } from '../core/errors.ts';
import { detectorCitations } from './citations.ts';
import { type FeatureMatrix, selectRows } from './classifiers/feature-matrix.ts';
import { type Characteristic, type DetectorStateValue, defineDetector } from './detector.ts';
import { defaultFeatureTap, pooledTaps, tapMatrix } from './features.ts';
import { gaussianLogDensity, gaussianLogDensityTensor } from './kernel-density.ts';

const options = z.object({
  tap: z.string().optional().describe("the feature tap (default: the paper's 128-d 'feature', else 'pool')"),
  bandwidth: z.number().positive().default(1).describe('Gaussian kernel bandwidth (the paper: 1.0)'),
});
type Options = z.output<typeof options>;

const stateSchema = z.object({
  dimensions: z.number().int().positive(),
  points: z.array(z.instanceof(Float64Array)),
});

function characteristic(points: readonly FeatureMatrix[], tap: string, bandwidth: number): Characteristic {
  const compute = (features: FeatureMatrix, predictions: Int32Array): FeatureMatrix => {
    const perClass = points.map((classPoints) => gaussianLogDensity(classPoints, features, bandwidth));
    return {
      rows: features.rows,
      columns: 1,
      values: Float64Array.from(predictions, (predicted, index) => perClass[predicted]?.[index] ?? 0),
    };
  };
  const dimensions = points[0]?.columns ?? 0;
  // float32 copies for the differentiable form, made once (it runs at every adaptive-attack step).
  const pointValues = points.map((classPoints) => Float32Array.from(classPoints.values));
  return {
    twins: (clean, adversarial) => ({
      clean: compute(tapMatrix(clean.features, tap), clean.features.predictions),
      adversarial: compute(tapMatrix(adversarial.features, tap), adversarial.features.predictions),
    }),
    compute: ({ features }) => compute(tapMatrix(features, tap), features.predictions),
    tensor: (outputs) =>
      tf.tidy(() => {
        const feature = pooledTaps(outputs, [tap]).get(tap) as tf.Tensor2D;
        const densities = tf.stack(
          points.map((classPoints, c) =>
            gaussianLogDensityTensor(
              tf.tensor2d(pointValues[c] as Float32Array, [classPoints.rows, dimensions]),
              feature,
              bandwidth,
            ),
          ),
          1,
        );
        const predicted = tf.oneHot(tf.argMax(outputs.logits, 1), points.length);
        return tf.sum(tf.mul(densities, predicted), 1, true) as tf.Tensor2D;
      }),
    toJSON: () => ({ dimensions, points: points.map((matrix) => matrix.values) }),
  };
}

function classPoints(features: FeatureMatrix, labels: Int32Array, classes: number): FeatureMatrix[] {
  return Array.from({ length: classes }, (_, c) => {
    const rows: number[] = [];
    labels.forEach((label, index) => {
      if (label === c) rows.push(index);
    });
    if (rows.length === 0) {
      throw new MedrobustError('invalid-argument', `kd: no reference image of class ${c}`, {
        hint: 'the reference set (training images) must contain every class',
      });
    }
    return selectRows(features, rows);
  });
}

export const kd = defineDetector({
  name: 'kd',
  description: 'kernel density of the deep feature under the predicted class (Feinman et al. 2017)',
  paper: detectorCitations.kernelDensity,
  options,
  classifier: () => ({ kind: 'logistic-regression' }),
  scale: true,
  taps: (info, parsed: Options) => [parsed.tap ?? defaultFeatureTap(info)],
  prepare: (reference, parsed: Options, [tap = '']) =>
    characteristic(
      classPoints(tapMatrix(reference.features, tap), reference.labels, reference.classes),
      tap,
      parsed.bandwidth,
    ),
  restore: (state: DetectorStateValue, parsed: Options, [tap = '']) => {
    const { dimensions, points } = stateSchema.parse(state);
    return characteristic(
      points.map((values) => ({ rows: values.length / dimensions, columns: dimensions, values })),
      tap,
      parsed.bandwidth,
    );
  },
});
