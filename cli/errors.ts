/**
 * How the CLI reports failures: a MedrobustError prints its message and fix and exits with the
 * code of its kind; anything else is a bug and prints its stack.
 */
import { isMedrobustError } from '../src/core/errors.ts';
import { exitCodes } from './exit-codes.ts';

export function describeError(error: unknown): string {
  if (isMedrobustError(error)) return error.describe();
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

export function exitCodeOf(error: unknown): number {
  return isMedrobustError(error) ? exitCodes[error.code] : exitCodes.internal;
}
