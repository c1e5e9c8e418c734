/**
 * DeepFool (Moosavi-Dezfooli, Fawzi & Frossard, "DeepFool: a simple and accurate method to fool deep
 * neural networks", CVPR 2016, Algorithms 2 and 3): a minimal-perturbation attack that linearises
 * the classifier around the current point and steps to the nearest linearised decision boundary.
 * For the original class k₀ and every other candidate class k, with f'_k = z_k − z_k₀ and
 * w_k = ∇f'_k:
 *   L2: l = argmin_k |f'_k|/‖w_k‖₂,  r = (|f'_l| + 10⁻⁴)/‖w_l‖₂² · w_l
 *   L∞: l = argmin_k |f'_k|/‖w_k‖₁,  r = (|f'_l| + 10⁻⁴)/‖w_l‖₁ · sign(w_l)
 * accumulated until the class changes; the output is x₀ + (1 + overshoot)·Σr, clipped. An image
 * whose class has changed stops moving. Targeted goals consider the target class only.
 *
 * Threat model: white-box; minimisation (no ε): the evaluation reads the perturbation size.
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { norms } from '../core/norms.ts';
import { defineAttack, predictClasses } from './attack.ts';
import { citations } from './citations.ts';

const options = z
  .object({
    norm: z.enum(norms).default('l2').describe('l2 or linf'),
    steps: z.number().int().min(1).max(10_000).default(50).describe('maximum iterations'),
    overshoot: z
      .number()
      .min(0)
      .max(1)
      .default(0.02)
      .describe('the final step is (1 + overshoot) times the sum'),
    candidates: z
      .number()
      .int()
      .min(2)
      .max(1000)
      .default(10)
      .describe('classes considered: the top ones by clean logit'),
  })
  .strict();

export const deepfool = defineAttack({
  name: 'deepfool',
  description: 'minimal L2 or L∞ perturbation by repeated linearisation (minimisation attack)',
  kind: 'minimization',
  paper: citations.deepfool,
  options,
  norm: (o) => o.norm,
  perturb: (run) => {
    const { model, x, goal, bounds, options: o, classes } = run;
    const batch = x.shape[0];
    const pixels = x.size / batch;
    const original = predictClasses(model, x);
    // Candidate classes per image: the target, or the top logits other than the original class.
    const candidates: number[][] = tf.tidy(() => {
      const logits = model.predict(x).logits.arraySync();
      return logits.map((row, i) => {
        if (goal.kind === 'targeted') return [goal.targets[i] ?? 0];
        return row
          .map((value, k) => [value, k] as const)
          .sort((a, b) => b[0] - a[0])
          .map(([, k]) => k)
          .filter((k) => k !== original[i])
          .slice(0, Math.min(o.candidates, classes) - 1);
      });
    });
    const originalTensor = tf.tensor1d(original, 'int32');
    const total = new Float64Array(batch * pixels);
    const active = new Uint8Array(batch).fill(1);
    let current = tf.clone(x);
    for (let step = 0; step < o.steps; step++) {
      const predicted = predictClasses(model, current);
      for (let i = 0; i < batch; i++) {
        const reached =
          goal.kind === 'targeted' ? predicted[i] === goal.targets[i] : predicted[i] !== original[i];
        if (reached) active[i] = 0;
      }
      if (!active.some(Boolean)) break;
      // For the j-th candidate of every image: f'_k and w_k = ∇(z_k − z_k₀).
      const width = Math.max(...candidates.map((list) => list.length));
      const best = Array.from({ length: batch }, () => ({
        ratio: Number.POSITIVE_INFINITY,
        f: 0,
        w: new Float32Array(),
        scale: 0,
      }));
      for (let j = 0; j < width; j++) {
        const chosen = Int32Array.from(candidates, (list, i) => list[j] ?? original[i] ?? 0);
        const chosenTensor = tf.tensor1d(chosen, 'int32');
        const { value, grad } = model.valueAndGrad(
          current,
          ({ logits }) =>
            tf.sub(
              tf.sum(tf.mul(logits, tf.oneHot(chosenTensor, classes)), 1),
              tf.sum(tf.mul(logits, tf.oneHot(originalTensor, classes)), 1),
            ) as tf.Tensor1D,
        );
        const f = value.dataSync();
        const w = grad.dataSync();
        tf.dispose([value, grad, chosenTensor]);
        for (let i = 0; i < batch; i++) {
          if (!active[i] || j >= (candidates[i]?.length ?? 0)) continue;
          const wi = w.subarray(i * pixels, (i + 1) * pixels) as Float32Array;
          let size = 0;
          if (o.norm === 'l2') {
            for (const value of wi) size += value * value;
            size = Math.sqrt(size);
          } else {
            for (const value of wi) size += Math.abs(value);
          }
          const ratio = Math.abs(f[i] ?? 0) / (size + 1e-12);
          const entry = best[i];
          if (entry !== undefined && ratio < entry.ratio) {
            best[i] = { ratio, f: f[i] ?? 0, w: Float32Array.from(wi), scale: size };
          }
        }
      }
      for (let i = 0; i < batch; i++) {
        const entry = best[i];
        if (!active[i] || entry === undefined || entry.scale === 0) continue;
        const magnitude =
          (Math.abs(entry.f) + 1e-4) / (o.norm === 'l2' ? entry.scale * entry.scale : entry.scale);
        for (let p = 0; p < pixels; p++) {
          const wp = entry.w[p] ?? 0;
          total[i * pixels + p] =
            (total[i * pixels + p] ?? 0) + magnitude * (o.norm === 'l2' ? wp : Math.sign(wp));
        }
      }
      const perturbation = Float32Array.from(total, (value) => value * (1 + o.overshoot));
      const next = tf.tidy(() =>
        tf.clipByValue(tf.add(x, tf.tensor(perturbation, x.shape)), bounds.lower, bounds.upper),
      ) as tf.Tensor4D;
      current.dispose();
      current = next;
    }
    originalTensor.dispose();
    return current;
  },
});
