/**
 * Encapsulated pixel data, PS3.5 A.4: the Pixel Data fragments → one byte array per frame, using
 * the Basic Offset Table when it has one entry per frame, one fragment per frame when the counts
 * match, and otherwise the JPEG SOI (FFD8) or JPEG 2000 SOC (FF4F) marker that opens each frame.
 *
 * Input contract: the Pixel Data element of a data set whose transfer syntax is encapsulated, and
 * Number of Frames. Output contract: `frameCount` byte arrays, or an 'invalid-data' MedrobustError
 * when there are no fragments, a fragment runs past the end of the file, or the fragments cannot be
 * split into frames.
 */
import type { DataSet, Element } from 'dicom-parser';
import dicomParser from 'dicom-parser';
import { MedrobustError } from '../../core/errors.ts';
import { conversionHint } from './transfer-syntaxes.ts';

export function encapsulatedFrames(
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
