/**
 * IDX files, the format of MNIST and Fashion-MNIST (LeCun et al.; Xiao et al., "Fashion-MNIST",
 * 2017), gzipped or not: a big-endian magic number (two zero bytes, a type code, the number of
 * dimensions), one big-endian uint32 per dimension, then the data. Images are uint8 N×H×W; labels
 * uint8 N. Decompression by fflate.
 */
import { gunzipSync } from 'fflate';
import { MedrobustError } from '../core/errors.ts';
import type { ImageSet } from './image-set.ts';

const typeSizes: Readonly<Record<number, number>> = { 8: 1, 9: 1, 11: 2, 12: 4, 13: 4, 14: 8 };

export interface IdxArray {
  readonly shape: readonly number[];
  readonly data: Uint8Array;
}

function invalid(source: string, what: string): never {
  throw new MedrobustError('invalid-data', `${source}: ${what}`, {
    hint: 'IDX files are the MNIST/Fashion-MNIST format (e.g. train-images-idx3-ubyte.gz); download the file again',
  });
}

export function readIdx(raw: Uint8Array, source: string): IdxArray {
  let bytes = raw;
  if (raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      bytes = gunzipSync(raw);
    } catch (error) {
      invalid(source, `cannot decompress (${error instanceof Error ? error.message : String(error)})`);
    }
  }
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0)
    invalid(source, 'not an IDX file (bad magic number)');
  const type = bytes[2] ?? 0;
  const rank = bytes[3] ?? 0;
  if (type !== 0x08) {
    const known = typeSizes[type] !== undefined;
    throw new MedrobustError(
      known ? 'unsupported' : 'invalid-data',
      `${source}: IDX type 0x${type.toString(16)} is not supported`,
      {
        hint: 'medrobust reads unsigned-byte IDX files (type 0x08), as MNIST and Fashion-MNIST ship',
      },
    );
  }
  if (rank < 1 || bytes.length < 4 + 4 * rank) invalid(source, `truncated header (${rank} dimensions)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape = Array.from({ length: rank }, (_, axis) => view.getUint32(4 + 4 * axis, false));
  const size = shape.reduce((product, dimension) => product * dimension, 1);
  const start = 4 + 4 * rank;
  if (bytes.length - start !== size) {
    invalid(
      source,
      `holds ${bytes.length - start} data bytes but its header [${shape.join(' × ')}] needs ${size}`,
    );
  }
  return { shape, data: bytes.subarray(start) };
}

export const fashionMnistClassNames = [
  'T-shirt/top',
  'trouser',
  'pullover',
  'dress',
  'coat',
  'sandal',
  'shirt',
  'sneaker',
  'bag',
  'ankle boot',
] as const;

/** An image set from an IDX image file (N×H×W) and an IDX label file (N). */
export function idxImageSet(
  images: IdxArray,
  labels: IdxArray,
  source: string,
  classNames: readonly string[] = fashionMnistClassNames,
): ImageSet {
  const [count = 0, height = 0, width = 0] = images.shape;
  if (images.shape.length !== 3)
    invalid(source, `images have ${images.shape.length} dimensions; expected N×H×W`);
  if (labels.shape.length !== 1 || labels.shape[0] !== count) {
    invalid(source, `${labels.shape[0] ?? 0} labels for ${count} images`);
  }
  const bad = labels.data.findIndex((label) => label >= classNames.length);
  if (bad >= 0) {
    throw new MedrobustError(
      'invalid-data',
      `${source}: label ${labels.data[bad]} of image ${bad} is outside 0…${classNames.length - 1}`,
      {
        hint: `give class names for every label (${classNames.length} given)`,
      },
    );
  }
  return {
    images: Float32Array.from(images.data, (value) => value / 255),
    shape: [count, height, width, 1],
    labels: Int32Array.from(labels.data),
    labelsPerImage: 1,
    classNames,
    task: classNames.length === 2 ? 'binary' : 'multi-class',
  };
}
