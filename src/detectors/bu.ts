/**
 * BU: Bayesian uncertainty from Monte-Carlo dropout (Feinman et al. 2017, the companion of KD in
 * Ma et al. 2021 §5's detector family). With dropout left on at inference, T stochastic passes give
 * softmax vectors p₁…p_T; the characteristic is their variance over the passes, averaged over the
 * classes, as the authors' code computes it (`preds_mc.var(axis=0).mean(axis=1)`, T = 50; the
 * paper's formula (1/T)Σ pₜᵀpₜ − p̄ᵀp̄ is the same quantity times the number of classes).
 * Adversarial inputs tend to sit where the sub-networks disagree.
 *
 * Only dropout layers in the model's dense head are sampled (engine/dense-head.ts): everything
 * before the head's tap is deterministic in inference mode, so this is the network's exact MC-dropout
 * distribution, computed from one forward pass to the tap. The T masks are drawn once from the seed
 * and shared by every image, so an image's score does not depend on the batch it came in, and the
 * characteristic is a deterministic, differentiable function of the feature (adaptive attacks take
 * its gradient through the fixed masks). The head's weights are stored with the detector.
 * Classifier: logistic regression on the min-max-scaled characteristic, as for KD.
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { MedrobustError } from '../core/errors.ts';
import { Random } from '../core/random.ts';
import {
  applyDenseHead,
  type DenseHead,
  type DenseHeadLayer,
  dropoutWidths,
  headTensors,
} from '../engine/dense-head.ts';
import { detectorCitations } from './citations.ts';
import type { FeatureMatrix } from './classifiers/feature-matrix.ts';
import { type Characteristic, type DetectorStateValue, defineDetector } from './detector.ts';
import { defaultFeatureTap, pooledTaps, tapMatrix } from './features.ts';

const options = z.object({
  tap: z
    .string()
    .optional()
    .describe("the tap the dropout head reads (default: the paper's 'feature', else 'pool')"),
  samples: z.number().int().min(2).max(10000).default(50).describe('dropout samples T (the authors: 50)'),
  seed: z.number().int().default(0).describe('seed of the dropout masks'),
});
type Options = z.output<typeof options>;

const layerSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('dense'),
    inFeatures: z.number().int().positive(),
    outFeatures: z.number().int().positive(),
    weight: z.instanceof(Float32Array),
    bias: z.instanceof(Float32Array).nullable(),
  }),
  z.object({ kind: z.literal('relu') }),
  z.object({ kind: z.literal('dropout'), rate: z.number().min(0).max(1) }),
]);
const stateSchema = z.object({ layers: z.array(layerSchema).min(1) });

/** One stochastic pass's masks: for each dropout layer, keep/(1 − rate) per feature (inverted dropout). */
function drawMasks(layers: readonly DenseHeadLayer[], samples: number, seed: number): Float32Array[][] {
  const random = new Random(seed);
  const widths = dropoutWidths(layers);
  return Array.from({ length: samples }, () =>
    layers.flatMap((layer, index) => {
      if (layer.kind !== 'dropout') return [];
      const keep = 1 / (1 - layer.rate);
      return [
        Float32Array.from({ length: widths[index] ?? 0 }, () =>
          layer.rate >= 1 ? 0 : random.uniform() >= layer.rate ? keep : 0,
        ),
      ];
    }),
  );
}

function characteristic(
  layers: readonly DenseHeadLayer[],
  tap: string,
  samples: number,
  seed: number,
): Characteristic {
  const head: DenseHead = { tap, pool: false, layers };
  const masks = drawMasks(layers, samples, seed);
  // [batch, features] → [batch, 1]: the MC-dropout variance of the softmax, averaged over classes.
  const uncertainty = (feature: tf.Tensor2D): tf.Tensor2D =>
    tf.tidy(() => {
      const tensors = headTensors(head);
      const probabilities = masks.map((sampleMasks) =>
        tf.softmax(
          applyDenseHead(
            head,
            tensors,
            feature,
            sampleMasks.map((mask) => tf.tensor1d(mask)),
          ),
        ),
      );
      const stacked = tf.stack(probabilities);
      const mean = tf.mean(stacked, 0);
      const variance = tf.mean(tf.square(tf.sub(stacked, mean)), 0);
      return tf.mean(variance, 1, true) as tf.Tensor2D;
    });
  const compute = (features: FeatureMatrix): FeatureMatrix => {
    const values = new Float64Array(features.rows);
    const chunk = 1024;
    for (let start = 0; start < features.rows; start += chunk) {
      const rows = Math.min(chunk, features.rows - start);
      const part = tf.tidy(() =>
        uncertainty(
          tf.tensor2d(
            Float32Array.from(
              features.values.subarray(start * features.columns, (start + rows) * features.columns),
            ),
            [rows, features.columns],
          ),
        ),
      );
      values.set(part.dataSync(), start);
      part.dispose();
    }
    return { rows: features.rows, columns: 1, values };
  };
  return {
    twins: (clean, adversarial) => ({
      clean: compute(tapMatrix(clean.features, tap)),
      adversarial: compute(tapMatrix(adversarial.features, tap)),
    }),
    compute: ({ features }) => compute(tapMatrix(features, tap)),
    tensor: (outputs) => tf.tidy(() => uncertainty(pooledTaps(outputs, [tap]).get(tap) as tf.Tensor2D)),
    toJSON: () => ({
      layers: layers.map((layer) =>
        layer.kind === 'dense'
          ? {
              kind: 'dense',
              inFeatures: layer.inFeatures,
              outFeatures: layer.outFeatures,
              weight: layer.weight.data,
              bias: layer.bias?.data ?? null,
            }
          : layer,
      ),
    }),
  };
}

function checkHead(head: DenseHead | undefined, model: string, tap: string): DenseHead {
  if (head === undefined) {
    throw new MedrobustError('unsupported', `bu: the model ${model} has no dropout in its dense head`, {
      hint: 'BU samples Monte-Carlo dropout; train a model with the paper head (`medrobust train --head paper`), or choose another detector',
    });
  }
  if (head.tap !== tap) {
    throw new MedrobustError(
      'invalid-argument',
      `bu: the model's dropout head reads tap '${head.tap}', not '${tap}'`,
      {
        hint: `set bu's tap option to ${head.tap} (e.g. --detectors 'bu:tap=${head.tap}'), or leave it unset`,
      },
    );
  }
  return head;
}

export const bu = defineDetector({
  name: 'bu',
  description:
    'Monte-Carlo dropout variance of the softmax (Feinman et al. 2017); models with a dropout head',
  paper: detectorCitations.kernelDensity,
  options,
  classifier: () => ({ kind: 'logistic-regression' }),
  scale: true,
  taps: (info, parsed: Options) => [parsed.tap ?? defaultFeatureTap(info)],
  prepare: (reference, parsed: Options, [tap = '']) => {
    const head = checkHead(reference.model.dropoutHead?.(), reference.model.info.name, tap);
    return characteristic(head.layers, tap, parsed.samples, parsed.seed);
  },
  restore: (state: DetectorStateValue, parsed: Options, [tap = '']) => {
    const { layers } = stateSchema.parse(state);
    const restored = layers.map((layer): DenseHeadLayer => {
      if (layer.kind !== 'dense') return layer;
      return {
        kind: 'dense',
        inFeatures: layer.inFeatures,
        outFeatures: layer.outFeatures,
        weight: { shape: [layer.outFeatures, layer.inFeatures], data: layer.weight },
        bias: layer.bias === null ? undefined : { shape: [layer.outFeatures], data: layer.bias },
      };
    });
    return characteristic(restored, tap, parsed.samples, parsed.seed);
  },
});
