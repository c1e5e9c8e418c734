/**
 * The one error class of medrobust (DESIGN.md §5 rule 7). Every failure a user can cause carries a
 * stable `code`, a message that says what was wrong, and a `hint` that says how to fix it. The CLI
 * maps codes to exit codes and the server maps them to HTTP statuses, each in one place.
 */

export const errorCodes = {
  /** A user-supplied argument or option is malformed or out of range. */
  invalidArgument: 'invalid-argument',
  /** A model directory, architecture spec or weights file is missing, malformed or inconsistent. */
  invalidModel: 'invalid-model',
  /** A dataset file is missing, malformed or inconsistent. */
  invalidData: 'invalid-data',
  /** A named thing (file, registry entry, tap) does not exist. */
  notFound: 'not-found',
  /** The request is valid but this build or engine cannot do it. */
  unsupported: 'unsupported',
  /** An engine could not be loaded on this machine. */
  engineUnavailable: 'engine-unavailable',
  /** Some units of a long run failed; the rest finished and are kept (rerun to retry them). */
  incomplete: 'incomplete',
  /** The service is at capacity (its queue is full); the same request may succeed later. */
  overloaded: 'overloaded',
  /** An internal invariant failed: a bug in medrobust. */
  internal: 'internal',
} as const;

export type ErrorCode = (typeof errorCodes)[keyof typeof errorCodes];

export interface MedrobustErrorOptions {
  /** How to fix it, addressed to the user. */
  hint?: string;
  /** The underlying error, when this one wraps another. */
  cause?: unknown;
}

export class MedrobustError extends Error {
  override readonly name = 'MedrobustError';
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: MedrobustErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
  }

  /** The message followed by the hint, as a user should read it. */
  describe(): string {
    return this.hint === undefined ? this.message : `${this.message}\n  fix: ${this.hint}`;
  }
}

export function isMedrobustError(value: unknown): value is MedrobustError {
  return value instanceof MedrobustError;
}
