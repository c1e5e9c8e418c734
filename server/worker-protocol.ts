/**
 * Messages between the server's main thread and its inference workers (server/worker-pool.ts,
 * server/inference-worker.ts). Images travel as transferred Float32Arrays; errors as their code,
 * message and hint, so a MedrobustError thrown in a worker reaches the HTTP error handler intact.
 */
import { type ErrorCode, MedrobustError } from '../src/core/errors.ts';
import type { AttackOutcome, AttackRequest, ModelDescription, Prediction } from './guarded-model.ts';

export interface WorkerSetup {
  readonly model: string;
  readonly detectors: readonly string[];
  readonly engine: string;
  /** Intra-op threads of this worker's engine. */
  readonly threads?: number;
}

export type WorkerTask =
  | { readonly kind: 'predict'; readonly image: Float32Array; readonly explain: boolean }
  | {
      readonly kind: 'attack';
      readonly image: Float32Array;
      readonly explain: boolean;
      readonly request: AttackRequest;
    };

export type TaskResult<Task extends WorkerTask> = Task extends { kind: 'attack' }
  ? AttackOutcome
  : Prediction;

export interface SerialisedError {
  readonly code: ErrorCode;
  readonly message: string;
  readonly hint?: string;
}

export type WorkerMessage =
  | { readonly type: 'ready'; readonly description: ModelDescription; readonly warning?: string }
  | { readonly type: 'failed'; readonly error: SerialisedError }
  | { readonly type: 'result'; readonly id: number; readonly result: Prediction | AttackOutcome }
  | { readonly type: 'error'; readonly id: number; readonly error: SerialisedError };

export interface WorkerRequest {
  readonly id: number;
  readonly task: WorkerTask;
}

export function serialiseError(error: unknown): SerialisedError {
  if (error instanceof MedrobustError) {
    return {
      code: error.code,
      message: error.message,
      ...(error.hint === undefined ? {} : { hint: error.hint }),
    };
  }
  return { code: 'internal', message: error instanceof Error ? error.message : String(error) };
}

export function deserialiseError(error: SerialisedError): MedrobustError {
  return new MedrobustError(error.code, error.message, error.hint === undefined ? {} : { hint: error.hint });
}
