/**
 * Starts tfjs-backend-wasm 4.22 with several threads under Node (DESIGN.md §3). Stock, the backend
 * runs single-threaded in Node; three things in the package stop it, each worked around here from
 * our own code (nothing under node_modules is modified):
 *
 * 1. The flag. `WASM_HAS_MULTITHREAD_SUPPORT` (dist/flags_wasm.js, inlined in the Node bundle
 *    dist/tf-backend-wasm.node.js) returns false whenever `IS_NODE` (a TODO pointing at tfjs issue
 *    #3830), so `init()` in dist/backend_wasm.js loads the non-threaded module. Workaround: check
 *    ourselves that SharedArrayBuffer and shared WebAssembly memory work (Node 20: yes, no flags),
 *    then `tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true)` before `tf.setBackend('wasm')`.
 *
 * 2. The `blob:` worker. For the threaded module, `init()` gives Emscripten a private config whose
 *    `locateFile` answers `*.worker.js` with `URL.createObjectURL(new Blob([wasmWorkerContents]))`
 *    and whose `mainScriptUrlOrBlob` is a Blob of `wasmFactoryThreadedSimd.toString()`. The
 *    Emscripten glue (wasm-out/tfjs-backend-wasm-threaded-simd.js, inlined in the Node bundle) does
 *    use worker_threads under `ENVIRONMENT_IS_NODE` (`global.Worker = require("worker_threads")
 *    .Worker`), but `PThread.allocateUnusedWorker` calls `new Worker(locateFile(...))`, and Node's
 *    Worker rejects a `blob:` URL (ERR_WORKER_PATH). Even past that, each worker is sent
 *    `{cmd: 'load', urlOrBlob: Module.mainScriptUrlOrBlob}`; the worker can only `importScripts` a
 *    file path (fs.readFileSync + indirect eval), and the Blob's text is the bundled factory, which
 *    refers to rollup's `require$$0`… and `commonjsGlobal`, undefined in a worker. `locateFile` and
 *    `mainScriptUrlOrBlob` would be the right hooks, but tfjs sets both on a config object user code
 *    never sees (`setWasmPaths` only redirects the `.wasm` files). Workaround: the glue reads the
 *    global `Worker` when it creates each worker, so while threads are in use `globalThis.Worker` is
 *    an accessor (its setter ignores the glue's assignment) returning a worker_threads.Worker
 *    subclass that drops the `blob:` URL and evaluates the same worker source, which
 *    wasm-out/tfjs-backend-wasm-threaded-simd.worker.js exports as `wasmWorkerContents`
 *    (`{eval: true}`), and that rewrites the `load` message's `urlOrBlob` to the absolute path of
 *    wasm-out/tfjs-backend-wasm-threaded-simd.js, the unbundled glue of the same build (same wasm
 *    imports and proxied-function table as the bundled copy).
 *
 * 3. The pool cap. `init_with_threads_count` (src/cc/backend.cc, compiled into
 *    dist/tfjs-backend-wasm-threaded-simd.wasm) clamps the count to
 *    min(max(n, 1), 8, num_cores) with `num_cores = emscripten_num_logical_cores() / 2`, a static
 *    initialiser run during module start-up; in Node the glue answers it with `os.cpus().length`
 *    (`require$$4` in the bundle), so on 2 cores even `setThreadsCount(2)` yields 1 thread.
 *    Workaround: `setThreadsCount(n)`, and while `tf.setBackend('wasm')` runs, `os.cpus()` (the same
 *    module object the bundle holds) reports 2n entries; it is restored as soon as start-up ends.
 *    The glue pre-creates 8 workers (`PThread.initMainThread`) and backend.cc allows at most 8
 *    threads, so requests above 8 are capped (XNNPACK's pool must never wait on a worker that is
 *    still loading: the main thread blocks in `pthreadpool_create`).
 *
 * Exiting: the glue `ref()`s a worker when it starts a pthread on it, and XNNPACK's pool threads park
 * forever, so a process would never exit by itself. The worker subclass makes `ref()` a no-op (a
 * worker holds the event loop only until it has loaded, which start-up awaits) and every worker is
 * `unref()`ed after start-up; `shutdownWasmThreads()` tears the threads down explicitly.
 *
 * tfjs has one wasm backend per process and the thread count is fixed when it starts: decide it
 * before anything calls `tf.setBackend('wasm')` (call `activateWasmBackend` instead of it). A later
 * call reports the running count, with a warning if it differs from the one requested. `threads: 1`
 * loads the stock non-threaded SIMD build (no workers); when threads cannot start, that build is
 * loaded instead and the returned `warning` says why.
 */
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { Worker as NodeWorker, type Transferable as WorkerTransferable } from 'node:worker_threads';
import { getThreadsCount, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { MedrobustError } from '../core/errors.ts';

export interface WasmThreadsOptions {
  /** Threads for XNNPACK's pool, the calling thread included (default: `os.availableParallelism()`). */
  threads?: number;
}

export interface WasmThreadsResult {
  /** The thread count the backend runs with. */
  threads: number;
  /** Whether the SIMD build is in use. */
  simd: boolean;
  /** Why fewer threads than requested run (one line, for the caller to show or log). */
  warning?: string;
}

/** `PThread.initMainThread`'s pre-created workers, and backend.cc's `max_num_threads`. */
const MAX_THREADS = 8;
/** A backstop only: the threaded start-up takes about a second. */
const START_TIMEOUT_MS = 30_000;

/** The worker_threads workers of the threaded module, for unref and shutdown. */
const pthreadWorkers = new Set<NodeWorker>();
/** Set while the threaded module starts: a worker error then means "fall back", not "crash". */
let starting: { fail(reason: unknown): void } | undefined;
/** Undoes the `globalThis.Worker` hook; set while threads are in use. */
let unhookWorker: (() => void) | undefined;
/** Serialises activations: tfjs starts the wasm backend once per process. */
let lastActivation: Promise<unknown> = Promise.resolve();

export function activateWasmBackend(options: WasmThreadsOptions = {}): Promise<WasmThreadsResult> {
  const requested = options.threads ?? os.availableParallelism();
  if (!Number.isInteger(requested) || requested < 1) {
    return Promise.reject(
      new MedrobustError('invalid-argument', `wasm threads must be a positive integer, got ${requested}`, {
        hint: 'pass threads: 1 or more, or leave it out to use every core',
      }),
    );
  }
  const activation = lastActivation.catch(() => undefined).then(() => activate(requested));
  lastActivation = activation;
  return activation;
}

/**
 * Terminates the wasm backend's worker threads and removes the wasm backend from tfjs (its thread
 * pool cannot run without them, and tfjs cannot start a second one: a process that needs wasm again
 * must restart). Not needed for a clean exit; for tests and servers that want the threads gone now.
 */
export function shutdownWasmThreads(): void {
  if (unhookWorker === undefined) return;
  // BackendWasm.dispose() runs PThread.terminateAllThreads().
  if (tf.findBackendFactory('wasm') !== null) tf.removeBackend('wasm');
  for (const worker of pthreadWorkers) void worker.terminate();
  pthreadWorkers.clear();
  unhookWorker();
  unhookWorker = undefined;
}

async function activate(requested: number): Promise<WasmThreadsResult> {
  const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true;
  if (tf.findBackend('wasm') !== null) {
    await setWasmBackend();
    const threads = getThreadsCount();
    return result(
      threads,
      simd,
      threads === requested
        ? undefined
        : `the wasm backend already runs with ${threads} thread(s) (fixed for the life of the process); ${requested} were requested`,
    );
  }
  const capped = Math.min(requested, MAX_THREADS);
  let warning =
    capped < requested ? `wasm threads capped at ${MAX_THREADS} (${requested} were requested)` : undefined;
  if (capped > 1) {
    const failure = await startThreaded(capped, simd);
    if (failure === undefined) {
      const threads = getThreadsCount();
      if (threads < capped) warning = `the wasm backend started ${threads} of ${capped} requested threads`;
      return result(threads, simd, warning);
    }
    warning = `wasm threads unavailable (${failure}); running on 1 thread`;
  }
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  setThreadsCount(1);
  await setWasmBackend();
  return result(getThreadsCount(), simd, warning);
}

function result(threads: number, simd: boolean, warning: string | undefined): WasmThreadsResult {
  return warning === undefined ? { threads, simd } : { threads, simd, warning };
}

async function setWasmBackend(): Promise<void> {
  let started: boolean;
  try {
    started = await tf.setBackend('wasm');
  } catch (error) {
    throw new MedrobustError('engine-unavailable', 'the wasm engine failed to start', {
      cause: error,
      hint: 'reinstall with `npm ci`; `medrobust doctor` lists which engines load',
    });
  }
  if (!started) {
    throw new MedrobustError('engine-unavailable', 'the wasm engine failed to start', {
      hint: 'reinstall with `npm ci`; `medrobust doctor` lists which engines load',
    });
  }
}

/** Starts the threaded module; returns undefined on success, else why not (the caller falls back). */
async function startThreaded(threads: number, simd: boolean): Promise<string | undefined> {
  const problem = threadSupportProblem(simd);
  if (problem !== undefined) return problem;
  let files: PthreadFiles;
  try {
    files = pthreadFiles();
  } catch (error) {
    return `cannot read the pthread scripts: ${describe(error)}`;
  }
  const unhook = hookGlobalWorker(pthreadWorkerClass(files));
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  setThreadsCount(threads);
  const restoreCpus = reportLogicalCores(2 * threads);
  let timer: NodeJS.Timeout | undefined;
  let failure: string | undefined;
  try {
    failure = await Promise.race([
      tf.setBackend('wasm').then(
        (ok) => (ok ? undefined : 'tf.setBackend returned false'),
        (error: unknown) => describe(error),
      ),
      new Promise<string>((resolve) => {
        starting = { fail: (reason) => resolve(`a worker failed: ${describe(reason)}`) };
      }),
      new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve(`no start within ${START_TIMEOUT_MS / 1000} s`), START_TIMEOUT_MS);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    starting = undefined;
    restoreCpus();
  }
  if (failure !== undefined) {
    for (const worker of pthreadWorkers) void worker.terminate();
    pthreadWorkers.clear();
    unhook();
    return failure;
  }
  for (const worker of pthreadWorkers) worker.unref();
  unhookWorker = unhook;
  return undefined;
}

function threadSupportProblem(simd: boolean): string | undefined {
  if (!simd) return 'the threaded build needs WebAssembly SIMD';
  if (typeof SharedArrayBuffer !== 'function') return 'no SharedArrayBuffer';
  try {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    if (!(memory.buffer instanceof SharedArrayBuffer)) return 'no shared WebAssembly memory';
  } catch (error) {
    return `no shared WebAssembly memory: ${describe(error)}`;
  }
  return undefined;
}

interface PthreadFiles {
  /** The pthread worker's source, as tfjs would put it in its Blob. */
  workerSource: string;
  /** Absolute path of the unbundled Emscripten glue, which each worker evaluates. */
  glue: string;
}

function pthreadFiles(): PthreadFiles {
  const require = createRequire(import.meta.url);
  // `main` is dist/tf-backend-wasm.node.js; the package has no `exports` map.
  const wasmOut = join(dirname(dirname(require.resolve('@tensorflow/tfjs-backend-wasm'))), 'wasm-out');
  const glue = join(wasmOut, 'tfjs-backend-wasm-threaded-simd.js');
  require.resolve(glue); // throws when missing
  const { wasmWorkerContents } = require(join(wasmOut, 'tfjs-backend-wasm-threaded-simd.worker.js')) as {
    wasmWorkerContents?: unknown;
  };
  if (typeof wasmWorkerContents !== 'string') throw new Error('wasmWorkerContents is not a string');
  // A template literal in that file turned the source's "\n" escapes into newlines; tfjs escapes
  // them again before making its Blob (dist/backend_wasm.js), and so do we.
  return { workerSource: wasmWorkerContents.replace(/\n/g, '\\n'), glue };
}

type WorkerClass = new (url: unknown) => NodeWorker;

/** The worker_threads.Worker the Emscripten glue gets when it says `new Worker(url)` (blocker 2). */
function pthreadWorkerClass(files: PthreadFiles): WorkerClass {
  return class PthreadWorker extends NodeWorker {
    #glueOnError: ((error: unknown) => void) | undefined;

    constructor(url: unknown) {
      // The glue passes tfjs' blob: URL of the same worker source; run that source directly.
      if (typeof url === 'string' && url.startsWith('blob:')) URL.revokeObjectURL(url);
      // Without the parent's flags: `--input-type=module` would make the eval'd source ESM (it is a
      // script using `require`), and loaders such as tsx are not needed there.
      super(files.workerSource, { eval: true, execArgv: [] });
      pthreadWorkers.add(this);
      this.once('exit', () => pthreadWorkers.delete(this));
      // An early error (before the glue listens) must not go unhandled; during start-up it means
      // "fall back to one thread". Later, the glue's own listener reports it as usual.
      this.on('error', (error) => starting?.fail(error));
    }

    /** Never hold the event loop for a running pthread: XNNPACK's pool threads never finish. */
    override ref(): void {}

    override postMessage(value: unknown, transferList?: readonly WorkerTransferable[]): void {
      super.postMessage(withGluePath(value, files.glue), transferList);
    }

    /** The glue listens with `worker.on('error', e => worker.onerror(e))` and throws from it. */
    get onerror(): (error: unknown) => void {
      return (error) => {
        if (starting !== undefined) starting.fail(error);
        else this.#glueOnError?.(error);
      };
    }

    set onerror(handler: ((error: unknown) => void) | undefined) {
      this.#glueOnError = handler;
    }
  };
}

/** The worker's `load` command names the script that defines the module factory: make it a path. */
function withGluePath(message: unknown, glue: string): unknown {
  if (typeof message !== 'object' || message === null) return message;
  const { cmd, urlOrBlob } = message as { cmd?: unknown; urlOrBlob?: unknown };
  return cmd === 'load' && typeof urlOrBlob !== 'string' ? { ...message, urlOrBlob: glue } : message;
}

/** Makes the global `Worker` our class, ignoring the glue's `global.Worker = ...`; returns the undo. */
function hookGlobalWorker(workerClass: WorkerClass): () => void {
  const previous = Object.getOwnPropertyDescriptor(globalThis, 'Worker');
  Object.defineProperty(globalThis, 'Worker', {
    configurable: true,
    get: () => workerClass,
    set: () => {},
  });
  return () => {
    if (previous === undefined) Reflect.deleteProperty(globalThis, 'Worker');
    else Object.defineProperty(globalThis, 'Worker', previous);
  };
}

/**
 * Makes `os.cpus()` report `count` entries until the returned undo runs (blocker 3). The bundle
 * calls it through its own reference to the os module object, so the property is swapped there.
 */
function reportLogicalCores(count: number): () => void {
  const osModule = os as { cpus: typeof os.cpus };
  const realCpus = osModule.cpus;
  osModule.cpus = () => {
    const cpus = realCpus();
    const first = cpus[0] ?? {
      model: 'unknown',
      speed: 0,
      times: { user: 0, nice: 0, sys: 0, idle: 0, irq: 0 },
    };
    return Array.from({ length: Math.max(count, cpus.length) }, (_, i) => cpus[i] ?? first);
  };
  return () => {
    osModule.cpus = realCpus;
  };
}

function describe(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n', 1)[0] ?? text;
}
