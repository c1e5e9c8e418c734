/**
 * Seeded randomness. Every stochastic step of medrobust (weight initialisation, random starts,
 * splits, augmentation) draws from a `Random` made from an explicit seed, so a run is repeatable.
 * The generator is pure-rand's xoroshiro128+; the distributions on top are the textbook ones
 * (uniform doubles with 53 random bits, Box–Muller normals).
 */
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { JumpableRandomGenerator } from 'pure-rand/types/JumpableRandomGenerator';

export class Random {
  private readonly generator: JumpableRandomGenerator;
  private spareNormal: number | undefined;

  constructor(seed: number) {
    this.generator = xoroshiro128plus(seed | 0);
  }

  /** A uniform double in [0, 1). */
  uniform(): number {
    return uniformFloat64(this.generator);
  }

  /** A uniform double in [low, high). */
  uniformIn(low: number, high: number): number {
    return low + (high - low) * this.uniform();
  }

  /** A standard normal draw (Box–Muller; the second value of each pair is kept for the next call). */
  normal(): number {
    if (this.spareNormal !== undefined) {
      const value = this.spareNormal;
      this.spareNormal = undefined;
      return value;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const radius = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = radius * Math.sin(2 * Math.PI * v);
    return radius * Math.cos(2 * Math.PI * v);
  }

  /** An integer in [0, count). */
  integer(count: number): number {
    return Math.floor(this.uniform() * count);
  }

  /** Fills a new Float32Array with uniform draws in [low, high). */
  uniformArray(length: number, low: number, high: number): Float32Array {
    const out = new Float32Array(length);
    for (let i = 0; i < length; i++) out[i] = this.uniformIn(low, high);
    return out;
  }

  /** Fills a new Float32Array with normal draws of the given standard deviation. */
  normalArray(length: number, standardDeviation: number): Float32Array {
    const out = new Float32Array(length);
    for (let i = 0; i < length; i++) out[i] = this.normal() * standardDeviation;
    return out;
  }

  /** A uniformly random permutation of 0…count−1 (Fisher–Yates). */
  permutation(count: number): number[] {
    const order = Array.from({ length: count }, (_, index) => index);
    for (let i = count - 1; i > 0; i--) {
      const j = this.integer(i + 1);
      const swap = order[i] ?? 0;
      order[i] = order[j] ?? 0;
      order[j] = swap;
    }
    return order;
  }
}
