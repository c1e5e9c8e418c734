/**
 * `medrobust train --data PATH --arch ARCH --out DIR [...]`: train a classifier with a checkpoint
 * every epoch; `--resume` continues a killed run exactly where it stopped.
 */
import { Command, Option } from '@commander-js/extra-typings';
import { SingleBar } from 'cli-progress';
import { formatEpsilon } from '../../src/core/epsilon.ts';
import { MedrobustError } from '../../src/core/errors.ts';
import {
  adversarialMethods,
  defaultSteps,
  defaultTradesBeta,
} from '../../src/evaluation/adversarial-training.ts';
import { architectureNames } from '../../src/models/architecture.ts';
import type { AdversarialRecipe } from '../../src/node/training-run.ts';
import { type EpochRecord, trainRun } from '../../src/node/training-run.ts';
import { engineOption, headOption, widthOption } from '../common-options.ts';
import { datasetOptionsFrom, withDatasetOptions } from '../dataset-options.ts';
import { loadEngineReporting } from '../engine.ts';
import { parseChoice, parseEpsilon, parseInteger, parsePositiveNumber } from '../parse.ts';

interface AdversarialOptions {
  readonly adversarial?: (typeof adversarialMethods)[number];
  readonly eps?: number;
  readonly steps?: number;
  readonly beta?: number;
  readonly warmup: number;
  readonly onOverfitting: 'stop' | 'warn';
}

/** The recipe's adversarial part, checked: --eps needs --adversarial and the reverse. */
function adversarialRecipe(options: AdversarialOptions): { adversarial?: AdversarialRecipe } {
  if (options.adversarial === undefined) {
    if (options.eps !== undefined || options.steps !== undefined || options.beta !== undefined) {
      throw new MedrobustError(
        'invalid-argument',
        '--eps, --steps and --beta are settings of adversarial training',
        {
          hint: 'add --adversarial pgd (or fast, or trades), e.g. --adversarial pgd --eps 2/255 --steps 7',
        },
      );
    }
    return {};
  }
  if (options.eps === undefined || options.eps === 0) {
    throw new MedrobustError('invalid-argument', `--adversarial ${options.adversarial} needs an ε > 0`, {
      hint: 'give the training radius, e.g. --eps 2/255 (the paper evaluates at 1/255)',
    });
  }
  if (options.adversarial === 'fast' && options.steps !== undefined && options.steps !== 1) {
    throw new MedrobustError(
      'invalid-argument',
      '--adversarial fast takes one FGSM step; --steps is for pgd and trades',
      {
        hint: 'drop --steps, or use --adversarial pgd --steps N',
      },
    );
  }
  if (options.beta !== undefined && options.adversarial !== 'trades') {
    throw new MedrobustError(
      'invalid-argument',
      `--beta weighs TRADES' robust term; --adversarial is ${options.adversarial}`,
      {
        hint: 'use --adversarial trades --beta 6, or drop --beta',
      },
    );
  }
  return {
    adversarial: {
      method: options.adversarial,
      epsilon: options.eps,
      steps: options.steps ?? defaultSteps[options.adversarial],
      warmupEpochs: options.warmup,
      ...(options.adversarial === 'trades' ? { beta: options.beta ?? defaultTradesBeta } : {}),
      onCatastrophicOverfitting: options.onOverfitting,
    },
  };
}

export function trainCommand(): Command {
  return withDatasetOptions(new Command('train'))
    .description(
      'train a classifier (checkpoint every epoch, --resume after a kill, best validation AUC kept)',
    )
    .requiredOption('--data <path>', 'dataset file or folder (MedMNIST, CIFAR-style .npz, IDX folder)')
    .requiredOption('--out <dir>', 'output model directory')
    .option(
      '--arch <name>',
      `architecture: ${architectureNames.join(', ')}`,
      parseChoice('--arch', architectureNames),
      'small-cnn',
    )
    .addOption(widthOption())
    .addOption(headOption())
    .option('--epochs <count>', 'epochs', parseInteger('--epochs', 1, 100_000), 10)
    .option('--batch <size>', 'batch size', parseInteger('--batch', 1, 4096), 64)
    .option('--optimizer <name>', 'sgd or adam', parseChoice('--optimizer', ['sgd', 'adam'] as const), 'adam')
    .option('--lr <rate>', 'learning rate', parsePositiveNumber('--lr'), 1e-3)
    .option('--momentum <value>', 'SGD momentum', Number, 0.9)
    .option('--weight-decay <value>', 'L2 weight decay (coupled, as torch.optim)', Number, 0)
    .option(
      '--schedule <name>',
      'constant, cosine, or step (×0.1 at 50 % and 75 %)',
      parseChoice('--schedule', ['constant', 'cosine', 'step'] as const),
      'constant',
    )
    .option('--no-balance', 'do not weight classes by inverse frequency')
    .option(
      '--augment <kind>',
      'none, or paper: flips, rotation ±45°, shift/zoom/shear 0.2',
      parseChoice('--augment', ['none', 'paper'] as const),
      'none',
    )
    .option(
      '--patience <epochs>',
      'stop after this many epochs without a better validation AUC (0: never)',
      parseInteger('--patience', 0),
      0,
    )
    .option(
      '--train-images <count>',
      'use only the first N training images',
      parseInteger('--train-images', 1),
    )
    .option('--seed <n>', 'seed', parseInteger('--seed', 0), 0)
    .addOption(
      new Option(
        '--adversarial <method>',
        'adversarial training: pgd (Madry et al. 2018), trades (Zhang et al. 2019) or fast (FGSM with a random start, Wong et al. 2020)',
      ).argParser(parseChoice('--adversarial', adversarialMethods)),
    )
    .option('--eps <ε>', 'adversarial training ε (L∞, e.g. 2/255)', parseEpsilon)
    .option(
      '--steps <n>',
      'attack steps of adversarial training (default: pgd 7, trades 10; fast takes 1)',
      parseInteger('--steps', 1, 1000),
    )
    .option(
      '--beta <weight>',
      "TRADES' weight of the robust KL term (default 6)",
      parsePositiveNumber('--beta'),
    )
    .option(
      '--warmup <epochs>',
      'grow ε linearly over the first N epochs (0: full ε at once)',
      parseInteger('--warmup', 0),
      0,
    )
    .option(
      '--on-overfitting <action>',
      'when PGD accuracy on held-out images collapses while FGSM accuracy rises: stop or warn',
      parseChoice('--on-overfitting', ['stop', 'warn'] as const),
      'stop',
    )
    .option('--resume', 'continue the run in --out from its last checkpoint')
    .addOption(engineOption())
    .action(async (options) => {
      const engine = await loadEngineReporting(options.engine);
      const recipe = {
        data: options.data,
        arch: options.arch,
        width: options.width,
        head: options.head,
        epochs: options.epochs,
        batchSize: options.batch,
        optimiser: options.optimizer,
        learningRate: options.lr,
        momentum: options.momentum,
        weightDecay: options.weightDecay,
        schedule: options.schedule,
        dataOptions: datasetOptionsFrom(options),
        balanceClasses: options.balance,
        augment: options.augment,
        patience: options.patience,
        seed: options.seed,
        ...(options.trainImages === undefined ? {} : { trainImages: options.trainImages }),
        ...adversarialRecipe(options),
      };
      const tty = process.stderr.isTTY === true;
      const bar = tty
        ? new SingleBar({
            format: 'train [{bar}] epoch {value}/{total} | loss {loss} | val AUC {auc} | ETA {eta_formatted}',
            stream: process.stderr,
          })
        : undefined;
      bar?.start(options.epochs, 0, { loss: '—', auc: '—' });
      const describe = (record: EpochRecord, best: boolean) =>
        `epoch ${record.epoch}/${options.epochs}: loss ${record.loss.toFixed(4)}, lr ${record.learningRate.toExponential(1)}, validation AUC ${record.validationAuc.toFixed(4)}, accuracy ${(100 * record.validationAccuracy).toFixed(1)}%${
          record.probe === undefined
            ? ''
            : `, ε ${formatEpsilon(record.epsilon ?? 0)}, held-out PGD-10 ${(100 * record.probe.pgdAccuracy).toFixed(1)}% FGSM ${(100 * record.probe.fgsmAccuracy).toFixed(1)}%`
        } (${record.seconds.toFixed(1)} s)${best ? ' — best' : ''}`;
      const result = await trainRun(engine, recipe, options.out, {
        resume: options.resume === true,
        onEpoch: (record, best) => {
          if (bar !== undefined)
            bar.update(record.epoch, { loss: record.loss.toFixed(4), auc: record.validationAuc.toFixed(4) });
          else process.stdout.write(`${describe(record, best)}\n`);
          if (record.catastrophicOverfitting === true) {
            const message = `catastrophic overfitting at epoch ${record.epoch}: held-out PGD-10 accuracy fell to ${(100 * (record.probe?.pgdAccuracy ?? 0)).toFixed(1)}% while FGSM accuracy is ${(100 * (record.probe?.fgsmAccuracy ?? 0)).toFixed(1)}% (Wong et al. 2020 §5.2); ${options.onOverfitting === 'stop' ? 'stopping' : 'going on (--on-overfitting warn)'}; use --adversarial pgd, a smaller ε or --warmup`;
            if (bar !== undefined) bar.stop();
            process.stderr.write(`medrobust: warning: ${message}\n`);
          }
        },
      });
      bar?.stop();
      if (result.resumedFrom > 0) process.stdout.write(`resumed after epoch ${result.resumedFrom}\n`);
      if (result.stoppedEarly && result.catastrophicOverfittingEpoch !== undefined)
        process.stdout.write(
          `stopped: catastrophic overfitting at epoch ${result.catastrophicOverfittingEpoch}; the model kept is the best epoch before it\n`,
        );
      else if (result.stoppedEarly)
        process.stdout.write(`stopped early: no better validation AUC for ${options.patience} epochs\n`);
      process.stdout.write(
        `best     epoch ${result.bestEpoch}, validation AUC ${result.bestAuc.toFixed(4)}; model in ${options.out} (log: train-log.jsonl)\n`,
      );
    });
}
