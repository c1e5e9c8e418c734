/**
 * CW-L2 (Carlini & Wagner, "Towards evaluating the robustness of neural networks", IEEE S&P 2017,
 * §V.A): minimise ‖x′ − x‖₂² + c·f(x′) over w, with x′ = lo + (hi − lo)(tanh(w) + 1)/2 (the box
 * constraint as a change of variables) and f the margin hinge
 *   untargeted max(z_y − max_{j≠y} z_j + κ, 0), targeted max(max_{j≠t} z_j − z_t + κ, 0),
 * by Adam (learning rate 0.01) for `steps` iterations, inside a per-image binary search on c
 * (`searchSteps` rounds from `initialConstant`: ×10 while no success, bisection after). The result
 * is, per image, the smallest-L2 point that reached the goal (the clean image when none did).
 *
 * Threat model: white-box; minimisation (no ε): the evaluation reads the perturbation size.
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { goalReached } from '../core/goal.ts';
import { defineAttack } from './attack.ts';
import { citations } from './citations.ts';
import { logitMargin } from './losses.ts';
import { labelOption, perImage } from './projected-gradient.ts';

const options = z
  .object({
    steps: z.number().int().min(1).max(100_000).default(100).describe('Adam iterations per search round'),
    searchSteps: z.number().int().min(1).max(50).default(5).describe('binary-search rounds on c'),
    initialConstant: z.number().positive().default(0.01).describe('c of the first round'),
    learningRate: z.number().positive().default(0.01).describe('Adam learning rate'),
    confidence: z.number().min(0).default(0).describe('κ'),
    label: labelOption,
  })
  .strict();

export const cwL2 = defineAttack({
  name: 'cw-l2',
  description: 'Carlini–Wagner L2: tanh box, Adam, binary search on c (minimisation attack)',
  kind: 'minimization',
  paper: citations.cw,
  options,
  norm: () => 'l2',
  perturb: (run) => {
    const { model, x, labels, goal, bounds, options: o } = run;
    const batch = labels.length;
    const range = bounds.upper - bounds.lower;
    const lossLabels =
      o.label === 'prediction'
        ? tf.tidy(() => Int32Array.from(tf.argMax(model.predict(x).logits, 1).dataSync()))
        : labels;
    const labelTensor = tf.tensor1d(lossLabels, 'int32');
    const targetTensor = goal.kind === 'targeted' ? tf.tensor1d(goal.targets, 'int32') : undefined;
    // w₀ = atanh of the clean image mapped to (−1, 1), kept off ±1.
    const start = tf.tidy(() =>
      tf.atanh(
        tf.clipByValue(tf.sub(tf.mul(tf.div(tf.sub(x, bounds.lower), range), 2), 1), -1 + 1e-6, 1 - 1e-6),
      ),
    );
    const toImage = (w: tf.Tensor) =>
      tf.add(tf.mul(tf.div(tf.add(tf.tanh(w), 1), 2), range), bounds.lower) as tf.Tensor4D;
    const constant = new Float32Array(batch).fill(o.initialConstant);
    const lower = new Float32Array(batch);
    const upper = new Float32Array(batch).fill(1e10);
    const bestDistance = new Float32Array(batch).fill(Number.POSITIVE_INFINITY);
    let best = tf.clone(x);
    try {
      for (let round = 0; round < o.searchSteps; round++) {
        let w = tf.clone(start);
        let first = tf.zerosLike(w);
        let second = tf.zerosLike(w);
        const succeeded = new Uint8Array(batch);
        const c = tf.tensor1d(constant);
        for (let step = 1; step <= o.steps; step++) {
          const image = toImage(w);
          let predictions = new Int32Array(batch);
          const { value, grad } = model.valueAndGrad(image, ({ logits }) => {
            predictions = Int32Array.from(tf.argMax(logits, 1).dataSync());
            const margin =
              targetTensor === undefined
                ? logitMargin(logits, labelTensor)
                : tf.neg(logitMargin(logits, targetTensor));
            return tf.mul(c, tf.relu(tf.add(margin, o.confidence))) as tf.Tensor1D;
          });
          value.dispose();
          // Track the smallest successful perturbation (judged at this iterate).
          const distances = tf.tidy(() =>
            tf.sum(tf.square(tf.reshape(tf.sub(image, x), [batch, -1])), 1).dataSync(),
          );
          const reached = goalReached(goal, predictions, labels);
          const improve = Array.from(reached, (hit, i) =>
            hit && (distances[i] ?? Number.POSITIVE_INFINITY) < (bestDistance[i] ?? 0) ? 1 : 0,
          );
          reached.forEach((hit, i) => {
            if (hit) succeeded[i] = 1;
            if (improve[i]) bestDistance[i] = distances[i] ?? 0;
          });
          if (improve.some(Boolean)) {
            const merged = tf.tidy(() => tf.where(perImage(improve), image, best) as tf.Tensor4D);
            best.dispose();
            best = merged;
          }
          // ∂/∂w of ‖x′ − x‖² + c·f: (2(x′ − x) + ∂(c·f)/∂x′) · (1 − tanh²w)·range/2; then Adam.
          const [nextW, nextFirst, nextSecond] = tf.tidy(() => {
            const dImage = tf.add(tf.mul(tf.sub(image, x), 2), grad);
            const dw = tf.mul(dImage, tf.mul(tf.sub(1, tf.square(tf.tanh(w))), range / 2));
            const m = tf.add(tf.mul(first, 0.9), tf.mul(dw, 0.1));
            const v = tf.add(tf.mul(second, 0.999), tf.mul(tf.square(dw), 0.001));
            const mHat = tf.div(m, 1 - 0.9 ** step);
            const vHat = tf.div(v, 1 - 0.999 ** step);
            return [tf.sub(w, tf.mul(o.learningRate, tf.div(mHat, tf.add(tf.sqrt(vHat), 1e-8)))), m, v];
          });
          tf.dispose([image, grad, w, first, second]);
          w = nextW as tf.Tensor4D;
          first = nextFirst as tf.Tensor4D;
          second = nextSecond as tf.Tensor4D;
        }
        tf.dispose([w, first, second, c]);
        for (let i = 0; i < batch; i++) {
          const current = constant[i] ?? o.initialConstant;
          if (succeeded[i]) {
            upper[i] = Math.min(upper[i] ?? 1e10, current);
            constant[i] = ((lower[i] ?? 0) + (upper[i] ?? 0)) / 2;
          } else {
            lower[i] = Math.max(lower[i] ?? 0, current);
            constant[i] = (upper[i] ?? 1e10) < 1e9 ? ((lower[i] ?? 0) + (upper[i] ?? 0)) / 2 : current * 10;
          }
        }
      }
      return best;
    } finally {
      tf.dispose([start, labelTensor, ...(targetTensor === undefined ? [] : [targetTensor])]);
    }
  },
});
