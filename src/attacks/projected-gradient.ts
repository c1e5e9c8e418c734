/**
 * The projected-gradient loop shared by FGSM, BIM, PGD and CW-L∞ (DESIGN.md §5 rule 3: they are
 * presets of one loop). Madry et al., "Towards deep learning models resistant to adversarial
 * attacks", ICLR 2018: from x₀ (or a random point of the ε-ball), repeat
 *   x ← clip_[lo,hi](Π_ε(x + α · d(∇ₓ loss(x))))
 * with d the norm's steepest-ascent direction (sign for L∞, g/‖g‖₂ for L2), keeping the last iterate
 * (Ma et al. 2021, §3's rule). Restarts keep, per image, the first restart that reaches the goal.
 * With `earlyStop`, an image that already reaches the goal at the start of a step is left where it
 * is and drops out of the batch (AutoAttack's practice; faster, and never weaker for the goal).
 *
 * Threat model: white-box, gradients through the whole model; untargeted or targeted. An `extraTerm`
 * adds to the loss (the adaptive attacks on detectors of src/evaluation/detection/adaptive.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { goalReached } from '../core/goal.ts';
import { ascentDirection, type Norm, norms, projectToBall, randomInBall } from '../core/norms.ts';
import type { Objective, Outputs } from '../engine/contracts.ts';
import { type AttackRun, predictClasses } from './attack.ts';
import { attackLoss, cleanMarginScale, type LossName, lossNames } from './losses.ts';

export const labelSources = ['truth', 'prediction'] as const;
export type LabelSource = (typeof labelSources)[number];

export interface ProjectedGradientSettings {
  readonly norm: Norm;
  readonly epsilon: number;
  readonly steps: number;
  /** α, absolute (in the image range). */
  readonly stepSize: number;
  readonly randomStart: boolean;
  readonly restarts: number;
  readonly loss: LossName;
  readonly confidence: number;
  /** Which label the untargeted loss moves away from: the true one, or the model's clean prediction. */
  readonly label: LabelSource;
  readonly earlyStop: boolean;
  /**
   * A term added to the per-image loss (adaptive attacks: −λ × a detector's score), computed from the
   * same forward pass with `taps`; `rows` are the batch rows being stepped (undefined: all of them).
   */
  readonly extraTerm?: {
    readonly taps: readonly string[];
    readonly term: (outputs: Outputs, rows: tf.Tensor1D | undefined) => tf.Tensor1D;
  };
}

/** Option fields the loop's attacks share (zod: the one source of defaults and docs). */
export const epsilonOption = z
  .number()
  .min(0)
  .max(1000)
  .describe('ε in the [0, 1] image range (1/255 ≈ 0.0039); an L2 radius may exceed 1');
export const normOption = z.enum(norms).default('linf').describe('linf or l2');
export const stepsOption = z.number().int().min(1).max(100_000).default(20).describe('iterations');
export const lossOption = z.enum(lossNames).default('cross-entropy').describe('cross-entropy, margin or dlr');
export const labelOption = z
  .enum(labelSources)
  .default('truth')
  .describe("the label the untargeted loss moves away from: 'truth' or the model's clean 'prediction'");
export const earlyStopOption = z
  .boolean()
  .default(false)
  .describe('stop moving an image once it reaches the goal (faster; the paper keeps every last iterate)');

const seedStride = 7919;

/** A per-image condition for tf.where on NHWC batches (which aligns a rank-1 condition with the last axis). */
export function perImage(flags: readonly number[]): tf.Tensor4D {
  return tf.tensor4d(flags.map(Boolean), [flags.length, 1, 1, 1], 'bool');
}

/** Rows of a batch as a tensor of indices. */
function indexTensor(indices: readonly number[]): tf.Tensor1D {
  return tf.tensor1d([...indices], 'int32');
}

export function projectedGradient(run: AttackRun<unknown>, settings: ProjectedGradientSettings): tf.Tensor4D {
  const { model, x, labels, goal, bounds } = run;
  const batch = labels.length;
  const lossLabels = settings.label === 'prediction' ? predictClasses(model, x) : labels;
  const lossLabelTensor = tf.tensor1d(lossLabels, 'int32');
  const targetTensor = goal.kind === 'targeted' ? tf.tensor1d(goal.targets, 'int32') : undefined;
  const marginScale = cleanMarginScale(settings.loss, model, x, lossLabelTensor);
  const clip = (t: tf.Tensor) => tf.clipByValue(t, bounds.lower, bounds.upper) as tf.Tensor4D;

  let best: tf.Tensor4D | undefined;
  const found = new Uint8Array(batch);
  try {
    for (let restart = 0; restart < settings.restarts; restart++) {
      let adversarial = tf.tidy(() =>
        settings.randomStart
          ? clip(randomInBall(settings.norm, x, settings.epsilon, run.seed + seedStride * restart))
          : tf.clone(x),
      );
      let active = Array.from({ length: batch }, (_, index) => index).filter((index) => !found[index]);
      for (let step = 0; step < settings.steps && active.length > 0; step++) {
        const all = active.length === batch;
        const rows = all ? undefined : indexTensor(active);
        const reachedNow: number[] = [];
        const next = tf.tidy(() => {
          const current = rows === undefined ? adversarial : tf.gather(adversarial, rows);
          const clean = rows === undefined ? x : tf.gather(x, rows);
          const labelRows = rows === undefined ? lossLabelTensor : tf.gather(lossLabelTensor, rows);
          const targetRows =
            targetTensor === undefined
              ? undefined
              : rows === undefined
                ? targetTensor
                : tf.gather(targetTensor, rows);
          const scaleRows =
            marginScale === undefined
              ? undefined
              : rows === undefined
                ? marginScale
                : tf.gather(marginScale, rows);
          let predictions: Int32Array | undefined;
          const objective: Objective = (outputs) => {
            const { logits } = outputs;
            if (settings.earlyStop) predictions = Int32Array.from(tf.argMax(logits, 1).dataSync());
            const loss = attackLoss(
              {
                loss: settings.loss,
                confidence: settings.confidence,
                ...(scaleRows === undefined ? {} : { cleanMarginScale: scaleRows }),
              },
              logits,
              labelRows,
              targetRows,
            );
            return settings.extraTerm === undefined
              ? loss
              : (tf.add(loss, settings.extraTerm.term(outputs, rows)) as tf.Tensor1D);
          };
          const { grad } = model.valueAndGrad(current, objective, settings.extraTerm?.taps);
          let stepped = clip(
            projectToBall(
              settings.norm,
              tf.add(current, tf.mul(ascentDirection(settings.norm, grad), settings.stepSize)) as tf.Tensor4D,
              clean,
              settings.epsilon,
            ),
          );
          if (settings.earlyStop && predictions !== undefined) {
            const truth = active.map((index) => labels[index] ?? 0);
            const goalRows =
              goal.kind === 'targeted'
                ? { ...goal, targets: Int32Array.from(active.map((i) => goal.targets[i] ?? 0)) }
                : goal;
            const reached = goalReached(goalRows, predictions, truth);
            reached.forEach((value, position) => {
              if (value) reachedNow.push(active[position] ?? 0);
            });
            if (reachedNow.length > 0) stepped = tf.where(perImage(Array.from(reached)), current, stepped);
          }
          if (rows === undefined) return stepped;
          const scattered = tf.scatterND(tf.reshape(rows, [-1, 1]), stepped, adversarial.shape);
          const mask = tf.scatterND(tf.reshape(rows, [-1, 1]), tf.ones([active.length], 'bool'), [batch]);
          return tf.where(tf.reshape(mask, [batch, 1, 1, 1]), scattered, adversarial) as tf.Tensor4D;
        });
        rows?.dispose();
        adversarial.dispose();
        adversarial = next;
        if (reachedNow.length > 0) {
          const done = new Set(reachedNow);
          active = active.filter((index) => !done.has(index));
        }
      }
      if (settings.restarts === 1) return adversarial;
      // Keep, per image, this restart's result where no earlier restart reached the goal.
      const reached = goalReached(goal, predictClasses(model, adversarial), labels);
      const take = Array.from(found, (done, index) => (done ? 0 : restart === 0 || reached[index] ? 1 : 0));
      const merged =
        best === undefined
          ? adversarial
          : tf.tidy(() => tf.where(perImage(take), adversarial, best as tf.Tensor4D) as tf.Tensor4D);
      if (best !== undefined) {
        best.dispose();
        adversarial.dispose();
      }
      best = merged;
      reached.forEach((value, index) => {
        if (value) found[index] = 1;
      });
    }
    return best ?? tf.clone(x);
  } finally {
    tf.dispose([lossLabelTensor, ...(targetTensor === undefined ? [] : [targetTensor])]);
    marginScale?.dispose();
  }
}
