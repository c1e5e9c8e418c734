/**
 * A model = manifest (model.json: architecture, class names, input shape, bounds, preprocessing,
 * training metadata) + weights (model.safetensors, PyTorch names and layouts). This file holds the
 * manifest schema and the pure operations on models; reading and writing directories is Node-only
 * and lives in src/node/model-directory.ts.
 */
import { z } from 'zod';
import { checkBounds } from '../core/bounds.ts';
import { MedrobustError } from '../core/errors.ts';
import { createClassifier } from '../engine/classifier.ts';
import type { BuildOptions, Classifier, Engine, Network } from '../engine/contracts.ts';
import { countParameters, type NetworkSpec } from '../engine/network-spec.ts';
import { checkWeights, type WeightMap } from '../engine/weights.ts';
import {
  type Architecture,
  type ArchitectureInput,
  architectureSchema,
  buildNetworkSpec,
  defaultPreprocessing,
  type Preprocessing,
  parseArchitecture,
} from './architecture.ts';
import { initialiseWeights } from './initialise.ts';

export const modelFormat = 'medrobust-model';
export const modelFormatVersion = 1;

const manifestSchema = z
  .object({
    format: z.literal(modelFormat),
    formatVersion: z.literal(modelFormatVersion),
    name: z.string().min(1),
    architecture: architectureSchema,
    inputShape: z.tuple([
      z.number().int().positive(),
      z.number().int().positive(),
      z.number().int().positive(),
    ]),
    classNames: z.array(z.string().min(1)).min(2),
    bounds: z.object({ lower: z.number(), upper: z.number() }).strict(),
    preprocessing: z.object({ mean: z.array(z.number()), std: z.array(z.number()) }).strict(),
    seed: z.number().int().optional(),
    createdAt: z.string().optional(),
    /** Free-form record written by training: recipe, metrics, timings. */
    training: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

export type ModelManifest = Omit<z.output<typeof manifestSchema>, 'architecture'> & {
  architecture: Architecture;
};

export function parseModelManifest(input: unknown, source: string): ModelManifest {
  const parsed = manifestSchema.safeParse(input);
  if (!parsed.success) {
    const issues = parsed.error.issues.map(
      (issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`,
    );
    throw new MedrobustError('invalid-model', `${source}: invalid model manifest\n  ${issues.join('\n  ')}`, {
      hint: 'model.json must be written by `medrobust model init` or `medrobust train`; docs/weights.md describes its fields',
    });
  }
  const manifest = parsed.data;
  const architecture = parseArchitecture(manifest.architecture, source);
  const fail = (message: string, hint: string): never => {
    throw new MedrobustError('invalid-model', `${source}: ${message}`, { hint });
  };
  if (manifest.classNames.length !== architecture.classes) {
    fail(
      `${manifest.classNames.length} class names for ${architecture.classes} classes`,
      'give one name per output class in "classNames"',
    );
  }
  const [height, width, channels] = manifest.inputShape;
  if (height !== architecture.size || width !== architecture.size || channels !== architecture.channels) {
    fail(
      `inputShape [${manifest.inputShape.join(', ')}] contradicts architecture (size ${architecture.size}, channels ${architecture.channels})`,
      'make "inputShape" equal [size, size, channels] of "architecture"',
    );
  }
  checkBounds(manifest.bounds, source);
  return { ...manifest, architecture };
}

export function networkSpecOf(manifest: ModelManifest): NetworkSpec {
  return buildNetworkSpec(manifest.architecture, manifest.preprocessing);
}

export interface NewModelOptions {
  readonly architecture: ArchitectureInput;
  readonly name?: string;
  readonly classNames?: readonly string[];
  readonly preprocessing?: Preprocessing;
  readonly seed?: number;
}

/** A freshly initialised model (seeded, PyTorch-style initialisation). */
export function createModel(options: NewModelOptions): { manifest: ModelManifest; weights: WeightMap } {
  const architecture = parseArchitecture(options.architecture, 'model options');
  const classNames =
    options.classNames ?? Array.from({ length: architecture.classes }, (_, index) => `class ${index}`);
  const seed = options.seed ?? 0;
  const preprocessing = options.preprocessing ?? defaultPreprocessing(architecture.channels);
  const manifest = parseModelManifest(
    {
      format: modelFormat,
      formatVersion: modelFormatVersion,
      name: options.name ?? `${architecture.arch}-${architecture.size}px-${architecture.classes}class`,
      architecture,
      inputShape: [architecture.size, architecture.size, architecture.channels],
      classNames: [...classNames],
      bounds: { lower: 0, upper: 1 },
      preprocessing: { mean: [...preprocessing.mean], std: [...preprocessing.std] },
      seed,
      createdAt: new Date().toISOString(),
    },
    'model options',
  );
  return { manifest, weights: initialiseWeights(networkSpecOf(manifest), seed) };
}

export interface LoadedModel {
  readonly manifest: ModelManifest;
  readonly network: Network;
  readonly classifier: Classifier;
}

/** Builds the model on an engine. The caller disposes `network` when done. */
export function buildModel(
  engine: Engine,
  manifest: ModelManifest,
  weights: WeightMap,
  options?: BuildOptions,
): LoadedModel {
  const spec = networkSpecOf(manifest);
  checkWeights(spec, weights, manifest.name);
  const network = engine.buildNetwork(spec, weights, options);
  const classifier = createClassifier(network, {
    name: manifest.name,
    classNames: manifest.classNames,
    bounds: manifest.bounds,
  });
  return { manifest, network, classifier };
}

export interface ModelSummary {
  readonly name: string;
  readonly architecture: Architecture;
  readonly inputShape: readonly [number, number, number];
  readonly classNames: readonly string[];
  readonly bounds: { lower: number; upper: number };
  readonly preprocessing: Preprocessing;
  readonly parameters: number;
  readonly taps: readonly string[];
}

export function summarizeModel(manifest: ModelManifest): ModelSummary {
  const spec = networkSpecOf(manifest);
  return {
    name: manifest.name,
    architecture: manifest.architecture,
    inputShape: manifest.inputShape,
    classNames: manifest.classNames,
    bounds: manifest.bounds,
    preprocessing: manifest.preprocessing,
    parameters: countParameters(spec),
    taps: Object.keys(spec.taps),
  };
}
