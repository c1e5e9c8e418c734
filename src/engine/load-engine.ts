/**
 * Engines by name (a frozen registry, DESIGN.md §5 rule 5). An unknown name lists the valid ones.
 * This is the Node engine loader: it may start the wasm backend's worker threads (src/node).
 */
import { MedrobustError } from '../core/errors.ts';
import { activateWasmBackend } from '../node/wasm-threads.ts';
import type { Engine, EngineName } from './contracts.ts';
import { loadTfjsEngine } from './tfjs/tfjs-engine.ts';
import type { WasmKernels } from './wasm/kernels.ts';

export interface EngineOptions {
  /** wasm: `ours` (the kernel pack, default) or `stock` tfjs kernels. */
  readonly kernels?: WasmKernels;
  /**
   * wasm: threads for XNNPACK (default: every core). Fixed for the process by the first wasm
   * engine loaded; a later different request is reported in `describe().warning`.
   */
  readonly threads?: number;
}

async function loadWasmEngine(options: EngineOptions): Promise<Engine> {
  const started = await activateWasmBackend(
    options.threads === undefined ? {} : { threads: options.threads },
  );
  return loadTfjsEngine('wasm', {
    ...(options.kernels === undefined ? {} : { kernels: options.kernels }),
    threads: started.threads,
    ...(started.warning === undefined ? {} : { warning: started.warning }),
  });
}

const engines: Readonly<Record<EngineName, (options: EngineOptions) => Promise<Engine>>> = Object.freeze({
  wasm: loadWasmEngine,
  cpu: () => loadTfjsEngine('cpu'),
});

export const engineNames = Object.freeze(Object.keys(engines) as EngineName[]);

export function isEngineName(name: string): name is EngineName {
  return Object.hasOwn(engines, name);
}

export async function loadEngine(name: string = 'wasm', options: EngineOptions = {}): Promise<Engine> {
  if (!isEngineName(name)) {
    throw new MedrobustError('invalid-argument', `unknown engine "${name}"`, {
      hint: `choose one of: ${engineNames.join(', ')}`,
    });
  }
  return engines[name](options);
}
