/**
 * DICOM files and folders on disk (Node-only; the decoding itself is src/data/dicom/, which is
 * pure). A folder is searched recursively for `.dcm` files and for extension-less files that carry
 * the DICOM Part 10 signature ("DICM" at byte 128, PS3.10 §7.1), as PACS exports and DICOMDIR media
 * name them. Files that cannot be read, or that do not match the others' size, are listed with a
 * reason instead of failing the whole folder.
 */
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { MedrobustError } from '../core/errors.ts';
import {
  type DicomImage,
  type DicomWindow,
  dicomToUnitImage,
  readDicom,
  type UnitImage,
} from '../data/dicom/index.ts';

export interface DicomFolderOptions {
  /** The VOI window for every image; see `dicomToUnitImage`. Default 'auto'. */
  readonly window?: DicomWindow;
  /**
   * The side every image must already have (rows = columns = size). Without it, every image must
   * match the first one read. Images that do not are reported in `failures`; resize them first.
   */
  readonly size?: number;
}

export interface DicomFolderImage {
  /** The file's path: the folder joined with its path inside the folder. */
  readonly file: string;
  /** Frame 0 in [0, 1]. */
  readonly image: UnitImage;
  readonly modality?: string;
  /** Frames in the file; only the first is in `image`. */
  readonly frames: number;
}

export interface DicomFolder {
  /** In path order. */
  readonly images: readonly DicomFolderImage[];
  readonly failures: readonly { readonly file: string; readonly reason: string }[];
}

/** Reads one DICOM file; failures are MedrobustErrors naming the file. */
export async function readDicomFile(path: string): Promise<DicomImage> {
  let bytes: Uint8Array;
  try {
    const buffer = await readFile(path);
    bytes = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new MedrobustError(
      code === 'ENOENT' ? 'not-found' : 'invalid-data',
      `${path}: cannot read (${code ?? String(error)})`,
      { hint: 'check the path and the file permissions', cause: error },
    );
  }
  return readDicom(bytes, path);
}

/**
 * Reads every DICOM file under `directory` (recursively) as a unit image. Only a missing or
 * unreadable folder, or an invalid `size`, throws; bad files end up in `failures`.
 */
export async function readDicomFolder(
  directory: string,
  options: DicomFolderOptions = {},
): Promise<DicomFolder> {
  const { size } = options;
  if (size !== undefined && !(Number.isInteger(size) && size > 0)) {
    throw new MedrobustError('invalid-argument', `size must be a positive integer, got ${size}`, {
      hint: 'pass the side in pixels that every image has, e.g. 224, or leave it out',
    });
  }
  const folder = await stat(directory).catch((error: unknown) => {
    throw new MedrobustError('not-found', `${directory}: no such folder`, {
      hint: 'check the path of the DICOM folder',
      cause: error,
    });
  });
  if (!folder.isDirectory()) {
    throw new MedrobustError('invalid-argument', `${directory}: is a file, not a folder`, {
      hint: 'pass the folder that holds the DICOM files (use readDicomFile for one file)',
    });
  }

  const images: DicomFolderImage[] = [];
  const failures: { file: string; reason: string }[] = [];
  let first: { file: string; rows: number; columns: number; channels: number } | undefined;
  for (const file of await dicomCandidates(directory)) {
    let image: UnitImage;
    let dicom: DicomImage;
    try {
      dicom = await readDicomFile(file);
      image = dicomToUnitImage(dicom, options.window === undefined ? {} : { window: options.window });
    } catch (error) {
      failures.push({ file, reason: reasonOf(file, error) });
      continue;
    }
    const shape = `${image.rows} × ${image.columns} × ${image.channels}`;
    if (size !== undefined && (image.rows !== size || image.columns !== size)) {
      failures.push({
        file,
        reason: `${file}: is ${image.rows} × ${image.columns}, not ${size} × ${size}; resize the images first, or pass the size they have`,
      });
      continue;
    }
    if (first === undefined) {
      first = { file, rows: image.rows, columns: image.columns, channels: image.channels };
    } else if (
      image.rows !== first.rows ||
      image.columns !== first.columns ||
      image.channels !== first.channels
    ) {
      failures.push({
        file,
        reason:
          `${file}: is ${shape} (rows × columns × channels) but ${first.file} is ` +
          `${first.rows} × ${first.columns} × ${first.channels}; images in one folder must match`,
      });
      continue;
    }
    images.push({
      file,
      image,
      frames: dicom.frames,
      ...(dicom.modality === undefined ? {} : { modality: dicom.modality }),
    });
  }
  return { images, failures };
}

/** `.dcm` files, and extension-less files with "DICM" at byte 128, in sorted path order. */
async function dicomCandidates(directory: string): Promise<string[]> {
  const found: string[] = [];
  const entries = await readdir(directory, { withFileTypes: true });
  entries.sort((left, right) => (left.name < right.name ? -1 : left.name > right.name ? 1 : 0));
  for (const entry of entries) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) found.push(...(await dicomCandidates(path)));
    else if (!entry.isFile()) continue;
    else if (extname(entry.name).toLowerCase() === '.dcm') found.push(path);
    else if (extname(entry.name) === '' && (await hasPart10Signature(path))) found.push(path);
  }
  return found;
}

/** An extension-less file that cannot be opened is not taken for a DICOM file. */
async function hasPart10Signature(path: string): Promise<boolean> {
  const handle = await open(path, 'r').catch(() => undefined);
  if (handle === undefined) return false;
  try {
    const signature = new Uint8Array(4);
    const { bytesRead } = await handle.read(signature, 0, 4, 128);
    return bytesRead === 4 && String.fromCharCode(...signature) === 'DICM';
  } finally {
    await handle.close();
  }
}

/** The error as a user should read it (message and fix), starting with the file's path. */
function reasonOf(file: string, error: unknown): string {
  const text =
    error instanceof MedrobustError
      ? error.describe()
      : error instanceof Error
        ? error.message
        : String(error);
  return text.startsWith(file) ? text : `${file}: ${text}`;
}
