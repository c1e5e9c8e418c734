/**
 * Test helpers: activate a tfjs engine, build small models, measure tensor leaks.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Random } from '../../src/core/random.ts';
import type { Engine, EngineName, Objective } from '../../src/engine/contracts.ts';
import { loadEngine } from '../../src/engine/load-engine.ts';
import type { ArchitectureInput } from '../../src/models/architecture.ts';
import { buildModel, createModel, type LoadedModel } from '../../src/models/model.ts';

export async function activate(name: EngineName): Promise<Engine> {
  return loadEngine(name);
}

export function tinyModel(
  engine: Engine,
  architecture: ArchitectureInput,
  seed = 1,
  foldBatchNorm = true,
): LoadedModel {
  const { manifest, weights } = createModel({ architecture, seed });
  // Give batch norm non-trivial statistics so folding is exercised (fresh models have mean 0, var 1).
  const random = new Random(seed + 1000);
  const perturbed = new Map(
    [...weights].map(([name, tensor]) => {
      if (name.endsWith('running_mean') || name.endsWith('bn1.bias') || name.endsWith('.1.bias')) {
        return [name, { shape: tensor.shape, data: tensor.data.map(() => random.normal() * 0.1) }];
      }
      if (name.endsWith('running_var')) {
        return [name, { shape: tensor.shape, data: tensor.data.map(() => random.uniformIn(0.5, 1.5)) }];
      }
      return [name, tensor];
    }),
  );
  return buildModel(engine, manifest, perturbed, { foldBatchNorm });
}

/** A deterministic batch of images in [0, 1]. */
export function images(batch: number, size: number, channels: number, seed = 7): tf.Tensor4D {
  const random = new Random(seed);
  return tf.tensor4d(random.uniformArray(batch * size * size * channels, 0, 1), [
    batch,
    size,
    size,
    channels,
  ]);
}

/** Runs `body` and returns how many tensors it left alive. */
export function leakedTensors(body: () => void): number {
  const before = tf.memory().numTensors;
  body();
  return tf.memory().numTensors - before;
}

export function maxRelativeDifference(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let difference = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    difference = Math.max(difference, Math.abs((actual[i] ?? Number.NaN) - (expected[i] ?? Number.NaN)));
    scale = Math.max(scale, Math.abs(expected[i] ?? 0));
  }
  return difference / Math.max(scale, 1e-12);
}

/** Cross-entropy of the logits against fixed labels plus a term on a tap: exercises both cotangent routes. */
export function crossEntropyWithTap(labels: number[], tap?: string): Objective {
  return ({ logits, taps }) =>
    tf.tidy(() => {
      const oneHot = tf.oneHot(tf.tensor1d(labels, 'int32'), logits.shape[1]);
      let value = tf.neg(tf.sum(tf.mul(oneHot, tf.logSoftmax(logits)), 1));
      const tapped = tap === undefined ? undefined : taps.get(tap);
      if (tapped !== undefined) {
        const axes = tapped.shape.map((_, axis) => axis).slice(1);
        value = tf.add(value, tf.mul(0.1, tf.mean(tf.square(tapped), axes)));
      }
      return value as tf.Tensor1D;
    });
}
