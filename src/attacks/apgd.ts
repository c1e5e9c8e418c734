/**
 * APGD-CE and APGD-DLR: auto-PGD (Croce & Hein, "Reliable evaluation of adversarial robustness with
 * an ensemble of diverse parameter-free attacks", ICML 2020, Algorithm 1), L∞ or L2.
 *
 * A step-size-free PGD with momentum: η starts at 2ε; each iteration
 *   z = P(x_k + η·d(∇f(x_k))),  x_{k+1} = P(x_k + α(z − x_k) + (1 − α)(x_k − x_{k−1})), α = 0.75,
 * and at the checkpoints w_j (p₀ = 0, p₁ = 0.22, p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06),
 * w_j = ⌈p_j·N⌉) η is halved and the iterate reset to the best point so far when (1) the loss rose
 * in fewer than ρ = 0.75 of the steps since the last checkpoint, or (2) η and the best loss are both
 * unchanged since then. Everything is per image. The result is, per image, the first point that
 * reaches the goal, else the point of highest loss. With two classes `apgd-dlr` uses the two-class
 * DLR variant of losses.ts.
 *
 * Threat model: white-box, untargeted or targeted (APGD-T uses the targeted DLR).
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { goalReached } from '../core/goal.ts';
import { ascentDirection, type Norm, projectToBall, randomInBall } from '../core/norms.ts';
import type { Objective } from '../engine/contracts.ts';
import { type AttackRun, defineAttack } from './attack.ts';
import { citations } from './citations.ts';
import { attackLoss, cleanMarginScale, type LossName } from './losses.ts';
import { epsilonOption, normOption, perImage } from './projected-gradient.ts';

const options = z
  .object({
    epsilon: epsilonOption,
    norm: normOption,
    steps: z.number().int().min(1).max(100_000).default(100).describe('iterations N'),
    restarts: z.number().int().min(1).max(1000).default(1).describe('random restarts'),
    randomStart: z.boolean().default(true).describe('start from a uniform point of the ε-ball'),
  })
  .strict();

type Options = z.output<typeof options>;

/**
 * The checkpoint iterations w_j for N steps, in whole iterations as AutoAttack computes them: the
 * first interval ⌊0.22N⌋, each next one 3 % of N shorter, never below ⌊0.06N⌋ (at least 1).
 */
export function apgdCheckpoints(steps: number): number[] {
  const shrink = Math.max(Math.floor(0.03 * steps), 1);
  const shortest = Math.max(Math.floor(0.06 * steps), 1);
  let interval = Math.max(Math.floor(0.22 * steps), 1);
  const checkpoints = [0];
  for (let at = interval; at <= steps; at += interval) {
    checkpoints.push(at);
    interval = Math.max(interval - shrink, shortest);
  }
  return checkpoints;
}

function apgd(run: AttackRun<Options>, loss: LossName): tf.Tensor4D {
  const { model, x, labels, goal, bounds, options: o } = run;
  const batch = labels.length;
  const norm: Norm = o.norm;
  const labelTensor = tf.tensor1d(labels, 'int32');
  const targetTensor = goal.kind === 'targeted' ? tf.tensor1d(goal.targets, 'int32') : undefined;
  const marginScale = cleanMarginScale(loss, model, x, labelTensor);
  const clip = (t: tf.Tensor) => tf.clipByValue(t, bounds.lower, bounds.upper) as tf.Tensor4D;
  const project = (t: tf.Tensor4D) => clip(projectToBall(norm, t, x, o.epsilon));
  const checkpoints = apgdCheckpoints(o.steps);

  /** Loss per image, its gradient, and whether each image reaches the goal. */
  const evaluate = (point: tf.Tensor4D) => {
    let predictions = new Int32Array(batch);
    const objective: Objective = ({ logits }) => {
      predictions = Int32Array.from(tf.argMax(logits, 1).dataSync());
      return attackLoss(
        { loss, confidence: 0, ...(marginScale === undefined ? {} : { cleanMarginScale: marginScale }) },
        logits,
        labelTensor,
        targetTensor,
      );
    };
    const { value, grad } = model.valueAndGrad(point, objective);
    const values = Float32Array.from(value.dataSync());
    value.dispose();
    return { values, grad, reached: goalReached(goal, predictions, labels) };
  };

  let result = tf.clone(x);
  const found = new Uint8Array(batch);
  try {
    for (let restart = 0; restart < o.restarts && found.some((value) => !value); restart++) {
      let current = tf.tidy(() =>
        o.randomStart ? clip(randomInBall(norm, x, o.epsilon, run.seed + 7919 * restart)) : tf.clone(x),
      );
      let best = tf.clone(current);
      let { values: currentLoss, grad, reached } = evaluate(current);
      const bestLoss = Float32Array.from(currentLoss);
      const stepSize = new Float32Array(batch).fill(2 * o.epsilon);
      const adopt = (point: tf.Tensor4D, reachedNow: Uint8Array) => {
        const take = Array.from(reachedNow, (value, index) => (value && !found[index] ? 1 : 0));
        if (take.some(Boolean)) {
          const merged = tf.tidy(() => tf.where(perImage(take), point, result) as tf.Tensor4D);
          result.dispose();
          result = merged;
          take.forEach((value, index) => {
            if (value) found[index] = 1;
          });
        }
      };
      adopt(current, reached);
      let previous = tf.clone(current);
      // Checkpoint bookkeeping: loss increases since the last checkpoint, η and best loss then.
      let increases = new Float32Array(batch);
      let lastCheckpoint = 0;
      let stepSizeAtCheckpoint = Float32Array.from(stepSize);
      let bestLossAtCheckpoint = Float32Array.from(bestLoss);
      for (let k = 0; k < o.steps; k++) {
        const momentum = k === 0 ? 1 : 0.75;
        const next = tf.tidy(() => {
          const eta = tf.tensor4d(stepSize, [batch, 1, 1, 1]);
          const z = project(tf.add(current, tf.mul(ascentDirection(norm, grad), eta)) as tf.Tensor4D);
          const moved = tf.add(
            tf.add(current, tf.mul(tf.sub(z, current), momentum)),
            tf.mul(tf.sub(current, previous), 1 - momentum),
          ) as tf.Tensor4D;
          return project(moved);
        });
        grad.dispose();
        previous.dispose();
        previous = current;
        current = next;
        const evaluated = evaluate(current);
        grad = evaluated.grad;
        adopt(current, evaluated.reached);
        const improved: number[] = [];
        for (let i = 0; i < batch; i++) {
          const value = evaluated.values[i] ?? Number.NEGATIVE_INFINITY;
          if (value > (currentLoss[i] ?? Number.NEGATIVE_INFINITY)) increases[i] = (increases[i] ?? 0) + 1;
          const better = value > (bestLoss[i] ?? Number.NEGATIVE_INFINITY);
          improved.push(better ? 1 : 0);
          if (better) bestLoss[i] = value;
        }
        currentLoss = evaluated.values;
        if (improved.some(Boolean)) {
          const merged = tf.tidy(() => tf.where(perImage(improved), current, best) as tf.Tensor4D);
          best.dispose();
          best = merged;
        }
        if (checkpoints.includes(k + 1) && k + 1 > lastCheckpoint && k + 1 < o.steps) {
          const interval = k + 1 - lastCheckpoint;
          const reset: number[] = [];
          for (let i = 0; i < batch; i++) {
            const fewIncreases = (increases[i] ?? 0) < 0.75 * interval;
            const stalled =
              stepSizeAtCheckpoint[i] === stepSize[i] && bestLossAtCheckpoint[i] === bestLoss[i];
            const halve = fewIncreases || stalled;
            reset.push(halve ? 1 : 0);
            if (halve) stepSize[i] = (stepSize[i] ?? 0) / 2;
          }
          if (reset.some(Boolean)) {
            const restored = tf.tidy(() => tf.where(perImage(reset), best, current) as tf.Tensor4D);
            current.dispose();
            current = restored;
            grad.dispose();
            const again = evaluate(current);
            grad = again.grad;
            currentLoss = again.values;
          }
          increases = new Float32Array(batch);
          lastCheckpoint = k + 1;
          stepSizeAtCheckpoint = Float32Array.from(stepSize);
          bestLossAtCheckpoint = Float32Array.from(bestLoss);
        }
      }
      grad.dispose();
      previous.dispose();
      current.dispose();
      // Images never fooled take this restart's highest-loss point.
      const keep = Array.from(found, (value) => (value ? 0 : 1));
      const merged = tf.tidy(() => tf.where(perImage(keep), best, result) as tf.Tensor4D);
      result.dispose();
      best.dispose();
      result = merged;
    }
    return result;
  } finally {
    tf.dispose([labelTensor, ...(targetTensor === undefined ? [] : [targetTensor])]);
    marginScale?.dispose();
  }
}

export const apgdCe = defineAttack({
  name: 'apgd-ce',
  description: 'auto-PGD on the cross-entropy (step size adapted per image; AutoAttack)',
  kind: 'fixed-epsilon',
  paper: citations.apgd,
  options,
  norm: (o) => o.norm,
  epsilon: (o) => o.epsilon,
  perturb: (run) => apgd(run, 'cross-entropy'),
});

export const apgdDlr = defineAttack({
  name: 'apgd-dlr',
  description: 'auto-PGD on the difference-of-logits-ratio loss (a two-class variant for binary models)',
  kind: 'fixed-epsilon',
  paper: citations.apgd,
  options,
  norm: (o) => o.norm,
  epsilon: (o) => o.epsilon,
  perturb: (run) => apgd(run, 'dlr'),
});
