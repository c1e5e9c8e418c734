/**
 * Accuracy-vs-ε curves (Ma et al. 2021 Fig. 3; SPEC.md §4) from `medrobust attack` results: one
 * panel per attack with one curve per results file (a dataset or a model), and one panel per results
 * file with one curve per attack plus the per-image worst case. ε = 0 is the clean accuracy; the ε
 * axis is symmetric-log in units of 1/255 so the paper's 0.1…1 grid and 2, 4, 8 all stay readable.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { RobustnessResultsFile } from './robustness-schema.ts';

/** What the curves read of a robustness results file (or of a run's attack units). */
export interface CurveResults {
  readonly clean: { readonly accuracy: number };
  readonly entries: readonly Pick<
    RobustnessResultsFile['entries'][number],
    'attack' | 'epsilon' | 'adversarialAccuracy' | 'adversarialAccuracyOnCorrect'
  >[];
  readonly worstCase: readonly Pick<
    RobustnessResultsFile['worstCase'][number],
    'epsilon' | 'adversarialAccuracy' | 'adversarialAccuracyOnCorrect'
  >[];
}

export interface CurveSeries {
  readonly name: string;
  readonly results: CurveResults;
}

export interface CurvePoint {
  readonly series: string;
  readonly attack: string;
  /** ε × 255. */
  readonly epsilon: number;
  /** Accuracy on all evaluated images. */
  readonly accuracy: number;
  /** Accuracy on the images the model classified correctly before the attack. */
  readonly accuracyOnCorrect: number;
}

export const worstCaseName = 'worst case';

export function curvePoints(series: readonly CurveSeries[]): CurvePoint[] {
  const points: CurvePoint[] = [];
  for (const { name, results } of series) {
    const attacks = [...new Set(results.entries.map((entry) => entry.attack))];
    const clean = (attack: string): CurvePoint => ({
      series: name,
      attack,
      epsilon: 0,
      accuracy: results.clean.accuracy,
      accuracyOnCorrect: 1,
    });
    for (const attack of attacks) {
      points.push(clean(attack));
      for (const entry of results.entries.filter((candidate) => candidate.attack === attack)) {
        points.push({
          series: name,
          attack,
          epsilon: entry.epsilon * 255,
          accuracy: entry.adversarialAccuracy,
          accuracyOnCorrect: entry.adversarialAccuracyOnCorrect,
        });
      }
    }
    if (attacks.length > 1 && results.worstCase.length > 0) {
      points.push(clean(worstCaseName));
      for (const worst of results.worstCase) {
        points.push({
          series: name,
          attack: worstCaseName,
          epsilon: worst.epsilon * 255,
          accuracy: worst.adversarialAccuracy,
          accuracyOnCorrect: worst.adversarialAccuracyOnCorrect,
        });
      }
    }
  }
  return points.sort((a, b) => a.epsilon - b.epsilon);
}

/** The ε axis' labelled values (×1/255): the paper's grid to 8, then doublings up to the largest ε plotted. */
export function epsilonTicks(largest: number): number[] {
  const ticks = [0, 0.1, 0.2, 0.5, 1, 2, 4, 8];
  for (let tick = 16; tick <= largest * (1 + 1e-9) && tick <= 256; tick *= 2) ticks.push(tick);
  return ticks;
}

/** Small multiples: one panel per `panel` value, one coloured line per `line` value. */
export function accuracyCurvesSpec(
  points: readonly CurvePoint[],
  panel: 'attack' | 'series',
  title: string,
): TopLevelSpec {
  const line = panel === 'attack' ? 'series' : 'attack';
  const panels = new Set(points.map((point) => point[panel])).size;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    data: { values: points.map((point) => ({ ...point, accuracy: point.accuracy * 100 })) },
    facet: { field: panel, type: 'nominal', title: null, sort: null },
    columns: Math.min(4, panels),
    spec: {
      width: 220,
      height: 180,
      mark: { type: 'line', point: true },
      encoding: {
        x: {
          field: 'epsilon',
          type: 'quantitative',
          title: 'ε (×1/255)',
          scale: { type: 'symlog', constant: 0.1 },
          axis: { values: epsilonTicks(Math.max(0, ...points.map((point) => point.epsilon))), format: '~g' },
        },
        y: { field: 'accuracy', type: 'quantitative', title: 'accuracy (%)', scale: { domain: [0, 100] } },
        color: {
          field: line,
          type: 'nominal',
          title: line === 'series' ? 'data / model' : 'attack',
          sort: null,
        },
        tooltip: [
          { field: 'series' },
          { field: 'attack' },
          { field: 'epsilon', format: '.2f' },
          { field: 'accuracy', format: '.1f' },
        ],
      },
    },
    resolve: { scale: { color: 'shared' } },
  };
}

/** The smallest ε (×255) at which accuracy falls to half the clean accuracy or below, by linear interpolation; null if never. */
export function halvingEpsilon(points: readonly CurvePoint[]): number | null {
  const sorted = [...points].sort((a, b) => a.epsilon - b.epsilon);
  const clean = sorted.find((point) => point.epsilon === 0)?.accuracy ?? sorted[0]?.accuracy;
  if (clean === undefined) return null;
  const half = clean / 2;
  for (let i = 1; i < sorted.length; i++) {
    const previous = sorted[i - 1] as CurvePoint;
    const current = sorted[i] as CurvePoint;
    if (current.accuracy <= half) {
      if (previous.accuracy === current.accuracy) return current.epsilon;
      const t = (previous.accuracy - half) / (previous.accuracy - current.accuracy);
      return previous.epsilon + t * (current.epsilon - previous.epsilon);
    }
  }
  return null;
}
