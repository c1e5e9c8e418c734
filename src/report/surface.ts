/**
 * Loss-landscape figures (Ma et al. 2021 Fig. 6): a 3-D surface drawn in isometric projection as
 * SVG (painter's algorithm: quads from back to front, coloured by height with a d3 colour map; axes
 * along the base edges, a height axis and a colour bar), and a heat map of the same grid as a
 * vega-lite chart. PNG by resvg.
 */
import { interpolateViridis } from 'd3-scale-chromatic';
import type { TopLevelSpec } from 'vega-lite';
import { type RenderedChart, svgToPng } from './charts.ts';

export interface SurfaceSpec {
  readonly title: string;
  /** values[i][j] at (first[i], second[j]). */
  readonly values: readonly (readonly number[])[];
  readonly first: readonly number[];
  readonly second: readonly number[];
  readonly firstLabel: string;
  readonly secondLabel: string;
  readonly valueLabel: string;
  /** Shared height range, so surfaces of different models compare; default: this grid's range. */
  readonly range?: readonly [number, number];
}

const escapeXml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const tick = (value: number) => Number(value.toPrecision(3)).toString();

export function renderSurface(spec: SurfaceSpec): RenderedChart {
  const rows = spec.first.length;
  const columns = spec.second.length;
  const flat = spec.values.flat();
  const low = spec.range?.[0] ?? Math.min(...flat);
  const high = spec.range?.[1] ?? Math.max(...flat);
  const span = high > low ? high - low : 1;
  const cell = 240 / Math.max(rows - 1, columns - 1, 1);
  const dx = cell * Math.cos(Math.PI / 6);
  const dy = cell * Math.sin(Math.PI / 6);
  const lift = 200;
  const margin = 190;
  const originX = margin + (columns - 1) * dx;
  const originY = 50;
  const width = originX + (rows - 1) * dx + margin + 40;
  const height = originY + (rows + columns - 2) * dy + lift + 60;
  // Viewed from the origin's corner: (0, 0) is the front (bottom) corner, the largest ε₁ and ε₂ are
  // at the back, so a loss that rises with ε does not hide the rest of the surface.
  const project = (i: number, j: number, value: number): [number, number] => {
    const back = rows - 1 - i;
    const side = columns - 1 - j;
    return [
      originX + (back - side) * dx,
      originY + (back + side) * dy - ((Math.min(high, Math.max(low, value)) - low) / span) * lift + lift,
    ];
  };
  const colour = (value: number) => interpolateViridis(Math.min(1, Math.max(0, (value - low) / span)));
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, sans-serif">`,
    '<rect width="100%" height="100%" fill="white"/>',
    `<text x="${width / 2}" y="20" font-size="14" font-weight="bold" text-anchor="middle">${escapeXml(spec.title)}</text>`,
  ];
  // Axes along the two front base edges (at height `low`): ε₁ runs along j = 0 (left-front edge),
  // ε₂ along i = 0 (right-front edge); ticks outside them.
  const base = (i: number, j: number) => project(i, j, low);
  const [leftX, leftY] = base(rows - 1, 0);
  const [frontX, frontY] = base(0, 0);
  const [rightX, rightY] = base(0, columns - 1);
  parts.push(
    `<polyline points="${leftX},${leftY} ${frontX},${frontY} ${rightX},${rightY}" fill="none" stroke="#666"/>`,
  );
  for (let i = 0; i < rows; i += Math.max(1, Math.round(rows / 5))) {
    const [x, y] = base(i, 0);
    parts.push(
      `<text x="${x - 8}" y="${y + 14}" font-size="10" text-anchor="end">${tick(spec.first[i] ?? 0)}</text>`,
    );
  }
  for (let j = 0; j < columns; j += Math.max(1, Math.round(columns / 5))) {
    const [x, y] = base(0, j);
    parts.push(`<text x="${x + 8}" y="${y + 14}" font-size="10">${tick(spec.second[j] ?? 0)}</text>`);
  }
  parts.push(
    `<text x="${(leftX + frontX) / 2 - 30}" y="${(leftY + frontY) / 2 + 34}" font-size="11" text-anchor="end">${escapeXml(spec.firstLabel)}</text>`,
    `<text x="${(rightX + frontX) / 2 + 30}" y="${(rightY + frontY) / 2 + 34}" font-size="11">${escapeXml(spec.secondLabel)}</text>`,
  );
  // Quads from back (large i + j) to front.
  const quads: { order: number; svg: string }[] = [];
  for (let i = 0; i + 1 < rows; i++) {
    for (let j = 0; j + 1 < columns; j++) {
      const corners = [
        [i, j],
        [i + 1, j],
        [i + 1, j + 1],
        [i, j + 1],
      ] as const;
      const heights = corners.map(([a, b]) => spec.values[a]?.[b] ?? low);
      const points = corners.map(([a, b], index) => project(a, b, heights[index] ?? low).join(',')).join(' ');
      const mean = heights.reduce((sum, value) => sum + value, 0) / 4;
      quads.push({
        order: -(i + j),
        svg: `<polygon points="${points}" fill="${colour(mean)}" stroke="#333" stroke-width="0.3"/>`,
      });
    }
  }
  quads.sort((a, b) => a.order - b.order);
  parts.push(...quads.map((quad) => quad.svg));
  // Height axis at the left corner, and the colour bar.
  parts.push(
    `<line x1="${leftX - 6}" y1="${leftY}" x2="${leftX - 6}" y2="${leftY - lift}" stroke="#666"/>`,
    `<text x="${leftX - 10}" y="${leftY}" font-size="10" text-anchor="end">${tick(low)}</text>`,
    `<text x="${leftX - 10}" y="${leftY - lift + 8}" font-size="10" text-anchor="end">${tick(high)}</text>`,
    `<text x="${leftX - 10}" y="${leftY - lift - 10}" font-size="11" text-anchor="end">${escapeXml(spec.valueLabel)}</text>`,
  );
  const barX = width - 40;
  const barTop = 60;
  const barHeight = 200;
  const stops = Array.from({ length: 11 }, (_, index) => {
    const t = index / 10;
    return `<stop offset="${t * 100}%" stop-color="${interpolateViridis(1 - t)}"/>`;
  });
  parts.push(
    `<defs><linearGradient id="surface-bar" x1="0" y1="0" x2="0" y2="1">${stops.join('')}</linearGradient></defs>`,
    `<rect x="${barX}" y="${barTop}" width="12" height="${barHeight}" fill="url(#surface-bar)" stroke="#444" stroke-width="0.5"/>`,
    `<text x="${barX - 4}" y="${barTop + 8}" font-size="10" text-anchor="end">${tick(high)}</text>`,
    `<text x="${barX - 4}" y="${barTop + barHeight}" font-size="10" text-anchor="end">${tick(low)}</text>`,
    '</svg>',
  );
  const svg = parts.join('\n');
  return { svg, png: svgToPng(svg) };
}

/** The same grid as a heat map (vega-lite): one rect per grid point. */
export function heatmapSpec(spec: SurfaceSpec): TopLevelSpec {
  const values = spec.first.flatMap((first, i) =>
    spec.second.map((second, j) => ({ first, second, value: spec.values[i]?.[j] ?? 0 })),
  );
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: spec.title,
    width: 260,
    height: 260,
    data: { values },
    mark: 'rect',
    encoding: {
      x: {
        field: 'first',
        type: 'ordinal',
        title: spec.firstLabel,
        axis: { labelAngle: 0, labelOverlap: true },
      },
      y: {
        field: 'second',
        type: 'ordinal',
        title: spec.secondLabel,
        sort: 'descending',
        axis: { labelOverlap: true },
      },
      color: {
        field: 'value',
        type: 'quantitative',
        title: spec.valueLabel,
        scale: { scheme: 'viridis', ...(spec.range === undefined ? {} : { domain: [...spec.range] }) },
      },
    },
  };
}
