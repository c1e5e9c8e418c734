/**
 * Validation of the saved (JSON) state of the detector classifiers in this folder. Every `restore*`
 * function parses its input with a zod schema through `parseClassifierState`, so a corrupted or
 * hand-edited detector file fails with one `invalid-model` error that lists every problem by path,
 * instead of producing silent garbage scores.
 */
import type { z } from 'zod';
import { MedrobustError } from '../../core/errors.ts';

/** Parses `input` with `schema`, or throws an `invalid-model` error naming every invalid field. */
export function parseClassifierState<Schema extends z.ZodType>(
  schema: Schema,
  input: unknown,
  classifier: string,
): z.output<Schema> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const issues = parsed.error.issues.map(
      (issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`,
    );
    throw new MedrobustError('invalid-model', `invalid ${classifier} state\n  ${issues.join('\n  ')}`, {
      hint: `restore a ${classifier} from the JSON its toJSON() produced, unmodified`,
    });
  }
  return parsed.data;
}

/** Throws an `invalid-model` error for a state that parses but is inconsistent (e.g. mismatched lengths). */
export function inconsistentState(classifier: string, message: string): never {
  throw new MedrobustError('invalid-model', `invalid ${classifier} state: ${message}`, {
    hint: `restore a ${classifier} from the JSON its toJSON() produced, unmodified`,
  });
}
