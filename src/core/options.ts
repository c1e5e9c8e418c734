/**
 * Option parsing for every registered unit (attacks, detectors): one zod schema is the single source
 * of defaults and docs (DESIGN.md §5 rule 2), and a bad option becomes an error that names its path.
 */
import type { z } from 'zod';
import { MedrobustError } from './errors.ts';

export function parseOptions<Schema extends z.ZodType>(
  schema: Schema,
  input: unknown,
  name: string,
  hint: string,
): z.output<Schema> {
  const parsed = schema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map(
    (issue) => `${issue.path.join('.') || '(options)'}: ${issue.message}`,
  );
  throw new MedrobustError('invalid-argument', `${name}: invalid options\n  ${issues.join('\n  ')}`, {
    hint,
  });
}
