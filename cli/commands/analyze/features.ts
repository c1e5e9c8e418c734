/**
 * `medrobust analyze features`: channel-mean feature maps of one block, clean against adversarial
 * (Ma et al. 2021 Fig. 7), and for every stage the relative change of the whole activation under
 * attack against the input's relative change (src/analysis/feature-maps.ts). Writes
 * features-<tap>.png|svg (rows: images; columns: clean, its map, adversarial, its map, |difference|,
 * each row on the range of its clean and adversarial maps), features-change.png|svg and features.json.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { compareFeatures } from '../../../src/analysis/feature-maps.ts';
import { mapOf } from '../../../src/analysis/saliency.ts';
import { imageBatch } from '../../../src/data/transforms.ts';
import { formatEpsilon } from '../../../src/evaluation/robustness.ts';
import { renderChart } from '../../../src/report/charts.ts';
import { renderPanel } from '../../../src/report/panels.ts';
import { writeAtomically } from '../../files.ts';
import { type AnalysisSubject, attackSet, mean, standardDeviation, writeFigure } from './shared.ts';

export interface FeatureSettings {
  readonly attack: string;
  readonly epsilon: number;
  /** The block drawn (default: the second stage). */
  readonly tap: string | undefined;
  readonly batch: number;
  readonly seed: number;
  readonly show: number;
}

export async function runFeatures(
  subject: AnalysisSubject,
  settings: FeatureSettings,
  out: string,
  log: (message: string) => void,
): Promise<string[]> {
  await mkdir(out, { recursive: true });
  const { classifier, set } = subject;
  const stages = classifier.info.layers.filter((name) => /^(stem|layer\d+|block\d+)$/.test(name));
  const blocks = stages.filter((name) => name !== 'stem');
  const drawn = settings.tap ?? blocks[Math.min(1, blocks.length - 1)] ?? stages[0] ?? '';
  const taps = [...new Set([...stages, drawn])];
  const attacked = attackSet(classifier, set, settings, log);
  const adversarialSet = { ...set, images: attacked.adversarial };
  const change = new Map<string, number[]>(taps.map((tap) => [tap, []]));
  const inputChange: number[] = [];
  const shown: { clean: Float32Array; adversarial: Float32Array; index: number }[] = [];
  let mapHeight = 0;
  let mapWidth = 0;
  for (let start = 0; start < set.shape[0]; start += settings.batch) {
    const end = Math.min(set.shape[0], start + settings.batch);
    const clean = imageBatch(set, start, end);
    const adversarial = imageBatch(adversarialSet, start, end);
    try {
      const comparison = compareFeatures(classifier, clean, adversarial, taps);
      for (const tap of taps) change.get(tap)?.push(...(comparison.relativeChange.get(tap) ?? []));
      inputChange.push(...comparison.inputChange);
      const maps = comparison.maps.get(drawn);
      if (maps === undefined) continue;
      mapHeight = maps.clean.height;
      mapWidth = maps.clean.width;
      for (let index = 0; index < end - start && shown.length < settings.show; index++) {
        shown.push({
          clean: mapOf(maps.clean, index),
          adversarial: mapOf(maps.adversarial, index),
          index: start + index,
        });
      }
    } finally {
      clean.dispose();
      adversarial.dispose();
    }
  }
  const files: string[] = [];
  if (shown.length > 0) {
    // Feature maps are coarser than images: draw images at the map's size by nearest sampling.
    const [height, width, channels] = classifier.info.inputShape;
    const pixels = height * width * channels;
    const resample = (image: Float32Array) =>
      Float32Array.from({ length: mapHeight * mapWidth * channels }, (_, index) => {
        const c = index % channels;
        const position = Math.floor(index / channels);
        const y = Math.floor(((Math.floor(position / mapWidth) + 0.5) * height) / mapHeight);
        const x = Math.floor((((position % mapWidth) + 0.5) * width) / mapWidth);
        return image[(y * width + x) * channels + c] ?? 0;
      });
    const rows = shown.map(({ clean, adversarial, index }) => {
      // One scale per row: both maps and the difference over the larger of the two maps' maxima.
      let largest = 0;
      for (let i = 0; i < clean.length; i++)
        largest = Math.max(largest, Math.abs(clean[i] ?? 0), Math.abs(adversarial[i] ?? 0));
      const scale = largest > 0 ? 1 / largest : 1;
      const image = set.images.subarray(index * pixels, (index + 1) * pixels);
      const attackedImage = attacked.adversarial.subarray(index * pixels, (index + 1) * pixels);
      return {
        label: `#${index} ${set.classNames[set.labels[index] ?? 0] ?? ''}`.slice(0, 40),
        cells: [
          { kind: 'image' as const, values: resample(image), channels },
          { kind: 'heatmap' as const, values: clean.map((value) => value * scale) },
          { kind: 'image' as const, values: resample(attackedImage), channels },
          { kind: 'heatmap' as const, values: adversarial.map((value) => value * scale) },
          {
            kind: 'heatmap' as const,
            values: clean.map((value, i) => Math.abs((adversarial[i] ?? 0) - value) * scale),
          },
        ],
      };
    });
    const panel = await renderPanel({
      title: `${drawn}: channel-mean feature map, clean vs ${settings.attack} ε = ${formatEpsilon(settings.epsilon)}`,
      columns: ['clean', 'features', 'adversarial', 'features', '|difference|'],
      rows,
      height: mapHeight,
      width: mapWidth,
      colourMap: 'viridis',
      range: [0, 1],
      colourBarLabel: 'activation / row maximum',
    });
    files.push(...(await writeFigure(out, `features-${drawn}`, panel)));
  }
  const summary = [
    { layer: 'input', mean: mean(inputChange), standardDeviation: standardDeviation(inputChange) },
    ...taps.map((tap) => ({
      layer: tap,
      mean: mean(change.get(tap) ?? []),
      standardDeviation: standardDeviation(change.get(tap) ?? []),
    })),
  ];
  const chart = await renderChart({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `Relative change under ${settings.attack} ε = ${formatEpsilon(settings.epsilon)}, by depth`,
    width: 360,
    height: 220,
    data: {
      values: summary.map((entry) => ({
        ...entry,
        low: entry.mean - entry.standardDeviation,
        high: entry.mean + entry.standardDeviation,
      })),
    },
    layer: [
      {
        mark: { type: 'bar' },
        encoding: {
          x: { field: 'layer', type: 'nominal', sort: null, title: null, axis: { labelAngle: 0 } },
          y: { field: 'mean', type: 'quantitative', title: '‖A(x′) − A(x)‖ / ‖A(x)‖ (mean ± sd)' },
        },
      },
      {
        mark: { type: 'errorbar' },
        encoding: {
          x: { field: 'layer', type: 'nominal', sort: null },
          y: { field: 'low', type: 'quantitative', title: '‖A(x′) − A(x)‖ / ‖A(x)‖ (mean ± sd)' },
          y2: { field: 'high' },
        },
      },
    ],
  });
  files.push(...(await writeFigure(out, 'features-change', chart)));
  const json = {
    kind: 'features',
    dataset: subject.name,
    model: classifier.info.name,
    attack: settings.attack,
    epsilon: settings.epsilon,
    epsilonText: formatEpsilon(settings.epsilon),
    drawn,
    images: set.shape[0],
    relativeChange: summary,
    perImage: Object.fromEntries([
      ['input', inputChange],
      ...taps.map((tap) => [tap, change.get(tap) ?? []]),
    ]),
    files: [...files, 'features.json'],
  };
  await writeAtomically(join(out, 'features.json'), `${JSON.stringify(json, null, 2)}\n`);
  log(summary.map((entry) => `${entry.layer} ${entry.mean.toFixed(3)}`).join(', '));
  return [...files, 'features.json'];
}
