/**
 * Model directories on disk: `model.json` (the manifest) + `model.safetensors` (the weights).
 * Node-only (file system), so it lives under src/node and is used by the CLI and the server.
 * Writes go to a temporary file first and are renamed into place, so a crash never leaves a
 * half-written model behind.
 */
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MedrobustError } from '../core/errors.ts';
import type { BuildOptions, Engine } from '../engine/contracts.ts';
import { checkWeights, type WeightMap } from '../engine/weights.ts';
import {
  buildModel,
  type LoadedModel,
  type ModelManifest,
  networkSpecOf,
  parseModelManifest,
} from '../models/model.ts';
import { parseSafetensors, serializeSafetensors } from '../models/safetensors.ts';

export const manifestFileName = 'model.json';
export const weightsFileName = 'model.safetensors';

async function writeAtomically(path: string, contents: string | Uint8Array): Promise<void> {
  const temporary = `${path}.tmp-${process.pid}`;
  await writeFile(temporary, contents);
  await rename(temporary, path);
}

export async function writeModelDirectory(
  directory: string,
  manifest: ModelManifest,
  weights: WeightMap,
): Promise<void> {
  checkWeights(networkSpecOf(manifest), weights, manifest.name);
  await mkdir(directory, { recursive: true });
  await writeAtomically(
    join(directory, weightsFileName),
    serializeSafetensors(weights, { format: 'pt', producer: 'medrobust', model: manifest.name }),
  );
  await writeAtomically(join(directory, manifestFileName), `${JSON.stringify(manifest, null, 2)}\n`);
}

async function readRequired(path: string, what: string, fix: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new MedrobustError(
      code === 'ENOENT' ? 'not-found' : 'invalid-model',
      code === 'ENOENT'
        ? `${path}: ${what} is missing`
        : `${path}: cannot read ${what} (${code ?? String(error)})`,
      { hint: fix, cause: error },
    );
  }
}

export async function readModelDirectory(
  directory: string,
): Promise<{ manifest: ModelManifest; weights: WeightMap }> {
  const info = await stat(directory).catch(() => undefined);
  if (info === undefined || !info.isDirectory()) {
    throw new MedrobustError('not-found', `${directory}: no such model directory`, {
      hint: 'pass a directory written by `medrobust model init` or `medrobust train` (it holds model.json and model.safetensors)',
    });
  }
  const manifestPath = join(directory, manifestFileName);
  const manifestText = await readRequired(
    manifestPath,
    'the model manifest',
    'a model directory needs model.json; create one with `medrobust model init --out DIR`',
  );
  let json: unknown;
  try {
    json = JSON.parse(manifestText.toString('utf8'));
  } catch (error) {
    throw new MedrobustError(
      'invalid-model',
      `${manifestPath}: not valid JSON (${(error as Error).message})`,
      {
        hint: 'restore model.json from the run that wrote it, or re-create it with `medrobust model init`',
      },
    );
  }
  const manifest = parseModelManifest(json, manifestPath);
  const weightsPath = join(directory, weightsFileName);
  const bytes = await readRequired(
    weightsPath,
    'the weights file',
    'a model directory needs model.safetensors next to model.json; docs/weights.md shows how to export one from PyTorch',
  );
  const { tensors } = parseSafetensors(
    new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    weightsPath,
  );
  checkWeights(networkSpecOf(manifest), tensors, weightsPath);
  return { manifest, weights: tensors };
}

export async function loadModel(
  directory: string,
  engine: Engine,
  options?: BuildOptions,
): Promise<LoadedModel> {
  const { manifest, weights } = await readModelDirectory(directory);
  return buildModel(engine, manifest, weights, options);
}
