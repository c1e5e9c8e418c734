/**
 * The `torch` engine: a NetworkSpec run by libtorch through medrobust's N-API addon (addon.cc),
 * at PyTorch's speed (DESIGN.md §3). tfjs stays the currency above the engine layer: images,
 * logits and taps arrive and leave as tfjs tensors, and the classifier computes the objective's
 * gradient with respect to the outputs in tfjs, then asks this engine for the pullback to the input
 * (DESIGN.md §2). The network is not `differentiable` by tfjs.
 *
 * Training state is exported in the tfjs engines' layout (slots as HWIO filters and [in, out] dense
 * matrices, Adam's moments first-then-second), so a run can resume on either engine.
 */
import * as tf from '@tensorflow/tfjs-core';
import { defined } from '../../core/assert.ts';
import { MedrobustError } from '../../core/errors.ts';
import type {
  BuildOptions,
  Cotangents,
  Engine,
  ForwardPass,
  ForwardPurpose,
  Network,
  OptimiserSettings,
  Outputs,
  TrainingBatch,
  TrainingState,
  TrainStepResult,
} from '../contracts.ts';
import { type NetworkSpec, parameterSpecs, validateNetworkSpec } from '../network-spec.ts';
import { denseArrayToTfjs, denseFromTfjs, filterArrayToTfjs, filterFromTfjs } from '../tfjs/layouts.ts';
import { optimiserKey } from '../tfjs/tfjs-training.ts';
import { checkWeights, type HostTensor, type WeightMap } from '../weights.ts';
import type {
  AddonNetwork,
  AddonOptimiserSettings,
  AddonOutputs,
  AddonTensor,
  TorchAddon,
} from './addon-types.ts';

function toTensor(tensor: AddonTensor): tf.Tensor {
  return tf.tensor(tensor.data, tensor.shape);
}

function toOutputs(outputs: AddonOutputs, taps: readonly string[]): Outputs {
  return {
    logits: toTensor(outputs.logits) as tf.Tensor2D,
    taps: new Map(
      taps.map((tap, index) => [tap, toTensor(defined(outputs.taps[index], () => `torch tap ${tap}`))]),
    ),
  };
}

function hostData(x: tf.Tensor): Float32Array {
  const data = x.dataSync();
  return data instanceof Float32Array ? data : Float32Array.from(data);
}

function settingsFor(settings: OptimiserSettings): AddonOptimiserSettings {
  return { ...settings, key: optimiserKey(settings) };
}

/** A slot in PyTorch layout ↔ the tfjs engines' layout, for a parameter of the given PyTorch shape. */
function slotToTfjs(slot: AddonTensor, shape: readonly number[]): HostTensor {
  if (shape.length === 4) {
    const [out, input, kernel] = shape as [number, number, number, number];
    return { shape: [kernel, kernel, input, out], data: filterArrayToTfjs(slot.data, out, input, kernel) };
  }
  if (shape.length === 2) {
    const [out, input] = shape as [number, number];
    return { shape: [input, out], data: denseArrayToTfjs(slot.data, out, input) };
  }
  return { shape: [...shape], data: Float32Array.from(slot.data) };
}

function slotFromTfjs(slot: HostTensor, shape: readonly number[]): AddonTensor {
  if (shape.length === 4) {
    const [out, input, kernel] = shape as [number, number, number, number];
    return { shape: [...shape], data: filterFromTfjs(slot.data, out, input, kernel) };
  }
  if (shape.length === 2) {
    const [out, input] = shape as [number, number];
    return { shape: [...shape], data: denseFromTfjs(slot.data, out, input) };
  }
  return { shape: [...shape], data: Float32Array.from(slot.data) };
}

export class TorchNetwork implements Network {
  readonly differentiable = false;
  private readonly native: AddonNetwork;
  /** PyTorch shapes of the trainable parameters, in parameter order (the optimiser slots' order). */
  private readonly trainableShapes: readonly (readonly number[])[];
  private steps = 0;
  private disposed = false;

  constructor(
    addon: TorchAddon,
    readonly spec: NetworkSpec,
    weights: WeightMap,
  ) {
    validateNetworkSpec(spec);
    checkWeights(spec, weights, 'torch engine');
    const parameters = parameterSpecs(spec);
    this.trainableShapes = [...parameters.values()]
      .filter((parameter) => parameter.trainable)
      .map((parameter) => parameter.shape);
    const addonWeights = [...parameters].map(([name, parameter]) => ({
      name,
      shape: [...parameter.shape],
      data: weights.get(name)?.data ?? new Float32Array(1), // a missing num_batches_tracked counter is 0
      trainable: parameter.trainable,
    }));
    this.native = new addon.TorchNetwork(
      { nodes: spec.nodes, output: spec.output, taps: spec.taps },
      addonWeights,
    );
  }

  private check(): void {
    if (this.disposed) {
      throw new MedrobustError('invalid-argument', 'this network was disposed', {
        hint: 'build the network again',
      });
    }
  }

  forward(x: tf.Tensor4D, taps: readonly string[], _purpose: ForwardPurpose): Outputs {
    this.check();
    return toOutputs(this.native.forward(hostData(x), x.shape, taps), taps);
  }

  forwardWithPullback(x: tf.Tensor4D, taps: readonly string[]): ForwardPass {
    this.check();
    const pass = this.native.forwardWithPullback(hostData(x), x.shape, taps);
    let released = false;
    return {
      outputs: toOutputs(pass, taps),
      pullback: (cotangents: Cotangents): tf.Tensor4D => {
        if (released) throw new Error('torch engine: pullback after release');
        const arrays = [
          hostData(cotangents.logits),
          ...taps.map((tap) => {
            const cotangent = cotangents.taps.get(tap);
            return cotangent === undefined ? null : hostData(cotangent);
          }),
        ];
        return tf.tensor4d(this.native.pullback(pass.id, arrays), x.shape);
      },
      release: () => {
        if (!released && !this.disposed) this.native.release(pass.id);
        released = true;
      },
    };
  }

  trainStep(batch: TrainingBatch, optimiser: OptimiserSettings): TrainStepResult {
    this.check();
    const loss = this.native.trainStep(
      hostData(batch.x),
      batch.x.shape,
      hostData(batch.labels),
      batch.labels.shape,
      batch.classWeights === undefined ? null : [...batch.classWeights],
      settingsFor(optimiser),
      this.steps++,
      batch.trades === undefined
        ? null
        : { adversarial: hostData(batch.trades.adversarial), beta: batch.trades.beta },
    );
    return { loss };
  }

  async exportTrainingState(): Promise<TrainingState | undefined> {
    this.check();
    const state = this.native.exportOptimiser();
    if (state === null) return undefined;
    const count = this.trainableShapes.length;
    return {
      steps: this.steps,
      optimiser: state.key,
      iterations: state.iterations,
      slots: state.slots.map((slot, index) =>
        slotToTfjs(
          slot,
          defined(this.trainableShapes[index % count], () => `slot ${index}`),
        ),
      ),
      ...(state.slots.length === 2 * count ? { scalars: [state.beta1Power, state.beta2Power] } : {}),
    };
  }

  async importTrainingState(state: TrainingState, optimiser: OptimiserSettings): Promise<void> {
    this.check();
    const key = optimiserKey(optimiser);
    if (state.optimiser !== key) {
      throw new MedrobustError(
        'invalid-argument',
        'the checkpoint was trained with other optimiser settings',
        {
          hint: `resume with the settings it was written with (${state.optimiser}), or start a new run`,
        },
      );
    }
    const count = this.trainableShapes.length;
    const perParameter = optimiser.kind === 'adam' ? 2 : 1;
    if (state.slots.length !== count * perParameter) {
      throw new MedrobustError(
        'invalid-argument',
        `the checkpoint has ${state.slots.length} optimiser slots for ${count} parameters`,
        { hint: 'resume with the architecture the checkpoint was written with' },
      );
    }
    const [beta1Power, beta2Power] = state.scalars ?? [];
    this.native.importOptimiser({
      key,
      iterations: state.iterations,
      // Without recorded powers (an older checkpoint), rebuild them from the iteration count.
      beta1Power:
        beta1Power ?? (optimiser.kind === 'adam' ? (optimiser.beta1 ?? 0.9) ** state.iterations : 1),
      beta2Power:
        beta2Power ?? (optimiser.kind === 'adam' ? (optimiser.beta2 ?? 0.999) ** state.iterations : 1),
      slots: state.slots.map((slot, index) =>
        slotFromTfjs(
          slot,
          defined(this.trainableShapes[index % count], () => `slot ${index}`),
        ),
      ),
    });
    this.steps = state.steps;
  }

  exportWeights(): WeightMap {
    this.check();
    return new Map(
      this.native.exportWeights().map((weight) => [weight.name, { shape: weight.shape, data: weight.data }]),
    );
  }

  dispose(): void {
    if (this.disposed) return;
    this.native.dispose();
    this.disposed = true;
  }
}

export interface TorchEngineOptions {
  readonly threads: number;
  /** What carries tensors above the engine (the tfjs backend), for describe(). */
  readonly tensors: string;
  readonly warning?: string;
}

export function createTorchEngine(addon: TorchAddon, options: TorchEngineOptions): Engine {
  const threads = addon.setThreads(options.threads);
  return {
    name: 'torch',
    buildNetwork(spec: NetworkSpec, weights: WeightMap, _options?: BuildOptions): Network {
      return new TorchNetwork(addon, spec, weights);
    },
    describe() {
      const description = addon.describe();
      return {
        engine: 'torch',
        libtorch: description.torchVersion,
        threads,
        onednn: description.mkldnn,
        tensors: options.tensors,
        ...(options.warning === undefined ? {} : { warning: options.warning }),
      };
    },
  };
}
