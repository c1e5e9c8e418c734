/**
 * MedMNIST v2 `.npz` files (Yang et al., "MedMNIST v2", Scientific Data 2023): arrays
 * `{train,val,test}_images` (N×H×W grey or N×H×W×3 RGB, uint8) and `{train,val,test}_labels`
 * (N×L, L = 1 except for multi-label sets). Images come out as NHWC float32 in [0, 1].
 */
import { basename } from 'node:path';
import { MedrobustError } from '../core/errors.ts';
import type { ImageSet } from './image-set.ts';
import type { NpzArchive } from './npz.ts';

export type { ImageSet } from './image-set.ts';

export const splits = ['train', 'val', 'test'] as const;
export type Split = (typeof splits)[number];

/** Class names of the binary sets in ../shared/data (MedMNIST v2 info). */
const knownClassNames: Readonly<Record<string, readonly string[]>> = {
  pneumoniamnist: ['normal', 'pneumonia'],
  breastmnist: ['malignant', 'normal, benign'],
};

export function readMedmnistSplit(archive: NpzArchive, split: Split, source: string): ImageSet {
  const images = archive.get(`${split}_images`);
  const labels = archive.get(`${split}_labels`);
  const fail = (what: string): never => {
    throw new MedrobustError('invalid-data', `${source}: ${what}`, {
      hint: 'MedMNIST files hold uint8 {split}_images (N×H×W or N×H×W×3) and {split}_labels (N×L)',
    });
  };
  if (!(images.data instanceof Uint8Array)) fail(`${split}_images must be uint8, got ${images.dtype}`);
  if (images.shape.length !== 3 && !(images.shape.length === 4 && images.shape[3] === 3)) {
    fail(`${split}_images has shape [${images.shape}]; expected N×H×W or N×H×W×3`);
  }
  const [count = 0, height = 0, width = 0, channels = 1] = images.shape;
  if (labels.shape[0] !== count || labels.shape.length > 2 || typeof labels.data[0] === 'string') {
    fail(`${split}_labels has shape [${labels.shape}] for ${count} images`);
  }
  const pixels = images.data as Uint8Array;
  const scaled = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) scaled[i] = (pixels[i] ?? 0) / 255;
  const labelValues = Int32Array.from(labels.data as ArrayLike<number>, Number);
  const labelsPerImage = labels.shape[1] ?? 1;
  const flag = basename(source)
    .replace(/(_\d+)?\.npz$/, '')
    .toLowerCase();
  const classCount =
    Math.max(2, ...labelValues) + (labelsPerImage > 1 ? 0 : 1) - (Math.max(...labelValues) >= 2 ? 0 : 1);
  const classNames = knownClassNames[flag] ?? Array.from({ length: classCount }, (_, i) => `class ${i}`);
  return {
    images: scaled,
    shape: [count, height, width, channels],
    labels: labelValues,
    labelsPerImage,
    classNames,
  };
}
