/**
 * Transforms on in-memory image sets: selection, stratified splits, and resizing of whole sets
 * (e.g. 28-px MedMNIST upsampled to the paper's 224 px). Crops and augmentation come with the
 * image-folder readers and augment.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MedrobustError } from '../core/errors.ts';
import { Random } from '../core/random.ts';
import type { ImageSet } from './image-set.ts';

/** Images start…end−1 of a set as an NHWC tensor (the caller disposes it). */
export function imageBatch(set: ImageSet, start: number, end: number): tf.Tensor4D {
  const [, height, width, channels] = set.shape;
  const pixels = height * width * channels;
  return tf.tensor4d(set.images.subarray(start * pixels, end * pixels), [
    end - start,
    height,
    width,
    channels,
  ]);
}

/** The images at the given indices, in that order. */
export function selectImages(set: ImageSet, indices: ArrayLike<number>): ImageSet {
  const [, height, width, channels] = set.shape;
  const pixels = height * width * channels;
  const images = new Float32Array(indices.length * pixels);
  const labels = new Int32Array(indices.length * set.labelsPerImage);
  const masks = set.masks === undefined ? undefined : new Uint8Array(indices.length * height * width);
  const sources: string[] = [];
  for (let k = 0; k < indices.length; k++) {
    const index = indices[k] ?? 0;
    images.set(set.images.subarray(index * pixels, (index + 1) * pixels), k * pixels);
    labels.set(
      set.labels.subarray(index * set.labelsPerImage, (index + 1) * set.labelsPerImage),
      k * set.labelsPerImage,
    );
    masks?.set(
      (set.masks as Uint8Array).subarray(index * height * width, (index + 1) * height * width),
      k * height * width,
    );
    const source = set.sources?.[index];
    if (source !== undefined) sources.push(source);
  }
  return {
    ...set,
    images,
    labels,
    shape: [indices.length, height, width, channels],
    ...(masks === undefined ? {} : { masks }),
    ...(set.sources === undefined ? {} : { sources }),
  };
}

/**
 * Only the images of the named classes, relabelled 0…k−1 in the order given (single-label sets):
 * the nested class subsets of the 2/3/4-class experiment (Ma et al. 2021 §4).
 */
export function keepClasses(set: ImageSet, names: readonly string[]): ImageSet {
  if (set.labelsPerImage !== 1) {
    throw new MedrobustError('unsupported', 'keeping classes needs single-label data', {
      hint: 'for ChestX-ray14 use --preset chestxray14 --classes, which builds single-label findings',
    });
  }
  const positions = names.map((name) => set.classNames.indexOf(name));
  const unknown = names.filter((_, index) => positions[index] === -1);
  if (unknown.length > 0 || names.length < 2 || new Set(names).size !== names.length) {
    throw new MedrobustError(
      'invalid-argument',
      unknown.length > 0
        ? `no class ${unknown.map((name) => `'${name}'`).join(', ')} in this dataset`
        : `classes ${names.join(', ')}: give two or more different classes`,
      { hint: `its classes: ${set.classNames.join(', ')}` },
    );
  }
  const newLabel = new Map(positions.map((position, index) => [position, index]));
  const indices: number[] = [];
  set.labels.forEach((label, index) => {
    if (newLabel.has(label)) indices.push(index);
  });
  const selected = selectImages(set, indices);
  return {
    ...selected,
    labels: Int32Array.from(selected.labels, (label) => newLabel.get(label) ?? 0),
    classNames: [...names],
    task: names.length === 2 ? 'binary' : 'multi-class',
  };
}

/**
 * A seeded split that keeps each class's share (stratified by the first label): `fraction` of every
 * class goes to the second set, at least one image of every class with two or more images.
 */
export function stratifiedSplit(set: ImageSet, fraction: number, seed: number): [ImageSet, ImageSet] {
  if (!(fraction > 0 && fraction < 1)) {
    throw new MedrobustError('invalid-argument', `split fraction must be between 0 and 1, got ${fraction}`, {
      hint: 'for example 0.1 for a 90/10 split',
    });
  }
  const random = new Random(seed);
  const byClass = new Map<number, number[]>();
  for (let index = 0; index < set.shape[0]; index++) {
    const label = set.labels[index * set.labelsPerImage] ?? 0;
    byClass.set(label, [...(byClass.get(label) ?? []), index]);
  }
  const first: number[] = [];
  const second: number[] = [];
  for (const label of [...byClass.keys()].sort((a, b) => a - b)) {
    const indices = byClass.get(label) ?? [];
    for (let i = indices.length - 1; i > 0; i--) {
      const j = random.integer(i + 1);
      [indices[i], indices[j]] = [indices[j] ?? 0, indices[i] ?? 0];
    }
    const taken = indices.length < 2 ? 0 : Math.max(1, Math.round(indices.length * fraction));
    second.push(...indices.slice(0, taken));
    first.push(...indices.slice(taken));
  }
  first.sort((a, b) => a - b);
  second.sort((a, b) => a - b);
  return [selectImages(set, first), selectImages(set, second)];
}

/**
 * RGB images as grey, luminance with the ITU-R BT.601 weights Y = 0.299 R + 0.587 G + 0.114 B (what
 * PIL's `convert('L')` and torchvision's `Grayscale` use), so natural RGB sets can be measured at
 * the channel count of grey medical ones. Grey sets come back unchanged.
 */
export function toGrey(set: ImageSet): ImageSet {
  const [count, height, width, channels] = set.shape;
  if (channels === 1) return set;
  if (channels !== 3) {
    throw new MedrobustError('invalid-data', `cannot convert ${channels}-channel images to grey`, {
      hint: 'grey conversion takes RGB images (3 channels)',
    });
  }
  const pixels = count * height * width;
  const images = new Float32Array(pixels);
  for (let pixel = 0; pixel < pixels; pixel++) {
    const red = set.images[3 * pixel] ?? 0;
    const green = set.images[3 * pixel + 1] ?? 0;
    const blue = set.images[3 * pixel + 2] ?? 0;
    images[pixel] = Math.min(1, 0.299 * red + 0.587 * green + 0.114 * blue);
  }
  return { ...set, images, shape: [count, height, width, 1] };
}

/**
 * Every image resized to size × size, bilinear with half-pixel centres (PyTorch's
 * `F.interpolate(mode='bilinear', align_corners=False)`), in chunks so only one chunk is ever held
 * twice. Masks follow with nearest-neighbour resampling (half-pixel centres: PyTorch's 'nearest-exact').
 */
export function resizeImages(set: ImageSet, size: number): ImageSet {
  const [count, height, width, channels] = set.shape;
  if (height === size && width === size) return set;
  const pixels = size * size * channels;
  const images = new Float32Array(count * pixels);
  const masks = set.masks === undefined ? undefined : new Uint8Array(count * size * size);
  const chunk = Math.max(1, Math.floor(4_000_000 / Math.max(pixels, height * width * channels)));
  for (let start = 0; start < count; start += chunk) {
    const end = Math.min(count, start + chunk);
    const source = set.images.subarray(start * height * width * channels, end * height * width * channels);
    const resized = tf.tidy(() =>
      tf.clipByValue(
        tf.image.resizeBilinear(
          tf.tensor4d(source, [end - start, height, width, channels]),
          [size, size],
          false,
          true,
        ),
        0,
        1,
      ),
    );
    images.set(resized.dataSync(), start * pixels);
    resized.dispose();
    if (masks !== undefined && set.masks !== undefined) {
      const mask = set.masks.subarray(start * height * width, end * height * width);
      const nearest = tf.tidy(() =>
        tf.image.resizeNearestNeighbor(
          tf.tensor4d(Float32Array.from(mask), [end - start, height, width, 1]),
          [size, size],
          false,
          true,
        ),
      );
      masks.set(Uint8Array.from(nearest.dataSync()), start * size * size);
      nearest.dispose();
    }
  }
  return {
    ...set,
    images,
    shape: [count, size, size, channels],
    ...(masks === undefined ? {} : { masks }),
  };
}
