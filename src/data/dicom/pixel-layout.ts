/**
 * The Image Pixel module (PS3.3 C.7.6.3): Rows, Columns, Samples per Pixel, Number of Frames, Bits
 * Allocated, Bits Stored, High Bit, Pixel Representation, Planar Configuration and Photometric
 * Interpretation read and cross-checked (`readLayout`), and the stored word → stored value rule of
 * PS3.5 §8.1.1 (`storedValueReader`: mask to Bits Stored ending at High Bit, sign-extend when
 * signed). `DecodedFrame` is what every frame decoder (native, RLE, codecs) hands back to `readDicom`.
 *
 * Input contract: a parsed dicom-parser data set and a name for messages. Output contract: a
 * `PixelLayout` with 1 or 3 samples, Bits Allocated 1, 8, 16 or 32, 1 ≤ Bits Stored ≤ Bits
 * Allocated, Bits Stored − 1 ≤ High Bit < Bits Allocated, Pixel Representation 0 or 1, at least one
 * frame; otherwise a MedrobustError ('invalid-data' or 'unsupported') naming the file.
 */
import type { DataSet } from 'dicom-parser';
import { MedrobustError } from '../../core/errors.ts';

/** The Image Pixel attributes that say how stored values are laid out. */
export interface PixelLayout {
  readonly rows: number;
  readonly columns: number;
  readonly samplesPerPixel: number;
  readonly frames: number;
  readonly bitsAllocated: number;
  readonly bitsStored: number;
  readonly highBit: number;
  readonly pixelRepresentation: number;
  readonly planarConfiguration: number;
  readonly photometricInterpretation: string;
}

/**
 * One decoded frame, samples in frame order (by plane when `planar`). `kind` says what is left to do:
 * 'words': native or RLE words: take Bits Stored bits ending at High Bit, sign-extend if signed;
 * 'samples': right-aligned codec output: take the low Bits Stored bits, sign-extend if signed;
 * 'values': nothing (the codec already applied precision and sign).
 */
export interface DecodedFrame {
  readonly samples: ArrayLike<number>;
  readonly planar: boolean;
  readonly kind: 'words' | 'samples' | 'values';
}

export function readLayout(dataSet: DataSet, source: string): PixelLayout {
  const required = (tag: string, name: string): number => {
    const value = dataSet.uint16(tag);
    if (value === undefined) {
      throw new MedrobustError('invalid-data', `${source}: the required attribute ${name} is missing`, {
        hint: 'the Image Pixel module is incomplete; re-export the image from its source',
      });
    }
    return value;
  };
  const rows = required('x00280010', 'Rows (0028,0010)');
  const columns = required('x00280011', 'Columns (0028,0011)');
  const bitsAllocated = required('x00280100', 'Bits Allocated (0028,0100)');
  const samplesPerPixel = dataSet.uint16('x00280002') ?? 1;
  const bitsStored = dataSet.uint16('x00280101') ?? bitsAllocated;
  const highBit = dataSet.uint16('x00280102') ?? bitsStored - 1;
  const pixelRepresentation = dataSet.uint16('x00280103') ?? 0;
  const planarConfiguration = dataSet.uint16('x00280006') ?? 0;
  const framesText = dataSet.intString('x00280008');
  const frames = framesText === undefined || Number.isNaN(framesText) ? 1 : framesText;
  const photometricInterpretation = (
    dataSet.string('x00280004') ?? (samplesPerPixel === 3 ? 'RGB' : 'MONOCHROME2')
  ).toUpperCase();

  const invalid = (what: string): MedrobustError =>
    new MedrobustError('invalid-data', `${source}: ${what}`, {
      hint: 'the Image Pixel attributes contradict each other; re-export the image from its source',
    });
  if (rows === 0 || columns === 0) throw invalid(`image size ${rows} × ${columns} is empty`);
  if (frames < 1) throw invalid(`Number of Frames is ${frames}`);
  if (samplesPerPixel !== 1 && samplesPerPixel !== 3) {
    throw new MedrobustError(
      'unsupported',
      `${source}: ${samplesPerPixel} samples per pixel are not supported`,
      {
        hint: 'only grayscale (1 sample) and colour (3 samples) images are supported',
      },
    );
  }
  if (![1, 8, 16, 32].includes(bitsAllocated)) {
    throw new MedrobustError('unsupported', `${source}: Bits Allocated ${bitsAllocated} is not supported`, {
      hint: 'supported: 1, 8, 16 and 32 bits allocated; convert the image with `gdcmconv` or `dcmconv`',
    });
  }
  if (bitsStored < 1 || bitsStored > bitsAllocated) {
    throw invalid(`Bits Stored ${bitsStored} does not fit in Bits Allocated ${bitsAllocated}`);
  }
  if (highBit >= bitsAllocated || highBit + 1 < bitsStored) {
    throw invalid(
      `High Bit ${highBit} does not fit Bits Stored ${bitsStored} in Bits Allocated ${bitsAllocated}`,
    );
  }
  if (pixelRepresentation > 1)
    throw invalid(`Pixel Representation ${pixelRepresentation} is neither 0 nor 1`);
  return {
    rows,
    columns,
    samplesPerPixel,
    frames,
    bitsAllocated,
    bitsStored,
    highBit,
    pixelRepresentation,
    planarConfiguration,
    photometricInterpretation,
  };
}

/**
 * Stored word → stored value (PS3.5 §8.1.1, PS3.3 C.7.6.3.1): the Bits Stored bits ending at High
 * Bit, two's complement when Pixel Representation is 1. Arithmetic, not bit operators, so that
 * 32-bit words stay unsigned.
 */
export function storedValueReader(layout: PixelLayout): (word: number) => number {
  const shift = 2 ** (layout.highBit + 1 - layout.bitsStored);
  const range = 2 ** layout.bitsStored;
  const half = range / 2;
  const signed = layout.pixelRepresentation === 1;
  return (word) => {
    const value = Math.floor(word / shift) % range;
    return signed && value >= half ? value - range : value;
  };
}
