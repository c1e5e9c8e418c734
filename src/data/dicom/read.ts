/**
 * DICOM images: the bytes of one DICOM Part 10 file → pixel values in modality units (`readDicom`).
 *
 * Standards followed (DICOM 2024 editions):
 * - PS3.10 §7: the file: 128-byte preamble, "DICM", File Meta Information (group 0002).
 * - PS3.5 §8.1–8.2 and Annex A: native and encapsulated pixel data per transfer syntax
 *   (transfer-syntaxes.ts; decoded by native.ts, encapsulated.ts, rle.ts and codecs.ts).
 * - PS3.3 C.7.6.3: Image Pixel module (pixel-layout.ts: Bits Stored, High Bit, Pixel
 *   Representation, Planar Configuration, photometric interpretations).
 * - PS3.3 C.11.1: Modality LUT (Rescale Slope/Intercept).
 *
 * Parsing is dicom-parser's (deflated files are inflated with fflate first). The codecs load on
 * first use, which is why `readDicom` is async (in a browser bundle their `.wasm` files must be
 * served beside their scripts).
 *
 * Input contract: the bytes of one Part 10 file and a name for messages. Output contract:
 * `pixels` is frames × rows × columns × samples (pixel-interleaved whatever the file's planar
 * configuration), each value the stored value (masked to Bits Stored, sign-extended when signed)
 * × slope + intercept, in float32, which holds every 16-bit stored value exactly (32-bit stored
 * values above 2^24 are rounded). Every failure is a MedrobustError naming the file: 'invalid-data'
 * for malformed or truncated files, 'unsupported' for valid files this reader cannot decode.
 */
import type { DataSet } from 'dicom-parser';
import dicomParser from 'dicom-parser';
import { inflateSync } from 'fflate';
import { MedrobustError } from '../../core/errors.ts';
import { codecFrameDecoders, photometricAfterCodec } from './codecs.ts';
import { describe } from './describe-error.ts';
import { encapsulatedFrames } from './encapsulated.ts';
import { nativeFrame, readNativeFrames } from './native.ts';
import { type DecodedFrame, readLayout, storedValueReader } from './pixel-layout.ts';
import { decodeRleFrame } from './rle.ts';
import { transferSyntaxes, unsupportedSyntaxError } from './transfer-syntaxes.ts';

/** One DICOM image: the attributes that say how to read its pixels, and the pixels. */
export interface DicomImage {
  readonly rows: number;
  readonly columns: number;
  readonly samplesPerPixel: number;
  readonly frames: number;
  /**
   * The photometric interpretation of `pixels`. It differs from the file's
   * (`filePhotometricInterpretation`) when decoding changed the colour space: JPEG codecs return
   * YBR_FULL_422, YBR_PARTIAL_420, YBR_RCT and YBR_ICT data as RGB, and YBR_FULL_422 native data
   * (two luminance values sharing one chroma pair) is expanded to YBR_FULL.
   */
  readonly photometricInterpretation: string;
  /** (0028,0004) as written in the file. */
  readonly filePhotometricInterpretation: string;
  readonly bitsAllocated: number;
  readonly bitsStored: number;
  /** 0: unsigned, 1: two's complement. */
  readonly pixelRepresentation: number;
  readonly rescaleSlope: number;
  readonly rescaleIntercept: number;
  /** (0028,1050) and (0028,1051), the first value of each, when present. */
  readonly windowCenter?: number;
  readonly windowWidth?: number;
  /** (0028,1056): LINEAR (the default), LINEAR_EXACT or SIGMOID. */
  readonly voiLutFunction?: string;
  readonly modality?: string;
  readonly transferSyntaxUid: string;
  readonly transferSyntaxName: string;
  /** frames × rows × columns × samplesPerPixel, in modality units. */
  readonly pixels: Float32Array;
}

/**
 * Reads a DICOM Part 10 file. Async because compressed transfer syntaxes use WebAssembly codecs
 * that initialise asynchronously on first use.
 * @param bytes the whole file
 * @param source a name for messages (the file path)
 */
export async function readDicom(bytes: Uint8Array, source: string): Promise<DicomImage> {
  try {
    return await readDicomUnchecked(bytes, source);
  } catch (error) {
    if (error instanceof MedrobustError) throw error;
    throw new MedrobustError('invalid-data', `${source}: not a readable DICOM file (${describe(error)})`, {
      hint: 'the file is corrupt or truncated; copy it again from its source, or check it with `dciodvfy` or `gdcminfo`',
      cause: error,
    });
  }
}

async function readDicomUnchecked(bytes: Uint8Array, source: string): Promise<DicomImage> {
  const dataSet = parse(bytes, source);
  const transferSyntaxUid = (dataSet.string('x00020010') ?? '').replace(/\0/g, '').trim();
  const syntax = transferSyntaxes[transferSyntaxUid];
  const pixelElement = dataSet.elements.x7fe00010;
  if (pixelElement === undefined) {
    if (dataSet.elements.x7fe00008 !== undefined || dataSet.elements.x7fe00009 !== undefined) {
      throw new MedrobustError(
        'unsupported',
        `${source}: float pixel data (7FE0,0008/0009) is not supported`,
        {
          hint: 'store the image as integer Pixel Data (7FE0,0010) with Rescale Slope/Intercept',
        },
      );
    }
    throw new MedrobustError('invalid-data', `${source}: has no Pixel Data (7FE0,0010); it is not an image`, {
      hint: 'pass image files only (not structured reports, RT plans, presentation states or DICOMDIR files)',
    });
  }
  if (syntax?.encoding === undefined) throw unsupportedSyntaxError(source, transferSyntaxUid);
  const layout = readLayout(dataSet, source);

  const frameLength = layout.rows * layout.columns * layout.samplesPerPixel;
  // Allocated when the first frame has been checked, so that a corrupt Number of Frames fails first.
  let pixels: Float32Array | undefined;
  const rescaleSlope = dataSet.floatString('x00281053') ?? 1;
  const rescaleIntercept = dataSet.floatString('x00281052') ?? 0;
  let photometricInterpretation = layout.photometricInterpretation;
  const fromWord = storedValueReader(layout);
  const fromSample = storedValueReader({ ...layout, highBit: layout.bitsStored - 1 });

  const storeFrame = (frameIndex: number, frame: DecodedFrame): void => {
    if (frame.samples.length < frameLength) {
      throw new MedrobustError(
        'invalid-data',
        `${source}: frame ${frameIndex} decoded to ${frame.samples.length} samples, expected ` +
          `${layout.rows} × ${layout.columns} × ${layout.samplesPerPixel} = ${frameLength}`,
        { hint: 'the pixel data does not match Rows, Columns and Samples per Pixel; the file is corrupt' },
      );
    }
    pixels ??= new Float32Array(layout.frames * frameLength);
    const offset = frameIndex * frameLength;
    const pixelCount = layout.rows * layout.columns;
    const samplesPerPixel = layout.samplesPerPixel;
    const toValue = frame.kind === 'words' ? fromWord : frame.kind === 'samples' ? fromSample : undefined;
    for (let pixel = 0; pixel < pixelCount; pixel++) {
      for (let sample = 0; sample < samplesPerPixel; sample++) {
        const index = frame.planar ? sample * pixelCount + pixel : pixel * samplesPerPixel + sample;
        const raw = frame.samples[index] ?? 0;
        const value = toValue === undefined ? raw : toValue(raw);
        pixels[offset + pixel * samplesPerPixel + sample] = value * rescaleSlope + rescaleIntercept;
      }
    }
  };

  switch (syntax.encoding) {
    case 'native': {
      const native = readNativeFrames(dataSet, pixelElement, layout, syntax.bigEndian === true, source);
      for (const [index, frame] of native.frames.entries()) storeFrame(index, frame);
      photometricInterpretation = native.photometricInterpretation;
      break;
    }
    case 'encapsulated-uncompressed': {
      if (layout.bitsAllocated === 1 || layout.photometricInterpretation === 'YBR_FULL_422') {
        throw new MedrobustError(
          'unsupported',
          `${source}: encapsulated uncompressed data with 1-bit or YBR_FULL_422 pixels is not supported`,
          {
            hint: `rewrite the file as Explicit VR Little Endian, e.g. with \`gdcmconv --raw in.dcm out.dcm\``,
          },
        );
      }
      const frameBytes = (frameLength * layout.bitsAllocated) / 8;
      for (const [index, bytesOfFrame] of encapsulatedFrames(
        dataSet,
        pixelElement,
        layout.frames,
        source,
      ).entries()) {
        if (bytesOfFrame.length < frameBytes) {
          throw new MedrobustError(
            'invalid-data',
            `${source}: frame ${index} has ${bytesOfFrame.length} bytes, expected ${frameBytes}`,
            {
              hint: 'the pixel data does not match Rows, Columns, Samples per Pixel and Bits Allocated; the file is corrupt',
            },
          );
        }
        storeFrame(index, nativeFrame(bytesOfFrame, 0, layout, false));
      }
      break;
    }
    case 'rle': {
      for (const [index, bytesOfFrame] of encapsulatedFrames(
        dataSet,
        pixelElement,
        layout.frames,
        source,
      ).entries()) {
        storeFrame(index, decodeRleFrame(bytesOfFrame, layout, `${source}: frame ${index}`));
      }
      break;
    }
    default: {
      const decode = codecFrameDecoders[syntax.encoding];
      const encoded = encapsulatedFrames(dataSet, pixelElement, layout.frames, source);
      for (const [index, bytesOfFrame] of encoded.entries()) {
        storeFrame(index, await decode(bytesOfFrame, layout, `${source}: frame ${index}`));
      }
      photometricInterpretation = photometricAfterCodec(syntax.encoding, layout);
    }
  }

  const windowCenter = dataSet.floatString('x00281050', 0);
  const windowWidth = dataSet.floatString('x00281051', 0);
  const voiLutFunction = dataSet.string('x00281056');
  const modality = dataSet.string('x00080060');
  return {
    rows: layout.rows,
    columns: layout.columns,
    samplesPerPixel: layout.samplesPerPixel,
    frames: layout.frames,
    photometricInterpretation,
    filePhotometricInterpretation: layout.photometricInterpretation,
    bitsAllocated: layout.bitsAllocated,
    bitsStored: layout.bitsStored,
    pixelRepresentation: layout.pixelRepresentation,
    rescaleSlope,
    rescaleIntercept,
    ...(windowCenter !== undefined && Number.isFinite(windowCenter) ? { windowCenter } : {}),
    ...(windowWidth !== undefined && Number.isFinite(windowWidth) ? { windowWidth } : {}),
    ...(voiLutFunction ? { voiLutFunction } : {}),
    ...(modality ? { modality } : {}),
    transferSyntaxUid,
    transferSyntaxName: syntax.name,
    pixels: pixels ?? new Float32Array(0),
  };
}

function parse(bytes: Uint8Array, source: string): DataSet {
  const prefix = bytes.length >= 132 ? String.fromCharCode(...bytes.subarray(128, 132)) : '';
  if (prefix !== 'DICM') {
    throw new MedrobustError(
      'invalid-data',
      `${source}: not a DICOM Part 10 file (${bytes.length < 132 ? `only ${bytes.length} bytes` : 'no "DICM" at byte 128'})`,
      {
        hint:
          'pass DICOM files with a File Meta Information header; files without one (raw data sets) can be ' +
          'rewritten with `dcmconv in out.dcm` (DCMTK) or `gdcmconv in out.dcm`',
      },
    );
  }
  try {
    return dicomParser.parseDicom(bytes, { inflater: (array, position) => inflate(array, position) });
  } catch (error) {
    throw new MedrobustError(
      'invalid-data',
      `${source}: is truncated or corrupt (dicom-parser: ${describe(error)})`,
      {
        hint: 'the file is corrupt or truncated; copy it again from its source, or check it with `dciodvfy` or `gdcminfo`',
        cause: error,
      },
    );
  }
}

/** Deflated Explicit VR Little Endian: everything after the meta header is raw deflate (RFC 1951). */
function inflate(array: Uint8Array, position: number): Uint8Array {
  const inflated = inflateSync(array.subarray(position));
  const whole = new Uint8Array(position + inflated.length);
  whole.set(array.subarray(0, position), 0);
  whole.set(inflated, position);
  return whole;
}
