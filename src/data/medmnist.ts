/**
 * MedMNIST `.npz` files (Yang et al., "MedMNIST v2", Scientific Data 2023; MedMNIST+ sizes 64, 128
 * and 224): arrays `{train,val,test}_images` (N×H×W grey or N×H×W×3 RGB, uint8) and
 * `{train,val,test}_labels` (N×L; L = 14 for the multi-label ChestMNIST, else 1). Every 2-D flag and
 * size is described by the official table in medmnist-info.ts; a file named `{flag}.npz` or
 * `{flag}_{size}.npz` is checked against it (task, channels, class count, size, and its md5 by the
 * Node loader). Other files with the same layout are read with their task inferred from the labels.
 * Images come out as NHWC float32 in [0, 1].
 */
import { MedrobustError } from '../core/errors.ts';
import type { ImageSet, Task } from './image-set.ts';
import { type MedmnistInfo, medmnistInfo } from './medmnist-info.ts';
import type { NpzArchive } from './npz.ts';

export type { ImageSet } from './image-set.ts';

export const splits = ['train', 'val', 'test'] as const;
export type Split = (typeof splits)[number];

export const medmnistSizes = [28, 64, 128, 224] as const;
export type MedmnistSize = (typeof medmnistSizes)[number];

/** The official flag and size a file name denotes (`pneumoniamnist.npz`, `chestmnist_224.npz`), if any. */
export function medmnistFileName(
  name: string,
): { flag: string; size: MedmnistSize; info: MedmnistInfo } | undefined {
  const match = /^([a-z]+mnist)(?:_(64|128|224))?\.npz$/.exec(name.toLowerCase().replace(/^.*[\\/]/, ''));
  const info = match?.[1] === undefined ? undefined : medmnistInfo[match[1]];
  if (match?.[1] === undefined || info === undefined) return undefined;
  return { flag: match[1], size: Number(match[2] ?? 28) as MedmnistSize, info };
}

export function isMedmnistArchive(archive: NpzArchive): boolean {
  return splits.some((split) => archive.has(`${split}_images`) && archive.has(`${split}_labels`));
}

function fail(source: string, what: string, hint: string): never {
  throw new MedrobustError('invalid-data', `${source}: ${what}`, { hint });
}

/** Splits present in the archive, in train/val/test order. */
export function medmnistSplits(archive: NpzArchive): Split[] {
  return splits.filter((split) => archive.has(`${split}_images`));
}

export function readMedmnistSplit(archive: NpzArchive, split: Split, source: string): ImageSet {
  if (!archive.has(`${split}_images`) || !archive.has(`${split}_labels`)) {
    fail(
      source,
      `has no ${split} split (it holds: ${archive.names.join(', ')})`,
      `choose one of the splits present: ${medmnistSplits(archive).join(', ') || 'none'}`,
    );
  }
  const images = archive.get(`${split}_images`);
  const labels = archive.get(`${split}_labels`);
  const layout = 'MedMNIST files hold uint8 {split}_images (N×H×W or N×H×W×3) and {split}_labels (N×L)';
  if (!(images.data instanceof Uint8Array))
    fail(source, `${split}_images must be uint8, got ${images.dtype}`, layout);
  if (images.shape.length !== 3 && !(images.shape.length === 4 && images.shape[3] === 3)) {
    fail(source, `${split}_images has shape [${images.shape}]; expected N×H×W or N×H×W×3`, layout);
  }
  const [count = 0, height = 0, width = 0, channels = 1] = images.shape;
  if (labels.shape[0] !== count || labels.shape.length > 2 || typeof labels.data[0] === 'string') {
    fail(source, `${split}_labels has shape [${labels.shape}] for ${count} images`, layout);
  }
  const labelValues = Int32Array.from(labels.data as ArrayLike<number>, Number);
  const labelsPerImage = labels.shape[1] ?? 1;
  const official = medmnistFileName(source);
  let task: Task;
  let classNames: readonly string[];
  if (official !== undefined) {
    const { info, flag, size } = official;
    if (height !== size || width !== size || channels !== info.channels) {
      fail(
        source,
        `${split}_images are ${height}×${width}×${channels} but ${flag} at ${size} px is ${size}×${size}×${info.channels}`,
        'the file name says which MedMNIST file this is: rename it if it is another file',
      );
    }
    task = info.task;
    classNames = info.classNames;
  } else {
    const largest = labelValues.reduce((maximum, label) => Math.max(maximum, label), 0);
    task = labelsPerImage > 1 ? 'multi-label' : largest + 1 > 2 ? 'multi-class' : 'binary';
    const count = labelsPerImage > 1 ? labelsPerImage : Math.max(2, largest + 1);
    classNames = Array.from({ length: count }, (_, index) => `class ${index}`);
  }
  const expectedPerImage = task === 'multi-label' ? classNames.length : 1;
  if (labelsPerImage !== expectedPerImage) {
    fail(
      source,
      `${split}_labels has ${labelsPerImage} labels per image; ${task} needs ${expectedPerImage}`,
      layout,
    );
  }
  const limit = task === 'multi-label' ? 2 : classNames.length;
  const bad = labelValues.findIndex((label) => label < 0 || label >= limit);
  if (bad >= 0) {
    fail(
      source,
      `${split}_labels[${Math.floor(bad / labelsPerImage)}] = ${labelValues[bad]} is outside 0…${limit - 1}`,
      task === 'multi-label'
        ? 'multi-label targets are 0 or 1'
        : `labels index the ${classNames.length} classes`,
    );
  }
  const pixels = images.data;
  const scaled = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) scaled[i] = (pixels[i] ?? 0) / 255;
  return {
    images: scaled,
    shape: [count, height, width, channels],
    labels: labelValues,
    labelsPerImage,
    classNames,
    task,
  };
}
