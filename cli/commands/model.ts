/**
 * `medrobust model init` and `medrobust model info`.
 */
import { Command } from '@commander-js/extra-typings';
import { MedrobustError } from '../../src/core/errors.ts';
import { architectureNames } from '../../src/models/architecture.ts';
import { createModel, type ModelSummary, summarizeModel } from '../../src/models/model.ts';
import { readModelDirectory, writeModelDirectory } from '../../src/node/model-directory.ts';
import { headOption, widthOption } from '../common-options.ts';
import { parseChoice, parseInteger, parseList, parseNumberList } from '../parse.ts';

function formatSummary(summary: ModelSummary): string {
  const { architecture } = summary;
  const lines = [
    `name          ${summary.name}`,
    `architecture  ${architecture.arch} (width ×${architecture.width}, ${architecture.stem} stem, ${architecture.head} head)`,
    `input shape   ${summary.inputShape.join(' × ')} (height × width × channels), NHWC`,
    `bounds        [${summary.bounds.lower}, ${summary.bounds.upper}]`,
    `preprocessing (x − [${summary.preprocessing.mean.join(', ')}]) / [${summary.preprocessing.std.join(', ')}] inside the model`,
    `classes       ${summary.classNames.length}: ${summary.classNames.slice(0, 10).join(', ')}${summary.classNames.length > 10 ? ', …' : ''}`,
    `parameters    ${summary.parameters.toLocaleString('en-US')} trainable`,
    `taps          ${summary.taps.join(', ')}`,
  ];
  return `${lines.join('\n')}\n`;
}

export function modelCommand(): Command {
  const model = new Command('model').description(
    'create and inspect model directories (model.json + model.safetensors)',
  );

  model
    .command('init')
    .description('write a seeded, PyTorch-style initialised model directory')
    .requiredOption(
      '--arch <name>',
      `architecture: ${architectureNames.join(', ')}`,
      parseChoice('--arch', architectureNames),
    )
    .requiredOption('--classes <count>', 'number of output classes', parseInteger('--classes', 2))
    .requiredOption('--out <dir>', 'directory to write')
    .option('--channels <count>', 'input channels: 1 (grey) or 3 (RGB)', parseInteger('--channels', 1, 3), 1)
    .option('--size <pixels>', 'square input size in pixels', parseInteger('--size', 8, 1024), 28)
    .addOption(widthOption())
    .addOption(headOption())
    .option(
      '--stem <kind>',
      'small (3×3/1, no max-pool) or imagenet (7×7/2 + max-pool); default small up to 32 px',
      parseChoice('--stem', ['small', 'imagenet'] as const),
    )
    .option('--class-names <names>', 'comma-separated class names', parseList)
    .option(
      '--mean <values>',
      'per-channel mean of the preprocessing, e.g. 0.485,0.456,0.406 (default 0.5)',
      parseNumberList('--mean'),
    )
    .option(
      '--std <values>',
      'per-channel std of the preprocessing, e.g. 0.229,0.224,0.225 (default 0.5)',
      parseNumberList('--std'),
    )
    .option('--name <name>', 'model name')
    .option('--seed <n>', 'initialisation seed', parseInteger('--seed', 0), 0)
    .action(async (options) => {
      if (options.channels === 2) {
        throw new MedrobustError('invalid-argument', '--channels must be 1 (grey) or 3 (RGB), got 2', {
          hint: 'use --channels 1 or --channels 3',
        });
      }
      const channels = options.channels;
      const perChannel = (values: number[] | undefined, name: string) => {
        if (values === undefined) return new Array<number>(channels).fill(0.5);
        if (values.length === 1) return new Array<number>(channels).fill(values[0] ?? 0.5);
        if (values.length !== channels) {
          throw new MedrobustError(
            'invalid-argument',
            `${name} needs 1 or ${channels} values, got ${values.length}`,
            {
              hint: `give one value per input channel, e.g. ${name} ${new Array(channels).fill(0.5).join(',')}`,
            },
          );
        }
        return values;
      };
      const { manifest, weights } = createModel({
        preprocessing: { mean: perChannel(options.mean, '--mean'), std: perChannel(options.std, '--std') },
        architecture: {
          arch: options.arch,
          classes: options.classes,
          channels: options.channels as 1 | 3,
          size: options.size,
          width: options.width,
          head: options.head,
          ...(options.stem === undefined ? {} : { stem: options.stem }),
        },
        seed: options.seed,
        ...(options.name === undefined ? {} : { name: options.name }),
        ...(options.classNames === undefined ? {} : { classNames: options.classNames }),
      });
      await writeModelDirectory(options.out, manifest, weights);
      process.stdout.write(`wrote ${options.out}\n${formatSummary(summarizeModel(manifest))}`);
    });

  model
    .command('info')
    .description('print architecture, input shape, bounds, parameter count and tap names')
    .argument('<dir>', 'model directory')
    .option('--json', 'print JSON')
    .action(async (directory, options) => {
      const { manifest } = await readModelDirectory(directory);
      const summary = summarizeModel(manifest);
      process.stdout.write(options.json ? `${JSON.stringify(summary, null, 2)}\n` : formatSummary(summary));
    });

  return model;
}
