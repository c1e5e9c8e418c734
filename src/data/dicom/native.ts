/**
 * Native (uncompressed) pixel data, PS3.5 §8.1–8.2: 8-, 16- and 32-bit words in either byte order
 * (in Explicit VR Big Endian, OW data holding 8-bit samples comes byte-swapped in pairs, §8.1.1),
 * 1-bit data packed least significant bit first with frames not byte-aligned, and native
 * YBR_FULL_422 (PS3.3 C.7.6.3.1.2) expanded to one Y Cb Cr triple per pixel.
 *
 * Input contract: the Pixel Data element of a data set whose transfer syntax is native, and its
 * checked `PixelLayout`. Output contract: one `DecodedFrame` of kind 'words' per frame (by plane
 * when Planar Configuration is 1), and the photometric interpretation of those samples; Pixel Data
 * shorter than the layout needs is 'invalid-data' (truncated).
 */
import type { DataSet, Element } from 'dicom-parser';
import { MedrobustError } from '../../core/errors.ts';
import type { DecodedFrame, PixelLayout } from './pixel-layout.ts';
import { conversionHint } from './transfer-syntaxes.ts';

export function readNativeFrames(
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
export function nativeFrame(
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
