/**
 * Compressed frames through third-party decoders: the cornerstone WebAssembly codecs
 * (libjpeg-turbo 8-bit: JPEG baseline and extended 8-bit, ITU-T T.81 / PS3.5 §8.2.1; CharLS:
 * JPEG-LS, ISO/IEC 14495-1 / PS3.5 §8.2.3; OpenJPEG: JPEG 2000 and High-Throughput JPEG 2000,
 * ISO/IEC 15444-1 and -15 / PS3.5 §8.2.4 and §8.2.6) and jpeg-lossless-decoder-js (JPEG lossless,
 * process 14, PS3.5 §8.2.1). The codecs load on first use; what they print is captured for error
 * messages. A 3-component RGB JPEG stream with no JFIF or Adobe marker and ambiguous component ids
 * gets an Adobe "no transform" marker so that libjpeg does not convert it from YCbCr.
 * Not decoded: 12-bit lossy JPEG (the libjpeg-turbo build is 8-bit only).
 *
 * Input contract: the bytes of one encapsulated frame and the image's `PixelLayout`. Output
 * contract: a pixel-interleaved `DecodedFrame` (by plane for JPEG-LS interleave mode "none") of kind
 * 'samples' (right-aligned, still to be masked and sign-extended) or 'values' (JPEG 2000, final);
 * a stream whose size or component count disagrees with the header, or a decoder failure, is
 * 'invalid-data'; `photometricAfterCodec` gives the photometric interpretation of the output.
 */
import { MedrobustError } from '../../core/errors.ts';
import { describe } from './describe-error.ts';
import type { DecodedFrame, PixelLayout } from './pixel-layout.ts';
import { conversionHint, supportedTransferSyntaxes } from './transfer-syntaxes.ts';

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
// Codec frames

export type CodecEncoding = 'jpeg-baseline' | 'jpeg-lossless' | 'jpeg-ls' | 'jpeg-2000';
type FrameDecoder = (frame: Uint8Array, layout: PixelLayout, source: string) => Promise<DecodedFrame>;

export const codecFrameDecoders: Readonly<Record<CodecEncoding, FrameDecoder>> = Object.freeze({
  'jpeg-baseline': decodeJpegBaselineFrame,
  'jpeg-lossless': decodeJpegLosslessFrame,
  'jpeg-ls': decodeJpegLsFrame,
  'jpeg-2000': decodeJpeg2000Frame,
});

/** The photometric interpretation of codec output (PS3.5 §8.2.1, §8.2.4, §8.2.5). */
export function photometricAfterCodec(encoding: CodecEncoding, layout: PixelLayout): string {
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
