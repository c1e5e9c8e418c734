#!/usr/bin/env node
// Builds the optional native engine (src/engine/torch, an N-API addon over Debian's libtorch-dev).
// Runs after `npm install`/`npm ci` and as `npm run build:torch`. It never fails the install: when
// libtorch is absent or the build fails, it says so in one line and records the reason in
// src/engine/torch/build/unavailable.txt, which `medrobust doctor` and `--engine torch` report.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const directory = join(root, 'src', 'engine', 'torch');
const build = join(directory, 'build');
const reasonFile = join(build, 'unavailable.txt');

const howTo =
  'to enable it: apt-get install libtorch-dev libopenblas0-pthread (as root), then npm run build:torch';

function skip(reason) {
  mkdirSync(build, { recursive: true });
  writeFileSync(reasonFile, `${reason}\n`);
  console.log(`medrobust: native engine (torch) not built: ${reason}; ${howTo}`);
  process.exit(0);
}

if (process.env.MEDROBUST_SKIP_TORCH === '1') skip('MEDROBUST_SKIP_TORCH=1 was set');
const header = '/usr/include/torch/csrc/api/include/torch/torch.h';
const library = [
  '/usr/lib/x86_64-linux-gnu/libtorch.so',
  '/usr/lib/aarch64-linux-gnu/libtorch.so',
  '/usr/lib/libtorch.so',
];
if (!existsSync(header) || !library.some((path) => existsSync(path))) {
  skip('libtorch-dev is not installed');
}

// Node's own headers: beside the node binary (official builds and Debian's nodejs both ship them),
// so node-gyp never downloads anything.
const candidates = [dirname(dirname(process.execPath)), '/usr', '/usr/local'];
const nodedir = candidates.find((candidate) => existsSync(join(candidate, 'include', 'node', 'node_api.h')));
if (nodedir === undefined)
  skip(`Node's headers (include/node/node_api.h) were not found beside ${process.execPath}`);

// node-gyp: on PATH inside npm scripts; otherwise the copy bundled with npm.
const bundled = join(
  dirname(process.execPath),
  '..',
  'lib',
  'node_modules',
  'npm',
  'node_modules',
  'node-gyp',
  'bin',
  'node-gyp.js',
);
const onPath = spawnSync('node-gyp', ['--version'], { stdio: 'ignore' }).status === 0;
const command = onPath ? 'node-gyp' : process.execPath;
const prefix = onPath ? [] : [bundled];
if (!onPath && !existsSync(bundled)) skip('node-gyp was not found (run `npm run build:torch`)');

rmSync(reasonFile, { force: true });
const started = Date.now();
console.log('medrobust: building the native engine (torch) against Debian libtorch, about a minute…');
const result = spawnSync(
  command,
  [...prefix, 'rebuild', `--nodedir=${nodedir}`, `--jobs=${process.env.JOBS ?? 'max'}`],
  {
    cwd: directory,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  },
);
if (result.status !== 0) {
  mkdirSync(build, { recursive: true });
  writeFileSync(join(build, 'build-error.log'), `${result.stdout ?? ''}\n${result.stderr ?? ''}`);
  skip('the addon failed to compile (the compiler output is in src/engine/torch/build/build-error.log)');
}
console.log(`medrobust: native engine built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
