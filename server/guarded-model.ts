/**
 * Guarded inference: one classifier and the adversarial-input detectors fitted on it, answering
 * "what does the model say about this image, and do the detectors think it was attacked?" — the
 * deployment question of Ma et al., "Understanding adversarial attacks on deep learning based medical
 * image analysis systems" (Pattern Recognition 2021, §5: detectors as a guard in front of the model).
 *
 * An image is flagged by a detector when its score is at or above the threshold stored with the
 * detector (chosen for accuracy on the data it was fitted on, src/detectors/detector.ts), and flagged
 * overall when any detector flags it. Grad-CAM (target = the predicted class's probability, last
 * convolutional block) explains the prediction. `attack` runs a named fixed-ε attack from the
 * registry on the image (against the model's own clean prediction, as the paper's attacks do) and
 * returns both verdicts, for the web page's attack demonstration.
 *
 * One instance lives in each worker thread of the server's pool (server/worker-pool.ts); it is plain
 * library code, so it is tested directly too.
 */
import { existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { gradCam } from '../src/analysis/grad-cam.ts';
import { getAttack } from '../src/attacks/registry.ts';
import { MedrobustError } from '../src/core/errors.ts';
import { type FittedDetector, restoreDetector } from '../src/detectors/detector.ts';
import { extractFeatures } from '../src/detectors/features.ts';
import { getDetector } from '../src/detectors/registry.ts';
import type { Engine } from '../src/engine/contracts.ts';
import { countParameters } from '../src/engine/network-spec.ts';
import { type LoadedModel, networkSpecOf } from '../src/models/model.ts';
import { loadDetectorState } from '../src/node/detector-directory.ts';
import { loadModel } from '../src/node/model-directory.ts';

export interface DetectorDescription {
  readonly name: string;
  /** The detector's directory name (e.g. kd-paper-pgd): unique among the loaded detectors. */
  readonly id: string;
  readonly threshold: number;
  /** What it was fitted on (attack, ε, image counts). */
  readonly fittedOn: Readonly<Record<string, unknown>>;
}

export interface ModelDescription {
  readonly name: string;
  readonly architecture: string;
  readonly inputShape: readonly [number, number, number];
  readonly classNames: readonly string[];
  readonly bounds: { readonly lower: number; readonly upper: number };
  readonly parameters: number;
  readonly detectors: readonly DetectorDescription[];
  readonly engine: Readonly<Record<string, unknown>>;
}

export interface DetectorVerdict {
  readonly id: string;
  readonly name: string;
  readonly score: number;
  readonly threshold: number;
  readonly adversarial: boolean;
}

export interface Prediction {
  /** Softmax probabilities, one per class. */
  readonly probabilities: readonly number[];
  readonly label: number;
  readonly className: string;
  readonly detectors: readonly DetectorVerdict[];
  /** True when any detector flags the image. */
  readonly adversarial: boolean;
  /** Grad-CAM of the predicted class at the input size (h × w), when asked for. */
  readonly gradCam?: Float32Array;
  readonly timings: { readonly modelMs: number; readonly detectorsMs: number; readonly gradCamMs: number };
}

export interface AttackRequest {
  readonly attack: string;
  readonly epsilon: number;
  /** Iterations, for iterative attacks (default: the attack's own). */
  readonly steps?: number;
  readonly seed?: number;
}

export interface AttackOutcome {
  readonly attack: string;
  readonly epsilon: number;
  /** The adversarial image (h × w × c, within the model's bounds). */
  readonly adversarial: Float32Array;
  /** L∞ size of the perturbation actually applied. */
  readonly linf: number;
  readonly clean: Prediction;
  readonly attacked: Prediction;
  readonly attackMs: number;
}

/** The most iterations a request may ask of an attack: bounds the work one request can cost. */
export const maximumAttackSteps = 200;

/**
 * The detector directories a list of paths names: each path is a detector directory (detector.json
 * and arrays.npz) or a folder whose sub-folders are (a `medrobust detect --out` run's detectors/).
 */
export async function expandDetectorDirectories(paths: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  for (const path of paths) {
    const absolute = resolve(path);
    if (existsSync(join(absolute, 'detector.json'))) {
      found.push(absolute);
      continue;
    }
    const info = await stat(absolute).catch(() => undefined);
    if (info === undefined || !info.isDirectory()) {
      throw new MedrobustError('not-found', `${path}: no such detector directory`, {
        hint: 'pass a folder written by `medrobust detect --out DIR` (DIR/detectors/<detector>-<attack>) or DIR/detectors itself',
      });
    }
    const children = (await readdir(absolute, { withFileTypes: true }))
      .filter((entry) => entry.isDirectory() && existsSync(join(absolute, entry.name, 'detector.json')))
      .map((entry) => join(absolute, entry.name))
      .sort();
    if (children.length === 0) {
      throw new MedrobustError(
        'not-found',
        `${path} holds no detector (no detector.json in it or its sub-folders)`,
        {
          hint: 'pass a folder written by `medrobust detect --out DIR` (DIR/detectors/<detector>-<attack>)',
        },
      );
    }
    found.push(...children);
  }
  return found;
}

function directoryName(path: string): string {
  return path.split(/[\\/]/).filter(Boolean).pop() ?? path;
}

/** Softmax of one row of logits, in float64. */
function softmax(logits: ArrayLike<number>): number[] {
  const values = Array.from(logits);
  const largest = Math.max(...values);
  const exponentials = values.map((value) => Math.exp(value - largest));
  const total = exponentials.reduce((sum, value) => sum + value, 0);
  return exponentials.map((value) => value / total);
}

export class GuardedModel {
  /** Every tap any detector reads, each once. */
  private readonly taps: readonly string[];

  private constructor(
    private readonly loaded: LoadedModel,
    private readonly detectors: readonly { readonly id: string; readonly fitted: FittedDetector }[],
    private readonly description: ModelDescription,
  ) {
    this.taps = [...new Set(detectors.flatMap(({ fitted }) => fitted.taps))];
  }

  /** Loads a model directory and detector directories (already expanded) on an engine. */
  static async load(
    engine: Engine,
    modelDirectory: string,
    detectorDirectories: readonly string[],
  ): Promise<GuardedModel> {
    const loaded = await loadModel(modelDirectory, engine);
    try {
      const detectors: { id: string; fitted: FittedDetector }[] = [];
      const ids = new Set<string>();
      for (const directory of detectorDirectories) {
        const state = await loadDetectorState(directory);
        let id = directoryName(directory);
        for (let copy = 2; ids.has(id); copy++) id = `${directoryName(directory)}-${copy}`;
        ids.add(id);
        detectors.push({
          id,
          fitted: restoreDetector(loaded.classifier, getDetector(state.detector), state),
        });
      }
      const info = loaded.classifier.info;
      const description: ModelDescription = {
        name: info.name,
        architecture: loaded.manifest.architecture.arch,
        inputShape: [...info.inputShape] as [number, number, number],
        classNames: [...info.classNames],
        bounds: { lower: info.bounds.lower, upper: info.bounds.upper },
        parameters: countParameters(networkSpecOf(loaded.manifest)),
        detectors: detectors.map(({ id, fitted }) => ({
          id,
          name: fitted.name,
          threshold: fitted.threshold,
          fittedOn: fitted.toJSON().fittedOn,
        })),
        engine: { ...engine.describe() },
      };
      return new GuardedModel(loaded, detectors, description);
    } catch (error) {
      loaded.network.dispose();
      throw error;
    }
  }

  describe(): ModelDescription {
    return this.description;
  }

  /** Values per image (h × w × c). */
  get imageLength(): number {
    const [height, width, channels] = this.description.inputShape;
    return height * width * channels;
  }

  private tensor(image: Float32Array): tf.Tensor4D {
    const [height, width, channels] = this.description.inputShape;
    if (image.length !== this.imageLength) {
      throw new MedrobustError(
        'invalid-argument',
        `the image has ${image.length} values; the model takes ${height}×${width}×${channels} = ${this.imageLength}`,
        { hint: `send an image of ${height}×${width}×${channels} values (or a PNG, JPEG or DICOM file)` },
      );
    }
    const { lower, upper } = this.description.bounds;
    for (let index = 0; index < image.length; index++) {
      const value = image[index] as number;
      if (!(value >= lower && value <= upper)) {
        throw new MedrobustError(
          'invalid-argument',
          `image value ${index} is ${value}, outside the model's input range [${lower}, ${upper}]`,
          { hint: `scale pixels to [${lower}, ${upper}] (the model does its own normalisation)` },
        );
      }
    }
    return tf.tensor4d(image, [1, height, width, channels]);
  }

  async predict(image: Float32Array, explain = false): Promise<Prediction> {
    const x = this.tensor(image);
    try {
      return await this.predictTensor(x, explain);
    } finally {
      x.dispose();
    }
  }

  private async predictTensor(x: tf.Tensor4D, explain: boolean): Promise<Prediction> {
    const classNames = this.description.classNames;
    const start = performance.now();
    // One forward pass gives the logits and every detector's taps.
    const features = extractFeatures(this.loaded.classifier, x, this.taps);
    const label = features.predictions[0] as number;
    const probabilities = softmax(features.logits.values);
    const afterModel = performance.now();
    const detectors: DetectorVerdict[] = [];
    for (const { id, fitted } of this.detectors) {
      const score = (await fitted.scoreFeatures(features, x))[0] as number;
      detectors.push({
        id,
        name: fitted.name,
        score,
        threshold: fitted.threshold,
        adversarial: score >= fitted.threshold,
      });
    }
    const afterDetectors = performance.now();
    const map = explain ? gradCam(this.loaded.classifier, x, Int32Array.of(label)).maps.values : undefined;
    const end = performance.now();
    return {
      probabilities,
      label,
      className: classNames[label] ?? String(label),
      detectors,
      adversarial: detectors.some((verdict) => verdict.adversarial),
      ...(map === undefined ? {} : { gradCam: map }),
      timings: {
        modelMs: afterModel - start,
        detectorsMs: afterDetectors - afterModel,
        gradCamMs: end - afterDetectors,
      },
    };
  }

  async attack(image: Float32Array, request: AttackRequest, explain = false): Promise<AttackOutcome> {
    const attack = getAttack(request.attack);
    if (attack.kind !== 'fixed-epsilon') {
      throw new MedrobustError(
        'invalid-argument',
        `${attack.name} is a minimisation attack (it finds its own ε); the server runs attacks at a given ε`,
        {
          hint: 'choose a fixed-ε attack: fgsm, bim, pgd, apgd-ce, apgd-dlr, square, cw-linf or a paper-* preset',
        },
      );
    }
    if (
      request.steps !== undefined &&
      !(Number.isInteger(request.steps) && request.steps >= 1 && request.steps <= maximumAttackSteps)
    ) {
      throw new MedrobustError(
        'invalid-argument',
        `steps must be an integer in 1…${maximumAttackSteps}, got ${request.steps}`,
        {
          hint: `ask for at most ${maximumAttackSteps} iterations (the default is the attack's own)`,
        },
      );
    }
    const options = attack.parse({
      epsilon: request.epsilon,
      ...(request.steps === undefined ? {} : { steps: request.steps }),
    });
    const x = this.tensor(image);
    try {
      const clean = await this.predictTensor(x, explain);
      const start = performance.now();
      const result = attack.run(
        this.loaded.classifier,
        { x, labels: Int32Array.of(clean.label) },
        undefined,
        options,
        {
          seed: request.seed ?? 0,
        },
      );
      const attackMs = performance.now() - start;
      try {
        const adversarial = Float32Array.from(await result.adversarial.data());
        const attacked = await this.predictTensor(result.adversarial, explain);
        let linf = 0;
        for (let index = 0; index < adversarial.length; index++)
          linf = Math.max(linf, Math.abs((adversarial[index] as number) - (image[index] as number)));
        return {
          attack: attack.name,
          epsilon: request.epsilon,
          adversarial,
          linf,
          clean,
          attacked,
          attackMs,
        };
      } finally {
        result.adversarial.dispose();
      }
    } finally {
      x.dispose();
    }
  }

  dispose(): void {
    this.loaded.network.dispose();
  }
}
