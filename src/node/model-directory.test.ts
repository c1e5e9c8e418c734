import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activate, images, maxRelativeDifference } from '../../test/support/engines.ts';
import { MedrobustError } from '../core/errors.ts';
import type { Engine } from '../engine/contracts.ts';
import { buildModel, createModel } from '../models/model.ts';
import { loadModel, readModelDirectory, writeModelDirectory } from './model-directory.ts';

describe('model directories', () => {
  let root: string;
  let engine: Engine;
  const architecture = { arch: 'resnet18', classes: 2, channels: 1, size: 16, width: 0.25 } as const;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'medrobust-model-'));
    engine = await activate('wasm');
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  async function writeFresh(name: string, seed = 3) {
    const { manifest, weights } = createModel({ architecture, seed, classNames: ['normal', 'pneumonia'] });
    const directory = join(root, name);
    await writeModelDirectory(directory, manifest, weights);
    return { directory, manifest, weights };
  }

  it('round-trips manifest and weights, and the loaded model predicts identically', async () => {
    const { directory, manifest, weights } = await writeFresh('round-trip');
    const read = await readModelDirectory(directory);
    expect(read.manifest).toEqual(manifest);
    for (const [name, tensor] of weights) expect(read.weights.get(name)).toEqual(tensor);
    const original = buildModel(engine, manifest, weights);
    const loaded = await loadModel(directory, engine);
    const x = images(2, 16, 1);
    const a = tf.tidy(() => original.classifier.predict(x).logits.dataSync());
    const b = tf.tidy(() => loaded.classifier.predict(x).logits.dataSync());
    expect(maxRelativeDifference(b, a)).toBe(0);
    expect(loaded.classifier.info).toMatchObject({
      classNames: ['normal', 'pneumonia'],
      inputShape: [16, 16, 1],
    });
    x.dispose();
    original.network.dispose();
    loaded.network.dispose();
  });

  it('initialisation is seeded: same seed, same weights; other seed, other weights', () => {
    const a = createModel({ architecture, seed: 1 }).weights.get('conv1.weight')?.data;
    const b = createModel({ architecture, seed: 1 }).weights.get('conv1.weight')?.data;
    const c = createModel({ architecture, seed: 2 }).weights.get('conv1.weight')?.data;
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  async function expectFailure(directory: string, code: string, message: RegExp, hint: RegExp) {
    const error = await readModelDirectory(directory).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(MedrobustError);
    expect((error as MedrobustError).code).toBe(code);
    expect((error as MedrobustError).message).toMatch(message);
    expect((error as MedrobustError).hint).toMatch(hint);
  }

  it('names a missing directory, manifest or weights file and says how to fix it', async () => {
    await expectFailure(join(root, 'nowhere'), 'not-found', /nowhere: no such model directory/, /model init/);
    const { directory } = await writeFresh('no-weights');
    await rm(join(directory, 'model.safetensors'));
    await expectFailure(
      directory,
      'not-found',
      /model\.safetensors: the weights file is missing/,
      /docs\/weights\.md/,
    );
    const other = await writeFresh('no-manifest');
    await rm(join(other.directory, 'model.json'));
    await expectFailure(
      other.directory,
      'not-found',
      /model\.json: the model manifest is missing/,
      /model init/,
    );
  });

  it('rejects a manifest that is not JSON, names an unknown architecture, or contradicts itself', async () => {
    const { directory } = await writeFresh('bad-manifest');
    const manifestPath = join(directory, 'model.json');
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
    await writeFile(manifestPath, '{"format": "medrobust-model",');
    await expectFailure(directory, 'invalid-model', /model\.json: not valid JSON/, /model init/);
    await writeFile(
      manifestPath,
      JSON.stringify({ ...manifest, architecture: { ...manifest.architecture, arch: 'densenet121' } }),
    );
    await expectFailure(
      directory,
      'invalid-model',
      /model\.json: invalid model manifest[\s\S]*architecture\.arch/,
      /model init/,
    );
    await writeFile(manifestPath, JSON.stringify({ ...manifest, classNames: ['only one'] }));
    await expectFailure(directory, 'invalid-model', /classNames/, /model init/);
    await writeFile(manifestPath, JSON.stringify({ ...manifest, classNames: ['a', 'b', 'c'] }));
    await expectFailure(
      directory,
      'invalid-model',
      /3 class names for 2 classes/,
      /one name per output class/,
    );
  });

  it('rejects weights of the wrong shapes, listing what differs', async () => {
    const { directory, manifest } = await writeFresh('wrong-shapes');
    // Weights of a 3-class, width-0.5 network under a 2-class, width-0.25 manifest.
    const other = createModel({ architecture: { ...architecture, classes: 3, width: 0.5 }, seed: 1 });
    await writeFile(
      join(directory, 'model.json'),
      JSON.stringify({ ...manifest, architecture: other.manifest.architecture, classNames: ['a', 'b', 'c'] }),
    );
    await writeModelDirectory(join(root, 'donor'), other.manifest, other.weights);
    await writeFile(join(directory, 'model.json'), JSON.stringify(manifest));
    await writeFile(
      join(directory, 'model.safetensors'),
      await readFile(join(root, 'donor', 'model.safetensors')),
    );
    await expectFailure(
      directory,
      'invalid-model',
      /model\.safetensors: weights do not match the architecture[\s\S]*wrong shape \(\d+\): conv1\.weight: expected \[16, 1, 3, 3\], got \[32, 1, 3, 3\]/,
      /describes the network these weights came from/,
    );
  });

  it('rejects a corrupt safetensors header', async () => {
    const { directory } = await writeFresh('corrupt');
    const path = join(directory, 'model.safetensors');
    const bytes = await readFile(path);
    bytes.fill(0x20, 8, 24);
    bytes[8] = 0x5b; // '[': the header is no longer a JSON object
    await writeFile(path, bytes);
    await expectFailure(
      directory,
      'invalid-model',
      /model\.safetensors: not a valid safetensors file/,
      /truncated or not safetensors/,
    );
  });
});
