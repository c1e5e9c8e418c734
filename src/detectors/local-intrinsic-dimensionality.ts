/**
 * Local intrinsic dimensionality (LID), the characteristic of the LID detector (Ma et al.,
 * "Characterizing adversarial subspaces using local intrinsic dimensionality", ICLR 2018; used by
 * Ma et al. 2021 §5). Two estimators from a query's k nearest neighbours at distances
 * u₁ ≤ … ≤ u_k = r:
 *
 * - MLE (Levina & Bickel 2005; Amsaleg et al. 2015), the estimator the 2021 paper's text describes:
 *     LID = −k / Σᵢ log(uᵢ / r).
 * - TLE, the tight-locality estimator (Amsaleg, Chelly, Houle, Kawarabayashi, Radovanović,
 *   Treeratanajaru, "Intrinsic dimensionality estimation within tight localities", SDM 2019), which
 *   the 2021 paper's code uses: it also uses the pairwise distances vᵢⱼ between the neighbours. For
 *   i ≠ j, with zᵢⱼ² = 2uᵢ² + 2uⱼ² − vᵢⱼ²,
 *     sᵢⱼ = r·(√((uᵢ² + vᵢⱼ² − uⱼ²)² + 4vᵢⱼ²(r² − uᵢ²)) − (uᵢ² + vᵢⱼ² − uⱼ²)) / (2(r² − uᵢ²)),
 *     tᵢⱼ = the same with vᵢⱼ² replaced by zᵢⱼ²,
 *     LID = −2k² / (Σ_{i≠j} log(sᵢⱼ/r) + Σ_{i≠j} log(tᵢⱼ/r) + 2Σᵢ log(uᵢ/r)),
 *   with the paper's boundary cases: uᵢ = r (to 1e-9 relative, so rounded ties count) gives sᵢⱼ = r·vᵢⱼ²/(r² + vᵢⱼ² − uⱼ²) (and t likewise);
 *   uᵢ = 0 gives sᵢⱼ = tᵢⱼ = uⱼ; uⱼ = 0 (which wins) gives sᵢⱼ = tᵢⱼ = r·vᵢⱼ/(r + vᵢⱼ); a pair with vᵢⱼ = 0, and
 *   any sᵢⱼ or tᵢⱼ below a small ε (both then), and any uᵢ below ε, is dropped from the sums and
 *   from the count.
 *
 * Neighbours (the authors' `mle_batch`): distances from each query to every reference point, sorted,
 * the nearest one skipped (it is the query itself for a clean query in its own batch, and usually the
 * clean twin for an adversarial one), the next k kept (k ≤ reference size − 1).
 * Written by hand (no npm package); float64. A degenerate neighbourhood (r = 0) gives LID 0.
 */
import { MedrobustError } from '../core/errors.ts';
import type { FeatureMatrix } from './classifiers/feature-matrix.ts';

export const lidEstimators = ['mle', 'tle'] as const;
export type LidEstimator = (typeof lidEstimators)[number];

/** MLE from ascending neighbour distances. */
export function mleLid(distances: ArrayLike<number>): number {
  const k = distances.length;
  const r = distances[k - 1] ?? 0;
  if (k === 0 || !(r > 0)) return 0;
  let sum = 0;
  for (let i = 0; i < k; i++) sum += Math.log((distances[i] ?? 0) / r);
  // Duplicated neighbours (distance 0) make the sum −∞: the estimate's limit, 0.
  return sum === Number.NEGATIVE_INFINITY ? 0 : sum === 0 ? Number.POSITIVE_INFINITY : -k / sum;
}

/**
 * TLE from ascending query-to-neighbour distances u (length k) and the neighbours' pairwise
 * distances v (k × k, row-major).
 */
export function tleLid(distances: ArrayLike<number>, pairwise: ArrayLike<number>, epsilon = 1e-4): number {
  const k = distances.length;
  const r = distances[k - 1] ?? 0;
  if (k === 0 || !(r > 0)) return 0;
  let total = 0;
  let dropped = 0;
  for (let i = 0; i < k; i++) {
    const ui = distances[i] ?? 0;
    for (let j = 0; j < k; j++) {
      if (i === j) continue;
      const uj = distances[j] ?? 0;
      const v = pairwise[i * k + j] ?? 0;
      if (v === 0) {
        dropped++;
        continue;
      }
      const v2 = v * v;
      // ≥ 0 by the triangle inequality; 0 when the query is the midpoint of xᵢ and xⱼ (clamp the rounding).
      const z2 = Math.max(0, 2 * ui * ui + 2 * uj * uj - v2);
      let s: number;
      let t: number;
      if (uj === 0) {
        s = (r * v) / (r + v);
        t = s;
      } else if (ui === 0) {
        s = uj;
        t = uj;
      } else if (ui >= r * (1 - 1e-9)) {
        // uᵢ = r up to rounding (ties at the k-th distance): the closed form would divide by ≈ 0.
        s = (r * v2) / (r * r + v2 - uj * uj);
        t = (r * z2) / (r * r + z2 - uj * uj);
      } else {
        const denominator = 2 * (r * r - ui * ui);
        const bs = ui * ui + v2 - uj * uj;
        const bt = ui * ui + z2 - uj * uj;
        s = (r * (Math.sqrt(Math.max(0, bs * bs + 4 * v2 * (r * r - ui * ui))) - bs)) / denominator;
        t = (r * (Math.sqrt(Math.max(0, bt * bt + 4 * z2 * (r * r - ui * ui))) - bt)) / denominator;
      }
      if (s < epsilon || t < epsilon) {
        dropped++;
        continue;
      }
      total += Math.log(s / r) + Math.log(t / r);
    }
  }
  let droppedDistances = 0;
  for (let i = 0; i < k; i++) {
    const ui = distances[i] ?? 0;
    if (ui < epsilon) droppedDistances++;
    else total += 2 * Math.log(ui / r);
  }
  if (total === 0) return Number.POSITIVE_INFINITY;
  return (-2 * (k * k - dropped - droppedDistances)) / total;
}

function squaredDistance(
  a: Float64Array,
  aOffset: number,
  b: Float64Array,
  bOffset: number,
  d: number,
): number {
  let sum = 0;
  for (let j = 0; j < d; j++) {
    const difference = (a[aOffset + j] ?? 0) - (b[bOffset + j] ?? 0);
    sum += difference * difference;
  }
  return sum;
}

/**
 * LID of every query against a reference set (the authors' `mle_batch`: skip the nearest reference
 * point, keep the next k).
 */
export function lidAgainst(
  reference: FeatureMatrix,
  queries: FeatureMatrix,
  k: number,
  estimator: LidEstimator,
): Float64Array {
  if (reference.columns !== queries.columns) {
    throw new MedrobustError(
      'invalid-argument',
      `LID: reference has ${reference.columns} dimensions, queries ${queries.columns}`,
      { hint: 'take reference and queries from the same tap' },
    );
  }
  if (reference.rows < 2) {
    throw new MedrobustError(
      'invalid-argument',
      `LID needs at least 2 reference points, got ${reference.rows}`,
      {
        hint: 'use minibatches of at least 2 clean images (the paper uses 100)',
      },
    );
  }
  if (!Number.isInteger(k) || k < 1) {
    throw new MedrobustError('invalid-argument', `LID: k must be a positive integer, got ${k}`, {
      hint: 'the paper uses k = 20',
    });
  }
  const neighbours = Math.min(k, reference.rows - 1);
  const d = reference.columns;
  const result = new Float64Array(queries.rows);
  const order = Array.from({ length: reference.rows }, (_, index) => index);
  const distances = new Float64Array(reference.rows);
  for (let q = 0; q < queries.rows; q++) {
    for (let p = 0; p < reference.rows; p++) {
      distances[p] = Math.sqrt(squaredDistance(queries.values, q * d, reference.values, p * d, d));
    }
    order.sort((a, b) => (distances[a] ?? 0) - (distances[b] ?? 0) || a - b);
    const chosen = order.slice(1, neighbours + 1);
    const u = Float64Array.from(chosen, (index) => distances[index] ?? 0);
    if (estimator === 'mle') {
      result[q] = mleLid(u);
      continue;
    }
    const pairwise = new Float64Array(neighbours * neighbours);
    for (let i = 0; i < neighbours; i++) {
      for (let j = i + 1; j < neighbours; j++) {
        const v = Math.sqrt(
          squaredDistance(reference.values, (chosen[i] ?? 0) * d, reference.values, (chosen[j] ?? 0) * d, d),
        );
        pairwise[i * neighbours + j] = v;
        pairwise[j * neighbours + i] = v;
      }
    }
    result[q] = tleLid(u, pairwise);
  }
  return result;
}
