/**
 * The four attacks of Ma et al., "Understanding adversarial attacks on deep learning based medical
 * image analysis systems" (Pattern Recognition 2021), with the paper's exact rules (SPEC.md §3):
 * untargeted, white-box, L∞, every step clipped to the image range, the last iterate kept.
 *
 * | preset     | steps | step size | random start | label in the loss        | loss                       |
 * | paper-fgsm | 1     | ε         | no           | model's clean prediction | cross-entropy              |
 * | paper-bim  | 20    | ε/20      | no           | model's clean prediction | cross-entropy              |
 * | paper-pgd  | 20    | ε/10      | uniform      | model's clean prediction | cross-entropy              |
 * | paper-cw   | 20    | ε/10      | no           | ground truth             | margin, κ = 100            |
 *
 * Only ε is an option; everything else is fixed so a result can be compared with the paper's.
 */
import { z } from 'zod';
import { defineAttack } from './attack.ts';
import { citations } from './citations.ts';
import { epsilonOption, type ProjectedGradientSettings, projectedGradient } from './projected-gradient.ts';

const options = z.object({ epsilon: epsilonOption }).strict();

function preset(
  name: string,
  description: string,
  rules: Omit<ProjectedGradientSettings, 'epsilon' | 'stepSize'> & { relativeStepSize: number },
) {
  return defineAttack({
    name,
    description,
    kind: 'fixed-epsilon',
    paper: citations.ma2021,
    options,
    norm: () => 'linf',
    epsilon: (o) => o.epsilon,
    perturb: (run) =>
      projectedGradient(run, {
        ...rules,
        epsilon: run.options.epsilon,
        stepSize: rules.relativeStepSize * run.options.epsilon,
      }),
  });
}

const common = { norm: 'linf', restarts: 1, confidence: 0, earlyStop: false } as const;

export const paperFgsm = preset(
  'paper-fgsm',
  "Ma et al. 2021's FGSM: one step of ε on the clean prediction",
  {
    ...common,
    steps: 1,
    relativeStepSize: 1,
    randomStart: false,
    loss: 'cross-entropy',
    label: 'prediction',
  },
);

export const paperBim = preset(
  'paper-bim',
  "Ma et al. 2021's BIM: 20 steps of ε/20 on the clean prediction",
  {
    ...common,
    steps: 20,
    relativeStepSize: 1 / 20,
    randomStart: false,
    loss: 'cross-entropy',
    label: 'prediction',
  },
);

export const paperPgd = preset('paper-pgd', "Ma et al. 2021's PGD: 20 steps of ε/10 from a random start", {
  ...common,
  steps: 20,
  relativeStepSize: 1 / 10,
  randomStart: true,
  loss: 'cross-entropy',
  label: 'prediction',
});

export const paperCw = preset(
  'paper-cw',
  "Ma et al. 2021's CW-L∞: 20 steps of ε/10, margin loss with κ = 100",
  {
    ...common,
    steps: 20,
    relativeStepSize: 1 / 10,
    randomStart: false,
    loss: 'margin',
    confidence: 100,
    label: 'truth',
  },
);
