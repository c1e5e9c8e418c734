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
import type { TopLevelSpec } from 'vega-lite';
import {
  gradientSignDirection,
  lossSurface,
  paperGrid,
  randomSignDirection,
  sharpness,
} from '../../../src/analysis/loss-landscape.ts';
import { MedrobustError } from '../../../src/core/errors.ts';
import { Random } from '../../../src/core/random.ts';
import type { ImageSet } from '../../../src/data/image-set.ts';
import { imageBatch, selectImages } from '../../../src/data/transforms.ts';
import type { Engine } from '../../../src/engine/contracts.ts';
import { countParameters } from '../../../src/engine/network-spec.ts';
import { evaluateDetection } from '../../../src/evaluation/detection/evaluate-detection.ts';
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
  /**
   * Detection of each member's adversarial examples (grouped protocol), when asked for. Kept out of
   * the settings' hash: changing it re-runs the detection of every member, not its training and
   * robustness measurement.
   */
  readonly detection?: StudyDetectionSettings;
}

export interface StudyDetectionSettings {
  readonly attack: string;
  readonly epsilon: number;
  readonly detectors: readonly string[];
  /** Training images the detectors' clean reference is drawn from (seeded). */
  readonly reference: number;
}

export interface MemberDetection {
  readonly settingsHash: string;
  readonly attack: string;
  readonly epsilon: number;
  /** Correctly classified images attacked. */
  readonly sources: number;
  readonly successRate: number;
  readonly rows: readonly {
    readonly detector: string;
    readonly auc: number;
    /** AUC with only the successful adversarial examples as positives. */
    readonly aucSuccessful: number;
    readonly truePositiveRateAt5: number;
  }[];
  /** Why there are no rows (e.g. too few correctly classified images), when detection could not run. */
  readonly error?: string;
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
  readonly detection?: MemberDetection;
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
  const { all, set } = await testImages(member, settings);
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

/** The first `images` test images of a member's dataset, read as its recipe reads them. */
async function testImages(
  member: StudyMember,
  settings: StudySettings,
): Promise<{ all: ImageSet; set: ImageSet }> {
  const dataset = await openDataset(member.recipe.data, member.recipe.dataOptions ?? {});
  const all = dataset.read('test');
  const set = selectImages(
    all,
    Array.from({ length: Math.min(settings.images, all.shape[0]) }, (_, index) => index),
  );
  return { all, set };
}

/**
 * Detection AUC of a trained member (SPEC.md §6's "detection AUC" of medical against natural
 * images): the study's test images, the chosen attack at its ε, each detector under the grouped
 * protocol, the clean reference drawn from the training split with the study's seed.
 */
async function detect(
  engine: Engine,
  member: StudyMember,
  directory: string,
  settings: StudySettings,
  detection: StudyDetectionSettings,
  log: (message: string) => void,
): Promise<MemberDetection> {
  const { set } = await testImages(member, settings);
  const train = (await openDataset(member.recipe.data, member.recipe.dataOptions ?? {})).read('train');
  const reference = selectImages(
    train,
    new Random(settings.seed)
      .permutation(train.shape[0])
      .slice(0, Math.min(detection.reference, train.shape[0])),
  );
  const { classifier, network } = await loadModel(directory, engine);
  const base = { settingsHash: hashOf(detection), attack: detection.attack, epsilon: detection.epsilon };
  try {
    const results = await evaluateDetection(classifier, set, reference, {
      attacks: [{ name: detection.attack }],
      epsilon: detection.epsilon,
      detectors: detection.detectors.map((name) => ({ name })),
      protocols: ['grouped'],
      batchSize: settings.batch,
      seed: settings.seed,
      onProgress: (message) => log(`${member.name}: ${message}`),
    });
    return {
      ...base,
      sources: results.sources.length,
      successRate: results.attacks[0]?.successRate ?? 0,
      rows: results.rows.map((row) => ({
        detector: row.detector,
        auc: row.mean.all.auc,
        aucSuccessful: row.mean.successful.auc,
        truePositiveRateAt5: row.mean.all.truePositiveRateAt5,
      })),
    };
  } catch (error) {
    // One member's detection failing (a weak model leaves too few correct images) keeps the study:
    // recorded, not retried with the same settings.
    if (!(error instanceof MedrobustError)) throw error;
    return { ...base, sources: 0, successRate: 0, rows: [], error: error.message };
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
  const { detection, ...measured } = settings;
  const settingsHash = hashOf(measured);
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
    const directory = join(out, 'models', slug(member.name));
    const detectionCurrent = detection === undefined || reused?.detection?.settingsHash === hashOf(detection);
    if (reused !== undefined && detectionCurrent) {
      log(`${member.name}: already measured (study.json), skipped`);
      done.push(reused);
      continue;
    }
    let result = reused ?? (await measure(engine, member, directory, settings, log));
    if (reused !== undefined) log(`${member.name}: already measured (study.json); detection only`);
    if (!detectionCurrent && detection !== undefined) {
      // Written first without detection, so a kill during detection keeps the measurement.
      done.push(result);
      await write();
      done.pop();
      const found = await detect(engine, member, directory, settings, detection, log);
      result = { ...result, detection: found };
      log(
        found.error === undefined
          ? `${member.name}: ${detection.attack} ${formatEpsilon(detection.epsilon)} fools ${(100 * found.successRate).toFixed(1)} % of ${found.sources} images; detection AUC ` +
              found.rows.map((row) => `${row.detector} ${row.auc.toFixed(3)}`).join(', ')
          : `${member.name}: warning: no detection AUC: ${found.error}`,
      );
    }
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
  const detected = done.flatMap((result) =>
    (result.detection?.rows ?? []).flatMap((row) => [
      { model: result.name, detector: row.detector, adversarial: 'all', auc: row.auc },
      { model: result.name, detector: row.detector, adversarial: 'successful only', auc: row.aucSuccessful },
    ]),
  );
  if (detection !== undefined && detected.length > 0) {
    files.push(
      ...(await writeFigure(
        out,
        'study-detection',
        await renderChart(studyDetectionSpec(detected, settings.kind, detection)),
      )),
    );
  }
  return [...files, 'study.json'];
}

/** Detection AUC per detector (panels), one bar per model, all and successful adversarial examples. */
function studyDetectionSpec(
  values: readonly { model: string; detector: string; adversarial: string; auc: number }[],
  kind: StudySettings['kind'],
  detection: StudyDetectionSettings,
): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `${kind}: detection AUC (grouped protocol), ${detection.attack} at ε=${formatEpsilon(detection.epsilon)}`,
    data: { values: [...values] },
    facet: {
      column: { field: 'detector', type: 'nominal', title: null, sort: [...detection.detectors] },
      row: { field: 'adversarial', type: 'nominal', title: null, sort: null },
    },
    spec: {
      width: 130,
      height: 140,
      layer: [
        {
          mark: 'bar',
          encoding: {
            x: { field: 'model', type: 'nominal', sort: null, title: null, axis: { labelAngle: -30 } },
            y: { field: 'auc', type: 'quantitative', title: 'AUC', scale: { domain: [0, 1] } },
            color: { field: 'model', type: 'nominal', sort: null, title: 'data / model' },
          },
        },
        { mark: { type: 'rule', strokeDash: [4, 3], color: '#555' }, encoding: { y: { datum: 0.5 } } },
      ],
    },
  };
}
