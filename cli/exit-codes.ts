/**
 * The CLI's one mapping from error codes to exit codes (DESIGN.md §5 rule 7).
 */
import type { ErrorCode } from '../src/core/errors.ts';

export const exitCodes: Readonly<Record<ErrorCode, number>> = Object.freeze({
  'invalid-argument': 2,
  'invalid-model': 3,
  'invalid-data': 3,
  'not-found': 4,
  unsupported: 5,
  'engine-unavailable': 6,
  incomplete: 7,
  overloaded: 75,
  internal: 70,
});

/** Exit code for command-line usage errors found by commander (unknown option, missing argument). */
export const usageExitCode = 2;
