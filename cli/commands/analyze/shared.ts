/**
 * What the `analyze` kinds share: loading a model with the first N images of a split, batching a
 * per-image analysis, a robust colour range, and writing a figure as PNG and SVG.
 */
import { basename, join } from 'node:path';
import type * as tf from '@tensorflow/tfjs-core';
import { MedrobustError } from '../../../src/core/errors.ts';
import type { ImageSet } from '../../../src/data/image-set.ts';
import type { Split } from '../../../src/data/medmnist.ts';
import { imageBatch, selectImages } from '../../../src/data/transforms.ts';
import type { Classifier, Engine } from '../../../src/engine/contracts.ts';
import { attackImages } from '../../../src/evaluation/detection/evaluate-detection.ts';
import { formatEpsilon } from '../../../src/evaluation/robustness.ts';
import { type DatasetOptions, openDataset } from '../../../src/node/datasets.ts';
import { loadModel } from '../../../src/node/model-directory.ts';
import type { RenderedChart } from '../../../src/report/charts.ts';
import { writeAtomically } from '../../files.ts';

export interface AnalysisSubject {
  /** Short name for figures: the data file's name. */
  readonly name: string;
  readonly classifier: Classifier;
  readonly set: ImageSet;
  /** The engine the model runs on (for loading companion models). */
  readonly engine: Engine;
  dispose(): void;
}

/** The model and the first `images` single-label images of `split`, checked against each other. */
export async function openSubject(
  engine: Engine,
  model: string,
  data: string,
  split: Split,
  images: number,
  datasetOptions: DatasetOptions = {},
): Promise<AnalysisSubject> {
  const dataset = await openDataset(data, datasetOptions);
  const all = dataset.read(split);
  if (all.labelsPerImage !== 1) {
    throw new MedrobustError('unsupported', `${data}: the analyses need single-label data`, {
      hint: 'multi-label sets have no single class to explain; choose a single-label dataset',
    });
  }
  const set = selectImages(
    all,
    Array.from({ length: Math.min(images, all.shape[0]) }, (_, index) => index),
  );
  const loaded = await loadModel(model, engine);
  const [height, width, channels] = loaded.classifier.info.inputShape;
  if (set.shape[1] !== height || set.shape[2] !== width || set.shape[3] !== channels) {
    loaded.network.dispose();
    throw new MedrobustError(
      'invalid-argument',
      `${model} takes ${height}×${width}×${channels} images; ${data} has ${set.shape.slice(1).join('×')}`,
      { hint: 'pass data of the resolution the model was trained on (--resize for other sizes)' },
    );
  }
  return {
    name: basename(data).replace(/\.(npz|npy)$/, ''),
    classifier: loaded.classifier,
    set,
    engine,
    dispose: () => loaded.network.dispose(),
  };
}

/** Runs `analyse` on batches of the set and concatenates its host results. */
export function inBatches<T>(
  set: ImageSet,
  batchSize: number,
  analyse: (x: tf.Tensor4D, labels: Int32Array) => T,
): T[] {
  const results: T[] = [];
  for (let start = 0; start < set.shape[0]; start += batchSize) {
    const end = Math.min(set.shape[0], start + batchSize);
    const x = imageBatch(set, start, end);
    try {
      results.push(analyse(x, set.labels.subarray(start, end)));
    } finally {
      x.dispose();
    }
  }
  return results;
}

export function concatenate(parts: readonly Float32Array[]): Float32Array {
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const out = new Float32Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** A map divided by its maximum (unchanged when all zero). */
export function normalised(map: Float32Array): Float32Array {
  let largest = 0;
  for (const value of map) largest = Math.max(largest, value);
  return largest > 0 ? map.map((value) => value / largest) : map;
}

export async function writeFigure(out: string, name: string, figure: RenderedChart): Promise<string[]> {
  await writeAtomically(join(out, `${name}.svg`), figure.svg);
  await writeAtomically(join(out, `${name}.png`), figure.png);
  return [`${name}.png`, `${name}.svg`];
}

export const mean = (values: readonly number[]) =>
  values.length === 0 ? Number.NaN : values.reduce((sum, value) => sum + value, 0) / values.length;

export const standardDeviation = (values: readonly number[]) => {
  if (values.length < 2) return 0;
  const m = mean(values);
  return Math.sqrt(values.reduce((sum, value) => sum + (value - m) ** 2, 0) / (values.length - 1));
};

/** The set attacked with a fixed-ε attack (default options), logged; what several kinds compare against. */
export function attackSet(
  classifier: Classifier,
  set: ImageSet,
  settings: {
    readonly attack: string;
    readonly epsilon: number;
    readonly batch: number;
    readonly seed: number;
  },
  log: (message: string) => void,
  what = 'images',
): ReturnType<typeof attackImages> {
  const attacked = attackImages(
    classifier,
    set,
    { name: settings.attack, options: {} },
    settings.epsilon,
    settings.batch,
    settings.seed,
  );
  log(
    `${settings.attack} at ε = ${formatEpsilon(settings.epsilon)} on ${set.shape[0]} ${what} in ${attacked.seconds.toFixed(1)} s`,
  );
  return attacked;
}
