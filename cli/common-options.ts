/**
 * Options several commands share, defined once.
 */
import { Option } from '@commander-js/extra-typings';
import { engineNames } from '../src/engine/load-engine.ts';
import { parseChoice, parsePositiveNumber } from './parse.ts';

export function engineOption() {
  return new Option(
    '--engine <name>',
    `engine: ${engineNames.join(', ')} (auto: torch when its addon loads, else wasm)`,
  )
    .argParser(parseChoice('--engine', engineNames))
    .default('auto' as const);
}

export function widthOption() {
  return new Option('--width <multiplier>', 'channel width multiplier')
    .argParser(parsePositiveNumber('--width'))
    .default(1);
}

export function headOption() {
  return new Option('--head <kind>', 'linear, or paper: Dense(128) → Dropout(0.2) → Dense(classes)')
    .argParser(parseChoice('--head', ['linear', 'paper'] as const))
    .default('linear' as const);
}
