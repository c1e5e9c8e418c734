/**
 * PGD: projected gradient descent (Madry et al., ICLR 2018), L∞ or L2, random start, restarts.
 * Defaults: 20 steps of α = 2.5·ε/steps (Madry et al.'s rule), uniform random start, one restart,
 * cross-entropy against the true label. See projected-gradient.ts for the loop.
 */
import { z } from 'zod';
import { defineAttack } from './attack.ts';
import { citations } from './citations.ts';
import {
  earlyStopOption,
  epsilonOption,
  labelOption,
  lossOption,
  normOption,
  projectedGradient,
  stepsOption,
} from './projected-gradient.ts';

const options = z
  .object({
    epsilon: epsilonOption,
    norm: normOption,
    steps: stepsOption,
    relativeStepSize: z
      .number()
      .positive()
      .optional()
      .describe('α/ε (default 2.5/steps); the step size is this times ε'),
    randomStart: z.boolean().default(true).describe('start from a uniform point of the ε-ball'),
    restarts: z.number().int().min(1).max(1000).default(1).describe('independent random restarts'),
    loss: lossOption,
    confidence: z.number().min(0).default(0).describe('κ of the margin loss'),
    label: labelOption,
    earlyStop: earlyStopOption,
  })
  .strict();

export const pgd = defineAttack({
  name: 'pgd',
  description: 'projected gradient descent, L∞ or L2, random start and restarts',
  kind: 'fixed-epsilon',
  paper: citations.pgd,
  options,
  norm: (o) => o.norm,
  epsilon: (o) => o.epsilon,
  perturb: (run) => {
    const o = run.options;
    return projectedGradient(run, {
      ...o,
      stepSize: (o.relativeStepSize ?? 2.5 / o.steps) * o.epsilon,
    });
  },
});
