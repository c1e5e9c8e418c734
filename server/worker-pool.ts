/**
 * The server's pool of inference workers: N worker threads, each with its own engine, model and
 * detectors, so requests run in parallel and the HTTP thread never computes (health checks, metrics
 * and uploads stay responsive while a model runs). Work waits in one bounded queue; when it is full a
 * request is refused at once with an 'overloaded' error (HTTP 429) instead of waiting without end.
 * Attacks are slow (tens to hundreds of forward and backward passes): with two or more workers at most
 * `workers − 1` run attacks at once, so one worker is always left for predictions.
 *
 * A worker that dies (out of memory, a native crash) fails only its own task and is replaced.
 */
import { Worker } from 'node:worker_threads';
import { MedrobustError } from '../src/core/errors.ts';
import type { ModelDescription } from './guarded-model.ts';
import {
  deserialiseError,
  type TaskResult,
  type WorkerMessage,
  type WorkerSetup,
  type WorkerTask,
} from './worker-protocol.ts';

export interface WorkerPoolOptions {
  readonly setup: WorkerSetup;
  /** Worker threads (default 1). */
  readonly workers?: number;
  /** Tasks that may wait for a worker before new ones are refused (default 32). */
  readonly queueLimit?: number;
}

export interface PoolStatistics {
  readonly workers: number;
  readonly busy: number;
  readonly queued: number;
  readonly queueLimit: number;
}

interface Pending {
  readonly id: number;
  readonly task: WorkerTask;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

interface Slot {
  worker: Worker;
  current: Pending | undefined;
}

const entry = new URL('./worker-entry.mjs', import.meta.url);

function startWorker(
  setup: WorkerSetup,
): Promise<{ worker: Worker; description: ModelDescription; warning?: string }> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(entry, { workerData: setup });
    const fail = (error: unknown) => {
      void worker.terminate();
      reject(error);
    };
    worker.once('error', fail);
    worker.once('exit', (code) =>
      fail(new MedrobustError('internal', `an inference worker exited with code ${code} while starting`)),
    );
    worker.once('message', (message: WorkerMessage) => {
      worker.removeAllListeners('error');
      worker.removeAllListeners('exit');
      if (message.type === 'ready') {
        resolve({
          worker,
          description: message.description,
          ...(message.warning === undefined ? {} : { warning: message.warning }),
        });
      } else if (message.type === 'failed') {
        fail(deserialiseError(message.error));
      } else {
        fail(new MedrobustError('internal', `an inference worker sent ${message.type} before it was ready`));
      }
    });
  });
}

export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closing = false;
  private readonly queueLimit: number;
  private readonly attackLanes: number;

  private constructor(
    private readonly setup: WorkerSetup,
    readonly description: ModelDescription,
    readonly warning: string | undefined,
    queueLimit: number,
    workers: number,
  ) {
    this.queueLimit = queueLimit;
    this.attackLanes = Math.max(1, workers - 1);
  }

  /** Starts every worker and waits until each has loaded the model (a failure stops them all). */
  static async start(options: WorkerPoolOptions): Promise<WorkerPool> {
    const workers = options.workers ?? 1;
    const queueLimit = options.queueLimit ?? 32;
    if (!(Number.isInteger(workers) && workers >= 1 && workers <= 64)) {
      throw new MedrobustError('invalid-argument', `workers must be an integer in 1…64, got ${workers}`, {
        hint: 'start one worker per two cores or so (each holds its own copy of the model)',
      });
    }
    if (!(Number.isInteger(queueLimit) && queueLimit >= 0)) {
      throw new MedrobustError(
        'invalid-argument',
        `the queue limit must be a whole number, got ${queueLimit}`,
        {
          hint: 'give how many requests may wait for a worker, e.g. 32',
        },
      );
    }
    const started = await Promise.allSettled(
      Array.from({ length: workers }, () => startWorker(options.setup)),
    );
    const failure = started.find((result) => result.status === 'rejected');
    if (failure !== undefined) {
      await Promise.all(
        started.map((result) =>
          result.status === 'fulfilled' ? result.value.worker.terminate() : undefined,
        ),
      );
      throw failure.reason;
    }
    const ready = started.map(
      (result) => (result as PromiseFulfilledResult<Awaited<ReturnType<typeof startWorker>>>).value,
    );
    const first = ready[0] as (typeof ready)[number];
    const pool = new WorkerPool(options.setup, first.description, first.warning, queueLimit, workers);
    for (const { worker } of ready) pool.adopt(worker);
    return pool;
  }

  private adopt(worker: Worker): void {
    const slot: Slot = { worker, current: undefined };
    this.slots.push(slot);
    worker.on('message', (message: WorkerMessage) => {
      const pending = slot.current;
      if (pending === undefined || !('id' in message) || message.id !== pending.id) return;
      slot.current = undefined;
      if (message.type === 'result') pending.resolve(message.result);
      else if (message.type === 'error') pending.reject(deserialiseError(message.error));
      this.dispatch();
    });
    worker.on('error', () => {
      // 'exit' follows and replaces the worker.
    });
    worker.on('exit', (code) => {
      const index = this.slots.indexOf(slot);
      if (index >= 0) this.slots.splice(index, 1);
      slot.current?.reject(
        new MedrobustError(
          'internal',
          `the inference worker running this request stopped (exit code ${code})`,
          {
            hint: 'retry; if it happens again the server log says why (often out of memory: start fewer workers)',
          },
        ),
      );
      slot.current = undefined;
      if (!this.closing) {
        startWorker(this.setup).then(
          ({ worker: replacement }) => {
            if (this.closing) void replacement.terminate();
            else {
              this.adopt(replacement);
              this.dispatch();
            }
          },
          () => {
            // Could not restart: the pool goes on with the workers it has.
          },
        );
      }
    });
  }

  statistics(): PoolStatistics {
    return {
      workers: this.slots.length,
      busy: this.slots.filter((slot) => slot.current !== undefined).length,
      queued: this.queue.length,
      queueLimit: this.queueLimit,
    };
  }

  /** Runs a task on the next free worker; the image buffer is transferred (do not use it after). */
  run<Task extends WorkerTask>(task: Task): Promise<TaskResult<Task>> {
    if (this.closing) {
      return Promise.reject(
        new MedrobustError('overloaded', 'the server is shutting down', { hint: 'retry shortly' }),
      );
    }
    const idle = this.slots.some((slot) => slot.current === undefined);
    if (!idle && this.queue.length >= this.queueLimit) {
      return Promise.reject(
        new MedrobustError(
          'overloaded',
          `the server is busy: ${this.queue.length} requests are already waiting`,
          {
            hint: 'retry after a moment (the Retry-After header says when), or start the server with more --workers',
          },
        ),
      );
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, task, resolve: resolve as (value: unknown) => void, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (slot.current !== undefined) continue;
      const attacksRunning = this.slots.filter((other) => other.current?.task.kind === 'attack').length;
      const index = this.queue.findIndex(
        (pending) => pending.task.kind !== 'attack' || attacksRunning < this.attackLanes,
      );
      if (index < 0) return;
      const [pending] = this.queue.splice(index, 1) as [Pending];
      slot.current = pending;
      slot.worker.postMessage({ id: pending.id, task: pending.task }, [
        pending.task.image.buffer as ArrayBuffer,
      ]);
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const pending of this.queue.splice(0)) {
      pending.reject(
        new MedrobustError('overloaded', 'the server is shutting down', { hint: 'retry shortly' }),
      );
    }
    await Promise.all(this.slots.map((slot) => slot.worker.terminate()));
  }
}
