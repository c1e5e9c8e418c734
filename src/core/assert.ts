/**
 * Internal invariants (DESIGN.md §5 rule 6). The message is built lazily so a hot loop pays nothing
 * when the condition holds; it should name the function and the argument at fault.
 */
import { MedrobustError } from './errors.ts';

export function assert(condition: unknown, message: () => string): asserts condition {
  if (!condition) {
    throw new MedrobustError('internal', message());
  }
}

/** Narrows away `undefined` (for `noUncheckedIndexedAccess` lookups that cannot miss). */
export function defined<T>(value: T | undefined, message: () => string): T {
  if (value === undefined) {
    throw new MedrobustError('internal', message());
  }
  return value;
}
