/**
 * Image panels for the analyses (saliency, Grad-CAM, feature maps): a titled grid of images and heat
 * maps with row and column labels and a colour bar, as SVG (each cell an embedded PNG made by sharp,
 * enlarged by pixel repetition so 28-px images stay readable) and as PNG (resvg). Heat maps use
 * d3-scale-chromatic's perceptual colour maps over a fixed range the caller chooses, so panels of
 * different images or models are comparable (the paper shows its gradient maps on a fixed range).
 */
import { interpolateInferno, interpolateRdBu, interpolateViridis } from 'd3-scale-chromatic';
import sharp from 'sharp';
import { MedrobustError } from '../core/errors.ts';
import { type RenderedChart, svgToPng } from './charts.ts';

export type ColourMapName = 'inferno' | 'viridis' | 'diverging';

const interpolators: Record<ColourMapName, (t: number) => string> = {
  inferno: interpolateInferno,
  viridis: interpolateViridis,
  // Red for negative, blue for positive, white at the middle of the range.
  diverging: interpolateRdBu,
};

/** "#rrggbb" or "rgb(r, g, b)" → [r, g, b]. */
function parseColour(colour: string): [number, number, number] {
  if (colour.startsWith('#')) {
    return [1, 3, 5].map((start) => Number.parseInt(colour.slice(start, start + 2), 16)) as [
      number,
      number,
      number,
    ];
  }
  const parts = colour.match(/\d+/g)?.map(Number) ?? [0, 0, 0];
  return [parts[0] ?? 0, parts[1] ?? 0, parts[2] ?? 0];
}

/** 256-entry lookup table of a colour map. */
export function colourLookupTable(name: ColourMapName): Uint8Array {
  const interpolate = interpolators[name];
  const table = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) table.set(parseColour(interpolate(i / 255)), i * 3);
  return table;
}

export interface ImageCell {
  readonly kind: 'image';
  /** [h × w × channels] in [0, 1]. */
  readonly values: ArrayLike<number>;
  readonly channels: number;
}

export interface HeatmapCell {
  readonly kind: 'heatmap';
  /** [h × w]. */
  readonly values: ArrayLike<number>;
  /** Drawn under the heat map (alpha 0.5) when given: [h × w × channels] in [0, 1]. */
  readonly underlay?: { readonly values: ArrayLike<number>; readonly channels: number };
}

export type PanelCell = ImageCell | HeatmapCell;

export interface PanelSpec {
  readonly title: string;
  readonly columns: readonly string[];
  readonly rows: readonly { readonly label: string; readonly cells: readonly PanelCell[] }[];
  /** Size of every cell's image. */
  readonly height: number;
  readonly width: number;
  /** Colour map and its fixed range for every heat map of the panel. */
  readonly colourMap: ColourMapName;
  readonly range: readonly [number, number];
  readonly colourBarLabel: string;
}

/** A cell as RGB bytes at its own resolution. */
function cellPixels(cell: PanelCell, size: number, spec: PanelSpec, table: Uint8Array): Uint8Array {
  const rgb = new Uint8Array(size * 3);
  const grey = (values: ArrayLike<number>, channels: number, pixel: number, c: number) =>
    Math.min(1, Math.max(0, values[pixel * channels + (channels === 1 ? 0 : c)] ?? 0)) * 255;
  const [low, high] = spec.range;
  for (let pixel = 0; pixel < size; pixel++) {
    for (let c = 0; c < 3; c++) {
      if (cell.kind === 'image') {
        rgb[pixel * 3 + c] = Math.round(grey(cell.values, cell.channels, pixel, c));
        continue;
      }
      const t = high > low ? Math.min(1, Math.max(0, ((cell.values[pixel] ?? 0) - low) / (high - low))) : 0;
      const colour = table[Math.round(t * 255) * 3 + c] ?? 0;
      rgb[pixel * 3 + c] =
        cell.underlay === undefined
          ? colour
          : Math.round(0.5 * colour + 0.5 * grey(cell.underlay.values, cell.underlay.channels, pixel, c));
    }
  }
  return rgb;
}

async function pngDataUri(rgb: Uint8Array, height: number, width: number, scale: number): Promise<string> {
  const png = await sharp(rgb, { raw: { width, height, channels: 3 } })
    .resize(width * scale, height * scale, { kernel: 'nearest' })
    .png()
    .toBuffer();
  return `data:image/png;base64,${png.toString('base64')}`;
}

const escapeXml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function formatTick(value: number): string {
  if (value === 0) return '0';
  const magnitude = Math.abs(value);
  return magnitude >= 0.01 && magnitude < 1000
    ? Number(value.toPrecision(3)).toString()
    : value.toExponential(1);
}

export async function renderPanel(spec: PanelSpec): Promise<RenderedChart> {
  const { height, width } = spec;
  const size = height * width;
  for (const row of spec.rows) {
    if (row.cells.length !== spec.columns.length) {
      throw new MedrobustError(
        'internal',
        `panel row ${row.label}: ${row.cells.length} cells for ${spec.columns.length} columns`,
      );
    }
    for (const cell of row.cells) {
      const expected = cell.kind === 'image' ? size * cell.channels : size;
      if (cell.values.length !== expected) {
        throw new MedrobustError(
          'internal',
          `panel row ${row.label}: a cell has ${cell.values.length} values, expected ${expected}`,
        );
      }
    }
  }
  const table = colourLookupTable(spec.colourMap);
  const scale = Math.max(1, Math.floor(112 / Math.max(height, width)));
  const cellWidth = width * scale;
  const cellHeight = height * scale;
  const gap = 6;
  // Room for the longest row label (DejaVu Sans 11 px is about 6.6 px per character).
  const labelWidth = Math.max(
    60,
    Math.ceil(6.8 * Math.max(0, ...spec.rows.map((row) => row.label.length))) + 14,
  );
  const top = 52;
  const barWidth = 14;
  const gridWidth = labelWidth + spec.columns.length * (cellWidth + gap);
  const totalWidth = gridWidth + 24 + barWidth + 70;
  const totalHeight = top + spec.rows.length * (cellHeight + gap) + 10;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${totalWidth}" height="${totalHeight}" viewBox="0 0 ${totalWidth} ${totalHeight}" font-family="DejaVu Sans, sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${totalWidth / 2}" y="18" font-size="14" font-weight="bold" text-anchor="middle">${escapeXml(spec.title)}</text>`,
  ];
  spec.columns.forEach((column, index) => {
    const x = labelWidth + index * (cellWidth + gap) + cellWidth / 2;
    parts.push(
      `<text x="${x}" y="${top - 8}" font-size="11" text-anchor="middle">${escapeXml(column)}</text>`,
    );
  });
  for (const [rowIndex, row] of spec.rows.entries()) {
    const y = top + rowIndex * (cellHeight + gap);
    parts.push(
      `<text x="${labelWidth - 8}" y="${y + cellHeight / 2 + 4}" font-size="11" text-anchor="end">${escapeXml(row.label)}</text>`,
    );
    for (const [columnIndex, cell] of row.cells.entries()) {
      const uri = await pngDataUri(cellPixels(cell, size, spec, table), height, width, scale);
      const x = labelWidth + columnIndex * (cellWidth + gap);
      parts.push(`<image x="${x}" y="${y}" width="${cellWidth}" height="${cellHeight}" href="${uri}"/>`);
    }
  }
  // Colour bar: the fixed range of every heat map in the panel.
  const barX = gridWidth + 24;
  const barHeight = Math.max(80, spec.rows.length * (cellHeight + gap) - gap);
  const stops = Array.from({ length: 11 }, (_, index) => {
    const t = index / 10;
    const [r, g, b] = [0, 1, 2].map((c) => table[Math.round(t * 255) * 3 + c] ?? 0);
    return `<stop offset="${(1 - t) * 100}%" stop-color="rgb(${r},${g},${b})"/>`;
  }).reverse();
  parts.push(
    `<defs><linearGradient id="bar" x1="0" y1="0" x2="0" y2="1">${stops.join('')}</linearGradient></defs>`,
    `<rect x="${barX}" y="${top}" width="${barWidth}" height="${barHeight}" fill="url(#bar)" stroke="#444" stroke-width="0.5"/>`,
    `<text x="${barX + barWidth + 4}" y="${top + 8}" font-size="10">${formatTick(spec.range[1])}</text>`,
    `<text x="${barX + barWidth + 4}" y="${top + barHeight}" font-size="10">${formatTick(spec.range[0])}</text>`,
    `<text x="${barX + barWidth + 4}" y="${top + barHeight / 2 + 4}" font-size="10">${formatTick((spec.range[0] + spec.range[1]) / 2)}</text>`,
    `<text x="${barX - 6}" y="${top + barHeight / 2}" font-size="10" text-anchor="middle" transform="rotate(-90 ${barX - 6} ${top + barHeight / 2})">${escapeXml(spec.colourBarLabel)}</text>`,
    '</svg>',
  );
  const svg = parts.join('\n');
  return { svg, png: svgToPng(svg) };
}
