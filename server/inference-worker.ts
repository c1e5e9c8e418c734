/**
 * One inference worker thread: loads the engine, the model and its detectors once, then answers
 * predict and attack tasks one at a time (the pool never sends a second before the first is done).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadEngine } from '../src/engine/load-engine.ts';
import { GuardedModel } from './guarded-model.ts';
import {
  serialiseError,
  type WorkerMessage,
  type WorkerRequest,
  type WorkerSetup,
} from './worker-protocol.ts';

const port = parentPort;
if (port === null) throw new Error('server/inference-worker.ts runs as a worker thread of the server');
const setup = workerData as WorkerSetup;
const post = (message: WorkerMessage, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

try {
  const engine = await loadEngine(
    setup.engine,
    setup.threads === undefined ? {} : { threads: setup.threads },
  );
  const model = await GuardedModel.load(engine, setup.model, setup.detectors);
  const warning = engine.describe().warning;
  post({ type: 'ready', description: model.describe(), ...(typeof warning === 'string' ? { warning } : {}) });
  port.on('message', async ({ id, task }: WorkerRequest) => {
    try {
      if (task.kind === 'predict') {
        const result = await model.predict(task.image, task.explain);
        post(
          { type: 'result', id, result },
          result.gradCam === undefined ? [] : [result.gradCam.buffer as ArrayBuffer],
        );
      } else {
        const result = await model.attack(task.image, task.request, task.explain);
        post({ type: 'result', id, result }, [result.adversarial.buffer as ArrayBuffer]);
      }
    } catch (error) {
      post({ type: 'error', id, error: serialiseError(error) });
    }
  });
} catch (error) {
  post({ type: 'failed', error: serialiseError(error) });
}
