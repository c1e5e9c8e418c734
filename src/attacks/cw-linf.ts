/**
 * CW-L∞: Carlini & Wagner's margin objective (S&P 2017, f₆ with confidence κ) optimised by the
 * projected-gradient loop under an L∞ budget, as in Ma et al. 2021 (and Madry et al.'s "CW-PGD").
 * Defaults: 20 steps of ε/10, no random start, true label, κ = 0 (the paper's preset uses κ = 100).
 */
import { z } from 'zod';
import { defineAttack } from './attack.ts';
import { citations } from './citations.ts';
import {
  earlyStopOption,
  epsilonOption,
  labelOption,
  projectedGradient,
  stepsOption,
} from './projected-gradient.ts';

const options = z
  .object({
    epsilon: epsilonOption,
    steps: stepsOption,
    relativeStepSize: z.number().positive().default(0.1).describe('α/ε'),
    confidence: z.number().min(0).default(0).describe('κ: how far past the decision boundary to push'),
    randomStart: z.boolean().default(false).describe('start from a uniform point of the ε-ball'),
    label: labelOption,
    earlyStop: earlyStopOption,
  })
  .strict();

export const cwLinf = defineAttack({
  name: 'cw-linf',
  description: 'Carlini–Wagner margin loss with confidence κ, projected gradient under L∞',
  kind: 'fixed-epsilon',
  paper: citations.cw,
  options,
  norm: () => 'linf',
  epsilon: (o) => o.epsilon,
  perturb: (run) => {
    const o = run.options;
    return projectedGradient(run, {
      ...o,
      norm: 'linf',
      stepSize: o.relativeStepSize * o.epsilon,
      restarts: 1,
      loss: 'margin',
    });
  },
});
