/**
 * A training run on disk (`medrobust train`): epochs of the shared training loop, the validation
 * AUC after each (MedMNIST semantics), the best model written to the output directory, early
 * stopping, and a complete checkpoint after every epoch so a killed run resumes exactly.
 *
 * Layout of OUT: model.json + model.safetensors (the best epoch so far, with the recipe and history
 * under `training`), train-log.jsonl (one JSON line per epoch), checkpoint/epoch-NNNN/ (weights,
 * training-state.safetensors, and progress.json, written last: a checkpoint without it is
 * incomplete and ignored). Resuming refuses a checkpoint written with other settings.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MedrobustError } from '../core/errors.ts';
import { paperAugmentation } from '../data/augment.ts';
import type { ImageSet } from '../data/image-set.ts';
import { stratifiedSplit } from '../data/transforms.ts';
import type { Engine, OptimiserSettings, TrainingState } from '../engine/contracts.ts';
import type { HostTensor } from '../engine/weights.ts';
import {
  type AdversarialTrainingSettings,
  adversaryFor,
  catastrophicOverfitting,
  epsilonAt,
  type OverfittingProbe,
  overfittingProbe,
} from '../evaluation/adversarial-training.ts';
import type { ArchitectureName } from '../models/architecture.ts';
import { evaluateClassifier } from '../models/evaluate.ts';
import { buildModel, createModel, type LoadedModel, type ModelManifest } from '../models/model.ts';
import { parseSafetensors, serializeSafetensors } from '../models/safetensors.ts';
import { epochSeed, inverseFrequencyWeights, trainEpoch } from '../models/train-loop.ts';
import { type DatasetOptions, openDataset } from './datasets.ts';
import { readModelDirectory, writeModelDirectory } from './model-directory.ts';

export interface TrainRecipe {
  readonly data: string;
  /** How to read image folders and CSV-labelled folders. */
  readonly dataOptions?: DatasetOptions;
  readonly arch: ArchitectureName;
  readonly width: number;
  readonly head: 'linear' | 'paper';
  readonly epochs: number;
  readonly batchSize: number;
  readonly optimiser: 'sgd' | 'adam';
  readonly learningRate: number;
  readonly momentum: number;
  readonly weightDecay: number;
  readonly schedule: 'constant' | 'cosine' | 'step';
  readonly balanceClasses: boolean;
  /** Stop after this many epochs without a better validation AUC (0: never). */
  readonly patience: number;
  readonly seed: number;
  /** Geometric augmentation of training batches: none, or the paper's settings. */
  readonly augment: 'none' | 'paper';
  /** Use only the first N training images (quick runs). */
  readonly trainImages?: number;
  /** Adversarial training (src/evaluation/adversarial-training.ts); absent: standard training. */
  readonly adversarial?: AdversarialRecipe;
}

export interface AdversarialRecipe extends AdversarialTrainingSettings {
  /** What the catastrophic-overfitting check does when it fires: stop training, or warn and go on. */
  readonly onCatastrophicOverfitting: 'stop' | 'warn';
}

/** Held-out images the overfitting probe attacks after every adversarial epoch. */
export const probeImages = 128;

export interface EpochRecord {
  readonly epoch: number;
  readonly loss: number;
  readonly learningRate: number;
  readonly validationAuc: number;
  readonly validationAccuracy: number;
  readonly seconds: number;
  /** Adversarial training: the ε of this epoch, and PGD-10 and FGSM accuracy on the probe at the full ε. */
  readonly epsilon?: number;
  readonly probe?: OverfittingProbe;
  /** True on the epoch where the catastrophic-overfitting check fired. */
  readonly catastrophicOverfitting?: boolean;
}

interface Progress {
  readonly recipeHash: string;
  readonly epoch: number;
  readonly bestEpoch: number;
  readonly bestAuc: number;
  readonly history: readonly EpochRecord[];
}

export interface TrainRunResult {
  readonly history: readonly EpochRecord[];
  readonly bestEpoch: number;
  readonly bestAuc: number;
  readonly stoppedEarly: boolean;
  /** The epoch where the catastrophic-overfitting check fired (adversarial training), if it did. */
  readonly catastrophicOverfittingEpoch?: number;
  readonly resumedFrom: number;
}

/** Learning rate of an epoch (1-based): constant; cosine to 0; or ×0.1 at 50 % and 75 % (MedMNIST's recipe). */
export function learningRateAt(recipe: TrainRecipe, epoch: number): number {
  if (recipe.schedule === 'cosine')
    return 0.5 * recipe.learningRate * (1 + Math.cos((Math.PI * (epoch - 1)) / recipe.epochs));
  if (recipe.schedule === 'step') {
    const progress = (epoch - 1) / recipe.epochs;
    return recipe.learningRate * (progress >= 0.75 ? 0.01 : progress >= 0.5 ? 0.1 : 1);
  }
  return recipe.learningRate;
}

function optimiserOf(recipe: TrainRecipe, learningRate: number): OptimiserSettings {
  return recipe.optimiser === 'sgd'
    ? { kind: 'sgd', learningRate, momentum: recipe.momentum, weightDecay: recipe.weightDecay }
    : { kind: 'adam', learningRate, weightDecay: recipe.weightDecay };
}

function hashRecipe(recipe: TrainRecipe): string {
  return createHash('sha256').update(JSON.stringify(recipe)).digest('hex').slice(0, 16);
}

const checkpointName = (epoch: number) => `epoch-${String(epoch).padStart(4, '0')}`;

async function latestCheckpoint(
  directory: string,
): Promise<{ path: string; progress: Progress } | undefined> {
  const names = (await readdir(directory).catch(() => [] as string[]))
    .filter((name) => /^epoch-\d{4}$/.test(name))
    .sort();
  for (const name of names.reverse()) {
    const text = await readFile(join(directory, name, 'progress.json'), 'utf8').catch(() => undefined);
    if (text !== undefined) return { path: join(directory, name), progress: JSON.parse(text) as Progress };
  }
  return undefined;
}

function stateToBytes(state: TrainingState): Uint8Array {
  const tensors = new Map<string, HostTensor>(
    state.slots.map((slot, index) => [`slot.${String(index).padStart(5, '0')}`, slot]),
  );
  return serializeSafetensors(tensors, {
    steps: String(state.steps),
    optimiser: state.optimiser,
    iterations: String(state.iterations),
    scalars: JSON.stringify(state.scalars ?? []),
  });
}

function stateFromBytes(bytes: Uint8Array, source: string): TrainingState {
  const { tensors, metadata } = parseSafetensors(bytes, source);
  return {
    steps: Number(metadata.steps),
    optimiser: metadata.optimiser ?? '',
    iterations: Number(metadata.iterations),
    scalars: JSON.parse(metadata.scalars ?? '[]') as number[],
    slots: [...tensors.keys()].sort().map((name) => tensors.get(name) as HostTensor),
  };
}

/**
 * Whether an epoch's model replaces the kept one: a better validation AUC, except from the epoch
 * where catastrophic overfitting was detected on, when the action is to stop (that model has lost its
 * robustness; the kept one is the best before it).
 */
export function countsAsBest(
  auc: number,
  bestAuc: number,
  epoch: number,
  overfittingEpoch: number | undefined,
  action: 'stop' | 'warn' | undefined,
): boolean {
  if (action === 'stop' && overfittingEpoch !== undefined && epoch >= overfittingEpoch) return false;
  return auc > bestAuc;
}

export async function trainRun(
  engine: Engine,
  recipe: TrainRecipe,
  out: string,
  options: { resume: boolean; onEpoch?: (record: EpochRecord, best: boolean) => void },
): Promise<TrainRunResult> {
  const dataset = await openDataset(recipe.data, recipe.dataOptions ?? {});
  let train: ImageSet = dataset.read('train');
  let validation: ImageSet;
  if (dataset.splits.includes('val')) validation = dataset.read('val');
  else [train, validation] = stratifiedSplit(train, 0.1, recipe.seed);
  if (recipe.trainImages !== undefined && recipe.trainImages < train.shape[0]) {
    const [, h, w, c] = train.shape;
    train = {
      ...train,
      images: train.images.subarray(0, recipe.trainImages * h * w * c),
      labels: train.labels.subarray(0, recipe.trainImages * train.labelsPerImage),
      shape: [recipe.trainImages, h, w, c],
    };
    if (train.labelsPerImage === 1) {
      const present = new Set(train.labels);
      const missing = train.classNames.filter((_, label) => !present.has(label));
      if (missing.length > 0) {
        throw new MedrobustError(
          'invalid-argument',
          `the first ${recipe.trainImages} training images of ${recipe.data} hold no image of ${missing.join(', ')}`,
          {
            hint: 'the file is probably ordered by class: raise --train-images, or shuffle the dataset (a one-split dataset read with --hold-out is shuffled)',
          },
        );
      }
    }
  }
  const [, height, width, channels] = train.shape;
  if (height !== width || (channels !== 1 && channels !== 3)) {
    throw new MedrobustError('invalid-data', `${recipe.data}: images are ${height}×${width}×${channels}`, {
      hint: 'models take square grey (1) or RGB (3) images; resize or convert the data first',
    });
  }
  const checkpoints = join(out, 'checkpoint');
  const recipeHash = hashRecipe(recipe);
  const found = await latestCheckpoint(checkpoints);
  if (!options.resume && found !== undefined) {
    throw new MedrobustError(
      'invalid-argument',
      `${out} already holds a training run (checkpoint of epoch ${found.progress.epoch})`,
      {
        hint: 'pass --resume to continue it, or choose another --out',
      },
    );
  }
  if (options.resume && found !== undefined && found.progress.recipeHash !== recipeHash) {
    throw new MedrobustError(
      'invalid-argument',
      `${out}: the checkpoint was written with other training settings`,
      {
        hint: 'resume with exactly the options of the original command, or start a new run in another --out',
      },
    );
  }
  let manifest: ModelManifest;
  let model: LoadedModel;
  let progress: Progress = {
    recipeHash,
    epoch: 0,
    bestEpoch: 0,
    bestAuc: Number.NEGATIVE_INFINITY,
    history: [],
  };
  if (options.resume && found !== undefined) {
    const saved = await readModelDirectory(found.path);
    manifest = saved.manifest;
    model = buildModel(engine, manifest, saved.weights);
    const state = stateFromBytes(
      await readFile(join(found.path, 'training-state.safetensors')),
      join(found.path, 'training-state.safetensors'),
    );
    await model.network.importTrainingState(
      state,
      optimiserOf(recipe, learningRateAt(recipe, found.progress.epoch + 1)),
    );
    progress = found.progress;
  } else {
    const created = createModel({
      architecture: {
        arch: recipe.arch,
        classes: train.classNames.length,
        channels,
        size: height,
        width: recipe.width,
        head: recipe.head,
      },
      classNames: train.classNames,
      seed: recipe.seed,
    });
    manifest = created.manifest;
    model = buildModel(engine, manifest, created.weights);
  }
  await mkdir(checkpoints, { recursive: true });
  // Multi-label tasks train with the mean binary cross-entropy over labels (no class weights).
  const classWeights =
    recipe.balanceClasses && train.task !== 'multi-label'
      ? inverseFrequencyWeights(train.labels, train.classNames.length)
      : undefined;
  const resumedFrom = progress.epoch;
  let stoppedEarly = false;
  const adversarial = recipe.adversarial;
  if (adversarial !== undefined && train.task === 'multi-label') {
    throw new MedrobustError('unsupported', `${recipe.data}: adversarial training of multi-label tasks`, {
      hint: 'train multi-label models without --adversarial',
    });
  }
  const probeCount = Math.min(probeImages, validation.shape[0]);
  const probe: ImageSet = {
    ...validation,
    images: validation.images.subarray(0, probeCount * height * width * channels),
    labels: validation.labels.subarray(0, probeCount * validation.labelsPerImage),
    shape: [probeCount, height, width, channels],
  };
  let catastrophicOverfittingEpoch = progress.history.find((record) => record.catastrophicOverfitting)?.epoch;
  for (let epoch = progress.epoch + 1; epoch <= recipe.epochs; epoch++) {
    if (recipe.patience > 0 && epoch - progress.bestEpoch > recipe.patience && progress.bestEpoch > 0) {
      stoppedEarly = true;
      break;
    }
    if (catastrophicOverfittingEpoch !== undefined && adversarial?.onCatastrophicOverfitting === 'stop') {
      stoppedEarly = true;
      break;
    }
    const epsilon = adversarial === undefined ? undefined : epsilonAt(adversarial, epoch);
    const learningRate = learningRateAt(recipe, epoch);
    const trainingSet = {
      images: train.images,
      shape: train.shape,
      labels: train.labels,
      classes: train.classNames.length,
      labelsPerImage: train.labelsPerImage,
    };
    const report = trainEpoch(model.network, trainingSet, {
      batchSize: recipe.batchSize,
      optimiser: optimiserOf(recipe, learningRate),
      seed: recipe.seed,
      epoch,
      ...(classWeights === undefined ? {} : { classWeights }),
      ...(recipe.augment === 'paper' ? { augment: paperAugmentation } : {}),
      ...(adversarial === undefined || epsilon === undefined
        ? {}
        : {
            adversary: adversaryFor(
              model.classifier,
              adversarial,
              epsilon,
              (batchIndex) => epochSeed(recipe.seed, epoch) ^ (batchIndex * 2654435761),
            ),
          }),
    });
    const evaluation = evaluateClassifier(model.classifier, validation, recipe.batchSize);
    let adversarialRecord: Partial<EpochRecord> = {};
    if (adversarial !== undefined && epsilon !== undefined) {
      const measured = overfittingProbe(model.classifier, probe, adversarial.epsilon, recipe.seed);
      const probes = [
        ...progress.history.flatMap((record) => (record.probe === undefined ? [] : [record.probe])),
        measured,
      ];
      const fired = catastrophicOverfittingEpoch === undefined && catastrophicOverfitting(probes);
      if (fired) catastrophicOverfittingEpoch = epoch;
      adversarialRecord = { epsilon, probe: measured, ...(fired ? { catastrophicOverfitting: true } : {}) };
    }
    const record: EpochRecord = {
      epoch,
      loss: report.meanLoss,
      learningRate,
      validationAuc: evaluation.auc,
      validationAccuracy: evaluation.accuracy,
      seconds: report.seconds,
      ...adversarialRecord,
    };
    const best = countsAsBest(
      evaluation.auc,
      progress.bestAuc,
      epoch,
      catastrophicOverfittingEpoch,
      adversarial?.onCatastrophicOverfitting,
    );
    progress = {
      recipeHash,
      epoch,
      bestEpoch: best ? epoch : progress.bestEpoch,
      bestAuc: best ? evaluation.auc : progress.bestAuc,
      history: [...progress.history, record],
    };
    const weights = model.network.exportWeights();
    const trained: ModelManifest = {
      ...manifest,
      training: {
        recipe,
        engine: engine.describe(),
        bestEpoch: progress.bestEpoch,
        bestValidationAuc: progress.bestAuc,
        history: progress.history,
      },
    };
    if (best) await writeModelDirectory(out, trained, weights);
    // The checkpoint: weights and state first, progress.json last (its presence marks it complete).
    const directory = join(checkpoints, checkpointName(epoch));
    await rm(directory, { recursive: true, force: true });
    await writeModelDirectory(directory, trained, weights);
    const state = await model.network.exportTrainingState();
    if (state !== undefined)
      await writeFile(join(directory, 'training-state.safetensors'), stateToBytes(state));
    await writeFile(join(directory, 'progress.json.tmp'), JSON.stringify(progress));
    await rename(join(directory, 'progress.json.tmp'), join(directory, 'progress.json'));
    for (const name of await readdir(checkpoints)) {
      if (name !== checkpointName(epoch)) await rm(join(checkpoints, name), { recursive: true, force: true });
    }
    await writeFile(
      join(out, 'train-log.jsonl'),
      `${JSON.stringify({ time: new Date().toISOString(), ...record, best })}\n`,
      { flag: 'a' },
    );
    options.onEpoch?.(record, best);
  }
  model.network.dispose();
  return {
    history: progress.history,
    bestEpoch: progress.bestEpoch,
    bestAuc: progress.bestAuc,
    stoppedEarly,
    resumedFrom,
    ...(catastrophicOverfittingEpoch === undefined ? {} : { catastrophicOverfittingEpoch }),
  };
}
