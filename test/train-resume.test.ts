/**
 * Kill a training run with SIGKILL after its second epoch's checkpoint, resume it, and compare with
 * an uninterrupted run of the same seed: the final and the best weights must be byte-identical.
 * Data: synthetic chest X-ray phantoms in the MedMNIST layout (16 px, 96/32 images); Adam, a cosine
 * schedule and the paper's augmentation, so every piece of training state must survive the kill.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatePhantoms } from '../src/data/phantoms/index.ts';
import { npyBytes } from './support/data.ts';

const run = promisify(execFile);
const binary = join(import.meta.dirname, '..', 'bin', 'medrobust.js');

function splitArrays(split: string, count: number, seed: number): Record<string, Uint8Array> {
  const set = generatePhantoms({ kind: 'chest-xray', count, size: 16, seed });
  const pixels = Uint8Array.from(set.images, (value) => Math.round(value * 255));
  return {
    [`${split}_images.npy`]: npyBytes('|u1', [count, 16, 16], pixels),
    [`${split}_labels.npy`]: npyBytes('|u1', [count, 1], Uint8Array.from(set.labels)),
  };
}

describe('medrobust train --resume', () => {
  let root: string;
  let data: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'medrobust-resume-'));
    data = join(root, 'phantom-chest.npz');
    await writeFile(data, zipSync({ ...splitArrays('train', 96, 1), ...splitArrays('val', 32, 2) }));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const baseArgs = (out: string) => [
    binary,
    'train',
    '--data',
    data,
    '--arch',
    'small-cnn',
    '--width',
    '0.25',
    '--head',
    'paper',
    '--epochs',
    '4',
    '--batch',
    '16',
    '--optimizer',
    'adam',
    '--schedule',
    'cosine',
    '--augment',
    'paper',
    '--seed',
    '3',
    '--out',
    out,
  ];

  it.each([
    ['standard', []],
    ['PGD adversarial', ['--adversarial', 'pgd', '--eps', '4/255', '--steps', '2', '--warmup', '2']],
  ])(
    '%s training: the same weights after a SIGKILL and --resume as an uninterrupted run',
    async (name, extra) => {
      const args = (out: string) => [...baseArgs(out), ...extra];
      const whole = join(root, `whole-${name}`);
      await run(process.execPath, args(whole));
      const killed = join(root, `killed-${name}`);
      const child: ChildProcess = spawn(process.execPath, args(killed), { stdio: 'ignore' });
      const marker = join(killed, 'checkpoint', 'epoch-0002', 'progress.json');
      const deadline = Date.now() + 60_000;
      while (!existsSync(marker) && Date.now() < deadline && child.exitCode === null) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      expect(
        existsSync(marker) || existsSync(join(killed, 'checkpoint', 'epoch-0003', 'progress.json')),
      ).toBe(true);
      const refused = await run(process.execPath, args(killed)).then(
        () => undefined,
        (error: { code: number; stderr: string }) => error,
      );
      expect(refused?.stderr).toMatch(/already holds a training run[\s\S]*--resume/);
      const resumed = await run(process.execPath, [...args(killed), '--resume']);
      expect(resumed.stdout).toMatch(/resumed after epoch [23]/);
      for (const file of [
        'checkpoint/epoch-0004/model.safetensors',
        'checkpoint/epoch-0004/training-state.safetensors',
        'model.safetensors',
      ]) {
        expect(
          Buffer.compare(await readFile(join(killed, file)), await readFile(join(whole, file))),
          file,
        ).toBe(0);
      }
      const otherSettings = await run(process.execPath, [
        ...args(killed).map((a) => (a === '0.25' ? '0.5' : a)),
        '--resume',
      ]).then(
        () => undefined,
        (error: { stderr: string }) => error,
      );
      expect(otherSettings?.stderr).toMatch(/written with other training settings/);
    },
    120_000,
  );
});
