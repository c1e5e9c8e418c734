/**
 * Image datasets as folders of PNG and JPEG files (Node-only: file system and sharp).
 *
 * - `readImageFolder`: one sub-folder per class (torchvision's ImageFolder layout); class names are
 *   the sorted sub-folder names, files are found recursively and read in path order.
 * - `readCsvFolder`: a folder of images labelled by a CSV in one of three public layouts: the ISIC
 *   2019 ground truth (one-hot columns; the ISIC 2020 `image_name`/`diagnosis` file also works),
 *   NIH ChestX-ray14's `Data_Entry_2017.csv`, and Kaggle diabetic retinopathy's `trainLabels.csv`.
 *   Images are looked up by file name anywhere under the images folder (the NIH and Kaggle
 *   archives nest them in `images_001/images/...`).
 *
 * Every image goes through src/node/image-decoding.ts (decoded by content, never the extension;
 * centre-cropped, resized with Pillow's antialiased bicubic, scaled to [0, 1] by its bit depth).
 * Output: `ImageSet` (NHWC float32 in [0, 1]) plus the files that could not be used.
 */

import { readdir, readFile, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, join, sep } from 'node:path';
import { MedrobustError } from '../core/errors.ts';
import { type CsvTable, parseCsvTable } from '../data/csv.ts';
import type { ImageSet } from '../data/image-set.ts';
import { decodeImageBytes } from './image-decoding.ts';

export interface ImageFolderOptions {
  /** Output side in pixels: images are centre-cropped to a square and resized to size × size. */
  readonly size: number;
  /** 1: grey (RGB images are converted); 3: RGB (grey images are replicated). */
  readonly channels: 1 | 3;
  /** Throw on the first file that cannot be used instead of listing it in `skipped`. */
  readonly strict?: boolean;
}

export type CsvPreset = 'isic' | 'chestxray14' | 'kaggle-dr';

export interface CsvFolderOptions extends ImageFolderOptions {
  /** The labels CSV. */
  readonly csv: string;
  /** The folder holding the images (searched recursively by file name). */
  readonly images: string;
  readonly preset: CsvPreset;
  /** ChestX-ray14 only: the findings to keep, in label order. Default ['No Finding', 'Pneumothorax']. */
  readonly classes?: readonly string[];
}

export interface SkippedFile {
  readonly file: string;
  readonly reason: string;
}

export interface ImageFolderResult {
  readonly set: ImageSet;
  readonly skipped: readonly SkippedFile[];
}

/** The 14 ChestX-ray14 findings and 'No Finding', as spelled in Data_Entry_2017.csv. */
export const chestXray14Findings = [
  'No Finding',
  'Atelectasis',
  'Cardiomegaly',
  'Effusion',
  'Infiltration',
  'Mass',
  'Nodule',
  'Pneumonia',
  'Pneumothorax',
  'Consolidation',
  'Edema',
  'Emphysema',
  'Fibrosis',
  'Pleural_Thickening',
  'Hernia',
] as const;

interface Entry {
  readonly file: string;
  readonly label: number;
}

// ---------------------------------------------------------------------------------------------
// Decoding (src/node/image-decoding.ts does the pixels)

/** Decodes one image file into `output` (size × size × channels); failures throw with a reason. */
async function decodeImage(file: string, options: ImageFolderOptions, output: Float32Array): Promise<void> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (error) {
    throw new Error(`cannot read the file (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  await decodeImageBytes(bytes, options, output, file);
}

function validateOptions(options: ImageFolderOptions): void {
  const { size, channels } = options;
  if (!(Number.isInteger(size) && size >= 1 && size <= 4096)) {
    throw new MedrobustError('invalid-argument', `size must be an integer from 1 to 4096, got ${size}`, {
      hint: 'pass the side of the square model input, e.g. 28, 64 or 224',
    });
  }
  if (channels !== 1 && channels !== 3) {
    throw new MedrobustError('invalid-argument', `channels must be 1 or 3, got ${String(channels)}`, {
      hint: 'use 1 for grey images (X-ray, CT) or 3 for colour images (dermoscopy, fundus)',
    });
  }
}

/**
 * Decodes the entries (several at a time) into one image set; unusable files go to `skipped`, or,
 * when strict, the earliest one found throws.
 */
async function decodeEntries(
  entries: readonly Entry[],
  classNames: readonly string[],
  options: ImageFolderOptions,
  skipped: SkippedFile[],
  fixHint: string,
): Promise<{ set: ImageSet; skipped: SkippedFile[] }> {
  const pixelsPerImage = options.size * options.size * options.channels;
  const decoded: (Float32Array | undefined)[] = new Array(entries.length).fill(undefined);
  const failures = new Map<number, string>();
  let next = 0;
  const worker = async () => {
    while (next < entries.length && !(options.strict === true && failures.size > 0)) {
      const index = next++;
      const entry = entries[index] as Entry;
      const output = new Float32Array(pixelsPerImage);
      try {
        await decodeImage(entry.file, options, output);
        decoded[index] = output;
      } catch (error) {
        failures.set(index, (error as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(2, availableParallelism()) }, worker));
  const failed = [...failures.keys()].sort((a, b) => a - b);
  if (options.strict === true && failed.length > 0) {
    const index = failed[0] as number;
    const file = (entries[index] as Entry).file;
    throw new MedrobustError('invalid-data', `${file}: ${failures.get(index)}`, { hint: fixHint });
  }
  for (const index of failed)
    skipped.push({ file: (entries[index] as Entry).file, reason: failures.get(index) ?? '' });
  const kept = entries.flatMap((entry, index) => {
    const image = decoded[index];
    return image === undefined ? [] : [{ ...entry, image }];
  });
  const images = new Float32Array(kept.length * pixelsPerImage);
  for (const [index, entry] of kept.entries()) images.set(entry.image, index * pixelsPerImage);
  return {
    set: {
      images,
      shape: [kept.length, options.size, options.size, options.channels],
      labels: Int32Array.from(kept, (entry) => entry.label),
      labelsPerImage: 1,
      classNames: [...classNames],
      task: classNames.length === 2 ? 'binary' : 'multi-class',
      sources: kept.map((entry) => entry.file),
    },
    skipped,
  };
}

// ---------------------------------------------------------------------------------------------
// Folders

const hidden = (name: string) => name.startsWith('.');

async function requireDirectory(path: string, what: string, hint: string): Promise<void> {
  const info = await stat(path).catch((error: unknown) => {
    throw new MedrobustError('not-found', `${path}: no such ${what}`, { hint, cause: error });
  });
  if (!info.isDirectory()) throw new MedrobustError('invalid-data', `${path}: not a folder`, { hint });
}

/** Every non-hidden file under `directory`, recursively, in sorted path order. */
async function listFiles(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { withFileTypes: true });
  const names = entries.filter((entry) => !hidden(entry.name)).sort((a, b) => (a.name < b.name ? -1 : 1));
  const files: string[] = [];
  for (const entry of names) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) files.push(...(await listFiles(path)));
    else if (entry.isFile()) files.push(path);
  }
  return files;
}

/**
 * Reads a folder with one sub-folder per class (class names: the sorted sub-folder names; hidden
 * entries and files directly in `root` are ignored). Unusable files are listed in `skipped`.
 */
export async function readImageFolder(root: string, options: ImageFolderOptions): Promise<ImageFolderResult> {
  validateOptions(options);
  const layoutHint = 'an image folder holds one sub-folder per class, each with PNG or JPEG files';
  await requireDirectory(root, 'folder', layoutHint);
  const classNames = (await readdir(root, { withFileTypes: true }))
    .filter((entry) => entry.isDirectory() && !hidden(entry.name))
    .map((entry) => entry.name)
    .sort();
  if (classNames.length < 2) {
    throw new MedrobustError(
      'invalid-data',
      `${root}: found ${classNames.length} class folder${classNames.length === 1 ? '' : 's'}, need at least 2`,
      { hint: layoutHint },
    );
  }
  const entries: Entry[] = [];
  for (const [label, name] of classNames.entries()) {
    const files = await listFiles(join(root, name));
    if (files.length === 0) {
      throw new MedrobustError('invalid-data', `${join(root, name)}: the class folder "${name}" is empty`, {
        hint: 'put the images of this class in it, or remove the folder if the class is not wanted',
      });
    }
    entries.push(...files.map((file) => ({ file, label })));
  }
  const result = await decodeEntries(
    entries,
    classNames,
    options,
    [],
    'remove or replace the file, or read without strict to skip it',
  );
  const counts = new Array<number>(classNames.length).fill(0);
  for (const label of result.set.labels) counts[label] = (counts[label] ?? 0) + 1;
  const unreadable = classNames.findIndex((_, label) => counts[label] === 0);
  if (unreadable >= 0) {
    const folder = join(root, classNames[unreadable] as string);
    const reasons = result.skipped.filter((entry) => entry.file.startsWith(`${folder}${sep}`));
    throw new MedrobustError(
      'invalid-data',
      `${folder}: none of the ${reasons.length} files of class "${classNames[unreadable]}" could be read (first: ${reasons[0]?.file}: ${reasons[0]?.reason})`,
      { hint: 'the class folder needs at least one PNG or JPEG image' },
    );
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// CSV-labelled folders

interface PresetRow {
  /** File name to look up under the images folder. */
  readonly name: string;
  /** Class index; undefined drops the row (another class), a string skips it with that reason. */
  readonly label: number | undefined | string;
}

interface Preset {
  /** What the CSV is, for messages. */
  readonly description: string;
  readonly classNames: (options: CsvFolderOptions) => readonly string[];
  /** Throws a MedrobustError naming a missing column; returns the row reader. */
  readonly reader: (
    table: CsvTable,
    classNames: readonly string[],
    missing: (column: string) => never,
  ) => (values: ReadonlyMap<string, string>) => PresetRow;
}

const imageExtension = /\.(png|jpe?g)$/i;
const withExtension = (name: string, extension: string) =>
  imageExtension.test(name) ? name : `${name}${extension}`;

const presets: Readonly<Record<CsvPreset, Preset>> = Object.freeze({
  isic: {
    description: 'the ISIC 2019 ground truth (image, MEL, NV, ...) or ISIC 2020 (image_name, diagnosis)',
    classNames: () => ['nevus', 'melanoma'],
    reader: (table, _classNames, missing) => {
      const has = (column: string) => table.columns.includes(column);
      if (!has('image') && has('image_name') && has('diagnosis')) {
        return (values) => {
          const diagnosis = (values.get('diagnosis') ?? '').trim().toLowerCase();
          return {
            name: withExtension((values.get('image_name') ?? '').trim(), '.jpg'),
            label: diagnosis === 'melanoma' ? 1 : diagnosis === 'nevus' ? 0 : undefined,
          };
        };
      }
      for (const column of ['image', 'MEL', 'NV']) if (!has(column)) missing(column);
      return (values) => {
        const melanoma = Number(values.get('MEL')) === 1;
        const nevus = Number(values.get('NV')) === 1;
        return {
          name: withExtension((values.get('image') ?? '').trim(), '.jpg'),
          label: melanoma && nevus ? 'both MEL and NV are 1' : melanoma ? 1 : nevus ? 0 : undefined,
        };
      };
    },
  },
  chestxray14: {
    description: "NIH ChestX-ray14's Data_Entry_2017.csv (Image Index, Finding Labels)",
    classNames: (options) => options.classes ?? ['No Finding', 'Pneumothorax'],
    reader: (table, classNames, missing) => {
      for (const column of ['Image Index', 'Finding Labels'])
        if (!table.columns.includes(column)) missing(column);
      return (values) => {
        const findings = (values.get('Finding Labels') ?? '').trim();
        const label = findings.includes('|') ? -1 : classNames.indexOf(findings);
        return { name: (values.get('Image Index') ?? '').trim(), label: label < 0 ? undefined : label };
      };
    },
  },
  'kaggle-dr': {
    description: "Kaggle diabetic retinopathy's trainLabels.csv (image, level)",
    classNames: () => ['non-referable', 'referable'],
    reader: (table, _classNames, missing) => {
      for (const column of ['image', 'level']) if (!table.columns.includes(column)) missing(column);
      return (values) => {
        const text = (values.get('level') ?? '').trim();
        const level = Number(text);
        return {
          name: withExtension((values.get('image') ?? '').trim(), '.jpeg'),
          label:
            text !== '' && Number.isInteger(level) && level >= 0 && level <= 4
              ? Number(level >= 2)
              : `level "${text}" is not an integer from 0 to 4`,
        };
      };
    },
  },
});

function validateClasses(options: CsvFolderOptions): void {
  const { classes, preset } = options;
  if (classes === undefined) return;
  if (preset !== 'chestxray14') {
    throw new MedrobustError(
      'invalid-argument',
      `classes applies only to the chestxray14 preset, not ${preset}`,
      {
        hint: `leave classes out: the ${preset} preset has fixed classes`,
      },
    );
  }
  const unknown = classes.filter((name) => !(chestXray14Findings as readonly string[]).includes(name));
  if (classes.length < 2 || new Set(classes).size !== classes.length || unknown.length > 0) {
    throw new MedrobustError(
      'invalid-argument',
      `chestxray14 classes must be 2 or more distinct findings, got [${classes.join(', ')}]${unknown.length > 0 ? ` (unknown: ${unknown.join(', ')})` : ''}`,
      { hint: `choose from ${chestXray14Findings.join(', ')}; e.g. No Finding, Pneumothorax, Mass, Nodule` },
    );
  }
}

/**
 * Reads the images named by a labels CSV in one of the preset layouts. Rows of other classes are
 * dropped; rows whose image is missing or unusable are listed in `skipped` (file, and for a bad
 * row the CSV line).
 */
export async function readCsvFolder(options: CsvFolderOptions): Promise<ImageFolderResult> {
  validateOptions(options);
  const preset = presets[options.preset];
  if (preset === undefined) {
    throw new MedrobustError('invalid-argument', `unknown CSV preset "${String(options.preset)}"`, {
      hint: `use one of ${Object.keys(presets).join(', ')}`,
    });
  }
  validateClasses(options);
  const { csv, images } = options;
  let text: string;
  try {
    text = await readFile(csv, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new MedrobustError(
      code === 'ENOENT' ? 'not-found' : 'invalid-data',
      `${csv}: cannot read (${code})`,
      {
        hint: `pass the labels CSV of the ${options.preset} preset: ${preset.description}`,
        cause: error,
      },
    );
  }
  await requireDirectory(images, 'images folder', `pass the folder holding the ${options.preset} images`);
  const table = parseCsvTable(text, csv);
  const classNames = preset.classNames(options);
  const readRow = preset.reader(table, classNames, (column) => {
    throw new MedrobustError(
      'invalid-data',
      `${csv}: column "${column}" is missing, which the ${options.preset} preset needs (columns found: ${table.columns.join(', ')})`,
      { hint: `pass ${preset.description}, or choose the preset that matches this CSV` },
    );
  });
  const index = new Map<string, string>();
  for (const file of await listFiles(images)) if (!index.has(basename(file))) index.set(basename(file), file);

  const entries: Entry[] = [];
  const skipped: SkippedFile[] = [];
  const skip = (file: string, reason: string) => {
    if (options.strict === true) {
      throw new MedrobustError('invalid-data', `${file}: ${reason}`, {
        hint: 'fix or remove the row, add the missing image, or read without strict to skip it',
      });
    }
    skipped.push({ file, reason });
  };
  for (const { line, values } of table.rows) {
    const { name, label } = readRow(values);
    if (label === undefined) continue;
    if (typeof label === 'string') {
      skip(`${csv}:${line}`, label);
      continue;
    }
    const file = index.get(name);
    if (name === '' || file === undefined) {
      skip(join(images, name), `named on line ${line} of ${csv} but not found under ${images}`);
      continue;
    }
    entries.push({ file, label });
  }
  if (entries.length === 0) {
    throw new MedrobustError(
      'invalid-data',
      `${csv}: no row names an available image of the classes ${classNames.join(', ')}`,
      {
        hint: `check that ${images} holds the images and that the CSV is ${preset.description}`,
      },
    );
  }
  return decodeEntries(
    entries,
    classNames,
    options,
    skipped,
    'remove or replace the image, or read without strict to skip it',
  );
}
