/**
 * A PNG grid of examples: one row per image, columns clean | adversarial | perturbation (amplified
 * to the full grey range per image, mid-grey = unchanged). Grey images are drawn as RGB; small images
 * are enlarged by pixel repetition so a 28-px image stays readable.
 */
import { encode } from 'fast-png';

export interface GridRow {
  /** [h × w × c] in [0, 1]. */
  readonly clean: Float32Array;
  readonly adversarial: Float32Array;
}

export function exampleGrid(
  rows: readonly GridRow[],
  height: number,
  width: number,
  channels: number,
): Uint8Array {
  const scale = Math.max(1, Math.floor(112 / Math.max(height, width)));
  const gap = 4;
  const cellWidth = width * scale;
  const cellHeight = height * scale;
  const gridWidth = 3 * cellWidth + 4 * gap;
  const gridHeight = rows.length * cellHeight + (rows.length + 1) * gap;
  const pixels = new Uint8Array(gridWidth * gridHeight * 3).fill(255);
  const draw = (image: Float32Array, row: number, column: number) => {
    const top = gap + row * (cellHeight + gap);
    const left = gap + column * (cellWidth + gap);
    for (let y = 0; y < cellHeight; y++) {
      for (let x = 0; x < cellWidth; x++) {
        const source = (Math.floor(y / scale) * width + Math.floor(x / scale)) * channels;
        const target = ((top + y) * gridWidth + left + x) * 3;
        for (let c = 0; c < 3; c++) {
          const value = image[source + (channels === 1 ? 0 : c)] ?? 0;
          pixels[target + c] = Math.round(Math.min(1, Math.max(0, value)) * 255);
        }
      }
    }
  };
  rows.forEach((entry, row) => {
    draw(entry.clean, row, 0);
    draw(entry.adversarial, row, 1);
    let largest = 0;
    for (let i = 0; i < entry.clean.length; i++) {
      largest = Math.max(largest, Math.abs((entry.adversarial[i] ?? 0) - (entry.clean[i] ?? 0)));
    }
    const amplified = Float32Array.from(entry.clean, (value, i) =>
      largest === 0 ? 0.5 : 0.5 + (0.5 * ((entry.adversarial[i] ?? 0) - value)) / largest,
    );
    draw(amplified, row, 2);
  });
  return encode({ width: gridWidth, height: gridHeight, data: pixels, channels: 3, depth: 8 });
}
