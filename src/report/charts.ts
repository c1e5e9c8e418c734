/**
 * Charts as vega-lite specifications rendered to SVG by vega (headless, renderer 'none') and to PNG
 * by resvg (DESIGN.md §6: no canvas). Text uses the system's sans-serif font (DejaVu on Debian).
 */
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export interface RenderedChart {
  readonly svg: string;
  readonly png: Uint8Array;
}

/** An SVG rendered to PNG by resvg (system fonts, white background). */
export function svgToPng(svg: string, scale = 2): Uint8Array {
  const png = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    background: 'white',
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
  })
    .render()
    .asPng();
  return new Uint8Array(png);
}

export async function renderChart(spec: TopLevelSpec, scale = 2): Promise<RenderedChart> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    return { svg, png: svgToPng(svg, scale) };
  } finally {
    view.finalize();
  }
}

export interface RocSeries {
  readonly name: string;
  readonly falsePositiveRate: readonly number[];
  readonly truePositiveRate: readonly number[];
  readonly auc: number;
}

/** ROC curves, one line per series (labelled with its AUC), and the chance diagonal. */
export function rocChartSpec(title: string, series: readonly RocSeries[]): TopLevelSpec {
  const values = series.flatMap((entry) =>
    entry.falsePositiveRate.map((fpr, index) => ({
      detector: `${entry.name} (AUC ${Number.isFinite(entry.auc) ? entry.auc.toFixed(3) : '—'})`,
      fpr,
      tpr: entry.truePositiveRate[index] ?? 0,
      order: index,
    })),
  );
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 320,
    height: 320,
    layer: [
      {
        data: {
          values: [
            { fpr: 0, tpr: 0 },
            { fpr: 1, tpr: 1 },
          ],
        },
        mark: { type: 'line', strokeDash: [4, 4], color: '#999' },
        encoding: {
          x: { field: 'fpr', type: 'quantitative' },
          y: { field: 'tpr', type: 'quantitative' },
        },
      },
      {
        data: { values },
        mark: { type: 'line', interpolate: 'step-after' },
        encoding: {
          x: { field: 'fpr', type: 'quantitative', title: 'false-positive rate', scale: { domain: [0, 1] } },
          y: { field: 'tpr', type: 'quantitative', title: 'true-positive rate', scale: { domain: [0, 1] } },
          color: {
            field: 'detector',
            type: 'nominal',
            title: null,
            legend: { orient: 'right', labelLimit: 400 },
          },
          order: { field: 'order', type: 'quantitative' },
        },
      },
    ],
  } as TopLevelSpec;
}
