/**
 * Seeded geometric augmentation of image batches, as the paper trains (Ma et al. 2021, §2: shear
 * and zoom 0.2, rotation up to 45°, width/height shifts 0.2, horizontal flips; the Keras
 * ImageDataGenerator settings of the authors' code, which fills with the nearest pixel).
 * Each image gets its own random affine map about the image centre; `tf.image.transform` (a wasm
 * kernel) resamples bilinearly. The draws depend only on the seed, so a resumed run augments
 * exactly as an uninterrupted one.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Random } from '../core/random.ts';

export interface AugmentationSettings {
  /** Probability of a horizontal flip. */
  readonly flipProbability: number;
  /** Largest rotation, in degrees (uniform in ±). */
  readonly rotationDegrees: number;
  /** Largest shift, as a fraction of the image size (uniform in ±, each axis). */
  readonly shift: number;
  /** Largest zoom change: the scale is uniform in [1 − zoom, 1 + zoom]. */
  readonly zoom: number;
  /** Largest shear (uniform in ±, as a slope). */
  readonly shear: number;
}

export const paperAugmentation: AugmentationSettings = Object.freeze({
  flipProbability: 0.5,
  rotationDegrees: 45,
  shift: 0.2,
  zoom: 0.2,
  shear: 0.2,
});

export interface AffineParameters {
  readonly flip: boolean;
  readonly angle: number;
  readonly shiftX: number;
  readonly shiftY: number;
  readonly scale: number;
  readonly shear: number;
}

export function drawAffine(settings: AugmentationSettings, random: Random): AffineParameters {
  return {
    flip: random.uniform() < settings.flipProbability,
    angle: (random.uniformIn(-1, 1) * settings.rotationDegrees * Math.PI) / 180,
    shiftX: random.uniformIn(-1, 1) * settings.shift,
    shiftY: random.uniformIn(-1, 1) * settings.shift,
    scale: 1 + random.uniformIn(-1, 1) * settings.zoom,
    shear: random.uniformIn(-1, 1) * settings.shear,
  };
}

/**
 * The row [a0, a1, a2, b0, b1, b2, 0, 0] of tf.image.transform, which maps each output pixel (x, y)
 * to the input point it samples: x_in = a0·x + a1·y + a2, y_in = b0·x + b1·y + b2. The forward map
 * is p_out = c + t + F·M·(p_in − c) about the centre c, with M = rotation · shear · scale, F the
 * optional horizontal flip and t the shift; its inverse is p_in = c + M⁻¹F·(p_out − c − t).
 */
export function transformRow(parameters: AffineParameters, height: number, width: number): number[] {
  const { angle, scale, shear } = parameters;
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  // M = R · [[1, shear], [0, 1]] · scale (image coordinates: x right, y down)
  const m00 = cos * scale;
  const m01 = (cos * shear - sin) * scale;
  const m10 = sin * scale;
  const m11 = (sin * shear + cos) * scale;
  const determinant = m00 * m11 - m01 * m10;
  const flip = parameters.flip ? -1 : 1;
  // N = M⁻¹·F: F negates the x column.
  const n00 = (m11 / determinant) * flip;
  const n01 = -m01 / determinant;
  const n10 = (-m10 / determinant) * flip;
  const n11 = m00 / determinant;
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  const ox = cx + parameters.shiftX * width;
  const oy = cy + parameters.shiftY * height;
  return [n00, n01, cx - n00 * ox - n01 * oy, n10, n11, cy - n10 * ox - n11 * oy, 0, 0];
}

/** Augments an NHWC batch; image i uses the i-th draw of Random(seed). */
export function augmentBatch(x: tf.Tensor4D, settings: AugmentationSettings, seed: number): tf.Tensor4D {
  const [batch, height, width] = x.shape;
  const random = new Random(seed);
  const rows = Array.from({ length: batch }, () => transformRow(drawAffine(settings, random), height, width));
  return tf.tidy(
    () => tf.image.transform(x, tf.tensor2d(rows, [batch, 8]), 'bilinear', 'nearest') as tf.Tensor4D,
  );
}
