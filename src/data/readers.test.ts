import { gzipSync, zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { idxBytes, npyBytes } from '../../test/support/data.ts';
import { MedrobustError } from '../core/errors.ts';
import { idxImageSet, readIdx } from './idx.ts';
import { medmnistFileName, readMedmnistSplit } from './medmnist.ts';
import { medmnistInfo } from './medmnist-info.ts';
import { readNpz } from './npz.ts';

/** A MedMNIST-layout archive with one split. */
function medmnistArchive(
  images: { shape: number[]; data: number[] },
  labels: { shape: number[]; data: number[] },
) {
  return zipSync({
    'test_images.npy': npyBytes('|u1', images.shape, Uint8Array.from(images.data)),
    'test_labels.npy': npyBytes('|u1', labels.shape, Uint8Array.from(labels.data)),
  });
}

describe('MedMNIST table and reader', () => {
  it('knows every 2-D flag at every size, with the md5s of ../shared/data (MedMNIST 3.0.2 INFO)', () => {
    expect(Object.keys(medmnistInfo)).toHaveLength(12);
    expect(medmnistInfo.pneumoniamnist?.md5[28]).toBe('28209eda62fecd6e6a2d98b1501bb15f');
    expect(medmnistInfo.breastmnist?.md5[28]).toBe('750601b1f35ba3300ea97c75c52ff8f6');
    expect(medmnistInfo.chestmnist).toMatchObject({ task: 'multi-label', channels: 1 });
    expect(medmnistInfo.chestmnist?.classNames[7]).toBe('pneumothorax');
    expect(medmnistInfo.dermamnist?.classNames.slice(4, 6)).toEqual(['melanoma', 'melanocytic nevi']);
    expect(medmnistInfo.retinamnist?.task).toBe('ordinal');
    for (const info of Object.values(medmnistInfo)) {
      for (const size of [28, 64, 128, 224] as const) expect(info.md5[size]).toMatch(/^[0-9a-f]{32}$/);
    }
  });

  it('reads flag and size from official file names only', () => {
    expect(medmnistFileName('/data/ChestMNIST_224.npz')).toMatchObject({ flag: 'chestmnist', size: 224 });
    expect(medmnistFileName('pneumoniamnist.npz')).toMatchObject({ flag: 'pneumoniamnist', size: 28 });
    expect(medmnistFileName('pneumoniamnist_32.npz')).toBeUndefined();
    expect(medmnistFileName('mydata.npz')).toBeUndefined();
  });

  it('reads a multi-label (ChestMNIST-layout) file with 14 labels per image', () => {
    const labels = new Array(2 * 14).fill(0).map((_, i) => (i === 7 || i === 14 + 2 ? 1 : 0));
    const bytes = medmnistArchive(
      { shape: [2, 28, 28], data: new Array(2 * 784).fill(51) },
      { shape: [2, 14], data: labels },
    );
    const set = readMedmnistSplit(readNpz(bytes, 'chestmnist.npz'), 'test', 'chestmnist.npz');
    expect(set).toMatchObject({ task: 'multi-label', labelsPerImage: 14, shape: [2, 28, 28, 1] });
    expect(set.classNames[7]).toBe('pneumothorax');
    expect(set.images[0]).toBeCloseTo(0.2, 6);
  });

  it('reads RGB files and infers the task of unofficial ones', () => {
    const bytes = medmnistArchive(
      { shape: [3, 4, 4, 3], data: new Array(3 * 48).fill(255) },
      { shape: [3, 1], data: [0, 4, 2] },
    );
    const set = readMedmnistSplit(readNpz(bytes, 'mine.npz'), 'test', 'mine.npz');
    expect(set).toMatchObject({
      task: 'multi-class',
      shape: [3, 4, 4, 3],
      classNames: ['class 0', 'class 1', 'class 2', 'class 3', 'class 4'],
    });
  });

  it.each([
    [
      'labels out of range',
      'breastmnist.npz',
      { shape: [1, 28, 28], data: new Array(784).fill(0) },
      { shape: [1, 1], data: [2] },
      /test_labels\[0\] = 2 is outside 0…1/,
    ],
    [
      'wrong size for the name',
      'breastmnist_64.npz',
      { shape: [1, 28, 28], data: new Array(784).fill(0) },
      { shape: [1, 1], data: [0] },
      /28×28×1 but breastmnist at 64 px is 64×64×1/,
    ],
    [
      'labels for fewer images',
      'x.npz',
      { shape: [2, 4, 4], data: new Array(32).fill(0) },
      { shape: [1, 1], data: [0] },
      /test_labels has shape \[1,1\] for 2 images/,
    ],
  ])('rejects %s, naming the file', (_, name, images, labels, message) => {
    const archive = readNpz(medmnistArchive(images, labels), name);
    expect(() => readMedmnistSplit(archive, 'test', name)).toThrowError(MedrobustError);
    expect(() => readMedmnistSplit(archive, 'test', name)).toThrowError(message);
    expect(() => readMedmnistSplit(archive, 'train', name)).toThrowError(/has no train split[\s\S]*/);
  });
});

describe('IDX', () => {
  it('reads hand-made images and labels, plain and gzipped', () => {
    const images = idxBytes([2, 2, 3], [0, 51, 102, 153, 204, 255, 255, 204, 153, 102, 51, 0]);
    const labels = idxBytes([2], [9, 0]);
    for (const [imageBytes, labelBytes] of [
      [images, labels],
      [gzipSync(images), gzipSync(labels)],
    ] as const) {
      const set = idxImageSet(readIdx(imageBytes, 'images'), readIdx(labelBytes, 'labels'), 'fashion');
      expect(set.shape).toEqual([2, 2, 3, 1]);
      expect(Array.from(set.images.subarray(0, 3), (v) => Math.round(v * 255))).toEqual([0, 51, 102]);
      expect([...set.labels]).toEqual([9, 0]);
      expect(set.classNames[9]).toBe('ankle boot');
    }
  });

  it.each([
    ['bad magic', Uint8Array.from([1, 2, 3, 4]), /bad magic number/],
    [
      'truncated data',
      idxBytes([2, 2, 2], [1, 2, 3]),
      /holds 3 data bytes but its header \[2 × 2 × 2\] needs 8/,
    ],
    ['float type', Uint8Array.from([0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0]), /IDX type 0xd is not supported/],
    ['broken gzip', Uint8Array.from([0x1f, 0x8b, 8, 0, 0, 0]), /cannot decompress/],
  ])('rejects %s', (_, bytes, message) => {
    expect(() => readIdx(bytes, 'file.idx')).toThrowError(message);
  });
});
