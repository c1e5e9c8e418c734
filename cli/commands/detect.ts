/**
 * `medrobust detect --model DIR --data PATH --attack paper-pgd --eps 1/255 --detectors kd,lid,…
 * --protocol grouped,paper --out DIR`: the detection experiment of src/evaluation/detection.
 * Writes detection.json and detection.csv (AUC, TPR at 5 % FPR, accuracy; on all and on successful
 * adversarial examples; oblivious and adaptive attackers), ROC curves per attack and protocol
 * (PNG and SVG), the adversarial images of each attack (adversarial-<attack>-<ε>.npz, reused by
 * `--resume`), and each detector fitted on all the data under detectors/<detector>-<attack>/, which
 * `medrobust serve --detectors` loads.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from '@commander-js/extra-typings';
import { getAttack } from '../../src/attacks/registry.ts';
import { MedrobustError } from '../../src/core/errors.ts';
import { Random } from '../../src/core/random.ts';
import type { ImageSet } from '../../src/data/image-set.ts';
import type { Split } from '../../src/data/medmnist.ts';
import { splits } from '../../src/data/medmnist.ts';
import { readNpz, writeNpz } from '../../src/data/npz.ts';
import { selectImages } from '../../src/data/transforms.ts';
import { detectorNames, detectors, getDetector } from '../../src/detectors/registry.ts';
import type { Classifier } from '../../src/engine/contracts.ts';
import {
  type DetectionResults,
  type DetectionRow,
  evaluateDetection,
} from '../../src/evaluation/detection/evaluate-detection.ts';
import { type ProtocolName, protocolNames } from '../../src/evaluation/detection/protocols.ts';
import { formatEpsilon } from '../../src/evaluation/robustness.ts';
import { openDataset } from '../../src/node/datasets.ts';
import { saveDetector } from '../../src/node/detector-directory.ts';
import { loadModel } from '../../src/node/model-directory.ts';
import { renderChart, rocChartSpec } from '../../src/report/charts.ts';
import { engineOption } from '../common-options.ts';
import { datasetOptionsFrom, withDatasetOptions } from '../dataset-options.ts';
import { loadEngineReporting } from '../engine.ts';
import { writeAtomically } from '../files.ts';
import {
  parseChoice,
  parseEpsilon,
  parseInteger,
  parseList,
  parseNamedOptions,
  parsePositiveNumber,
} from '../parse.ts';
import { epsilonSlug, optionLines, requireFlags } from '../registry-listing.ts';

const defaultDetectors = 'kd,lid,dfeat,qfeat,mahalanobis';

function listDetectors(): string {
  const lines: string[] = [];
  for (const name of detectorNames) {
    const detector = detectors[name];
    if (detector === undefined) continue;
    lines.push(`${name.padEnd(12)} ${detector.description}`);
    lines.push(`${''.padEnd(12)} ${detector.paper.authors}, ${detector.paper.venue} ${detector.paper.year}`);
    lines.push(...optionLines(name, detector.options, '--detector-options'));
  }
  return lines.join('\n');
}

const percent = (value: number) => (Number.isFinite(value) ? (100 * value).toFixed(1) : '—');
const decimal = (value: number) => (Number.isFinite(value) ? value.toFixed(3) : '—');

function csvOf(rows: readonly DetectionRow[]): string {
  const header = [
    'detector',
    'attack',
    'protocol',
    'adversary',
    'auc',
    'auc_sd',
    'tpr_at_5_fpr',
    'accuracy',
    'auc_successful',
    'tpr_at_5_fpr_successful',
    'accuracy_successful',
  ];
  const lines = rows.map((row) =>
    [
      row.detector,
      row.attack,
      row.protocol,
      row.adversary,
      row.mean.all.auc,
      row.standardDeviation.all.auc,
      row.mean.all.truePositiveRateAt5,
      row.mean.all.accuracy,
      row.mean.successful.auc,
      row.mean.successful.truePositiveRateAt5,
      row.mean.successful.accuracy,
    ].join(','),
  );
  return `${[header.join(','), ...lines].join('\n')}\n`;
}

/** JSON with NaN written as null. */
function jsonOf(value: unknown): string {
  return `${JSON.stringify(value, (_, item) => (typeof item === 'number' && !Number.isFinite(item) ? null : item), 2)}\n`;
}

export interface DetectionRunSettings {
  /** The model directory and dataset, as recorded in detection.json. */
  readonly model: string;
  readonly data: string;
  readonly split: Split;
  readonly attacks: readonly { readonly name: string; readonly options: Readonly<Record<string, unknown>> }[];
  readonly epsilon: number;
  readonly detectors: readonly {
    readonly name: string;
    readonly options: Readonly<Record<string, unknown>>;
  }[];
  readonly protocols: readonly ProtocolName[];
  readonly batch: number;
  readonly seed: number;
  readonly splits: number;
  readonly adaptive?: { readonly weight: number; readonly featureMatching: boolean };
  /** Reuse adversarial images already in `out`. */
  readonly resume: boolean;
}

/** What detection.json holds (NaN written as null). */
export interface DetectionDocument {
  readonly cleanAccuracy: number;
  readonly sourceImages: number;
  readonly attacks: DetectionResults['attacks'];
  readonly rows: readonly Omit<DetectionRow, 'roc'>[];
  readonly crossAttack: DetectionResults['crossAttack'];
  readonly adaptive: DetectionResults['adaptive'];
  readonly [key: string]: unknown;
}

/**
 * Fits and evaluates the detectors (evaluateDetection) and writes into `out`: adversarial-*.npz,
 * fitted detectors under detectors/, ROC charts, detection.json and detection.csv.
 */
export async function runDetection(
  classifier: Classifier,
  engineDescription: Readonly<Record<string, string | number | boolean>>,
  test: ImageSet,
  reference: ImageSet,
  settings: DetectionRunSettings,
  out: string,
  log: (message: string) => void,
): Promise<{ results: DetectionResults; document: DetectionDocument }> {
  await mkdir(out, { recursive: true });
  const slug = epsilonSlug(settings.epsilon);
  const adversarialFile = (attack: string) => join(out, `adversarial-${attack}-${slug}.npz`);
  if (!settings.resume && settings.attacks.some(({ name: attack }) => existsSync(adversarialFile(attack)))) {
    throw new MedrobustError('invalid-argument', `${out} already holds adversarial images of this run`, {
      hint: 'pass --resume to reuse them, or choose another --out',
    });
  }
  const [, height, width, channels] = test.shape;
  const started = performance.now();
  const results = await evaluateDetection(classifier, test, reference, {
    attacks: settings.attacks,
    epsilon: settings.epsilon,
    detectors: settings.detectors,
    protocols: settings.protocols,
    batchSize: settings.batch,
    seed: settings.seed,
    splits: settings.splits,
    ...(settings.adaptive === undefined ? {} : { adaptive: settings.adaptive }),
    onProgress: log,
    previousAttack: async (attack) => {
      const path = adversarialFile(attack);
      if (!settings.resume || !existsSync(path)) return undefined;
      const archive = readNpz(await readFile(path), path);
      log(`reusing ${path}`);
      return {
        adversarial: archive.get('adversarial').data as Float32Array,
        predictions: archive.get('adversarial_predictions').data as Int32Array,
        success: archive.get('success').data as Uint8Array,
        seconds: 0,
      };
    },
    onAttack: async (output) => {
      const count = output.labels.length;
      await writeAtomically(
        adversarialFile(output.attack),
        writeNpz({
          clean: { dtype: 'f4', shape: [count, height, width, channels], data: output.clean },
          adversarial: { dtype: 'f4', shape: [count, height, width, channels], data: output.adversarial },
          labels: { dtype: 'i4', shape: [count], data: output.labels },
          adversarial_predictions: { dtype: 'i4', shape: [count], data: output.predictions },
          success: { dtype: 'u1', shape: [count], data: output.success },
          indices: { dtype: 'i4', shape: [count], data: output.sources },
        }),
      );
    },
  });

  for (const { detector, attack, fitted } of results.fitted) {
    await saveDetector(join(out, 'detectors', `${detector}-${attack}`), fitted.toJSON());
  }
  // One chart per attack and protocol against the oblivious attacker, one per attack for the
  // adaptive and feature-matching attackers (grouped protocol, first split).
  const charts: { file: string; title: string; rows: DetectionRow[] }[] = [];
  for (const { name: attack } of settings.attacks) {
    for (const protocol of settings.protocols) {
      charts.push({
        file: `roc-${attack}-${protocol}`,
        title: `${attack} ε=${formatEpsilon(settings.epsilon)}, ${protocol} protocol`,
        rows: results.rows.filter(
          (row) => row.attack === attack && row.protocol === protocol && row.adversary === 'oblivious',
        ),
      });
    }
    charts.push({
      file: `roc-${attack}-adaptive`,
      title: `${attack} ε=${formatEpsilon(settings.epsilon)}: adaptive attackers`,
      rows: results.rows.filter((row) => row.attack === attack && row.adversary !== 'oblivious'),
    });
  }
  for (const chart of charts) {
    if (chart.rows.length === 0) continue;
    const rendered = await renderChart(
      rocChartSpec(
        chart.title,
        chart.rows.map((row) => ({
          name: row.adversary === 'oblivious' ? row.detector : `${row.detector}, ${row.adversary}`,
          ...row.roc,
          auc: row.mean.all.auc,
        })),
      ),
    );
    await writeAtomically(join(out, `${chart.file}.svg`), rendered.svg);
    await writeAtomically(join(out, `${chart.file}.png`), rendered.png);
  }
  const document = {
    format: 'medrobust-detection',
    version: 1,
    createdAt: new Date().toISOString(),
    configuration: {
      model: settings.model,
      data: settings.data,
      split: settings.split,
      images: test.shape[0],
      reference: reference.shape[0],
      attacks: settings.attacks,
      epsilon: settings.epsilon,
      epsilonText: formatEpsilon(settings.epsilon),
      detectors: settings.detectors,
      protocols: settings.protocols,
      splits: settings.splits,
      seed: settings.seed,
    },
    engine: engineDescription,
    cleanAccuracy: results.cleanAccuracy,
    sourceImages: results.sources.length,
    attacks: results.attacks,
    rows: results.rows.map(({ roc: _roc, ...row }) => row),
    crossAttack: results.crossAttack,
    adaptive: results.adaptive,
    seconds: (performance.now() - started) / 1000,
  };
  await writeAtomically(join(out, 'detection.json'), jsonOf(document));
  await writeAtomically(join(out, 'detection.csv'), csvOf(results.rows));
  return { results, document: JSON.parse(jsonOf(document)) as DetectionDocument };
}

export function detectCommand(): Command {
  return withDatasetOptions(new Command('detect'))
    .description('fit and evaluate adversarial-example detectors (KD, LID, DFeat, QFeat, Mahalanobis, BU)')
    .option('--model <dir>', 'model directory')
    .option('--data <path>', 'dataset file or folder')
    .option('--split <name>', `split: ${splits.join(', ')}`, parseChoice('--split', splits), 'test')
    .option('--attack <names>', 'attacks, comma-separated', parseList, ['paper-pgd'])
    .option('--eps <value>', 'ε of every attack (e.g. 1/255)', parseEpsilon, 1 / 255)
    .option('--options <json>', 'per-attack options as JSON', parseNamedOptions('--options', 'attack'), {})
    .option(
      '--detectors <names>',
      `detectors, comma-separated (--list shows them)`,
      parseList,
      parseList(defaultDetectors),
    )
    .option(
      '--detector-options <json>',
      'per-detector options as JSON, e.g. \'{"kd":{"bandwidth":0.5}}\'',
      parseNamedOptions('--detector-options', 'detector'),
      {},
    )
    .option('--protocol <names>', `protocols: ${protocolNames.join(', ')}`, parseList, ['grouped', 'paper'])
    .option('--images <count>', 'use only the first N images of the split', parseInteger('--images', 10))
    .option(
      '--reference <count>',
      'clean training images the detectors are fitted on (KD densities, Mahalanobis statistics)',
      parseInteger('--reference', 2),
      1000,
    )
    .option(
      '--adaptive <weight>',
      'also attack each detector adaptively: PGD on CE − weight × detector score (grouped protocol, first split)',
      parsePositiveNumber('--adaptive'),
    )
    .option(
      '--feature-matching',
      'with --adaptive, also the feature-matching attacker (pulls features to the target class)',
    )
    .option('--splits <count>', 'random 80/20 splits per protocol', parseInteger('--splits', 1, 100), 3)
    .option('--batch <size>', 'images per batch', parseInteger('--batch', 1, 4096), 100)
    .option('--seed <n>', 'seed of attacks, reference sample and splits', parseInteger('--seed', 0), 0)
    .option('--out <dir>', 'output folder')
    .option('--resume', 'reuse the adversarial images of attacks already finished in --out')
    .option('--list', 'list the detectors and their options, then exit')
    .addOption(engineOption())
    .action(async (options) => {
      if (options.list) {
        process.stdout.write(`${listDetectors()}\n`);
        return;
      }
      requireFlags(
        [
          ['--model', options.model],
          ['--data', options.data],
          ['--out', options.out],
        ],
        'medrobust detect --model DIR --data PATH --out DIR [--attack paper-pgd --eps 1/255]',
      );
      const out = options.out as string;
      for (const name of options.attack) getAttack(name);
      for (const name of options.detectors) getDetector(name);
      for (const name of options.protocol) {
        if (!(protocolNames as readonly string[]).includes(name)) {
          throw new MedrobustError('invalid-argument', `unknown protocol '${name}'`, {
            hint: `choose from: ${protocolNames.join(', ')}`,
          });
        }
      }
      for (const [flag, names, known] of [
        ['--options', Object.keys(options.options), options.attack],
        ['--detector-options', Object.keys(options.detectorOptions), options.detectors],
      ] as const) {
        for (const name of names) {
          if (!known.includes(name)) {
            throw new MedrobustError(
              'invalid-argument',
              `${flag} names "${name}", which this run does not use`,
              {
                hint: `this run uses: ${known.join(', ')}`,
              },
            );
          }
        }
      }

      const engine = await loadEngineReporting(options.engine);
      const dataset = await openDataset(options.data as string, datasetOptionsFrom(options));
      let test = dataset.read(options.split);
      if (options.images !== undefined && options.images < test.shape[0]) {
        test = selectImages(
          test,
          Array.from({ length: options.images }, (_, index) => index),
        );
      }
      const train = dataset.read('train');
      const referenceCount = Math.min(options.reference, train.shape[0]);
      const reference = selectImages(
        train,
        new Random(options.seed).permutation(train.shape[0]).slice(0, referenceCount),
      );
      const { classifier, network } = await loadModel(options.model as string, engine);

      const { results } = await runDetection(
        classifier,
        engine.describe(),
        test,
        reference,
        {
          model: options.model as string,
          data: options.data as string,
          split: options.split,
          attacks: options.attack.map((name) => ({ name, options: options.options[name] ?? {} })),
          epsilon: options.eps,
          detectors: options.detectors.map((name) => ({
            name,
            options: options.detectorOptions[name] ?? {},
          })),
          protocols: options.protocol as ProtocolName[],
          batch: options.batch,
          seed: options.seed,
          splits: options.splits,
          ...(options.adaptive === undefined
            ? {}
            : { adaptive: { weight: options.adaptive, featureMatching: options.featureMatching === true } }),
          resume: options.resume === true,
        },
        out,
        (message) => process.stderr.write(`medrobust: ${message}\n`),
      );
      network.dispose();
      const lines = [
        `${results.sources.length} of ${test.shape[0]} images classified correctly; ε=${formatEpsilon(options.eps)}`,
        ...results.attacks.map(
          (attack) => `${attack.attack.padEnd(12)} success ${percent(attack.successRate)}%`,
        ),
        `${'detector'.padEnd(12)} ${'attack'.padEnd(12)} ${'protocol'.padEnd(8)} ${'adversary'.padEnd(9)}   AUC  (successful)  TPR@5%FPR`,
        ...results.rows.map(
          (row) =>
            `${row.detector.padEnd(12)} ${row.attack.padEnd(12)} ${row.protocol.padEnd(8)} ${row.adversary.padEnd(9)} ${decimal(row.mean.all.auc)} (${decimal(row.mean.successful.auc)})      ${percent(row.mean.all.truePositiveRateAt5)}%`,
        ),
        ...results.adaptive.map(
          (outcome) =>
            `${outcome.adversary} vs ${outcome.detector} (${outcome.gradient} gradient, trained on ${outcome.attack}): AUC ${decimal(outcome.oblivious.auc)} → ${decimal(outcome.adaptive.auc)}, attack success ${percent(outcome.attackSuccess)}%, fooled and undetected ${percent(outcome.evasion)}%`,
        ),
        `results in ${out}/detection.json, detection.csv, roc-*.png; fitted detectors in ${out}/detectors/`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
