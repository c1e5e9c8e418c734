/**
 * `medrobust analyze saliency`: the paper's gradient map, SmoothGrad and integrated gradients for the
 * first N test images, with the scale-free statistics of src/analysis/saliency.ts, optionally for a
 * second model and dataset (claim 2 of SPEC.md: medical against natural images). Writes
 * saliency-<method>.png|svg (one panel per method, the same fixed colour range for every image),
 * saliency-statistics.png|svg and saliency.json.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  gradientSaliency,
  integratedGradients,
  mapOf,
  type SaliencyMaps,
  type SaliencyStatistics,
  saliencyStatistics,
  smoothGradSaliency,
} from '../../../src/analysis/saliency.ts';
import { renderChart } from '../../../src/report/charts.ts';
import { type PanelSpec, renderPanel } from '../../../src/report/panels.ts';
import { writeAtomically } from '../../files.ts';
import {
  type AnalysisSubject,
  concatenate,
  inBatches,
  mean,
  normalised,
  standardDeviation,
  writeFigure,
} from './shared.ts';

export const saliencyMethods = ['gradient', 'smoothgrad', 'integrated-gradients'] as const;
export type SaliencyMethod = (typeof saliencyMethods)[number];

const methodTitles: Record<SaliencyMethod, string> = {
  gradient: 'gradient |Σ_c ∂CE/∂x_c|',
  smoothgrad: 'SmoothGrad',
  'integrated-gradients': 'integrated gradients |Σ_c IG_c|',
};

export interface SaliencySettings {
  readonly methods: readonly SaliencyMethod[];
  readonly threshold: number;
  readonly smoothGradSamples: number;
  readonly smoothGradNoise: number;
  readonly integratedGradientsSteps: number;
  readonly batch: number;
  readonly seed: number;
  /** Images per dataset drawn in the panels. */
  readonly show: number;
}

function computeMaps(
  subject: AnalysisSubject,
  method: SaliencyMethod,
  settings: SaliencySettings,
): SaliencyMaps {
  const parts = inBatches(subject.set, settings.batch, (x, labels) => {
    const batchLabels = Int32Array.from(labels);
    if (method === 'gradient') return gradientSaliency(subject.classifier, x, batchLabels);
    if (method === 'smoothgrad') {
      return smoothGradSaliency(subject.classifier, x, batchLabels, {
        samples: settings.smoothGradSamples,
        noise: settings.smoothGradNoise,
        seed: settings.seed,
      });
    }
    return integratedGradients(subject.classifier, x, batchLabels, {
      steps: settings.integratedGradientsSteps,
    }).maps;
  });
  const [, height, width] = subject.set.shape;
  return {
    values: concatenate(parts.map((part) => part.values)),
    count: subject.set.shape[0],
    height,
    width,
  };
}

interface Summary {
  readonly mean: number;
  readonly standardDeviation: number;
}

function summarize(statistics: readonly SaliencyStatistics[]): Record<keyof SaliencyStatistics, Summary> {
  const of = (key: keyof SaliencyStatistics) => {
    const values = statistics.map((entry) => entry[key]);
    return { mean: mean(values), standardDeviation: standardDeviation(values) };
  };
  return {
    aboveThreshold: of('aboveThreshold'),
    entropy: of('entropy'),
    mean: of('mean'),
    maximum: of('maximum'),
  };
}

export async function runSaliency(
  subjects: readonly AnalysisSubject[],
  settings: SaliencySettings,
  out: string,
  log: (message: string) => void,
): Promise<string[]> {
  await mkdir(out, { recursive: true });
  const files: string[] = [];
  const results: Record<string, unknown>[] = subjects.map((subject) => ({
    name: subject.name,
    model: subject.classifier.info.name,
    images: subject.set.shape[0],
    methods: {} as Record<string, unknown>,
  }));
  const statisticRows: { dataset: string; method: string; statistic: string; value: number }[] = [];
  for (const method of settings.methods) {
    const started = performance.now();
    const maps = subjects.map((subject) => computeMaps(subject, method, settings));
    log(
      `${method}: ${subjects.map((subject) => subject.set.shape[0]).join(' + ')} images in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
    // CE gradients of confidently classified images are orders of magnitude smaller than those of
    // uncertain ones, so each map is drawn divided by its own maximum, on the fixed range [0, 1]
    // for every image and dataset; the absolute sizes are in the JSON (mean, maximum).
    subjects.forEach((subject, index) => {
      const subjectMaps = maps[index] as SaliencyMaps;
      const perImage = Array.from({ length: subjectMaps.count }, (_, image) =>
        saliencyStatistics(mapOf(subjectMaps, image), settings.threshold),
      );
      for (const entry of perImage) {
        statisticRows.push(
          {
            dataset: subject.name,
            method,
            statistic: `pixels ≥ ${settings.threshold} × max`,
            value: entry.aboveThreshold,
          },
          { dataset: subject.name, method, statistic: 'normalised spatial entropy', value: entry.entropy },
        );
      }
      const methods = (results[index] as { methods: Record<string, unknown> }).methods;
      methods[method] = { summary: summarize(perImage), perImage };
    });
    const [height, width, channels] = subjects[0]?.classifier.info.inputShape ?? [0, 0, 1];
    const rows: PanelSpec['rows'][number][] = [];
    subjects.forEach((subject, index) => {
      const subjectMaps = maps[index] as SaliencyMaps;
      const pixels = height * width * channels;
      for (let image = 0; image < Math.min(settings.show, subject.set.shape[0]); image++) {
        const values = subject.set.images.subarray(image * pixels, (image + 1) * pixels);
        const label = subject.set.classNames[subject.set.labels[image] ?? 0] ?? '';
        const map = normalised(mapOf(subjectMaps, image));
        rows.push({
          label: `${subject.name} #${image} ${label}`.slice(0, 40),
          cells: [
            { kind: 'image', values, channels },
            { kind: 'heatmap', values: map },
            { kind: 'heatmap', values: map, underlay: { values, channels } },
          ],
        });
      }
    });
    const panel = await renderPanel({
      title: `${methodTitles[method]}, each map / its maximum`,
      columns: ['image', 'map', 'map over image'],
      rows,
      height,
      width,
      colourMap: 'inferno',
      range: [0, 1],
      colourBarLabel: method === 'integrated-gradients' ? '|attribution| / maximum' : '|∂CE/∂x| / maximum',
    });
    files.push(...(await writeFigure(out, `saliency-${method}`, panel)));
  }
  const chart = await renderChart({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'How widespread is the saliency? (per image)',
    data: { values: statisticRows },
    facet: {
      row: { field: 'statistic', type: 'nominal', title: null },
      column: { field: 'method', type: 'nominal', title: null },
    },
    spec: {
      width: 160,
      height: 140,
      mark: { type: 'boxplot', extent: 'min-max' },
      encoding: {
        x: { field: 'dataset', type: 'nominal', title: null },
        y: { field: 'value', type: 'quantitative', title: null, scale: { zero: false } },
        color: { field: 'dataset', type: 'nominal', legend: null },
      },
    },
    resolve: { scale: { y: 'independent' } },
  });
  files.push(...(await writeFigure(out, 'saliency-statistics', chart)));
  const json = {
    kind: 'saliency',
    settings,
    datasets: results,
    files: [...files, 'saliency.json'],
  };
  await writeAtomically(join(out, 'saliency.json'), `${JSON.stringify(json, null, 2)}\n`);
  files.push('saliency.json');
  return files;
}
