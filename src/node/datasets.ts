/**
 * Opening dataset files from disk (Node-only): detects the format, verifies the md5 of files named
 * as official MedMNIST releases, and reads splits on demand.
 * - `.npz` with `{split}_images`/`{split}_labels`: MedMNIST (any flag and size);
 * - `.npz` with `x_{split}`/`y_{split}`: CIFAR-style;
 * - a folder holding `{train,t10k}-images-idx3-ubyte[.gz]` and the matching label files: IDX
 *   (MNIST, Fashion-MNIST; `t10k` is the test split);
 * - `phantom:KIND[:SIZE]`: synthetic phantoms with lesion masks (src/data/phantoms);
 * - any other folder: class sub-folders of PNG/JPEG images (optionally under train/val/test), or,
 *   with a labels CSV and a preset, the ISIC, ChestX-ray14 and Kaggle DR layouts.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { MedrobustError } from '../core/errors.ts';
import { Random } from '../core/random.ts';
import { isCifarArchive, readCifarSplit } from '../data/cifar.ts';
import { idxImageSet, readIdx } from '../data/idx.ts';
import type { ImageSet } from '../data/image-set.ts';
import {
  isMedmnistArchive,
  medmnistFileName,
  medmnistSplits,
  readMedmnistSplit,
  type Split,
} from '../data/medmnist.ts';
import { readNpz } from '../data/npz.ts';
import { generatePhantoms, type PhantomKind, phantomKinds } from '../data/phantoms/index.ts';
import { keepClasses, resizeImages, selectImages, stratifiedSplit, toGrey } from '../data/transforms.ts';
import { type CsvPreset, readCsvFolder, readImageFolder, type SkippedFile } from './image-folders.ts';

export type ChecksumStatus =
  | { readonly status: 'verified'; readonly md5: string }
  | { readonly status: 'not-official'; readonly md5: string };

export interface OpenedDataset {
  readonly path: string;
  readonly format: 'medmnist' | 'cifar-npz' | 'idx' | 'phantom' | 'image-folder' | 'csv-folder';
  readonly splits: readonly Split[];
  readonly checksum?: ChecksumStatus;
  /** Files that could not be used (image folders), with reasons. */
  readonly skipped?: readonly SkippedFile[];
  read(split: Split): ImageSet;
}

/** How to read a dataset: image folders' and CSV folders' reading, and transforms for any format. */
export interface DatasetOptions {
  /** Side images are centre-cropped and resized to (default 28). */
  readonly imageSize?: number;
  /** 1 grey or 3 RGB (default 1). */
  readonly channels?: 1 | 3;
  /** A labels CSV: the dataset path is then the images folder. */
  readonly csv?: string;
  readonly preset?: CsvPreset;
  /**
   * The classes to keep, in label order: ChestX-ray14's findings (CSV preset), or, for every other
   * single-label format, a subset of its class names (images of other classes are dropped).
   */
  readonly classes?: readonly string[];
  /** Fail on the first unusable image instead of listing it. */
  readonly strict?: boolean;
  /** Any format: resize every image to this side after reading (e.g. 28-px MedMNIST → 224 px). */
  readonly resize?: number;
  /** Any format: RGB images converted to grey after reading (BT.601 luminance). */
  readonly grey?: boolean;
  /**
   * For a dataset with no train split (e.g. ../shared/data's CIFAR-10, test split only): this
   * fraction of its one split, stratified by class with a fixed seed, is served as `test` and the
   * rest as `train`, each part in a seeded random order, the same images on every open. A dataset with a train split refuses it.
   */
  readonly holdOut?: number;
}

/** The seed of `holdOut`'s split: fixed, so training and evaluation see the same two parts. */
const holdOutSeed = 20210501;

/**
 * A folder of class sub-folders (optionally under train/, val/ and test/ sub-folders), or a CSV
 * with an images folder. Without split sub-folders the one set is served as both `train` (from which
 * training holds out a stratified validation split) and `test` (what `eval` reads).
 */
async function openImageFolders(root: string, options: DatasetOptions): Promise<OpenedDataset> {
  const base = {
    size: options.imageSize ?? 28,
    channels: options.channels ?? 1,
    ...(options.strict ? { strict: true } : {}),
  } as const;
  if (options.csv !== undefined) {
    if (options.preset === undefined) {
      throw new MedrobustError('invalid-argument', 'a labels CSV needs a preset', {
        hint: 'add --preset isic, chestxray14 or kaggle-dr',
      });
    }
    const { set, skipped } = await readCsvFolder({
      ...base,
      csv: options.csv,
      images: root,
      preset: options.preset,
      ...(options.classes === undefined ? {} : { classes: options.classes }),
    });
    return { path: root, format: 'csv-folder', splits: ['train', 'test'], skipped, read: () => set };
  }
  const entries = new Set(await readdir(root));
  const splitFolders = (['train', 'val', 'test'] as const).filter((split) => entries.has(split));
  const loaded = new Map<Split, ImageSet>();
  const skipped: SkippedFile[] = [];
  if (splitFolders.length > 0) {
    for (const split of splitFolders) {
      const result = await readImageFolder(join(root, split), base);
      loaded.set(split, result.set);
      skipped.push(...result.skipped);
    }
  } else {
    const result = await readImageFolder(root, base);
    loaded.set('train', result.set);
    loaded.set('test', result.set);
    skipped.push(...result.skipped);
  }
  return {
    path: root,
    format: 'image-folder',
    splits: [...loaded.keys()],
    skipped,
    read: (split) => loaded.get(split) ?? noSplit(root, split, [...loaded.keys()]),
  };
}

async function readBytes(path: string): Promise<Uint8Array> {
  try {
    const buffer = await readFile(path);
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new MedrobustError(
      code === 'ENOENT' ? 'not-found' : 'invalid-data',
      `${path}: cannot read (${code ?? String(error)})`,
      {
        hint: 'check the path; datasets are MedMNIST or CIFAR-style .npz files, or folders of IDX files',
        cause: error,
      },
    );
  }
}

function noSplit(path: string, split: string, present: readonly string[]): never {
  throw new MedrobustError('invalid-data', `${path}: has no ${split} split`, {
    hint: `choose one of the splits present: ${present.join(', ') || 'none'}`,
  });
}

async function openIdxFolder(directory: string, options: DatasetOptions): Promise<OpenedDataset> {
  const files = await readdir(directory);
  if (options.csv !== undefined || !files.some((file) => /-idx[13]-ubyte(\.gz)?$/.test(file))) {
    return openImageFolders(directory, options);
  }
  const find = (prefix: string, kind: 'images-idx3' | 'labels-idx1') =>
    files.find((file) => file === `${prefix}-${kind}-ubyte` || file === `${prefix}-${kind}-ubyte.gz`);
  const sets = new Map<Split, { images: string; labels: string }>();
  for (const [split, prefix] of [
    ['train', 'train'],
    ['test', 't10k'],
  ] as const) {
    const images = find(prefix, 'images-idx3');
    const labels = find(prefix, 'labels-idx1');
    if (images !== undefined && labels !== undefined)
      sets.set(split, { images: join(directory, images), labels: join(directory, labels) });
  }
  if (sets.size === 0) {
    throw new MedrobustError('invalid-data', `${directory}: no dataset found in this folder`, {
      hint: 'a dataset folder holds IDX files such as train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz',
    });
  }
  const loaded = new Map<Split, ImageSet>();
  for (const [split, paths] of sets) {
    const images = readIdx(await readBytes(paths.images), paths.images);
    const labels = readIdx(await readBytes(paths.labels), paths.labels);
    loaded.set(split, idxImageSet(images, labels, directory));
  }
  return {
    path: directory,
    format: 'idx',
    splits: [...loaded.keys()],
    read: (split) => loaded.get(split) ?? noSplit(directory, split, [...loaded.keys()]),
  };
}

/** Synthetic phantoms as a dataset: `phantom:KIND[:SIZE]` (train 1000, val 200, test 200 images, fixed seeds). */
function openPhantoms(spec: string): OpenedDataset {
  const [, kind = '', sizeText = '28'] = spec.split(':');
  if (!(phantomKinds as readonly string[]).includes(kind)) {
    throw new MedrobustError('invalid-argument', `unknown phantom kind "${kind}" in ${spec}`, {
      hint: `use phantom:KIND[:SIZE] with KIND one of ${phantomKinds.join(', ')}, e.g. phantom:chest-xray:28`,
    });
  }
  const size = Number(sizeText);
  const counts: Readonly<Record<Split, number>> = { train: 1000, val: 200, test: 200 };
  const seeds: Readonly<Record<Split, number>> = { train: 1, val: 2, test: 3 };
  const cache = new Map<Split, ImageSet>();
  return {
    path: spec,
    format: 'phantom',
    splits: ['train', 'val', 'test'],
    read: (split) => {
      const cached = cache.get(split);
      if (cached !== undefined) return cached;
      const set = generatePhantoms({
        kind: kind as PhantomKind,
        count: counts[split],
        size,
        seed: seeds[split],
      });
      cache.set(split, set);
      return set;
    },
  };
}

export async function openDataset(path: string, options: DatasetOptions = {}): Promise<OpenedDataset> {
  const stored = await openDatasetAsStored(path, options);
  const names = options.classes;
  // The CSV reader applies `classes` itself (ChestX-ray14 findings); elsewhere it selects classes.
  const opened =
    names === undefined || stored.format === 'csv-folder'
      ? stored
      : { ...stored, read: (split: Split) => keepClasses(stored.read(split), names) };
  const divided = options.holdOut === undefined ? opened : holdOut(opened, options.holdOut);
  const grey: OpenedDataset =
    options.grey === true ? { ...divided, read: (split) => toGrey(divided.read(split)) } : divided;
  const size = options.resize;
  if (size === undefined) return grey;
  // Resizing runs on tfjs: make sure a backend is ready (the CPU one when no engine was loaded).
  await import('@tensorflow/tfjs-backend-cpu');
  await tf.ready();
  return { ...grey, read: (split) => resizeImages(grey.read(split), size) };
}

/** A dataset's one split divided into train and a stratified held-out test part (`holdOut`). */
function holdOut(opened: OpenedDataset, fraction: number): OpenedDataset {
  if (!(fraction > 0 && fraction < 1)) {
    throw new MedrobustError(
      'invalid-argument',
      `hold-out fraction must be between 0 and 1, got ${fraction}`,
      {
        hint: 'for example 0.2 to test on a fifth of the images and train on the rest',
      },
    );
  }
  if (opened.splits.includes('train')) {
    throw new MedrobustError('invalid-argument', `${opened.path} has a train split already`, {
      hint: 'drop the hold-out: it is for datasets with one split only (e.g. a test split alone)',
    });
  }
  const only = opened.splits[0];
  if (only === undefined || opened.splits.length > 1) {
    throw new MedrobustError(
      'invalid-argument',
      `${opened.path}: a hold-out needs exactly one split, it has ${opened.splits.join(', ') || 'none'}`,
      { hint: 'use its own splits instead of a hold-out' },
    );
  }
  // Both parts in a seeded random order: a file sorted by class (../shared/data's CIFAR-10 is)
  // would otherwise give `--train-images N` and "the first N test images" a few classes only.
  let parts: [ImageSet, ImageSet] | undefined;
  const split = () => {
    if (parts === undefined) {
      const [train, test] = stratifiedSplit(opened.read(only), fraction, holdOutSeed);
      const random = new Random(holdOutSeed);
      parts = [
        selectImages(train, random.permutation(train.shape[0])),
        selectImages(test, random.permutation(test.shape[0])),
      ];
    }
    return parts;
  };
  return {
    ...opened,
    splits: ['train', 'test'],
    read: (name) => {
      if (name === 'train') return split()[0];
      if (name === 'test') return split()[1];
      return noSplit(opened.path, name, ['train', 'test']);
    },
  };
}

async function openDatasetAsStored(path: string, options: DatasetOptions): Promise<OpenedDataset> {
  if (path.startsWith('phantom:')) return openPhantoms(path);
  const info = await stat(path).catch((error: unknown) => {
    throw new MedrobustError('not-found', `${path}: no such file or folder`, {
      hint: 'pass a MedMNIST or CIFAR-style .npz file, or a folder of IDX files',
      cause: error,
    });
  });
  if (info.isDirectory()) return openIdxFolder(path, options);
  const bytes = await readBytes(path);
  const md5 = createHash('md5').update(bytes).digest('hex');
  // Checked before parsing, so a damaged official file is named as such.
  const official = medmnistFileName(basename(path));
  if (official !== undefined && official.info.md5[official.size] !== md5) {
    throw new MedrobustError(
      'invalid-data',
      `${path}: md5 ${md5} differs from the official ${official.flag} (${official.size} px) release's ${official.info.md5[official.size]}`,
      {
        hint: 'the file is damaged or modified: download it again, or rename it if it is your own file in MedMNIST layout',
      },
    );
  }
  const archive = readNpz(bytes, path);
  if (isMedmnistArchive(archive)) {
    return {
      path,
      format: 'medmnist',
      splits: medmnistSplits(archive),
      checksum: { status: official === undefined ? 'not-official' : 'verified', md5 },
      read: (split) => readMedmnistSplit(archive, split, path),
    };
  }
  if (isCifarArchive(archive)) {
    const present = (['train', 'val', 'test'] as const).filter((split) => archive.has(`x_${split}`));
    return {
      path,
      format: 'cifar-npz',
      splits: present,
      checksum: { status: 'not-official', md5 },
      read: (split) =>
        present.includes(split) ? readCifarSplit(archive, split, path) : noSplit(path, split, present),
    };
  }
  throw new MedrobustError(
    'invalid-data',
    `${path}: not a dataset this version reads (arrays: ${archive.names.join(', ')})`,
    {
      hint: 'MedMNIST files hold {split}_images and {split}_labels; CIFAR-style files hold x_{split} and y_{split}',
    },
  );
}

export interface SplitSummary {
  readonly split: Split;
  readonly count: number;
  readonly shape: readonly [number, number, number];
  readonly classCounts: readonly number[];
  readonly minimum: number;
  readonly maximum: number;
}

/** Counts per class (per label for multi-label sets) and the value range of a split. */
export function summarizeSplit(split: Split, set: ImageSet): SplitSummary {
  const classCounts = new Array<number>(set.classNames.length).fill(0);
  if (set.task === 'multi-label') {
    set.labels.forEach((value, index) => {
      if (value === 1)
        classCounts[index % set.labelsPerImage] = (classCounts[index % set.labelsPerImage] ?? 0) + 1;
    });
  } else {
    for (const label of set.labels) classCounts[label] = (classCounts[label] ?? 0) + 1;
  }
  let minimum = Number.POSITIVE_INFINITY;
  let maximum = Number.NEGATIVE_INFINITY;
  for (const value of set.images) {
    if (value < minimum) minimum = value;
    if (value > maximum) maximum = value;
  }
  const [count, height, width, channels] = set.shape;
  return { split, count, shape: [height, width, channels], classCounts, minimum, maximum };
}
