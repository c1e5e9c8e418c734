/**
 * Fuzzing every file reader with truncated and bit-flipped copies of real fixtures (seeded): each
 * case must either read or fail with a MedrobustError (a message naming the file and a fix); a
 * TypeError, RangeError or any other raw exception is a bug.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync, zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { isMedrobustError } from '../src/core/errors.ts';
import { Random } from '../src/core/random.ts';
import { isCifarArchive, readCifarSplit } from '../src/data/cifar.ts';
import { dicomToUnitImage, readDicom } from '../src/data/dicom/index.ts';
import { idxImageSet, readIdx } from '../src/data/idx.ts';
import { isMedmnistArchive, medmnistSplits, readMedmnistSplit } from '../src/data/medmnist.ts';
import { readNpz } from '../src/data/npz.ts';
import { createModel } from '../src/models/model.ts';
import { parseSafetensors, serializeSafetensors } from '../src/models/safetensors.ts';
import { breastPath, hasSharedData, idxBytes, npyBytes } from './support/data.ts';

/** Truncations at random lengths and copies with 1–8 random bytes flipped. */
function* mutations(bytes: Uint8Array, cases: number, seed: number): Generator<Uint8Array> {
  const random = new Random(seed);
  for (let i = 0; i < cases; i++) {
    if (i % 2 === 0) {
      yield bytes.slice(0, random.integer(bytes.length));
    } else {
      const copy = bytes.slice();
      const flips = 1 + random.integer(8);
      // Bias flips towards the headers, where parsers make their decisions.
      for (let f = 0; f < flips; f++) {
        const position =
          random.uniform() < 0.7 ? random.integer(Math.min(copy.length, 512)) : random.integer(copy.length);
        copy[position] = (copy[position] ?? 0) ^ (1 << random.integer(8));
      }
      yield copy;
    }
  }
}

function survives(read: (bytes: Uint8Array) => unknown, bytes: Uint8Array): string | undefined {
  try {
    read(bytes);
    return undefined;
  } catch (error) {
    if (isMedrobustError(error)) return undefined;
    return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  }
}

function readDataset(bytes: Uint8Array): void {
  const archive = readNpz(bytes, 'fuzz.npz');
  if (isMedmnistArchive(archive))
    for (const split of medmnistSplits(archive)) readMedmnistSplit(archive, split, 'fuzz.npz');
  if (isCifarArchive(archive)) readCifarSplit(archive, 'test', 'fuzz.npz');
}

function expectOnlyClearErrors(
  name: string,
  read: (bytes: Uint8Array) => unknown,
  fixture: Uint8Array,
  cases: number,
): void {
  const raw: string[] = [];
  for (const bytes of mutations(fixture, cases, name.length)) {
    const failure = survives(read, bytes);
    if (failure !== undefined) raw.push(failure);
  }
  expect(raw, `${name}: raw exceptions`).toEqual([]);
}

describe('fuzzing the readers', () => {
  it('MedMNIST and CIFAR-style .npz readers (small synthetic archives, 300 cases)', () => {
    const images = npyBytes(
      '|u1',
      [4, 8, 8],
      Uint8Array.from({ length: 256 }, (_, i) => i),
    );
    const labels = npyBytes('|u1', [4, 1], Uint8Array.from([0, 1, 1, 0]));
    const medmnist = zipSync({ 'test_images.npy': images, 'test_labels.npy': labels }, { level: 0 });
    expectOnlyClearErrors('medmnist', readDataset, medmnist, 200);
    const cifar = zipSync(
      {
        'x_test.npy': npyBytes('|u1', [2, 4, 4, 3], new Uint8Array(96).fill(7)),
        'y_test.npy': npyBytes('|u1', [2], Uint8Array.from([3, 1])),
      },
      { level: 6 },
    );
    expectOnlyClearErrors('cifar', readDataset, cifar, 100);
  });

  it.skipIf(!hasSharedData)('the real BreastMNIST file (60 cases)', () => {
    expectOnlyClearErrors('breastmnist', readDataset, new Uint8Array(readFileSync(breastPath)), 60);
  });

  it('IDX images and labels, plain and gzipped (200 cases)', () => {
    const idx = idxBytes([2, 3, 3], new Uint8Array(18));
    const read = (bytes: Uint8Array) => {
      const images = readIdx(bytes, 'fuzz-idx');
      if (images.shape.length === 3)
        idxImageSet(
          images,
          { shape: [images.shape[0] ?? 0], data: new Uint8Array(images.shape[0] ?? 0) },
          'fuzz',
        );
    };
    expectOnlyClearErrors('idx', read, idx, 100);
    expectOnlyClearErrors('idx.gz', read, gzipSync(idx), 100);
  });

  it('safetensors weights of a small model (200 cases)', () => {
    const { weights } = createModel({
      architecture: { arch: 'small-cnn', classes: 2, channels: 1, size: 8, width: 0.125 },
    });
    const bytes = serializeSafetensors(weights, { format: 'pt' });
    expectOnlyClearErrors('safetensors', (b) => parseSafetensors(b, 'fuzz.safetensors'), bytes, 200);
  });
});

const pydicomSamples = '/usr/lib/python3/dist-packages/pydicom/data/test_files';

describe('fuzzing the DICOM reader', () => {
  it.skipIf(!existsSync(pydicomSamples))(
    'uncompressed, RLE, deflate, JPEG-LS and JPEG 2000 samples from pydicom (40 cases each)',
    async () => {
      const raw: string[] = [];
      for (const name of [
        'CT_small.dcm',
        'MR_small_RLE.dcm',
        'image_dfl.dcm',
        'MR_small_jpeg_ls_lossless.dcm',
        'JPEG2000.dcm',
      ]) {
        const fixture = new Uint8Array(readFileSync(join(pydicomSamples, name)));
        for (const bytes of mutations(fixture, 40, name.length)) {
          try {
            const image = await readDicom(bytes, name);
            dicomToUnitImage(image);
          } catch (error) {
            if (!isMedrobustError(error))
              raw.push(
                `${name}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
              );
          }
        }
      }
      expect(raw).toEqual([]);
    },
    60_000,
  );
});
