/**
 * Error text for messages: whatever a parser or codec threw (an Error, a string, dicom-parser's
 * `{exception}` object, an Emscripten abort code) as one readable string. No DICOM semantics.
 */

/** A readable description of anything thrown: Errors, strings and dicom-parser's {exception}. */
export function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'string') return error;
  if (typeof error === 'object' && error !== null && 'exception' in error) return describe(error.exception);
  if (typeof error === 'number') return `codec error ${error}`;
  return String(error);
}
