/**
 * QFeat: the deep feature quantised to one bit per dimension (1 where it exceeds that dimension's
 * mean), separated by an RBF SVM with γ = 2.8 and C = 1, scored by its decision function (Ma et al.
 * 2021 §5). The per-dimension means come from the clean reference (training) features, so the
 * quantiser is fixed before any detection data is seen (the authors take the mean over the pooled
 * detection set; documented in docs/detectors.md). Not differentiable: adaptive attacks use a
 * differentiable surrogate.
 */
import { z } from 'zod';
import { detectorCitations } from './citations.ts';
import type { FeatureMatrix } from './classifiers/feature-matrix.ts';
import { type Characteristic, type DetectorStateValue, defineDetector } from './detector.ts';
import { defaultFeatureTap, tapMatrix } from './features.ts';

const options = z.object({
  tap: z.string().optional().describe("the feature tap (default: the paper's 128-d 'feature', else 'pool')"),
  gamma: z.number().positive().default(2.8).describe('RBF kernel γ (the paper: 2.8)'),
  c: z.number().positive().default(1).describe('SVM C (the paper: 1)'),
});
type Options = z.output<typeof options>;

const stateSchema = z.object({ means: z.instanceof(Float64Array) });

function columnMeans(matrix: FeatureMatrix): Float64Array {
  const means = new Float64Array(matrix.columns);
  for (let i = 0; i < matrix.rows; i++) {
    for (let j = 0; j < matrix.columns; j++)
      means[j] = (means[j] ?? 0) + (matrix.values[i * matrix.columns + j] ?? 0);
  }
  return means.map((sum) => sum / Math.max(1, matrix.rows));
}

/** 1 where a feature exceeds its dimension's mean, else 0. */
export function binarise(matrix: FeatureMatrix, means: Float64Array): FeatureMatrix {
  return {
    rows: matrix.rows,
    columns: matrix.columns,
    values: Float64Array.from(matrix.values, (value, index) =>
      value > (means[index % matrix.columns] ?? 0) ? 1 : 0,
    ),
  };
}

function quantised(tap: string, means: Float64Array): Characteristic {
  return {
    twins: (clean, adversarial) => ({
      clean: binarise(tapMatrix(clean.features, tap), means),
      adversarial: binarise(tapMatrix(adversarial.features, tap), means),
    }),
    compute: ({ features }) => binarise(tapMatrix(features, tap), means),
    toJSON: () => ({ means }),
  };
}

export const qfeat = defineDetector({
  name: 'qfeat',
  description: 'the deep feature binarised at its mean, RBF SVM (Ma et al. 2021)',
  paper: detectorCitations.medical,
  options,
  classifier: (parsed: Options) => ({ kind: 'svm', gamma: parsed.gamma, c: parsed.c }),
  scale: false,
  taps: (info, parsed: Options) => [parsed.tap ?? defaultFeatureTap(info)],
  prepare: (reference, _parsed: Options, [tap = '']) =>
    quantised(tap, columnMeans(tapMatrix(reference.features, tap))),
  restore: (state: DetectorStateValue, _parsed: Options, [tap = '']) =>
    quantised(tap, stateSchema.parse(state).means),
});
