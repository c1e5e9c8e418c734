/**
 * Square attack (Andriushchenko, Croce, Flammarion & Hein, "Square attack: a query-efficient
 * black-box adversarial attack via random search", ECCV 2020), L∞ (Algorithm 2 with the vertical
 * stripe initialisation) and L2 (Algorithm 3's window updates, simplified as stated below).
 * Score-based black box: it only reads the logits (never a gradient), so a black-box attack beating
 * the white-box ones flags gradient masking.
 *
 * Each iteration proposes, per image still not fooled, a change inside one random s × s window
 * (s = round(√(p·h·w)), p halving on the schedule of the paper's code: at 10, 50, 200, 500, 1000,
 * 2000, 4000, 6000 and 8000 of 10 000 rescaled iterations) and keeps it when the margin loss
 * z_y − max_{j≠y} z_j (untargeted; z_t-based for targets) decreases: one query per image per step.
 * - L∞: the window gets ±ε per channel, the rest stays.
 * - L2: the window gets a new random ±1 pattern per channel scaled so the whole perturbation keeps
 *   norm ε, drawing the window's share of the norm from the rest of the image (the paper moves mass
 *   between two windows with its "meta" pattern; this variant redistributes uniformly, which keeps
 *   ‖δ‖₂ = ε exactly and is documented in docs/attacks.md). Initialisation: a random ±1 pattern at norm ε.
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { Random } from '../core/random.ts';
import { defineAttack } from './attack.ts';
import { citations } from './citations.ts';
import { epsilonOption, normOption } from './projected-gradient.ts';

const options = z
  .object({
    epsilon: epsilonOption,
    norm: normOption,
    queries: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .default(1000)
      .describe('iterations (one query per image each)'),
    initialFraction: z
      .number()
      .positive()
      .max(1)
      .default(0.05)
      .describe('p: the first window covers this share of the image'),
  })
  .strict();

/** The window share at iteration i of n (the paper's schedule, rescaled to 10 000 iterations). */
export function squareFraction(initial: number, iteration: number, total: number): number {
  const scaled = Math.floor((iteration / total) * 10_000);
  const steps = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000];
  const halvings = steps.filter((step) => scaled > step).length;
  return initial / 2 ** halvings;
}

export const square = defineAttack({
  name: 'square',
  description: 'Square attack: score-based black-box random search over square windows (L∞ or L2)',
  kind: 'fixed-epsilon',
  paper: citations.square,
  options,
  norm: (o) => o.norm,
  epsilon: (o) => o.epsilon,
  perturb: (run) => {
    const { model, x, labels, goal, bounds, options: o } = run;
    const [batch, height, width, channels] = x.shape;
    const pixels = height * width * channels;
    const random = new Random(run.seed * 2654435761 + 17);
    const clean = x.dataSync() as Float32Array;
    const targets = goal.kind === 'targeted' ? goal.targets : undefined;
    const clip = (value: number) => Math.min(bounds.upper, Math.max(bounds.lower, value));

    /** Margin losses (lower is better for the attacker; < 0 means the goal is reached). */
    const margins = (images: Float32Array, rows: readonly number[]): Float32Array => {
      const logits = tf.tidy(() =>
        model.predict(tf.tensor4d(images, [rows.length, height, width, channels])).logits.arraySync(),
      );
      return Float32Array.from(rows, (image, r) => {
        const row = logits[r] ?? [];
        const label = labels[image] ?? 0;
        if (targets !== undefined) {
          const target = targets[image] ?? 0;
          const other = Math.max(...row.filter((_, k) => k !== target));
          return other - (row[target] ?? 0);
        }
        const other = Math.max(...row.filter((_, k) => k !== label));
        return (row[label] ?? 0) - other;
      });
    };

    // Initialisation.
    const delta = new Float32Array(batch * pixels);
    if (o.norm === 'linf') {
      for (let i = 0; i < batch; i++) {
        for (let c = 0; c < channels; c++) {
          for (let column = 0; column < width; column++) {
            const sign = random.uniform() < 0.5 ? -o.epsilon : o.epsilon;
            for (let row = 0; row < height; row++)
              delta[i * pixels + (row * width + column) * channels + c] = sign;
          }
        }
      }
    } else {
      const scale = o.epsilon / Math.sqrt(pixels);
      for (let k = 0; k < delta.length; k++) delta[k] = random.uniform() < 0.5 ? -scale : scale;
    }
    const adversarial = Float32Array.from(delta, (value, k) => clip((clean[k] ?? 0) + value));
    for (let k = 0; k < delta.length; k++) delta[k] = (adversarial[k] ?? 0) - (clean[k] ?? 0);
    const all = Array.from({ length: batch }, (_, i) => i);
    const loss = margins(adversarial, all);

    for (let iteration = 0; iteration < o.queries; iteration++) {
      const active = all.filter((i) => (loss[i] ?? 0) >= 0);
      if (active.length === 0) break;
      const side = Math.max(
        1,
        Math.min(
          height,
          width,
          Math.round(Math.sqrt(squareFraction(o.initialFraction, iteration, o.queries) * height * width)),
        ),
      );
      const proposals = new Float32Array(active.length * pixels);
      active.forEach((image, slot) => {
        const top = random.integer(height - side + 1);
        const left = random.integer(width - side + 1);
        const base = image * pixels;
        const proposal = delta.slice(base, base + pixels);
        if (o.norm === 'linf') {
          for (let c = 0; c < channels; c++) {
            const value = random.uniform() < 0.5 ? -o.epsilon : o.epsilon;
            for (let row = top; row < top + side; row++) {
              for (let column = left; column < left + side; column++)
                proposal[(row * width + column) * channels + c] = value;
            }
          }
        } else {
          // Window energy is redrawn; the whole perturbation is rescaled to norm ε.
          for (let c = 0; c < channels; c++) {
            const value = random.uniform() < 0.5 ? -1 : 1;
            for (let row = top; row < top + side; row++) {
              for (let column = left; column < left + side; column++)
                proposal[(row * width + column) * channels + c] =
                  (value * o.epsilon) / Math.sqrt(side * side * channels);
            }
          }
          let energy = 0;
          for (const value of proposal) energy += value * value;
          const factor = energy > 0 ? o.epsilon / Math.sqrt(energy) : 0;
          for (let k = 0; k < pixels; k++) proposal[k] = (proposal[k] ?? 0) * factor;
        }
        for (let k = 0; k < pixels; k++)
          proposals[slot * pixels + k] = clip((clean[base + k] ?? 0) + (proposal[k] ?? 0));
      });
      const proposed = margins(proposals, active);
      active.forEach((image, slot) => {
        if ((proposed[slot] ?? Number.POSITIVE_INFINITY) < (loss[image] ?? 0)) {
          loss[image] = proposed[slot] ?? 0;
          for (let k = 0; k < pixels; k++) {
            const value = proposals[slot * pixels + k] ?? 0;
            adversarial[image * pixels + k] = value;
            delta[image * pixels + k] = value - (clean[image * pixels + k] ?? 0);
          }
        }
      });
    }
    return tf.tensor4d(adversarial, [batch, height, width, channels]);
  },
});
