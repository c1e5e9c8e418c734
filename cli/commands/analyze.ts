/**
 * `medrobust analyze KIND …`: the paper's analyses (SPEC.md §4), each writing figures (PNG and SVG)
 * and a JSON of the numbers behind them into --out.
 *   curves    accuracy-vs-ε from `medrobust attack` results
 *   saliency  gradient map, SmoothGrad, integrated gradients, with spread statistics; --compare-*
 *             adds a second model and dataset (medical against natural images)
 *   gradcam   Grad-CAM of clean and adversarial images
 *   landscape loss surfaces along gradient-sign and random directions, sharpness, Hessian curvature
 *   features  channel-mean feature maps, clean against adversarial, and relative change by depth
 *   embedding t-SNE and UMAP of deep features, clean against adversarial, with k-NN separability
 *   lesion    perturbation energy and Grad-CAM mass inside lesion masks
 *   classes, capacity, natural   studies that train several models and compare them (study.ts)
 */
import { Command } from '@commander-js/extra-typings';
import { getAttack } from '../../src/attacks/registry.ts';
import { MedrobustError } from '../../src/core/errors.ts';
import { type Split, splits } from '../../src/data/medmnist.ts';
import { loadEngine } from '../../src/engine/load-engine.ts';
import { loadModel } from '../../src/node/model-directory.ts';
import { engineOption } from '../common-options.ts';
import { datasetOptionsFrom, type presets, withDatasetOptions } from '../dataset-options.ts';
import { loadEngineReporting } from '../engine.ts';
import { parseChoice, parseEpsilon, parseInteger, parseList, parsePositiveNumber } from '../parse.ts';
import { requireFlags } from '../registry-listing.ts';
import { runCurves } from './analyze/curves.ts';
import { runEmbedding } from './analyze/embedding.ts';
import { runFeatures } from './analyze/features.ts';
import { runGradCam } from './analyze/gradcam.ts';
import { runLandscape } from './analyze/landscape.ts';
import { runLesion } from './analyze/lesion.ts';
import { runSaliency, type SaliencyMethod, saliencyMethods } from './analyze/saliency.ts';
import { type AnalysisSubject, openSubject } from './analyze/shared.ts';
import { capacityCommand, classesCommand, naturalCommand } from './analyze/study-commands.ts';

const log = (message: string) => process.stderr.write(`medrobust: ${message}\n`);

function report(out: string, files: readonly string[]): void {
  process.stdout.write(`wrote ${files.map((file) => `${out}/${file}`).join(', ')}\n`);
}

function curvesCommand() {
  return new Command('curves')
    .description('accuracy-vs-ε curves from `medrobust attack` results (one panel per attack and per folder)')
    .option('--results <dirs>', 'attack --out folders (or results.json files), comma-separated', parseList)
    .option(
      '--names <names>',
      'a label per results folder, comma-separated (default: folder names)',
      parseList,
    )
    .option('--out <dir>', 'output folder')
    .action(async (options) => {
      requireFlags(
        [
          ['--results', options.results],
          ['--out', options.out],
        ],
        'medrobust analyze curves --results DIR[,DIR…] --out DIR',
      );
      const out = options.out as string;
      report(out, await runCurves(options.results as string[], options.names, out));
    });
}

/** Options of the kinds that read a model and images. */
function withSubjectOptions<T extends Command>(command: T) {
  return withDatasetOptions(command)
    .option('--model <dir>', 'model directory')
    .option('--data <path>', 'dataset file or folder')
    .option('--split <name>', `split: ${splits.join(', ')}`, parseChoice('--split', splits), 'test')
    .option(
      '--images <count>',
      'analyse the first N images of the split',
      parseInteger('--images', 1, 100_000),
      100,
    )
    .option('--show <count>', 'images drawn in the panels', parseInteger('--show', 1, 64), 6)
    .option('--batch <size>', 'images per batch', parseInteger('--batch', 1, 4096), 50)
    .option('--seed <n>', 'seed', parseInteger('--seed', 0), 0)
    .option('--out <dir>', 'output folder')
    .addOption(engineOption());
}

interface SubjectCommandOptions {
  model?: string;
  data?: string;
  out?: string;
  split: Split;
  images: number;
  engine: Parameters<typeof loadEngineReporting>[0];
  imageSize?: number;
  channels?: '1' | '3';
  csv?: string;
  preset?: (typeof presets)[number];
  classes?: string[];
  strict?: boolean;
  resize?: number;
  grey?: boolean;
  holdOut?: number;
}

/** What every model-reading kind does around its analysis: required flags, engine, model and images, report, dispose. */
async function analyseSubject(
  kind: string,
  usage: string,
  options: SubjectCommandOptions,
  analyse: (subject: AnalysisSubject, out: string) => Promise<string[]>,
): Promise<void> {
  requireFlags(
    [
      ['--model', options.model],
      ['--data', options.data],
      ['--out', options.out],
    ],
    `medrobust analyze ${kind} --model DIR --data PATH --out DIR${usage}`,
  );
  const engine = await loadEngineReporting(options.engine);
  const subject = await openSubject(
    engine,
    options.model as string,
    options.data as string,
    options.split,
    options.images,
    datasetOptionsFrom(options),
  );
  try {
    report(options.out as string, await analyse(subject, options.out as string));
  } finally {
    subject.dispose();
  }
}

function saliencyCommand() {
  return withSubjectOptions(new Command('saliency'))
    .description(
      "the paper's gradient map, SmoothGrad and integrated gradients, with how widespread they are",
    )
    .option('--compare-model <dir>', 'a second model (e.g. trained on natural images) to compare with')
    .option('--compare-data <path>', "the second model's dataset")
    .option(
      '--methods <names>',
      `saliency methods: ${saliencyMethods.join(', ')}`,
      (value: string) => parseList(value).map((name) => parseChoice('--methods', saliencyMethods)(name)),
      [...saliencyMethods] as SaliencyMethod[],
    )
    .option(
      '--threshold <fraction>',
      "a pixel counts as salient at ≥ this fraction of its map's maximum",
      parsePositiveNumber('--threshold'),
      0.5,
    )
    .option(
      '--smoothgrad-samples <n>',
      'SmoothGrad noisy copies',
      parseInteger('--smoothgrad-samples', 1, 1000),
      25,
    )
    .option(
      '--smoothgrad-noise <fraction>',
      'SmoothGrad σ as a fraction of the input range',
      parsePositiveNumber('--smoothgrad-noise'),
      0.15,
    )
    .option('--ig-steps <n>', 'integrated-gradients steps', parseInteger('--ig-steps', 1, 10_000), 32)
    .action(async (options) => {
      requireFlags(
        [
          ['--model', options.model],
          ['--data', options.data],
          ['--out', options.out],
        ],
        'medrobust analyze saliency --model DIR --data PATH --out DIR [--compare-model DIR --compare-data PATH]',
      );
      if ((options.compareModel === undefined) !== (options.compareData === undefined)) {
        requireFlags(
          [
            ['--compare-model', options.compareModel],
            ['--compare-data', options.compareData],
          ],
          'medrobust analyze saliency … --compare-model DIR --compare-data PATH',
        );
      }
      const engine = await loadEngineReporting(options.engine);
      const subjects: AnalysisSubject[] = [
        await openSubject(
          engine,
          options.model as string,
          options.data as string,
          options.split,
          options.images,
          datasetOptionsFrom(options),
        ),
      ];
      try {
        if (options.compareModel !== undefined && options.compareData !== undefined) {
          subjects.push(
            await openSubject(
              engine,
              options.compareModel,
              options.compareData,
              options.split,
              options.images,
            ),
          );
        }
        const files = await runSaliency(
          subjects,
          {
            methods: options.methods,
            threshold: options.threshold,
            smoothGradSamples: options.smoothgradSamples,
            smoothGradNoise: options.smoothgradNoise,
            integratedGradientsSteps: options.igSteps,
            batch: options.batch,
            seed: options.seed,
            show: options.show,
          },
          options.out as string,
          log,
        );
        report(options.out as string, files);
      } finally {
        for (const subject of subjects) subject.dispose();
      }
    });
}

function gradCamCommand() {
  return withSubjectOptions(new Command('gradcam'))
    .option('--attack <name>', 'a fixed-ε attack', 'paper-pgd')
    .option('--eps <value>', 'ε (e.g. 1/255)', parseEpsilon, 1 / 255)
    .description(
      'Grad-CAM and guided Grad-CAM of clean and adversarial images (last convolutional block, predicted class)',
    )
    .action(async (options) => {
      getAttack(options.attack);
      await analyseSubject('gradcam', ' [--attack paper-pgd --eps 1/255]', options, async (subject, out) => {
        // Guided back-propagation needs the network in tfjs: a wasm copy when it runs natively.
        const copy =
          subject.classifier.guidedGradient === undefined
            ? await loadModel(options.model as string, await loadEngine('wasm'))
            : undefined;
        try {
          const settings = {
            attack: options.attack,
            epsilon: options.eps,
            batch: options.batch,
            seed: options.seed,
            show: options.show,
          };
          return await runGradCam(subject, copy?.classifier, settings, out, log);
        } finally {
          copy?.network.dispose();
        }
      });
    });
}

function landscapeCommand() {
  return withSubjectOptions(new Command('landscape'))
    .description(
      "cross-entropy over the paper's 16×16 ε grid along gradient-sign and random directions, and sharpness",
    )
    .option(
      '--second-model <dir>',
      "an independently trained model of the same task (the paper's second direction)",
    )
    .option('--radius <eps>', 'sharpness radius in units of 1/255', parsePositiveNumber('--radius'), 2)
    .option('--hessian', "also the input Hessian's top eigenvalue (power iteration, 40 gradients per batch)")
    .action(async (options) => {
      await analyseSubject('landscape', ' [--second-model DIR]', options, async (subject, out) => {
        const second =
          options.secondModel === undefined
            ? undefined
            : await loadModel(options.secondModel, subject.engine);
        try {
          const info = subject.classifier.info;
          const other = second?.classifier.info;
          if (
            other !== undefined &&
            (other.inputShape.join('×') !== info.inputShape.join('×') ||
              other.classNames.length !== info.classNames.length)
          ) {
            throw new MedrobustError(
              'invalid-argument',
              `--second-model takes ${other.inputShape.join('×')} images and ${other.classNames.length} classes; --model takes ${info.inputShape.join('×')} and ${info.classNames.length}`,
              { hint: 'the second model must be trained on the same task (same input size and classes)' },
            );
          }
          return await runLandscape(
            subject,
            second?.classifier,
            {
              radius: options.radius,
              hessian: options.hessian === true,
              batch: options.batch,
              seed: options.seed,
            },
            out,
            log,
          );
        } finally {
          second?.network.dispose();
        }
      });
    });
}

function featuresCommand() {
  return withSubjectOptions(new Command('features'))
    .option('--attack <name>', 'a fixed-ε attack', 'paper-pgd')
    .option('--eps <value>', 'ε (e.g. 1/255)', parseEpsilon, 1 / 255)
    .description(
      'channel-mean feature maps of a block, clean vs adversarial, and the relative change of every stage',
    )
    .option('--tap <name>', 'the block drawn (default: the second stage, layer2 or block2)')
    .action(async (options) => {
      getAttack(options.attack);
      await analyseSubject(
        'features',
        ' [--attack paper-pgd --eps 1/255 --tap layer2]',
        options,
        (subject, out) =>
          runFeatures(
            subject,
            {
              attack: options.attack,
              epsilon: options.eps,
              tap: options.tap,
              batch: options.batch,
              seed: options.seed,
              show: options.show,
            },
            out,
            log,
          ),
      );
    });
}

function embeddingCommand() {
  return withSubjectOptions(new Command('embedding'))
    .option('--attack <name>', 'a fixed-ε attack', 'paper-pgd')
    .option('--eps <value>', 'ε (e.g. 1/255)', parseEpsilon, 1 / 255)
    .description('t-SNE and UMAP of deep features, clean vs adversarial, with k-NN separability')
    .option('--tap <name>', "the feature (default: the paper's 128-d 'feature', else 'pool')")
    .option(
      '--perplexity <value>',
      't-SNE perplexity (the paper: 30)',
      parsePositiveNumber('--perplexity'),
      30,
    )
    .option(
      '--iterations <n>',
      't-SNE iterations (the paper: 1000)',
      parseInteger('--iterations', 1, 100_000),
      1000,
    )
    .action(async (options) => {
      getAttack(options.attack);
      await analyseSubject('embedding', ' [--attack paper-pgd --eps 1/255]', options, (subject, out) =>
        runEmbedding(
          subject,
          {
            attack: options.attack,
            epsilon: options.eps,
            tap: options.tap,
            perplexity: options.perplexity,
            iterations: options.iterations,
            batch: options.batch,
            seed: options.seed,
          },
          out,
          log,
        ),
      );
    });
}

function lesionCommand() {
  return withSubjectOptions(new Command('lesion'))
    .option('--attack <name>', 'a fixed-ε attack', 'paper-pgd')
    .option('--eps <value>', 'ε (e.g. 1/255)', parseEpsilon, 1 / 255)
    .description('perturbation energy and Grad-CAM mass inside lesion masks (phantoms, or --masks DIR)')
    .option('--masks <dir>', 'PNG lesion masks named like the images (white inside the lesion)')
    .action(async (options) => {
      getAttack(options.attack);
      await analyseSubject(
        'lesion',
        ' [--masks DIR] (e.g. --data phantom:chest-xray:28)',
        options,
        (subject, out) =>
          runLesion(
            subject,
            {
              attack: options.attack,
              epsilon: options.eps,
              masks: options.masks,
              batch: options.batch,
              seed: options.seed,
              show: options.show,
            },
            out,
            log,
          ),
      );
    });
}

export function analyzeCommand(): Command {
  return new Command('analyze')
    .description(
      "the paper's analyses as figures and numbers: curves, saliency, gradcam, landscape, features",
    )
    .addCommand(curvesCommand())
    .addCommand(saliencyCommand())
    .addCommand(gradCamCommand())
    .addCommand(landscapeCommand())
    .addCommand(featuresCommand())
    .addCommand(embeddingCommand())
    .addCommand(lesionCommand())
    .addCommand(classesCommand())
    .addCommand(capacityCommand())
    .addCommand(naturalCommand());
}
