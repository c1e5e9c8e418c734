/**
 * Parsers for command-line values; each throws a MedrobustError that names the option and the fix.
 */

import { z } from 'zod';
import { epsilonFromText } from '../src/core/epsilon.ts';
import { MedrobustError } from '../src/core/errors.ts';

export function parseInteger(option: string, minimum: number, maximum = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const number = Number(value);
    if (!Number.isInteger(number) || number < minimum || number > maximum) {
      throw new MedrobustError(
        'invalid-argument',
        `${option} must be an integer in [${minimum}, ${maximum}], got "${value}"`,
        {
          hint: `for example ${option} ${minimum}`,
        },
      );
    }
    return number;
  };
}

export function parsePositiveNumber(option: string) {
  return (value: string): number => {
    const number = Number(value);
    if (!Number.isFinite(number) || number <= 0) {
      throw new MedrobustError('invalid-argument', `${option} must be a positive number, got "${value}"`, {
        hint: `for example ${option} 0.5`,
      });
    }
    return number;
  };
}

export function parseChoice<T extends string>(option: string, choices: readonly T[]) {
  return (value: string): T => {
    if (!(choices as readonly string[]).includes(value)) {
      throw new MedrobustError(
        'invalid-argument',
        `${option} must be one of ${choices.join(', ')}, got "${value}"`,
        {
          hint: `for example ${option} ${choices[0]}`,
        },
      );
    }
    return value as T;
  };
}

export function parseList(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

export function parseNumberList(option: string) {
  return (value: string): number[] => {
    const numbers = parseList(value).map(Number);
    if (numbers.length === 0 || numbers.some((number) => !Number.isFinite(number))) {
      throw new MedrobustError(
        'invalid-argument',
        `${option} must be comma-separated numbers, got "${value}"`,
        {
          hint: `for example ${option} 0.5 or ${option} 0.485,0.456,0.406`,
        },
      );
    }
    return numbers;
  };
}

/** One ε: a decimal (0.0039) or a fraction of 255 ("1/255", "0.5/255"); within [0, 1]. */
export function parseEpsilon(value: string): number {
  const epsilon = epsilonFromText(value);
  if (epsilon === undefined) {
    throw new MedrobustError('invalid-argument', `--eps: "${value}" is not an ε in [0, 1]`, {
      hint: 'write ε as a fraction of 255 or a decimal in the [0, 1] image range, e.g. --eps 0.5/255,1/255,8/255',
    });
  }
  return epsilon;
}

export function parseEpsilonList(value: string): number[] {
  const list = parseList(value).map(parseEpsilon);
  if (list.length === 0) {
    throw new MedrobustError('invalid-argument', '--eps needs at least one ε', {
      hint: 'for example --eps 1/255',
    });
  }
  return [...new Set(list)].sort((a, b) => a - b);
}

/** Parses `--options`-style JSON mapping names (attacks, detectors) to option objects. */
export function parseNamedOptions(flag: string, kind: string) {
  const example = kind === 'attack' ? '{"pgd":{"steps":50,"restarts":5}}' : '{"kd":{"bandwidth":0.5}}';
  return (value: string): Record<string, Record<string, unknown>> => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch (error) {
      throw new MedrobustError('invalid-argument', `${flag} is not valid JSON: ${(error as Error).message}`, {
        hint: `for example ${flag} '${example}'`,
      });
    }
    const result = z.record(z.string(), z.record(z.string(), z.unknown())).safeParse(parsed);
    if (!result.success) {
      throw new MedrobustError('invalid-argument', `${flag} must map ${kind} names to option objects`, {
        hint: `for example ${flag} '${example}'`,
      });
    }
    return result.data;
  };
}
