/**
 * The guarded-inference server: the API through fastify's inject() on good and bad inputs, with a
 * real worker pool (wasm) serving a small CNN trained on the shipped BreastMNIST and two detectors;
 * reference values come from the same model and detectors loaded in this process
 * (server/guarded-model.ts) and from the detectors' own files. Then the web page in Debian's chromium.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dcmjs from 'dcmjs';
import { decode, encode } from 'fast-png';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDataset } from '../src/node/datasets.ts';
import { activate } from '../test/support/engines.ts';
import {
  buildServerFixture,
  projectRoot,
  type ServerFixture,
  shippedData,
} from '../test/support/server-fixture.ts';
import { buildServer, type Example } from './app.ts';
import { expandDetectorDirectories, GuardedModel } from './guarded-model.ts';
import { WorkerPool } from './worker-pool.ts';

const pydicomFiles = '/usr/lib/python3/dist-packages/pydicom/data/test_files';
const chromium = '/usr/bin/chromium';

interface Part {
  readonly bytes: Uint8Array;
  readonly filename: string;
  readonly type?: string;
}

/** A multipart/form-data body as a browser would send it (built by undici's FormData). */
async function multipart(fields: Record<string, string | Part>) {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) {
    if (typeof value === 'string') form.append(name, value);
    else
      form.append(
        name,
        new Blob([Uint8Array.from(value.bytes)], { type: value.type ?? 'application/octet-stream' }),
        value.filename,
      );
  }
  const request = new Request('http://localhost/', { method: 'POST', body: form });
  return {
    payload: Buffer.from(await request.arrayBuffer()),
    headers: { 'content-type': request.headers.get('content-type') ?? '' },
  };
}

function png(image: Float32Array, side: number): Uint8Array {
  return encode({
    width: side,
    height: side,
    channels: 1,
    depth: 8,
    data: Uint8Array.from(image, (v) => Math.round(v * 255)),
  });
}

/**
 * An 8-bit MONOCHROME2 DICOM file holding `pixels` (side × side). Its window (centre 128, width 256)
 * maps stored value x to exactly x / 255 under PS3.3 C.11.2.1.2.1's LINEAR function, as a PNG does.
 */
function dicom(pixels: Uint8Array, side: number): Uint8Array {
  const dataset = {
    _meta: { TransferSyntaxUID: { Value: ['1.2.840.10008.1.2.1'] } },
    _vrMap: { PixelData: 'OB' },
    SOPClassUID: '1.2.840.10008.5.1.4.1.1.7',
    SOPInstanceUID: '2.25.1234567890',
    Modality: 'US',
    Rows: side,
    Columns: side,
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    BitsAllocated: 8,
    BitsStored: 8,
    HighBit: 7,
    PixelRepresentation: 0,
    WindowCenter: 128,
    WindowWidth: 256,
    PixelData: [pixels.buffer],
  };
  return new Uint8Array(dcmjs.data.datasetToDict(dataset).write());
}

async function waitUntil(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

let root: string;
let fixture: ServerFixture;
let pool: WorkerPool;
let app: FastifyInstance;
let reference: GuardedModel;
let examples: Example[];
let detectorDirectories: string[];
const side = 28;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medrobust-server-'));
  fixture = await buildServerFixture(root);
  detectorDirectories = await expandDetectorDirectories([fixture.detectors]);
  pool = await WorkerPool.start({
    setup: { model: fixture.model, detectors: detectorDirectories, engine: 'wasm', threads: 1 },
    workers: 2,
    queueLimit: 8,
  });
  const set = (await openDataset(shippedData)).read('test');
  examples = Array.from({ length: 12 }, (_, index) => ({
    className: set.classNames[set.labels[index] as number] as string,
    image: set.images.slice(index * side * side, (index + 1) * side * side),
  }));
  const runs = join(root, 'runs');
  await mkdir(join(runs, 'first-run'), { recursive: true });
  await writeFile(
    join(runs, 'first-run', 'report.json'),
    JSON.stringify({ experiment: { name: 'demo' }, complete: true, summary: { models: [] } }),
  );
  await writeFile(join(runs, 'first-run', 'report.html'), '<!doctype html><title>report</title>');
  await writeFile(join(runs, 'first-run', 'run.sqlite'), 'not for the web');
  // A report one level above the runs folder: reachable only through a '..' run name.
  await writeFile(join(root, 'report.json'), '{"name": "medrobust", "not for the web": true}');
  app = await buildServer({
    pool,
    allowAttacks: true,
    limits: { uploadBytes: 256 * 1024, maximumSide: 1024 },
    runs,
    examples,
  });
  reference = await GuardedModel.load(await activate('wasm'), fixture.model, detectorDirectories);
}, 240_000);

afterAll(async () => {
  await app?.close();
  await pool?.close();
  reference?.dispose();
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

describe('the API', () => {
  it('describes the model and its detectors with the thresholds stored in their files', async () => {
    const response = await app.inject({ method: 'GET', url: '/v1/model' });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({
      inputShape: [28, 28, 1],
      classNames: ['malignant', 'normal, benign'],
      attacks: true,
    });
    expect(body.detectors.map((detector: { id: string }) => detector.id)).toEqual(['dfeat-pgd', 'kd-pgd']);
    for (const detector of body.detectors) {
      const stored = JSON.parse(
        await readFile(join(fixture.detectors, detector.id, 'detector.json'), 'utf8'),
      );
      expect(detector.threshold).toBe(stored.threshold);
      expect(detector.fittedOn).toMatchObject({ attack: 'pgd' });
    }
    const health = await app.inject({ method: 'GET', url: '/healthz' });
    expect(health.json()).toEqual({ status: 'ok', workers: 2, busy: 0, queued: 0, queueLimit: 8 });
  });

  it('classifies a PNG as the same model in this process does, with each detector judged at its threshold', async () => {
    const example = examples[0] as Example;
    const expected = await reference.predict(Float32Array.from(example.image), true);
    const response = await app.inject({
      method: 'POST',
      url: '/v1/predict?gradcam=1',
      ...(await multipart({
        image: { bytes: png(example.image, side), filename: 'scan.png', type: 'image/png' },
      })),
    });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body.input).toMatchObject({ format: 'png', width: 28, height: 28, file: 'scan.png' });
    expect(body.label).toBe(expected.label);
    const probabilities = Object.values(body.probabilities) as number[];
    expect(probabilities.reduce((sum, value) => sum + value, 0)).toBeCloseTo(1, 5);
    for (const [index, value] of probabilities.entries())
      expect(value).toBeCloseTo(expected.probabilities[index] as number, 5);
    expect(body.detectors).toHaveLength(2);
    body.detectors.forEach(
      (verdict: { score: number; threshold: number; adversarial: boolean }, index: number) => {
        expect(verdict.score).toBeCloseTo(expected.detectors[index]?.score as number, 4);
        expect(verdict.adversarial).toBe(verdict.score >= verdict.threshold);
      },
    );
    expect(body.adversarial).toBe(
      body.detectors.some((verdict: { adversarial: boolean }) => verdict.adversarial),
    );
    const overlay = decode(Buffer.from(body.gradCam.split(',')[1], 'base64'));
    expect([overlay.width, overlay.height, overlay.channels]).toEqual([28, 28, 3]);
    const input = decode(Buffer.from(body.image.split(',')[1], 'base64'));
    expect(Array.from(input.data)).toEqual(Array.from(decode(png(example.image, side)).data));
  });

  it('gives the same answer for the image as a raw body, a JSON tensor and an uncompressed DICOM', async () => {
    const example = examples[1] as Example;
    const bytes = png(example.image, side);
    const answers = await Promise.all([
      app.inject({
        method: 'POST',
        url: '/v1/predict',
        ...(await multipart({ image: { bytes, filename: 'a' } })),
      }),
      app.inject({
        method: 'POST',
        url: '/v1/predict',
        payload: Buffer.from(bytes),
        headers: { 'content-type': 'image/png' },
      }),
      app.inject({
        method: 'POST',
        url: '/v1/predict',
        payload: { shape: [1, 28, 28, 1], data: Array.from(example.image) },
      }),
      app.inject({
        method: 'POST',
        url: '/v1/predict',
        ...(await multipart({
          image: {
            bytes: dicom(
              Uint8Array.from(example.image, (v) => Math.round(v * 255)),
              side,
            ),
            filename: 'x.dcm',
          },
        })),
      }),
    ]);
    const bodies = answers.map((answer) => {
      expect(answer.statusCode).toBe(200);
      return answer.json();
    });
    expect(bodies.map((body) => body.input.format)).toEqual(['png', 'png', 'tensor', 'dicom']);
    for (const body of bodies.slice(1)) {
      expect(body.label).toBe(bodies[0].label);
      for (const [name, value] of Object.entries(body.probabilities))
        expect(value).toBeCloseTo(bodies[0].probabilities[name], 5);
    }
  });

  it.skipIf(!existsSync(pydicomFiles))(
    'decodes compressed DICOM (RLE, JPEG-LS, JPEG 2000 lossless) to the same prediction as the uncompressed file',
    async () => {
      const names = [
        'MR_small.dcm',
        'MR_small_RLE.dcm',
        'MR_small_jpeg_ls_lossless.dcm',
        'MR_small_jp2klossless.dcm',
      ];
      const bodies = [];
      for (const name of names) {
        const bytes = new Uint8Array(await readFile(join(pydicomFiles, name)));
        const response = await app.inject({
          method: 'POST',
          url: '/v1/predict',
          ...(await multipart({ image: { bytes, filename: name } })),
        });
        expect({ name, status: response.statusCode }).toEqual({ name, status: 200 });
        bodies.push(response.json());
      }
      for (const body of bodies) {
        expect(body.input).toMatchObject({ format: 'dicom', width: 64, height: 64 });
        expect(body.probabilities).toEqual(bodies[0].probabilities);
      }
      // 12-bit lossy JPEG is compressed DICOM we cannot decode: 415 naming why.
      const lossy = await app.inject({
        method: 'POST',
        url: '/v1/predict',
        ...(await multipart({
          image: {
            bytes: new Uint8Array(await readFile(join(pydicomFiles, 'JPEG-lossy.dcm'))),
            filename: 'l.dcm',
          },
        })),
      });
      expect(lossy.statusCode).toBe(415);
      expect(lossy.json().error).toMatchObject({
        code: 'unsupported',
        message: expect.stringMatching(/12-bit lossy JPEG/),
      });
      const truncated = await app.inject({
        method: 'POST',
        url: '/v1/predict',
        ...(await multipart({
          image: {
            bytes: new Uint8Array(await readFile(join(pydicomFiles, 'MR_truncated.dcm'))),
            filename: 't.dcm',
          },
        })),
      });
      expect(truncated.statusCode).toBe(422);
      expect(truncated.json().error.code).toBe('invalid-data');
    },
  );

  it('tells the type by content: a text file named .png is refused, a PNG named .txt is read', async () => {
    const text = new TextEncoder().encode('patient notes, not an image\n'.repeat(10));
    const refused = await app.inject({
      method: 'POST',
      url: '/v1/predict',
      ...(await multipart({ image: { bytes: text, filename: 'scan.png', type: 'image/png' } })),
    });
    expect(refused.statusCode).toBe(415);
    expect(refused.json().error).toMatchObject({
      code: 'unsupported',
      message: expect.stringMatching(/not a PNG, JPEG or DICOM image \(checked by content/),
      hint: expect.any(String),
    });
    const accepted = await app.inject({
      method: 'POST',
      url: '/v1/predict',
      ...(await multipart({
        image: {
          bytes: png((examples[2] as Example).image, side),
          filename: 'notes.txt',
          type: 'text/plain',
        },
      })),
    });
    expect(accepted.statusCode).toBe(200);
    const wrongHeader = await app.inject({
      method: 'POST',
      url: '/v1/predict',
      payload: 'x',
      headers: { 'content-type': 'text/plain' },
    });
    expect(wrongHeader.statusCode).toBe(415);
    expect(wrongHeader.json().error.hint).toMatch(/multipart\/form-data/);
  });

  it('refuses truncated PNGs, oversized uploads, oversized images and malformed requests with 4xx JSON errors', async () => {
    const whole = png((examples[3] as Example).image, side);
    const truncated = await app.inject({
      method: 'POST',
      url: '/v1/predict',
      ...(await multipart({
        image: { bytes: whole.slice(0, Math.floor(whole.length / 2)), filename: 'cut.png' },
      })),
    });
    expect(truncated.statusCode).toBe(422);
    expect(truncated.json().error).toMatchObject({
      code: 'invalid-data',
      message: expect.stringMatching(/cannot decode this PNG/),
    });

    const big = new Uint8Array(300 * 1024).fill(7);
    big.set(whole.subarray(0, 8));
    for (const request of [
      await multipart({ image: { bytes: big, filename: 'big.png' } }),
      { payload: Buffer.from(big), headers: { 'content-type': 'image/png' } },
    ]) {
      const response = await app.inject({ method: 'POST', url: '/v1/predict', ...request });
      expect(response.statusCode).toBe(413);
      expect(response.json().error).toMatchObject({
        code: 'too-large',
        message: expect.stringMatching(/262144-byte limit/),
      });
    }

    const wide = encode({ width: 1100, height: 4, channels: 1, depth: 8, data: new Uint8Array(4400) });
    const tooWide = await app.inject({
      method: 'POST',
      url: '/v1/predict',
      payload: Buffer.from(wide),
      headers: { 'content-type': 'image/png' },
    });
    expect(tooWide.statusCode).toBe(422);
    expect(tooWide.json().error.message).toMatch(/1100×4 pixels, larger than the 1024-pixel limit/);

    const cases: [object, RegExp][] = [
      [{ data: [1, 2, 3] }, /data has 3 values; the model's input \[28, 28, 1\] has 784/],
      [{ shape: [32, 32, 1], data: new Array(784).fill(0) }, /shape \[32, 32, 1\] does not match/],
      [{ data: new Array(784).fill(2) }, /outside the model's input range \[0, 1\]/],
      [{ pixels: [] }, /not a tensor/],
    ];
    for (const [payload, message] of cases) {
      const response = await app.inject({ method: 'POST', url: '/v1/predict', payload });
      expect(response.statusCode).toBe(400);
      expect(response.json().error).toMatchObject({
        code: 'invalid-argument',
        message: expect.stringMatching(message),
      });
    }
    const noFile = await app.inject({
      method: 'POST',
      url: '/v1/predict',
      ...(await multipart({ note: 'hello' })),
    });
    expect(noFile.statusCode).toBe(400);
    expect(noFile.json().error.message).toMatch(/no "image" file/);
    const badJson = await app.inject({
      method: 'POST',
      url: '/v1/predict',
      payload: '{"data": [',
      headers: { 'content-type': 'application/json' },
    });
    expect(badJson.statusCode).toBe(400);
    const unknown = await app.inject({ method: 'GET', url: '/v2/predict' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.hint).toMatch(/POST \/v1\/predict/);
  });

  it('attacks within ε and refuses unknown attacks, minimisation attacks and bad ε', async () => {
    const example = examples[4] as Example;
    const epsilon = 8 / 255;
    const response = await app.inject({
      method: 'POST',
      url: '/v1/attack',
      ...(await multipart({
        image: { bytes: png(example.image, side), filename: 'a.png' },
        attack: 'pgd',
        epsilon: '8/255',
      })),
    });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body.epsilon).toBeCloseTo(epsilon, 12);
    expect(body.linf).toBeLessThanOrEqual(epsilon + 1e-6);
    const adversarial = decode(Buffer.from(body.adversarialImage.split(',')[1], 'base64'));
    let largest = 0;
    adversarial.data.forEach((value, index) => {
      largest = Math.max(largest, Math.abs(value - Math.round((example.image[index] as number) * 255)));
    });
    // 8/255 of the [0, 1] range is 8 grey levels; rounding to 8 bits adds at most one.
    expect(largest).toBeLessThanOrEqual(9);
    expect(body.clean.label).toBe((await reference.predict(Float32Array.from(example.image))).label);
    const expected = await reference.attack(Float32Array.from(example.image), { attack: 'pgd', epsilon });
    expect(body.attacked.label).toBe(expected.attacked.label);
    expect(body.attacked.adversarial).toBe(expected.attacked.adversarial);

    const failures: [Record<string, string>, number, RegExp][] = [
      [{ attack: 'pgdd', epsilon: '1/255' }, 404, /unknown attack "pgdd"/],
      [{ attack: 'deepfool', epsilon: '1/255' }, 400, /minimisation attack/],
      [{ attack: 'pgd', epsilon: 'two' }, 400, /ε "two" is not a number/],
      [{ attack: 'pgd', epsilon: '1/255', steps: '100000' }, 400, /steps must be an integer in 1…200/],
    ];
    for (const [fields, status, message] of failures) {
      const failed = await app.inject({
        method: 'POST',
        url: '/v1/attack',
        ...(await multipart({ image: { bytes: png(example.image, side), filename: 'a.png' }, ...fields })),
      });
      expect({ fields, status: failed.statusCode }).toEqual({ fields, status });
      expect(failed.json().error.message).toMatch(message);
    }
  });

  it('keeps attacks off unless asked', async () => {
    const guarded = await buildServer({ pool });
    const response = await guarded.inject({
      method: 'POST',
      url: '/v1/attack',
      payload: { data: Array.from((examples[0] as Example).image), attack: 'pgd', epsilon: '1/255' },
    });
    expect(response.statusCode).toBe(403);
    expect(response.json().error.hint).toMatch(/--allow-attacks/);
    expect((await guarded.inject({ method: 'GET', url: '/v1/model' })).json().attacks).toBe(false);
    await guarded.close();
  });

  it('leaves a worker for predictions while attacks run, and queues the second attack', async () => {
    const image = Array.from((examples[5] as Example).image);
    const slow = (seed: number) =>
      app.inject({
        method: 'POST',
        url: '/v1/attack',
        payload: { data: image, attack: 'pgd', epsilon: `${seed}/255`, steps: 200 },
      });
    let attacksDone = 0;
    const attacks = [slow(8), slow(4)].map((promise) =>
      promise.then((response) => {
        attacksDone++;
        return response;
      }),
    );
    await waitUntil(
      () => pool.statistics().busy === 1 && pool.statistics().queued === 1,
      'one attack runs and one waits',
    );
    const prediction = await app.inject({ method: 'POST', url: '/v1/predict', payload: { data: image } });
    expect(prediction.statusCode).toBe(200);
    expect(attacksDone).toBe(0);
    for (const response of await Promise.all(attacks)) expect(response.statusCode).toBe(200);
  });

  it('answers 429 with Retry-After when every worker is busy and the queue is full', async () => {
    const small = await WorkerPool.start({
      setup: { model: fixture.model, detectors: detectorDirectories, engine: 'wasm', threads: 1 },
      workers: 1,
      queueLimit: 0,
    });
    const busy = await buildServer({ pool: small, allowAttacks: true });
    const image = Array.from((examples[6] as Example).image);
    const attack = busy.inject({
      method: 'POST',
      url: '/v1/attack',
      payload: { data: image, attack: 'pgd', epsilon: '8/255', steps: 200 },
    });
    await waitUntil(() => small.statistics().busy === 1, 'the attack runs');
    const refused = await busy.inject({ method: 'POST', url: '/v1/predict', payload: { data: image } });
    expect(refused.statusCode).toBe(429);
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.json().error).toMatchObject({
      code: 'overloaded',
      hint: expect.stringMatching(/--workers/),
    });
    expect((await attack).statusCode).toBe(200);
    expect(
      (await busy.inject({ method: 'POST', url: '/v1/predict', payload: { data: image } })).statusCode,
    ).toBe(200);
    await busy.close();
    await small.close();
  });

  it('counts requests, latency and flags in Prometheus text', async () => {
    await app.inject({
      method: 'POST',
      url: '/v1/predict',
      payload: { data: Array.from((examples[7] as Example).image) },
    });
    const response = await app.inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain/);
    const text = response.body;
    expect(text).toMatch(
      /medrobust_http_requests_total\{route="\/v1\/predict",method="POST",status="200",model="[^"]+"\} [1-9]/,
    );
    expect(text).toMatch(
      /medrobust_http_request_duration_seconds_bucket\{le="\+Inf",[^}]*route="\/v1\/predict"\} [1-9]/,
    );
    expect(text).toMatch(/medrobust_flagged_total\{detector="any",model="[^"]+"\} \d+/);
    expect(text).toMatch(/medrobust_flagged_total\{detector="kd-pgd",model="[^"]+"\} \d+/);
    expect(text).toMatch(/medrobust_queue_depth\{model="[^"]+"\} 0/);
  });

  it('serves examples and run reports, and nothing else from the disk', async () => {
    const list = (await app.inject({ method: 'GET', url: '/v1/examples' })).json();
    expect(list).toHaveLength(12);
    const first = await app.inject({ method: 'GET', url: list[0].image });
    expect(first.headers['content-type']).toBe('image/png');
    expect(decode(first.rawPayload).width).toBe(28);
    const runs = (await app.inject({ method: 'GET', url: '/v1/runs' })).json();
    expect(runs).toMatchObject([
      { name: 'first-run', experiment: 'demo', complete: true, report: '/runs/first-run/report.html' },
    ]);
    expect((await app.inject({ method: 'GET', url: runs[0].report })).statusCode).toBe(200);
    for (const url of [
      '/runs/first-run/run.sqlite',
      '/runs/..%2F..%2F..%2Fetc/passwd',
      '/runs/first-run/..%2F..%2Fmodel%2Fmodel.json',
      '/runs/%2E%2E/report.json',
      '/runs/./report.json',
      '/v1/examples/99.png',
      '/v1/examples/..%2Fmodel.json',
      '/..%2Fpackage.json',
      '/../package.json',
    ]) {
      const response = await app.inject({ method: 'GET', url });
      expect({ url, status: response.statusCode >= 400 && response.statusCode < 500 }).toEqual({
        url,
        status: true,
      });
      expect(response.body).not.toMatch(/"name": "medrobust"|not for the web|root:/);
    }
    const page = await app.inject({ method: 'GET', url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.body).toMatch(/npm run build:web/);
  });
});

describe.skipIf(!existsSync(chromium))('the web page in chromium', () => {
  let web: FastifyInstance;
  let address: string;

  beforeAll(async () => {
    const outDir = join(root, 'web');
    const { build } = await import('vite');
    await build({
      configFile: join(projectRoot, 'web', 'vite.config.ts'),
      build: { outDir, emptyOutDir: true },
      logLevel: 'warn',
    });
    web = await buildServer({
      pool,
      allowAttacks: true,
      examples,
      webRoot: outDir,
      runs: join(root, 'runs'),
    });
    address = await web.listen({ port: 0, host: '127.0.0.1' });
  }, 120_000);
  afterAll(async () => {
    await web?.close();
  });

  it('uploads an image, moves the ε slider, and shows the verdict change', async () => {
    // An example the detectors pass clean and flag once attacked at 8/255 (chosen through the API).
    let chosen: number | undefined;
    for (const [index, example] of examples.entries()) {
      const clean = await reference.predict(Float32Array.from(example.image));
      if (clean.adversarial) continue;
      const attacked = await reference.attack(Float32Array.from(example.image), {
        attack: 'pgd',
        epsilon: 8 / 255,
      });
      if (attacked.attacked.adversarial) {
        chosen = index;
        break;
      }
    }
    expect(chosen, 'an example the detectors pass clean and flag at 8/255').toBeDefined();
    const file = join(root, 'upload.png');
    await writeFile(file, png((examples[chosen as number] as Example).image, side));

    const { chromium: browserType } = await import('playwright-core');
    const browser = await browserType.launch({
      executablePath: chromium,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
        '--disable-sync',
        '--disable-quic',
      ],
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      page.on('console', (message) => {
        if (message.type() === 'error') errors.push(message.text());
      });
      await page.goto(address);
      await page.locator('#model-summary').waitFor();
      expect(await page.locator('#model-summary').textContent()).toMatch(
        /2 detector\(s\) \(dfeat-pgd, kd-pgd\)/,
      );
      expect(await page.locator('button.example').count()).toBe(12);
      expect(await page.locator('#runs a').getAttribute('href')).toBe('runs/first-run/report.html');

      await page.locator('#upload').setInputFiles(file);
      await page.locator('#clean-verdict').waitFor();
      expect(await page.locator('#clean-verdict').getAttribute('data-flagged')).toBe('false');
      // ε = 0 first: the attack panel shows the unchanged image, not flagged either.
      await page.waitForFunction(
        () => document.querySelector('.result')?.getAttribute('data-epsilon') === '0',
      );
      expect(await page.locator('#attacked-verdict').getAttribute('data-flagged')).toBe('false');

      await page.locator('#epsilon').fill('16');
      expect(await page.locator('#epsilon-value').textContent()).toBe('8/255');
      await page.waitForFunction(
        () =>
          Math.abs(Number(document.querySelector('.result')?.getAttribute('data-epsilon') ?? -1) - 8 / 255) <
          1e-9,
      );
      expect(await page.locator('#attacked-verdict').getAttribute('data-flagged')).toBe('true');
      expect(await page.locator('#attacked-verdict').textContent()).toMatch(/Flagged as adversarial by/);
      for (const selector of ['#input-image', '#adversarial-image', '#perturbation']) {
        const decoded = await page
          .locator(selector)
          .evaluate((image: HTMLImageElement) => image.complete && image.naturalWidth);
        expect({ selector, width: decoded }).toEqual({ selector, width: 28 });
      }
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
