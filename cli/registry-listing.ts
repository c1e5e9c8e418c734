/**
 * What `attack --list` and `detect --list` share: the required-flag check and one help line per
 * option of a registered unit, read from its zod schema (the single source of defaults and docs),
 * and the ε slug both commands put in file names.
 */
import type { z } from 'zod';
import { MedrobustError } from '../src/core/errors.ts';
import { formatEpsilon } from '../src/evaluation/robustness.ts';

/** One line per option: how to set it, what it does, its default. */
export function optionLines(name: string, options: z.ZodType, flag: string): string[] {
  const shape = (options as unknown as z.ZodObject).shape as Record<string, z.ZodType> | undefined;
  return Object.entries(shape ?? {}).map(([option, schema]) => {
    const parsed = schema.safeParse(undefined);
    const fallback =
      parsed.success && parsed.data !== undefined ? ` (default ${JSON.stringify(parsed.data)})` : '';
    return `${''.padEnd(14)} ${flag} '{"${name}":{"${option}":…}}'  ${schema.description ?? ''}${fallback}`;
  });
}

/** Throws for the first required flag without a value, with the command's usage as the fix. */
export function requireFlags(flags: readonly (readonly [string, unknown])[], usage: string): void {
  for (const [flag, value] of flags) {
    if (value === undefined) {
      throw new MedrobustError('invalid-argument', `${flag} is required`, { hint: usage });
    }
  }
}

/** ε in file names: "1_255" for 1/255, else the decimal. */
export function epsilonSlug(epsilon: number): string {
  return formatEpsilon(epsilon).replace('/', '_');
}
