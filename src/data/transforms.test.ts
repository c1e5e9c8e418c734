import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ImageSet } from './image-set.ts';
import { keepClasses, resizeImages, toGrey } from './transforms.ts';

function set(images: number[], shape: [number, number, number, number], masks?: number[]): ImageSet {
  return {
    images: Float32Array.from(images),
    shape,
    labels: new Int32Array(shape[0]),
    labelsPerImage: 1,
    classNames: ['a', 'b'],
    task: 'binary',
    ...(masks === undefined ? {} : { masks: Uint8Array.from(masks) }),
  };
}

describe('resizeImages', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('upsamples bilinearly with half-pixel centres (PyTorch align_corners=False)', () => {
    // Output sample k of 4 from 2 sits at (k + 0.5)/2 − 0.5 = −0.25, 0.25, 0.75, 1.25, clamped to
    // [0, 1]: weights give [0, 0.25, 0.75, 1] along a row [0, 1]. Hand-computed corner values of the
    // 2-D interpolation of [[0, 1], [1, 0]]: (1,1) = 0.75·0.25 + 0.25·0.75 = 0.375.
    const resized = resizeImages(set([0, 1, 1, 0], [1, 2, 2, 1]), 4);
    expect(resized.shape).toEqual([1, 4, 4, 1]);
    const row0 = Array.from(resized.images.subarray(0, 4));
    expect(row0.map((value) => Number(value.toFixed(6)))).toEqual([0, 0.25, 0.75, 1]);
    expect(resized.images[5]).toBeCloseTo(0.375, 6);
    expect(resized.images[15]).toBeCloseTo(0, 6);
  });

  it('keeps channels apart, stays in [0, 1], and resamples masks by nearest neighbour', () => {
    const resized = resizeImages(set([0, 1, 1, 0, 0.5, 0.5, 0, 1], [1, 2, 2, 2], [1, 0, 0, 0]), 3);
    expect(resized.shape).toEqual([1, 3, 3, 2]);
    for (const value of resized.images) {
      expect(value).toBeGreaterThanOrEqual(0);
      expect(value).toBeLessThanOrEqual(1);
    }
    expect(resized.images[0]).toBeCloseTo(0, 6); // channel 0 at the top-left corner
    expect(resized.images[1]).toBeCloseTo(1, 6); // channel 1 at the top-left corner
    // Nearest with half-pixel centres (PyTorch's 'nearest-exact'): output k reads source
    // ⌊(k + 0.5)·2/3⌋ = 0, 1, 1, so only the top-left output pixel sees the mask's one pixel.
    expect(Array.from(resized.masks ?? [])).toEqual([1, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('returns the set itself when the size already matches', () => {
    const original = set([0, 1, 1, 0], [1, 2, 2, 1]);
    expect(resizeImages(original, 2)).toBe(original);
  });
});

describe('keepClasses', () => {
  const four: ImageSet = {
    images: Float32Array.from([0, 1, 2, 3, 4, 5]),
    shape: [6, 1, 1, 1],
    labels: Int32Array.from([0, 1, 2, 3, 2, 0]),
    labelsPerImage: 1,
    classNames: ['a', 'b', 'c', 'd'],
    task: 'multi-class',
  };
  it('keeps the named classes, relabelled in the order given', () => {
    const kept = keepClasses(four, ['c', 'a']);
    expect(Array.from(kept.images)).toEqual([0, 2, 4, 5]);
    expect(Array.from(kept.labels)).toEqual([1, 0, 0, 1]);
    expect(kept.classNames).toEqual(['c', 'a']);
    expect(kept.task).toBe('binary');
    expect(keepClasses(four, ['a', 'b', 'c']).task).toBe('multi-class');
  });
  it('names unknown classes and lists the real ones', () => {
    expect(() => keepClasses(four, ['a', 'x'])).toThrow(/no class 'x'/);
    expect(() => keepClasses(four, ['a'])).toThrow(/two or more different classes/);
  });
});

describe('toGrey', () => {
  it('takes BT.601 luminance of RGB and leaves grey sets as they are', () => {
    // Hand-computed: (200, 100, 50)/255 → (0.299·200 + 0.587·100 + 0.114·50)/255 = 124.2/255 (PIL's
    // convert('L') gives 124 from the integer form of the same weights); pure red, green, blue give
    // the weights themselves, white stays 1.
    const rgb = set(
      [200 / 255, 100 / 255, 50 / 255, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0],
      [1, 2, 3, 3],
    );
    const grey = toGrey(rgb);
    expect(grey.shape).toEqual([1, 2, 3, 1]);
    const expected = [124.2 / 255, 0.299, 0.587, 0.114, 1, 0];
    Array.from(grey.images).forEach((value, index) => {
      expect(value).toBeCloseTo(expected[index] ?? Number.NaN, 6);
    });
    expect(grey.labels).toBe(rgb.labels);
    const already = set([0.5, 0.25], [1, 1, 2, 1]);
    expect(toGrey(already)).toBe(already);
    expect(() => toGrey(set(new Array(8).fill(0), [1, 1, 2, 4]))).toThrowError(/4-channel/);
  });
});
