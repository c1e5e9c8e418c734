/**
 * Engines by name (a frozen registry, DESIGN.md §5 rule 5). An unknown name lists the valid ones.
 */
import { MedrobustError } from '../core/errors.ts';
import type { Engine, EngineName } from './contracts.ts';
import { loadTfjsEngine } from './tfjs/tfjs-engine.ts';
import type { WasmKernels } from './wasm/kernels.ts';

export interface EngineOptions {
  /** wasm: `ours` (the kernel pack, default) or `stock` tfjs kernels. */
  readonly kernels?: WasmKernels;
}

const engines: Readonly<Record<EngineName, (options: EngineOptions) => Promise<Engine>>> = Object.freeze({
  wasm: (options: EngineOptions) => loadTfjsEngine('wasm', options),
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
