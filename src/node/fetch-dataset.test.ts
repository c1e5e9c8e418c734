import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { breastPath, hasSharedData } from '../../test/support/data.ts';
import { fetchMedmnist } from './fetch-dataset.ts';

describe.skipIf(!hasSharedData)('medrobust data fetch against a local server on 127.0.0.1', () => {
  let server: Server;
  let base: string;
  let root: string;
  const requests: string[] = [];
  beforeAll(async () => {
    const good = readFileSync(breastPath);
    const bad = Buffer.from(good);
    bad[100] = (bad[100] ?? 0) ^ 0xff;
    server = createServer((request, response) => {
      requests.push(request.url ?? '');
      const path = (request.url ?? '').split('?')[0];
      if (path === '/good/breastmnist.npz') response.end(good);
      else if (path === '/bad/breastmnist.npz') response.end(bad);
      else {
        response.statusCode = 404;
        response.end('not found');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    root = await mkdtemp(join(tmpdir(), 'medrobust-fetch-'));
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await rm(root, { recursive: true, force: true });
  });

  it('downloads, verifies the official md5, and does not download a cached file again', async () => {
    const cache = join(root, 'cache');
    const first = await fetchMedmnist('breastmnist', { cacheDirectory: cache, baseUrl: `${base}/good` });
    expect(first).toEqual({
      path: join(cache, 'breastmnist.npz'),
      md5: '750601b1f35ba3300ea97c75c52ff8f6',
      downloaded: true,
    });
    expect(requests.at(-1)).toBe('/good/breastmnist.npz?download=1');
    const count = requests.length;
    const second = await fetchMedmnist('breastmnist.npz', { cacheDirectory: cache, baseUrl: `${base}/good` });
    expect(second.downloaded).toBe(false);
    expect(requests.length).toBe(count);
  });

  it('keeps nothing when the md5 differs or the server answers 404', async () => {
    const cache = join(root, 'rejected');
    await expect(
      fetchMedmnist('breastmnist', { cacheDirectory: cache, baseUrl: `${base}/bad` }),
    ).rejects.toThrowError(/md5 [0-9a-f]{32} differs from the official 750601b1f35ba3300ea97c75c52ff8f6/);
    expect(existsSync(join(cache, 'breastmnist.npz'))).toBe(false);
    expect(await readdir(cache)).toEqual([]);
    await expect(
      fetchMedmnist('breastmnist_64', { cacheDirectory: cache, baseUrl: `${base}/good` }),
    ).rejects.toThrowError(/HTTP 404/);
  });

  it('names unknown files and lists the flags', async () => {
    await expect(fetchMedmnist('kneemnist')).rejects.toThrowError(/unknown MedMNIST file "kneemnist"/);
    await expect(fetchMedmnist('pneumoniamnist_32')).rejects.toThrowError(/unknown MedMNIST file/);
  });
});
