/**
 * `medrobust data fetch NAME`: downloads an official MedMNIST file (`pneumoniamnist`,
 * `chestmnist_224`, ...) into a cache directory and verifies its md5 against the official table.
 * The download streams into `FILE.part`, hashing as it goes, and is renamed into place only when the
 * md5 matches, so an interrupted or corrupted download never looks like a dataset. A cached file
 * with the right md5 is not downloaded again. The base URL can be overridden (mirrors, tests).
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MedrobustError } from '../core/errors.ts';
import { medmnistSizes } from '../data/medmnist.ts';
import { medmnistInfo } from '../data/medmnist-info.ts';

/** Zenodo record 10519652: the MedMNIST v3 (MedMNIST+) files, every flag and size. */
export const defaultMedmnistBaseUrl = 'https://zenodo.org/records/10519652/files';

export function defaultCacheDirectory(): string {
  return process.env.MEDROBUST_CACHE ?? join(homedir(), '.cache', 'medrobust');
}

export interface FetchResult {
  readonly path: string;
  readonly md5: string;
  readonly downloaded: boolean;
}

async function md5Of(path: string): Promise<string | undefined> {
  if (!(await stat(path).catch(() => undefined))?.isFile()) return undefined;
  const hash = createHash('md5');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

export async function fetchMedmnist(
  name: string,
  options: { cacheDirectory?: string; baseUrl?: string } = {},
): Promise<FetchResult> {
  const match = /^([a-z]+mnist)(?:_(\d+))?$/.exec(name.toLowerCase().replace(/\.npz$/, ''));
  const info = match?.[1] === undefined ? undefined : medmnistInfo[match[1]];
  const size = Number(match?.[2] ?? 28) as 28 | 64 | 128 | 224;
  if (match === null || info === undefined || !(medmnistSizes as readonly number[]).includes(size)) {
    throw new MedrobustError('invalid-argument', `unknown MedMNIST file "${name}"`, {
      hint: `name a flag (${Object.keys(medmnistInfo).join(', ')}), optionally with _64, _128 or _224`,
    });
  }
  const file = `${match[1]}${size === 28 ? '' : `_${size}`}.npz`;
  const expected = info.md5[size];
  const directory = options.cacheDirectory ?? defaultCacheDirectory();
  const target = join(directory, file);
  if ((await md5Of(target)) === expected) return { path: target, md5: expected, downloaded: false };
  await mkdir(directory, { recursive: true });
  const url = `${(options.baseUrl ?? defaultMedmnistBaseUrl).replace(/\/$/, '')}/${file}?download=1`;
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new MedrobustError(
      'not-found',
      `cannot download ${url} (${error instanceof Error ? error.message : String(error)})`,
      {
        hint: `check the network or --base-url; without internet, copy ${file} into ${directory} yourself`,
        cause: error,
      },
    );
  }
  if (!response.ok || response.body === null) {
    throw new MedrobustError('not-found', `${url}: HTTP ${response.status} ${response.statusText}`, {
      hint: `check --base-url; the file should be served as ${file}`,
    });
  }
  const partial = `${target}.part`;
  const hash = createHash('md5');
  try {
    const body = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>);
    body.on('data', (chunk: Buffer) => hash.update(chunk));
    await pipeline(body, createWriteStream(partial));
  } catch (error) {
    await rm(partial, { force: true });
    throw new MedrobustError(
      'not-found',
      `the download of ${url} broke off (${error instanceof Error ? error.message : String(error)})`,
      {
        hint: 'run the command again; nothing was kept',
        cause: error,
      },
    );
  }
  const actual = hash.digest('hex');
  if (actual !== expected) {
    await rm(partial, { force: true });
    throw new MedrobustError('invalid-data', `${url}: md5 ${actual} differs from the official ${expected}`, {
      hint: 'the server sent another or a damaged file; nothing was kept: retry, or check --base-url',
    });
  }
  await rename(partial, target);
  return { path: target, md5: actual, downloaded: true };
}
