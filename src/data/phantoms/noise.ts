/**
 * Shared helpers of the phantom generators: seeded value noise (Perlin, "An image synthesizer",
 * SIGGRAPH 1985, in its value-lattice form: random values on a grid, interpolated bilinearly with
 * smoothstep weights, summed over octaves as fractal noise) and the few shaping functions the
 * generators share. Every coordinate is normalised: (x, y) in [0, 1]², so a phantom's geometry does not
 * depend on its pixel size.
 */
import type { Random } from '../../core/random.ts';

export function clamp01(value: number): number {
  return Math.min(Math.max(value, 0), 1);
}

/** Hermite smoothstep: 0 at or below `edge0`, 1 at or above `edge1`, smooth between. */
export function smoothstep(edge0: number, edge1: number, value: number): number {
  const t = clamp01((value - edge0) / (edge1 - edge0));
  return t * t * (3 - 2 * t);
}

/** Linear blend of `from` towards `to` by `amount` in [0, 1]. */
export function mix(from: number, to: number, amount: number): number {
  return from + (to - from) * amount;
}

/** Distance from (x, y) to the segment (x0, y0)–(x1, y1). */
export function distanceToSegment(
  x: number,
  y: number,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
): number {
  const dx = x1 - x0;
  const dy = y1 - y0;
  const lengthSquared = dx * dx + dy * dy;
  const t = lengthSquared === 0 ? 0 : clamp01(((x - x0) * dx + (y - y0) * dy) / lengthSquared);
  return Math.hypot(x - x0 - t * dx, y - y0 - t * dy);
}

/** A smooth random function on [0, 1]² with values in [0, 1]. */
export type NoiseFunction = (x: number, y: number) => number;

/** One octave of value noise over a `cells`×`cells` lattice (values drawn now, from `random`). */
export function valueNoise(random: Random, cells: number): NoiseFunction {
  const stride = cells + 1;
  const lattice = random.uniformArray(stride * stride, 0, 1);
  return (x, y) => {
    const gridX = clamp01(x) * cells;
    const gridY = clamp01(y) * cells;
    const column = Math.min(Math.floor(gridX), cells - 1);
    const row = Math.min(Math.floor(gridY), cells - 1);
    const weightX = smoothstep(0, 1, gridX - column);
    const weightY = smoothstep(0, 1, gridY - row);
    const corner = row * stride + column;
    const top = mix(lattice[corner] ?? 0, lattice[corner + 1] ?? 0, weightX);
    const bottom = mix(lattice[corner + stride] ?? 0, lattice[corner + stride + 1] ?? 0, weightX);
    return mix(top, bottom, weightY);
  };
}

/** Fractal value noise: `octaves` octaves from `cells` lattice cells up, each half the amplitude. */
export function fractalNoise(random: Random, cells: number, octaves: number): NoiseFunction {
  const layers: NoiseFunction[] = [];
  for (let octave = 0; octave < octaves; octave++) layers.push(valueNoise(random, cells * 2 ** octave));
  const total = 2 - 2 ** (1 - octaves);
  return (x, y) => {
    let sum = 0;
    let amplitude = 1;
    for (const layer of layers) {
      sum += amplitude * layer(x, y);
      amplitude /= 2;
    }
    return sum / total;
  };
}

/** Samples `noise` at every pixel centre of a `size`×`size` grid (row-major). */
export function sampleNoise(noise: NoiseFunction, size: number): Float32Array {
  const field = new Float32Array(size * size);
  for (let row = 0; row < size; row++) {
    for (let column = 0; column < size; column++) {
      field[row * size + column] = noise((column + 0.5) / size, (row + 0.5) / size);
    }
  }
  return field;
}

/**
 * Rasterises an antialiased stroke of `width` (normalised units) from (x0, y0) to (x1, y1) into
 * `coverage` (row-major `size`×`size`, values kept as the maximum of old and new). A stroke thinner
 * than a pixel keeps a one-pixel footprint with its coverage scaled by its width, so thin structures
 * fade rather than vanish or alias at small sizes.
 */
export function drawStroke(
  coverage: Float32Array,
  size: number,
  stroke: { x0: number; y0: number; x1: number; y1: number; width: number; strength: number },
): void {
  const pixel = 1 / size;
  const half = Math.max(stroke.width / 2, pixel / 2);
  const thinness = Math.min(1, stroke.width / pixel) * stroke.strength;
  const reach = half + pixel;
  const columnStart = Math.max(0, Math.floor((Math.min(stroke.x0, stroke.x1) - reach) * size));
  const columnEnd = Math.min(size - 1, Math.ceil((Math.max(stroke.x0, stroke.x1) + reach) * size));
  const rowStart = Math.max(0, Math.floor((Math.min(stroke.y0, stroke.y1) - reach) * size));
  const rowEnd = Math.min(size - 1, Math.ceil((Math.max(stroke.y0, stroke.y1) + reach) * size));
  for (let row = rowStart; row <= rowEnd; row++) {
    const y = (row + 0.5) * pixel;
    for (let column = columnStart; column <= columnEnd; column++) {
      const x = (column + 0.5) * pixel;
      const distance = distanceToSegment(x, y, stroke.x0, stroke.y0, stroke.x1, stroke.y1);
      const value = clamp01((half + pixel / 2 - distance) / pixel) * thinness;
      const index = row * size + column;
      if (value > (coverage[index] ?? 0)) coverage[index] = value;
    }
  }
}
