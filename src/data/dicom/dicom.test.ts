import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import createCharLS, { type CharLSFullModule } from '@cornerstonejs/codec-charls/wasmjs';
import dcmjs, { type NaturalizedDataset } from 'dcmjs';
import { describe, expect, it } from 'vitest';
import { MedrobustError } from '../../core/errors.ts';
import { type DicomImage, dicomToUnitImage, readDicom } from './index.ts';

const syntaxes = {
  implicitLittle: '1.2.840.10008.1.2',
  explicitLittle: '1.2.840.10008.1.2.1',
  rle: '1.2.840.10008.1.2.5',
  encapsulatedUncompressed: '1.2.840.10008.1.2.1.98',
  htj2kLossless: '1.2.840.10008.1.2.4.201',
  jpegLsLossless: '1.2.840.10008.1.2.4.80',
  jpegLsNearLossless: '1.2.840.10008.1.2.4.81',
  jpegXl: '1.2.840.10008.1.2.4.112',
} as const;

/** A DICOM Part 10 file written by dcmjs: a secondary-capture header + `attributes` + pixel data. */
function writeDicom(
  attributes: NaturalizedDataset,
  pixelData: ArrayBuffer | ArrayBuffer[],
  transferSyntaxUid: string = syntaxes.explicitLittle,
): Uint8Array {
  const dataset: NaturalizedDataset = {
    _meta: { TransferSyntaxUID: { Value: [transferSyntaxUid] } },
    _vrMap: { PixelData: attributes.BitsAllocated === 8 ? 'OB' : 'OW' },
    SOPClassUID: '1.2.840.10008.5.1.4.1.1.7',
    SOPInstanceUID: '2.25.302813137786398554742050926734630921603',
    Modality: 'OT',
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    PixelRepresentation: 0,
    ...attributes,
    PixelData: Array.isArray(pixelData) ? pixelData : [pixelData],
  };
  return new Uint8Array(dcmjs.data.datasetToDict(dataset).write());
}

const grey16 = { BitsAllocated: 16, BitsStored: 16, HighBit: 15 };

async function expectFailure(
  promise: Promise<unknown>,
  code: string,
  message: RegExp,
): Promise<MedrobustError> {
  const error = await promise.then(
    () => undefined,
    (failure: unknown) => failure,
  );
  expect(error).toBeInstanceOf(MedrobustError);
  const medrobustError = error as MedrobustError;
  expect(medrobustError.code).toBe(code);
  expect(medrobustError.message).toMatch(message);
  expect(medrobustError.hint ?? '').not.toBe('');
  return medrobustError;
}

/** PackBits (PS3.5 G.3.1) for test fixtures: runs of 3+ equal bytes as run packets, else literals. */
function packBits(bytes: readonly number[]): number[] {
  const out: number[] = [];
  let index = 0;
  while (index < bytes.length) {
    let run = 1;
    while (index + run < bytes.length && run < 128 && bytes[index + run] === bytes[index]) run++;
    if (run >= 3) {
      out.push(257 - run, bytes[index] ?? 0);
      index += run;
      continue;
    }
    const start = index;
    while (index < bytes.length && index - start < 128) {
      if (index + 2 < bytes.length && bytes[index] === bytes[index + 1] && bytes[index] === bytes[index + 2])
        break;
      index++;
    }
    out.push(index - start - 1, ...bytes.slice(start, index));
  }
  return out;
}

/** One RLE Lossless frame (PS3.5 Annex G) of pixel-interleaved `values`. */
function rleFrame(values: readonly number[], samplesPerPixel: number, bytesPerSample: number): ArrayBuffer {
  const segments: number[][] = [];
  for (let sample = 0; sample < samplesPerPixel; sample++) {
    for (let byte = 0; byte < bytesPerSample; byte++) {
      const shift = 8 * (bytesPerSample - 1 - byte);
      const plane = values
        .filter((_, index) => index % samplesPerPixel === sample)
        .map((value) => (value >>> shift) & 0xff);
      // A leading −128 (a no-op header, G.3.1) in the first segment exercises that branch.
      const segment = segments.length === 0 ? [0x80, ...packBits(plane)] : packBits(plane);
      if (segment.length % 2 === 1) segment.push(0);
      segments.push(segment);
    }
  }
  const header = new DataView(new ArrayBuffer(64));
  header.setUint32(0, segments.length, true);
  let offset = 64;
  segments.forEach((segment, index) => {
    header.setUint32(4 + 4 * index, offset, true);
    offset += segment.length;
  });
  const frame = new Uint8Array(offset);
  frame.set(new Uint8Array(header.buffer), 0);
  let position = 64;
  for (const segment of segments) {
    frame.set(segment, position);
    position += segment.length;
  }
  return frame.buffer;
}

let charLS: Promise<CharLSFullModule> | undefined;

/** One JPEG-LS frame from CharLS's encoder; samples by plane for interleave mode 0, else by pixel. */
async function jpegLsFrame(
  samples: Uint8Array | Uint16Array,
  frameInfo: { width: number; height: number; bitsPerSample: number; componentCount: number },
  interleaveMode: number,
  nearLossless = 0,
): Promise<ArrayBuffer> {
  charLS ??= createCharLS({ print: () => undefined, printErr: () => undefined });
  const encoder = new (await charLS).JpegLSEncoder();
  try {
    encoder
      .getDecodedBuffer(frameInfo)
      .set(new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength));
    encoder.setInterleaveMode(interleaveMode);
    encoder.setNearLossless(nearLossless);
    encoder.encode();
    return encoder.getEncodedBuffer().slice().buffer;
  } finally {
    encoder.delete();
  }
}

describe('readDicom on fixtures written with dcmjs', () => {
  it('applies Rescale Slope 2 and Intercept −1024 exactly to 16-bit MONOCHROME2', async () => {
    const stored = new Uint16Array([0, 1, 512, 1000, 4095, 65535]);
    const bytes = writeDicom(
      { ...grey16, Rows: 2, Columns: 3, RescaleSlope: 2, RescaleIntercept: -1024, Modality: 'CT' },
      stored.buffer,
    );
    const image = await readDicom(bytes, 'ct.dcm');
    expect(Array.from(image.pixels)).toEqual([-1024, -1022, 0, 976, 7166, 130046]);
    expect(image).toMatchObject({
      rows: 2,
      columns: 3,
      samplesPerPixel: 1,
      frames: 1,
      photometricInterpretation: 'MONOCHROME2',
      bitsAllocated: 16,
      bitsStored: 16,
      pixelRepresentation: 0,
      rescaleSlope: 2,
      rescaleIntercept: -1024,
      modality: 'CT',
      transferSyntaxUid: syntaxes.explicitLittle,
      transferSyntaxName: 'Explicit VR Little Endian',
    });
    expect(image.windowCenter).toBeUndefined();
  });

  it('reads Implicit VR Little Endian', async () => {
    const stored = new Uint16Array([7, 300, 65000, 2]);
    const bytes = writeDicom({ ...grey16, Rows: 2, Columns: 2 }, stored.buffer, syntaxes.implicitLittle);
    const image = await readDicom(bytes, 'implicit.dcm');
    expect(image.transferSyntaxName).toBe('Implicit VR Little Endian');
    expect(Array.from(image.pixels)).toEqual([7, 300, 65000, 2]);
  });

  it('reads signed 16-bit pixels', async () => {
    const stored = new Int16Array([-32768, -1024, -1, 0, 1, 32767]);
    const bytes = writeDicom({ ...grey16, Rows: 3, Columns: 2, PixelRepresentation: 1 }, stored.buffer);
    const image = await readDicom(bytes, 'signed.dcm');
    expect(Array.from(image.pixels)).toEqual([-32768, -1024, -1, 0, 1, 32767]);
  });

  it('masks Bits Stored 12 of 16 and sign-extends, ignoring bits above High Bit', async () => {
    // 0xF001 and 0x1800 carry junk above bit 11 (e.g. overlay bits): only bits 0–11 count.
    const words = new Uint16Array([0x0000, 0x07ff, 0x0800, 0x0fff, 0xf001, 0x1800]);
    const signed = writeDicom(
      { BitsAllocated: 16, BitsStored: 12, HighBit: 11, PixelRepresentation: 1, Rows: 2, Columns: 3 },
      words.buffer,
    );
    expect(Array.from((await readDicom(signed, 'signed12.dcm')).pixels)).toEqual([
      0, 2047, -2048, -1, 1, -2048,
    ]);
    const unsigned = writeDicom(
      { BitsAllocated: 16, BitsStored: 12, HighBit: 11, Rows: 2, Columns: 3 },
      words.buffer,
    );
    expect(Array.from((await readDicom(unsigned, 'unsigned12.dcm')).pixels)).toEqual([
      0, 2047, 2048, 4095, 1, 2048,
    ]);
  });

  it('reads 8-bit RGB, by pixel and by plane (Planar Configuration 1), to the same pixels', async () => {
    const red = [255, 0, 10, 200];
    const green = [0, 255, 20, 100];
    const blue = [0, 0, 30, 50];
    const interleaved = red.flatMap((value, index) => [value, green[index] ?? 0, blue[index] ?? 0]);
    const rgb = { BitsAllocated: 8, BitsStored: 8, HighBit: 7, Rows: 2, Columns: 2, SamplesPerPixel: 3 };
    const byPixel = writeDicom(
      { ...rgb, PhotometricInterpretation: 'RGB', PlanarConfiguration: 0 },
      new Uint8Array(interleaved).buffer,
    );
    const byPlane = writeDicom(
      { ...rgb, PhotometricInterpretation: 'RGB', PlanarConfiguration: 1 },
      new Uint8Array([...red, ...green, ...blue]).buffer,
    );
    const first = await readDicom(byPixel, 'rgb.dcm');
    const second = await readDicom(byPlane, 'rgb-planar.dcm');
    expect(Array.from(first.pixels)).toEqual(interleaved);
    expect(Array.from(second.pixels)).toEqual(interleaved);

    // 'auto' maps colour by the nominal range 0–255, not by the frame's min–max.
    const unit = dicomToUnitImage(first);
    expect(unit).toMatchObject({ rows: 2, columns: 2, channels: 3 });
    expect(Array.from(unit.data)).toEqual(interleaved.map((value) => Math.fround(value / 255)));
    const stretched = dicomToUnitImage(first, { window: 'none' });
    expect(stretched.data[0]).toBe(1);
    expect(stretched.data[1]).toBe(0);
  });

  it('inverts MONOCHROME1 so that larger values are brighter, as in MONOCHROME2', async () => {
    const stored = new Uint8Array([0, 100, 255, 50]);
    const attributes = { BitsAllocated: 8, BitsStored: 8, HighBit: 7, Rows: 2, Columns: 2 };
    const monochrome1 = await readDicom(
      writeDicom({ ...attributes, PhotometricInterpretation: 'MONOCHROME1' }, stored.buffer),
      'm1.dcm',
    );
    const monochrome2 = await readDicom(writeDicom(attributes, stored.buffer), 'm2.dcm');
    const inverted = dicomToUnitImage(monochrome1).data;
    const plain = dicomToUnitImage(monochrome2).data;
    // min–max (no window in the files): 0 → 0 and 255 → 1 in MONOCHROME2, the reverse in MONOCHROME1.
    expect(Array.from(plain)).toEqual(Array.from(stored, (value) => Math.fround(value / 255)));
    expect(inverted[0]).toBe(1);
    expect(inverted[2]).toBe(0);
    for (let index = 0; index < 4; index++) {
      expect(inverted[index]).toBeCloseTo(1 - (plain[index] ?? 0), 6);
    }
  });

  it("applies the file's window with the LINEAR function of PS3.3 C.11.2.1.2.1", async () => {
    // Modality values (stored − 1024): −160, 40, 100, 239, 240, −1024.
    const stored = new Uint16Array([864, 1064, 1124, 1263, 1264, 0]);
    const bytes = writeDicom(
      { ...grey16, Rows: 2, Columns: 3, RescaleIntercept: -1024, WindowCenter: 40, WindowWidth: 400 },
      stored.buffer,
    );
    const image = await readDicom(bytes, 'window.dcm');
    expect([image.windowCenter, image.windowWidth]).toEqual([40, 400]);
    const unit = dicomToUnitImage(image).data;
    // y = ((x − (c − 0.5)) / (w − 1) + 0.5), 0 at x ≤ c − 0.5 − (w − 1)/2 = −160, 1 above 239.
    const linear = (x: number): number => (x - 39.5) / 399 + 0.5;
    expect(unit[0]).toBe(0);
    expect(unit[1]).toBeCloseTo(linear(40), 6); // 0.501253…
    expect(unit[2]).toBeCloseTo(linear(100), 6); // 0.651629…
    expect(unit[3]).toBeCloseTo(1, 6);
    expect(unit[4]).toBe(1);
    expect(unit[5]).toBe(0);
    // An explicit window replaces the file's; 'none' is min–max over the frame.
    const explicit = dicomToUnitImage(image, { window: { center: 100, width: 201 } }).data;
    expect(explicit[2]).toBeCloseTo((100 - 99.5) / 200 + 0.5, 6);
    const minMax = dicomToUnitImage(image, { window: 'none' }).data;
    expect(minMax[5]).toBe(0);
    expect(minMax[4]).toBe(1);
    expect(minMax[1]).toBeCloseTo((40 + 1024) / (240 + 1024), 6);
  });

  it('uses the SIGMOID VOI function when the file names it (PS3.3 C.11.2.1.3.1)', async () => {
    const stored = new Uint16Array([40, 140]);
    const bytes = writeDicom(
      { ...grey16, Rows: 1, Columns: 2, WindowCenter: 40, WindowWidth: 400, VOILUTFunction: 'SIGMOID' },
      stored.buffer,
    );
    const unit = dicomToUnitImage(await readDicom(bytes, 'sigmoid.dcm')).data;
    expect(unit[0]).toBeCloseTo(0.5, 6);
    expect(unit[1]).toBeCloseTo(1 / (1 + Math.exp((-4 * 100) / 400)), 6);
  });

  it('reads multi-frame native data; the unit image is frame 0', async () => {
    const stored = new Uint16Array([1, 2, 3, 4, 10, 20, 30, 40]);
    const bytes = writeDicom({ ...grey16, Rows: 2, Columns: 2, NumberOfFrames: 2 }, stored.buffer);
    const image = await readDicom(bytes, 'frames.dcm');
    expect(image.frames).toBe(2);
    expect(Array.from(image.pixels)).toEqual([1, 2, 3, 4, 10, 20, 30, 40]);
    expect(Array.from(dicomToUnitImage(image, { window: 'none' }).data)).toEqual(
      [0, 1 / 3, 2 / 3, 1].map(Math.fround),
    );
  });

  it('reads Encapsulated Uncompressed Explicit VR Little Endian (one fragment per frame)', async () => {
    const frames = [new Int16Array([-3, 2, 1, 0]), new Int16Array([9, -9, 8, -8])];
    const bytes = writeDicom(
      { ...grey16, Rows: 2, Columns: 2, NumberOfFrames: 2, PixelRepresentation: 1 },
      frames.map((frame) => frame.buffer),
      syntaxes.encapsulatedUncompressed,
    );
    const image = await readDicom(bytes, 'encapsulated.dcm');
    expect(image.transferSyntaxName).toBe('Encapsulated Uncompressed Explicit VR Little Endian');
    expect(Array.from(image.pixels)).toEqual([-3, 2, 1, 0, 9, -9, 8, -8]);
  });

  it('decodes RLE Lossless (PS3.5 Annex G): 16-bit signed multi-frame and 8-bit RGB', async () => {
    const frames = [
      [0, 0, 0, 0, 0, -5, 300, 300, 300, 300, -32768, 32767],
      [7, 7, 7, 7, 7, 7, 1, 2, 3, 4, 5, 6],
    ];
    const bytes = writeDicom(
      { ...grey16, Rows: 3, Columns: 4, NumberOfFrames: 2, PixelRepresentation: 1 },
      frames.map((frame) => rleFrame(frame, 1, 2)),
      syntaxes.rle,
    );
    const image = await readDicom(bytes, 'rle16.dcm');
    expect(image.transferSyntaxName).toBe('RLE Lossless');
    expect(Array.from(image.pixels)).toEqual(frames.flat());

    const rgb = [255, 0, 0, 255, 0, 0, 255, 0, 0, 1, 2, 3, 9, 9, 9, 9, 9, 9];
    const colour = await readDicom(
      writeDicom(
        {
          BitsAllocated: 8,
          BitsStored: 8,
          HighBit: 7,
          Rows: 2,
          Columns: 3,
          SamplesPerPixel: 3,
          PhotometricInterpretation: 'RGB',
          PlanarConfiguration: 1,
        },
        rleFrame(rgb, 3, 1),
        syntaxes.rle,
      ),
      'rle-rgb.dcm',
    );
    expect(Array.from(colour.pixels)).toEqual(rgb);
  });

  it('rejects RLE frames whose header or segments are wrong with invalid-data', async () => {
    const good = new Uint8Array(rleFrame([1, 2, 3, 4], 1, 2));
    const wrongCount = good.slice();
    new DataView(wrongCount.buffer).setUint32(0, 3, true);
    const attributes = { ...grey16, Rows: 2, Columns: 2 };
    await expectFailure(
      readDicom(writeDicom(attributes, wrongCount.buffer, syntaxes.rle), 'bad-rle.dcm'),
      'invalid-data',
      /bad-rle\.dcm: frame 0: RLE data is malformed \(3 segments, expected 1 samples × 2 bytes = 2\)/,
    );
    const short = good.slice(0, good.length - 4);
    await expectFailure(
      readDicom(writeDicom(attributes, short.buffer, syntaxes.rle), 'short-rle.dcm'),
      'invalid-data',
      /short-rle\.dcm: frame 0: RLE data is malformed \(segment 1 decodes to \d bytes, expected 4/,
    );
  });

  it('decodes colour JPEG-LS in all three interleave modes to the same pixels', async () => {
    const width = 5;
    const height = 4;
    const byPixel = new Uint8Array(width * height * 3).map(
      (_, index) => (index * 37 + (index % 3) * 90) % 256,
    );
    const byPlane = new Uint8Array(byPixel.length);
    for (let index = 0; index < byPixel.length; index++) {
      byPlane[(index % 3) * width * height + Math.floor(index / 3)] = byPixel[index] ?? 0;
    }
    const frameInfo = { width, height, bitsPerSample: 8, componentCount: 3 };
    const attributes = { BitsAllocated: 8, BitsStored: 8, HighBit: 7, Rows: height, Columns: width };
    for (const [mode, input] of [
      [0, byPlane],
      [1, byPixel],
      [2, byPixel],
    ] as const) {
      const bytes = writeDicom(
        { ...attributes, SamplesPerPixel: 3, PhotometricInterpretation: 'RGB', PlanarConfiguration: 0 },
        await jpegLsFrame(input, frameInfo, mode),
        syntaxes.jpegLsLossless,
      );
      const image = await readDicom(bytes, `jpeg-ls-mode-${mode}.dcm`);
      expect({ mode, pixels: Array.from(image.pixels) }).toEqual({ mode, pixels: Array.from(byPixel) });
    }
  });

  it('sign-extends signed 12-bit JPEG-LS samples, and decodes near-lossless JPEG-LS within NEAR', async () => {
    const values = [-2048, -1000, -1, 0, 1, 999, 2047, 5];
    const frameInfo = { width: 4, height: 2, bitsPerSample: 12, componentCount: 1 };
    const words = new Uint16Array(values.map((value) => value & 0x0fff));
    const attributes = {
      BitsAllocated: 16,
      BitsStored: 12,
      HighBit: 11,
      Rows: 2,
      Columns: 4,
      PixelRepresentation: 1,
    };
    const lossless = writeDicom(attributes, await jpegLsFrame(words, frameInfo, 0), syntaxes.jpegLsLossless);
    expect(Array.from((await readDicom(lossless, 'jpeg-ls-signed.dcm')).pixels)).toEqual(values);

    const ramp = new Uint16Array(64).map((_, index) => index * 61);
    const near = writeDicom(
      { ...attributes, PixelRepresentation: 0, Rows: 8, Columns: 8 },
      await jpegLsFrame(ramp, { ...frameInfo, width: 8, height: 8 }, 0, 2),
      syntaxes.jpegLsNearLossless,
    );
    const image = await readDicom(near, 'jpeg-ls-near.dcm');
    expect(image.transferSyntaxName).toBe('JPEG-LS Lossy (Near-Lossless) Image Compression');
    image.pixels.forEach((value, index) => {
      expect(Math.abs(value - (ramp[index] ?? 0))).toBeLessThanOrEqual(2);
    });
  });

  it('decodes High-Throughput JPEG 2000 with OpenJPEG', async () => {
    // A 16 × 16 12-bit unsigned image v(r, c) = (37r + 101c + 29 ((r c) mod 17)) mod 4096, compressed
    // reversibly with OpenJPH 0.9.0 (Debian openjph-tools): `ojph_compress -i img.pgm -o img.j2c -reversible true`.
    const codestream = Buffer.from(
      '/0//UQApQAAAAAAQAAAAEAAAAAAAAAAAAAAAEAAAABAAAAAAAAAAAAABCwEB/1AACAACAAAACP9SAAwAAgABAAUEBEAB/1wAEyBw' +
        'eHiAeHiAeHiAeHh4cHB4/2QAFgABT3BlbkpQSCBWZXIgMC45LjAu/5AACgAAAAABgwAB/5PAATC1+QMHdAAAwACaAASwABKAXvgD' +
        'B3QAzgIHdADFAQd0AMAAqYABUwABUF7cwVb8AQK0AF5q7oT+AMa0ADA5OwsAwzQAwAC2IABa8AAtkCeSTB8IknjTySpGBgOhAGoh' +
        'CypEECOXACdMkh2sZmAwCMBJGhCKByQHKEIQA5cAUTgdNCAqGSr+0TClwgQmTDUBgo4gALc4AMABekwAF6VAALvwOL2ZeniQeXBn' +
        'ZuDyeOrzemjq6VGRkweKuMRdd92pB9iZac3MYQRgz34mj1yue9CkRzPuTLaAgMKBjpMl+RF3ksjHCEDZEQ9xAbhieLxVQY49hp0H' +
        'F5Mnx7N+B+x6rm/10DNTT/1OHg1AzI4Mjf0bkoe3nlXvtvVQNIRjtnCr/oBhHYEPl1ySTvECi6MIgKqMY1QB4uzZs6eLW7+eOPaw' +
        'DyeuHvX01LNXL1zs2MWJC8eeXT1dHPt67NmzFxeHgU+hQbHa+vnu6enkj6MAQHUSD3UB/9k=',
      'base64',
    );
    const bytes = writeDicom(
      { BitsAllocated: 16, BitsStored: 12, HighBit: 11, Rows: 16, Columns: 16 },
      new Uint8Array(codestream).buffer,
      syntaxes.htj2kLossless,
    );
    const image = await readDicom(bytes, 'htj2k.dcm');
    const expected = Array.from({ length: 256 }, (_, index) => {
      const row = Math.floor(index / 16);
      const column = index % 16;
      return (37 * row + 101 * column + 29 * ((row * column) % 17)) % 4096;
    });
    expect(image.transferSyntaxName).toBe('High-Throughput JPEG 2000 Image Compression (Lossless Only)');
    expect(Array.from(image.pixels)).toEqual(expected);
  });
});

describe('readDicom failures', () => {
  const small = (): Uint8Array => {
    const stored = new Uint16Array(64 * 64).map((_, index) => index);
    return writeDicom({ ...grey16, Rows: 64, Columns: 64 }, stored.buffer);
  };

  it('names an unknown transfer syntax, lists the supported ones and suggests converting', async () => {
    const bytes = writeDicom(
      { ...grey16, Rows: 1, Columns: 2 },
      new Uint16Array([1, 2]).buffer,
      '1.2.3.4.5.6.7.8',
    );
    const error = await expectFailure(
      readDicom(bytes, 'made-up.dcm'),
      'unsupported',
      /^made-up\.dcm: transfer syntax 1\.2\.3\.4\.5\.6\.7\.8 \(unknown transfer syntax\) is not supported$/,
    );
    expect(error.hint).toMatch(/Explicit VR Little Endian \(1\.2\.840\.10008\.1\.2\.1\)/);
    expect(error.hint).toMatch(/JPEG-LS Lossless/);
    expect(error.hint).toMatch(/gdcmconv --raw/);
    expect(error.hint).toMatch(/dcmdjpeg/);
  });

  it('names a known but undecodable syntax (JPEG XL)', async () => {
    const bytes = writeDicom({ ...grey16, Rows: 1, Columns: 2 }, [new ArrayBuffer(8)], syntaxes.jpegXl);
    await expectFailure(
      readDicom(bytes, 'xl.dcm'),
      'unsupported',
      /xl\.dcm: transfer syntax 1\.2\.840\.10008\.1\.2\.4\.112 \(JPEG XL\) is not supported/,
    );
  });

  it('reports truncated files as invalid-data naming the file', async () => {
    const bytes = small();
    await expectFailure(
      readDicom(bytes.slice(0, bytes.length - 100), 'cut.dcm'),
      'invalid-data',
      /^cut\.dcm: /,
    );
    await expectFailure(
      readDicom(bytes.slice(0, 300), 'cut-header.dcm'),
      'invalid-data',
      /^cut-header\.dcm: /,
    );
    await expectFailure(
      readDicom(bytes.slice(0, 100), 'tiny.dcm'),
      'invalid-data',
      /tiny\.dcm: not a DICOM Part 10 file/,
    );
  });

  it('reports non-DICOM bytes and images without pixel data as invalid-data', async () => {
    const text = new TextEncoder().encode('patient,label\n'.repeat(40));
    await expectFailure(
      readDicom(text, 'labels.csv'),
      'invalid-data',
      /labels\.csv: not a DICOM Part 10 file \(no "DICM"/,
    );
    const noPixels = new Uint8Array(
      dcmjs.data
        .datasetToDict({
          _meta: { TransferSyntaxUID: { Value: [syntaxes.explicitLittle] } },
          SOPClassUID: '1.2.840.10008.5.1.4.1.1.88.11',
          SOPInstanceUID: '2.25.1',
          Modality: 'SR',
        })
        .write(),
    );
    await expectFailure(readDicom(noPixels, 'report.dcm'), 'invalid-data', /report\.dcm: has no Pixel Data/);
  });

  it('reports pixel data shorter than the header promises as truncated', async () => {
    const bytes = writeDicom({ ...grey16, Rows: 4, Columns: 4 }, new Uint16Array(10).buffer);
    await expectFailure(
      readDicom(bytes, 'short.dcm'),
      'invalid-data',
      /short\.dcm: Pixel Data has 20 bytes.*need 32.*truncated/,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// pydicom's sample files (Debian python3-pydicom)

const samples = '/usr/lib/python3/dist-packages/pydicom/data/test_files';
const haveSamples = existsSync(join(samples, 'MR_small.dcm'));
const samplesTitle = haveSamples
  ? `pydicom sample files in ${samples}`
  : `pydicom sample files (skipped: ${samples} not found; apt-get install python3-pydicom to run these)`;

async function sample(name: string): Promise<DicomImage> {
  return readDicom(new Uint8Array(readFileSync(join(samples, name))), name);
}

interface Fingerprint {
  shape: number[];
  min: number;
  max: number;
  sum: number;
  checksum: number;
}

/**
 * count, min, max, sum and checksum Σ ((i mod 251) + 1) · vᵢ over the values in C order, all exact in
 * float64 for these integer images. Reference values below were computed once with pydicom 2.3.1
 * (Debian python3-pydicom; numpy 1.24.2, Pillow 9.4.0 for JPEG and JPEG 2000) in test_files/ by:
 *   /usr/bin/python3 -c "import pydicom, numpy as np, sys; ds = pydicom.dcmread(sys.argv[1]);
 *     a = ds.pixel_array.astype(np.float64) * float(ds.get('RescaleSlope', 1)) + float(ds.get('RescaleIntercept', 0));
 *     f = a.ravel(); w = np.arange(f.size) % 251 + 1;
 *     print(list(a.shape), f.min(), f.max(), f.sum(), (w * f).sum())" NAME.dcm
 * For JPEG with YBR_FULL(_422), where pydicom 2.3 returns YCbCr, `a` was
 * `pydicom.pixel_data_handlers.util.convert_color_space(ds.pixel_array, 'YBR_FULL', 'RGB')`.
 */
function fingerprint(image: DicomImage): Fingerprint {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let sum = 0;
  let checksum = 0;
  image.pixels.forEach((value, index) => {
    min = Math.min(min, value);
    max = Math.max(max, value);
    sum += value;
    checksum += ((index % 251) + 1) * value;
  });
  const shape = [image.frames, image.rows, image.columns, image.samplesPerPixel].filter(
    (extent, axis) => !((axis === 0 || axis === 3) && extent === 1),
  );
  return { shape, min, max, sum, checksum };
}

function meanAbsoluteDifference(left: Float32Array, right: Float32Array): number {
  expect(left.length).toBe(right.length);
  let total = 0;
  for (let index = 0; index < left.length; index++)
    total += Math.abs((left[index] ?? 0) - (right[index] ?? 0));
  return total / left.length;
}

describe(samplesTitle, () => {
  const references: Record<string, Fingerprint> = {
    'MR_small.dcm': { shape: [64, 64], min: 127, max: 2145, sum: 2125338, checksum: 264991985 },
    'CT_small.dcm': { shape: [128, 128], min: -896, max: 1167, sum: -1950906, checksum: -231699555 },
    'ExplVR_BigEnd.dcm': { shape: [60, 80, 3], min: 0, max: 255, sum: 2470716, checksum: 309427241 },
    'image_dfl.dcm': { shape: [512, 512], min: 0, max: 255, sum: 33322688, checksum: 4199268233 },
    'SC_rgb_rle_16bit_2frame.dcm': {
      shape: [2, 100, 100, 3],
      min: 0,
      max: 65535,
      sum: 1966050000,
      checksum: 247678306740,
    },
    'rtdose.dcm': { shape: [15, 10, 10], min: 795000, max: 1254000, sum: 1519910000, checksum: 189578659000 },
    'liver_1frame.dcm': { shape: [512, 512], min: 0, max: 1, sum: 36233, checksum: 4556061 },
    'SC_ybr_full_422_uncompressed.dcm': {
      shape: [100, 100, 3],
      min: 0,
      max: 255,
      sum: 3836400,
      checksum: 482404865,
    },
    '693_J2KI.dcm': { shape: [512, 512], min: -3995, max: 1812, sum: -270617240, checksum: -34217595654 },
    'JPEG2000.dcm': { shape: [1024, 256], min: -30, max: 245, sum: 3527976, checksum: 448826792 },
    'J2K_pixelrep_mismatch.dcm': {
      shape: [512, 512],
      min: -2000,
      max: 1896,
      sum: -172605258,
      checksum: -21722582935,
    },
    'SC_rgb_gdcm_KY.dcm': { shape: [100, 100, 3], min: 0, max: 255, sum: 3831000, checksum: 481785150 },
    'SC_rgb_dcmtk_+eb+cr.dcm': { shape: [100, 100, 3], min: 0, max: 255, sum: 3832200, checksum: 481940649 },
    'SC_jpeg_no_color_transform.dcm': {
      shape: [256, 256, 3],
      min: 134,
      max: 252,
      sum: 47966767,
      checksum: 6042241536,
    },
  };
  // convert_color_space(YBR_FULL → RGB) of pydicom's YCbCr output; see `fingerprint`.
  const rgbReferences: Record<string, Pick<Fingerprint, 'sum' | 'checksum'>> = {
    'SC_rgb_jpeg_dcmtk.dcm': { sum: 3832000, checksum: 481925584 },
    'SC_rgb_dcmtk_+eb+cy+np.dcm': { sum: 3826350, checksum: 481120775 },
  };

  it.skipIf(!haveSamples)(
    'uncompressed, deflated, big-endian, RLE and 1-bit files equal pydicom exactly',
    async () => {
      for (const name of [
        'MR_small.dcm', // Explicit VR Little Endian, signed 16-bit
        'CT_small.dcm', // Rescale Intercept −1024
        'ExplVR_BigEnd.dcm', // Explicit VR Big Endian, RGB, Planar Configuration 1
        'image_dfl.dcm', // Deflated Explicit VR Little Endian
        'SC_rgb_rle_16bit_2frame.dcm', // RLE, 16-bit RGB, 2 frames
        'rtdose.dcm', // Implicit VR Little Endian, 32-bit, 15 frames
        'liver_1frame.dcm', // Bits Allocated 1
        'SC_ybr_full_422_uncompressed.dcm', // native YBR_FULL_422, expanded to YBR_FULL
      ]) {
        expect({ name, ...fingerprint(await sample(name)) }).toEqual({ name, ...references[name] });
      }
    },
  );

  it.skipIf(!haveSamples)('every encoding of MR_small.dcm decodes to the same pixels', async () => {
    const original = (await sample('MR_small.dcm')).pixels;
    for (const name of [
      'MR_small_implicit.dcm',
      'MR_small_bigendian.dcm',
      'MR_small_expb.dcm',
      'MR_small_RLE.dcm',
      'MR_small_jpeg_ls_lossless.dcm', // JPEG-LS lossless (CharLS); pydicom here cannot decode it
      'MR_small_jp2klossless.dcm', // JPEG 2000 lossless (OpenJPEG)
    ]) {
      const image = await sample(name);
      expect({ name, equal: image.pixels.every((value, index) => value === original[index]) }).toEqual({
        name,
        equal: true,
      });
      expect(image.pixels.length).toBe(original.length);
    }
    expect((await sample('MR_small_jpeg_ls_lossless.dcm')).transferSyntaxName).toBe(
      'JPEG-LS Lossless Image Compression',
    );
  });

  it.skipIf(!haveSamples)('RLE equals the uncompressed original for 32-bit multi-frame data', async () => {
    const rle = await sample('rtdose_rle.dcm');
    const original = await sample('rtdose.dcm');
    expect(rle.frames).toBe(15);
    expect(Array.from(rle.pixels)).toEqual(Array.from(original.pixels));
  });

  it.skipIf(!haveSamples)(
    'JPEG 2000 (lossy, signed, RGB, Pixel Representation mismatch) equals pydicom',
    async () => {
      for (const name of [
        '693_J2KI.dcm',
        'JPEG2000.dcm',
        'J2K_pixelrep_mismatch.dcm',
        'SC_rgb_gdcm_KY.dcm',
      ]) {
        expect({ name, ...fingerprint(await sample(name)) }).toEqual({ name, ...references[name] });
      }
    },
  );

  it.skipIf(!haveSamples)('JPEG baseline equals pydicom, YCbCr streams after conversion to RGB', async () => {
    for (const name of ['SC_rgb_dcmtk_+eb+cr.dcm', 'SC_jpeg_no_color_transform.dcm']) {
      expect({ name, ...fingerprint(await sample(name)) }).toEqual({ name, ...references[name] });
    }
    for (const [name, reference] of Object.entries(rgbReferences)) {
      const image = await sample(name);
      expect(image.photometricInterpretation).toBe('RGB');
      expect(image.filePhotometricInterpretation).toMatch(/^YBR_FULL/);
      const { sum, checksum } = fingerprint(image);
      expect({ name, sum, checksum }).toEqual({ name, ...reference });
    }
  });

  it.skipIf(!haveSamples)('JPEG lossless (process 14) equals the RLE original', async () => {
    const jpeg = await sample('SC_rgb_jpeg_gdcm.dcm'); // pydicom here cannot decode it
    const rle = await sample('SC_rgb_rle.dcm');
    expect(jpeg.transferSyntaxUid).toBe('1.2.840.10008.1.2.4.70');
    expect(Array.from(jpeg.pixels)).toEqual(Array.from(rle.pixels));
  });

  it.skipIf(!haveSamples)('YBR_FULL_422 converts to RGB within rounding of pydicom', async () => {
    // Native YBR_FULL_422 in float against the lossless RGB original (SC_rgb_rle.dcm): the
    // sample's chroma pairs are equal, so only pydicom's uint8 rounding of YCbCr separates them.
    const ybr = dicomToUnitImage(await sample('SC_ybr_full_422_uncompressed.dcm'));
    const rgb = dicomToUnitImage(await sample('SC_rgb_rle.dcm'));
    expect(ybr.channels).toBe(3);
    expect(meanAbsoluteDifference(ybr.data, rgb.data) * 255).toBeLessThan(1);
    // The lossy JPEG YBR_FULL_422 sample against the same original.
    const jpeg = dicomToUnitImage(await sample('SC_rgb_dcmtk_+eb+cy+np.dcm'));
    expect(meanAbsoluteDifference(jpeg.data, rgb.data) * 255).toBeLessThan(4);
  });

  it.skipIf(!haveSamples)(
    '12-bit lossy JPEG is unsupported; truncated and corrupt samples are invalid-data',
    async () => {
      const error = await expectFailure(
        sample('JPGExtended.dcm'),
        'unsupported',
        /JPGExtended\.dcm: .*12-bit lossy JPEG/,
      );
      expect(error.hint).toMatch(/dcmdjpeg/);
      await expectFailure(sample('MR_truncated.dcm'), 'invalid-data', /^MR_truncated\.dcm: /);
      await expectFailure(
        sample('JPEG2000-embedded-sequence-delimiter.dcm'),
        'invalid-data',
        /JPEG 2000 \(OpenJPEG\) decoder failed .*\[ERROR\]/,
      );
      // A codec failure leaves the codec usable.
      expect((await sample('MR_small_jp2klossless.dcm')).rows).toBe(64);
    },
  );
});

const losslessSamples = 'node_modules/jpeg-lossless-decoder-js/tests/data';
const haveLosslessSamples = existsSync(join(losslessSamples, 'jpeg_lossless_sel7.dcm'));

describe('JPEG lossless predictors (jpeg-lossless-decoder-js test files)', () => {
  it.skipIf(!haveLosslessSamples)('selection values 1–7 of one 16-bit image decode identically', async () => {
    const decoded: Float32Array[] = [];
    for (let selection = 1; selection <= 7; selection++) {
      const name = `jpeg_lossless_sel${selection}.dcm`;
      const image = await readDicom(new Uint8Array(readFileSync(join(losslessSamples, name))), name);
      expect(image.transferSyntaxName).toBe('JPEG Lossless, Non-Hierarchical (Process 14)');
      decoded.push(image.pixels);
    }
    const first = decoded[0] as Float32Array;
    expect(first.length).toBe(256 * 256);
    for (const pixels of decoded) expect(pixels.every((value, index) => value === first[index])).toBe(true);
  });
});
