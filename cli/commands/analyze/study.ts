/**
 * Studies that train several models with one recipe and compare their robustness (Ma et al. 2021
 * §4; SPEC.md §6): `classes` (nested class subsets of one dataset, the 2/3/4-class experiment),
 * `capacity` (architectures and widths, the over-parameterisation claim) and `natural` (one
 * architecture on medical and natural datasets of the same resolution). Each member is trained into
 * OUT/models/<member>/ (resumable: a killed study continues its training run), then measured on the
 * first N test images: parameters, clean accuracy and AUC, accuracy under each attack and ε (the
 * curves), the ε at which accuracy halves, and sharpness (largest CE increase within a radius along
 * the model's own gradient sign × a random sign). study.json is written after every member and a
 * member already in it (same recipe) is not measured again.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  gradientSignDirection,
  lossSurface,
  paperGrid,
  randomSignDirection,
  sharpness,
} from '../../../src/analysis/loss-landscape.ts';
import { imageBatch, selectImages } from '../../../src/data/transforms.ts';
import type { Engine } from '../../../src/engine/contracts.ts';
import { countParameters } from '../../../src/engine/network-spec.ts';
import { evaluateRobustness, formatEpsilon } from '../../../src/evaluation/robustness.ts';
import { openDataset } from '../../../src/node/datasets.ts';
import { loadModel } from '../../../src/node/model-directory.ts';
import { type TrainRecipe, trainRun } from '../../../src/node/training-run.ts';
import { renderChart } from '../../../src/report/charts.ts';
import { accuracyCurvesSpec, type CurvePoint, halvingEpsilon } from '../../../src/report/curves.ts';
import { writeAtomically } from '../../files.ts';
import { mean, writeFigure } from './shared.ts';

export interface StudyMember {
  /** Shown in figures and used as the model's folder name. */
  readonly name: string;
  readonly recipe: TrainRecipe;
}

export interface StudySettings {
  readonly kind: 'classes' | 'capacity' | 'natural';
  readonly attacks: readonly string[];
  readonly epsilons: readonly number[];
  readonly images: number;
  /** Images for sharpness (each costs 256 forward passes). */
  readonly sharpnessImages: number;
  /** In units of 1/255. */
  readonly radius: number;
  readonly batch: number;
  readonly seed: number;
}

export interface MemberResult {
  readonly name: string;
  readonly recipeHash: string;
  readonly data: string;
  readonly arch: string;
  readonly width: number;
  readonly classes: readonly string[];
  readonly parameters: number;
  readonly bestValidationAuc: number;
  readonly trainSeconds: number;
  readonly images: number;
  readonly cleanAccuracy: number;
  readonly cleanAuc: number;
  readonly accuracy: readonly {
    readonly attack: string;
    readonly epsilon: number;
    readonly accuracy: number;
  }[];
  readonly halvingEpsilon: Readonly<Record<string, number | null>>;
  readonly sharpness: number;
}

const slug = (name: string) => name.replace(/[^A-Za-z0-9._-]+/g, '-');
const hashOf = (value: unknown) =>
  createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);

async function measure(
  engine: Engine,
  member: StudyMember,
  directory: string,
  settings: StudySettings,
  log: (message: string) => void,
): Promise<MemberResult> {
  const started = performance.now();
  const training = await trainRun(engine, member.recipe, directory, {
    resume: true,
    onEpoch: (record) =>
      log(
        `${member.name}: epoch ${record.epoch}/${member.recipe.epochs}, validation AUC ${record.validationAuc.toFixed(4)}`,
      ),
  });
  const trainSeconds = (performance.now() - started) / 1000;
  const dataset = await openDataset(member.recipe.data, member.recipe.dataOptions ?? {});
  const all = dataset.read('test');
  const set = selectImages(
    all,
    Array.from({ length: Math.min(settings.images, all.shape[0]) }, (_, index) => index),
  );
  if (set.labelsPerImage === 1) {
    // A test split sorted by class gives a few classes only: say so (a random sample of few images
    // may miss classes too, but is not in label order).
    const measured = new Set(set.labels).size;
    const present = new Set(all.labels).size;
    const inLabelOrder = set.labels.every(
      (label, index) => index === 0 || label >= (set.labels[index - 1] ?? 0),
    );
    if (measured < present && inLabelOrder)
      log(
        `${member.name}: warning: the first ${set.shape[0]} test images are in class order and hold ${measured} of its ${present} classes; measure more images or shuffle the test split`,
      );
  }
  const { classifier, network } = await loadModel(directory, engine);
  try {
    const results = await evaluateRobustness(classifier, set, {
      attacks: settings.attacks.map((name) => ({ name, options: {} })),
      epsilons: settings.epsilons,
      batchSize: settings.batch,
      seed: settings.seed,
    });
    const accuracy = results.entries.map((entry) => ({
      attack: entry.attack,
      epsilon: entry.epsilon,
      accuracy: entry.adversarialAccuracy,
    }));
    const halving = Object.fromEntries(
      settings.attacks.map((attack) => [
        attack,
        halvingEpsilon([
          { series: member.name, attack, epsilon: 0, accuracy: results.clean.accuracy, accuracyOnCorrect: 1 },
          ...accuracy
            .filter((entry) => entry.attack === attack)
            .map((entry) => ({
              series: member.name,
              attack,
              epsilon: entry.epsilon * 255,
              accuracy: entry.accuracy,
              accuracyOnCorrect: 0,
            })),
        ]),
      ]),
    );
    // Sharpness on the first images: own gradient sign × a random sign, the paper's grid.
    const count = Math.min(settings.sharpnessImages, set.shape[0]);
    const x = imageBatch(set, 0, count);
    const labels = Int32Array.from(set.labels.subarray(0, count));
    const own = gradientSignDirection(classifier, x, labels);
    const random = randomSignDirection([count, x.shape[1], x.shape[2], x.shape[3]], settings.seed);
    const surface = lossSurface(classifier, x, labels, own, random, paperGrid, settings.batch * 4);
    tf.dispose([x, own, random]);
    return {
      name: member.name,
      recipeHash: hashOf(member.recipe),
      data: member.recipe.data,
      arch: member.recipe.arch,
      width: member.recipe.width,
      classes: [...set.classNames],
      parameters: countParameters(network.spec),
      bestValidationAuc: training.bestAuc,
      trainSeconds,
      images: set.shape[0],
      cleanAccuracy: results.clean.accuracy,
      cleanAuc: results.clean.auc,
      accuracy,
      halvingEpsilon: halving,
      sharpness: mean(Array.from(sharpness(surface, settings.radius))),
    };
  } finally {
    network.dispose();
  }
}

export async function runStudy(
  engine: Engine,
  members: readonly StudyMember[],
  settings: StudySettings,
  out: string,
  log: (message: string) => void,
): Promise<string[]> {
  await mkdir(join(out, 'models'), { recursive: true });
  const path = join(out, 'study.json');
  const settingsHash = hashOf(settings);
  const previous: MemberResult[] = [];
  if (existsSync(path)) {
    const saved = JSON.parse(await readFile(path, 'utf8')) as {
      settingsHash?: string;
      members?: MemberResult[];
    };
    if (saved.settingsHash === settingsHash) previous.push(...(saved.members ?? []));
  }
  const done: MemberResult[] = [];
  const write = async () => {
    await writeAtomically(
      path,
      `${JSON.stringify({ kind: settings.kind, settings, settingsHash, members: done, complete: done.length === members.length }, null, 2)}\n`,
    );
  };
  for (const member of members) {
    const reused = previous.find(
      (result) => result.name === member.name && result.recipeHash === hashOf(member.recipe),
    );
    if (reused !== undefined) {
      log(`${member.name}: already measured (study.json), skipped`);
      done.push(reused);
      continue;
    }
    const result = await measure(engine, member, join(out, 'models', slug(member.name)), settings, log);
    done.push(result);
    await write();
    log(
      `${member.name}: ${result.parameters.toLocaleString('en')} parameters, clean accuracy ${(100 * result.cleanAccuracy).toFixed(1)} %, ` +
        result.accuracy
          .map(
            (entry) =>
              `${entry.attack} ${formatEpsilon(entry.epsilon)} ${(100 * entry.accuracy).toFixed(1)} %`,
          )
          .join(', ') +
        `, sharpness ${result.sharpness.toFixed(3)}`,
    );
  }
  await write();
  const points: CurvePoint[] = done.flatMap((result) => [
    ...settings.attacks.map((attack) => ({
      series: result.name,
      attack,
      epsilon: 0,
      accuracy: result.cleanAccuracy,
      accuracyOnCorrect: 1,
    })),
    ...result.accuracy.map((entry) => ({
      series: result.name,
      attack: entry.attack,
      epsilon: entry.epsilon * 255,
      accuracy: entry.accuracy,
      accuracyOnCorrect: 0,
    })),
  ]);
  const files = await writeFigure(
    out,
    'study-curves',
    await renderChart(
      accuracyCurvesSpec(
        points.sort((a, b) => a.epsilon - b.epsilon),
        'attack',
        `${settings.kind}: accuracy under attack, one curve per model`,
      ),
    ),
  );
  // The largest ε of the list separates the models most (the first is often too small to move any).
  const summaryEpsilon = Math.max(0, ...settings.epsilons);
  const summary = done.flatMap((result) => [
    { model: result.name, measure: 'clean accuracy (%)', value: 100 * result.cleanAccuracy },
    ...settings.attacks.map((attack) => ({
      model: result.name,
      measure: `${attack} ε=${formatEpsilon(summaryEpsilon)} accuracy (%)`,
      value:
        100 *
        (result.accuracy.find((entry) => entry.attack === attack && entry.epsilon === summaryEpsilon)
          ?.accuracy ?? Number.NaN),
    })),
    { model: result.name, measure: `sharpness within ${settings.radius}/255`, value: result.sharpness },
  ]);
  files.push(
    ...(await writeFigure(
      out,
      'study-summary',
      await renderChart({
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
        title: `${settings.kind}: clean and robust accuracy, sharpness`,
        data: { values: summary },
        facet: { column: { field: 'measure', type: 'nominal', title: null, sort: null } },
        spec: {
          width: 160,
          height: 180,
          mark: 'bar',
          encoding: {
            x: { field: 'model', type: 'nominal', sort: null, title: null, axis: { labelAngle: -30 } },
            y: { field: 'value', type: 'quantitative', title: null },
            color: { field: 'model', type: 'nominal', legend: null, sort: null },
          },
        },
        resolve: { scale: { y: 'independent' } },
      }),
    )),
  );
  return [...files, 'study.json'];
}
