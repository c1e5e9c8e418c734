/**
 * `medrobust analyze curves --results DIR[,DIR…]`: accuracy-vs-ε curves from `medrobust attack`
 * results (src/report/curves.ts): curves-by-attack (one panel per attack, one curve per results
 * folder) and curves-by-data (one panel per folder, one curve per attack and the worst case), PNG and
 * SVG, and curves.json with the points and the ε at which accuracy halves.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { MedrobustError } from '../../../src/core/errors.ts';
import { renderChart } from '../../../src/report/charts.ts';
import {
  accuracyCurvesSpec,
  type CurveSeries,
  curvePoints,
  halvingEpsilon,
} from '../../../src/report/curves.ts';
import { robustnessResultsSchema } from '../../../src/report/robustness-schema.ts';
import { writeAtomically } from '../../files.ts';
import { writeFigure } from './shared.ts';

async function readResults(directory: string, name: string): Promise<CurveSeries> {
  const path = directory.endsWith('.json') ? directory : join(directory, 'results.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new MedrobustError('not-found', `no attack results at ${path}`, {
      hint: 'pass the --out folder of a `medrobust attack` run (it holds results.json)',
    });
  }
  const parsed = robustnessResultsSchema.safeParse(JSON.parse(text));
  if (!parsed.success) {
    throw new MedrobustError('invalid-data', `${path} is not a medrobust attack results file`, {
      hint: `${parsed.error.issues[0]?.path.join('.') ?? ''}: ${parsed.error.issues[0]?.message ?? ''}`,
    });
  }
  return { name, results: parsed.data };
}

export async function runCurves(
  directories: readonly string[],
  names: readonly string[] | undefined,
  out: string,
): Promise<string[]> {
  if (names !== undefined && names.length !== directories.length) {
    throw new MedrobustError(
      'invalid-argument',
      `${names.length} --names for ${directories.length} --results`,
      {
        hint: 'give one name per results folder, in the same order',
      },
    );
  }
  const series = await Promise.all(
    directories.map((directory, index) =>
      readResults(directory, names?.[index] ?? basename(directory.replace(/\/results\.json$|\/$/, ''))),
    ),
  );
  await mkdir(out, { recursive: true });
  const points = curvePoints(series);
  const files = [
    ...(await writeFigure(
      out,
      'curves-by-attack',
      await renderChart(accuracyCurvesSpec(points, 'attack', 'Accuracy under attack, per attack')),
    )),
    ...(await writeFigure(
      out,
      'curves-by-data',
      await renderChart(accuracyCurvesSpec(points, 'series', 'Accuracy under attack, per data / model')),
    )),
  ];
  const halving = series.flatMap(({ name }) =>
    [...new Set(points.filter((point) => point.series === name).map((point) => point.attack))].map(
      (attack) => ({
        series: name,
        attack,
        epsilon: halvingEpsilon(points.filter((point) => point.series === name && point.attack === attack)),
      }),
    ),
  );
  await writeAtomically(
    join(out, 'curves.json'),
    `${JSON.stringify({ kind: 'curves', series: series.map(({ name }, index) => ({ name, results: directories[index] })), halvingEpsilon: halving, points, files: [...files, 'curves.json'] }, null, 2)}\n`,
  );
  return [...files, 'curves.json'];
}
