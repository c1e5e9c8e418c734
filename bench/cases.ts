/**
 * Runs benchmark cases each in a fresh process (`node --import tsx/esm SCRIPT CASE_JSON`), so one
 * case's engine, caches and memory peak do not leak into the next. Each script prints one JSON line;
 * a case that fails gives its spec with `imagesPerSecond: null` and the error's first line.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export async function runCases(
  script: string,
  cases: readonly object[],
  json: boolean,
): Promise<Record<string, unknown>[]> {
  const results: Record<string, unknown>[] = [];
  for (const entry of cases) {
    let result: Record<string, unknown>;
    try {
      const { stdout } = await run(
        process.execPath,
        ['--import', 'tsx/esm', join(import.meta.dirname, script), JSON.stringify(entry)],
        { maxBuffer: 1 << 20 },
      );
      result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
    } catch (error) {
      result = {
        ...entry,
        imagesPerSecond: null,
        error: error instanceof Error ? error.message.split('\n')[0] : String(error),
      };
    }
    results.push(result);
    if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else process.stderr.write('.');
  }
  if (!json) process.stderr.write('\n');
  return results;
}
