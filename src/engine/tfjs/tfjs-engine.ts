/**
 * The tfjs engines: `wasm` (the default: XNNPACK through WebAssembly, installs from npm alone and
 * also runs in a browser) and `cpu` (tfjs' plain-JavaScript reference backend, for parity tests).
 * tfjs selects its backend globally, so only one of them is active at a time; a network built on
 * one refuses to run after another was activated, with an error saying so.
 *
 * In Node, tfjs-core alone registers no gradients; the union package `@tensorflow/tfjs` does, so it
 * is imported here for that side effect (DESIGN.md §3).
 */
import '@tensorflow/tfjs';
import * as tf from '@tensorflow/tfjs-core';
import { MedrobustError } from '../../core/errors.ts';
import type { BuildOptions, Engine, Network } from '../contracts.ts';
import type { NetworkSpec } from '../network-spec.ts';
import { useWasmKernels, type WasmKernels } from '../wasm/kernels.ts';
import type { WeightMap } from '../weights.ts';
import { TfjsNetwork } from './tfjs-network.ts';

export type TfjsEngineName = 'wasm' | 'cpu';

export interface TfjsEngineOptions {
  /** wasm only: medrobust's kernel pack (`ours`, default) or tfjs' stock kernels, for benchmarks. */
  readonly kernels?: WasmKernels;
  /** wasm only: the thread count the backend was started with (reported by describe()). */
  readonly threads?: number;
  /** A one-line warning from start-up (e.g. threads fell back to one), reported by describe(). */
  readonly warning?: string;
}

async function activateBackend(name: TfjsEngineName): Promise<void> {
  // Production mode: no debug checks, and no console banner suggesting tfjs-node (which cannot be
  // installed where only the npm registry is reachable; the native engine is medrobust's fast path).
  tf.env().set('PROD', true);
  if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  let activated: boolean;
  try {
    activated = await tf.setBackend(name);
  } catch (error) {
    throw new MedrobustError('engine-unavailable', `the ${name} engine failed to start`, {
      cause: error,
      hint: 'reinstall with `npm ci`; `medrobust doctor` lists which engines load',
    });
  }
  if (!activated) {
    throw new MedrobustError('engine-unavailable', `the ${name} engine failed to start`, {
      hint: 'reinstall with `npm ci`; `medrobust doctor` lists which engines load',
    });
  }
}

export async function loadTfjsEngine(name: TfjsEngineName, options: TfjsEngineOptions = {}): Promise<Engine> {
  await activateBackend(name);
  const kernels = options.kernels ?? 'ours';
  if (name === 'wasm') useWasmKernels(kernels);
  const checkBackend = () => {
    const active = tf.getBackend();
    if (active !== name) {
      throw new MedrobustError(
        'invalid-argument',
        `this network was built on the ${name} engine, but the ${active} engine was activated since`,
        {
          hint: `tfjs engines share one global backend: call loadEngine('${name}') again and rebuild the network`,
        },
      );
    }
  };
  return {
    name,
    buildNetwork(spec: NetworkSpec, weights: WeightMap, options?: BuildOptions): Network {
      checkBackend();
      return new TfjsNetwork(spec, weights, checkBackend, options);
    },
    describe() {
      return {
        engine: name,
        backend: tf.getBackend(),
        tfjs: tf.version_core,
        ...(name === 'wasm' ? { kernels, threads: options.threads ?? 1 } : {}),
        ...(options.warning === undefined ? {} : { warning: options.warning }),
      };
    },
  };
}
