/**
 * NumPy `.npy` arrays and `.npz` archives (zip files of `.npy` members), read with fflate (unzip)
 * and npyjs (array parsing). npyjs neither transposes Fortran-order arrays nor keeps the byte-order
 * mark of the dtype, so this file reads the header's `descr` itself and rejects big-endian and
 * Fortran-order arrays with an error that says how to re-save them.
 */
import { unzipSync, zipSync } from 'fflate';
import { parse as parseNpy } from 'npyjs';
import { MedrobustError } from '../core/errors.ts';

export type NumericArray =
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;

export interface NdArray {
  /** NumPy dtype without the byte-order mark: `u1`, `f4`, `i8`, `U10`, ... */
  readonly dtype: string;
  readonly shape: readonly number[];
  /** Numbers in a typed array, or strings for unicode (`U`) arrays such as class names. */
  readonly data: NumericArray | readonly string[];
}

/** The members of an .npz archive, each parsed when first asked for. */
export interface NpzArchive {
  readonly names: readonly string[];
  has(name: string): boolean;
  /** The named array; a missing one is an error that lists the arrays present. */
  get(name: string): NdArray;
}

const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

function invalid(source: string, what: string, hint: string): never {
  throw new MedrobustError('invalid-data', `${source}: ${what}`, { hint });
}

/** The header dictionary of a .npy file (format versions 1–3). */
function npyHeader(bytes: Uint8Array, source: string): string {
  if (bytes.length < 10 || magic.some((value, index) => bytes[index] !== value)) {
    invalid(source, 'not a NumPy .npy array (bad magic bytes)', 'save arrays with numpy.save or numpy.savez');
  }
  const major = bytes[6] ?? 0;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const [length, start] =
    major === 1 ? [view.getUint16(8, true), 10] : [bytes.length >= 12 ? view.getUint32(8, true) : -1, 12];
  if (major < 1 || major > 3 || length < 0 || start + length > bytes.length) {
    invalid(
      source,
      `truncated or unsupported .npy header (version ${major})`,
      'the file is damaged; download or save it again',
    );
  }
  return new TextDecoder().decode(bytes.subarray(start, start + length));
}

export function readNpy(bytes: Uint8Array, source: string): NdArray {
  const header = npyHeader(bytes, source);
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
  if (descr === undefined)
    invalid(source, 'the .npy header has no dtype', 'the file is damaged; save it again');
  if (descr.startsWith('>')) {
    invalid(
      source,
      `big-endian dtype ${descr} is not supported`,
      "convert with numpy: a.astype(a.dtype.newbyteorder('<'))",
    );
  }
  if (/'fortran_order'\s*:\s*True/.test(header)) {
    invalid(
      source,
      'Fortran-order (column-major) arrays are not supported',
      'save with numpy.ascontiguousarray(a)',
    );
  }
  const supported = ['i1', 'u1', 'i2', 'u2', 'i4', 'u4', 'i8', 'u8', 'f4', 'f8', 'b1', 'U<n>'];
  const dtype = descr.replace(/^[<|=]/, '');
  if (!supported.includes(dtype) && !/^U\d+$/.test(dtype)) {
    invalid(
      source,
      `dtype ${descr} is not supported`,
      `store images and labels as one of ${supported.join(', ')}`,
    );
  }
  let parsed: ReturnType<typeof parseNpy>;
  try {
    const copy = bytes.slice().buffer;
    parsed = parseNpy(copy);
  } catch (error) {
    invalid(
      source,
      `cannot parse the array (${error instanceof Error ? error.message : String(error)})`,
      'the file is damaged; save it again',
    );
  }
  const count = parsed.shape.reduce((product, size) => product * size, 1);
  const data = parsed.data as unknown as NumericArray | string[];
  const length = ArrayBuffer.isView(data) || Array.isArray(data) ? data.length : -1;
  if (length !== count) {
    invalid(
      source,
      `array data holds ${Math.max(length, 0)} values but shape [${parsed.shape}] needs ${count}`,
      'the file is truncated; download it again',
    );
  }
  return { dtype: dtype === 'b1' ? 'u1' : dtype, shape: parsed.shape, data };
}

/** An .npz archive; arrays are named without the `.npy` suffix. */
export function readNpz(bytes: Uint8Array, source: string): NpzArchive {
  let members: Record<string, Uint8Array>;
  try {
    members = unzipSync(bytes);
  } catch (error) {
    invalid(
      source,
      `not a readable .npz (zip) archive (${error instanceof Error ? error.message : String(error)})`,
      'the file is truncated or damaged; download it again',
    );
  }
  const raw = new Map(
    Object.entries(members)
      .filter(([name]) => name.endsWith('.npy'))
      .map(([name, member]) => [name.slice(0, -4), member]),
  );
  const parsed = new Map<string, NdArray>();
  return {
    names: [...raw.keys()],
    has: (name) => raw.has(name),
    get(name) {
      const cached = parsed.get(name);
      if (cached !== undefined) return cached;
      const member = raw.get(name);
      if (member === undefined) {
        invalid(
          source,
          `has no array "${name}" (it holds: ${[...raw.keys()].join(', ') || 'nothing'})`,
          'check that this is the dataset file you meant',
        );
      }
      const array = readNpy(member, `${source}:${name}.npy`);
      parsed.set(name, array);
      return array;
    },
  };
}

export interface NpyArray {
  /** `f4` float32, `f8` float64, `i4` int32, `u1` uint8. */
  readonly dtype: 'f4' | 'f8' | 'i4' | 'u1';
  readonly shape: readonly number[];
  readonly data: Float32Array | Float64Array | Int32Array | Uint8Array;
}

/** One .npy file (format 1.0, little-endian, C order), as numpy.save writes it. */
export function writeNpy(array: NpyArray): Uint8Array {
  const shape = array.shape.length === 1 ? `(${array.shape[0]},)` : `(${array.shape.join(', ')})`;
  let header = `{'descr': '${array.dtype === 'u1' ? '|u1' : `<${array.dtype}`}', 'fortran_order': False, 'shape': ${shape}, }`;
  while ((10 + header.length + 1) % 64 !== 0) header += ' ';
  header += '\n';
  const body = new Uint8Array(array.data.buffer, array.data.byteOffset, array.data.byteLength);
  const out = new Uint8Array(10 + header.length + body.length);
  out.set([...magic, 1, 0], 0);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(body, 10 + header.length);
  return out;
}

/** An .npz archive (numpy.savez_compressed layout: one deflated .npy member per array). */
export function writeNpz(arrays: Readonly<Record<string, NpyArray>>): Uint8Array {
  return zipSync(
    Object.fromEntries(Object.entries(arrays).map(([name, array]) => [`${name}.npy`, writeNpy(array)])),
    {
      level: 6,
    },
  );
}
