/**
 * Our weights are torchvision's, in both directions, checked against a real PyTorch
 * (test/python/torchvision_interop.py; docs/weights.md shows the same steps as snippets):
 * - torchvision → medrobust: a torchvision state_dict with random batch-norm statistics, saved as
 *   safetensors, loads into our network unchanged and gives torchvision's logits;
 * - medrobust → torchvision: a model directory we write loads with load_state_dict(strict=True)
 *   and gives our logits.
 * Needs Debian's python3-torchvision under /usr/bin/python3; skipped when it cannot be imported.
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Random } from '../src/core/random.ts';
import type { Engine } from '../src/engine/contracts.ts';
import { loadEngine } from '../src/engine/load-engine.ts';
import type { HostTensor, WeightMap } from '../src/engine/weights.ts';
import type { ArchitectureInput } from '../src/models/architecture.ts';
import { buildModel, createModel, type ModelManifest } from '../src/models/model.ts';
import { parseSafetensors, serializeSafetensors } from '../src/models/safetensors.ts';
import { writeModelDirectory } from '../src/node/model-directory.ts';

const python = '/usr/bin/python3';
const script = fileURLToPath(new URL('./python/torchvision_interop.py', import.meta.url));
const hasTorch = spawnSync(python, ['-c', 'import torchvision'], { stdio: 'ignore' }).status === 0;
const run = promisify(execFile);
const tolerance = 1e-4;

interface Case {
  readonly label: string;
  readonly architecture: ArchitectureInput & { stem: 'small' | 'imagenet' };
}

const cases: readonly Case[] = [
  {
    label: 'resnet18, 28 px, small stem, grey, 2 classes',
    architecture: { arch: 'resnet18', classes: 2, channels: 1, size: 28, stem: 'small' },
  },
  {
    label: 'resnet50, 64 px, imagenet stem, RGB, 3 classes',
    architecture: { arch: 'resnet50', classes: 3, channels: 3, size: 64, stem: 'imagenet' },
  },
  {
    label: 'small-cnn, 28 px, grey, 4 classes, paper head',
    architecture: { arch: 'small-cnn', classes: 4, channels: 1, size: 28, stem: 'small', head: 'paper' },
  },
];

function architectureArguments(architecture: Case['architecture']): string[] {
  return [
    '--arch',
    architecture.arch,
    '--classes',
    String(architecture.classes),
    '--channels',
    String(architecture.channels),
    '--size',
    String(architecture.size),
    '--stem',
    architecture.stem,
    '--head',
    architecture.head ?? 'linear',
  ];
}

async function interop(mode: 'export' | 'check', args: readonly string[]): Promise<string> {
  const { stdout } = await run(python, [script, mode, ...args], { maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

async function readTensors(path: string): Promise<WeightMap> {
  const bytes = await readFile(path);
  return parseSafetensors(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path).tensors;
}

function tensor(weights: WeightMap, name: string): HostTensor {
  const found = weights.get(name);
  if (found === undefined) throw new Error(`tensor "${name}" missing`);
  return found;
}

/** max |ours − reference| / max |reference| over all logits. */
function relativeDifference(ours: Float32Array, reference: ArrayLike<number>): number {
  expect(ours.length).toBe(reference.length);
  let difference = 0;
  let scale = 0;
  for (let i = 0; i < ours.length; i++) {
    const expected = reference[i] ?? Number.NaN;
    difference = Math.max(difference, Math.abs((ours[i] ?? Number.NaN) - expected));
    scale = Math.max(scale, Math.abs(expected));
  }
  expect(scale).toBeGreaterThan(0);
  return difference / scale;
}

function predictLogits(
  engine: Engine,
  manifest: ModelManifest,
  weights: WeightMap,
  input: HostTensor,
  foldBatchNorm: boolean,
): Float32Array {
  const { network, classifier } = buildModel(engine, manifest, weights, { foldBatchNorm });
  const x = tf.tensor4d(input.data, input.shape as [number, number, number, number]);
  try {
    const { logits } = classifier.predict(x);
    const values = logits.dataSync() as Float32Array;
    logits.dispose();
    return values;
  } finally {
    x.dispose();
    network.dispose();
  }
}

/** Batch-norm statistics and affine parameters away from their initial values, so folding matters. */
function perturbBatchNorm(weights: WeightMap, seed: number): WeightMap {
  const random = new Random(seed);
  const out = new Map<string, HostTensor>();
  for (const [name, value] of weights) {
    const count = value.data.length;
    const isNorm = weights.has(name.replace(/\.[a-z_]+$/, '.running_mean'));
    let data = value.data;
    if (isNorm && name.endsWith('.running_mean')) data = random.normalArray(count, 0.1);
    else if (isNorm && name.endsWith('.running_var')) data = random.uniformArray(count, 0.5, 1.5);
    else if (isNorm && name.endsWith('.weight')) data = random.uniformArray(count, 0.5, 1.5);
    else if (isNorm && name.endsWith('.bias')) data = random.normalArray(count, 0.1);
    else if (name.endsWith('.num_batches_tracked')) data = new Float32Array([17]);
    out.set(name, { shape: value.shape, data });
  }
  return out;
}

/** Everything one case needs; the Python runs start in beforeAll and overlap with our predictions. */
interface Prepared {
  readonly manifest: ModelManifest;
  /** torchvision → medrobust: `export` into this directory. */
  readonly exportDirectory: string;
  readonly exported: Promise<string>;
  /** medrobust → torchvision: our weights (batch-norm perturbed), input and the `check` run on them. */
  readonly weights: WeightMap;
  readonly input: HostTensor;
  readonly checked: Promise<string>;
}

/** Starts a Python run now; its failure surfaces where the test awaits it, never as an unhandled rejection. */
function started(promise: Promise<string>): Promise<string> {
  promise.catch(() => undefined);
  return promise;
}

async function prepare(root: string, index: number, architecture: Case['architecture']): Promise<Prepared> {
  const exportDirectory = join(root, `case-${index}`, 'from-torchvision');
  const exported = started(
    interop('export', [...architectureArguments(architecture), '--seed', '0', '--out', exportDirectory]),
  );
  const checkDirectory = join(root, `case-${index}`, 'to-torchvision');
  const created = createModel({ architecture, seed: 11 });
  const weights = perturbBatchNorm(created.weights, 12);
  await writeModelDirectory(checkDirectory, created.manifest, weights);
  const { size, channels } = architecture;
  const input: HostTensor = {
    shape: [3, size, size, channels],
    data: new Random(13).uniformArray(3 * size * size * channels, 0, 1),
  };
  await writeFile(join(checkDirectory, 'input.safetensors'), serializeSafetensors(new Map([['x', input]])));
  const checked = started(
    interop('check', [...architectureArguments(architecture), '--dir', checkDirectory]),
  );
  return { manifest: created.manifest, exportDirectory, exported, weights, input, checked };
}

describe.skipIf(!hasTorch)(
  `torchvision interop (needs torch and torchvision importable by ${python}; skipped otherwise)`,
  () => {
    let engine: Engine;
    let root: string | undefined;
    const prepared: Prepared[] = [];

    beforeAll(async () => {
      engine = await loadEngine('wasm');
      const directory = await mkdtemp(join(tmpdir(), 'medrobust-torchvision-'));
      root = directory;
      for (const [index, { architecture }] of cases.entries()) {
        prepared.push(await prepare(directory, index, architecture));
      }
    });

    afterAll(async () => {
      // Let every Python run finish before deleting the files it reads.
      await Promise.allSettled(prepared.flatMap((entry) => [entry.exported, entry.checked]));
      if (root !== undefined) await rm(root, { recursive: true, force: true });
    });

    describe.each(cases.map((entry, index) => ({ ...entry, index })))(
      '$label',
      ({ label, architecture, index }) => {
        const get = () => {
          const entry = prepared[index];
          if (entry === undefined) throw new Error(`case ${index} was not prepared`);
          return entry;
        };

        it('torchvision → medrobust: a torchvision state_dict gives torchvision’s logits', async () => {
          const { manifest, exportDirectory, exported } = get();
          await exported;
          const state = await readTensors(join(exportDirectory, 'state.safetensors'));
          const input = tensor(await readTensors(join(exportDirectory, 'input.safetensors')), 'x');
          const reference = tensor(await readTensors(join(exportDirectory, 'logits.safetensors')), 'logits');
          expect(input.shape).toEqual([3, architecture.size, architecture.size, architecture.channels]);
          expect(reference.shape).toEqual([3, architecture.classes]);
          // Folded batch norm is what inference uses; the unfolded graph is checked too where it is cheap.
          for (const foldBatchNorm of architecture.arch === 'small-cnn' ? [true, false] : [true]) {
            const difference = relativeDifference(
              predictLogits(engine, manifest, state, input, foldBatchNorm),
              reference.data,
            );
            console.info(
              `${label}, torchvision → medrobust (fold ${foldBatchNorm}): ${difference.toExponential(2)}`,
            );
            expect(difference).toBeLessThan(tolerance);
          }
        });

        it('medrobust → torchvision: our model directory loads with strict=True and gives our logits', async () => {
          const { manifest, weights, input, checked } = get();
          const printed = JSON.parse(await checked) as { logits: number[][] };
          expect(printed.logits).toHaveLength(3);
          const difference = relativeDifference(
            predictLogits(engine, manifest, weights, input, true),
            printed.logits.flat(),
          );
          console.info(`${label}, medrobust → torchvision: ${difference.toExponential(2)}`);
          expect(difference).toBeLessThan(tolerance);
        });
      },
    );
  },
);
