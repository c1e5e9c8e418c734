/**
 * Robustness sweeps (SPEC.md §3; Ma et al. 2021, §4): every (attack, ε) on a labelled image set, in
 * batches, with the paper's metrics and what a clinical reader also needs:
 *   clean accuracy; adversarial accuracy on all images and on the originally correct ones; success
 *   rate (originally correct images the attack fools); AUC under attack; per-class recall and the
 *   disease→healthy flip rate (diseased images, correctly called, that the attack makes "healthy");
 *   mean and max L2 and L∞ of the perturbation;
 * and, per ε, the worst case over all attacks (an image counts as robust only if no attack fools it).
 * Minimisation attacks (CW-L2, DeepFool) run once; an image counts as fooled at ε when the attack
 * found a perturbation of norm ≤ ε.
 *
 * Results go to `onEntry` as each (attack, ε) finishes, with the adversarial images, so a caller can
 * write them as it goes and skip finished entries on resume (`skip`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { type AttackResult, classify } from '../attacks/attack.ts';
import { getAttack } from '../attacks/registry.ts';
import { formatEpsilon } from '../core/epsilon.ts';
import { MedrobustError } from '../core/errors.ts';
import type { ImageSet } from '../data/image-set.ts';
import { imageBatch } from '../data/transforms.ts';
import type { Classifier } from '../engine/contracts.ts';
import { classificationMetrics } from '../models/metrics.ts';
import { type Flag, gradientHealthFlags } from './checks.ts';

export { formatEpsilon };

export interface AttackRequest {
  readonly name: string;
  readonly options?: Readonly<Record<string, unknown>>;
}

export interface RobustnessEntry {
  readonly attack: string;
  readonly epsilon: number;
  readonly norm: 'linf' | 'l2';
  readonly images: number;
  readonly cleanAccuracy: number;
  readonly adversarialAccuracy: number;
  /** Accuracy under attack of the images the model got right: 1 − successRate. */
  readonly adversarialAccuracyOnCorrect: number;
  readonly successRate: number;
  readonly auc: number;
  readonly recall: readonly number[];
  /** Of the diseased images the model called correctly, the share the attack turned "healthy" (null without a healthy class). */
  readonly diseaseToHealthyFlipRate: number | null;
  readonly meanL2: number;
  readonly maxL2: number;
  readonly meanLinf: number;
  readonly maxLinf: number;
  readonly seconds: number;
}

export interface WorstCaseEntry {
  readonly epsilon: number;
  readonly attacks: readonly string[];
  readonly adversarialAccuracy: number;
  readonly adversarialAccuracyOnCorrect: number;
}

export interface EntryOutput {
  readonly entry: RobustnessEntry;
  /** [images × h × w × c] adversarial images (the clean image where a minimisation attack needed more than ε). */
  readonly adversarial: Float32Array;
  readonly adversarialPredictions: Int32Array;
  readonly cleanPredictions: Int32Array;
  /** 1 where the model is still right. */
  readonly robust: Uint8Array;
}

export interface RobustnessSettings {
  readonly attacks: readonly AttackRequest[];
  readonly epsilons: readonly number[];
  readonly batchSize?: number;
  readonly seed?: number;
  /** Index of the healthy class (for the disease→healthy flip rate). */
  readonly healthyClass?: number;
  /** Entries already done (attack name and ε): not run again; their robust masks come from `previous`. */
  readonly previous?: readonly {
    readonly attack: string;
    readonly epsilon: number;
    readonly robust: Uint8Array;
  }[];
  readonly onEntry?: (output: EntryOutput) => void | Promise<void>;
  /** Called once the clean metrics are known, before any attack runs. */
  readonly onClean?: (clean: RobustnessResults['clean']) => void | Promise<void>;
  readonly onProgress?: (message: string) => void;
}

export interface RobustnessResults {
  readonly images: number;
  readonly clean: { readonly accuracy: number; readonly auc: number; readonly recall: readonly number[] };
  readonly entries: readonly RobustnessEntry[];
  readonly worstCase: readonly WorstCaseEntry[];
  readonly flags: readonly Flag[];
}

function checkSet(model: Classifier, set: ImageSet): void {
  const [, height, width, channels] = set.shape;
  const [h, w, c] = model.info.inputShape;
  if (height !== h || width !== w || channels !== c) {
    throw new MedrobustError(
      'invalid-data',
      `the images are ${height}×${width}×${channels} but ${model.info.name} takes ${h}×${w}×${c}`,
      { hint: 'attack data of the resolution and channel count the model was trained for (see --resize)' },
    );
  }
  if (set.task === 'multi-label') {
    throw new MedrobustError('unsupported', 'robustness sweeps need single-label data', {
      hint: 'use a binary, multi-class or ordinal dataset',
    });
  }
  if (set.classNames.length !== model.info.classNames.length) {
    throw new MedrobustError(
      'invalid-data',
      `the data has ${set.classNames.length} classes but the model has ${model.info.classNames.length}`,
      { hint: 'attack the dataset the model was trained on' },
    );
  }
}

function batches(count: number, size: number): [number, number][] {
  const ranges: [number, number][] = [];
  for (let start = 0; start < count; start += size) ranges.push([start, Math.min(count, start + size)]);
  return ranges;
}

export async function evaluateRobustness(
  model: Classifier,
  set: ImageSet,
  settings: RobustnessSettings,
): Promise<RobustnessResults> {
  checkSet(model, set);
  const [count, height, width, channels] = set.shape;
  const pixels = height * width * channels;
  const classes = model.info.classNames.length;
  const batchSize = settings.batchSize ?? 32;
  const seed = settings.seed ?? 0;
  const ranges = batches(count, batchSize);

  // Resolve every attack first, so a bad name or option fails before any work.
  const resolved = settings.attacks.map((request) => {
    const attack = getAttack(request.name);
    return { request, attack, base: request.options ?? {} };
  });
  for (const { attack, base } of resolved) {
    attack.parse(attack.kind === 'fixed-epsilon' ? { ...base, epsilon: settings.epsilons[0] ?? 0 } : base);
  }

  const clean = new Float32Array(count * classes);
  const cleanPredictions = new Int32Array(count);
  for (const [start, end] of ranges) {
    const x = imageBatch(set, start, end);
    const { probabilities, predictions: predicted } = classify(model, x);
    x.dispose();
    clean.set(probabilities, start * classes);
    cleanPredictions.set(predicted, start);
  }
  const labels = set.labels;
  const cleanMetrics = classificationMetrics(clean, labels, classes, set.task);
  await settings.onClean?.({
    accuracy: cleanMetrics.accuracy,
    auc: cleanMetrics.auc,
    recall: cleanMetrics.recall,
  });
  const correct = Uint8Array.from(cleanPredictions, (prediction, index) =>
    Number(prediction === labels[index]),
  );
  const correctCount = correct.reduce((sum, value) => sum + value, 0);

  const entries: RobustnessEntry[] = [];
  const robustByEpsilon = new Map<number, Uint8Array>();
  const attacksByEpsilon = new Map<number, string[]>();
  const noteRobust = (epsilon: number, attack: string, robust: Uint8Array) => {
    const worst = robustByEpsilon.get(epsilon) ?? Uint8Array.from(correct);
    for (let i = 0; i < count; i++) worst[i] = (worst[i] ?? 0) & (robust[i] ?? 0);
    robustByEpsilon.set(epsilon, worst);
    attacksByEpsilon.set(epsilon, [...(attacksByEpsilon.get(epsilon) ?? []), attack]);
  };
  const done = new Map(
    (settings.previous ?? []).map((entry) => [`${entry.attack}@${entry.epsilon}`, entry.robust]),
  );

  const finish = async (
    name: string,
    epsilon: number,
    norm: 'linf' | 'l2',
    adversarial: Float32Array,
    probabilities: Float32Array,
    predictions: Int32Array,
    l2: Float32Array,
    linf: Float32Array,
    seconds: number,
  ) => {
    const robust = Uint8Array.from(predictions, (prediction, index) => Number(prediction === labels[index]));
    const metrics = classificationMetrics(probabilities, labels, classes, set.task);
    const fooledCorrect = correct.reduce((sum, value, index) => sum + (value && !robust[index] ? 1 : 0), 0);
    let flipRate: number | null = null;
    const healthy = settings.healthyClass;
    if (healthy !== undefined) {
      let diseasedCorrect = 0;
      let flipped = 0;
      for (let i = 0; i < count; i++) {
        if (labels[i] !== healthy && correct[i]) {
          diseasedCorrect++;
          if (predictions[i] === healthy) flipped++;
        }
      }
      flipRate = diseasedCorrect === 0 ? null : flipped / diseasedCorrect;
    }
    const mean = (values: Float32Array) =>
      values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length);
    const max = (values: Float32Array) => values.reduce((best, value) => Math.max(best, value), 0);
    const entry: RobustnessEntry = {
      attack: name,
      epsilon,
      norm,
      images: count,
      cleanAccuracy: cleanMetrics.accuracy,
      adversarialAccuracy: robust.reduce((sum, value) => sum + value, 0) / count,
      adversarialAccuracyOnCorrect: correctCount === 0 ? 0 : 1 - fooledCorrect / correctCount,
      successRate: correctCount === 0 ? 0 : fooledCorrect / correctCount,
      auc: metrics.auc,
      recall: metrics.recall,
      diseaseToHealthyFlipRate: flipRate,
      meanL2: mean(l2),
      maxL2: max(l2),
      meanLinf: mean(linf),
      maxLinf: max(linf),
      seconds,
    };
    entries.push(entry);
    noteRobust(epsilon, name, robust);
    await settings.onEntry?.({
      entry,
      adversarial,
      adversarialPredictions: predictions,
      cleanPredictions,
      robust,
    });
  };

  for (const { request, attack, base } of resolved) {
    if (attack.kind === 'fixed-epsilon') {
      for (const epsilon of settings.epsilons) {
        const previous = done.get(`${request.name}@${epsilon}`);
        if (previous !== undefined) {
          noteRobust(epsilon, request.name, previous);
          continue;
        }
        settings.onProgress?.(`${request.name} ε=${formatEpsilon(epsilon)}`);
        const options = { ...base, epsilon };
        const norm = attack.norm(attack.parse(options));
        const started = performance.now();
        const adversarial = new Float32Array(count * pixels);
        const probabilities = new Float32Array(count * classes);
        const predictions = new Int32Array(count);
        const l2 = new Float32Array(count);
        const linf = new Float32Array(count);
        for (const [batchIndex, [start, end]] of ranges.entries()) {
          const x = imageBatch(set, start, end);
          const result: AttackResult = attack.run(
            model,
            { x, labels: labels.subarray(start, end) },
            undefined,
            options,
            {
              seed: seed + batchIndex,
            },
          );
          adversarial.set(result.adversarial.dataSync(), start * pixels);
          probabilities.set(result.probabilities, start * classes);
          predictions.set(result.predictions, start);
          l2.set(result.l2, start);
          linf.set(result.linf, start);
          tf.dispose([x, result.adversarial]);
        }
        await finish(
          request.name,
          epsilon,
          norm,
          adversarial,
          probabilities,
          predictions,
          l2,
          linf,
          (performance.now() - started) / 1000,
        );
      }
      continue;
    }
    // A minimisation attack: one run, then every ε of the sweep.
    const pending = settings.epsilons.filter((epsilon) => !done.has(`${request.name}@${epsilon}`));
    for (const epsilon of settings.epsilons) {
      const previous = done.get(`${request.name}@${epsilon}`);
      if (previous !== undefined) noteRobust(epsilon, request.name, previous);
    }
    if (pending.length === 0) continue;
    settings.onProgress?.(`${request.name} (minimal perturbations, every ε)`);
    const norm = attack.norm(attack.parse(base));
    const started = performance.now();
    const found = new Float32Array(count * pixels);
    const foundProbabilities = new Float32Array(count * classes);
    const foundPredictions = new Int32Array(count);
    const distance = new Float32Array(count).fill(Number.POSITIVE_INFINITY);
    const l2 = new Float32Array(count);
    const linf = new Float32Array(count);
    for (const [batchIndex, [start, end]] of ranges.entries()) {
      const x = imageBatch(set, start, end);
      const result = attack.run(model, { x, labels: labels.subarray(start, end) }, undefined, base, {
        seed: seed + batchIndex,
      });
      found.set(result.adversarial.dataSync(), start * pixels);
      foundProbabilities.set(result.probabilities, start * classes);
      foundPredictions.set(result.predictions, start);
      for (let i = start; i < end; i++) {
        const fooled = result.predictions[i - start] !== labels[i];
        l2[i] = result.l2[i - start] ?? 0;
        linf[i] = result.linf[i - start] ?? 0;
        if (fooled) distance[i] = norm === 'linf' ? (linf[i] ?? 0) : (l2[i] ?? 0);
      }
      tf.dispose([x, result.adversarial]);
    }
    const seconds = (performance.now() - started) / 1000;
    for (const epsilon of pending) {
      const adversarial = Float32Array.from(set.images);
      const probabilities = Float32Array.from(clean);
      const predictions = Int32Array.from(cleanPredictions);
      const l2At = new Float32Array(count);
      const linfAt = new Float32Array(count);
      for (let i = 0; i < count; i++) {
        if ((distance[i] ?? Number.POSITIVE_INFINITY) <= epsilon) {
          adversarial.set(found.subarray(i * pixels, (i + 1) * pixels), i * pixels);
          probabilities.set(foundProbabilities.subarray(i * classes, (i + 1) * classes), i * classes);
          predictions[i] = foundPredictions[i] ?? 0;
          l2At[i] = l2[i] ?? 0;
          linfAt[i] = linf[i] ?? 0;
        }
      }
      await finish(
        request.name,
        epsilon,
        norm,
        adversarial,
        probabilities,
        predictions,
        l2At,
        linfAt,
        seconds,
      );
    }
  }

  const worstCase: WorstCaseEntry[] = [...robustByEpsilon.entries()]
    .sort(([a], [b]) => a - b)
    .map(([epsilon, robust]) => {
      const robustCount = robust.reduce((sum, value) => sum + value, 0);
      return {
        epsilon,
        attacks: attacksByEpsilon.get(epsilon) ?? [],
        adversarialAccuracy: robustCount / count,
        adversarialAccuracyOnCorrect: correctCount === 0 ? 0 : robustCount / correctCount,
      };
    });

  const probe = Math.min(count, batchSize);
  const probeImages = imageBatch(set, 0, probe);
  const flags = [
    ...gradientHealthFlags(model, probeImages, labels.subarray(0, probe)),
    ...comparisonFlags(entries),
  ];
  probeImages.dispose();
  return {
    images: count,
    clean: { accuracy: cleanMetrics.accuracy, auc: cleanMetrics.auc, recall: cleanMetrics.recall },
    entries,
    worstCase,
    flags,
  };
}

/** Class names read as "healthy" for the disease→healthy flip rate when none is given. */
const healthyNames = /^(normal|healthy|benign|no finding|nevus|no dr)\b/i;

/** The index of the healthy class by name (normal, healthy, benign, …), or −1 when there is none. */
export function healthyClassIndex(classNames: readonly string[]): number {
  return classNames.findIndex((name) => healthyNames.test(name.trim()));
}

/** Flags comparing attacks at the same ε (DESIGN.md §5 rule 8). */
export function comparisonFlags(
  entries: readonly Pick<RobustnessEntry, 'attack' | 'epsilon' | 'adversarialAccuracy'>[],
): Flag[] {
  const flags: Flag[] = [];
  const tolerance = 0.02;
  const at = (epsilon: number, names: readonly string[]) =>
    entries.filter((entry) => entry.epsilon === epsilon && names.includes(entry.attack));
  for (const epsilon of new Set(entries.map((entry) => entry.epsilon))) {
    const whiteBox = at(epsilon, [
      'fgsm',
      'bim',
      'pgd',
      'cw-linf',
      'paper-fgsm',
      'paper-bim',
      'paper-pgd',
      'paper-cw',
      'apgd-ce',
      'apgd-dlr',
    ]);
    const blackBox = at(epsilon, ['square']);
    const bestWhite = Math.min(...whiteBox.map((entry) => entry.adversarialAccuracy));
    for (const entry of blackBox) {
      if (whiteBox.length > 0 && entry.adversarialAccuracy < bestWhite - tolerance) {
        flags.push({
          code: 'black-box-beats-white-box',
          severity: 'warning',
          message: `at ε=${formatEpsilon(epsilon)} the black-box Square attack (accuracy ${percent(entry.adversarialAccuracy)}) beats every gradient attack (best ${percent(bestWhite)}): gradients are likely masked or obfuscated`,
        });
      }
    }
    const pgdBest = Math.min(...at(epsilon, ['pgd', 'paper-pgd']).map((entry) => entry.adversarialAccuracy));
    for (const entry of at(epsilon, ['apgd-ce', 'apgd-dlr'])) {
      if (Number.isFinite(pgdBest) && entry.adversarialAccuracy > pgdBest + tolerance) {
        flags.push({
          code: 'apgd-weaker-than-pgd',
          severity: 'warning',
          message: `at ε=${formatEpsilon(epsilon)} ${entry.attack} leaves accuracy ${percent(entry.adversarialAccuracy)}, PGD ${percent(pgdBest)}: APGD should not be weaker; check the loss and the step budget`,
        });
      }
    }
  }
  return flags;
}

function percent(value: number): string {
  return `${(value * 100).toFixed(1)} %`;
}
