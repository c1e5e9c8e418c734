/**
 * What each unit of an experiment does (plan.ts names them): train or load a model and evaluate it;
 * one attack over its ε; the detection study; one analysis. Each writes its artefacts under its own
 * folder of the run and returns the metrics the run store keeps; none reads another unit's metrics,
 * only the model a model unit left on disk, so units can run on different machines (--shard).
 */
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { MedrobustError } from '../../src/core/errors.ts';
import { Random } from '../../src/core/random.ts';
import type { ImageSet } from '../../src/data/image-set.ts';
import { imageBatch, selectImages } from '../../src/data/transforms.ts';
import type { Engine } from '../../src/engine/contracts.ts';
import { loadEngine } from '../../src/engine/load-engine.ts';
import { defaultSteps, defaultTradesBeta } from '../../src/evaluation/adversarial-training.ts';
import { flagDocs, gradientHealthFlags } from '../../src/evaluation/checks.ts';
import type {
  Experiment,
  ExperimentDataset,
  ExperimentModel,
} from '../../src/evaluation/experiment/schema.ts';
import { evaluateRobustness, formatEpsilon, healthyClassIndex } from '../../src/evaluation/robustness.ts';
import { evaluateClassifier } from '../../src/models/evaluate.ts';
import { summarizeModel } from '../../src/models/model.ts';
import { type DatasetOptions, type OpenedDataset, openDataset } from '../../src/node/datasets.ts';
import { loadModel } from '../../src/node/model-directory.ts';
import { type TrainRecipe, trainRun } from '../../src/node/training-run.ts';
import { runEmbedding } from '../commands/analyze/embedding.ts';
import { runFeatures } from '../commands/analyze/features.ts';
import { runGradCam } from '../commands/analyze/gradcam.ts';
import { runLandscape } from '../commands/analyze/landscape.ts';
import { runLesion } from '../commands/analyze/lesion.ts';
import { runSaliency } from '../commands/analyze/saliency.ts';
import { openSubject } from '../commands/analyze/shared.ts';
import { writeEntryArtefacts } from '../commands/attack.ts';
import { runDetection } from '../commands/detect.ts';
import {
  type AnalysisUnit,
  type AttackUnit,
  type DetectUnit,
  type ModelUnit,
  modelUnitId,
  type Unit,
  unitFolder,
} from './plan.ts';

export interface UnitProgress {
  /** The unit has `total` steps (epochs, attack batches, …). */
  total(total: number): void;
  /** One step done, or a note of what it is doing. */
  step(message?: string): void;
  log(message: string): void;
}

export interface RunContext {
  readonly experiment: Experiment;
  /** Relative paths in the experiment resolve from here. */
  readonly experimentDirectory: string;
  readonly runDirectory: string;
  readonly engine: Engine;
  readonly datasets: Map<string, OpenedDataset>;
}

export interface UnitOutcome {
  readonly metrics: unknown;
  /** Paths relative to the run folder. */
  readonly artefacts: readonly string[];
}

/** A dataset or model path of the experiment, resolved from the experiment file's folder. */
export function resolveFrom(directory: string, path: string): string {
  return path.startsWith('phantom:') || isAbsolute(path) ? path : resolve(directory, path);
}

export function datasetOptionsOf(context: RunContext, dataset: ExperimentDataset): DatasetOptions {
  return {
    ...(dataset.imageSize === undefined ? {} : { imageSize: dataset.imageSize }),
    ...(dataset.channels === undefined ? {} : { channels: dataset.channels }),
    ...(dataset.csv === undefined ? {} : { csv: resolveFrom(context.experimentDirectory, dataset.csv) }),
    ...(dataset.preset === undefined ? {} : { preset: dataset.preset }),
    ...(dataset.classes === undefined ? {} : { classes: dataset.classes }),
    ...(dataset.resize === undefined ? {} : { resize: dataset.resize }),
    ...(dataset.grey === true ? { grey: true } : {}),
    ...(dataset.holdOut === undefined ? {} : { holdOut: dataset.holdOut }),
  };
}

const dataPath = (context: RunContext, dataset: ExperimentDataset) =>
  resolveFrom(context.experimentDirectory, dataset.path);

async function opened(context: RunContext, dataset: ExperimentDataset): Promise<OpenedDataset> {
  const cached = context.datasets.get(dataset.name);
  if (cached !== undefined) return cached;
  const result = await openDataset(dataPath(context, dataset), datasetOptionsOf(context, dataset));
  context.datasets.set(dataset.name, result);
  return result;
}

const first = (set: ImageSet, count: number | undefined) =>
  count === undefined || count >= set.shape[0]
    ? set
    : selectImages(
        set,
        Array.from({ length: count }, (_, index) => index),
      );

/** The images a dataset's units evaluate, attack and analyse: the first `images` of its split. */
async function evaluationSet(
  context: RunContext,
  dataset: ExperimentDataset,
  count = dataset.images,
): Promise<ImageSet> {
  const data = await opened(context, dataset);
  if (!data.splits.includes(dataset.split)) {
    throw new MedrobustError('invalid-data', `dataset "${dataset.name}" has no ${dataset.split} split`, {
      hint: `its splits: ${data.splits.join(', ')}; set "split" in the experiment`,
    });
  }
  const set = first(
    data.read(dataset.split),
    count === undefined ? dataset.images : Math.min(count, dataset.images ?? count),
  );
  if (set.labelsPerImage !== 1) {
    throw new MedrobustError(
      'unsupported',
      `dataset "${dataset.name}" is multi-label; the experiment runner attacks single-label data`,
      {
        hint: 'choose a binary, multi-class or ordinal dataset, or keep classes of one finding with "classes"',
      },
    );
  }
  return set;
}

/** Where a model unit's model lives: its own folder when trained, the given directory when loaded. */
export function modelDirectory(context: RunContext, dataset: string, model: ExperimentModel): string {
  return model.load === undefined
    ? join(context.runDirectory, unitFolder(modelUnitId(dataset, model.name)))
    : resolveFrom(context.experimentDirectory, model.load);
}

function healthyIndex(dataset: ExperimentDataset, classNames: readonly string[]): number {
  if (dataset.healthyClass === undefined) return healthyClassIndex(classNames);
  const index = classNames.indexOf(dataset.healthyClass);
  if (index < 0) {
    throw new MedrobustError(
      'invalid-argument',
      `healthyClass "${dataset.healthyClass}" is not a class of dataset "${dataset.name}"`,
      {
        hint: `classes: ${classNames.join(', ')}`,
      },
    );
  }
  return index;
}

const finite = (value: number) => (Number.isFinite(value) ? value : null);

const recallRecord = (classNames: readonly string[], recall: readonly number[]) =>
  Object.fromEntries(classNames.map((name, index) => [name, finite(recall[index] ?? Number.NaN)]));

/** Every file under a folder, relative to the run folder. */
async function filesUnder(context: RunContext, folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(context.runDirectory, join(entry.parentPath, entry.name)))
    .sort();
}

async function runModel(context: RunContext, unit: ModelUnit, progress: UnitProgress): Promise<UnitOutcome> {
  const { dataset, model } = unit;
  const directory = modelDirectory(context, dataset.name, model);
  let training: unknown = null;
  if (model.train !== undefined) {
    const settings = model.train;
    const recipe: TrainRecipe = {
      data: dataPath(context, dataset),
      dataOptions: datasetOptionsOf(context, dataset),
      arch: settings.arch,
      width: settings.width,
      head: settings.head,
      epochs: settings.epochs,
      batchSize: settings.batch,
      optimiser: settings.optimizer,
      learningRate: settings.lr,
      momentum: settings.momentum,
      weightDecay: settings.weightDecay,
      schedule: settings.schedule,
      balanceClasses: settings.balance,
      patience: settings.patience,
      seed: settings.seed ?? context.experiment.seed,
      ...(settings.adversarial === undefined
        ? {}
        : {
            adversarial: {
              method: settings.adversarial.method,
              epsilon: settings.adversarial.epsilon,
              steps: settings.adversarial.steps ?? defaultSteps[settings.adversarial.method],
              warmupEpochs: settings.adversarial.warmup,
              ...(settings.adversarial.method === 'trades'
                ? { beta: settings.adversarial.beta ?? defaultTradesBeta }
                : {}),
              onCatastrophicOverfitting: settings.adversarial.onOverfitting,
            },
          }),
      augment: settings.augment,
      ...(dataset.trainImages === undefined ? {} : { trainImages: dataset.trainImages }),
    };
    progress.total(settings.epochs);
    const train = () =>
      trainRun(context.engine, recipe, directory, {
        resume: true,
        onEpoch: (record, best) => {
          progress.step(
            `epoch ${record.epoch}: loss ${record.loss.toFixed(4)}, validation AUC ${record.validationAuc.toFixed(3)}${best ? ' (best)' : ''}`,
          );
        },
      });
    let result: Awaited<ReturnType<typeof train>>;
    try {
      result = await train();
    } catch (error) {
      // A checkpoint of another recipe (the experiment changed): start this model again.
      if (!(error instanceof MedrobustError) || !/other training settings/.test(error.message)) throw error;
      progress.log(`${unit.id}: the recipe changed; training again from scratch`);
      await rm(directory, { recursive: true, force: true });
      result = await train();
    }
    if (result.resumedFrom > 0) progress.log(`${unit.id}: resumed after epoch ${result.resumedFrom}`);
    training = {
      epochs: result.history.length,
      bestEpoch: result.bestEpoch,
      bestValidationAuc: result.bestAuc,
      stoppedEarly: result.stoppedEarly,
      history: result.history,
    };
  }
  const set = await evaluationSet(context, dataset);
  const loaded = await loadModel(directory, context.engine);
  try {
    const evaluation = evaluateClassifier(loaded.classifier, set, 64);
    const probeSize = Math.min(set.shape[0], 32);
    const probe = imageBatch(set, 0, probeSize);
    const flags = gradientHealthFlags(loaded.classifier, probe, set.labels.subarray(0, probeSize));
    probe.dispose();
    const summary = summarizeModel(loaded.manifest);
    return {
      metrics: {
        model: summary.name,
        architecture: summary.architecture,
        parameters: summary.parameters,
        inputShape: summary.inputShape,
        classNames: set.classNames,
        split: dataset.split,
        images: set.shape[0],
        accuracy: evaluation.accuracy,
        auc: finite(evaluation.auc),
        recall: recallRecord(set.classNames, evaluation.recall),
        confusion: evaluation.confusion,
        training,
        flags: flags.map((flag) => ({ ...flag, docs: flagDocs(flag) })),
      },
      artefacts:
        model.train === undefined
          ? []
          : [
              relative(context.runDirectory, join(directory, 'model.json')),
              relative(context.runDirectory, join(directory, 'model.safetensors')),
            ],
    };
  } finally {
    loaded.network.dispose();
  }
}

async function runAttack(
  context: RunContext,
  unit: AttackUnit,
  progress: UnitProgress,
): Promise<UnitOutcome> {
  const robustness = context.experiment.robustness;
  if (robustness === undefined) throw new Error('an attack unit without a robustness section');
  const folder = join(context.runDirectory, unitFolder(unit.id));
  await mkdir(folder, { recursive: true });
  const set = await evaluationSet(context, unit.dataset);
  const loaded = await loadModel(modelDirectory(context, unit.dataset.name, unit.model), context.engine);
  const healthy = healthyIndex(unit.dataset, set.classNames);
  const grid = unit.attack.epsilons ?? robustness.epsilons;
  const entries: unknown[] = [];
  const artefacts: string[] = [];
  progress.total(unit.epsilons.length);
  try {
    const results = await evaluateRobustness(loaded.classifier, set, {
      attacks: [{ name: unit.attack.name, options: unit.attack.options }],
      epsilons: unit.epsilons,
      batchSize: robustness.batch,
      seed: context.experiment.seed,
      ...(healthy < 0 ? {} : { healthyClass: healthy }),
      onProgress: (message) => progress.step(message),
      onEntry: async (output) => {
        const file = await writeEntryArtefacts(folder, set, output, {
          examples: robustness.examples,
          examplesAt: [1 / 255, Math.max(...grid)],
        });
        artefacts.push(relative(context.runDirectory, join(folder, file)));
        const { entry } = output;
        entries.push({
          ...entry,
          epsilonText: formatEpsilon(entry.epsilon),
          auc: finite(entry.auc),
          recall: recallRecord(set.classNames, entry.recall),
          file: relative(context.runDirectory, join(folder, file)),
          robust: Array.from(output.robust, (value) => (value === 1 ? '1' : '0')).join(''),
        });
        progress.step(
          `${entry.attack} ε=${formatEpsilon(entry.epsilon)}: accuracy ${(100 * entry.adversarialAccuracy).toFixed(1)}%`,
        );
      },
    });
    return {
      metrics: {
        classNames: set.classNames,
        healthyClass: healthy < 0 ? null : set.classNames[healthy],
        clean: {
          accuracy: results.clean.accuracy,
          auc: finite(results.clean.auc),
          recall: recallRecord(set.classNames, results.clean.recall),
        },
        entries,
      },
      artefacts: await filesUnder(context, folder),
    };
  } finally {
    loaded.network.dispose();
  }
}

async function runDetect(
  context: RunContext,
  unit: DetectUnit,
  progress: UnitProgress,
): Promise<UnitOutcome> {
  const detection = context.experiment.detection;
  if (detection === undefined) throw new Error('a detect unit without a detection section');
  const folder = join(context.runDirectory, unitFolder(unit.id));
  const test = await evaluationSet(context, unit.dataset, detection.images);
  const data = await opened(context, unit.dataset);
  const train = data.read('train');
  const seed = context.experiment.seed;
  const reference = selectImages(
    train,
    new Random(seed).permutation(train.shape[0]).slice(0, Math.min(detection.reference, train.shape[0])),
  );
  const directory = modelDirectory(context, unit.dataset.name, unit.model);
  const loaded = await loadModel(directory, context.engine);
  try {
    const { document } = await runDetection(
      loaded.classifier,
      context.engine.describe(),
      test,
      reference,
      {
        model: directory,
        data: dataPath(context, unit.dataset),
        split: unit.dataset.split,
        attacks: detection.attacks,
        epsilon: detection.epsilon,
        detectors: detection.detectors,
        protocols: detection.protocols,
        batch: detection.batch,
        seed,
        splits: detection.splits,
        ...(detection.adaptive === undefined
          ? {}
          : { adaptive: { weight: detection.adaptive, featureMatching: detection.featureMatching } }),
        resume: false,
      },
      folder,
      (message) => progress.step(message),
    );
    const { configuration: _configuration, engine: _engine, createdAt: _createdAt, ...metrics } = document;
    return {
      metrics: { ...metrics, epsilon: detection.epsilon, epsilonText: formatEpsilon(detection.epsilon) },
      artefacts: await filesUnder(context, folder),
    };
  } finally {
    loaded.network.dispose();
  }
}

async function runAnalysis(
  context: RunContext,
  unit: AnalysisUnit,
  progress: UnitProgress,
): Promise<UnitOutcome> {
  const { analysis, dataset } = unit;
  const folder = join(context.runDirectory, unitFolder(unit.id));
  const directory = modelDirectory(context, dataset.name, unit.model);
  const seed = context.experiment.seed;
  const images = Math.min(analysis.images, dataset.images ?? analysis.images);
  const subject = await openSubject(
    context.engine,
    directory,
    dataPath(context, dataset),
    dataset.split,
    images,
    datasetOptionsOf(context, dataset),
  );
  const log = (message: string) => progress.step(message);
  let files: string[];
  try {
    switch (analysis.kind) {
      case 'saliency':
        files = await runSaliency(
          [subject],
          {
            methods: analysis.methods,
            threshold: analysis.threshold,
            smoothGradSamples: analysis.smoothGradSamples,
            smoothGradNoise: analysis.smoothGradNoise,
            integratedGradientsSteps: analysis.integratedGradientsSteps,
            batch: analysis.batch,
            seed,
            show: analysis.show,
          },
          folder,
          log,
        );
        break;
      case 'gradcam': {
        // Guided back-propagation needs the network in tfjs: a wasm copy when it runs natively.
        const copy =
          subject.classifier.guidedGradient === undefined
            ? await loadModel(directory, await loadEngine('wasm'))
            : undefined;
        try {
          files = await runGradCam(
            subject,
            copy?.classifier,
            {
              attack: analysis.attack,
              epsilon: analysis.epsilon,
              batch: analysis.batch,
              seed,
              show: analysis.show,
            },
            folder,
            log,
          );
        } finally {
          copy?.network.dispose();
        }
        break;
      }
      case 'landscape': {
        const secondName = analysis.secondModel;
        const secondModel = context.experiment.models.find((model) => model.name === secondName);
        const second =
          secondModel === undefined
            ? undefined
            : await loadModel(modelDirectory(context, dataset.name, secondModel), context.engine);
        try {
          files = await runLandscape(
            subject,
            second?.classifier,
            { radius: analysis.radius, hessian: analysis.hessian, batch: analysis.batch, seed },
            folder,
            log,
          );
        } finally {
          second?.network.dispose();
        }
        break;
      }
      case 'features':
        files = await runFeatures(
          subject,
          {
            attack: analysis.attack,
            epsilon: analysis.epsilon,
            tap: analysis.tap,
            batch: analysis.batch,
            seed,
            show: analysis.show,
          },
          folder,
          log,
        );
        break;
      case 'embedding':
        files = await runEmbedding(
          subject,
          {
            attack: analysis.attack,
            epsilon: analysis.epsilon,
            tap: analysis.tap,
            perplexity: analysis.perplexity,
            iterations: analysis.iterations,
            batch: analysis.batch,
            seed,
          },
          folder,
          log,
        );
        break;
      case 'lesion':
        files = await runLesion(
          subject,
          {
            attack: analysis.attack,
            epsilon: analysis.epsilon,
            masks:
              analysis.masks === undefined
                ? undefined
                : resolveFrom(context.experimentDirectory, analysis.masks),
            batch: analysis.batch,
            seed,
            show: analysis.show,
          },
          folder,
          log,
        );
        break;
    }
  } finally {
    subject.dispose();
  }
  const numbers = files.find((file) => file.endsWith('.json'));
  const metrics = numbers === undefined ? {} : JSON.parse(await readFile(join(folder, numbers), 'utf8'));
  return {
    metrics: { kind: analysis.kind, numbers: metrics },
    artefacts: files.map((file) => relative(context.runDirectory, join(folder, file))),
  };
}

export function runUnit(context: RunContext, unit: Unit, progress: UnitProgress): Promise<UnitOutcome> {
  switch (unit.kind) {
    case 'model':
      return runModel(context, unit, progress);
    case 'attack':
      return runAttack(context, unit, progress);
    case 'detect':
      return runDetect(context, unit, progress);
    case 'analysis':
      return runAnalysis(context, unit, progress);
  }
}
