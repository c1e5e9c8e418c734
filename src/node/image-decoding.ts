/**
 * Decoding one image from its bytes into the model's input: the preprocessing every image source
 * shares (image folders, CSV-labelled folders, the inference server's uploads), as MedMNIST's
 * preprocessing does. The format is told by content (PNG or JPEG magic bytes, the DICOM Part 10
 * "DICM" signature), never by a file name; 8- or 16-bit; EXIF orientation applied; alpha dropped;
 * grey ↔ RGB converted; centre-cropped to a square and resized to size × size; scaled to [0, 1] by
 * the image's true bit depth (DICOM: modality values through the file's VOI window, else min–max;
 * MONOCHROME1 inverted).
 *
 * Cropping and resizing are done here in floating point, not by sharp: libvips resamples 16-bit
 * images in fixed point and moved a uniform 16-bit image by up to 20/65535 in our checks, which would
 * throw away the 16-bit precision. The resampler is the antialiased bicubic of Pillow's
 * `Image.resize` (Keys kernel, a = -0.5, support widened by the shrink factor), the interpolation
 * MedMNIST used; it is exact when no resize is needed.
 */
import sharp from 'sharp';
import { MedrobustError } from '../core/errors.ts';
import { dicomToUnitImage, readDicom } from '../data/dicom/index.ts';

export interface ImageDecodeOptions {
  /** Output side in pixels. */
  readonly size: number;
  /** 1: grey (RGB images are converted); 3: RGB (grey images are replicated). */
  readonly channels: 1 | 3;
  /** Refuse images whose width or height exceeds this (before their pixels are decoded). */
  readonly maximumSide?: number;
}

export type ImageFormat = 'png' | 'jpeg' | 'dicom';

export interface DecodedImageInfo {
  readonly format: ImageFormat;
  /** The stored image's size, before cropping and resizing. */
  readonly width: number;
  readonly height: number;
}

/** DICOM Part 10 files carry "DICM" after a 128-byte preamble. */
function isDicom(bytes: Uint8Array): boolean {
  return (
    bytes.length > 132 &&
    bytes[128] === 0x44 &&
    bytes[129] === 0x49 &&
    bytes[130] === 0x43 &&
    bytes[131] === 0x4d
  );
}

/** Grey ↔ RGB for [0, 1] float pixels (RGB → grey with ITU-R BT.601 weights, as sharp's b-w). */
function convertChannels(pixels: Float32Array, from: number, to: 1 | 3): Float32Array {
  if (from === to) return pixels;
  const count = pixels.length / from;
  const out = new Float32Array(count * to);
  for (let i = 0; i < count; i++) {
    if (to === 3) {
      const value = pixels[i] ?? 0;
      out[3 * i] = value;
      out[3 * i + 1] = value;
      out[3 * i + 2] = value;
    } else {
      out[i] =
        0.299 * (pixels[3 * i] ?? 0) + 0.587 * (pixels[3 * i + 1] ?? 0) + 0.114 * (pixels[3 * i + 2] ?? 0);
    }
  }
  return out;
}

function sniffFormat(bytes: Uint8Array): 'png' | 'jpeg' | undefined {
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (png.every((byte, index) => bytes[index] === byte)) return 'png';
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return undefined;
}

/** Pillow's bicubic kernel (Keys, a = -0.5). */
function cubic(distance: number): number {
  const x = Math.abs(distance);
  const a = -0.5;
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

/** For each output index: the first input index and the normalised weights of its window. */
function resampleWeights(inputSize: number, outputSize: number): { first: number; weights: Float64Array }[] {
  const scale = inputSize / outputSize;
  const filterScale = Math.max(scale, 1);
  const support = 2 * filterScale;
  return Array.from({ length: outputSize }, (_, index) => {
    const centre = (index + 0.5) * scale;
    const first = Math.max(0, Math.floor(centre - support + 0.5));
    const last = Math.min(inputSize, Math.floor(centre + support + 0.5));
    const weights = new Float64Array(last - first);
    for (let input = first; input < last; input++)
      weights[input - first] = cubic((input + 0.5 - centre) / filterScale);
    const total = weights.reduce((sum, weight) => sum + weight, 0);
    return { first, weights: weights.map((weight) => weight / total) };
  });
}

/**
 * Centre-crops an interleaved image to a square and resizes it to size × size (separable
 * antialiased bicubic), scaling by 1 / maximum and clamping to [0, 1]. Writes into `output`.
 */
function cropAndResize(
  pixels: Uint8Array | Uint16Array | Float32Array,
  width: number,
  height: number,
  channels: number,
  maximum: number,
  size: number,
  output: Float32Array,
): void {
  const side = Math.min(width, height);
  const left = Math.floor((width - side) / 2);
  const top = Math.floor((height - side) / 2);
  const windows = resampleWeights(side, size);
  // Horizontal pass: side rows × size columns, channel-planar so the inner loops are strided alike.
  const rows = new Float64Array(side * size * channels);
  for (const [x, { first, weights }] of windows.entries()) {
    for (let channel = 0; channel < channels; channel++) {
      for (let y = 0; y < side; y++) {
        let position = ((top + y) * width + left + first) * channels + channel;
        let sum = 0;
        for (let k = 0; k < weights.length; k++, position += channels)
          sum += (weights[k] as number) * (pixels[position] as number);
        rows[(channel * side + y) * size + x] = sum;
      }
    }
  }
  // Vertical pass.
  for (const [y, { first, weights }] of windows.entries()) {
    for (let channel = 0; channel < channels; channel++) {
      for (let x = 0; x < size; x++) {
        let position = (channel * side + first) * size + x;
        let sum = 0;
        for (let k = 0; k < weights.length; k++, position += size)
          sum += (weights[k] as number) * (rows[position] as number);
        output[(y * size + x) * channels + channel] = Math.min(1, Math.max(0, sum / maximum));
      }
    }
  }
}

/** The image format `bytes` hold, by their magic bytes, or undefined. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  return isDicom(bytes) ? 'dicom' : sniffFormat(bytes);
}

function checkSide(width: number, height: number, options: ImageDecodeOptions): void {
  const limit = options.maximumSide;
  if (limit !== undefined && (width > limit || height > limit)) {
    throw new MedrobustError(
      'invalid-data',
      `the image is ${width}×${height} pixels, larger than the ${limit}-pixel limit`,
      {
        hint: `downscale it to at most ${limit} pixels a side (the model sees ${options.size}×${options.size})`,
      },
    );
  }
}

/**
 * Decodes one PNG, JPEG or DICOM image into `output` (size × size × channels, [0, 1]). Anything
 * that is not one of them, or cannot be decoded, throws an 'invalid-data' MedrobustError whose
 * message says why; bytes that are none of the three, and DICOM transfer syntaxes we cannot decode,
 * are 'unsupported'.
 */
export async function decodeImageBytes(
  bytes: Uint8Array,
  options: ImageDecodeOptions,
  output: Float32Array,
  source = 'image',
): Promise<DecodedImageInfo> {
  if (output.length !== options.size * options.size * options.channels) {
    throw new MedrobustError(
      'internal',
      `decode buffer holds ${output.length} values, not ${options.size}²×${options.channels}`,
    );
  }
  if (bytes.length === 0)
    throw new MedrobustError('invalid-data', 'the file is empty', { hint: 'send the image file itself' });
  const format = sniffImageFormat(bytes);
  if (format === 'dicom') {
    const unit = dicomToUnitImage(await readDicom(bytes, source));
    checkSide(unit.columns, unit.rows, options);
    const pixels = convertChannels(unit.data, unit.channels, options.channels);
    cropAndResize(pixels, unit.columns, unit.rows, options.channels, 1, options.size, output);
    return { format, width: unit.columns, height: unit.rows };
  }
  if (format === undefined) {
    throw new MedrobustError(
      'unsupported',
      'not a PNG, JPEG or DICOM image (checked by content, not extension)',
      {
        hint: 'send a PNG, a JPEG or a DICOM Part 10 file',
      },
    );
  }
  let metadata: sharp.Metadata;
  try {
    metadata = await sharp(bytes).metadata();
  } catch (error) {
    throw cannotDecode(format, error);
  }
  checkSide(metadata.width ?? 0, metadata.height ?? 0, options);
  try {
    const deep = metadata.depth === 'ushort';
    const space = options.channels === 1 ? (deep ? 'grey16' : 'b-w') : deep ? 'rgb16' : 'srgb';
    const { data, info } = await sharp(bytes)
      .autoOrient()
      .removeAlpha()
      .toColourspace(space)
      .raw({ depth: deep ? 'ushort' : 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== options.channels) {
      throw new Error(`decoded to ${info.channels} channels instead of ${options.channels}`);
    }
    const pixels = deep
      ? new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2)
      : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    cropAndResize(pixels, info.width, info.height, info.channels, deep ? 65535 : 255, options.size, output);
    return { format, width: info.width, height: info.height };
  } catch (error) {
    throw cannotDecode(format, error);
  }
}

function cannotDecode(format: ImageFormat, error: unknown): MedrobustError {
  return new MedrobustError(
    'invalid-data',
    `cannot decode this ${format.toUpperCase()} (${(error as Error).message.trim()})`,
    { hint: 'the file is truncated or corrupt: export the image again', cause: error },
  );
}
