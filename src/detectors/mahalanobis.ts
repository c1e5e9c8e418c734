/**
 * Mahalanobis (Lee, Lee, Lee, Shin, NeurIPS 2018): class-conditional Gaussians with a tied covariance
 * fitted per layer on clean reference (training) features (class-gaussian.ts); the characteristic of
 * an image is, per layer, the confidence score max_c −(f − μ_c)ᵀΣ⁻¹(f − μ_c) of its pooled feature,
 * and a logistic regression over the layers separates clean from adversarial.
 *
 * Optional input pre-processing (Lee et al.'s eq. 4): before a layer's score, the image moves by
 * `noise` against the gradient sign of its distance to the closest class, x̂ = x − noise·sign(∇ₓ D²),
 * which raises clean images' scores more than adversarial ones'. 0 (the default) turns it off; Lee et
 * al. pick it from {0, 0.0005, 0.001, 0.0014, 0.002, 0.005, 0.01} on validation data.
 * Differentiable (without pre-processing): adaptive attacks use the same expression in tfjs.
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { detectorCitations } from './citations.ts';
import {
  type ClassGaussian,
  fitClassGaussian,
  mahalanobisConfidence,
  mahalanobisDistancesTensor,
} from './class-gaussian.ts';
import type { FeatureMatrix } from './classifiers/feature-matrix.ts';
import {
  type Characteristic,
  type CharacteristicInput,
  type DetectorStateValue,
  defineDetector,
} from './detector.ts';
import { extractFeatures, pooledTaps, stageTaps, tapMatrix } from './features.ts';

const options = z.object({
  taps: z
    .array(z.string())
    .min(1)
    .optional()
    .describe('layers to score (default: every stage output and the feature layer)'),
  noise: z
    .number()
    .min(0)
    .max(1)
    .default(0)
    .describe("input pre-processing step in the [0, 1] image range (0: off; Lee et al.'s grid tops at 0.01)"),
});
type Options = z.output<typeof options>;

const gaussianSchema = z.object({
  means: z.instanceof(Float64Array),
  precision: z.instanceof(Float64Array),
  classes: z.number().int().positive(),
  dimensions: z.number().int().positive(),
});
const stateSchema = z.object({ layers: z.array(gaussianSchema) });

/** −min_c D²_c per image for one layer, differentiable. */
function confidenceTensor(gaussian: ClassGaussian, feature: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.neg(tf.min(mahalanobisDistancesTensor(gaussian, feature), 1)) as tf.Tensor1D);
}

function preprocessed(
  input: CharacteristicInput,
  tap: string,
  gaussian: ClassGaussian,
  noise: number,
): FeatureMatrix {
  const { model, images } = input;
  const { lower, upper } = model.info.bounds;
  const moved = tf.tidy(() => {
    const { grad } = model.valueAndGrad(
      images,
      (outputs) => tf.neg(confidenceTensor(gaussian, pooledTaps(outputs, [tap]).get(tap) as tf.Tensor2D)),
      [tap],
    );
    return tf.clipByValue(tf.sub(images, tf.mul(tf.sign(grad), noise)), lower, upper) as tf.Tensor4D;
  });
  try {
    return tapMatrix(extractFeatures(model, moved, [tap]), tap);
  } finally {
    moved.dispose();
  }
}

function characteristic(
  gaussians: readonly ClassGaussian[],
  taps: readonly string[],
  noise: number,
): Characteristic {
  const compute = (input: CharacteristicInput): FeatureMatrix => {
    const rows = input.features.predictions.length;
    const values = new Float64Array(rows * taps.length);
    taps.forEach((tap, t) => {
      const gaussian = gaussians[t] as ClassGaussian;
      const features = noise > 0 ? preprocessed(input, tap, gaussian, noise) : tapMatrix(input.features, tap);
      const confidence = mahalanobisConfidence(gaussian, features);
      for (let i = 0; i < rows; i++) values[i * taps.length + t] = confidence[i] ?? 0;
    });
    return { rows, columns: taps.length, values };
  };
  return {
    twins: (clean, adversarial) => ({ clean: compute(clean), adversarial: compute(adversarial) }),
    compute,
    ...(noise > 0
      ? {}
      : {
          tensor: (outputs: Parameters<typeof pooledTaps>[0]) =>
            tf.tidy(() => {
              const pooled = pooledTaps(outputs, taps);
              return tf.stack(
                taps.map((tap, t) =>
                  confidenceTensor(gaussians[t] as ClassGaussian, pooled.get(tap) as tf.Tensor2D),
                ),
                1,
              ) as tf.Tensor2D;
            }),
        }),
    toJSON: () => ({ layers: gaussians.map((gaussian) => ({ ...gaussian })) }),
  };
}

export const mahalanobis = defineDetector({
  name: 'mahalanobis',
  description: 'Mahalanobis confidence per layer under tied-covariance class Gaussians (Lee et al. 2018)',
  paper: detectorCitations.mahalanobis,
  options,
  classifier: () => ({ kind: 'logistic-regression' }),
  scale: true,
  taps: (info, parsed: Options) => parsed.taps ?? stageTaps(info),
  prepare: (reference, parsed: Options, taps) =>
    characteristic(
      taps.map((tap) =>
        fitClassGaussian(tapMatrix(reference.features, tap), reference.labels, reference.classes),
      ),
      taps,
      parsed.noise,
    ),
  restore: (state: DetectorStateValue, parsed: Options, taps) =>
    characteristic(stateSchema.parse(state).layers, taps, parsed.noise),
});
