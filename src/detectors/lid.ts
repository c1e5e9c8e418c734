/**
 * LID: local intrinsic dimensionality of the deep features (Ma et al., ICLR 2018; Ma et al. 2021 §5,
 * SPEC.md §5). The characteristic of an image is the LID of its feature among clean neighbours, one
 * value per tap; classifier: logistic regression on the min-max-scaled characteristics.
 *
 * - `twins` follows the authors: the clean samples in consecutive minibatches of `batchSize` (100);
 *   each clean sample's and each adversarial twin's neighbours come from the clean minibatch (k = 20,
 *   the nearest skipped, local-intrinsic-dimensionality.ts).
 * - `compute` (new inputs) uses a stored clean reference minibatch: the first `batchSize` reference
 *   (training) images.
 *
 * Two registered presets: `lid` is the authors' code (TLE on the feature layer) and `lid-mle` the
 * paper's text (MLE over the stage outputs and the feature layer). Not differentiable here: adaptive
 * attacks use a differentiable surrogate.
 */
import { z } from 'zod';
import { detectorCitations } from './citations.ts';
import type { FeatureMatrix } from './classifiers/feature-matrix.ts';
import { type Characteristic, type DetectorStateValue, defineDetector } from './detector.ts';
import { defaultFeatureTap, type FeatureSet, selectFeatureRows, stageTaps, tapMatrix } from './features.ts';
import { type LidEstimator, lidAgainst, lidEstimators } from './local-intrinsic-dimensionality.ts';

function optionsFor(estimator: LidEstimator, layers: 'feature' | 'stages') {
  return z.object({
    taps: z
      .array(z.string())
      .min(1)
      .optional()
      .describe(
        layers === 'feature'
          ? "taps to estimate LID on (default: the feature layer, 'feature' or 'pool')"
          : 'taps to estimate LID on (default: every stage output and the feature layer)',
      ),
    estimator: z
      .enum(lidEstimators)
      .default(estimator)
      .describe('mle (Levina–Bickel) or tle (Amsaleg et al. 2019)'),
    k: z.number().int().min(1).max(1000).default(20).describe('neighbours (the paper: 20)'),
    batchSize: z
      .number()
      .int()
      .min(2)
      .max(100_000)
      .default(100)
      .describe('minibatch of clean neighbours (the paper: 100)'),
  });
}

interface Settings {
  readonly estimator: LidEstimator;
  readonly k: number;
  readonly batchSize: number;
}

const stateSchema = z.object({
  reference: z.array(
    z.object({ rows: z.number().int(), columns: z.number().int(), values: z.instanceof(Float64Array) }),
  ),
});

function columnsOf(perTap: readonly Float64Array[], rows: number): FeatureMatrix {
  const columns = perTap.length;
  const values = new Float64Array(rows * columns);
  perTap.forEach((column, j) => {
    for (let i = 0; i < rows; i++) values[i * columns + j] = column[i] ?? 0;
  });
  return { rows, columns, values };
}

function characteristic(
  reference: readonly FeatureMatrix[],
  taps: readonly string[],
  settings: Settings,
): Characteristic {
  const against = (referenceSet: readonly FeatureMatrix[], queries: FeatureSet): FeatureMatrix =>
    columnsOf(
      taps.map((tap, t) =>
        lidAgainst(referenceSet[t] as FeatureMatrix, tapMatrix(queries, tap), settings.k, settings.estimator),
      ),
      queries.predictions.length,
    );
  return {
    twins: (clean, adversarial) => {
      const count = clean.features.predictions.length;
      const cleanValues = new Float64Array(count * taps.length);
      const adversarialValues = new Float64Array(count * taps.length);
      for (let start = 0; start < count; start += settings.batchSize) {
        const indices = Array.from(
          { length: Math.min(settings.batchSize, count - start) },
          (_, i) => start + i,
        );
        const cleanBatch = selectFeatureRows(clean.features, indices);
        const adversarialBatch = selectFeatureRows(adversarial.features, indices);
        const neighbours = taps.map((tap) => tapMatrix(cleanBatch, tap));
        cleanValues.set(against(neighbours, cleanBatch).values, start * taps.length);
        adversarialValues.set(against(neighbours, adversarialBatch).values, start * taps.length);
      }
      return {
        clean: { rows: count, columns: taps.length, values: cleanValues },
        adversarial: { rows: count, columns: taps.length, values: adversarialValues },
      };
    },
    compute: ({ features }) => against(reference, features),
    toJSON: () =>
      ({ reference: reference.map((matrix) => ({ ...matrix })) }) as unknown as DetectorStateValue,
  };
}

function lidDetector(
  name: string,
  description: string,
  estimator: LidEstimator,
  layers: 'feature' | 'stages',
) {
  const options = optionsFor(estimator, layers);
  type Options = z.output<typeof options>;
  return defineDetector({
    name,
    description,
    paper: detectorCitations.lid,
    options,
    classifier: () => ({ kind: 'logistic-regression' }),
    scale: true,
    taps: (info, parsed: Options) =>
      parsed.taps ?? (layers === 'feature' ? [defaultFeatureTap(info)] : stageTaps(info)),
    prepare: (reference, parsed: Options, taps) => {
      const count = Math.min(parsed.batchSize, reference.labels.length);
      const batch = selectFeatureRows(
        reference.features,
        Array.from({ length: count }, (_, i) => i),
      );
      return characteristic(
        taps.map((tap) => tapMatrix(batch, tap)),
        taps,
        parsed,
      );
    },
    restore: (state: DetectorStateValue, parsed: Options, taps) =>
      characteristic(stateSchema.parse(state).reference, taps, parsed),
  });
}

export const lid = lidDetector(
  'lid',
  "local intrinsic dimensionality, TLE on the feature layer (the authors' code; Ma et al. 2018)",
  'tle',
  'feature',
);
export const lidMle = lidDetector(
  'lid-mle',
  "local intrinsic dimensionality, MLE over the stage outputs (the paper's text; Ma et al. 2018)",
  'mle',
  'stages',
);
