/**
 * `medrobust demo`: what the toolkit does today, on real data, in seconds. It reads a MedMNIST
 * file, builds a seeded model, and measures on real test images the two operations every attack,
 * saliency map and detector is built from: prediction and the input gradient of the loss. As
 * training, attacks, detectors and reports land, the demo becomes the full pipeline.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Command } from '@commander-js/extra-typings';
import * as tf from '@tensorflow/tfjs-core';
import { MedrobustError } from '../../src/core/errors.ts';
import { readMedmnistSplit } from '../../src/data/medmnist.ts';
import { readNpz } from '../../src/data/npz.ts';
import { engineNames, loadEngine } from '../../src/engine/load-engine.ts';
import { architectureNames } from '../../src/models/architecture.ts';
import { buildModel, createModel, summarizeModel } from '../../src/models/model.ts';
import { parseChoice, parseInteger } from '../parse.ts';

const defaultData = resolve(
  import.meta.dirname,
  '..',
  '..',
  '..',
  'shared',
  'data',
  'medmnist',
  'pneumoniamnist.npz',
);

async function readData(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new MedrobustError(
      'not-found',
      `${path}: cannot read the dataset (${(error as NodeJS.ErrnoException).code})`,
      {
        hint: 'pass a MedMNIST .npz file with --data FILE (e.g. pneumoniamnist.npz from medmnist.com)',
        cause: error,
      },
    );
  }
}

export function demoCommand(): Command {
  return new Command('demo')
    .description('run what medrobust does today on real MedMNIST images')
    .option('--data <file>', 'MedMNIST .npz file', defaultData)
    .option('--arch <name>', 'architecture', parseChoice('--arch', architectureNames), 'resnet18')
    .option('--images <count>', 'test images to use', parseInteger('--images', 1, 100_000), 64)
    .option('--batch <size>', 'batch size', parseInteger('--batch', 1, 4096), 32)
    .option(
      '--engine <name>',
      `engine: ${engineNames.join(', ')}`,
      parseChoice('--engine', engineNames),
      'wasm',
    )
    .action(async (options) => {
      const say = (line: string) => process.stdout.write(`${line}\n`);
      const archive = readNpz(await readData(options.data), options.data);
      const test = readMedmnistSplit(archive, 'test', options.data);
      const [count, height, width, channels] = test.shape;
      const used = Math.min(options.images, count);
      say(
        `data     ${options.data}: test split, ${count} images ${height}×${width}×${channels}, using ${used}`,
      );
      if (height !== width || (channels !== 1 && channels !== 3)) {
        throw new MedrobustError('invalid-data', `${options.data}: demo needs square grey or RGB images`, {
          hint: 'use a 2-D MedMNIST file',
        });
      }
      const engine = await loadEngine(options.engine);
      const { manifest, weights } = createModel({
        architecture: { arch: options.arch, classes: test.classNames.length, channels, size: height },
        classNames: test.classNames,
        seed: 0,
      });
      const { classifier, network } = buildModel(engine, manifest, weights);
      const summary = summarizeModel(manifest);
      say(
        `model    ${summary.name}, ${summary.parameters.toLocaleString('en-US')} parameters (seeded, untrained)`,
      );
      say(`engine   ${Object.values(engine.describe()).join(' ')}`);
      const classes = test.classNames.length;
      let predictMs = 0;
      let gradientMs = 0;
      let gradientSum = 0;
      let zeroGradients = 0;
      const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
      for (let start = 0; start < used; start += options.batch) {
        const size = Math.min(options.batch, used - start);
        const pixels = height * width * channels;
        const x = tf.tensor4d(test.images.subarray(start * pixels, (start + size) * pixels), [
          size,
          height,
          width,
          channels,
        ]);
        const labels = Array.from(test.labels.subarray(start, start + size));
        let began = performance.now();
        const predicted = tf.tidy(() => tf.argMax(classifier.predict(x).logits, 1).arraySync() as number[]);
        predictMs += performance.now() - began;
        predicted.forEach((label, index) => {
          const row = confusion[labels[index] ?? 0];
          if (row !== undefined) row[label] = (row[label] ?? 0) + 1;
        });
        began = performance.now();
        const { value, grad } = classifier.valueAndGrad(x, ({ logits }) =>
          tf.tidy(
            () =>
              tf.losses.softmaxCrossEntropy(
                tf.oneHot(tf.tensor1d(labels, 'int32'), classes),
                logits,
                undefined,
                undefined,
                tf.Reduction.NONE,
              ) as tf.Tensor1D,
          ),
        );
        const perImage = tf.tidy(() => tf.sum(tf.abs(grad), [1, 2, 3]).arraySync() as number[]);
        gradientMs += performance.now() - began;
        for (const total of perImage) {
          gradientSum += total / pixels;
          if (total === 0) zeroGradients++;
        }
        tf.dispose([x, value, grad]);
      }
      const correct = confusion.reduce((sum, row, index) => sum + (row[index] ?? 0), 0);
      say(
        `predict  ${((used / predictMs) * 1000).toFixed(1)} images/s; accuracy ${((100 * correct) / used).toFixed(1)}% (untrained: chance level expected)`,
      );
      say(
        `gradient ${((used / gradientMs) * 1000).toFixed(1)} images/s of ∂CE/∂x; mean |∂CE/∂x| per pixel ${(gradientSum / used).toExponential(2)}; ${zeroGradients} images with an all-zero gradient`,
      );
      say(
        'next     training, attacks (FGSM, BIM, PGD, CW), detectors and the HTML report join this demo as they land',
      );
      network.dispose();
    });
}
