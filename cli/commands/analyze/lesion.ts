/**
 * `medrobust analyze lesion`: where do the attack and the model's attention fall relative to the
 * lesion? For the first N images that have a lesion (masks from the dataset, e.g. the phantoms, or
 * `--masks DIR` of PNG masks named like the images), the attack's perturbation energy inside the
 * lesion against the lesion's area, and Grad-CAM mass inside the lesion for the clean and the
 * adversarial image (src/analysis/lesion.ts). Writes lesion.png|svg and lesion.json.
 */
import { mkdir, readdir } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import sharp from 'sharp';
import { gradCam } from '../../../src/analysis/grad-cam.ts';
import { lesionArea, massInside, perturbationEnergyInside } from '../../../src/analysis/lesion.ts';
import { mapOf } from '../../../src/analysis/saliency.ts';
import { MedrobustError } from '../../../src/core/errors.ts';
import type { ImageSet } from '../../../src/data/image-set.ts';
import { imageBatch, selectImages } from '../../../src/data/transforms.ts';
import { formatEpsilon } from '../../../src/evaluation/robustness.ts';
import { renderPanel } from '../../../src/report/panels.ts';
import { writeAtomically } from '../../files.ts';
import {
  type AnalysisSubject,
  attackSet,
  mean,
  normalised,
  standardDeviation,
  writeFigure,
} from './shared.ts';

export interface LesionSettings {
  readonly attack: string;
  readonly epsilon: number;
  readonly masks: string | undefined;
  readonly batch: number;
  readonly seed: number;
  readonly show: number;
}

/** Masks for the set: its own, or PNGs in `directory` named like each image's source file. */
async function masksFor(set: ImageSet, directory: string | undefined): Promise<Uint8Array> {
  if (directory === undefined) {
    if (set.masks !== undefined) return set.masks;
    throw new MedrobustError('invalid-argument', 'these images have no lesion masks', {
      hint: 'use a dataset with masks (e.g. --data phantom:chest-xray:28) or pass --masks DIR with one PNG per image, named like the image',
    });
  }
  if (set.sources === undefined) {
    throw new MedrobustError(
      'invalid-argument',
      '--masks needs images read from files (a folder of images), to match names',
      {
        hint: 'pass --data as an image folder, or use a dataset with built-in masks',
      },
    );
  }
  const [, height, width] = set.shape;
  const available = new Map(
    (await readdir(directory)).map((file) => [basename(file, extname(file)), join(directory, file)]),
  );
  const masks = new Uint8Array(set.shape[0] * height * width);
  for (const [index, source] of set.sources.entries()) {
    const path = available.get(basename(source, extname(source)));
    if (path === undefined) continue; // No mask: treated as no lesion, and skipped.
    const { data } = await sharp(path)
      .greyscale()
      .resize(width, height, { kernel: 'nearest', fit: 'fill' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    for (let pixel = 0; pixel < height * width; pixel++)
      masks[index * height * width + pixel] = (data[pixel] ?? 0) > 127 ? 1 : 0;
  }
  return masks;
}

export async function runLesion(
  subject: AnalysisSubject,
  settings: LesionSettings,
  out: string,
  log: (message: string) => void,
): Promise<string[]> {
  await mkdir(out, { recursive: true });
  const { classifier } = subject;
  const allMasks = await masksFor(subject.set, settings.masks);
  const [, height, width, channels] = subject.set.shape;
  const size = height * width;
  const withLesion = Array.from({ length: subject.set.shape[0] }, (_, index) => index).filter((index) =>
    allMasks.subarray(index * size, (index + 1) * size).some((value) => value !== 0),
  );
  if (withLesion.length === 0) {
    throw new MedrobustError('invalid-argument', 'none of the analysed images has a lesion in its mask', {
      hint: 'analyse more images (--images), or check that the masks are white (> 127) inside the lesion',
    });
  }
  const set = selectImages(subject.set, withLesion);
  const masks = Uint8Array.from(
    withLesion.flatMap((index) => Array.from(allMasks.subarray(index * size, (index + 1) * size))),
  );
  const attacked = attackSet(classifier, set, settings, log, 'images with a lesion');
  const cams = (images: ImageSet) => {
    const maps: Float32Array[] = [];
    for (let start = 0; start < images.shape[0]; start += settings.batch) {
      const end = Math.min(images.shape[0], start + settings.batch);
      const x = imageBatch(images, start, end);
      try {
        // The true class: where does the evidence for the lesion's class sit?
        const cam = gradCam(classifier, x, Int32Array.from(images.labels.subarray(start, end)));
        for (let index = 0; index < end - start; index++)
          maps.push(Float32Array.from(mapOf(cam.maps, index)));
      } finally {
        x.dispose();
      }
    }
    return maps;
  };
  const clean = cams(set);
  const adversarial = cams({ ...set, images: attacked.adversarial });
  const pixels = size * channels;
  const perImage = Array.from({ length: set.shape[0] }, (_, index) => {
    const mask = masks.subarray(index * size, (index + 1) * size);
    const image = set.images.subarray(index * pixels, (index + 1) * pixels);
    const moved = attacked.adversarial.subarray(index * pixels, (index + 1) * pixels);
    const area = lesionArea(mask);
    const energy = perturbationEnergyInside(image, moved, mask, channels);
    return {
      source: set.sources?.[index] ?? `${subject.name}:${withLesion[index]}`,
      label: set.labels[index] ?? 0,
      fooled: attacked.success[index] === 1,
      lesionArea: area,
      perturbationEnergyInside: energy,
      concentration: energy / area,
      gradCamInsideClean: massInside(clean[index] as Float32Array, mask),
      gradCamInsideAdversarial: massInside(adversarial[index] as Float32Array, mask),
    };
  });
  const finite = (values: number[]) => values.filter((value) => Number.isFinite(value));
  const stat = (key: keyof (typeof perImage)[number]) => {
    const values = finite(perImage.map((entry) => entry[key] as number));
    return { mean: mean(values), standardDeviation: standardDeviation(values), images: values.length };
  };
  const summary = {
    images: perImage.length,
    fooled: perImage.filter((entry) => entry.fooled).length,
    lesionArea: stat('lesionArea'),
    perturbationEnergyInside: stat('perturbationEnergyInside'),
    concentration: stat('concentration'),
    gradCamInsideClean: stat('gradCamInsideClean'),
    gradCamInsideAdversarial: stat('gradCamInsideAdversarial'),
  };
  const rows = perImage.slice(0, settings.show).map((entry, index) => {
    const image = set.images.subarray(index * pixels, (index + 1) * pixels);
    const moved = attacked.adversarial.subarray(index * pixels, (index + 1) * pixels);
    const delta = Float32Array.from({ length: size }, (_, pixel) => {
      let energy = 0;
      for (let c = 0; c < channels; c++)
        energy += ((moved[pixel * channels + c] ?? 0) - (image[pixel * channels + c] ?? 0)) ** 2;
      return Math.sqrt(energy);
    });
    const underlay = { values: image, channels };
    return {
      label:
        `#${withLesion[index]} ${set.classNames[entry.label] ?? ''}${entry.fooled ? ' (fooled)' : ''}`.slice(
          0,
          40,
        ),
      cells: [
        { kind: 'image' as const, values: image, channels },
        {
          kind: 'heatmap' as const,
          values: Float32Array.from(masks.subarray(index * size, (index + 1) * size)),
          underlay,
        },
        { kind: 'heatmap' as const, values: normalised(delta) },
        { kind: 'heatmap' as const, values: normalised(clean[index] as Float32Array), underlay },
        {
          kind: 'heatmap' as const,
          values: normalised(adversarial[index] as Float32Array),
          underlay: { values: moved, channels },
        },
      ],
    };
  });
  const panel = await renderPanel({
    title: `Lesion vs ${settings.attack} ε = ${formatEpsilon(settings.epsilon)}: energy inside ${(100 * summary.perturbationEnergyInside.mean).toFixed(1)} % for ${(100 * summary.lesionArea.mean).toFixed(1)} % of the area`,
    columns: ['image', 'lesion mask', '|perturbation|', 'Grad-CAM clean', 'Grad-CAM adversarial'],
    rows,
    height,
    width,
    colourMap: 'inferno',
    range: [0, 1],
    colourBarLabel: 'value / its maximum',
  });
  const files = await writeFigure(out, 'lesion', panel);
  const json = {
    kind: 'lesion',
    dataset: subject.name,
    model: classifier.info.name,
    attack: settings.attack,
    epsilon: settings.epsilon,
    epsilonText: formatEpsilon(settings.epsilon),
    gradCamTarget: 'true class',
    summary,
    perImage,
    files: [...files, 'lesion.json'],
  };
  await writeAtomically(join(out, 'lesion.json'), `${JSON.stringify(json, null, 2)}\n`);
  log(
    `${perImage.length} images with a lesion: perturbation energy inside ${(100 * summary.perturbationEnergyInside.mean).toFixed(1)} % for ${(100 * summary.lesionArea.mean).toFixed(1)} % of the area (×${summary.concentration.mean.toFixed(2)}); Grad-CAM inside ${(100 * summary.gradCamInsideClean.mean).toFixed(1)} % clean, ${(100 * summary.gradCamInsideAdversarial.mean).toFixed(1)} % adversarial`,
  );
  return [...files, 'lesion.json'];
}
