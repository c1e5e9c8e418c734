import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { activate, leakedTensors } from '../../test/support/engines.ts';
import { type AffineParameters, augmentBatch, paperAugmentation, transformRow } from './augment.ts';

const none = { flipProbability: 0, rotationDegrees: 0, shift: 0, zoom: 0, shear: 0 };
const identity: AffineParameters = { flip: false, angle: 0, shiftX: 0, shiftY: 0, scale: 1, shear: 0 };

/** A 3×3 grey image with a single 1 at (row, column). */
const dot = (row: number, column: number) =>
  tf.tensor4d(
    Array.from({ length: 9 }, (_, i) => (i === row * 3 + column ? 1 : 0)),
    [1, 3, 3, 1],
  );

const apply = (x: tf.Tensor4D, parameters: AffineParameters) =>
  tf.tidy(() =>
    tf.image
      .transform(x, tf.tensor2d([transformRow(parameters, 3, 3)], [1, 8]), 'bilinear', 'nearest')
      .arraySync(),
  );

describe('augmentation', () => {
  beforeAll(async () => {
    await activate('wasm');
  });

  it('is the identity at zero strength, and a flip equals flipLeftRight', () => {
    const x = tf.tensor4d(
      Array.from({ length: 2 * 5 * 4 * 3 }, (_, i) => (i % 17) / 17),
      [2, 5, 4, 3],
    );
    expect(tf.tidy(() => augmentBatch(x, none, 1).arraySync())).toEqual(x.arraySync());
    const flipped = tf.tidy(() => augmentBatch(x, { ...none, flipProbability: 1 }, 1).arraySync());
    const reference = tf.tidy(() => tf.image.flipLeftRight(x).arraySync());
    expect(flipped).toEqual(reference);
    x.dispose();
  });

  it('rotates by +90° (x right, y down): the right-middle pixel goes to the bottom-middle', () => {
    const x = dot(1, 2);
    const out = apply(x, { ...identity, angle: Math.PI / 2 })[0] ?? [];
    expect(out[2]?.[1]?.[0]).toBeCloseTo(1, 5);
    expect(out[1]?.[2]?.[0]).toBeCloseTo(0, 5);
    x.dispose();
  });

  it('shifts by a third of the width: a pixel moves one column right', () => {
    const x = dot(1, 0);
    const out = apply(x, { ...identity, shiftX: 1 / 3 })[0] ?? [];
    expect(out[1]?.[1]?.[0]).toBeCloseTo(1, 5);
    x.dispose();
  });

  it('paper settings: deterministic under a seed, different across seeds, values within the input range, no leaks', () => {
    const x = tf.tensor4d(
      Array.from({ length: 4 * 16 * 16 }, (_, i) => (i % 31) / 31),
      [4, 16, 16, 1],
    );
    const a = tf.tidy(() => augmentBatch(x, paperAugmentation, 7).dataSync());
    const b = tf.tidy(() => augmentBatch(x, paperAugmentation, 7).dataSync());
    const c = tf.tidy(() => augmentBatch(x, paperAugmentation, 8).dataSync());
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(Math.min(...a)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...a)).toBeLessThanOrEqual(30 / 31 + 1e-6);
    expect(leakedTensors(() => augmentBatch(x, paperAugmentation, 3).dispose())).toBe(0);
    x.dispose();
  });
});
