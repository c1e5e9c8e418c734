/**
 * Deep features for detectors (Ma et al. 2021, §5: every detector works on the deep feature of the
 * model). A feature is any named tap of the model (ModelInfo.layers); spatial taps [n, h, w, c] are
 * global-average-pooled to [n, c], so a feature is always one vector per image. The default is the
 * paper's 128-d feature layer (`feature`, the paper head's Dense(128)) when the model has one, else
 * the pooled penultimate activation (`pool`).
 *
 * Input contract: NHWC float32 images within the model's bounds. Host results are float64.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MedrobustError } from '../core/errors.ts';
import type { Classifier, ModelInfo, Outputs } from '../engine/contracts.ts';
import { type FeatureMatrix, selectRows } from './classifiers/feature-matrix.ts';

/** The features of a set of images: one matrix per tap, plus the model's logits and classes. */
export interface FeatureSet {
  readonly taps: ReadonlyMap<string, FeatureMatrix>;
  readonly logits: FeatureMatrix;
  readonly predictions: Int32Array;
}

/** The paper's 128-d feature layer when the model has it, else the pooled penultimate activation. */
export function defaultFeatureTap(info: ModelInfo): string {
  if (info.layers.includes('feature')) return 'feature';
  if (info.layers.includes('pool')) return 'pool';
  throw new MedrobustError('invalid-model', `${info.name} has neither a 'feature' nor a 'pool' tap`, {
    hint: `name a tap with the detector's "tap" option; this model has: ${info.layers.join(', ')}`,
  });
}

/** The stage outputs (stem, layer1…, block1…) followed by the default feature: the layers multi-layer detectors read. */
export function stageTaps(info: ModelInfo): string[] {
  const stages = info.layers.filter((name) => /^(stem|layer\d+|block\d+)$/.test(name));
  return [...stages, defaultFeatureTap(info)];
}

export function checkTaps(info: ModelInfo, taps: readonly string[], detector: string): void {
  for (const tap of taps) {
    if (!info.layers.includes(tap)) {
      throw new MedrobustError('not-found', `${detector}: the model ${info.name} has no tap '${tap}'`, {
        hint: `choose one of: ${info.layers.join(', ')}`,
      });
    }
  }
}

/** [n, …] activation → [n, d]: spatial maps averaged over height and width, anything else flattened. */
export function pooledFeature(activation: tf.Tensor): tf.Tensor2D {
  return tf.tidy(() => {
    const batch = activation.shape[0] ?? 0;
    if (activation.rank === 4) return tf.mean(activation, [1, 2]) as tf.Tensor2D;
    return tf.reshape(activation, [batch, -1]) as tf.Tensor2D;
  });
}

/** Pooled features of the given taps from outputs already computed (differentiable: used by adaptive attacks). */
export function pooledTaps(outputs: Outputs, taps: readonly string[]): Map<string, tf.Tensor2D> {
  const pooled = new Map<string, tf.Tensor2D>();
  for (const tap of taps) {
    const activation = outputs.taps.get(tap);
    if (activation === undefined) {
      throw new MedrobustError('internal', `pooledTaps: the forward pass did not return tap '${tap}'`);
    }
    pooled.set(tap, pooledFeature(activation));
  }
  return pooled;
}

function toMatrix(chunks: readonly Float32Array[], rows: number, columns: number): FeatureMatrix {
  const values = new Float64Array(rows * columns);
  let offset = 0;
  for (const chunk of chunks) {
    values.set(chunk, offset);
    offset += chunk.length;
  }
  return { rows, columns, values };
}

/** Features of `x` at `taps`, in batches (no gradient). */
export function extractFeatures(
  model: Classifier,
  x: tf.Tensor4D,
  taps: readonly string[],
  batchSize = 100,
): FeatureSet {
  checkTaps(model.info, taps, 'features');
  const count = x.shape[0];
  const chunks = new Map<string, Float32Array[]>(taps.map((tap) => [tap, []]));
  const columns = new Map<string, number>();
  const logitChunks: Float32Array[] = [];
  const predictions = new Int32Array(count);
  for (let start = 0; start < count; start += batchSize) {
    const size = Math.min(batchSize, count - start);
    tf.tidy(() => {
      const batch = tf.slice(x, [start, 0, 0, 0], [size, -1, -1, -1]);
      const outputs = model.predict(batch, taps);
      for (const [tap, pooled] of pooledTaps(outputs, taps)) {
        columns.set(tap, pooled.shape[1]);
        chunks.get(tap)?.push(pooled.dataSync() as Float32Array);
      }
      logitChunks.push(outputs.logits.dataSync() as Float32Array);
      predictions.set(tf.argMax(outputs.logits, 1).dataSync() as Int32Array, start);
    });
  }
  const classes = model.info.classNames.length;
  return {
    taps: new Map(taps.map((tap) => [tap, toMatrix(chunks.get(tap) ?? [], count, columns.get(tap) ?? 0)])),
    logits: toMatrix(logitChunks, count, classes),
    predictions,
  };
}

/** The rows of a feature set at `indices` (in that order). */
export function selectFeatureRows(features: FeatureSet, indices: ArrayLike<number>): FeatureSet {
  return {
    taps: new Map([...features.taps].map(([tap, matrix]) => [tap, selectRows(matrix, indices)])),
    logits: selectRows(features.logits, indices),
    predictions: Int32Array.from(indices, (index) => features.predictions[index] ?? 0),
  };
}

/** The matrix of one tap, or a clear error. */
export function tapMatrix(features: FeatureSet, tap: string): FeatureMatrix {
  const matrix = features.taps.get(tap);
  if (matrix === undefined) {
    throw new MedrobustError('internal', `features: tap '${tap}' was not extracted`);
  }
  return matrix;
}
