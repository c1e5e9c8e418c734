/**
 * `medrobust attack --model DIR --data PATH --attack NAMES --eps LIST --out DIR`: the robustness
 * sweep of src/evaluation/robustness.ts, written as it goes: results.json (schema-validated, with
 * `complete: false` until the end), results.csv, one adversarial-<attack>-<ε>.npz per entry and PNG
 * example grids. `--resume` continues a stopped run in the same --out, skipping finished entries.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from '@commander-js/extra-typings';
import { attackNames, attacks, getAttack } from '../../src/attacks/registry.ts';
import { MedrobustError } from '../../src/core/errors.ts';
import type { ImageSet } from '../../src/data/image-set.ts';
import { splits } from '../../src/data/medmnist.ts';
import { readNpz, writeNpz } from '../../src/data/npz.ts';
import { selectImages } from '../../src/data/transforms.ts';
import { flagDocs } from '../../src/evaluation/checks.ts';
import {
  type EntryOutput,
  evaluateRobustness,
  formatEpsilon,
  healthyClassIndex,
} from '../../src/evaluation/robustness.ts';
import { openDataset } from '../../src/node/datasets.ts';
import { loadModel } from '../../src/node/model-directory.ts';
import { exampleGrid } from '../../src/report/image-grid.ts';
import {
  type RobustnessEntryRecord,
  type RobustnessResultsFile,
  robustnessResultsSchema,
  robustnessResultsVersion,
} from '../../src/report/robustness-schema.ts';
import { engineOption } from '../common-options.ts';
import { datasetOptionsFrom, withDatasetOptions } from '../dataset-options.ts';
import { loadEngineReporting } from '../engine.ts';
import { writeAtomically } from '../files.ts';
import { parseChoice, parseEpsilonList, parseInteger, parseList, parseNamedOptions } from '../parse.ts';
import { epsilonSlug, optionLines, requireFlags } from '../registry-listing.ts';

const defaultAttacks = 'paper-fgsm,paper-bim,paper-pgd,paper-cw';
const defaultEpsilons = '0.5/255,1/255,2/255,8/255';

function listAttacks(): string {
  const lines: string[] = [];
  for (const name of attackNames) {
    const attack = attacks[name];
    if (attack === undefined) continue;
    lines.push(`${name.padEnd(12)} ${attack.kind.padEnd(14)} ${attack.description}`);
    lines.push(`${''.padEnd(12)} ${attack.paper.authors}, ${attack.paper.venue} ${attack.paper.year}`);
    lines.push(...optionLines(name, attack.options, '--options'));
  }
  return lines.join('\n');
}

function csvOf(entries: readonly RobustnessEntryRecord[], classNames: readonly string[]): string {
  const header = [
    'attack',
    'epsilon',
    'epsilon_text',
    'norm',
    'images',
    'clean_accuracy',
    'adversarial_accuracy',
    'adversarial_accuracy_on_correct',
    'success_rate',
    'auc',
    ...classNames.map((name) => `recall_${name.replace(/[^A-Za-z0-9]+/g, '_')}`),
    'disease_to_healthy_flip_rate',
    'mean_l2',
    'max_l2',
    'mean_linf',
    'max_linf',
    'seconds',
  ];
  const rows = entries.map((entry) =>
    [
      entry.attack,
      entry.epsilon,
      entry.epsilonText,
      entry.norm,
      entry.images,
      entry.cleanAccuracy,
      entry.adversarialAccuracy,
      entry.adversarialAccuracyOnCorrect,
      entry.successRate,
      entry.auc ?? '',
      ...classNames.map((name) => entry.recall[name] ?? ''),
      entry.diseaseToHealthyFlipRate ?? '',
      entry.meanL2,
      entry.maxL2,
      entry.meanLinf,
      entry.maxLinf,
      entry.seconds,
    ].join(','),
  );
  return `${[header.join(','), ...rows].join('\n')}\n`;
}

const finite = (value: number) => (Number.isFinite(value) ? value : null);

/**
 * Writes one robustness entry's adversarial-<attack>-<ε>.npz (clean and adversarial images, labels,
 * both predictions) and, at the ε values in `examplesAt`, a PNG grid of up to `examples` images the
 * model got right. Returns the npz file's name.
 */
export async function writeEntryArtefacts(
  out: string,
  set: ImageSet,
  output: EntryOutput,
  settings: { readonly examples: number; readonly examplesAt: readonly number[] },
): Promise<string> {
  const { entry } = output;
  const [, height, width, channels] = set.shape;
  const file = `adversarial-${entry.attack}-${epsilonSlug(entry.epsilon)}.npz`;
  const count = entry.images;
  await writeAtomically(
    join(out, file),
    writeNpz({
      clean: { dtype: 'f4', shape: [count, height, width, channels], data: set.images },
      adversarial: { dtype: 'f4', shape: [count, height, width, channels], data: output.adversarial },
      labels: { dtype: 'i4', shape: [count], data: Int32Array.from(set.labels) },
      clean_predictions: { dtype: 'i4', shape: [count], data: output.cleanPredictions },
      adversarial_predictions: { dtype: 'i4', shape: [count], data: output.adversarialPredictions },
      indices: {
        dtype: 'i4',
        shape: [count],
        data: Int32Array.from({ length: count }, (_, index) => index),
      },
    }),
  );
  if (settings.examples > 0 && settings.examplesAt.some((at) => Math.abs(entry.epsilon - at) < 1e-9)) {
    const pixels = height * width * channels;
    const shown = Array.from({ length: count }, (_, index) => index)
      .filter((index) => output.cleanPredictions[index] === set.labels[index])
      .slice(0, settings.examples);
    const grid = exampleGrid(
      shown.map((index) => ({
        clean: set.images.subarray(index * pixels, (index + 1) * pixels),
        adversarial: output.adversarial.subarray(index * pixels, (index + 1) * pixels),
      })),
      height,
      width,
      channels,
    );
    await writeAtomically(join(out, examplesFileName(entry.attack, entry.epsilon)), grid);
  }
  return file;
}

export const examplesFileName = (attack: string, epsilon: number) =>
  `examples-${attack}-${epsilonSlug(epsilon)}.png`;

export function attackCommand(): Command {
  return withDatasetOptions(new Command('attack'))
    .description(
      'attack a model over an ε sweep: accuracy, success, AUC, flip rates, perturbation sizes, worst case',
    )
    .option('--model <dir>', 'model directory')
    .option('--data <path>', 'dataset file or folder')
    .option('--split <name>', `split: ${splits.join(', ')}`, parseChoice('--split', splits), 'test')
    .option(
      '--attack <names>',
      `attacks, comma-separated (--list shows them)`,
      parseList,
      parseList(defaultAttacks),
    )
    .option(
      '--eps <list>',
      'ε values, fractions of 255 or decimals (e.g. 0.5/255,1/255,8/255)',
      parseEpsilonList,
      parseEpsilonList(defaultEpsilons),
    )
    .option(
      '--options <json>',
      'per-attack options as JSON, e.g. \'{"pgd":{"steps":50}}\'',
      parseNamedOptions('--options', 'attack'),
      {},
    )
    .option('--images <count>', 'attack only the first N images of the split', parseInteger('--images', 1))
    .option('--batch <size>', 'images per attack batch', parseInteger('--batch', 1, 4096), 32)
    .option('--seed <n>', 'seed of random starts and restarts', parseInteger('--seed', 0), 0)
    .option(
      '--healthy-class <name>',
      'the healthy class, for the disease→healthy flip rate (default: a class named normal/healthy/benign)',
    )
    .option('--examples <count>', 'images per PNG example grid', parseInteger('--examples', 0, 64), 6)
    .option('--out <dir>', 'output folder')
    .option('--resume', 'continue the run in --out, skipping finished (attack, ε) entries')
    .option('--list', 'list the attacks and their options, then exit')
    .addOption(engineOption())
    .action(async (options) => {
      if (options.list) {
        process.stdout.write(`${listAttacks()}\n`);
        return;
      }
      requireFlags(
        [
          ['--model', options.model],
          ['--data', options.data],
          ['--out', options.out],
        ],
        'medrobust attack --model DIR --data PATH --out DIR [--attack paper-pgd --eps 1/255]',
      );
      const modelDirectory = options.model as string;
      const dataPath = options.data as string;
      const out = options.out as string;
      for (const name of options.attack) getAttack(name);
      for (const name of Object.keys(options.options)) {
        if (!options.attack.includes(name)) {
          throw new MedrobustError(
            'invalid-argument',
            `--options names "${name}", which is not in --attack`,
            {
              hint: `attacks in this run: ${options.attack.join(', ')}`,
            },
          );
        }
      }
      // The engine first: reading may resize with tfjs (--resize), which needs a backend.
      const engine = await loadEngineReporting(options.engine);
      const dataset = await openDataset(dataPath, datasetOptionsFrom(options));
      let set = dataset.read(options.split);
      if (options.images !== undefined && options.images < set.shape[0]) {
        set = selectImages(
          set,
          Array.from({ length: options.images }, (_, index) => index),
        );
      }
      const healthyIndex =
        options.healthyClass === undefined
          ? healthyClassIndex(set.classNames)
          : set.classNames.indexOf(options.healthyClass);
      if (options.healthyClass !== undefined && healthyIndex < 0) {
        throw new MedrobustError(
          'invalid-argument',
          `--healthy-class "${options.healthyClass}" is not a class of the data`,
          {
            hint: `classes: ${set.classNames.join(', ')}`,
          },
        );
      }
      const configuration: RobustnessResultsFile['configuration'] = {
        model: modelDirectory,
        data: dataPath,
        split: options.split,
        images: set.shape[0],
        attacks: options.attack.map((name) => ({ name, options: options.options[name] ?? {} })),
        epsilons: options.eps,
        seed: options.seed,
        batch: options.batch,
        healthyClass: healthyIndex < 0 ? null : (set.classNames[healthyIndex] ?? null),
      };

      await mkdir(out, { recursive: true });
      const resultsPath = join(out, 'results.json');
      let previous: RobustnessResultsFile | undefined;
      if (existsSync(resultsPath)) {
        if (!options.resume) {
          throw new MedrobustError('invalid-argument', `${out} already holds a robustness run`, {
            hint: 'pass --resume to continue it, or choose another --out',
          });
        }
        const parsed = robustnessResultsSchema.safeParse(JSON.parse(await readFile(resultsPath, 'utf8')));
        if (!parsed.success) {
          throw new MedrobustError(
            'invalid-data',
            `${resultsPath} is not a medrobust robustness results file`,
            {
              hint: 'choose another --out, or delete the folder to start again',
            },
          );
        }
        if (JSON.stringify(parsed.data.configuration) !== JSON.stringify(configuration)) {
          throw new MedrobustError('invalid-argument', `${out} holds a run with other settings`, {
            hint: `resume with the settings it was started with (${JSON.stringify(parsed.data.configuration)}), or choose another --out`,
          });
        }
        previous = parsed.data;
      }

      const { classifier, network } = await loadModel(modelDirectory, engine);
      const records: RobustnessEntryRecord[] = [...(previous?.entries ?? [])];
      const previousRobust = await Promise.all(
        records.map(async (record) => {
          const archive = readNpz(await readFile(join(out, record.file)), record.file);
          const predictions = archive.get('adversarial_predictions').data as Int32Array;
          return {
            attack: record.attack,
            epsilon: record.epsilon,
            robust: Uint8Array.from(predictions, (prediction, index) =>
              Number(prediction === set.labels[index]),
            ),
          };
        }),
      );
      const recallRecord = (recall: readonly number[]) =>
        Object.fromEntries(set.classNames.map((name, index) => [name, finite(recall[index] ?? Number.NaN)]));
      let clean: RobustnessResultsFile['clean'] = previous?.clean ?? { accuracy: 0, auc: null, recall: {} };
      const document = (
        complete: boolean,
        extra: Partial<RobustnessResultsFile> = {},
      ): RobustnessResultsFile => ({
        format: 'medrobust-robustness',
        version: robustnessResultsVersion,
        createdAt: previous?.createdAt ?? new Date().toISOString(),
        configuration,
        engine: engine.describe(),
        clean,
        entries: records,
        worstCase: [],
        flags: [],
        complete,
        ...extra,
      });
      const save = async (file: RobustnessResultsFile) => {
        const checked = robustnessResultsSchema.parse(file);
        await writeAtomically(resultsPath, `${JSON.stringify(checked, null, 2)}\n`);
        await writeAtomically(join(out, 'results.csv'), csvOf(checked.entries, set.classNames));
      };

      const onEntry = async (output: EntryOutput) => {
        const { entry } = output;
        const file = await writeEntryArtefacts(out, set, output, {
          examples: options.examples,
          examplesAt: [1 / 255, Math.max(...options.eps)],
        });
        records.push({
          ...entry,
          epsilonText: formatEpsilon(entry.epsilon),
          auc: finite(entry.auc),
          recall: recallRecord(entry.recall),
          file,
        });
        await save(document(false));
        process.stderr.write(
          `${entry.attack.padEnd(12)} ε=${formatEpsilon(entry.epsilon).padEnd(8)} accuracy ${(100 * entry.adversarialAccuracy).toFixed(1)}% (clean ${(100 * entry.cleanAccuracy).toFixed(1)}%), success ${(100 * entry.successRate).toFixed(1)}%, ${entry.seconds.toFixed(1)} s\n`,
        );
      };

      const results = await evaluateRobustness(classifier, set, {
        attacks: configuration.attacks,
        epsilons: options.eps,
        batchSize: options.batch,
        seed: options.seed,
        ...(healthyIndex < 0 ? {} : { healthyClass: healthyIndex }),
        previous: previousRobust,
        onClean: async (metrics) => {
          clean = {
            accuracy: metrics.accuracy,
            auc: finite(metrics.auc),
            recall: recallRecord(metrics.recall),
          };
          await save(document(false));
        },
        onEntry,
        onProgress: (message) => process.stderr.write(`medrobust: ${message}\n`),
      });
      network.dispose();
      clean = {
        accuracy: results.clean.accuracy,
        auc: finite(results.clean.auc),
        recall: recallRecord(results.clean.recall),
      };
      const final = document(true, {
        clean,
        worstCase: results.worstCase.map((entry) => ({
          ...entry,
          attacks: [...entry.attacks],
          epsilonText: formatEpsilon(entry.epsilon),
        })),
        flags: results.flags.map((flag) => ({ ...flag, docs: flagDocs(flag) })),
      });
      await save(final);
      const lines = [
        `clean accuracy ${(100 * clean.accuracy).toFixed(1)}%, AUC ${clean.auc?.toFixed(4) ?? '—'} on ${set.shape[0]} images`,
        ...final.worstCase.map(
          (entry) =>
            `worst case ε=${entry.epsilonText.padEnd(8)} accuracy ${(100 * entry.adversarialAccuracy).toFixed(1)}% over ${entry.attacks.join(', ')}`,
        ),
        ...final.flags.map((flag) => `flag ${flag.code}: ${flag.message} (${flag.docs})`),
        `results in ${out}/results.json, results.csv and adversarial-*.npz`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
