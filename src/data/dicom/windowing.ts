/**
 * One frame of a `DicomImage` → a float image in [0, 1] for a model (`dicomToUnitImage`):
 * YBR_FULL (and YBR_FULL_422 expanded, YBR_ICT) → RGB by the ITU-R BT.601 full-range matrix
 * (PS3.3 C.7.6.3.1.2), the VOI window functions LINEAR, LINEAR_EXACT and SIGMOID (PS3.3
 * C.11.2.1.2), MONOCHROME1 inverted so that larger values are brighter. No 8-bit quantisation.
 *
 * Input contract: a `DicomImage` from `readDicom` whose photometric interpretation is MONOCHROME1 or
 * MONOCHROME2 with 1 sample, or RGB, YBR_FULL, YBR_FULL_422 or YBR_ICT with 3 (else 'unsupported');
 * an explicit window must have a finite centre and a positive width (else 'invalid-argument').
 * Output contract: frame 0 as rows × columns × channels float32, every value in [0, 1].
 */
import { MedrobustError } from '../../core/errors.ts';
import type { DicomImage } from './read.ts';

/** A window for `dicomToUnitImage`: explicit centre and width, the file's own, or min–max. */
export type DicomWindow = { readonly center: number; readonly width: number } | 'auto' | 'none';

export interface DicomUnitImageOptions {
  /**
   * 'auto' (default): the file's Window Center/Width (first values, with its VOI LUT function)
   * when present; otherwise min–max of the frame for grayscale images, and the nominal range
   * 0 … 2^BitsStored − 1 for colour images (stretching a colour photograph would change its
   * colours). 'none': min–max of the frame. `{center, width}`: the LINEAR window function.
   */
  readonly window?: DicomWindow;
}

/** A float image for a model: rows × columns × channels, every value in [0, 1]. */
export interface UnitImage {
  readonly data: Float32Array;
  readonly rows: number;
  readonly columns: number;
  readonly channels: number;
}

/**
 * Frame 0 of `image` as a float image in [0, 1]: YBR_FULL converted to RGB (PS3.3 C.7.6.3.1.2),
 * the VOI window applied (PS3.3 C.11.2.1.2; see `DicomUnitImageOptions.window`), MONOCHROME1
 * inverted so that, as in MONOCHROME2, larger values are brighter. No 8-bit quantisation.
 */
export function dicomToUnitImage(image: DicomImage, options: DicomUnitImageOptions = {}): UnitImage {
  const window = options.window ?? 'auto';
  const photometric = image.photometricInterpretation;
  const grayscale = photometric === 'MONOCHROME1' || photometric === 'MONOCHROME2';
  const colour = ['RGB', 'YBR_FULL', 'YBR_FULL_422', 'YBR_ICT'].includes(photometric);
  if (!((grayscale && image.samplesPerPixel === 1) || (colour && image.samplesPerPixel === 3))) {
    throw new MedrobustError(
      'unsupported',
      `photometric interpretation ${photometric} with ${image.samplesPerPixel} sample(s) per pixel cannot be converted to an image`,
      {
        hint:
          'supported: MONOCHROME1, MONOCHROME2, RGB and YBR_FULL; convert palette-colour images to RGB first ' +
          "(e.g. with pydicom's `apply_color_lut`) and save them as RGB",
      },
    );
  }
  const channels = image.samplesPerPixel;
  const length = image.rows * image.columns * channels;
  const values = image.pixels.slice(0, length);
  if (photometric !== 'RGB' && colour) ybrFullToRgb(values, 2 ** (image.bitsStored - 1));

  const map = windowFunction(image, values, window, grayscale);
  const invert = photometric === 'MONOCHROME1';
  const data = new Float32Array(length);
  for (let index = 0; index < length; index++) {
    const unit = Math.min(1, Math.max(0, map(values[index] ?? 0)));
    data[index] = invert ? 1 - unit : unit;
  }
  return { data, rows: image.rows, columns: image.columns, channels };
}

/**
 * YBR_FULL → RGB in place (PS3.3 C.7.6.3.1.2, the ITU-R BT.601 full-range matrix; the chroma
 * offset is half the stored range, 128 for 8-bit). YBR_ICT uses the same matrix.
 */
function ybrFullToRgb(values: Float32Array, chromaOffset: number): void {
  for (let index = 0; index + 2 < values.length; index += 3) {
    const y = values[index] ?? 0;
    const cb = (values[index + 1] ?? 0) - chromaOffset;
    const cr = (values[index + 2] ?? 0) - chromaOffset;
    values[index] = y + 1.402 * cr;
    values[index + 1] = y - 0.344136 * cb - 0.714136 * cr;
    values[index + 2] = y + 1.772 * cb;
  }
}

/** The VOI function mapping modality values to [0, 1] before clamping. */
function windowFunction(
  image: DicomImage,
  values: Float32Array,
  window: DicomWindow,
  grayscale: boolean,
): (value: number) => number {
  if (typeof window === 'object') return linearWindow(window.center, window.width, 'LINEAR');
  // A file's window with a non-positive width (it happens) is ignored in favour of min–max.
  const { windowCenter, windowWidth } = image;
  if (window === 'auto' && windowCenter !== undefined && windowWidth !== undefined && windowWidth > 0) {
    return linearWindow(windowCenter, windowWidth, (image.voiLutFunction ?? 'LINEAR').toUpperCase());
  }
  let minimum: number;
  let maximum: number;
  if (window === 'auto' && !grayscale) {
    minimum = image.pixelRepresentation === 1 ? -(2 ** (image.bitsStored - 1)) : 0;
    maximum = minimum + 2 ** image.bitsStored - 1;
  } else {
    minimum = Number.POSITIVE_INFINITY;
    maximum = Number.NEGATIVE_INFINITY;
    for (const value of values) {
      if (value < minimum) minimum = value;
      if (value > maximum) maximum = value;
    }
  }
  const range = maximum - minimum;
  return range > 0 ? (value) => (value - minimum) / range : () => 0;
}

/**
 * PS3.3 C.11.2.1.2 with output range [0, 1]. LINEAR (C.11.2.1.2.1):
 * x ≤ c − 0.5 − (w − 1)/2 → 0; x > c − 0.5 + (w − 1)/2 → 1; else ((x − (c − 0.5)) / (w − 1) + 0.5).
 * LINEAR_EXACT (C.11.2.1.3.2): (x − c)/w + 0.5. SIGMOID (C.11.2.1.3.1): 1 / (1 + exp(−4 (x − c)/w)).
 */
function linearWindow(center: number, width: number, voiFunction: string): (value: number) => number {
  if (!Number.isFinite(center) || !Number.isFinite(width) || width <= 0) {
    throw new MedrobustError(
      'invalid-argument',
      `window width must be a positive number, got ${width} (center ${center})`,
      {
        hint: 'pass {center, width} with width > 0 (width ≥ 1 for the LINEAR function), or window "auto" or "none"',
      },
    );
  }
  if (voiFunction === 'SIGMOID') return (value) => 1 / (1 + Math.exp((-4 * (value - center)) / width));
  if (voiFunction === 'LINEAR_EXACT') return (value) => (value - center) / width + 0.5;
  if (width <= 1) return (value) => (value <= center - 0.5 ? 0 : 1);
  return (value) => (value - (center - 0.5)) / (width - 1) + 0.5;
}
