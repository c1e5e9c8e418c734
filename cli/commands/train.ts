/**
 * `medrobust train --data PATH --arch ARCH --out DIR [...]`: train a classifier with a checkpoint
 * every epoch; `--resume` continues a killed run exactly where it stopped.
 */
import { Command } from '@commander-js/extra-typings';
import { SingleBar } from 'cli-progress';
import { architectureNames } from '../../src/models/architecture.ts';
import { type EpochRecord, trainRun } from '../../src/node/training-run.ts';
import { engineOption, headOption, widthOption } from '../common-options.ts';
import { datasetOptionsFrom, withDatasetOptions } from '../dataset-options.ts';
import { loadEngineReporting } from '../engine.ts';
import { parseChoice, parseInteger, parsePositiveNumber } from '../parse.ts';

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
        `epoch ${record.epoch}/${options.epochs}: loss ${record.loss.toFixed(4)}, lr ${record.learningRate.toExponential(1)}, validation AUC ${record.validationAuc.toFixed(4)}, accuracy ${(100 * record.validationAccuracy).toFixed(1)}% (${record.seconds.toFixed(1)} s)${best ? ' — best' : ''}`;
      const result = await trainRun(engine, recipe, options.out, {
        resume: options.resume === true,
        onEpoch: (record, best) => {
          if (bar !== undefined)
            bar.update(record.epoch, { loss: record.loss.toFixed(4), auc: record.validationAuc.toFixed(4) });
          else process.stdout.write(`${describe(record, best)}\n`);
        },
      });
      bar?.stop();
      if (result.resumedFrom > 0) process.stdout.write(`resumed after epoch ${result.resumedFrom}\n`);
      if (result.stoppedEarly)
        process.stdout.write(`stopped early: no better validation AUC for ${options.patience} epochs\n`);
      process.stdout.write(
        `best     epoch ${result.bestEpoch}, validation AUC ${result.bestAuc.toFixed(4)}; model in ${options.out} (log: train-log.jsonl)\n`,
      );
    });
}
