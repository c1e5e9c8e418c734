/**
 * `medrobust demo`: what the toolkit does today, on real data, in a few minutes. It reads a
 * MedMNIST file, trains a seeded classifier on the training split (torch engine where it loads, else
 * wasm), evaluates it on the test split (AUC, accuracy, per-class recall), and attacks test images
 * with the paper's FGSM and PGD at ε = 0.5, 1 and 2 /255: accuracy, AUC and disease→healthy flips
 * under attack, the worst case, and the gradient-health checks. As detectors and reports land, the
 * demo becomes the full pipeline (issue 9's `run experiments/demo.json`).
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Command } from '@commander-js/extra-typings';
import { MedrobustError } from '../../src/core/errors.ts';
import { type ImageSet, readMedmnistSplit } from '../../src/data/medmnist.ts';
import { readNpz } from '../../src/data/npz.ts';
import { evaluateRobustness, formatEpsilon, healthyClassIndex } from '../../src/evaluation/robustness.ts';
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

export function demoCommand(): Command {
  return new Command('demo')
    .description('train, evaluate and attack a classifier on real MedMNIST images')
    .option('--data <file>', 'MedMNIST .npz file', defaultData)
    .option('--arch <name>', 'architecture', parseChoice('--arch', architectureNames), 'small-cnn')
    .option('--epochs <count>', 'training epochs', parseInteger('--epochs', 0, 1000), 3)
    .option(
      '--train-images <count>',
      'training images to use (default: all)',
      parseInteger('--train-images', 1, 10_000_000),
    )
    .option('--images <count>', 'test images to attack', parseInteger('--images', 1, 100_000), 200)
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
      const healthy = healthyClassIndex(test.classNames);
      const epsilons = [0.5 / 255, 1 / 255, 2 / 255];
      const robustness = await evaluateRobustness(classifier, sample, {
        attacks: [{ name: 'paper-fgsm' }, { name: 'paper-pgd' }],
        epsilons,
        batchSize: options.batch,
        seed: options.seed,
        ...(healthy < 0 ? {} : { healthyClass: healthy }),
      });
      say(
        `attack   ${sample.shape[0]} test images, the paper's FGSM and PGD (20 steps of ε/10, random start), L∞ ε in /255 of the [0, 1] range:`,
      );
      for (const entry of robustness.entries) {
        const flips =
          entry.diseaseToHealthyFlipRate === null
            ? ''
            : `, ${(100 * entry.diseaseToHealthyFlipRate).toFixed(1)}% of detected ${test.classNames.filter((_, index) => index !== healthy).join('/')} turned ${test.classNames[healthy]}`;
        say(
          `         ${entry.attack.padEnd(10)} ε=${formatEpsilon(entry.epsilon).padEnd(7)} accuracy ${(100 * entry.adversarialAccuracy).toFixed(1)}% (clean ${(100 * entry.cleanAccuracy).toFixed(1)}%), AUC ${entry.auc.toFixed(3)}${flips} (${entry.seconds.toFixed(1)} s)`,
        );
      }
      for (const worst of robustness.worstCase) {
        say(
          `worst    ε=${formatEpsilon(worst.epsilon).padEnd(7)} accuracy ${(100 * worst.adversarialAccuracy).toFixed(1)}% under either attack`,
        );
      }
      say(
        robustness.flags.length === 0
          ? 'checks   gradients finite and non-zero, outputs are logits, runs repeat (docs/checks.md)'
          : `checks   ${robustness.flags.map((flag) => `${flag.code}: ${flag.message}`).join('; ')}`,
      );
      say(
        'next     `medrobust attack` runs any attack over any ε sweep with results files; detectors and the HTML report join this demo as they land',
      );
      network.dispose();
    });
}
