/**
 * DICOM images: the bytes of one DICOM Part 10 file → pixel values in modality units
 * (`readDicom`), and one frame of those → a float image in [0, 1] for a model (`dicomToUnitImage`).
 *
 * Standards followed (DICOM 2024 editions):
 * - PS3.10 §7: the file: 128-byte preamble, "DICM", File Meta Information (group 0002).
 * - PS3.5 §8.1–8.2 and Annex A: native and encapsulated pixel data per transfer syntax; byte order
 *   of OW data in Explicit VR Big Endian; basic offset table and fragments (A.4).
 * - PS3.5 Annex G: RLE Lossless (PackBits segments, most significant byte first), decoded here
 *   because no maintained JavaScript package does it.
 * - PS3.3 C.7.6.3: Image Pixel module (Bits Stored, High Bit, Pixel Representation, Planar
 *   Configuration, photometric interpretations; YBR_FULL → RGB in C.7.6.3.1.2).
 * - PS3.3 C.11.1: Modality LUT (Rescale Slope/Intercept); C.11.2.1.2: the VOI window functions
 *   LINEAR, LINEAR_EXACT and SIGMOID.
 *
 * Parsing is dicom-parser's (deflated files are inflated with fflate first); compressed frames go to
 * the cornerstone WebAssembly codecs (libjpeg-turbo 8-bit: JPEG baseline; CharLS: JPEG-LS;
 * OpenJPEG: JPEG 2000 and High-Throughput JPEG 2000) and jpeg-lossless-decoder-js (JPEG lossless).
 * Not decoded: 12-bit lossy JPEG (the libjpeg-turbo build is 8-bit only), JPEG XL, video syntaxes.
 * The codecs load on first use, which is why `readDicom` is async (in a browser bundle their
 * `.wasm` files must be served beside their scripts). A JPEG 2000 or JPEG-LS failure drops the
 * codec instance, since Emscripten modules can be left unusable by an abort.
 *
 * Input contract: the bytes of one Part 10 file and a name for messages. Output contract:
 * `pixels` is frames × rows × columns × samples (pixel-interleaved whatever the file's planar
 * configuration), each value the stored value (masked to Bits Stored, sign-extended when signed)
 * × slope + intercept, in float32, which holds every 16-bit stored value exactly (32-bit stored
 * values above 2^24 are rounded). Every failure is a MedrobustError naming the file: 'invalid-data'
 * for malformed or truncated files, 'unsupported' for valid files this reader cannot decode.
 */
import type { DataSet, Element } from 'dicom-parser';
import dicomParser from 'dicom-parser';
import { inflateSync } from 'fflate';
import { MedrobustError } from '../core/errors.ts';

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

// ---------------------------------------------------------------------------------------------
// Transfer syntaxes (PS3.5 §10 and Annex A; PS3.6 Table A-1 for the names)

type PixelEncoding =
  | 'native'
  | 'encapsulated-uncompressed'
  | 'rle'
  | 'jpeg-baseline'
  | 'jpeg-lossless'
  | 'jpeg-ls'
  | 'jpeg-2000';

interface TransferSyntax {
  readonly name: string;
  /** How pixel data is encoded; absent for syntaxes this reader knows by name but cannot decode. */
  readonly encoding?: PixelEncoding;
  readonly bigEndian?: boolean;
}

const transferSyntaxes: Readonly<Record<string, TransferSyntax>> = Object.freeze({
  '1.2.840.10008.1.2': { name: 'Implicit VR Little Endian', encoding: 'native' },
  '1.2.840.10008.1.2.1': { name: 'Explicit VR Little Endian', encoding: 'native' },
  '1.2.840.10008.1.2.1.98': {
    name: 'Encapsulated Uncompressed Explicit VR Little Endian',
    encoding: 'encapsulated-uncompressed',
  },
  '1.2.840.10008.1.2.1.99': { name: 'Deflated Explicit VR Little Endian', encoding: 'native' },
  '1.2.840.10008.1.2.2': { name: 'Explicit VR Big Endian', encoding: 'native', bigEndian: true },
  '1.2.840.10008.1.2.5': { name: 'RLE Lossless', encoding: 'rle' },
  '1.2.840.10008.1.2.4.50': { name: 'JPEG Baseline (Process 1)', encoding: 'jpeg-baseline' },
  '1.2.840.10008.1.2.4.51': { name: 'JPEG Extended (Process 2 & 4)', encoding: 'jpeg-baseline' },
  '1.2.840.10008.1.2.4.57': {
    name: 'JPEG Lossless, Non-Hierarchical (Process 14)',
    encoding: 'jpeg-lossless',
  },
  '1.2.840.10008.1.2.4.70': {
    name: 'JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 [Selection Value 1])',
    encoding: 'jpeg-lossless',
  },
  '1.2.840.10008.1.2.4.80': { name: 'JPEG-LS Lossless Image Compression', encoding: 'jpeg-ls' },
  '1.2.840.10008.1.2.4.81': {
    name: 'JPEG-LS Lossy (Near-Lossless) Image Compression',
    encoding: 'jpeg-ls',
  },
  '1.2.840.10008.1.2.4.90': { name: 'JPEG 2000 Image Compression (Lossless Only)', encoding: 'jpeg-2000' },
  '1.2.840.10008.1.2.4.91': { name: 'JPEG 2000 Image Compression', encoding: 'jpeg-2000' },
  // OpenJPEG ≥ 2.5 (the codec's build) decodes High-Throughput JPEG 2000 (ISO/IEC 15444-15) too.
  '1.2.840.10008.1.2.4.201': {
    name: 'High-Throughput JPEG 2000 Image Compression (Lossless Only)',
    encoding: 'jpeg-2000',
  },
  '1.2.840.10008.1.2.4.202': {
    name: 'High-Throughput JPEG 2000 with RPCL Options Image Compression (Lossless Only)',
    encoding: 'jpeg-2000',
  },
  '1.2.840.10008.1.2.4.203': { name: 'High-Throughput JPEG 2000 Image Compression', encoding: 'jpeg-2000' },
  // Known by name, not decoded.
  '1.2.840.10008.1.2.4.92': { name: 'JPEG 2000 Part 2 Multi-component Image Compression (Lossless Only)' },
  '1.2.840.10008.1.2.4.93': { name: 'JPEG 2000 Part 2 Multi-component Image Compression' },
  '1.2.840.10008.1.2.4.94': { name: 'JPIP Referenced' },
  '1.2.840.10008.1.2.4.95': { name: 'JPIP Referenced Deflate' },
  '1.2.840.10008.1.2.4.100': { name: 'MPEG2 Main Profile / Main Level' },
  '1.2.840.10008.1.2.4.101': { name: 'MPEG2 Main Profile / High Level' },
  '1.2.840.10008.1.2.4.102': { name: 'MPEG-4 AVC/H.264 High Profile / Level 4.1' },
  '1.2.840.10008.1.2.4.103': { name: 'MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1' },
  '1.2.840.10008.1.2.4.104': { name: 'MPEG-4 AVC/H.264 High Profile / Level 4.2 For 2D Video' },
  '1.2.840.10008.1.2.4.105': { name: 'MPEG-4 AVC/H.264 High Profile / Level 4.2 For 3D Video' },
  '1.2.840.10008.1.2.4.106': { name: 'MPEG-4 AVC/H.264 Stereo High Profile / Level 4.2' },
  '1.2.840.10008.1.2.4.107': { name: 'HEVC/H.265 Main Profile / Level 5.1' },
  '1.2.840.10008.1.2.4.108': { name: 'HEVC/H.265 Main 10 Profile / Level 5.1' },
  '1.2.840.10008.1.2.4.110': { name: 'JPEG XL Lossless' },
  '1.2.840.10008.1.2.4.111': { name: 'JPEG XL JPEG Recompression' },
  '1.2.840.10008.1.2.4.112': { name: 'JPEG XL' },
  '1.2.840.10008.1.2.6.1': { name: 'RFC 2557 MIME encapsulation' },
  '1.2.840.10008.1.2.6.2': { name: 'XML Encoding' },
});

/** The transfer syntaxes `readDicom` decodes, as "name (uid)" lines. */
export const supportedTransferSyntaxes: readonly string[] = Object.freeze(
  Object.entries(transferSyntaxes)
    .filter(([, syntax]) => syntax.encoding !== undefined)
    .map(([uid, syntax]) => `${syntax.name} (${uid})`),
);

const conversionHint =
  'decompress it to Explicit VR Little Endian first, e.g. `gdcmconv --raw in.dcm out.dcm` (GDCM) ' +
  'or `dcmdjpeg in.dcm out.dcm` / `dcmdrle in.dcm out.dcm` (DCMTK)';

function unsupportedSyntaxError(source: string, uid: string): MedrobustError {
  const name = transferSyntaxes[uid]?.name ?? 'unknown transfer syntax';
  return new MedrobustError('unsupported', `${source}: transfer syntax ${uid} (${name}) is not supported`, {
    hint: `supported: ${supportedTransferSyntaxes.join('; ')}. To read this file, ${conversionHint}.`,
  });
}

// ---------------------------------------------------------------------------------------------
// Codecs, loaded on first use. A codec that fails (Emscripten modules can abort on corrupt input)
// is dropped so that the next frame gets a fresh instance.

type LibJpegTurboModule = import('@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs').LibJpegTurboModule;
type CharLSModule = import('@cornerstonejs/codec-charls/decodewasmjs').CharLSModule;
type OpenJpegModule = import('@cornerstonejs/codec-openjpeg/decodewasmjs').OpenJpegModule;

/** What the Emscripten codecs print (OpenJPEG logs every header); kept for error messages. */
const codecMessages: string[] = [];
/** Emscripten module overrides; a fresh object per module, which Emscripten writes into. */
function quietCodec(): Record<string, unknown> {
  return {
    print: (text: string) => codecMessages.push(text),
    printErr: (text: string) => codecMessages.push(text),
  };
}

let libJpegTurbo: Promise<LibJpegTurboModule> | undefined;
let charLS: Promise<CharLSModule> | undefined;
let openJpeg: Promise<OpenJpegModule> | undefined;

function loadLibJpegTurbo(): Promise<LibJpegTurboModule> {
  libJpegTurbo ??= import('@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs').then((module) =>
    module.default(quietCodec()),
  );
  return libJpegTurbo;
}
function loadCharLS(): Promise<CharLSModule> {
  charLS ??= import('@cornerstonejs/codec-charls/decodewasmjs').then((module) =>
    module.default(quietCodec()),
  );
  return charLS;
}
function loadOpenJpeg(): Promise<OpenJpegModule> {
  openJpeg ??= import('@cornerstonejs/codec-openjpeg/decodewasmjs').then((module) =>
    module.default(quietCodec()),
  );
  return openJpeg;
}
function forgetCodecs(): void {
  libJpegTurbo = undefined;
  charLS = undefined;
  openJpeg = undefined;
}

// ---------------------------------------------------------------------------------------------
// Reading

/** The Image Pixel attributes that say how stored values are laid out. */
interface PixelLayout {
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
interface DecodedFrame {
  readonly samples: ArrayLike<number>;
  readonly planar: boolean;
  readonly kind: 'words' | 'samples' | 'values';
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

function readLayout(dataSet: DataSet, source: string): PixelLayout {
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
function storedValueReader(layout: PixelLayout): (word: number) => number {
  const shift = 2 ** (layout.highBit + 1 - layout.bitsStored);
  const range = 2 ** layout.bitsStored;
  const half = range / 2;
  const signed = layout.pixelRepresentation === 1;
  return (word) => {
    const value = Math.floor(word / shift) % range;
    return signed && value >= half ? value - range : value;
  };
}

// ---------------------------------------------------------------------------------------------
// Native (uncompressed) pixel data, PS3.5 §8.1–8.2

function readNativeFrames(
  dataSet: DataSet,
  element: Element,
  layout: PixelLayout,
  bigEndian: boolean,
  source: string,
): { frames: DecodedFrame[]; photometricInterpretation: string } {
  if (element.encapsulatedPixelData === true) {
    throw new MedrobustError(
      'invalid-data',
      `${source}: Pixel Data is encapsulated (compressed) but the transfer syntax says it is not`,
      {
        hint: `the File Meta Information has the wrong Transfer Syntax UID; ${conversionHint}`,
      },
    );
  }
  const array = dataSet.byteArray;
  const available = Math.min(element.length, array.length - element.dataOffset);
  const subsampled = layout.photometricInterpretation === 'YBR_FULL_422' && layout.samplesPerPixel === 3;
  if (subsampled && layout.bitsAllocated !== 8) {
    throw new MedrobustError(
      'unsupported',
      `${source}: native YBR_FULL_422 with ${layout.bitsAllocated} bits is not supported`,
      {
        hint: "convert the image to RGB (e.g. with pydicom's `convert_color_space`) and save it uncompressed",
      },
    );
  }
  const pixelCount = layout.rows * layout.columns;
  const frameBits = subsampled
    ? pixelCount * 2 * 8
    : pixelCount * layout.samplesPerPixel * layout.bitsAllocated;
  const needed = Math.ceil((frameBits * layout.frames) / 8);
  if (available < needed) {
    throw new MedrobustError(
      'invalid-data',
      `${source}: Pixel Data has ${available} bytes, but ${layout.frames} frame(s) of ${layout.rows} × ` +
        `${layout.columns} × ${layout.samplesPerPixel} samples at ${layout.bitsAllocated} bits need ${needed}; ` +
        'the file is truncated',
      { hint: 'copy the file again from its source; the end of it is missing' },
    );
  }
  // PS3.5 §8.1.1: in Explicit VR Big Endian, OW data is a stream of 16-bit big-endian words, so
  // 8-bit (and 1-bit) samples held in OW come byte-swapped in pairs.
  const swapPairs = bigEndian && element.vr === 'OW' && layout.bitsAllocated <= 8;
  let bytes = array.subarray(element.dataOffset, element.dataOffset + needed);
  if (swapPairs) {
    bytes = bytes.slice();
    for (let index = 0; index + 1 < bytes.length; index += 2) {
      const first = bytes[index] ?? 0;
      bytes[index] = bytes[index + 1] ?? 0;
      bytes[index + 1] = first;
    }
  }
  const frames: DecodedFrame[] = [];
  for (let frame = 0; frame < layout.frames; frame++) {
    if (subsampled) frames.push(expandYbrFull422(bytes.subarray(frame * pixelCount * 2), layout));
    else if (layout.bitsAllocated === 1) frames.push(unpackBits(bytes, frame * frameBits, frameBits));
    else frames.push(nativeFrame(bytes, (frame * frameBits) / 8, layout, bigEndian));
  }
  return { frames, photometricInterpretation: subsampled ? 'YBR_FULL' : layout.photometricInterpretation };
}

/** One frame of 8-, 16- or 32-bit native samples starting at `byteOffset`. */
function nativeFrame(
  bytes: Uint8Array,
  byteOffset: number,
  layout: PixelLayout,
  bigEndian: boolean,
): DecodedFrame {
  const count = layout.rows * layout.columns * layout.samplesPerPixel;
  const view = new DataView(bytes.buffer, bytes.byteOffset + byteOffset, (count * layout.bitsAllocated) / 8);
  let samples: Uint8Array | Uint16Array | Uint32Array;
  if (layout.bitsAllocated === 8) {
    samples = new Uint8Array(view.buffer, view.byteOffset, count).slice();
  } else if (layout.bitsAllocated === 16) {
    samples = new Uint16Array(count);
    for (let index = 0; index < count; index++) samples[index] = view.getUint16(index * 2, !bigEndian);
  } else {
    samples = new Uint32Array(count);
    for (let index = 0; index < count; index++) samples[index] = view.getUint32(index * 4, !bigEndian);
  }
  const planar = layout.samplesPerPixel === 3 && layout.planarConfiguration === 1;
  return { samples, planar, kind: 'words' };
}

/** Bits Allocated 1: bits packed least significant first, frames not byte-aligned (PS3.5 §8.1.1). */
function unpackBits(bytes: Uint8Array, firstBit: number, bitCount: number): DecodedFrame {
  const samples = new Uint8Array(bitCount);
  for (let index = 0; index < bitCount; index++) {
    const bit = firstBit + index;
    samples[index] = ((bytes[bit >> 3] ?? 0) >> (bit & 7)) & 1;
  }
  return { samples, planar: false, kind: 'words' };
}

/** Native YBR_FULL_422 (PS3.3 C.7.6.3.1.2): Y1 Y2 Cb Cr per two pixels → Y Cb Cr per pixel. */
function expandYbrFull422(bytes: Uint8Array, layout: PixelLayout): DecodedFrame {
  const pixelCount = layout.rows * layout.columns;
  const samples = new Uint8Array(pixelCount * 3);
  for (let pair = 0; pair < pixelCount / 2; pair++) {
    const cb = bytes[pair * 4 + 2] ?? 0;
    const cr = bytes[pair * 4 + 3] ?? 0;
    for (let half = 0; half < 2; half++) {
      const pixel = pair * 2 + half;
      samples[pixel * 3] = bytes[pair * 4 + half] ?? 0;
      samples[pixel * 3 + 1] = cb;
      samples[pixel * 3 + 2] = cr;
    }
  }
  return { samples, planar: false, kind: 'words' };
}

// ---------------------------------------------------------------------------------------------
// Encapsulated pixel data, PS3.5 A.4: fragments → one byte array per frame

function encapsulatedFrames(
  dataSet: DataSet,
  element: Element,
  frameCount: number,
  source: string,
): Uint8Array[] {
  const fragments = element.fragments ?? [];
  if (element.encapsulatedPixelData !== true || fragments.length === 0) {
    throw new MedrobustError(
      'invalid-data',
      `${source}: the transfer syntax is compressed but Pixel Data holds no fragments`,
      {
        hint: 'the File Meta Information has the wrong Transfer Syntax UID, or the pixel data is cut off',
      },
    );
  }
  for (const fragment of fragments) {
    if (fragment.position + fragment.length > dataSet.byteArray.length) {
      throw new MedrobustError(
        'invalid-data',
        `${source}: a Pixel Data fragment runs past the end of the file; it is truncated`,
        {
          hint: 'copy the file again from its source; the end of it is missing',
        },
      );
    }
  }
  const fromFragments = (first: number, count: number): Uint8Array =>
    dicomParser.readEncapsulatedPixelDataFromFragments(dataSet, element, first, count);
  if (frameCount === 1) return [fromFragments(0, fragments.length)];
  const offsets = element.basicOffsetTable ?? [];
  if (offsets.length === frameCount) {
    return Array.from({ length: frameCount }, (_, frame) =>
      dicomParser.readEncapsulatedImageFrame(dataSet, element, frame),
    );
  }
  if (fragments.length === frameCount) return fragments.map((_, frame) => fromFragments(frame, 1));
  // No offset table and several fragments per frame: a frame starts with a JPEG SOI (FFD8) or a
  // JPEG 2000 SOC (FF4F) marker.
  const starts: number[] = [];
  fragments.forEach((fragment, index) => {
    const first = dataSet.byteArray[fragment.position];
    const second = dataSet.byteArray[fragment.position + 1];
    if (first === 0xff && (second === 0xd8 || second === 0x4f)) starts.push(index);
  });
  if (starts.length !== frameCount || starts[0] !== 0) {
    throw new MedrobustError(
      'invalid-data',
      `${source}: cannot split ${fragments.length} Pixel Data fragments into ${frameCount} frames (no offset table)`,
      { hint: `the encapsulated pixel data is malformed; ${conversionHint}` },
    );
  }
  return starts.map((start, index) => fromFragments(start, (starts[index + 1] ?? fragments.length) - start));
}

// ---------------------------------------------------------------------------------------------
// RLE Lossless, PS3.5 Annex G

/**
 * Decodes one RLE Lossless frame (PS3.5 Annex G). The frame starts with a 64-byte header: the
 * number of segments (samples per pixel × bytes per sample) and 15 segment offsets, all 32-bit
 * little endian. Each segment is PackBits-coded (G.3.1: a header byte n ≥ 0 copies the next n + 1
 * bytes, −127 ≤ n ≤ −1 repeats the next byte 1 − n times, −128 is skipped) and holds one byte of one
 * sample for every pixel, most significant byte first (G.2). The result is pixel-interleaved
 * whatever Planar Configuration says (G.2: RLE data is always by plane; the attribute is ignored).
 */
function decodeRleFrame(frame: Uint8Array, layout: PixelLayout, source: string): DecodedFrame {
  const invalid = (what: string): MedrobustError =>
    new MedrobustError('invalid-data', `${source}: RLE data is malformed (${what})`, {
      hint: 'the file is corrupt; copy it again from its source, or decompress it with `dcmdrle` to find out more',
    });
  if (layout.bitsAllocated === 1) {
    throw new MedrobustError('unsupported', `${source}: RLE with Bits Allocated 1 is not supported`, {
      hint: conversionHint,
    });
  }
  if (frame.length < 64) throw invalid(`the frame has ${frame.length} bytes, fewer than its 64-byte header`);
  const header = new DataView(frame.buffer, frame.byteOffset, 64);
  const bytesPerSample = layout.bitsAllocated / 8;
  const segmentCount = header.getUint32(0, true);
  const expectedSegments = layout.samplesPerPixel * bytesPerSample;
  if (segmentCount !== expectedSegments) {
    throw invalid(
      `${segmentCount} segments, expected ${layout.samplesPerPixel} samples × ${bytesPerSample} bytes = ${expectedSegments}`,
    );
  }
  const pixelCount = layout.rows * layout.columns;
  const samplesPerPixel = layout.samplesPerPixel;
  const samples =
    bytesPerSample === 1
      ? new Uint8Array(pixelCount * samplesPerPixel)
      : bytesPerSample === 2
        ? new Uint16Array(pixelCount * samplesPerPixel)
        : new Uint32Array(pixelCount * samplesPerPixel);
  const segment = new Uint8Array(pixelCount);
  for (let segmentIndex = 0; segmentIndex < segmentCount; segmentIndex++) {
    const start = header.getUint32(4 + 4 * segmentIndex, true);
    const end = segmentIndex + 1 < segmentCount ? header.getUint32(8 + 4 * segmentIndex, true) : frame.length;
    if (start < 64 || end < start || end > frame.length) {
      throw invalid(`segment ${segmentIndex} spans bytes ${start}–${end} of a ${frame.length}-byte frame`);
    }
    const written = unpackBitsSegment(frame, start, end, segment);
    if (written < pixelCount) {
      throw invalid(
        `segment ${segmentIndex} decodes to ${written} bytes, expected ${pixelCount} (rows × columns)`,
      );
    }
    const sample = Math.floor(segmentIndex / bytesPerSample);
    const weight = 2 ** (8 * (bytesPerSample - 1 - (segmentIndex % bytesPerSample)));
    for (let pixel = 0; pixel < pixelCount; pixel++) {
      const index = pixel * samplesPerPixel + sample;
      samples[index] = (samples[index] ?? 0) + (segment[pixel] ?? 0) * weight;
    }
  }
  return { samples, planar: false, kind: 'words' };
}

/** PackBits (PS3.5 G.3.1) from `frame[start, end)` into `output`; returns the bytes written. */
function unpackBitsSegment(frame: Uint8Array, start: number, end: number, output: Uint8Array): number {
  let input = start;
  let written = 0;
  while (input < end && written < output.length) {
    const header = frame[input++] ?? 0;
    if (header < 128) {
      const count = Math.min(header + 1, end - input, output.length - written);
      output.set(frame.subarray(input, input + count), written);
      input += header + 1;
      written += count;
    } else if (header > 128) {
      if (input >= end) break;
      const count = Math.min(257 - header, output.length - written);
      output.fill(frame[input++] ?? 0, written, written + count);
      written += count;
    }
  }
  return written;
}

// ---------------------------------------------------------------------------------------------
// Codec frames

type CodecEncoding = 'jpeg-baseline' | 'jpeg-lossless' | 'jpeg-ls' | 'jpeg-2000';
type FrameDecoder = (frame: Uint8Array, layout: PixelLayout, source: string) => Promise<DecodedFrame>;

const codecFrameDecoders: Readonly<Record<CodecEncoding, FrameDecoder>> = Object.freeze({
  'jpeg-baseline': decodeJpegBaselineFrame,
  'jpeg-lossless': decodeJpegLosslessFrame,
  'jpeg-ls': decodeJpegLsFrame,
  'jpeg-2000': decodeJpeg2000Frame,
});

/** The photometric interpretation of codec output (PS3.5 §8.2.1, §8.2.4, §8.2.5). */
function photometricAfterCodec(encoding: CodecEncoding, layout: PixelLayout): string {
  if (layout.samplesPerPixel !== 3) return layout.photometricInterpretation;
  // libjpeg converts YCbCr JPEG to RGB; OpenJPEG applies the inverse multiple-component transform
  // (reversible for YBR_RCT, irreversible for YBR_ICT).
  if (encoding === 'jpeg-baseline') return 'RGB';
  if (encoding === 'jpeg-2000' && ['YBR_RCT', 'YBR_ICT'].includes(layout.photometricInterpretation))
    return 'RGB';
  return layout.photometricInterpretation;
}

function codecFailure(source: string, codec: string, error: unknown): MedrobustError {
  const errors = codecMessages.filter((message) => /error/i.test(message)).map((message) => message.trim());
  const detail = [describe(error), ...errors].filter((part) => part.length > 0).join('; ');
  return new MedrobustError('invalid-data', `${source}: the ${codec} decoder failed (${detail})`, {
    hint: `the compressed pixel data is corrupt or uses a feature the decoder lacks; ${conversionHint}`,
    cause: error,
  });
}

function checkFrameInfo(
  source: string,
  codec: string,
  info: { width: number; height: number; componentCount: number },
  layout: PixelLayout,
): void {
  if (
    info.width !== layout.columns ||
    info.height !== layout.rows ||
    info.componentCount !== layout.samplesPerPixel
  ) {
    throw new MedrobustError(
      'invalid-data',
      `${source}: the ${codec} stream is ${info.width} × ${info.height} with ${info.componentCount} component(s), ` +
        `but the header says ${layout.columns} × ${layout.rows} with ${layout.samplesPerPixel}`,
      { hint: 'the DICOM attributes and the compressed stream disagree; the file is corrupt' },
    );
  }
}

/** Little-endian 16-bit samples from a byte copy of codec memory. */
function words16(bytes: Uint8Array, signed: boolean): Int16Array | Uint16Array {
  const copy = bytes.slice();
  return signed
    ? new Int16Array(copy.buffer, 0, copy.length >> 1)
    : new Uint16Array(copy.buffer, 0, copy.length >> 1);
}

/** What the header segments of a JPEG stream (ITU-T T.81 B.2) say before the first scan. */
interface JpegHeader {
  precision?: number;
  componentIds: number[];
  /** An APP0 "JFIF" or APP14 "Adobe" segment, either of which fixes the colour space. */
  colourMarker: boolean;
}

function readJpegHeader(frame: Uint8Array): JpegHeader {
  const header: JpegHeader = { componentIds: [], colourMarker: false };
  let index = 2;
  while (index + 4 <= frame.length && frame[index] === 0xff) {
    const marker = frame[index + 1] ?? 0;
    if (marker === 0xff) {
      index++;
      continue;
    }
    const length = ((frame[index + 2] ?? 0) << 8) | (frame[index + 3] ?? 0);
    const segment = frame.subarray(index + 4, index + 2 + length);
    const label = String.fromCharCode(...segment.subarray(0, 5));
    if ((marker === 0xe0 && label === 'JFIF\0') || (marker === 0xee && label === 'Adobe'))
      header.colourMarker = true;
    const isStartOfFrame =
      marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isStartOfFrame) {
      if (segment[0] !== undefined) header.precision = segment[0];
      const components = segment[5] ?? 0;
      for (let component = 0; component < components; component++) {
        header.componentIds.push(segment[6 + 3 * component] ?? 0);
      }
    }
    if (marker === 0xda) break;
    index += 2 + length;
  }
  return header;
}

/**
 * An APP14 "Adobe" segment with transform 0 (no colour transform), inserted after SOI when a
 * 3-component stream in an RGB image carries no JFIF or Adobe marker and component ids other than
 * 1-2-3 (JFIF's YCbCr) or R-G-B. libjpeg guesses YCbCr for such streams, but DICOM says RGB and the
 * encoders that write them (whole-slide scanners) did not transform: pydicom's
 * SC_jpeg_no_color_transform.dcm is one.
 */
const adobeNoTransform = new Uint8Array([
  0xff, 0xee, 0x00, 0x0e, 0x41, 0x64, 0x6f, 0x62, 0x65, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00,
]);

function withColourSpaceFixed(frame: Uint8Array, header: JpegHeader, layout: PixelLayout): Uint8Array {
  const ids = header.componentIds.join(',');
  const ambiguous = !header.colourMarker && ids !== '1,2,3' && ids !== '82,71,66';
  if (layout.photometricInterpretation !== 'RGB' || header.componentIds.length !== 3 || !ambiguous)
    return frame;
  const fixed = new Uint8Array(frame.length + adobeNoTransform.length);
  fixed.set(frame.subarray(0, 2), 0);
  fixed.set(adobeNoTransform, 2);
  fixed.set(frame.subarray(2), 2 + adobeNoTransform.length);
  return fixed;
}

async function decodeJpegBaselineFrame(
  frame: Uint8Array,
  layout: PixelLayout,
  source: string,
): Promise<DecodedFrame> {
  const header = readJpegHeader(frame);
  if (header.precision !== undefined && header.precision > 8) {
    throw new MedrobustError(
      'unsupported',
      `${source}: ${header.precision}-bit lossy JPEG (JPEG Extended, process 4) is not supported; the bundled libjpeg-turbo decodes 8-bit JPEG only`,
      { hint: `${conversionHint}; supported: ${supportedTransferSyntaxes.join('; ')}` },
    );
  }
  const stream = withColourSpaceFixed(frame, header, layout);
  const codec = await loadLibJpegTurbo();
  const decoder = new codec.JPEGDecoder();
  try {
    codecMessages.length = 0;
    decoder.getEncodedBuffer(stream.length).set(stream);
    decoder.decode();
    const info = decoder.getFrameInfo();
    checkFrameInfo(source, 'JPEG', info, layout);
    return { samples: decoder.getDecodedBuffer().slice(), planar: false, kind: 'samples' };
  } catch (error) {
    if (error instanceof MedrobustError) throw error;
    forgetCodecs();
    throw codecFailure(source, 'JPEG (libjpeg-turbo)', error);
  } finally {
    decoder.delete();
  }
}

async function decodeJpegLosslessFrame(
  frame: Uint8Array,
  layout: PixelLayout,
  source: string,
): Promise<DecodedFrame> {
  const { Decoder } = await import('jpeg-lossless-decoder-js');
  const copy = frame.slice();
  try {
    const decoder = new Decoder();
    const samples = decoder.decode(copy.buffer, 0, copy.length, layout.bitsAllocated > 8 ? 2 : 1);
    checkFrameInfo(
      source,
      'JPEG lossless',
      { width: decoder.xDim, height: decoder.yDim, componentCount: decoder.numComp },
      layout,
    );
    return { samples, planar: false, kind: 'samples' };
  } catch (error) {
    if (error instanceof MedrobustError) throw error;
    throw codecFailure(source, 'JPEG lossless', error);
  }
}

async function decodeJpegLsFrame(
  frame: Uint8Array,
  layout: PixelLayout,
  source: string,
): Promise<DecodedFrame> {
  const codec = await loadCharLS();
  const decoder = new codec.JpegLSDecoder();
  try {
    codecMessages.length = 0;
    decoder.getEncodedBuffer(frame.length).set(frame);
    decoder.decode();
    const info = decoder.getFrameInfo();
    checkFrameInfo(source, 'JPEG-LS', info, layout);
    const decoded = decoder.getDecodedBuffer();
    const samples = info.bitsPerSample > 8 ? words16(decoded, false) : decoded.slice();
    // CharLS returns interleave mode "none" by plane and "line"/"sample" by pixel.
    return { samples, planar: decoder.getInterleaveMode() === 0 && info.componentCount > 1, kind: 'samples' };
  } catch (error) {
    if (error instanceof MedrobustError) throw error;
    forgetCodecs();
    throw codecFailure(source, 'JPEG-LS (CharLS)', error);
  } finally {
    decoder.delete();
  }
}

/**
 * JPEG 2000 samples carry their own precision and signedness, which OpenJPEG applies, so they are
 * taken as final values. One exception, as in pydicom's J2K corrections: unsigned samples in an
 * image whose Pixel Representation is 1 are two's complement written with the wrong sign flag
 * (pydicom's J2K_pixelrep_mismatch.dcm), so they are sign-extended from the stream's precision.
 */
async function decodeJpeg2000Frame(
  frame: Uint8Array,
  layout: PixelLayout,
  source: string,
): Promise<DecodedFrame> {
  const codec = await loadOpenJpeg();
  const decoder = new codec.J2KDecoder();
  try {
    codecMessages.length = 0;
    decoder.getEncodedBuffer(frame.length).set(frame);
    decoder.decode();
    const info = decoder.getFrameInfo();
    if (info.width === 0 || codecMessages.some((message) => message.startsWith('[ERROR]'))) {
      throw new Error('no image decoded');
    }
    checkFrameInfo(source, 'JPEG 2000', info, layout);
    const decoded = decoder.getDecodedBuffer();
    const samples =
      info.bitsPerSample > 8
        ? words16(decoded, info.isSigned)
        : info.isSigned
          ? new Int8Array(decoded.slice().buffer)
          : decoded.slice();
    if (!info.isSigned && layout.pixelRepresentation === 1) {
      const range = 2 ** info.bitsPerSample;
      const signedSamples = Float64Array.from(samples, (value) =>
        value >= range / 2 ? value - range : value,
      );
      return { samples: signedSamples, planar: false, kind: 'values' };
    }
    return { samples, planar: false, kind: 'values' };
  } catch (error) {
    if (error instanceof MedrobustError) throw error;
    forgetCodecs();
    throw codecFailure(source, 'JPEG 2000 (OpenJPEG)', error);
  } finally {
    decoder.delete();
  }
}

// ---------------------------------------------------------------------------------------------
// To [0, 1]: colour conversion, VOI window, MONOCHROME1 inversion

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

// ---------------------------------------------------------------------------------------------

/** A readable description of anything thrown: Errors, strings and dicom-parser's {exception}. */
function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'string') return error;
  if (typeof error === 'object' && error !== null && 'exception' in error) return describe(error.exception);
  if (typeof error === 'number') return `codec error ${error}`;
  return String(error);
}
