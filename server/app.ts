/**
 * The guarded-inference HTTP API (fastify) and the web page it serves. Routes:
 *
 *   POST /v1/predict   an image (multipart field `image`, a raw PNG/JPEG/DICOM body, or a JSON tensor)
 *                      → class probabilities, the label, each detector's score and flag, Grad-CAM
 *   POST /v1/attack    the same image, a fixed-ε attack and ε → the adversarial image, the amplified
 *                      perturbation, both predictions and verdicts (only with --allow-attacks)
 *   GET  /v1/model     the model, its classes and the detectors with their thresholds
 *   GET  /v1/examples  example images (from --examples), GET /v1/examples/N.png one of them
 *   GET  /v1/runs      experiment runs under --runs with their reports (GET /runs/NAME/report.html)
 *   GET  /healthz      liveness and the pool's load;   GET /metrics   Prometheus text
 *   GET  /             the web page (web/, built by Vite)
 *
 * Every error is JSON `{"error": {"code", "message", "hint"}}` with a 4xx status for anything the
 * request got wrong (one mapping from MedrobustError codes to statuses, `statusOf`). Nothing a
 * request names reaches the file system except run names that are listed sub-folders of --runs and
 * the three report files in them; uploads are never written to disk.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import multipart from '@fastify/multipart';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { epsilonFromText } from '../src/core/epsilon.ts';
import { type ErrorCode, isMedrobustError, MedrobustError } from '../src/core/errors.ts';
import type { AttackOutcome, ModelDescription, Prediction } from './guarded-model.ts';
import {
  decodeUpload,
  defaultImageLimits,
  type ImageLimits,
  imageDataUri,
  imagePng,
  overlayDataUri,
  perturbationDataUri,
  tensorFromJson,
} from './images.ts';
import { createMetrics } from './metrics.ts';
import type { PoolStatistics } from './worker-pool.ts';
import type { TaskResult, WorkerTask } from './worker-protocol.ts';

/** What the app needs of the worker pool (the tests may give it another). */
export interface InferencePool {
  readonly description: ModelDescription;
  run<Task extends WorkerTask>(task: Task): Promise<TaskResult<Task>>;
  statistics(): PoolStatistics;
}

export interface Example {
  readonly className: string;
  /** h × w × c in [0, 1], the model's input. */
  readonly image: Float32Array;
}

export interface ServerOptions {
  readonly pool: InferencePool;
  readonly allowAttacks?: boolean;
  readonly limits?: Partial<ImageLimits>;
  /** Folder of experiment runs listed on the page (each a `medrobust run` output). */
  readonly runs?: string;
  /** The built web page (web/dist); without it / says how to build it. */
  readonly webRoot?: string;
  readonly examples?: readonly Example[];
  /** fastify's logger (default off: the CLI turns it on). */
  readonly logger?: boolean;
}

const statuses: Readonly<Record<ErrorCode, number>> = Object.freeze({
  'invalid-argument': 400,
  'invalid-data': 422,
  'not-found': 404,
  unsupported: 415,
  overloaded: 429,
  'invalid-model': 500,
  'engine-unavailable': 503,
  incomplete: 500,
  internal: 500,
});

/** The one mapping from error codes to HTTP statuses (DESIGN.md §5 rule 7). */
export function statusOf(code: ErrorCode): number {
  return statuses[code];
}

interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string; readonly hint?: string };
}

function errorBody(code: string, message: string, hint?: string): ErrorBody {
  return { error: { code, message, ...(hint === undefined ? {} : { hint }) } };
}

const rawImageHint =
  'send multipart/form-data with an "image" file, a raw image body (Content-Type image/png, image/jpeg or application/dicom), or JSON {"data": [...]}';

const rawImageTypes = ['image/png', 'image/jpeg', 'application/dicom', 'application/octet-stream'];

interface ParsedInput {
  readonly image: Float32Array;
  readonly source: Readonly<Record<string, unknown>>;
  readonly fields: Readonly<Record<string, unknown>>;
  readonly decodeMs: number;
}

function flag(value: unknown): boolean {
  return value === true || value === 'true' || value === '1' || value === 1 || value === 'yes';
}

async function readInput(
  request: FastifyRequest,
  model: ModelDescription,
  limits: ImageLimits,
): Promise<ParsedInput> {
  const start = performance.now();
  const query = (request.query ?? {}) as Record<string, unknown>;
  if (request.isMultipart()) {
    let bytes: Buffer | undefined;
    let name: string | undefined;
    const fields: Record<string, unknown> = { ...query };
    for await (const part of request.parts()) {
      if (part.type === 'file') {
        if (part.fieldname !== 'image' || bytes !== undefined) {
          await part.toBuffer();
          throw new MedrobustError('invalid-argument', `unexpected file field "${part.fieldname}"`, {
            hint: 'send one file, in the field named "image"',
          });
        }
        bytes = await part.toBuffer();
        name = part.filename;
      } else {
        fields[part.fieldname] = part.value;
      }
    }
    if (bytes === undefined) {
      throw new MedrobustError('invalid-argument', 'the form has no "image" file', {
        hint: 'send the image as a file in the multipart field "image" (curl -F image=@scan.png)',
      });
    }
    const { image, info } = await decodeUpload(bytes, model, limits);
    return {
      image,
      source: { ...info, bytes: bytes.length, ...(name === undefined ? {} : { file: name }) },
      fields,
      decodeMs: performance.now() - start,
    };
  }
  const body = request.body;
  if (Buffer.isBuffer(body)) {
    const { image, info } = await decodeUpload(body, model, limits);
    return {
      image,
      source: { ...info, bytes: body.length },
      fields: query,
      decodeMs: performance.now() - start,
    };
  }
  if (typeof body === 'string') {
    throw new MedrobustError(
      'unsupported',
      `a ${request.headers['content-type'] ?? 'text'} body is not an image`,
      {
        hint: rawImageHint,
      },
    );
  }
  if (body !== undefined && body !== null && typeof body === 'object') {
    const image = tensorFromJson(body, model);
    return {
      image,
      source: { format: 'tensor' },
      fields: { ...query, ...(body as Record<string, unknown>) },
      decodeMs: performance.now() - start,
    };
  }
  throw new MedrobustError('invalid-argument', 'no image in the request', {
    hint: rawImageHint,
  });
}

function predictionBody(prediction: Prediction, image: Float32Array, model: ModelDescription) {
  return {
    label: prediction.label,
    className: prediction.className,
    probabilities: Object.fromEntries(
      model.classNames.map((name, index) => [name, prediction.probabilities[index]]),
    ),
    adversarial: prediction.adversarial,
    detectors: prediction.detectors,
    ...(prediction.gradCam === undefined
      ? {}
      : { gradCam: overlayDataUri(image, prediction.gradCam, model) }),
  };
}

/**
 * The report.json of run NAME in the runs folder, when NAME is a plain folder name (letters, digits,
 * `_`, `.`, `-`; not `.` or `..`) holding one: the rule for a run to be listed and served.
 */
function runReportPath(directory: string, name: string): string | undefined {
  if (!/^[\w.-]+$/.test(name) || /^\.+$/.test(name)) return undefined;
  const path = join(directory, name, 'report.json');
  return existsSync(path) ? path : undefined;
}

async function listRuns(directory: string) {
  const entries = await readdir(directory, { withFileTypes: true }).catch(() => []);
  const runs = [];
  for (const entry of entries) {
    const reportPath = entry.isDirectory() ? runReportPath(directory, entry.name) : undefined;
    if (reportPath === undefined) continue;
    try {
      const report = JSON.parse(await readFile(reportPath, 'utf8'));
      const modified = (await stat(reportPath)).mtime.toISOString();
      runs.push({
        name: entry.name,
        experiment: report.experiment?.name ?? entry.name,
        complete: report.complete === true,
        modified,
        models: (report.summary?.models ?? []).map((row: Record<string, unknown>) => ({
          dataset: row.dataset,
          model: row.model,
          accuracy: row.accuracy,
          auc: row.auc,
        })),
        report: `/runs/${entry.name}/report.html`,
      });
    } catch {
      // A report being rewritten, or not ours: not listed.
    }
  }
  return runs.sort((a, b) => b.modified.localeCompare(a.modified));
}

const reportFiles: Readonly<Record<string, string>> = Object.freeze({
  'report.html': 'text/html; charset=utf-8',
  'report.json': 'application/json; charset=utf-8',
  'report.md': 'text/markdown; charset=utf-8',
});

function notBuiltPage(): string {
  return `<!doctype html><meta charset="utf-8"><title>medrobust</title>
<h1>medrobust guarded inference</h1>
<p>The web page has not been built: run <code>npm run build:web</code> and restart the server.</p>
<p>The API works without it: <a href="/v1/model">/v1/model</a>, <code>POST /v1/predict</code>,
<a href="/healthz">/healthz</a>, <a href="/metrics">/metrics</a>.</p>`;
}

export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  const { pool } = options;
  const model = pool.description;
  const limits: ImageLimits = { ...defaultImageLimits, ...options.limits };
  const metrics = createMetrics(model, () => pool.statistics());
  const app = Fastify({ logger: options.logger ?? false, bodyLimit: limits.uploadBytes });

  await app.register(multipart, {
    limits: { fileSize: limits.uploadBytes, files: 1, fields: 16, fieldSize: 1024, parts: 17 },
    throwFileSizeLimit: true,
  });
  app.addContentTypeParser(
    rawImageTypes,
    { parseAs: 'buffer', bodyLimit: limits.uploadBytes },
    (_request, body, done) => done(null, body),
  );

  app.addHook('onResponse', async (request, reply) => {
    metrics.observe(
      request.routeOptions.url ?? 'unmatched',
      request.method,
      reply.statusCode,
      reply.elapsedTime / 1000,
    );
  });

  app.setErrorHandler((error: unknown, request, reply) => {
    if (isMedrobustError(error)) {
      const status = statusOf(error.code);
      if (status >= 500) request.log.error(error);
      if (error.code === 'overloaded') void reply.header('retry-after', '1');
      return reply.status(status).send(errorBody(error.code, error.message, error.hint));
    }
    const fastifyError = error as { statusCode?: number; code?: string; message?: string };
    const status = fastifyError.statusCode ?? 500;
    if (status === 413) {
      return reply
        .status(413)
        .send(
          errorBody(
            'too-large',
            `the upload is larger than the ${limits.uploadBytes}-byte limit`,
            'send a smaller image (the server was started with this --max-upload)',
          ),
        );
    }
    if (status >= 400 && status < 500) {
      return reply
        .status(status)
        .send(
          errorBody(
            fastifyError.code ?? 'bad-request',
            fastifyError.message ?? 'bad request',
            status === 415
              ? 'send multipart/form-data, application/json, or a raw image/png, image/jpeg or application/dicom body'
              : undefined,
          ),
        );
    }
    request.log.error(error);
    return reply
      .status(500)
      .send(
        errorBody(
          'internal',
          (error as Error).message ?? String(error),
          'this is a bug in medrobust: please report it',
        ),
      );
  });

  app.setNotFoundHandler((request, reply) =>
    reply
      .status(404)
      .send(
        errorBody(
          'not-found',
          `no route ${request.method} ${request.url.split('?')[0]}`,
          'the API: POST /v1/predict, POST /v1/attack, GET /v1/model, /v1/examples, /v1/runs, /healthz, /metrics',
        ),
      ),
  );

  app.get('/healthz', async () => ({ status: 'ok', ...pool.statistics() }));
  app.get('/metrics', async (_request, reply) =>
    reply.header('content-type', metrics.contentType).send(await metrics.text()),
  );
  app.get('/v1/model', async () => ({ ...model, attacks: options.allowAttacks === true }));

  app.post('/v1/predict', async (request) => {
    const input = await readInput(request, model, limits);
    const explain = flag(input.fields.gradcam ?? input.fields.explain ?? false);
    const original = Float32Array.from(input.image);
    const queued = performance.now();
    const prediction = await pool.run({ kind: 'predict', image: input.image, explain });
    metrics.verdict(prediction);
    return {
      model: model.name,
      input: input.source,
      /** What the model saw: the upload after decoding, cropping and resizing. */
      image: imageDataUri(original, model),
      ...predictionBody(prediction, original, model),
      timings: {
        decodeMs: input.decodeMs,
        ...prediction.timings,
        totalMs: performance.now() - queued + input.decodeMs,
      },
    };
  });

  app.post('/v1/attack', async (request, reply) => {
    if (options.allowAttacks !== true) {
      return reply
        .status(403)
        .send(
          errorBody(
            'forbidden',
            'attacks are turned off on this server',
            'start it with `medrobust serve --allow-attacks` to try attacks (never on a server facing patients)',
          ),
        );
    }
    const input = await readInput(request, model, limits);
    const attack = String(input.fields.attack ?? 'pgd');
    const epsilonText = String(input.fields.epsilon ?? input.fields.eps ?? '');
    const epsilon = epsilonFromText(epsilonText);
    if (epsilon === undefined) {
      throw new MedrobustError('invalid-argument', `ε "${epsilonText}" is not a number in [0, 1]`, {
        hint: 'give epsilon as a decimal (0.0157) or a fraction of 255 (4/255)',
      });
    }
    const stepsText = input.fields.steps;
    const steps = stepsText === undefined || stepsText === '' ? undefined : Number(stepsText);
    const original = Float32Array.from(input.image);
    const outcome: AttackOutcome = await pool.run({
      kind: 'attack',
      image: input.image,
      explain: flag(input.fields.gradcam ?? input.fields.explain ?? false),
      request: { attack, epsilon, ...(steps === undefined ? {} : { steps }) },
    });
    metrics.verdict(outcome.attacked);
    return {
      model: model.name,
      attack: outcome.attack,
      epsilon: outcome.epsilon,
      linf: outcome.linf,
      image: imageDataUri(original, model),
      adversarialImage: imageDataUri(outcome.adversarial, model),
      perturbation: perturbationDataUri(outcome.adversarial, original, epsilon, model),
      clean: predictionBody(outcome.clean, original, model),
      attacked: predictionBody(outcome.attacked, outcome.adversarial, model),
      timings: { attackMs: outcome.attackMs },
    };
  });

  const examples = options.examples ?? [];
  const [height, width, channels] = model.inputShape;
  app.get('/v1/examples', async () =>
    examples.map((example, index) => ({
      id: index,
      className: example.className,
      image: `/v1/examples/${index}.png`,
    })),
  );
  app.get<{ Params: { file: string } }>('/v1/examples/:file', async (request, reply) => {
    const match = /^(\d+)\.png$/.exec(request.params.file);
    const example = match === null ? undefined : examples[Number(match[1])];
    if (example === undefined) {
      throw new MedrobustError('not-found', `no example ${request.params.file}`, {
        hint: `GET /v1/examples lists the ${examples.length} examples`,
      });
    }
    return reply
      .header('content-type', 'image/png')
      .send(Buffer.from(imagePng(example.image, width, height, channels)));
  });

  const runs = options.runs === undefined ? undefined : resolve(options.runs);
  app.get('/v1/runs', async () => (runs === undefined ? [] : listRuns(runs)));
  app.get<{ Params: { name: string; file: string } }>('/runs/:name/:file', async (request, reply) => {
    const { name, file } = request.params;
    const type = reportFiles[file];
    if (runs === undefined || type === undefined || runReportPath(runs, name) === undefined) {
      throw new MedrobustError('not-found', `no report ${name}/${file}`, {
        hint: 'GET /v1/runs lists the runs; each has report.html, report.json and report.md',
      });
    }
    return reply.header('content-type', type).send(await readFile(join(runs, name, file)));
  });

  const webRoot = options.webRoot === undefined ? undefined : resolve(options.webRoot);
  if (webRoot !== undefined && existsSync(join(webRoot, 'index.html'))) {
    await app.register(fastifyStatic, { root: webRoot, prefix: '/', index: 'index.html', wildcard: false });
  } else {
    app.get('/', async (_request, reply: FastifyReply) =>
      reply.header('content-type', 'text/html; charset=utf-8').send(notBuiltPage()),
    );
  }
  return app;
}
