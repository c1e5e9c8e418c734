/**
 * Embeddings: k-NN accuracy on hand-placed points; t-SNE (druidjs) and UMAP (umap-js) keep two
 * well-separated 10-d Gaussian clusters apart (k-NN accuracy 1) and mix a single cluster's random
 * halves (near 0.5); both are repeatable with a seed; too few points is refused with the fix.
 */
import { describe, expect, it } from 'vitest';
import { Random } from '../core/random.ts';
import { nearestNeighbourAccuracy, tsneEmbedding, umapEmbedding } from './embedding.ts';

function clusters(count: number, separation: number, seed: number): number[][] {
  const random = new Random(seed);
  return Array.from({ length: count }, (_, index) =>
    Array.from({ length: 10 }, (_, d) => random.normal() + (index % 2 === 1 && d === 0 ? separation : 0)),
  );
}

describe('embedding', () => {
  it('k-NN accuracy of hand-placed points', () => {
    // Two tight pairs far apart; with k = 1 every point's neighbour shares its label.
    const points = { points: Float64Array.from([0, 0, 0.1, 0, 10, 10, 10.1, 10]), count: 4 };
    expect(nearestNeighbourAccuracy(points, [0, 0, 1, 1], 1)).toBe(1);
    // Labels crossed between the pairs: every neighbour disagrees.
    expect(nearestNeighbourAccuracy(points, [0, 1, 0, 1], 1)).toBe(0);
    // k = 3 on 4 points: the other three vote; 2 of 3 carry the other label → all wrong.
    expect(nearestNeighbourAccuracy(points, [0, 0, 1, 1], 3)).toBe(0);
    expect(() => nearestNeighbourAccuracy(points, [0, 1], 1)).toThrow(/2 labels for 4 points/);
  });

  it('t-SNE with the paper settings separates separated clusters and mixes one cluster', () => {
    const labels = Array.from({ length: 120 }, (_, index) => index % 2);
    const separated = tsneEmbedding(clusters(120, 12, 1), { iterations: 300 });
    expect(separated.count).toBe(120);
    expect(nearestNeighbourAccuracy(separated, labels)).toBe(1);
    const mixed = tsneEmbedding(clusters(120, 0, 2), { iterations: 300 });
    expect(nearestNeighbourAccuracy(mixed, labels)).toBeLessThan(0.7);
    const again = tsneEmbedding(clusters(120, 12, 1), { iterations: 300 });
    expect(Array.from(again.points)).toEqual(Array.from(separated.points));
    expect(() => tsneEmbedding(clusters(50, 0, 3))).toThrow(/at least 91 points/);
  }, 60_000);

  it('UMAP separates separated clusters, repeatably', () => {
    const labels = Array.from({ length: 100 }, (_, index) => index % 2);
    const separated = umapEmbedding(clusters(100, 12, 4), { seed: 3 });
    expect(nearestNeighbourAccuracy(separated, labels)).toBe(1);
    const again = umapEmbedding(clusters(100, 12, 4), { seed: 3 });
    expect(Array.from(again.points)).toEqual(Array.from(separated.points));
  }, 60_000);
});
