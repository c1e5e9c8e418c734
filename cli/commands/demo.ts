/**
 * `medrobust demo`: what the toolkit does today, on real data, in a minute or two. It reads a
 * MedMNIST file, trains a seeded classifier on the training split with the wasm engine, evaluates it
 * on the test split (accuracy and per-class recall), and measures on the test images the operation
 * every attack, saliency map and detector is built from: the input gradient of the loss. As attacks,
 * detectors and reports land, the demo becomes the full pipeline (issue 9's `run experiments/demo.json`).
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Command } from '@commander-js/extra-typings';
import * as tf from '@tensorflow/tfjs-core';
import { MedrobustError } from '../../src/core/errors.ts';
import { type ImageSet, readMedmnistSplit } from '../../src/data/medmnist.ts';
import { readNpz } from '../../src/data/npz.ts';
import { architectureNames } from '../../src/models/architecture.ts';
import { evaluateClassifier } from '../../src/models/evaluate.ts';
import { buildModel, createModel, summarizeModel } from '../../src/models/model.ts';
import { trainLoop } from '../../src/models/train-loop.ts';
import { engineOption } from '../common-options.ts';
import { loadEngineReporting } from '../engine.ts';
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

/** The first `count` images of a set. */
function head(set: ImageSet, count: number): ImageSet {
  const [total, height, width, channels] = set.shape;
  const used = Math.min(count, total);
  return {
    ...set,
    images: set.images.subarray(0, used * height * width * channels),
    labels: set.labels.subarray(0, used),
    shape: [used, height, width, channels],
  };
}

function* batches(set: ImageSet, size: number) {
  const [count, height, width, channels] = set.shape;
  const pixels = height * width * channels;
  for (let start = 0; start < count; start += size) {
    const end = Math.min(count, start + size);
    yield {
      x: tf.tensor4d(set.images.subarray(start * pixels, end * pixels), [
        end - start,
        height,
        width,
        channels,
      ]),
      labels: Array.from(set.labels.subarray(start, end)),
    };
  }
}

export function demoCommand(): Command {
  return new Command('demo')
    .description('train, evaluate and differentiate a classifier on real MedMNIST images')
    .option('--data <file>', 'MedMNIST .npz file', defaultData)
    .option('--arch <name>', 'architecture', parseChoice('--arch', architectureNames), 'small-cnn')
    .option('--epochs <count>', 'training epochs', parseInteger('--epochs', 0, 1000), 3)
    .option(
      '--train-images <count>',
      'training images to use (default: all)',
      parseInteger('--train-images', 1, 10_000_000),
    )
    .option(
      '--images <count>',
      'test images for the gradient measurement',
      parseInteger('--images', 1, 100_000),
      64,
    )
    .option('--batch <size>', 'batch size', parseInteger('--batch', 1, 4096), 64)
    .option('--seed <n>', 'seed for initialisation and shuffling', parseInteger('--seed', 0), 0)
    .addOption(engineOption())
    .action(async (options) => {
      const say = (line: string) => process.stdout.write(`${line}\n`);
      const archive = readNpz(await readData(options.data), options.data);
      const train = head(
        readMedmnistSplit(archive, 'train', options.data),
        options.trainImages ?? Number.MAX_SAFE_INTEGER,
      );
      const test = readMedmnistSplit(archive, 'test', options.data);
      const [, height, width, channels] = test.shape;
      if (height !== width || (channels !== 1 && channels !== 3) || train.labelsPerImage !== 1) {
        throw new MedrobustError(
          'invalid-data',
          `${options.data}: the demo needs square grey or RGB single-label images`,
          {
            hint: 'use a 2-D single-label MedMNIST file such as pneumoniamnist.npz or breastmnist.npz',
          },
        );
      }
      say(
        `data     ${options.data}: ${train.shape[0]} training and ${test.shape[0]} test images, ${height}×${width}×${channels}, classes ${test.classNames.join(' / ')}`,
      );
      const engine = await loadEngineReporting(options.engine);
      const { manifest, weights } = createModel({
        architecture: { arch: options.arch, classes: test.classNames.length, channels, size: height },
        classNames: test.classNames,
        seed: options.seed,
      });
      const { classifier, network } = buildModel(engine, manifest, weights);
      const summary = summarizeModel(manifest);
      say(
        `model    ${summary.name}, ${summary.parameters.toLocaleString('en-US')} parameters, seed ${options.seed}`,
      );
      say(
        `engine   ${Object.entries(engine.describe())
          .filter(([key]) => key !== 'warning')
          .map(([key, value]) => `${key} ${value}`)
          .join(', ')}`,
      );
      trainLoop(
        network,
        { images: train.images, shape: train.shape, labels: train.labels, classes: test.classNames.length },
        {
          epochs: options.epochs,
          batchSize: options.batch,
          optimiser: { kind: 'adam', learningRate: 1e-3 },
          seed: options.seed,
          balanceClasses: true,
          onEpoch: ({ epoch, meanLoss, seconds }) =>
            say(
              `train    epoch ${epoch}/${options.epochs}: loss ${meanLoss.toFixed(4)} (${seconds.toFixed(1)} s, Adam 1e-3, class-balanced)`,
            ),
        },
      );
      const { auc, accuracy, recall } = evaluateClassifier(classifier, test, options.batch);
      say(
        `test     AUC ${auc.toFixed(3)}, accuracy ${(100 * accuracy).toFixed(1)}%; recall ${test.classNames.map((name, index) => `${name} ${(100 * (recall[index] ?? 0)).toFixed(1)}%`).join(', ')}`,
      );
      const sample = head(test, options.images);
      const classes = test.classNames.length;
      let gradientMs = 0;
      let gradientSum = 0;
      let zeroGradients = 0;
      for (const { x, labels } of batches(sample, options.batch)) {
        const began = performance.now();
        const { value, grad } = classifier.valueAndGrad(x, ({ logits }) =>
          tf.tidy(
            () =>
              tf.neg(
                tf.sum(tf.mul(tf.oneHot(tf.tensor1d(labels, 'int32'), classes), tf.logSoftmax(logits)), 1),
              ) as tf.Tensor1D,
          ),
        );
        const perImage = tf.tidy(() => tf.sum(tf.abs(grad), [1, 2, 3]).arraySync() as number[]);
        gradientMs += performance.now() - began;
        for (const total of perImage) {
          gradientSum += total / (height * width * channels);
          if (total === 0) zeroGradients++;
        }
        tf.dispose([x, value, grad]);
      }
      const used = sample.shape[0];
      say(
        `gradient ${((used / gradientMs) * 1000).toFixed(1)} images/s of ∂CE/∂x on ${used} test images; mean |∂CE/∂x| per pixel ${(gradientSum / used).toExponential(2)}; ${zeroGradients} all-zero gradients`,
      );
      say('next     attacks (FGSM, BIM, PGD, CW), detectors and the HTML report join this demo as they land');
      network.dispose();
    });
}
