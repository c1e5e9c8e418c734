/**
 * 2-D embeddings of deep features, clean against adversarial (Ma et al. 2021 §4, Fig. 8: t-SNE of
 * the 128-d features separates adversarial from clean medical images).
 * - t-SNE (van der Maaten & Hinton 2008) by druidjs, with the paper's settings: perplexity 30,
 *   1000 iterations, learning rate 100;
 * - UMAP (McInnes et al. 2018) by umap-js, 15 neighbours, minimum distance 0.1;
 * both seeded. Separability in the embedding: leave-one-out k-nearest-neighbour accuracy (k = 5,
 * Euclidean, ties broken toward the smaller label) of a labelling (clean 0 / adversarial 1, or
 * classes) — 0.5 means mixed, 1 means separated.
 *
 * Input contract: features as rows (one per image); labels as small non-negative integers.
 */
import { TSNE } from '@saehrimnir/druidjs';
import { UMAP } from 'umap-js';
import { MedrobustError } from '../core/errors.ts';
import { Random } from '../core/random.ts';

export interface Embedding {
  /** [n × 2], row-major. */
  readonly points: Float64Array;
  readonly count: number;
}

function checkRows(rows: readonly (readonly number[])[], minimum: number, method: string): void {
  if (rows.length < minimum) {
    throw new MedrobustError(
      'invalid-argument',
      `${method} needs at least ${minimum} points, got ${rows.length}`,
      {
        hint: 'analyse more images (--images)',
      },
    );
  }
}

function flatten(points: readonly (ArrayLike<number> | readonly number[])[]): Float64Array {
  const out = new Float64Array(points.length * 2);
  points.forEach((point, index) => {
    out[index * 2] = point[0] ?? 0;
    out[index * 2 + 1] = point[1] ?? 0;
  });
  return out;
}

export function tsneEmbedding(
  rows: readonly (readonly number[])[],
  options: {
    readonly perplexity?: number;
    readonly iterations?: number;
    readonly learningRate?: number;
    readonly seed?: number;
  } = {},
): Embedding {
  const perplexity = options.perplexity ?? 30;
  // t-SNE needs more points than 3 × perplexity for the perplexity to be reachable.
  checkRows(rows, Math.ceil(3 * perplexity) + 1, `t-SNE with perplexity ${perplexity}`);
  const tsne = new TSNE(
    rows.map((row) => [...row]),
    { perplexity, epsilon: options.learningRate ?? 100, d: 2, seed: options.seed ?? 0 },
  );
  const projected = tsne.transform(options.iterations ?? 1000) as unknown as number[][];
  return { points: flatten(projected), count: rows.length };
}

export function umapEmbedding(
  rows: readonly (readonly number[])[],
  options: { readonly neighbours?: number; readonly minimumDistance?: number; readonly seed?: number } = {},
): Embedding {
  const neighbours = options.neighbours ?? 15;
  checkRows(rows, neighbours + 1, `UMAP with ${neighbours} neighbours`);
  const random = new Random(options.seed ?? 0);
  const umap = new UMAP({
    nComponents: 2,
    nNeighbors: neighbours,
    minDist: options.minimumDistance ?? 0.1,
    random: () => random.uniform(),
  });
  return { points: flatten(umap.fit(rows.map((row) => [...row]))), count: rows.length };
}

/** Leave-one-out k-NN accuracy of `labels` in a 2-D embedding. */
export function nearestNeighbourAccuracy(embedding: Embedding, labels: ArrayLike<number>, k = 5): number {
  const { points, count } = embedding;
  if (labels.length !== count || count < 2) {
    throw new MedrobustError(
      'invalid-argument',
      `k-NN accuracy: ${labels.length} labels for ${count} points`,
      {
        hint: 'give one label per embedded point (at least two points)',
      },
    );
  }
  let correct = 0;
  const distances = new Float64Array(count);
  const order = Array.from({ length: count }, (_, index) => index);
  for (let i = 0; i < count; i++) {
    const x = points[i * 2] ?? 0;
    const y = points[i * 2 + 1] ?? 0;
    for (let j = 0; j < count; j++)
      distances[j] = ((points[j * 2] ?? 0) - x) ** 2 + ((points[j * 2 + 1] ?? 0) - y) ** 2;
    const neighbours = order
      .filter((j) => j !== i)
      .sort((a, b) => (distances[a] ?? 0) - (distances[b] ?? 0) || a - b)
      .slice(0, Math.min(k, count - 1));
    const votes = new Map<number, number>();
    for (const j of neighbours) votes.set(labels[j] ?? 0, (votes.get(labels[j] ?? 0) ?? 0) + 1);
    let best = Number.POSITIVE_INFINITY;
    let bestVotes = -1;
    for (const [label, count] of votes) {
      if (count > bestVotes || (count === bestVotes && label < best)) {
        best = label;
        bestVotes = count;
      }
    }
    if (best === labels[i]) correct++;
  }
  return correct / count;
}
