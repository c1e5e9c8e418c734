/**
 * A small trained model with two fitted detectors, for the server's tests: a small CNN trained for
 * 8 epochs on the shipped BreastMNIST (data/breastmnist.npz) and KD + DFeat fitted against PGD-5 at
 * ε = 8/255, all through the CLI on the wasm engine (about 45 s on 2 cores).
 */
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const projectRoot = resolve(import.meta.dirname, '..', '..');
export const shippedData = join(projectRoot, 'data', 'breastmnist.npz');
const binary = join(projectRoot, 'bin', 'medrobust.js');

export interface ServerFixture {
  readonly model: string;
  /** The detectors/ folder holding dfeat-pgd and kd-pgd. */
  readonly detectors: string;
}

export async function buildServerFixture(root: string): Promise<ServerFixture> {
  const model = join(root, 'model');
  const detect = join(root, 'detect');
  const cli = (args: string[]) => run(process.execPath, [binary, ...args], { cwd: root, maxBuffer: 1 << 24 });
  await cli([
    'train',
    '--data',
    shippedData,
    '--out',
    model,
    '--epochs',
    '8',
    '--engine',
    'wasm',
    '--seed',
    '0',
  ]);
  await cli([
    'detect',
    '--model',
    model,
    '--data',
    shippedData,
    '--attack',
    'pgd',
    '--eps',
    '8/255',
    '--options',
    '{"pgd":{"steps":5}}',
    '--detectors',
    'kd,dfeat',
    '--protocol',
    'grouped',
    '--reference',
    '300',
    '--engine',
    'wasm',
    '--out',
    detect,
  ]);
  return { model, detectors: join(detect, 'detectors') };
}
