/**
 * Engines by name (a frozen registry, DESIGN.md §5 rule 5). An unknown name lists the valid ones.
 * This is the Node engine loader: it may start the wasm backend's worker threads (src/node).
 */
import { availableParallelism } from 'node:os';
import { MedrobustError } from '../core/errors.ts';
import { loadTorchAddon } from '../node/torch-addon.ts';
import { activateWasmBackend } from '../node/wasm-threads.ts';
import type { Engine, EngineName } from './contracts.ts';
import { loadTfjsEngine } from './tfjs/tfjs-engine.ts';
import { createTorchEngine } from './torch/torch-network.ts';
import type { WasmKernels } from './wasm/kernels.ts';

export interface EngineOptions {
  /** wasm: `ours` (the kernel pack, default) or `stock` tfjs kernels. */
  readonly kernels?: WasmKernels;
  /**
   * wasm: threads for XNNPACK (default: every core). Fixed for the process by the first wasm
   * engine loaded; a later different request is reported in `describe().warning`.
   * torch: libtorch's intra-op threads (default: every core; process-wide).
   */
  readonly threads?: number;
}

/**
 * The Emscripten glue of tfjs-backend-wasm installs process-wide `uncaughtException` and
 * `unhandledRejection` listeners that only rethrow; Node then reports any later crash at the
 * rethrow, printing the glue's whole minified source line (about 30 kB) instead of the error.
 * They are removed once the backend has started (tfjs never calls exit(), which they exist for).
 */
async function withoutGlueListeners<T>(start: () => Promise<T>): Promise<T> {
  const events = ['uncaughtException', 'unhandledRejection'] as const;
  // Typed as one event: Node's overloads do not accept the union of the two names.
  const listeners = (event: (typeof events)[number]) => process.listeners(event as 'uncaughtException');
  const before = new Map(events.map((event) => [event, new Set<unknown>(listeners(event))]));
  try {
    return await start();
  } finally {
    for (const event of events) {
      for (const listener of listeners(event)) {
        if (!before.get(event)?.has(listener))
          process.removeListener(event, listener as (...args: unknown[]) => void);
      }
    }
  }
}

async function loadWasmEngine(options: EngineOptions): Promise<Engine> {
  const started = await withoutGlueListeners(() =>
    activateWasmBackend(options.threads === undefined ? {} : { threads: options.threads }),
  );
  return loadTfjsEngine('wasm', {
    ...(options.kernels === undefined ? {} : { kernels: options.kernels }),
    threads: started.threads,
    ...(started.warning === undefined ? {} : { warning: started.warning }),
  });
}

/**
 * The native engine. Tensors above the engine layer stay tfjs tensors, carried by the wasm backend
 * (fast elementwise ops for attacks); the networks run in libtorch with `threads` threads.
 */
async function loadNativeEngine(options: EngineOptions): Promise<Engine> {
  const loaded = loadTorchAddon();
  if (loaded.addon === undefined) {
    throw new MedrobustError('engine-unavailable', `the torch engine is not available: ${loaded.reason}`, {
      hint: 'use --engine wasm (always available), or --engine auto to take torch when it loads',
    });
  }
  const carrier = await loadWasmEngine(options.kernels === undefined ? {} : { kernels: options.kernels });
  const warning = carrier.describe().warning;
  return createTorchEngine(loaded.addon, {
    threads: options.threads ?? availableParallelism(),
    tensors: 'tfjs wasm',
    ...(typeof warning === 'string' ? { warning } : {}),
  });
}

const engines: Readonly<Record<EngineName, (options: EngineOptions) => Promise<Engine>>> = Object.freeze({
  wasm: loadWasmEngine,
  cpu: () => loadTfjsEngine('cpu'),
  torch: loadNativeEngine,
});

/** What `--engine` accepts: `auto` (torch when it loads, else wasm) and every engine by name. */
export const engineNames = Object.freeze(['auto', ...Object.keys(engines)] as ('auto' | EngineName)[]);

export function isEngineName(name: string): name is EngineName {
  return Object.hasOwn(engines, name);
}

/** Whether the native engine can load here, and if not, why (for `medrobust doctor`). */
export function nativeEngineStatus(): { readonly available: boolean; readonly reason?: string } {
  const loaded = loadTorchAddon();
  return loaded.addon === undefined ? { available: false, reason: loaded.reason } : { available: true };
}

export async function loadEngine(name: string = 'wasm', options: EngineOptions = {}): Promise<Engine> {
  if (name === 'auto') return loadEngine(nativeEngineStatus().available ? 'torch' : 'wasm', options);
  if (!isEngineName(name)) {
    throw new MedrobustError('invalid-argument', `unknown engine "${name}"`, {
      hint: `choose one of: ${engineNames.join(', ')}`,
    });
  }
  return engines[name](options);
}
