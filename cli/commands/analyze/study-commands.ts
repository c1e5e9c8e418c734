/**
 * `medrobust analyze classes | capacity | natural`: the studies of study.ts, each a list of models
 * trained with one recipe and measured alike.
 *   classes   --data PATH --class-counts 2,3,4      nested subsets: the dataset's first k classes
 *   capacity  --data PATH --models small-cnn,resnet18@0.25,resnet18@0.5,resnet18,resnet50
 *   natural   --data MEDICAL,NATURAL[,…] --arch resnet18   one architecture per dataset, matched to
 *             the first one's resolution, with detection AUC (--detectors, --detect-eps)
 */
import { basename } from 'node:path';
import { Command } from '@commander-js/extra-typings';
import { getAttack } from '../../../src/attacks/registry.ts';
import { MedrobustError } from '../../../src/core/errors.ts';
import { detectorNames, getDetector } from '../../../src/detectors/registry.ts';
import { type ArchitectureName, architectureNames } from '../../../src/models/architecture.ts';
import { type DatasetOptions, openDataset } from '../../../src/node/datasets.ts';
import type { TrainRecipe } from '../../../src/node/training-run.ts';
import { engineOption } from '../../common-options.ts';
import { loadEngineReporting } from '../../engine.ts';
import {
  parseChoice,
  parseEpsilon,
  parseEpsilonList,
  parseInteger,
  parseList,
  parsePositiveNumber,
} from '../../parse.ts';
import { requireFlags } from '../../registry-listing.ts';
import { runStudy, type StudyDetectionSettings, type StudyMember, type StudySettings } from './study.ts';

const log = (message: string) => process.stderr.write(`medrobust: ${message}\n`);

function withStudyOptions(command: Command) {
  return command
    .option('--out <dir>', 'output folder (models are trained into OUT/models/)')
    .option('--epochs <count>', 'training epochs of every model', parseInteger('--epochs', 1, 1000), 5)
    .option('--train-batch <size>', 'training batch size', parseInteger('--train-batch', 1, 4096), 64)
    .option('--optimizer <name>', 'sgd or adam', parseChoice('--optimizer', ['sgd', 'adam'] as const), 'adam')
    .option('--lr <rate>', 'learning rate', parsePositiveNumber('--lr'), 0.001)
    .option(
      '--schedule <name>',
      'constant, cosine or step',
      parseChoice('--schedule', ['constant', 'cosine', 'step'] as const),
      'cosine',
    )
    .option('--head <kind>', 'linear or paper', parseChoice('--head', ['linear', 'paper'] as const), 'linear')
    .option(
      '--train-images <count>',
      'train on the first N training images only',
      parseInteger('--train-images', 10),
    )
    .option('--attack <names>', 'attacks, comma-separated', parseList, ['paper-pgd'])
    .option('--eps <values>', 'ε list (e.g. 0.5/255,1/255,2/255,4/255)', parseEpsilonList, [
      0.5 / 255,
      1 / 255,
      2 / 255,
      4 / 255,
    ])
    .option('--images <count>', 'test images measured', parseInteger('--images', 1, 100_000), 200)
    .option(
      '--sharpness-images <count>',
      'images for sharpness',
      parseInteger('--sharpness-images', 1, 1000),
      8,
    )
    .option('--radius <eps>', 'sharpness radius in units of 1/255', parsePositiveNumber('--radius'), 2)
    .option('--batch <size>', 'evaluation batch size', parseInteger('--batch', 1, 4096), 50)
    .option('--seed <n>', 'seed of training and attacks', parseInteger('--seed', 0), 0)
    .addOption(engineOption());
}

type StudyOptions = {
  out?: string;
  epochs: number;
  trainBatch: number;
  optimizer: 'sgd' | 'adam';
  lr: number;
  schedule: 'constant' | 'cosine' | 'step';
  head: 'linear' | 'paper';
  trainImages?: number;
  attack: string[];
  eps: number[];
  images: number;
  sharpnessImages: number;
  radius: number;
  batch: number;
  seed: number;
  engine: Parameters<typeof loadEngineReporting>[0];
};

function recipe(
  options: StudyOptions,
  data: string,
  arch: ArchitectureName,
  width: number,
  dataOptions?: DatasetOptions,
): TrainRecipe {
  return {
    data,
    ...(dataOptions === undefined || Object.keys(dataOptions).length === 0 ? {} : { dataOptions }),
    arch,
    width,
    head: options.head,
    epochs: options.epochs,
    batchSize: options.trainBatch,
    optimiser: options.optimizer,
    learningRate: options.lr,
    momentum: 0.9,
    weightDecay: 0,
    schedule: options.schedule,
    balanceClasses: true,
    patience: 0,
    seed: options.seed,
    augment: 'none',
    ...(options.trainImages === undefined ? {} : { trainImages: options.trainImages }),
  };
}

function settingsOf(kind: StudySettings['kind'], options: StudyOptions): StudySettings {
  for (const name of options.attack) getAttack(name);
  return {
    kind,
    attacks: options.attack,
    epsilons: options.eps,
    images: options.images,
    sharpnessImages: options.sharpnessImages,
    radius: options.radius,
    batch: options.batch,
    seed: options.seed,
  };
}

/** `resnet18@0.5` → resnet18 at width 0.5; `small-cnn` → width 1. */
export function parseModelList(value: string): { arch: ArchitectureName; width: number; name: string }[] {
  return parseList(value).map((item) => {
    const [arch = '', widthText] = item.split('@');
    const width = widthText === undefined ? 1 : Number(widthText);
    if (!(architectureNames as readonly string[]).includes(arch) || !(width > 0)) {
      throw new MedrobustError('invalid-argument', `--models: '${item}' is not ARCH or ARCH@WIDTH`, {
        hint: `architectures: ${architectureNames.join(', ')}; e.g. --models small-cnn,resnet18@0.5,resnet18`,
      });
    }
    return { arch: arch as ArchitectureName, width, name: item };
  });
}

async function run(
  kind: StudySettings['kind'],
  options: StudyOptions,
  members: StudyMember[],
  detection?: StudyDetectionSettings,
): Promise<void> {
  const settings = { ...settingsOf(kind, options), ...(detection === undefined ? {} : { detection }) };
  const engine = await loadEngineReporting(options.engine);
  const files = await runStudy(engine, members, settings, options.out as string, log);
  process.stdout.write(`wrote ${files.map((file) => `${options.out}/${file}`).join(', ')}\n`);
}

export function classesCommand() {
  return withStudyOptions(new Command('classes'))
    .description('the 2/3/4-class experiment: one model per nested class subset of a dataset')
    .option('--data <path>', 'a multi-class dataset')
    .option('--class-counts <list>', 'subset sizes: the first k classes of the dataset', parseList, [
      '2',
      '3',
      '4',
    ])
    .option(
      '--arch <name>',
      `architecture: ${architectureNames.join(', ')}`,
      parseChoice('--arch', architectureNames),
      'resnet18',
    )
    .option('--width <multiplier>', 'width multiplier', parsePositiveNumber('--width'), 1)
    .action(async (options) => {
      requireFlags(
        [
          ['--data', options.data],
          ['--out', options.out],
        ],
        'medrobust analyze classes --data PATH --out DIR [--class-counts 2,3,4]',
      );
      const data = options.data as string;
      const names = (await openDataset(data)).read('test').classNames;
      const counts = options.classCounts.map(Number);
      if (counts.some((count) => !Number.isInteger(count) || count < 2 || count > names.length)) {
        throw new MedrobustError(
          'invalid-argument',
          `--class-counts ${options.classCounts.join(',')}: ${data} has ${names.length} classes`,
          {
            hint: `give whole numbers from 2 to ${names.length}`,
          },
        );
      }
      await run(
        'classes',
        options as StudyOptions,
        counts.map((count) => ({
          name: `${count} classes`,
          recipe: recipe(options as StudyOptions, data, options.arch, options.width, {
            classes: names.slice(0, count),
          }),
        })),
      );
    });
}

export function capacityCommand() {
  return withStudyOptions(new Command('capacity'))
    .description('network size against robustness: one model per architecture and width, one recipe')
    .option('--data <path>', 'dataset')
    .option(
      '--models <list>',
      'ARCH or ARCH@WIDTH, comma-separated',
      'small-cnn,resnet18@0.25,resnet18@0.5,resnet18,resnet50',
    )
    .action(async (options) => {
      requireFlags(
        [
          ['--data', options.data],
          ['--out', options.out],
        ],
        'medrobust analyze capacity --data PATH --out DIR [--models small-cnn,resnet18@0.5,resnet18]',
      );
      const models = parseModelList(options.models);
      await run(
        'capacity',
        options as StudyOptions,
        models.map(({ arch, width, name }) => ({
          name,
          recipe: recipe(options as StudyOptions, options.data as string, arch, width),
        })),
      );
    });
}

/** What `natural` needs to know of a dataset to match it to the first (medical) one. */
export interface DatasetLayout {
  readonly name: string;
  readonly splits: readonly string[];
  /** [height, width, channels] of its images. */
  readonly shape: readonly [number, number, number];
}

/**
 * The reading options that put every dataset of a `natural` study at the first one's resolution
 * and channel count (SPEC.md §6: medical against natural images at matched resolution), with a line
 * per change for the log: RGB to grey, a bilinear resize to the first dataset's side, and a
 * stratified hold-out test split for a dataset that has no train split (CIFAR-10 test alone).
 */
export function matchedDataOptions(
  layouts: readonly DatasetLayout[],
  holdOut: number,
): { options: DatasetOptions; notes: string[] }[] {
  const [first] = layouts;
  if (first === undefined) return [];
  const [side, otherSide, channels] = first.shape;
  if (side !== otherSide) {
    throw new MedrobustError(
      'invalid-data',
      `${first.name}: images are ${side}×${otherSide}; natural matches the others to a square first dataset`,
      {
        hint: 'put a dataset of square images first (e.g. pneumoniamnist.npz), or resize it with medrobust data',
      },
    );
  }
  return layouts.map((layout) => {
    const notes: string[] = [];
    let options: DatasetOptions = {};
    const [height, width, ownChannels] = layout.shape;
    if (!layout.splits.includes('train')) {
      options = { ...options, holdOut };
      notes.push(
        `${layout.name}: no train split; training on a stratified ${Math.round(100 * (1 - holdOut))} % of its ${layout.splits.join('/')} images, measuring on the other ${Math.round(100 * holdOut)} %`,
      );
    }
    if (ownChannels !== channels) {
      if (channels !== 1 || ownChannels !== 3) {
        throw new MedrobustError(
          'invalid-data',
          `${layout.name}: ${ownChannels}-channel images cannot be matched to ${first.name}'s ${channels}-channel ones`,
          { hint: 'natural converts RGB to grey only: put the grey medical dataset first' },
        );
      }
      options = { ...options, grey: true };
      notes.push(`${layout.name}: RGB converted to grey (BT.601 luminance) to match ${first.name}`);
    }
    if (height !== side || width !== side) {
      options = { ...options, resize: side };
      notes.push(
        `${layout.name}: ${height}×${width} px resized to ${side}×${side} (bilinear) to match ${first.name}`,
      );
    }
    return { options, notes };
  });
}

async function layoutOf(path: string): Promise<DatasetLayout> {
  const dataset = await openDataset(path);
  const [split] = dataset.splits;
  if (split === undefined) {
    throw new MedrobustError('invalid-data', `${path}: has no splits`, { hint: 'check the dataset file' });
  }
  const [, height, width, channels] = dataset.read(split).shape;
  return { name: datasetName(path), splits: dataset.splits, shape: [height, width, channels] };
}

const datasetName = (path: string) => basename(path.replace(/\/$/, '')).replace(/\.npz$/, '');

export function naturalCommand() {
  return withStudyOptions(new Command('natural'))
    .description(
      'medical against natural images: one architecture and recipe on each dataset (same resolution)',
    )
    .option(
      '--data <paths>',
      'datasets, comma-separated (e.g. pneumoniamnist.npz,/usr/share/datasets/fashion-mnist)',
      parseList,
    )
    .option(
      '--arch <name>',
      `architecture: ${architectureNames.join(', ')}`,
      parseChoice('--arch', architectureNames),
      'resnet18',
    )
    .option('--width <multiplier>', 'width multiplier', parsePositiveNumber('--width'), 1)
    .option(
      '--detectors <names>',
      `detectors whose AUC is measured on every model (grouped protocol), or none: ${detectorNames.join(', ')}`,
      parseList,
      ['kd', 'lid', 'dfeat', 'mahalanobis'],
    )
    .option('--detect-attack <name>', 'the attack the detectors face', 'paper-pgd')
    .option('--detect-eps <eps>', 'ε of that attack', parseEpsilon, 4 / 255)
    .option(
      '--reference <count>',
      'training images of the detectors’ clean reference',
      parseInteger('--reference', 10),
      1000,
    )
    .option(
      '--hold-out <fraction>',
      'for a dataset without a train split: the stratified fraction measured (the rest trains)',
      parsePositiveNumber('--hold-out'),
      0.2,
    )
    .action(async (options) => {
      requireFlags(
        [
          ['--data', options.data],
          ['--out', options.out],
        ],
        'medrobust analyze natural --data MEDICAL,NATURAL --out DIR [--arch resnet18]',
      );
      const paths = options.data as string[];
      if (!(options.holdOut < 1)) {
        throw new MedrobustError('invalid-argument', `--hold-out must be below 1, got ${options.holdOut}`, {
          hint: 'for example --hold-out 0.2',
        });
      }
      const detectors = options.detectors.filter((name) => name !== 'none');
      for (const name of detectors) getDetector(name);
      getAttack(options.detectAttack);
      const detection =
        detectors.length === 0
          ? undefined
          : {
              attack: options.detectAttack,
              epsilon: options.detectEps,
              detectors,
              reference: options.reference,
            };
      const matched = matchedDataOptions(await Promise.all(paths.map(layoutOf)), options.holdOut);
      for (const { notes } of matched) for (const note of notes) log(note);
      await run(
        'natural',
        options as StudyOptions,
        paths.map((path, index) => ({
          name: datasetName(path),
          recipe: recipe(options as StudyOptions, path, options.arch, options.width, matched[index]?.options),
        })),
        detection,
      );
    });
}
