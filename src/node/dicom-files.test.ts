import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dcmjs from 'dcmjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MedrobustError } from '../core/errors.ts';
import { readDicomFile, readDicomFolder } from './dicom-files.ts';

/** A 16-bit MONOCHROME2 DICOM file of `rows` × `columns` with values 0, 1, 2, … */
function dicomBytes(rows: number, columns: number): Uint8Array {
  const stored = new Uint16Array(rows * columns).map((_, index) => index);
  const dataset = {
    _meta: { TransferSyntaxUID: { Value: ['1.2.840.10008.1.2.1'] } },
    _vrMap: { PixelData: 'OW' },
    SOPClassUID: '1.2.840.10008.5.1.4.1.1.7',
    SOPInstanceUID: '2.25.302813137786398554742050926734630921604',
    Modality: 'MR',
    Rows: rows,
    Columns: columns,
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    BitsAllocated: 16,
    BitsStored: 16,
    HighBit: 15,
    PixelRepresentation: 0,
    PixelData: [stored.buffer],
  };
  return new Uint8Array(dcmjs.data.datasetToDict(dataset).write());
}

describe('DICOM folders', () => {
  let root: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'medrobust-dicom-'));
    const good = dicomBytes(4, 4);
    await mkdir(join(root, 'series', 'deeper'), { recursive: true });
    await writeFile(join(root, 'a.dcm'), good);
    // PACS exports often have no extension: recognised by "DICM" at byte 128.
    await writeFile(join(root, 'series', 'deeper', 'IM000001'), good);
    await writeFile(join(root, 'corrupt.dcm'), good.slice(0, good.length - 20));
    await writeFile(join(root, 'notes.dcm'), 'not an image\n'.repeat(20));
    // Neither .dcm nor DICM-signed: not looked at.
    await writeFile(join(root, 'README'), 'scans of phantom 3\n'.repeat(20));
    await writeFile(join(root, 'labels.csv'), 'file,label\na.dcm,1\n');
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('reads the good files recursively and lists the bad ones with reasons', async () => {
    const { images, failures } = await readDicomFolder(root, {});
    expect(images.map((entry) => entry.file)).toEqual([
      join(root, 'a.dcm'),
      join(root, 'series', 'deeper', 'IM000001'),
    ]);
    for (const { image, modality, frames } of images) {
      expect(image).toMatchObject({ rows: 4, columns: 4, channels: 1 });
      expect(modality).toBe('MR');
      expect(frames).toBe(1);
      expect(image.data[0]).toBe(0);
      expect(image.data[15]).toBe(1);
    }
    expect(failures.map((failure) => failure.file)).toEqual([
      join(root, 'corrupt.dcm'),
      join(root, 'notes.dcm'),
    ]);
    expect(failures[0]?.reason).toMatch(/corrupt\.dcm: .*(truncated|corrupt)/);
    expect(failures[1]?.reason).toMatch(/notes\.dcm: not a DICOM Part 10 file/);
    expect(failures[1]?.reason).toMatch(/fix: /);
  });

  it('checks that images have the requested size, and match each other without one', async () => {
    const sized = await readDicomFolder(root, { size: 4, window: 'none' });
    expect(sized.images).toHaveLength(2);
    const wrongSize = await readDicomFolder(root, { size: 8 });
    expect(wrongSize.images).toHaveLength(0);
    expect(
      wrongSize.failures.filter((failure) => /is 4 × 4, not 8 × 8; resize/.test(failure.reason)),
    ).toHaveLength(2);

    const mixed = await mkdtemp(join(tmpdir(), 'medrobust-dicom-mixed-'));
    try {
      await writeFile(join(mixed, '1.dcm'), dicomBytes(4, 4));
      await writeFile(join(mixed, '2.dcm'), dicomBytes(4, 6));
      const { images, failures } = await readDicomFolder(mixed);
      expect(images).toHaveLength(1);
      expect(failures).toHaveLength(1);
      expect(failures[0]?.reason).toMatch(
        /2\.dcm: is 4 × 6 × 1 .* but .*1\.dcm is 4 × 4 × 1; images in one folder must match/,
      );
    } finally {
      await rm(mixed, { recursive: true, force: true });
    }
  });

  it('reports a missing file or folder as not-found', async () => {
    await expect(readDicomFile(join(root, 'missing.dcm'))).rejects.toMatchObject({ code: 'not-found' });
    const error = await readDicomFolder(join(root, 'nowhere')).catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(MedrobustError);
    expect((error as MedrobustError).code).toBe('not-found');
    await expect(readDicomFolder(root, { size: 0 })).rejects.toMatchObject({ code: 'invalid-argument' });
  });

  it('reads one file', async () => {
    const image = await readDicomFile(join(root, 'a.dcm'));
    expect(image.rows).toBe(4);
    expect(image.pixels[5]).toBe(5);
  });
});
