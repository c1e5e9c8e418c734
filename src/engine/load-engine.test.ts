import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');

describe('loading the wasm engine', () => {
  it('leaves crash reports readable: no rethrowing listeners from the Emscripten glue stay installed', async () => {
    const script = `
      const { loadEngine } = await import(${JSON.stringify(join(root, 'src/engine/load-engine.ts'))});
      const before = process.listenerCount('uncaughtException') + process.listenerCount('unhandledRejection');
      await loadEngine('wasm');
      const after = process.listenerCount('uncaughtException') + process.listenerCount('unhandledRejection');
      console.log(JSON.stringify({ before, after }));
      setTimeout(() => { throw new Error('a later crash'); }, 10);`;
    const result = await run(
      process.execPath,
      ['--import', 'tsx/esm', '--input-type=module', '--eval', script],
      { cwd: root },
    ).then(
      () => undefined,
      (error: { stdout: string; stderr: string; code: number }) => error,
    );
    expect(result?.code).not.toBe(0);
    const counts = JSON.parse(result?.stdout.trim().split('\n').at(-1) ?? '{}');
    expect(counts.after).toBe(counts.before);
    expect(result?.stderr).toContain('Error: a later crash');
    expect(result?.stderr).not.toContain('GROWABLE_HEAP');
    expect(result?.stderr.length).toBeLessThan(4000);
  });

  it('the CLI exits quietly when its output pipe closes early', async () => {
    const { stdout } = await run('bash', [
      '-c',
      `node ${join(root, 'bin/medrobust.js')} doctor | head -c 10; echo " rc=\${PIPESTATUS[0]}"`,
    ]);
    expect(stdout).toMatch(/ rc=0$/m);
  });
});
