/**
 * CIFAR-style `.npz` files (Krizhevsky, "Learning Multiple Layers of Features from Tiny Images",
 * 2009): `x_{split}` N×H×W×C uint8 and `y_{split}` N (or N×1) integer labels, with an optional
 * `classes` array of names, as ../shared/data/natural/cifar10_test.npz is laid out.
 */
import { MedrobustError } from '../core/errors.ts';
import type { ImageSet } from './image-set.ts';
import type { NpzArchive } from './npz.ts';

export const cifarSplits = ['train', 'val', 'test'] as const;
export type CifarSplit = (typeof cifarSplits)[number];

export function isCifarArchive(archive: NpzArchive): boolean {
  return cifarSplits.some((split) => archive.has(`x_${split}`) && archive.has(`y_${split}`));
}

export function readCifarSplit(archive: NpzArchive, split: CifarSplit, source: string): ImageSet {
  const layout =
    'CIFAR-style files hold uint8 x_{split} (N×H×W×C), integer y_{split} (N) and optionally classes';
  const fail = (what: string): never => {
    throw new MedrobustError('invalid-data', `${source}: ${what}`, { hint: layout });
  };
  if (!archive.has(`x_${split}`) || !archive.has(`y_${split}`)) {
    fail(`has no ${split} split (it holds: ${archive.names.join(', ')})`);
  }
  const images = archive.get(`x_${split}`);
  const labels = archive.get(`y_${split}`);
  if (!(images.data instanceof Uint8Array) || images.shape.length !== 4) {
    fail(`x_${split} must be uint8 N×H×W×C, got ${images.dtype} [${images.shape}]`);
  }
  const [count = 0, height = 0, width = 0, channels = 0] = images.shape;
  if (labels.shape[0] !== count || typeof labels.data[0] === 'string')
    fail(`y_${split} has shape [${labels.shape}] for ${count} images`);
  const labelValues = Int32Array.from(labels.data as ArrayLike<number>, Number);
  const names = archive.has('classes') ? (archive.get('classes').data as readonly string[]) : undefined;
  const largest = labelValues.reduce((maximum, label) => Math.max(maximum, label), 0);
  const classNames =
    names !== undefined && typeof names[0] === 'string'
      ? [...names]
      : Array.from({ length: Math.max(2, largest + 1) }, (_, index) => `class ${index}`);
  if (labelValues.some((label) => label < 0 || label >= classNames.length)) {
    fail(`y_${split} has labels outside 0…${classNames.length - 1}`);
  }
  return {
    images: Float32Array.from(images.data as Uint8Array, (value) => value / 255),
    shape: [count, height, width, channels],
    labels: labelValues,
    labelsPerImage: 1,
    classNames,
    task: classNames.length === 2 ? 'binary' : 'multi-class',
  };
}
