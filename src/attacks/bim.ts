/**
 * BIM: the basic iterative method (Kurakin et al., ICLR workshop 2017): FGSM repeated with a small
 * step, clipped to the ε-ball and the image range after every step, no random start.
 * Defaults: 20 steps of α = ε/20 (the paper's setting, Ma et al. 2021 §3).
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
    relativeStepSize: z.number().positive().optional().describe('α/ε (default 1/steps)'),
    loss: lossOption,
    label: labelOption,
    earlyStop: earlyStopOption,
  })
  .strict();

export const bim = defineAttack({
  name: 'bim',
  description: 'basic iterative method: FGSM steps of ε/steps, clipped every step',
  kind: 'fixed-epsilon',
  paper: citations.bim,
  options,
  norm: (o) => o.norm,
  epsilon: (o) => o.epsilon,
  perturb: (run) => {
    const o = run.options;
    return projectedGradient(run, {
      ...o,
      stepSize: (o.relativeStepSize ?? 1 / o.steps) * o.epsilon,
      randomStart: false,
      restarts: 1,
      confidence: 0,
    });
  },
});
