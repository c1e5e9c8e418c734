/**
 * Images in and out of the server. In: an uploaded PNG, JPEG or DICOM file, told by its magic bytes
 * (never by its name or declared type), checked against the side limit before its pixels are
 * decoded, then given the model's preprocessing (src/node/image-decoding.ts); or a JSON tensor of
 * values within the model's bounds. Out: small PNGs as data URIs: the image, its Grad-CAM overlay
 * (inferno, scaled to the map's own maximum, over the image at half opacity) and the perturbation
 * amplified to the full grey range (mid-grey = unchanged, black/white = −ε/+ε).
 */
import { encode } from 'fast-png';
import { z } from 'zod';
import { MedrobustError } from '../src/core/errors.ts';
import { type DecodedImageInfo, decodeImageBytes } from '../src/node/image-decoding.ts';
import { colourLookupTable } from '../src/report/panels.ts';
import type { ModelDescription } from './guarded-model.ts';

export interface ImageLimits {
  /** Largest upload, in bytes. */
  readonly uploadBytes: number;
  /** Largest width or height of an uploaded image, in pixels. */
  readonly maximumSide: number;
}

export const defaultImageLimits: ImageLimits = Object.freeze({
  uploadBytes: 20 * 1024 * 1024,
  maximumSide: 8192,
});

/** Decodes an uploaded file into the model's input (h × w × c in [0, 1]). */
export async function decodeUpload(
  bytes: Uint8Array,
  model: ModelDescription,
  limits: ImageLimits,
): Promise<{ image: Float32Array; info: DecodedImageInfo }> {
  const [height, width, channels] = model.inputShape;
  if (height !== width || (channels !== 1 && channels !== 3)) {
    throw new MedrobustError(
      'unsupported',
      `the model takes ${height}×${width}×${channels} inputs; uploads are decoded to square grey or RGB images`,
      { hint: 'send the input as a JSON tensor instead ({"data": [...]})' },
    );
  }
  const image = new Float32Array(height * width * channels);
  const info = await decodeImageBytes(
    bytes,
    { size: height, channels, maximumSide: limits.maximumSide },
    image,
    'upload',
  );
  return { image, info };
}

const tensorSchema = z
  .object({
    shape: z.array(z.number().int().positive()).optional(),
    data: z.array(z.number()),
  })
  .passthrough();

/** A JSON tensor body: `data` in row-major h × w × c order, `shape` (optional) [h, w, c] or [1, h, w, c]. */
export function tensorFromJson(body: unknown, model: ModelDescription): Float32Array {
  const parsed = tensorSchema.safeParse(body);
  const [height, width, channels] = model.inputShape;
  const expected = `[${height}, ${width}, ${channels}]`;
  if (!parsed.success) {
    throw new MedrobustError(
      'invalid-argument',
      `the JSON body is not a tensor: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`).join('; ')}`,
      {
        hint: `send {"shape": ${expected}, "data": [${height * width * channels} numbers]} in row-major order`,
      },
    );
  }
  const { shape, data } = parsed.data;
  if (shape !== undefined) {
    const withoutBatch = shape.length === 4 && shape[0] === 1 ? shape.slice(1) : shape;
    if (withoutBatch.join(',') !== [height, width, channels].join(',')) {
      throw new MedrobustError(
        'invalid-argument',
        `shape [${shape.join(', ')}] does not match the model's input ${expected}`,
        {
          hint: `send one image of shape ${expected} (or [1, ${height}, ${width}, ${channels}])`,
        },
      );
    }
  }
  if (data.length !== height * width * channels) {
    throw new MedrobustError(
      'invalid-argument',
      `data has ${data.length} values; the model's input ${expected} has ${height * width * channels}`,
      { hint: 'send the image in row-major h × w × c order' },
    );
  }
  return Float32Array.from(data);
}

function dataUri(png: Uint8Array): string {
  return `data:image/png;base64,${Buffer.from(png.buffer, png.byteOffset, png.byteLength).toString('base64')}`;
}

function toByte(value: number): number {
  return Math.round(Math.min(1, Math.max(0, value)) * 255);
}

/** An h × w × c image in [0, 1] as a PNG. */
export function imagePng(image: Float32Array, width: number, height: number, channels: number): Uint8Array {
  const data = new Uint8Array(image.length);
  for (let index = 0; index < image.length; index++) data[index] = toByte(image[index] as number);
  return encode({ width, height, data, channels, depth: 8 });
}

export function imageDataUri(image: Float32Array, model: ModelDescription): string {
  const [height, width, channels] = model.inputShape;
  return dataUri(imagePng(image, width, height, channels));
}

const inferno = colourLookupTable('inferno');

/** The Grad-CAM map in inferno over the image (grey), half and half, as an RGB PNG data URI. */
export function overlayDataUri(image: Float32Array, map: Float32Array, model: ModelDescription): string {
  const [height, width, channels] = model.inputShape;
  let maximum = 0;
  for (const value of map) maximum = Math.max(maximum, value);
  const data = new Uint8Array(height * width * 3);
  for (let pixel = 0; pixel < height * width; pixel++) {
    let grey = 0;
    for (let channel = 0; channel < channels; channel++) grey += image[pixel * channels + channel] as number;
    const underlay = toByte(grey / channels);
    const level = maximum > 0 ? Math.round(((map[pixel] as number) / maximum) * 255) : 0;
    for (let colour = 0; colour < 3; colour++) {
      data[pixel * 3 + colour] = Math.round(0.5 * underlay + 0.5 * (inferno[level * 3 + colour] as number));
    }
  }
  return dataUri(encode({ width, height, data, channels: 3, depth: 8 }));
}

/** adversarial − clean scaled so ±ε spans black to white (mid-grey: unchanged). */
export function perturbationDataUri(
  adversarial: Float32Array,
  clean: Float32Array,
  epsilon: number,
  model: ModelDescription,
): string {
  const [height, width, channels] = model.inputShape;
  const scale = epsilon > 0 ? 1 / (2 * epsilon) : 0;
  const amplified = new Float32Array(adversarial.length);
  for (let index = 0; index < adversarial.length; index++) {
    amplified[index] = 0.5 + ((adversarial[index] as number) - (clean[index] as number)) * scale;
  }
  return dataUri(imagePng(amplified, width, height, channels));
}
