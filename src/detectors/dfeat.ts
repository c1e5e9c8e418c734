/**
 * DFeat: the raw deep feature as the characteristic, separated by a random forest of 30 trees
 * (Ma et al. 2021 §5: adversarial features of medical images lie outside the clean feature
 * distribution, so even a plain classifier on the feature detects them). Not differentiable: adaptive
 * attacks use a differentiable surrogate (logistic regression on the same feature).
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { detectorCitations } from './citations.ts';
import { type Characteristic, defineDetector } from './detector.ts';
import { defaultFeatureTap, pooledTaps, tapMatrix } from './features.ts';

const options = z.object({
  tap: z.string().optional().describe("the feature tap (default: the paper's 128-d 'feature', else 'pool')"),
  trees: z.number().int().min(1).max(1000).default(30).describe('trees in the forest (the paper: 30)'),
});
type Options = z.output<typeof options>;

export const dfeat = defineDetector({
  name: 'dfeat',
  description: 'the raw deep feature, random forest (Ma et al. 2021)',
  paper: detectorCitations.medical,
  options,
  classifier: (parsed: Options) => ({ kind: 'random-forest', trees: parsed.trees }),
  scale: false,
  taps: (info, parsed: Options) => [parsed.tap ?? defaultFeatureTap(info)],
  prepare: (_reference, _parsed: Options, [tap = '']) => rawFeature(tap),
  restore: (_state, _parsed: Options, [tap = '']) => rawFeature(tap),
});

function rawFeature(tap: string): Characteristic {
  return {
    twins: (clean, adversarial) => ({
      clean: tapMatrix(clean.features, tap),
      adversarial: tapMatrix(adversarial.features, tap),
    }),
    compute: ({ features }) => tapMatrix(features, tap),
    tensor: (outputs) => tf.tidy(() => pooledTaps(outputs, [tap]).get(tap) as tf.Tensor2D),
    toJSON: () => null,
  };
}
