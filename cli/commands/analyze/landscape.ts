/**
 * `medrobust analyze landscape`: cross-entropy over the paper's 16 × 16 grid ε₁, ε₂ ∈ {0, …, 7.5}/255
 * around each of the first N images (src/analysis/loss-landscape.ts), along direction pairs:
 *   own-second   the model's own gradient sign × a second, independently trained model's (the paper's)
 *   own-random   the model's own gradient sign × a random sign direction
 *   random       two random sign directions (the control)
 * For each pair: the surface and heat map of the loss averaged over the images (one height range
 * for every pair), and per image the sharpness (largest loss increase within --radius) and, with
 * --hessian, the input Hessian's top eigenvalue. Writes landscape-<pair>-surface|heatmap.png|svg and
 * landscape.json.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  gradientSignDirection,
  type LossSurface,
  lossSurface,
  paperGrid,
  randomSignDirection,
  sharpness,
  topHessianEigenvalue,
} from '../../../src/analysis/loss-landscape.ts';
import type { Classifier } from '../../../src/engine/contracts.ts';
import { renderChart } from '../../../src/report/charts.ts';
import { heatmapSpec, renderSurface } from '../../../src/report/surface.ts';
import { writeAtomically } from '../../files.ts';
import { type AnalysisSubject, inBatches, mean, standardDeviation, writeFigure } from './shared.ts';

export interface LandscapeSettings {
  readonly radius: number;
  readonly hessian: boolean;
  readonly batch: number;
  readonly seed: number;
}

type PairName = 'own-second' | 'own-random' | 'random';

const pairLabels: Record<PairName, [string, string]> = {
  'own-second': ['ε₁ along own ∇ sign (/255)', "ε₂ along second model's ∇ sign (/255)"],
  'own-random': ['ε₁ along own ∇ sign (/255)', 'ε₂ along a random sign (/255)'],
  random: ['ε₁ along a random sign (/255)', 'ε₂ along another random sign (/255)'],
};

function meanSurface(surfaces: readonly LossSurface[]): number[][] {
  const size = paperGrid.length;
  const total = surfaces.reduce((sum, surface) => sum + surface.images, 0);
  return Array.from({ length: size }, (_, i) =>
    Array.from({ length: size }, (_, j) => {
      let sum = 0;
      for (const surface of surfaces) {
        for (let image = 0; image < surface.images; image++)
          sum += surface.losses[image * size * size + i * size + j] ?? 0;
      }
      return sum / total;
    }),
  );
}

export async function runLandscape(
  subject: AnalysisSubject,
  second: Classifier | undefined,
  settings: LandscapeSettings,
  out: string,
  log: (message: string) => void,
): Promise<string[]> {
  await mkdir(out, { recursive: true });
  const { classifier, set } = subject;
  const pairs: PairName[] = [
    ...(second === undefined ? [] : ['own-second' as const]),
    'own-random',
    'random',
  ];
  const started = performance.now();
  let batchIndex = 0;
  const batches = inBatches(set, settings.batch, (x, labels) => {
    const batchLabels = Int32Array.from(labels);
    const seed = settings.seed + 1000 * batchIndex++;
    const own = gradientSignDirection(classifier, x, batchLabels);
    const random = randomSignDirection([x.shape[0], x.shape[1], x.shape[2], x.shape[3]], seed);
    const other = randomSignDirection([x.shape[0], x.shape[1], x.shape[2], x.shape[3]], seed + 1);
    const surfaces: Partial<Record<PairName, LossSurface>> = {};
    try {
      if (second !== undefined) {
        const secondDirection = gradientSignDirection(second, x, batchLabels);
        surfaces['own-second'] = lossSurface(classifier, x, batchLabels, own, secondDirection);
        secondDirection.dispose();
      }
      surfaces['own-random'] = lossSurface(classifier, x, batchLabels, own, random);
      surfaces.random = lossSurface(classifier, x, batchLabels, random, other);
    } finally {
      tf.dispose([own, random, other]);
    }
    const eigenvalues = settings.hessian
      ? topHessianEigenvalue(classifier, x, batchLabels, { seed })
      : undefined;
    return { surfaces, eigenvalues };
  });
  log(`loss surfaces of ${set.shape[0]} images in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const averaged = Object.fromEntries(
    pairs.map((pair) => [pair, meanSurface(batches.map((batch) => batch.surfaces[pair] as LossSurface))]),
  ) as Record<PairName, number[][]>;
  const range: [number, number] = [
    Math.min(...pairs.flatMap((pair) => averaged[pair].flat())),
    Math.max(...pairs.flatMap((pair) => averaged[pair].flat())),
  ];
  const files: string[] = [];
  const summary: Record<string, unknown> = {};
  for (const pair of pairs) {
    const [firstLabel, secondLabel] = pairLabels[pair];
    const spec = {
      title: `${subject.name}: mean CE over ${set.shape[0]} images, ${pair}`,
      values: averaged[pair],
      first: paperGrid,
      second: paperGrid,
      firstLabel,
      secondLabel,
      valueLabel: 'cross-entropy',
      range,
    };
    files.push(...(await writeFigure(out, `landscape-${pair}-surface`, renderSurface(spec))));
    files.push(
      ...(await writeFigure(out, `landscape-${pair}-heatmap`, await renderChart(heatmapSpec(spec)))),
    );
    const perImage = batches.flatMap((batch) =>
      Array.from(sharpness(batch.surfaces[pair] as LossSurface, settings.radius)),
    );
    summary[pair] = {
      sharpness: { mean: mean(perImage), standardDeviation: standardDeviation(perImage), perImage },
      meanSurface: averaged[pair],
    };
  }
  const eigenvalues = settings.hessian
    ? batches.flatMap((batch) => Array.from(batch.eigenvalues ?? []))
    : undefined;
  const json = {
    kind: 'landscape',
    dataset: subject.name,
    model: classifier.info.name,
    secondModel: second?.info.name ?? null,
    images: set.shape[0],
    grid: paperGrid,
    gridUnits: '1/255',
    radius: settings.radius,
    pairs: summary,
    ...(eigenvalues === undefined
      ? {}
      : {
          hessianTopEigenvalue: {
            mean: mean(eigenvalues),
            standardDeviation: standardDeviation(eigenvalues),
            perImage: eigenvalues,
          },
        }),
    files: [...files, 'landscape.json'],
  };
  await writeAtomically(join(out, 'landscape.json'), `${JSON.stringify(json, null, 2)}\n`);
  for (const pair of pairs) {
    const entry = summary[pair] as { sharpness: { mean: number } };
    log(`${pair}: sharpness within ${settings.radius}/255 ${entry.sharpness.mean.toFixed(3)}`);
  }
  return [...files, 'landscape.json'];
}
