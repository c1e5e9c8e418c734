/**
 * RLE Lossless (PS3.5 Annex G), decoded here because no maintained JavaScript package does it:
 * a 64-byte header of segment count and offsets (G.5), then one PackBits-coded segment (G.3.1) per
 * byte of each sample, most significant byte first (G.2).
 *
 * Input contract: the bytes of one encapsulated frame and the image's `PixelLayout` (Bits Allocated
 * 8, 16 or 32; 1 is 'unsupported'). Output contract: a pixel-interleaved `DecodedFrame` of kind
 * 'words'; a wrong segment count, segment offsets outside the frame or a short segment is
 * 'invalid-data'.
 */
import { MedrobustError } from '../../core/errors.ts';
import type { DecodedFrame, PixelLayout } from './pixel-layout.ts';
import { conversionHint } from './transfer-syntaxes.ts';

/**
 * Decodes one RLE Lossless frame (PS3.5 Annex G). The frame starts with a 64-byte header: the
 * number of segments (samples per pixel × bytes per sample) and 15 segment offsets, all 32-bit
 * little endian. Each segment is PackBits-coded (G.3.1: a header byte n ≥ 0 copies the next n + 1
 * bytes, −127 ≤ n ≤ −1 repeats the next byte 1 − n times, −128 is skipped) and holds one byte of one
 * sample for every pixel, most significant byte first (G.2). The result is pixel-interleaved
 * whatever Planar Configuration says (G.2: RLE data is always by plane; the attribute is ignored).
 */
export function decodeRleFrame(frame: Uint8Array, layout: PixelLayout, source: string): DecodedFrame {
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
