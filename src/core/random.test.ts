import { describe, expect, it } from 'vitest';
import { Random } from './random.ts';

describe('Random', () => {
  it('is deterministic under a seed and differs across seeds', () => {
    const a = new Random(42).uniformArray(5, 0, 1);
    expect(new Random(42).uniformArray(5, 0, 1)).toEqual(a);
    expect(new Random(43).uniformArray(5, 0, 1)).not.toEqual(a);
  });

  it('draws uniforms in range and normals with mean 0 and variance 1 (20 000 draws, 5σ bounds)', () => {
    const random = new Random(7);
    const uniforms = random.uniformArray(20_000, -2, 3);
    expect(Math.min(...uniforms)).toBeGreaterThanOrEqual(-2);
    expect(Math.max(...uniforms)).toBeLessThan(3);
    const normals = random.normalArray(20_000, 1);
    const mean = normals.reduce((sum, value) => sum + value, 0) / normals.length;
    const variance = normals.reduce((sum, value) => sum + (value - mean) ** 2, 0) / normals.length;
    // Standard errors: mean 1/√n ≈ 0.0071, variance √(2/n) ≈ 0.01.
    expect(Math.abs(mean)).toBeLessThan(5 * 0.0071);
    expect(Math.abs(variance - 1)).toBeLessThan(5 * 0.01);
    for (let i = 0; i < 1000; i++) {
      const value = random.integer(6);
      expect(Number.isInteger(value) && value >= 0 && value < 6).toBe(true);
    }
  });
});
