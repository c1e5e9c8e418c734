/**
 * `medrobust doctor`: what this machine gives medrobust. Versions (medrobust, Node, tfjs, libtorch,
 * SQLite, sharp), cores and threads, which engines load (and why not), the datasets cache and the
 * shipped demo dataset, and whether Debian's chromium is there for the report and web-page tests.
 */

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { Command } from '@commander-js/extra-typings';
import Database from 'better-sqlite3';
import { engineNames, loadEngine, nativeEngineStatus } from '../../src/engine/load-engine.ts';
import { defaultCacheDirectory } from '../../src/node/fetch-dataset.ts';
import { describeError } from '../errors.ts';
import { toolVersion } from '../run/runner.ts';

const require = createRequire(import.meta.url);
const projectRoot = resolve(import.meta.dirname, '..', '..');
const chromiumPaths = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

function packageVersion(name: string): string {
  try {
    const path = require.resolve(`${name}/package.json`, { paths: [projectRoot] });
    return (require(path) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}

function sqliteVersion(): string {
  try {
    const database = new Database(':memory:');
    const row = database.prepare('SELECT sqlite_version() AS version').get() as { version: string };
    database.close();
    return row.version;
  } catch (error) {
    return `unavailable (${(error as Error).message})`;
  }
}

export function doctorCommand(): Command {
  return new Command('doctor')
    .description('show versions, threads, which engines load here (and why not), data and browser')
    .action(async () => {
      const write = (line: string) => process.stdout.write(`${line}\n`);
      write(`medrobust ${toolVersion()}, node ${process.version}, ${process.platform}/${process.arch}`);
      write(
        `versions  tfjs ${packageVersion('@tensorflow/tfjs-core')}, better-sqlite3 ${packageVersion('better-sqlite3')} (SQLite ${sqliteVersion()}), sharp ${packageVersion('sharp')}`,
      );
      write(`cores     ${availableParallelism()} (the wasm and torch engines use one thread per core)`);
      write(`datasets  cache ${defaultCacheDirectory()} (set MEDROBUST_CACHE to move it)`);
      const demoData = join(projectRoot, 'data', 'breastmnist.npz');
      write(`          demo dataset ${existsSync(demoData) ? demoData : 'missing (data/breastmnist.npz)'}`);
      const chromium = chromiumPaths.find((path) => existsSync(path));
      write(
        `browser   ${chromium === undefined ? 'no chromium (apt-get install chromium): the report and web-page browser tests skip' : `${chromium} (report and web-page tests)`}`,
      );
      const native = nativeEngineStatus();
      write(`engine auto   → ${native.available ? 'torch' : 'wasm'}`);
      for (const name of engineNames.filter((candidate) => candidate !== 'auto')) {
        try {
          const engine = await loadEngine(name);
          const details = Object.entries(engine.describe())
            .map(([key, value]) => `${key}=${value}`)
            .join(' ');
          write(`engine ${name.padEnd(6)} ok        ${details}`);
        } catch (error) {
          write(`engine ${name.padEnd(6)} unavailable: ${describeError(error)}`);
        }
      }
    });
}
