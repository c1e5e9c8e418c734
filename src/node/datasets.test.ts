import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync, zipSync } from 'fflate';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  breastPath,
  cifarPath,
  hasSharedData,
  idxBytes,
  npyBytes,
  pneumoniaPath,
} from '../../test/support/data.ts';
import { openDataset, summarizeSplit } from './datasets.ts';

/** Debian's dataset-fashion-mnist package (installed by .ci/run). */
const fashionMnist = '/usr/share/datasets/fashion-mnist';

/** A dataset with a train split, present on every machine. */
const pneumoniaPathOrPhantom = () => (hasSharedData ? pneumoniaPath : 'phantom:chest-xray:16');

describe('opening datasets', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'medrobust-data-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it.skipIf(!hasSharedData)(
    'verifies the official md5 of PneumoniaMNIST and BreastMNIST and reads every split',
    async () => {
      const pneumonia = await openDataset(pneumoniaPath);
      expect(pneumonia.checksum).toEqual({ status: 'verified', md5: '28209eda62fecd6e6a2d98b1501bb15f' });
      expect(pneumonia.splits).toEqual(['train', 'val', 'test']);
      // Class balance from ../shared/data/README.md: train 1214 / 3494, test 234 / 390.
      expect(summarizeSplit('train', pneumonia.read('train')).classCounts).toEqual([1214, 3494]);
      expect(summarizeSplit('test', pneumonia.read('test')).classCounts).toEqual([234, 390]);
      const breast = await openDataset(breastPath);
      expect(breast.checksum?.status).toBe('verified');
      expect(breast.read('val').shape).toEqual([78, 28, 28, 1]);
    },
  );

  it.skipIf(!hasSharedData)(
    'rejects an official name whose md5 differs, and accepts the same bytes under another name',
    async () => {
      const bytes = await readFile(breastPath);
      bytes[bytes.length - 30] = (bytes[bytes.length - 30] ?? 0) ^ 0xff; // inside the zip's central directory comment area
      const official = join(root, 'breastmnist.npz');
      await writeFile(official, bytes);
      await expect(openDataset(official)).rejects.toThrowError(
        /md5 [0-9a-f]+ differs from the official breastmnist \(28 px\) release/,
      );
      const renamed = join(root, 'my-breast.npz');
      await copyFile(breastPath, renamed);
      expect((await openDataset(renamed)).checksum?.status).toBe('not-official');
    },
  );

  it.skipIf(!hasSharedData)('reads CIFAR-10 test with its class names', async () => {
    const cifar = await openDataset(cifarPath);
    expect(cifar.format).toBe('cifar-npz');
    const summary = summarizeSplit('test', cifar.read('test'));
    expect(summary.classCounts).toEqual(new Array(10).fill(1000));
    expect(summary.shape).toEqual([32, 32, 3]);
  });

  it('holds out a stratified test part of a one-split dataset, the same images on every open', async () => {
    // A CIFAR-style file with a test split only: 10 images of class 0 and 20 of class 1, 2×2 RGB,
    // image k filled with the value k so the parts can be traced back to their images.
    const count = 30;
    const pixels = new Uint8Array(count * 12).map((_, index) => Math.floor(index / 12));
    const labels = new Uint8Array(count).map((_, index) => (index < 10 ? 0 : 1));
    const path = join(root, 'one-split.npz');
    await writeFile(
      path,
      zipSync({
        'x_test.npy': npyBytes('|u1', [count, 2, 2, 3], pixels),
        'y_test.npy': npyBytes('|u1', [count], labels),
      }),
    );
    const dataset = await openDataset(path, { holdOut: 0.2 });
    expect(dataset.splits).toEqual(['train', 'test']);
    const train = dataset.read('train');
    const test = dataset.read('test');
    // 20 % of each class: 2 of class 0 and 4 of class 1.
    expect(summarizeSplit('test', test).classCounts).toEqual([2, 4]);
    expect(summarizeSplit('train', train).classCounts).toEqual([8, 16]);
    const imageIds = (part: typeof train) =>
      Array.from({ length: part.shape[0] }, (_, k) => Math.round((part.images[k * 12] ?? 0) * 255));
    const all = [...imageIds(train), ...imageIds(test)].sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: count }, (_, k) => k));
    const again = await openDataset(path, { holdOut: 0.2 });
    expect(imageIds(again.read('test'))).toEqual(imageIds(test));
    // Grey after the split: one channel, the same images (equal channels k/255 give grey k/255).
    const grey = (await openDataset(path, { holdOut: 0.2, grey: true })).read('test');
    expect(grey.shape).toEqual([6, 2, 2, 1]);
    expect(Array.from({ length: 6 }, (_, k) => Math.round((grey.images[k * 4] ?? 0) * 255))).toEqual(
      imageIds(test),
    );
    expect(() => dataset.read('val')).toThrowError(/has no val split/);
    await expect(openDataset(path, { holdOut: 1.5 })).rejects.toThrowError(/between 0 and 1/);
    await expect(openDataset(pneumoniaPathOrPhantom(), { holdOut: 0.2 })).rejects.toThrowError(
      /has a train split already/,
    );
  });

  it.skipIf(!hasSharedData)(
    'serves CIFAR-10 test as 28-px grey train and test parts (8 000 / 2 000, 800 / 200 per class)',
    async () => {
      const cifar = await openDataset(cifarPath, { holdOut: 0.2, grey: true, resize: 28 });
      const train = summarizeSplit('train', cifar.read('train'));
      const test = summarizeSplit('test', cifar.read('test'));
      expect(train).toMatchObject({ count: 8000, shape: [28, 28, 1], classCounts: new Array(10).fill(800) });
      expect(test).toMatchObject({ count: 2000, shape: [28, 28, 1], classCounts: new Array(10).fill(200) });
      expect(test.minimum).toBeGreaterThanOrEqual(0);
      expect(test.maximum).toBeLessThanOrEqual(1);
      // The file is sorted by class; the parts are shuffled, so their first images span every class.
      const classesAmong = (labels: Int32Array, count: number) => new Set(labels.subarray(0, count)).size;
      expect(classesAmong(cifar.read('test').labels, 100)).toBe(10);
      expect(classesAmong(cifar.read('train').labels, 100)).toBe(10);
    },
  );

  it.skipIf(!existsSync(fashionMnist))(
    'reads Debian’s Fashion-MNIST (60 000 / 10 000 images, 6 000 / 1 000 per class)',
    async () => {
      const dataset = await openDataset(fashionMnist);
      expect(dataset.splits).toEqual(['train', 'test']);
      expect(summarizeSplit('train', dataset.read('train'))).toMatchObject({
        count: 60_000,
        shape: [28, 28, 1],
      });
      expect(summarizeSplit('test', dataset.read('test')).classCounts).toEqual(new Array(10).fill(1000));
    },
  );

  it('reads a folder of gzipped IDX files as train and test splits', async () => {
    const folder = join(root, 'idx');
    await mkdir(folder, { recursive: true });
    const idx = (shape: number[], data: number[]) => gzipSync(idxBytes(shape, data));
    await writeFile(join(folder, 'train-images-idx3-ubyte.gz'), idx([3, 2, 2], new Array(12).fill(128)));
    await writeFile(join(folder, 'train-labels-idx1-ubyte.gz'), idx([3], [1, 2, 3]));
    await writeFile(join(folder, 't10k-images-idx3-ubyte.gz'), idx([1, 2, 2], [0, 0, 0, 255]));
    await writeFile(join(folder, 't10k-labels-idx1-ubyte.gz'), idx([1], [7]));
    const dataset = await openDataset(folder);
    expect(dataset).toMatchObject({ format: 'idx', splits: ['train', 'test'] });
    expect(summarizeSplit('test', dataset.read('test'))).toMatchObject({ count: 1, minimum: 0, maximum: 1 });
  });

  it('serves synthetic phantoms as phantom:KIND[:SIZE], with masks, and names unknown kinds', async () => {
    const dataset = await openDataset('phantom:fundus:32');
    expect(dataset).toMatchObject({ format: 'phantom', splits: ['train', 'val', 'test'] });
    const test = dataset.read('test');
    expect(test).toMatchObject({ shape: [200, 32, 32, 3], task: 'binary' });
    expect(test.masks?.length).toBe(200 * 32 * 32);
    expect(dataset.read('test')).toBe(test);
    await expect(openDataset('phantom:knee')).rejects.toThrowError(/unknown phantom kind "knee"[\s\S]*/);
  });

  it('reads a folder of class sub-folders (PNG) as train and test, at the requested size and channels', async () => {
    const folder = join(root, 'images');
    for (const [name, value] of [
      ['benign', 40],
      ['malignant', 200],
    ] as const) {
      await mkdir(join(folder, name), { recursive: true });
      for (let i = 0; i < 3; i++) {
        await sharp(Buffer.alloc(20 * 20, value), { raw: { width: 20, height: 20, channels: 1 } })
          .png()
          .toFile(join(folder, name, `${i}.png`));
      }
    }
    await writeFile(join(folder, 'benign', 'notes.txt'), 'not an image');
    const dataset = await openDataset(folder, { imageSize: 8, channels: 3 });
    expect(dataset).toMatchObject({ format: 'image-folder', splits: ['train', 'test'] });
    expect(dataset.skipped?.map((entry) => entry.file)).toEqual([join(folder, 'benign', 'notes.txt')]);
    const set = dataset.read('test');
    expect(set).toMatchObject({ shape: [6, 8, 8, 3], classNames: ['benign', 'malignant'], task: 'binary' });
    expect(set.images[0]).toBeCloseTo(40 / 255, 5);
    await expect(openDataset(folder, { strict: true })).rejects.toThrowError(/notes\.txt/);
  });

  it('names a missing path and an unknown layout', async () => {
    await expect(openDataset(join(root, 'missing.npz'))).rejects.toThrowError(
      /missing\.npz: no such file or folder/,
    );
    const empty = join(root, 'empty');
    await mkdir(empty, { recursive: true });
    await expect(openDataset(empty)).rejects.toThrowError(/empty: found 0 class folders/);
  });
});
