/**
 * Parsers for command-line values; each throws a MedrobustError that names the option and the fix.
 */
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
