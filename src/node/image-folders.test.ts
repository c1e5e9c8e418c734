import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode } from 'fast-png';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MedrobustError } from '../core/errors.ts';
import { readCsvFolder, readImageFolder } from './image-folders.ts';

/** An 8-bit grey PNG of width × height filled by `value(x, y)`. */
function greyPng(width: number, height: number, value: (x: number, y: number) => number): Promise<Buffer> {
  const pixels = Buffer.alloc(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) pixels[y * width + x] = value(x, y);
  return sharp(pixels, { raw: { width, height, channels: 1 } })
    .png()
    .toBuffer();
}

function rgbJpeg(
  width: number,
  height: number,
  colour: { r: number; g: number; b: number },
): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: colour } })
    .jpeg({ quality: 100 })
    .toBuffer();
}

const level16 = Math.round(65535 * 0.3);

async function expectMedrobustError(promise: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(MedrobustError);
  expect((error as MedrobustError).code).toBe(code);
  expect((error as MedrobustError).message).toMatch(pattern);
}

describe('readImageFolder', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'medrobust-folders-'));
    await mkdir(join(root, 'good', 'benign'), { recursive: true });
    await mkdir(join(root, 'good', 'malignant'), { recursive: true });
    const good = join(root, 'good');
    await writeFile(join(good, 'benign', 'a-grey.png'), await greyPng(8, 8, () => 51));
    await writeFile(join(good, 'benign', 'b-rgb.jpg'), await rgbJpeg(8, 8, { r: 200, g: 100, b: 50 }));
    await writeFile(
      join(good, 'benign', 'c-deep.png'),
      encode({ width: 10, height: 10, depth: 16, channels: 1, data: new Uint16Array(100).fill(level16) }),
    );
    // 16 wide × 8 high: the centre square (columns 4–11) is 100 with a 200 marker at its top-left;
    // the side strips are 0 and must be cropped away.
    await writeFile(
      join(good, 'malignant', 'd-wide.png'),
      await greyPng(16, 8, (x, y) => (x < 4 || x >= 12 ? 0 : x === 4 && y === 0 ? 200 : 100)),
    );
    // A JPEG named .png: read by content.
    await writeFile(
      join(good, 'malignant', 'e-really-jpeg.png'),
      await rgbJpeg(8, 8, { r: 0, g: 0, b: 255 }),
    );
    await writeFile(join(good, '.DS_Store'), 'ignored');
    await writeFile(join(good, 'malignant', '.hidden.png'), 'ignored');

    await mkdir(join(root, 'bad', 'one'), { recursive: true });
    await mkdir(join(root, 'bad', 'two'), { recursive: true });
    const bad = join(root, 'bad');
    await writeFile(join(bad, 'one', 'a.png'), await greyPng(8, 8, () => 10));
    const png = await greyPng(8, 8, (x, y) => x * y);
    await writeFile(join(bad, 'one', 'b-corrupt.png'), png.subarray(0, png.length - 30));
    await writeFile(join(bad, 'one', 'c-notes.txt'), 'not an image\n');
    await writeFile(join(bad, 'two', 'd.jpg'), await rgbJpeg(8, 8, { r: 10, g: 10, b: 10 }));

    await mkdir(join(root, 'empty', 'full'), { recursive: true });
    await mkdir(join(root, 'empty', 'void'), { recursive: true });
    await writeFile(join(root, 'empty', 'full', 'a.png'), await greyPng(8, 8, () => 10));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('reads class folders as grey images at the requested size', async () => {
    const { set, skipped } = await readImageFolder(join(root, 'good'), { size: 8, channels: 1 });
    expect(skipped).toEqual([]);
    expect(set.classNames).toEqual(['benign', 'malignant']);
    expect(set.task).toBe('binary');
    expect(set.shape).toEqual([5, 8, 8, 1]);
    expect([...set.labels]).toEqual([0, 0, 0, 1, 1]);
    expect(set.sources?.map((source) => source.slice(join(root, 'good').length + 1))).toEqual([
      'benign/a-grey.png',
      'benign/b-rgb.jpg',
      'benign/c-deep.png',
      'malignant/d-wide.png',
      'malignant/e-really-jpeg.png',
    ]);
    const image = (index: number) => set.images.subarray(index * 64, (index + 1) * 64);
    for (const value of image(0)) expect(value).toBeCloseTo(51 / 255, 6);
    // RGB → grey: a single mid-grey level, strictly between the channel values.
    const grey = image(1)[0] ?? 0;
    expect(grey).toBeGreaterThan(50 / 255);
    expect(grey).toBeLessThan(200 / 255);
    // 16-bit precision: 8 bits could come no closer than 0.5/255 ≈ 2e-3.
    for (const value of image(2)) expect(Math.abs(value - 0.3)).toBeLessThan(1e-5);
    // Centre crop: the marker lands at (0, 0), no pixel of the black strips survives.
    const wide = image(3);
    expect(wide[0]).toBeCloseTo(200 / 255, 6);
    for (const value of wide.subarray(1)) expect(value).toBeCloseTo(100 / 255, 6);
    // The JPEG named .png decoded as a (dark) blue image.
    expect(image(4)[0]).toBeGreaterThan(0.02);
    expect(image(4)[0]).toBeLessThan(0.3);
  });

  it('converts to RGB, resizes, and keeps 16-bit precision through the resize', async () => {
    const { set } = await readImageFolder(join(root, 'good'), { size: 4, channels: 3 });
    expect(set.shape).toEqual([5, 4, 4, 3]);
    const image = (index: number) => set.images.subarray(index * 48, (index + 1) * 48);
    for (const value of image(0)) expect(value).toBeCloseTo(51 / 255, 6);
    const rgb = image(1);
    expect(rgb[0]).toBeCloseTo(200 / 255, 1);
    expect(rgb[1]).toBeCloseTo(100 / 255, 1);
    expect(rgb[2]).toBeCloseTo(50 / 255, 1);
    for (const value of image(2)) expect(Math.abs(value - 0.3)).toBeLessThan(1e-5);
    // Downsized crop: every pixel is near 100/255 (the marker blurs in), never the black strips.
    for (const value of image(3)) expect(value).toBeGreaterThan(0.35);
    const blue = image(4);
    expect(blue[2]).toBeGreaterThan(0.9);
    expect(blue[0]).toBeLessThan(0.1);
  });

  it('lists unreadable and non-image files with reasons, or throws on the first when strict', async () => {
    const { set, skipped } = await readImageFolder(join(root, 'bad'), { size: 8, channels: 1 });
    expect(set.shape[0]).toBe(2);
    expect([...set.labels]).toEqual([0, 1]);
    expect(skipped.map((entry) => entry.file)).toEqual([
      join(root, 'bad', 'one', 'b-corrupt.png'),
      join(root, 'bad', 'one', 'c-notes.txt'),
    ]);
    expect(skipped[0]?.reason).toMatch(/cannot decode this PNG/);
    expect(skipped[1]?.reason).toMatch(/not a PNG, JPEG or DICOM image/);
    await expectMedrobustError(
      readImageFolder(join(root, 'bad'), { size: 8, channels: 1, strict: true }),
      'invalid-data',
      /b-corrupt\.png: cannot decode/,
    );
  });

  it('rejects an empty class folder, a missing root and bad options', async () => {
    await expectMedrobustError(
      readImageFolder(join(root, 'empty'), { size: 8, channels: 1 }),
      'invalid-data',
      /void.*class folder "void" is empty/,
    );
    await expectMedrobustError(
      readImageFolder(join(root, 'nowhere'), { size: 8, channels: 1 }),
      'not-found',
      /nowhere/,
    );
    await expectMedrobustError(
      readImageFolder(join(root, 'good'), { size: 0, channels: 1 }),
      'invalid-argument',
      /size/,
    );
  });
});

describe('readCsvFolder', () => {
  let root: string;
  const images = () => join(root, 'images');
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'medrobust-csv-'));
    await mkdir(join(root, 'images', 'images_001', 'images'), { recursive: true });
    for (const [index, name] of ['ISIC_1.jpg', 'ISIC_2.jpg', 'ISIC_3.jpg', 'ISIC_4.jpg'].entries())
      await writeFile(join(images(), name), await rgbJpeg(8, 8, { r: 40 * index, g: 0, b: 0 }));
    // ChestX-ray14 archives nest the images: found by file name.
    for (const name of ['01.png', '02.png', '03.png', '04.png', '05.png', '06.png'])
      await writeFile(join(images(), 'images_001', 'images', name), await greyPng(8, 8, () => 128));
    for (const name of ['10_left', '10_right', '11_left', '11_right', '12_left'])
      await writeFile(join(images(), `${name}.jpeg`), await rgbJpeg(8, 8, { r: 90, g: 40, b: 10 }));
    await writeFile(
      join(root, 'isic.csv'),
      'image,MEL,NV,BCC,AK,BKL,DF,VASC,SCC,UNK\r\n' +
        'ISIC_1,1.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0\r\n' +
        'ISIC_2,0.0,1.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0\r\n' +
        'ISIC_3,0.0,0.0,1.0,0.0,0.0,0.0,0.0,0.0,0.0\r\n' +
        'ISIC_4,0.0,1.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0\r\n' +
        'ISIC_9,1.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0\r\n',
    );
    await writeFile(
      join(root, 'Data_Entry_2017.csv'),
      'Image Index,Finding Labels,Follow-up #,Patient ID\n' +
        '01.png,No Finding,0,1\n' +
        '02.png,Pneumothorax,0,2\n' +
        '03.png,Mass|Pneumothorax,0,3\n' +
        '04.png,Mass,0,4\n' +
        '05.png,Effusion,0,5\n' +
        '"06.png","Nodule",0,6\n',
    );
    await writeFile(
      join(root, 'trainLabels.csv'),
      'image,level\n10_left,0\n10_right,1\n11_left,2\n11_right,3\n12_left,4\n',
    );
    await writeFile(join(root, 'no-level.csv'), 'image,grade\n10_left,0\n');
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('isic: melanoma vs nevus from one-hot columns, other classes dropped, missing images skipped', async () => {
    const { set, skipped } = await readCsvFolder({
      csv: join(root, 'isic.csv'),
      images: images(),
      preset: 'isic',
      size: 4,
      channels: 3,
    });
    expect(set.classNames).toEqual(['nevus', 'melanoma']);
    expect(set.shape).toEqual([3, 4, 4, 3]);
    expect([...set.labels]).toEqual([1, 0, 0]);
    expect(set.sources).toEqual(
      ['ISIC_1.jpg', 'ISIC_2.jpg', 'ISIC_4.jpg'].map((name) => join(images(), name)),
    );
    expect(skipped).toHaveLength(1);
    expect(skipped[0]?.file).toBe(join(images(), 'ISIC_9.jpg'));
    expect(skipped[0]?.reason).toMatch(/line 6 .*not found/);
    await expectMedrobustError(
      readCsvFolder({
        csv: join(root, 'isic.csv'),
        images: images(),
        preset: 'isic',
        size: 4,
        channels: 3,
        strict: true,
      }),
      'invalid-data',
      /ISIC_9\.jpg/,
    );
  });

  it('chestxray14: single-label rows of the chosen findings, in the 2- and 3-class variants', async () => {
    const csv = join(root, 'Data_Entry_2017.csv');
    const two = await readCsvFolder({ csv, images: images(), preset: 'chestxray14', size: 8, channels: 1 });
    expect(two.set.classNames).toEqual(['No Finding', 'Pneumothorax']);
    expect([...two.set.labels]).toEqual([0, 1]);
    expect(two.set.task).toBe('binary');
    expect(two.set.images[0]).toBeCloseTo(128 / 255, 6);
    const three = await readCsvFolder({
      csv,
      images: images(),
      preset: 'chestxray14',
      size: 8,
      channels: 1,
      classes: ['No Finding', 'Pneumothorax', 'Mass'],
    });
    expect([...three.set.labels]).toEqual([0, 1, 2]);
    expect(three.set.task).toBe('multi-class');
    expect(three.skipped).toEqual([]);
    const four = await readCsvFolder({
      csv,
      images: images(),
      preset: 'chestxray14',
      size: 8,
      channels: 1,
      classes: ['No Finding', 'Pneumothorax', 'Mass', 'Nodule'],
    });
    expect([...four.set.labels]).toEqual([0, 1, 2, 3]);
    await expectMedrobustError(
      readCsvFolder({
        csv,
        images: images(),
        preset: 'chestxray14',
        size: 8,
        channels: 1,
        classes: ['Tumour', 'Mass'],
      }),
      'invalid-argument',
      /unknown: Tumour/,
    );
  });

  it('kaggle-dr: levels 0–4 become non-referable (0, 1) and referable (2, 3, 4)', async () => {
    const { set, skipped } = await readCsvFolder({
      csv: join(root, 'trainLabels.csv'),
      images: images(),
      preset: 'kaggle-dr',
      size: 4,
      channels: 3,
    });
    expect(skipped).toEqual([]);
    expect(set.classNames).toEqual(['non-referable', 'referable']);
    expect([...set.labels]).toEqual([0, 0, 1, 1, 1]);
  });

  it('names a missing column and the preset', async () => {
    await expectMedrobustError(
      readCsvFolder({
        csv: join(root, 'no-level.csv'),
        images: images(),
        preset: 'kaggle-dr',
        size: 4,
        channels: 3,
      }),
      'invalid-data',
      /no-level\.csv: column "level" is missing, which the kaggle-dr preset needs/,
    );
    await expectMedrobustError(
      readCsvFolder({
        csv: join(root, 'trainLabels.csv'),
        images: images(),
        preset: 'isic',
        size: 4,
        channels: 3,
      }),
      'invalid-data',
      /column "MEL" is missing, which the isic preset/,
    );
  });
});

const pydicomSamples = '/usr/lib/python3/dist-packages/pydicom/data/test_files';

describe.skipIf(!existsSync(join(pydicomSamples, 'CT_small.dcm')))('DICOM files in image folders', () => {
  it('reads DICOM (by its DICM marker) windowed to [0, 1], beside PNGs, at the requested size', async () => {
    const root = await mkdtemp(join(tmpdir(), 'medrobust-dicom-folder-'));
    try {
      await mkdir(join(root, 'ct'), { recursive: true });
      await mkdir(join(root, 'mr'), { recursive: true });
      await copyFile(join(pydicomSamples, 'CT_small.dcm'), join(root, 'ct', 'a.dcm'));
      await copyFile(join(pydicomSamples, 'CT_small.dcm'), join(root, 'ct', 'b'));
      await copyFile(join(pydicomSamples, 'MR_small_RLE.dcm'), join(root, 'mr', 'c.dcm'));
      const { set, skipped } = await readImageFolder(root, { size: 16, channels: 3 });
      expect(skipped).toEqual([]);
      expect(set).toMatchObject({ shape: [3, 16, 16, 3], classNames: ['ct', 'mr'] });
      expect(Math.min(...set.images)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...set.images)).toBeLessThanOrEqual(1);
      expect(Math.max(...set.images)).toBeGreaterThan(0.5);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
