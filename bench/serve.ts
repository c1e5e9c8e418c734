/**
 * `npm run bench -- serve [--json] [--quick]`: a bounded load test of `medrobust serve` on
 * 127.0.0.1 with autocannon: ResNet-18 at 28 px (trained two epochs on the shipped BreastMNIST) with
 * two detectors (KD and DFeat, fitted against FGSM at 8/255), POST /v1/predict of a 28-px PNG, on
 * each engine that loads, with 1 and 2 inference workers. Baselines in the same run: GET /healthz
 * (the HTTP stack alone) and /v1/predict of the same model served without detectors (the detectors'
 * cost is the difference). Prints p50/p99 latency, requests per second, errors and non-2xx answers
 * (which must be zero), and the server's peak RSS (workers are threads, so it is the whole server).
 * A one-connection row per engine gives the latency of a request that never queues.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import autocannon from 'autocannon';
import { encode } from 'fast-png';
import { nativeEngineStatus } from '../src/engine/load-engine.ts';
import { openDataset } from '../src/node/datasets.ts';
import { markdownTable } from './table.ts';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..');
const binary = join(root, 'bin', 'medrobust.js');
const data = join(root, 'data', 'breastmnist.npz');

interface ServeCase {
  readonly engine: 'wasm' | 'torch';
  readonly workers: number;
  readonly detectors: 0 | 2;
  readonly route: '/v1/predict' | '/healthz';
  readonly connections: number;
  readonly seconds: number;
}

async function cli(args: string[]): Promise<void> {
  await run(process.execPath, [binary, ...args], { maxBuffer: 1 << 24 });
}

/** Starts `medrobust serve` and resolves with its address once it listens. */
function startServer(args: string[]): Promise<{ child: ChildProcess; address: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [binary, 'serve', '--port', '0', '--quiet', ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = / on (http:\/\/[\d.:]+) /.exec(stderr);
      if (match?.[1] !== undefined) resolve({ child, address: match[1] });
    });
    child.once('exit', (code) => reject(new Error(`medrobust serve exited with ${code}: ${stderr.trim()}`)));
  });
}

function peakRssMB(pid: number | undefined): number | null {
  if (pid === undefined || !existsSync(`/proc/${pid}/status`)) return null;
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match === null ? null : Math.round(Number(match[1]) / 1024);
}

async function measure(
  entry: ServeCase,
  model: string,
  detectors: string,
  body: Buffer,
): Promise<Record<string, unknown>> {
  const threads = Math.max(1, Math.floor(availableParallelism() / entry.workers));
  const { child, address } = await startServer([
    '--model',
    model,
    ...(entry.detectors === 0 ? [] : ['--detectors', detectors]),
    '--engine',
    entry.engine,
    '--workers',
    String(entry.workers),
    '--threads',
    String(threads),
    '--queue',
    '256',
  ]);
  try {
    const predict = entry.route === '/v1/predict';
    const options = {
      url: `${address}${entry.route}`,
      connections: entry.connections,
      duration: entry.seconds,
      ...(predict ? { method: 'POST' as const, headers: { 'content-type': 'image/png' }, body } : {}),
    };
    // A short warm-up (first requests build the engines' kernels and caches), then the measurement.
    await autocannon({ ...options, duration: 1 });
    const result = await autocannon(options);
    return {
      ...entry,
      threads,
      requests: result.requests.total,
      requestsPerSecond: Math.round(result.requests.average * 10) / 10,
      p50ms: result.latency.p50,
      p99ms: result.latency.p99,
      errors: result.errors + result.timeouts,
      non2xx: result.non2xx,
      rssMB: peakRssMB(child.pid),
    };
  } finally {
    child.kill('SIGTERM');
    await new Promise((done) => child.once('exit', done));
  }
}

export async function serveBenchmark(argv: readonly string[]): Promise<void> {
  const json = argv.includes('--json');
  const quick = argv.includes('--quick');
  const native = nativeEngineStatus();
  if (!native.available) process.stderr.write(`bench serve: torch skipped: ${native.reason}\n`);
  const engines: ServeCase['engine'][] = native.available ? ['wasm', 'torch'] : ['wasm'];
  const work = await mkdtemp(join(tmpdir(), 'medrobust-bench-serve-'));
  try {
    process.stderr.write('bench serve: training ResNet-18 (2 epochs) and fitting KD and DFeat…\n');
    const model = join(work, 'model');
    const trainEngine = native.available ? 'torch' : 'wasm';
    await cli([
      'train',
      '--data',
      data,
      '--arch',
      'resnet18',
      '--epochs',
      quick ? '1' : '2',
      '--out',
      model,
      '--engine',
      trainEngine,
    ]);
    await cli([
      'detect',
      '--model',
      model,
      '--data',
      data,
      '--attack',
      'fgsm',
      '--eps',
      '8/255',
      '--detectors',
      'kd,dfeat',
      '--protocol',
      'grouped',
      '--reference',
      '300',
      '--images',
      '100',
      '--engine',
      trainEngine,
      '--out',
      join(work, 'detect'),
    ]);
    const set = (await openDataset(data)).read('test');
    const body = Buffer.from(
      encode({
        width: 28,
        height: 28,
        channels: 1,
        depth: 8,
        data: Uint8Array.from(set.images.subarray(0, 784), (value) => Math.round(value * 255)),
      }),
    );
    const seconds = quick ? 4 : 10;
    const cases: ServeCase[] = [];
    for (const engine of engines) {
      cases.push({ engine, workers: 1, detectors: 0, route: '/healthz', connections: 8, seconds });
      // One connection: the latency of a request that never waits for a worker.
      cases.push({ engine, workers: 1, detectors: 2, route: '/v1/predict', connections: 1, seconds });
      for (const workers of quick ? [2] : [1, 2])
        for (const detectors of [0, 2] as const)
          cases.push({ engine, workers, detectors, route: '/v1/predict', connections: 4 * workers, seconds });
    }
    const results: Record<string, unknown>[] = [];
    for (const entry of cases) {
      let result: Record<string, unknown>;
      try {
        result = await measure(entry, model, join(work, 'detect', 'detectors'), body);
      } catch (error) {
        result = { ...entry, requestsPerSecond: null, error: (error as Error).message.split('\n')[0] };
      }
      results.push(result);
      if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
      else process.stderr.write('.');
    }
    if (!json) process.stderr.write('\n');
    const rows = results.map((result) => {
      const baseline = results.find(
        (other) =>
          other.route === '/v1/predict' &&
          other.detectors === 0 &&
          other.engine === result.engine &&
          other.workers === result.workers &&
          other.connections === result.connections,
      );
      const cost =
        result.detectors === 2 && typeof baseline?.p50ms === 'number' && typeof result.p50ms === 'number'
          ? `${result.p50ms >= baseline.p50ms ? '+' : '−'}${Math.abs(result.p50ms - baseline.p50ms).toFixed(0)} ms p50`
          : '';
      const show = (value: unknown) => (value === undefined || value === null ? '—' : String(value));
      return [
        show(result.engine),
        show(result.route),
        `${show(result.workers)} × ${show(result.threads)}`,
        show(result.detectors),
        show(result.connections),
        show(result.requestsPerSecond),
        show(result.p50ms),
        show(result.p99ms),
        `${show(result.errors)} / ${show(result.non2xx)}`,
        cost,
        show(result.rssMB),
        show(result.error ?? ''),
      ];
    });
    const header = [
      'engine',
      'route',
      'workers × threads',
      'detectors',
      'connections',
      'requests/s',
      'p50 ms',
      'p99 ms',
      'errors / non-2xx',
      'detector cost',
      'peak RSS MB',
      'note',
    ];
    process.stdout.write(`${markdownTable(header, rows)}\n`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
