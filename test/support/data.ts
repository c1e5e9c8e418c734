/**
 * Paths to the real datasets in ../shared/data (never copied into the repository) and helpers to
 * write small NumPy fixtures by hand.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const sharedData = resolve(import.meta.dirname, '..', '..', '..', 'shared', 'data');
export const pneumoniaPath = join(sharedData, 'medmnist', 'pneumoniamnist.npz');
export const breastPath = join(sharedData, 'medmnist', 'breastmnist.npz');
export const cifarPath = join(sharedData, 'natural', 'cifar10_test.npz');
export const hasSharedData = existsSync(pneumoniaPath) && existsSync(breastPath);

/** A version-1 .npy file: magic, version, header length, the header dict padded to 64 bytes, data. */
export function npyBytes(descr: string, shape: number[], data: Uint8Array, fortranOrder = false): Uint8Array {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': ${fortranOrder ? 'True' : 'False'}, 'shape': ${shapeText}, }`;
  while ((10 + header.length + 1) % 64 !== 0) header += ' ';
  header += '\n';
  const out = new Uint8Array(10 + header.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(data, 10 + header.length);
  return out;
}

/** An unsigned-byte IDX file: magic 0x00000800 | type 0x08 | rank, big-endian dimensions, data. */
export function idxBytes(shape: number[], data: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(4 + 4 * shape.length + data.length);
  const view = new DataView(out.buffer);
  out.set([0, 0, 0x08, shape.length], 0);
  shape.forEach((size, axis) => {
    view.setUint32(4 + 4 * axis, size, false);
  });
  out.set(Array.from(data), 4 + 4 * shape.length);
  return out;
}
