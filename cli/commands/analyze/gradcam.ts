/**
 * `medrobust analyze gradcam`: Grad-CAM (target = class probability, last convolutional block) of the
 * first N test images and of their adversarial versions (Ma et al. 2021 §4: attention moves under
 * attack). Each map explains the class the model predicts for that input; maps are shown normalised
 * to their own maximum, as Grad-CAM is usually displayed. Numbers per image: the cosine similarity
 * of the clean and adversarial maps, and whether the attack flipped the prediction. Writes
 * gradcam.png|svg and gradcam.json.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { gradCam, guidedGradCam } from '../../../src/analysis/grad-cam.ts';
import { mapOf, type SaliencyMaps } from '../../../src/analysis/saliency.ts';
import { predictClasses } from '../../../src/attacks/attack.ts';
import type { Classifier } from '../../../src/engine/contracts.ts';
import { formatEpsilon } from '../../../src/evaluation/robustness.ts';
import { renderPanel } from '../../../src/report/panels.ts';
import { writeAtomically } from '../../files.ts';
import {
  type AnalysisSubject,
  attackSet,
  concatenate,
  inBatches,
  mean,
  normalised,
  writeFigure,
} from './shared.ts';

export interface GradCamSettings {
  readonly attack: string;
  readonly epsilon: number;
  readonly batch: number;
  readonly seed: number;
  readonly show: number;
}

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let normA = 0;
  let normB = 0;
  for (let i = 0; i < a.length; i++) {
    dot += (a[i] ?? 0) * (b[i] ?? 0);
    normA += (a[i] ?? 0) ** 2;
    normB += (b[i] ?? 0) ** 2;
  }
  return normA > 0 && normB > 0 ? dot / Math.sqrt(normA * normB) : Number.NaN;
}

export async function runGradCam(
  subject: AnalysisSubject,
  /** The same model on a tfjs engine, for guided back-propagation when `subject` runs natively. */
  guidedModel: Classifier | undefined,
  settings: GradCamSettings,
  out: string,
  log: (message: string) => void,
): Promise<string[]> {
  await mkdir(out, { recursive: true });
  const { classifier, set } = subject;
  const attacked = attackSet(classifier, set, settings, log);
  const adversarialSet = { ...set, images: attacked.adversarial };
  const explain = (images: typeof set) => {
    const parts = inBatches(images, settings.batch, (x) => {
      const predicted = predictClasses(classifier, x);
      const cam = gradCam(classifier, x, predicted);
      const guided = guidedGradCam(guidedModel ?? classifier, x, predicted, cam);
      return { cam, predicted, guided };
    });
    const [, height, width] = set.shape;
    const maps: SaliencyMaps = {
      values: concatenate(parts.map((part) => part.cam.maps.values)),
      count: set.shape[0],
      height,
      width,
    };
    return {
      maps,
      guided: { ...maps, values: concatenate(parts.map((part) => part.guided.values)) },
      predicted: Int32Array.from(parts.flatMap((part) => Array.from(part.predicted))),
      probabilities: concatenate(parts.map((part) => part.cam.probabilities)),
      tap: parts[0]?.cam.tap ?? '',
    };
  };
  const clean = explain(set);
  const adversarial = explain(adversarialSet);
  const perImage = Array.from({ length: set.shape[0] }, (_, index) => ({
    label: set.labels[index] ?? 0,
    cleanPrediction: clean.predicted[index] ?? 0,
    adversarialPrediction: adversarial.predicted[index] ?? 0,
    cleanProbability: clean.probabilities[index] ?? 0,
    adversarialProbability: adversarial.probabilities[index] ?? 0,
    similarity: cosine(mapOf(clean.maps, index), mapOf(adversarial.maps, index)),
  }));
  const flipped = perImage.filter((entry) => entry.cleanPrediction !== entry.adversarialPrediction);
  const kept = perImage.filter((entry) => entry.cleanPrediction === entry.adversarialPrediction);
  const similarities = (entries: typeof perImage) =>
    mean(entries.map((entry) => entry.similarity).filter((value) => Number.isFinite(value)));
  const summary = {
    images: perImage.length,
    flipped: flipped.length,
    meanSimilarity: similarities(perImage),
    meanSimilarityFlipped: similarities(flipped),
    meanSimilarityKept: similarities(kept),
  };
  log(
    `Grad-CAM on ${clean.tap}: ${flipped.length} of ${perImage.length} predictions flipped; clean↔adversarial map similarity ${summary.meanSimilarity.toFixed(3)} (flipped ${Number.isFinite(summary.meanSimilarityFlipped) ? summary.meanSimilarityFlipped.toFixed(3) : '—'})`,
  );

  // Show flipped images first: they are the ones the figure is about.
  const isFlipped = (index: number) =>
    perImage[index]?.cleanPrediction !== perImage[index]?.adversarialPrediction;
  const order = [...perImage.keys()].sort((a, b) => Number(isFlipped(b)) - Number(isFlipped(a)));
  const [height, width, channels] = classifier.info.inputShape;
  const pixels = height * width * channels;
  const names = set.classNames;
  const rows = order.slice(0, settings.show).map((index) => {
    const image = set.images.subarray(index * pixels, (index + 1) * pixels);
    const attackedImage = attacked.adversarial.subarray(index * pixels, (index + 1) * pixels);
    const entry = perImage[index] as (typeof perImage)[number];
    return {
      label: `#${index} ${names[entry.cleanPrediction]} → ${names[entry.adversarialPrediction]}`.slice(0, 40),
      cells: [
        { kind: 'image' as const, values: image, channels },
        {
          kind: 'heatmap' as const,
          values: normalised(mapOf(clean.maps, index)),
          underlay: { values: image, channels },
        },
        { kind: 'heatmap' as const, values: normalised(mapOf(clean.guided, index)) },
        { kind: 'image' as const, values: attackedImage, channels },
        {
          kind: 'heatmap' as const,
          values: normalised(mapOf(adversarial.maps, index)),
          underlay: { values: attackedImage, channels },
        },
        { kind: 'heatmap' as const, values: normalised(mapOf(adversarial.guided, index)) },
      ],
    };
  });
  const panel = await renderPanel({
    title: `Grad-CAM (${clean.tap}, predicted class), clean vs ${settings.attack} ε = ${formatEpsilon(settings.epsilon)}`,
    columns: ['clean', 'Grad-CAM', 'guided Grad-CAM', 'adversarial', 'Grad-CAM', 'guided Grad-CAM'],
    rows,
    height,
    width,
    colourMap: 'inferno',
    range: [0, 1],
    colourBarLabel: 'map / its maximum',
  });
  const files = await writeFigure(out, 'gradcam', panel);
  const json = {
    kind: 'gradcam',
    dataset: subject.name,
    model: classifier.info.name,
    tap: clean.tap,
    attack: settings.attack,
    epsilon: settings.epsilon,
    epsilonText: formatEpsilon(settings.epsilon),
    summary,
    perImage,
    files: [...files, 'gradcam.json'],
  };
  await writeAtomically(join(out, 'gradcam.json'), `${JSON.stringify(json, null, 2)}\n`);
  return [...files, 'gradcam.json'];
}
