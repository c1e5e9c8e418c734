/**
 * A fitted detector on disk: `detector.json` (its state, with every numeric array replaced by a
 * reference `{"$array": "name"}`) and `arrays.npz` (those arrays, float64 / float32 / int32), so a
 * detector holding thousands of reference features stays small and exact. The server and
 * `medrobust detect` load it back with the model it was fitted on.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MedrobustError } from '../core/errors.ts';
import { type NpyArray, readNpz, writeNpz } from '../data/npz.ts';
import type { DetectorState, DetectorStateValue } from '../detectors/detector.ts';

type Encoded = number | string | boolean | null | Encoded[] | { [key: string]: Encoded };

function encode(value: unknown, arrays: Record<string, NpyArray>): Encoded {
  if (value instanceof Float64Array || value instanceof Float32Array || value instanceof Int32Array) {
    const name = `a${Object.keys(arrays).length}`;
    arrays[name] = {
      dtype: value instanceof Float64Array ? 'f8' : value instanceof Float32Array ? 'f4' : 'i4',
      shape: [value.length],
      data: value,
    };
    return { $array: name };
  }
  if (Array.isArray(value)) return value.map((item) => encode(item, arrays));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, encode(item, arrays)]));
  }
  return value as Encoded;
}

function decode(value: unknown, arrays: ReturnType<typeof readNpz>, source: string): DetectorStateValue {
  if (Array.isArray(value)) return value.map((item) => decode(item, arrays, source));
  if (value !== null && typeof value === 'object') {
    const reference = (value as { $array?: unknown }).$array;
    if (typeof reference === 'string') {
      const array = arrays.get(reference);
      const data = array.data;
      if (data instanceof Float64Array || data instanceof Float32Array || data instanceof Int32Array)
        return data;
      throw new MedrobustError(
        'invalid-model',
        `${source}: array ${reference} has unexpected type ${array.dtype}`,
        {
          hint: 'save the detector again with medrobust detect',
        },
      );
    }
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, decode(item, arrays, source)]),
    );
  }
  return value as DetectorStateValue;
}

export async function saveDetector(directory: string, state: DetectorState): Promise<void> {
  await mkdir(directory, { recursive: true });
  const arrays: Record<string, NpyArray> = {};
  const encoded = encode(state, arrays);
  await writeFile(join(directory, 'arrays.npz'), writeNpz(arrays));
  await writeFile(join(directory, 'detector.json'), `${JSON.stringify(encoded, null, 2)}\n`);
}

export async function loadDetectorState(directory: string): Promise<DetectorState> {
  const jsonPath = join(directory, 'detector.json');
  const arraysPath = join(directory, 'arrays.npz');
  if (!existsSync(jsonPath) || !existsSync(arraysPath)) {
    throw new MedrobustError(
      'not-found',
      `${directory} is not a detector directory (detector.json and arrays.npz)`,
      {
        hint: 'give a folder written by `medrobust detect --out DIR` (DIR/detectors/<detector>-<attack>)',
      },
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(jsonPath, 'utf8'));
  } catch (error) {
    throw new MedrobustError('invalid-model', `${jsonPath} is not valid JSON`, {
      hint: 'save the detector again with medrobust detect',
      cause: error,
    });
  }
  const state = decode(
    parsed,
    readNpz(await readFile(arraysPath), arraysPath),
    jsonPath,
  ) as unknown as DetectorState;
  if (
    state === null ||
    typeof state !== 'object' ||
    state.format !== 'medrobust-detector' ||
    state.version !== 1
  ) {
    throw new MedrobustError('invalid-model', `${jsonPath} is not a medrobust detector (version 1)`, {
      hint: 'save the detector again with medrobust detect',
    });
  }
  return state;
}
