/**
 * The options every command that reads a dataset shares: how to read image folders and CSV-labelled
 * folders (the array formats ignore those), and transforms for any format (resize, grey, hold-out).
 */
import type { Command, OptionValues } from '@commander-js/extra-typings';
import { MedrobustError } from '../src/core/errors.ts';
import type { DatasetOptions } from '../src/node/datasets.ts';
import { parseChoice, parseInteger, parseList } from './parse.ts';

export const presets = ['isic', 'chestxray14', 'kaggle-dr'] as const;

export function withDatasetOptions<
  Args extends unknown[],
  Options extends OptionValues,
  Global extends OptionValues,
>(command: Command<Args, Options, Global>) {
  return command
    .option(
      '--image-size <pixels>',
      'image folders: centre-crop and resize to this side (default 28)',
      parseInteger('--image-size', 8, 1024),
    )
    .option(
      '--channels <count>',
      'image folders: 1 (grey) or 3 (RGB) (default 1)',
      parseChoice('--channels', ['1', '3'] as const),
    )
    .option('--csv <file>', 'labels CSV; --data is then the images folder')
    .option('--preset <name>', `CSV layout: ${presets.join(', ')}`, parseChoice('--preset', presets))
    .option(
      '--classes <names>',
      'ChestX-ray14 findings to keep, comma-separated (e.g. "No Finding,Pneumothorax,Mass")',
      parseList,
    )
    .option('--strict', 'fail on the first unusable image instead of listing it')
    .option(
      '--resize <pixels>',
      'any format: resize images to this side after reading (bilinear; e.g. 28-px MedMNIST to 224)',
      parseInteger('--resize', 8, 1024),
    )
    .option('--grey', 'any format: convert RGB images to grey (BT.601 luminance)')
    .option(
      '--hold-out <fraction>',
      'a dataset with one split only (e.g. CIFAR-10 test): test on this stratified fraction, train on the rest',
      parseFraction('--hold-out'),
    );
}

function parseFraction(option: string) {
  return (value: string): number => {
    const number = Number(value);
    if (!(number > 0 && number < 1)) {
      throw new MedrobustError(
        'invalid-argument',
        `${option} must be a fraction between 0 and 1, got "${value}"`,
        {
          hint: `for example ${option} 0.2`,
        },
      );
    }
    return number;
  };
}

export function datasetOptionsFrom(options: {
  imageSize?: number;
  channels?: '1' | '3';
  csv?: string;
  preset?: (typeof presets)[number];
  classes?: string[];
  strict?: boolean;
  resize?: number;
  grey?: boolean;
  holdOut?: number;
}): DatasetOptions {
  return {
    ...(options.imageSize === undefined ? {} : { imageSize: options.imageSize }),
    ...(options.channels === undefined ? {} : { channels: options.channels === '3' ? 3 : 1 }),
    ...(options.csv === undefined ? {} : { csv: options.csv }),
    ...(options.preset === undefined ? {} : { preset: options.preset }),
    ...(options.classes === undefined ? {} : { classes: options.classes }),
    ...(options.strict === true ? { strict: true } : {}),
    ...(options.resize === undefined ? {} : { resize: options.resize }),
    ...(options.grey === true ? { grey: true } : {}),
    ...(options.holdOut === undefined ? {} : { holdOut: options.holdOut }),
  };
}
