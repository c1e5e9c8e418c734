/**
 * Transforms on in-memory image sets. (Resizing, crops and augmentation come with the image-folder
 * readers; this file starts with the splits a dataset without a validation split needs.)
 */
import { MedrobustError } from '../core/errors.ts';
import { Random } from '../core/random.ts';
import type { ImageSet } from './image-set.ts';

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
