/**
 * `medrobust analyze embedding`: t-SNE (perplexity 30, 1000 iterations, learning rate 100) and UMAP
 * of the deep features of the first N test images and their adversarial versions (Ma et al. 2021
 * Fig. 8), with separability numbers: leave-one-out 5-NN accuracy of clean-vs-adversarial and of
 * the true classes in each embedding (src/analysis/embedding.ts). Writes embedding-tsne|umap.png|svg
 * and embedding.json (coordinates included).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type Embedding,
  nearestNeighbourAccuracy,
  tsneEmbedding,
  umapEmbedding,
} from '../../../src/analysis/embedding.ts';
import { MedrobustError } from '../../../src/core/errors.ts';
import { imageBatch } from '../../../src/data/transforms.ts';
import { defaultFeatureTap, extractFeatures, tapMatrix } from '../../../src/detectors/features.ts';
import { formatEpsilon } from '../../../src/evaluation/robustness.ts';
import { renderChart } from '../../../src/report/charts.ts';
import { writeAtomically } from '../../files.ts';
import { type AnalysisSubject, attackSet, writeFigure } from './shared.ts';

export interface EmbeddingSettings {
  readonly attack: string;
  readonly epsilon: number;
  readonly tap: string | undefined;
  readonly perplexity: number;
  readonly iterations: number;
  readonly batch: number;
  readonly seed: number;
}

export async function runEmbedding(
  subject: AnalysisSubject,
  settings: EmbeddingSettings,
  out: string,
  log: (message: string) => void,
): Promise<string[]> {
  await mkdir(out, { recursive: true });
  const { classifier, set } = subject;
  const tap = settings.tap ?? defaultFeatureTap(classifier.info);
  // Refuse before attacking: t-SNE needs more points (clean + adversarial) than 3 × perplexity.
  const needed = Math.ceil(3 * settings.perplexity) + 1;
  if (2 * set.shape[0] < needed) {
    throw new MedrobustError(
      'invalid-argument',
      `t-SNE with perplexity ${settings.perplexity} needs at least ${needed} points, got ${2 * set.shape[0]} (${set.shape[0]} images and their adversarial versions)`,
      { hint: `analyse at least ${Math.ceil(needed / 2)} images (--images), or lower --perplexity` },
    );
  }
  const attacked = attackSet(classifier, set, settings, log);
  const featuresOf = (images: typeof set) => {
    const x = imageBatch(images, 0, images.shape[0]);
    try {
      return extractFeatures(classifier, x, [tap], settings.batch);
    } finally {
      x.dispose();
    }
  };
  const clean = featuresOf(set);
  const adversarial = featuresOf({ ...set, images: attacked.adversarial });
  const cleanMatrix = tapMatrix(clean, tap);
  const adversarialMatrix = tapMatrix(adversarial, tap);
  const rows: number[][] = [];
  for (const matrix of [cleanMatrix, adversarialMatrix]) {
    for (let row = 0; row < matrix.rows; row++) {
      rows.push(Array.from(matrix.values.subarray(row * matrix.columns, (row + 1) * matrix.columns)));
    }
  }
  const count = set.shape[0];
  const isAdversarial = Array.from({ length: 2 * count }, (_, index) => (index < count ? 0 : 1));
  const classes = Array.from({ length: 2 * count }, (_, index) => set.labels[index % count] ?? 0);
  const success = Array.from({ length: count }, (_, index) => attacked.success[index] === 1);
  const started = performance.now();
  const embeddings: Record<'tsne' | 'umap', Embedding> = {
    tsne: tsneEmbedding(rows, {
      perplexity: settings.perplexity,
      iterations: settings.iterations,
      learningRate: 100,
      seed: settings.seed,
    }),
    umap: umapEmbedding(rows, { seed: settings.seed }),
  };
  log(
    `t-SNE and UMAP of ${rows.length} ${cleanMatrix.columns}-d features in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  const files: string[] = [];
  const numbers: Record<string, unknown> = {};
  for (const [method, embedding] of Object.entries(embeddings) as ['tsne' | 'umap', Embedding][]) {
    const separability = {
      cleanVersusAdversarial: nearestNeighbourAccuracy(embedding, isAdversarial),
      classes: nearestNeighbourAccuracy(embedding, classes),
    };
    numbers[method] = { separability, points: Array.from(embedding.points) };
    const values = Array.from({ length: 2 * count }, (_, index) => ({
      x: embedding.points[index * 2],
      y: embedding.points[index * 2 + 1],
      input:
        index < count
          ? 'clean'
          : success[index - count]
            ? 'adversarial (fooled)'
            : 'adversarial (not fooled)',
      class: set.classNames[classes[index] ?? 0] ?? '',
    }));
    const chart = await renderChart({
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: {
        text: `${method === 'tsne' ? 't-SNE' : 'UMAP'} of '${tap}' features, clean vs ${settings.attack} ε = ${formatEpsilon(settings.epsilon)}`,
        subtitle: `5-NN accuracy in the embedding: clean vs adversarial ${separability.cleanVersusAdversarial.toFixed(3)}, classes ${separability.classes.toFixed(3)}`,
      },
      width: 360,
      height: 320,
      data: { values },
      mark: { type: 'point', filled: true, size: 28, opacity: 0.75 },
      encoding: {
        x: { field: 'x', type: 'quantitative', axis: null },
        y: { field: 'y', type: 'quantitative', axis: null },
        color: {
          field: 'input',
          type: 'nominal',
          title: 'input',
          scale: {
            domain: ['clean', 'adversarial (not fooled)', 'adversarial (fooled)'],
            range: ['#4c78a8', '#f2a541', '#d62728'],
          },
          legend: { labelLimit: 240 },
        },
        shape: { field: 'class', type: 'nominal', title: 'true class' },
      },
    });
    files.push(...(await writeFigure(out, `embedding-${method}`, chart)));
  }
  const json = {
    kind: 'embedding',
    dataset: subject.name,
    model: classifier.info.name,
    tap,
    dimensions: cleanMatrix.columns,
    attack: settings.attack,
    epsilon: settings.epsilon,
    epsilonText: formatEpsilon(settings.epsilon),
    images: count,
    fooled: success.filter(Boolean).length,
    settings: {
      perplexity: settings.perplexity,
      iterations: settings.iterations,
      learningRate: 100,
      umapNeighbours: 15,
      umapMinimumDistance: 0.1,
      k: 5,
    },
    ...numbers,
    files: [...files, 'embedding.json'],
  };
  await writeAtomically(join(out, 'embedding.json'), `${JSON.stringify(json, null, 2)}\n`);
  for (const method of ['tsne', 'umap'] as const) {
    const separability = (
      numbers[method] as { separability: { cleanVersusAdversarial: number; classes: number } }
    ).separability;
    log(
      `${method}: 5-NN clean vs adversarial ${separability.cleanVersusAdversarial.toFixed(3)}, classes ${separability.classes.toFixed(3)}`,
    );
  }
  return [...files, 'embedding.json'];
}
