import { readFileSync } from 'node:fs';
import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { cifarPath, hasSharedData, npyBytes, pneumoniaPath } from '../../test/support/data.ts';
import { MedrobustError } from '../core/errors.ts';
import { readMedmnistSplit } from './medmnist.ts';
import { readNpy, readNpz } from './npz.ts';

describe('npy and npz', () => {
  it('reads a hand-made little-endian float32 array', () => {
    const values = new Float32Array([1.5, -2, 0.25, 8]);
    const array = readNpy(npyBytes('<f4', [2, 2], new Uint8Array(values.buffer)), 'a.npy');
    expect(array).toEqual({ dtype: 'f4', shape: [2, 2], data: values });
  });

  it.each([
    ['big-endian', npyBytes('>f4', [1], new Uint8Array(4)), /big-endian dtype >f4/, /newbyteorder/],
    [
      'Fortran order',
      npyBytes('<f4', [2, 2], new Uint8Array(16), true),
      /Fortran-order/,
      /ascontiguousarray/,
    ],
    ['complex', npyBytes('<c8', [1], new Uint8Array(8)), /dtype <c8 is not supported/, /one of/],
    ['truncated data', npyBytes('<f4', [4], new Uint8Array(8)), /array data|cannot parse/, /download|save/],
    ['no magic', new Uint8Array(20), /bad magic bytes/, /numpy\.save/],
  ])('rejects %s arrays saying how to re-save them', (_, bytes, message, hint) => {
    const error = (() => {
      try {
        readNpy(bytes, 'x.npy');
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(MedrobustError);
    expect((error as MedrobustError).message).toMatch(message);
    expect((error as MedrobustError).hint).toMatch(hint);
  });

  it('lists the arrays present when one is missing, and rejects a damaged zip', () => {
    const archive = readNpz(
      zipSync({ 'x.npy': npyBytes('|u1', [3], new Uint8Array([1, 2, 3])) }),
      'small.npz',
    );
    expect(archive.names).toEqual(['x']);
    expect(() => archive.get('y')).toThrowError(/small\.npz: has no array "y" \(it holds: x\)/);
    expect(() => readNpz(new Uint8Array([0x50, 0x4b, 3, 4, 9, 9]), 'bad.npz')).toThrowError(
      /bad\.npz: not a readable \.npz/,
    );
  });

  it.skipIf(!hasSharedData)(
    'reads the real PneumoniaMNIST test split (624 images: 234 normal, 390 pneumonia)',
    () => {
      const set = readMedmnistSplit(
        readNpz(readFileSync(pneumoniaPath), pneumoniaPath),
        'test',
        pneumoniaPath,
      );
      expect(set.shape).toEqual([624, 28, 28, 1]);
      expect(set.classNames).toEqual(['normal', 'pneumonia']);
      expect(set.labels.filter((label) => label === 0).length).toBe(234);
      expect(set.labels.filter((label) => label === 1).length).toBe(390);
      expect(Math.min(...set.images.subarray(0, 784 * 10))).toBeGreaterThanOrEqual(0);
      expect(Math.max(...set.images.subarray(0, 784 * 10))).toBeLessThanOrEqual(1);
    },
  );

  it.skipIf(!hasSharedData)('reads CIFAR-10 class names stored as a unicode array', () => {
    const archive = readNpz(readFileSync(cifarPath), cifarPath);
    expect(archive.get('classes').data).toEqual([
      'airplane',
      'automobile',
      'bird',
      'cat',
      'deer',
      'dog',
      'frog',
      'horse',
      'ship',
      'truck',
    ]);
    expect(archive.get('x_test').shape).toEqual([10000, 32, 32, 3]);
  });
});
