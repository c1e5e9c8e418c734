/**
 * FGSM: the fast gradient sign method (Goodfellow et al., ICLR 2015), one step of size ε along the
 * sign of the loss gradient (L∞), or of the normalised gradient (the L2 "fast gradient method").
 */
import { z } from 'zod';
import { defineAttack } from './attack.ts';
import { citations } from './citations.ts';
import {
  epsilonOption,
  labelOption,
  lossOption,
  normOption,
  projectedGradient,
} from './projected-gradient.ts';

const options = z
  .object({ epsilon: epsilonOption, norm: normOption, loss: lossOption, label: labelOption })
  .strict();

export const fgsm = defineAttack({
  name: 'fgsm',
  description: 'fast gradient sign method: one step of size ε',
  kind: 'fixed-epsilon',
  paper: citations.fgsm,
  options,
  norm: (o) => o.norm,
  epsilon: (o) => o.epsilon,
  perturb: (run) =>
    projectedGradient(run, {
      ...run.options,
      steps: 1,
      stepSize: run.options.epsilon,
      randomStart: false,
      restarts: 1,
      confidence: 0,
      earlyStop: false,
    }),
});
