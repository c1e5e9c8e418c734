/**
 * The declarative experiment of `medrobust run EXPERIMENT.json`: datasets × models (trained or
 * loaded) × attacks × ε × detectors × protocols × analyses, with the paper's settings as defaults
 * (Ma et al., Pattern Recognition 2021, §3–§5; ../shared/SPEC.md). One zod schema is the single
 * source of defaults and of the error messages: `parseExperiment` turns every problem into a
 * MedrobustError naming the JSON path and the fix.
 */
import { z } from 'zod';
import { getAttack } from '../../attacks/registry.ts';
import { epsilonFromText, formatEpsilon } from '../../core/epsilon.ts';
import { MedrobustError } from '../../core/errors.ts';
import { splits } from '../../data/medmnist.ts';
import { getDetector } from '../../detectors/registry.ts';
import { architectureNames } from '../../models/architecture.ts';
import { adversarialMethods } from '../adversarial-training.ts';
import { protocolNames } from '../detection/protocols.ts';

/** Names become folder names and unit ids. */
const name = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'use letters, digits, ".", "_" and "-" (it names folders)');

/** ε as a number in [0, 1] or a fraction of 255 ("1/255"). */
const epsilon = z.union([z.number(), z.string()]).transform((value, context) => {
  const parsed = typeof value === 'number' ? value : epsilonFromText(value);
  if (parsed === undefined || !Number.isFinite(parsed) || parsed < 0 || parsed > 1) {
    context.addIssue({
      code: 'custom',
      message: `"${value}" is not an ε in [0, 1]; write a fraction of 255 ("1/255") or a decimal`,
    });
    return z.NEVER;
  }
  return parsed;
});

const options = z.record(z.string(), z.unknown()).default({});

/** An attack by name, or with options (and, in robustness sweeps, its own ε grid). */
const attackRequest = z
  .union([
    z.string(),
    z.object({ name: z.string(), options, epsilons: z.array(epsilon).min(1).optional() }).strict(),
  ])
  .transform((value) => (typeof value === 'string' ? { name: value, options: {} } : value));

const namedRequest = z
  .union([z.string(), z.object({ name: z.string(), options }).strict()])
  .transform((value) => (typeof value === 'string' ? { name: value, options: {} } : value));

export const datasetSchema = z
  .object({
    name,
    /** A dataset file or folder (relative paths: from the experiment file's folder), or phantom:KIND[:SIZE]. */
    path: z.string().min(1),
    /** Split evaluated, attacked and analysed (training always reads train/val). */
    split: z.enum(splits).default('test'),
    /** Use only the first N images of that split. */
    images: z.number().int().positive().optional(),
    /** Train on only the first N training images. */
    trainImages: z.number().int().positive().optional(),
    /** Image folders and CSV-labelled folders (see `medrobust train --help`). */
    imageSize: z.number().int().min(8).max(1024).optional(),
    channels: z.union([z.literal(1), z.literal(3)]).optional(),
    csv: z.string().optional(),
    preset: z.enum(['isic', 'chestxray14', 'kaggle-dr']).optional(),
    classes: z.array(z.string()).min(2).optional(),
    resize: z.number().int().min(8).max(1024).optional(),
    /** RGB to grey after reading (BT.601 luminance). */
    grey: z.boolean().optional(),
    /** A one-split dataset (e.g. CIFAR-10 test): this stratified fraction is the test split, the rest train. */
    holdOut: z.number().gt(0).lt(1).optional(),
    /** The healthy class, for the disease→healthy flip rate (default: a class named normal/healthy/benign). */
    healthyClass: z.string().optional(),
  })
  .strict();

export const trainSchema = z
  .object({
    arch: z.enum(architectureNames).default('small-cnn'),
    width: z.number().positive().max(8).default(1),
    head: z.enum(['linear', 'paper']).default('linear'),
    epochs: z.number().int().min(1).max(100_000).default(10),
    batch: z.number().int().min(1).max(4096).default(64),
    optimizer: z.enum(['sgd', 'adam']).default('adam'),
    lr: z.number().positive().default(1e-3),
    momentum: z.number().min(0).max(1).default(0.9),
    weightDecay: z.number().min(0).default(0),
    schedule: z.enum(['constant', 'cosine', 'step']).default('constant'),
    augment: z.enum(['none', 'paper']).default('none'),
    balance: z.boolean().default(true),
    patience: z.number().int().min(0).default(0),
    /** The training seed (default: the experiment's); an independent second model needs its own. */
    seed: z.number().int().min(0).optional(),
    /** Adversarial training (PGD, Madry et al. 2018; TRADES, Zhang et al. 2019; fast FGSM, Wong et al. 2020). */
    adversarial: z
      .object({
        method: z.enum(adversarialMethods),
        epsilon,
        steps: z.number().int().min(1).max(1000).optional(),
        /** TRADES' weight of the robust term (default 6). */
        beta: z.number().positive().optional(),
        warmup: z.number().int().min(0).default(0),
        onOverfitting: z.enum(['stop', 'warn']).default('stop'),
      })
      .strict()
      .optional(),
  })
  .strict();

export const modelSchema = z
  .object({
    name,
    /** Train this architecture on every dataset (or those listed in `datasets`). */
    train: trainSchema.optional(),
    /** Or load a model directory (relative paths: from the experiment file's folder). */
    load: z.string().min(1).optional(),
    /** The datasets this model is used with (default: all). */
    datasets: z.array(name).min(1).optional(),
  })
  .strict()
  .refine((model) => (model.train === undefined) !== (model.load === undefined), {
    message: 'a model needs exactly one of "train" (a recipe) or "load" (a model directory)',
  });

export const robustnessSchema = z
  .object({
    attacks: z.array(attackRequest).min(1),
    /** The ε grid of every attack without its own `epsilons`. */
    epsilons: z.array(epsilon).min(1),
    batch: z.number().int().min(1).max(4096).default(32),
    /** Clean/adversarial example grids per (attack, ε) at 1/255 and the largest ε. */
    examples: z.number().int().min(0).max(64).default(6),
  })
  .strict();

export const detectionSchema = z
  .object({
    attacks: z
      .array(attackRequest)
      .min(1)
      .default([{ name: 'paper-pgd', options: {} }]),
    epsilon: epsilon.default(1 / 255),
    detectors: z
      .array(namedRequest)
      .min(1)
      .default(
        ['kd', 'lid', 'dfeat', 'qfeat', 'mahalanobis'].map((detector) => ({ name: detector, options: {} })),
      ),
    protocols: z.array(z.enum(protocolNames)).min(1).default(['grouped', 'paper']),
    /** Use only the first N images of the split (default: the dataset's `images`). */
    images: z.number().int().min(10).optional(),
    /** Clean training images the detectors are fitted on. */
    reference: z.number().int().min(2).default(1000),
    splits: z.number().int().min(1).max(100).default(3),
    /** Also attack each detector adaptively with this weight on its score. */
    adaptive: z.number().positive().optional(),
    featureMatching: z.boolean().default(false),
    batch: z.number().int().min(1).max(4096).default(100),
  })
  .strict();

const analysisCommon = {
  /** Names the unit and its folder (default: the kind). */
  name: name.optional(),
  images: z.number().int().min(1).max(100_000).default(100),
  show: z.number().int().min(1).max(64).default(6),
  batch: z.number().int().min(1).max(4096).default(50),
};
const attacked = {
  attack: z.string().default('paper-pgd'),
  epsilon: epsilon.default(1 / 255),
};

export const analysisSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('saliency'),
      ...analysisCommon,
      methods: z
        .array(z.enum(['gradient', 'smoothgrad', 'integrated-gradients']))
        .min(1)
        .default(['gradient', 'smoothgrad', 'integrated-gradients']),
      threshold: z.number().positive().max(1).default(0.5),
      smoothGradSamples: z.number().int().min(1).max(1000).default(25),
      smoothGradNoise: z.number().positive().default(0.15),
      integratedGradientsSteps: z.number().int().min(1).max(10_000).default(32),
    })
    .strict(),
  z.object({ kind: z.literal('gradcam'), ...analysisCommon, ...attacked }).strict(),
  z
    .object({
      kind: z.literal('landscape'),
      ...analysisCommon,
      /** Another model of this experiment, trained on the same dataset: the paper's second direction. */
      secondModel: name.optional(),
      radius: z.number().positive().default(2),
      hessian: z.boolean().default(false),
    })
    .strict(),
  z
    .object({ kind: z.literal('features'), ...analysisCommon, ...attacked, tap: z.string().optional() })
    .strict(),
  z
    .object({
      kind: z.literal('embedding'),
      ...analysisCommon,
      ...attacked,
      tap: z.string().optional(),
      perplexity: z.number().positive().default(30),
      iterations: z.number().int().min(1).max(100_000).default(1000),
    })
    .strict(),
  z
    .object({ kind: z.literal('lesion'), ...analysisCommon, ...attacked, masks: z.string().optional() })
    .strict(),
]);

export const engineChoices = ['auto', 'wasm', 'torch', 'cpu'] as const;

export const experimentSchema = z
  .object({
    /** Editors' JSON-schema pointer; ignored. */
    $schema: z.string().optional(),
    name,
    description: z.string().optional(),
    seed: z.number().int().min(0).default(0),
    engine: z.enum(engineChoices).default('auto'),
    datasets: z.array(datasetSchema).min(1),
    models: z.array(modelSchema).min(1),
    robustness: robustnessSchema.optional(),
    detection: detectionSchema.optional(),
    analyses: z.array(analysisSchema).default([]),
  })
  .strict();

export type Experiment = z.output<typeof experimentSchema>;
export type ExperimentDataset = z.output<typeof datasetSchema>;
export type ExperimentModel = z.output<typeof modelSchema>;
export type TrainSettings = z.output<typeof trainSchema>;
export type AnalysisSettings = z.output<typeof analysisSchema>;
export type AttackRequestSettings = z.output<typeof attackRequest>;

function pathText(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (text, key) =>
      typeof key === 'number' ? `${text}[${key}]` : text === '' ? String(key) : `${text}.${String(key)}`,
    '',
  );
}

const fixes: Record<string, string> = {
  datasets: 'each dataset is {"name": "breast", "path": "data/breastmnist.npz"}',
  models:
    'each model is {"name": "cnn", "train": {"arch": "small-cnn", "epochs": 5}} or {"name": "mine", "load": "models/mine"}',
  robustness: 'robustness is {"attacks": ["paper-fgsm", "paper-pgd"], "epsilons": ["0.5/255", "1/255"]}',
  detection: 'detection is {"attacks": ["paper-pgd"], "epsilon": "1/255", "detectors": ["kd", "lid"]}',
  analyses:
    'each analysis is {"kind": "gradcam"} (saliency, gradcam, landscape, features, embedding, lesion)',
};

function invalid(
  source: string,
  path: readonly PropertyKey[],
  message: string,
  hint?: string,
): MedrobustError {
  const where = path.length === 0 ? '' : ` at ${pathText(path)}`;
  const top = typeof path[0] === 'string' ? path[0] : '';
  return new MedrobustError('invalid-argument', `${source}${where}: ${message}`, {
    hint: hint ?? fixes[top] ?? 'see experiments/demo.json and docs/experiments.md for a complete example',
  });
}

/** Checks what the schema cannot: names that exist, unique names, references between sections. */
function checkReferences(experiment: Experiment, source: string): void {
  const unique = (what: string, names: readonly string[]) => {
    const seen = new Set<string>();
    names.forEach((item, index) => {
      if (seen.has(item)) throw invalid(source, [what, index, 'name'], `the name "${item}" is used twice`);
      seen.add(item);
    });
  };
  unique(
    'datasets',
    experiment.datasets.map((dataset) => dataset.name),
  );
  unique(
    'models',
    experiment.models.map((model) => model.name),
  );
  const datasetNames = experiment.datasets.map((dataset) => dataset.name);
  experiment.models.forEach((model, index) => {
    (model.datasets ?? []).forEach((dataset, position) => {
      if (!datasetNames.includes(dataset)) {
        throw invalid(
          source,
          ['models', index, 'datasets', position],
          `no dataset is named "${dataset}"`,
          `datasets of this experiment: ${datasetNames.join(', ')}`,
        );
      }
    });
  });
  const checkAttack = (
    path: PropertyKey[],
    request: { name: string; options: Record<string, unknown> },
    at: number,
  ) => {
    let attack: ReturnType<typeof getAttack>;
    try {
      attack = getAttack(request.name);
    } catch (error) {
      throw invalid(source, [...path, 'name'], (error as Error).message, (error as MedrobustError).hint);
    }
    try {
      attack.parse(attack.kind === 'fixed-epsilon' ? { ...request.options, epsilon: at } : request.options);
    } catch (error) {
      throw invalid(source, [...path, 'options'], (error as Error).message, (error as MedrobustError).hint);
    }
    return attack;
  };
  experiment.robustness?.attacks.forEach((request, index) => {
    checkAttack(
      ['robustness', 'attacks', index],
      request,
      (request.epsilons ?? experiment.robustness?.epsilons)?.[0] ?? 0,
    );
  });
  const detection = experiment.detection;
  if (detection !== undefined) {
    detection.attacks.forEach((request, index) => {
      const attack = checkAttack(['detection', 'attacks', index], request, detection.epsilon);
      if (attack.kind !== 'fixed-epsilon') {
        throw invalid(
          source,
          ['detection', 'attacks', index, 'name'],
          `detection needs a fixed-ε attack; ${request.name} is a ${attack.kind} attack`,
          'use paper-fgsm, paper-bim, paper-pgd, paper-cw, pgd, apgd-ce, apgd-dlr or square',
        );
      }
    });
    detection.detectors.forEach((request, index) => {
      let detector: ReturnType<typeof getDetector>;
      try {
        detector = getDetector(request.name);
      } catch (error) {
        throw invalid(
          source,
          ['detection', 'detectors', index, 'name'],
          (error as Error).message,
          (error as MedrobustError).hint,
        );
      }
      try {
        detector.parse(request.options);
      } catch (error) {
        throw invalid(
          source,
          ['detection', 'detectors', index, 'options'],
          (error as Error).message,
          `run \`medrobust detect --list\` for ${request.name}'s options`,
        );
      }
    });
  }
  const modelNames = experiment.models.map((model) => model.name);
  const analysisNames = new Set<string>();
  experiment.analyses.forEach((analysis, index) => {
    const unitName = analysis.name ?? analysis.kind;
    if (analysisNames.has(unitName)) {
      throw invalid(
        source,
        ['analyses', index],
        `two analyses are named "${unitName}"`,
        'give repeated kinds a "name" of their own, e.g. {"kind": "gradcam", "name": "gradcam-8", "epsilon": "8/255"}',
      );
    }
    analysisNames.add(unitName);
    if ('attack' in analysis) {
      const attack = checkAttack(
        ['analyses', index, 'attack'],
        { name: analysis.attack, options: {} },
        analysis.epsilon,
      );
      if (attack.kind !== 'fixed-epsilon') {
        throw invalid(
          source,
          ['analyses', index, 'attack'],
          `${analysis.attack} is not a fixed-ε attack`,
          'use paper-pgd, paper-fgsm, pgd or apgd-ce',
        );
      }
    }
    if (
      analysis.kind === 'landscape' &&
      analysis.secondModel !== undefined &&
      !modelNames.includes(analysis.secondModel)
    ) {
      throw invalid(
        source,
        ['analyses', index, 'secondModel'],
        `no model is named "${analysis.secondModel}"`,
        `models of this experiment: ${modelNames.join(', ')}`,
      );
    }
  });
}

/** Validates an experiment (parsed JSON) and fills in defaults; `source` names the file in errors. */
export function parseExperiment(json: unknown, source: string): Experiment {
  const parsed = experimentSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path ?? [];
    let message = issue?.message ?? 'invalid experiment';
    if (issue?.code === 'unrecognized_keys')
      message = `unknown field ${issue.keys.map((key) => `"${key}"`).join(', ')}`;
    throw invalid(source, path, message);
  }
  checkReferences(parsed.data, source);
  return parsed.data;
}

/** ε grids and the paper's ε as text, for messages. */
export const describeEpsilons = (values: readonly number[]) => values.map(formatEpsilon).join(', ');

/** The JSON Schema of experiment files as users write them (before defaults), for editors. */
export function experimentJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(experimentSchema, { io: 'input', unrepresentable: 'any' }),
    title: 'medrobust experiment',
    description:
      'A medrobust experiment: datasets × models × attacks × ε × detectors × protocols × analyses (docs/experiments.md).',
  };
}
