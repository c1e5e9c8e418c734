/**
 * `medrobust doctor`: which engines load on this machine, and why not.
 */
import { Command } from '@commander-js/extra-typings';
import { engineNames, loadEngine, nativeEngineStatus } from '../../src/engine/load-engine.ts';
import { defaultCacheDirectory } from '../../src/node/fetch-dataset.ts';
import { describeError } from '../errors.ts';

export function doctorCommand(): Command {
  return new Command('doctor').description('show which engines load here, and why not').action(async () => {
    process.stdout.write(`node ${process.version}, ${process.platform}/${process.arch}\n`);
    process.stdout.write(`datasets cache ${defaultCacheDirectory()} (set MEDROBUST_CACHE to move it)\n`);
    const native = nativeEngineStatus();
    process.stdout.write(`engine auto   → ${native.available ? 'torch' : 'wasm'}\n`);
    for (const name of engineNames.filter((candidate) => candidate !== 'auto')) {
      try {
        const engine = await loadEngine(name);
        const details = Object.entries(engine.describe())
          .map(([key, value]) => `${key}=${value}`)
          .join(' ');
        process.stdout.write(`engine ${name.padEnd(6)} ok        ${details}\n`);
      } catch (error) {
        process.stdout.write(`engine ${name.padEnd(6)} unavailable: ${describeError(error)}\n`);
      }
    }
  });
}
