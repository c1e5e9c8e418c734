/**
 * The interface of the native addon (addon.cc), as JavaScript sees it. Arrays cross the boundary as
 * float32 in NHWC (activations) or PyTorch layouts (parameters, optimiser slots).
 */
import type { LayerSpec, NetworkSpec } from '../network-spec.ts';

export interface AddonTensor {
  readonly shape: number[];
  readonly data: Float32Array;
}

export interface AddonWeight extends AddonTensor {
  readonly name: string;
  readonly trainable?: boolean;
}

export interface AddonOutputs {
  readonly logits: AddonTensor;
  readonly taps: AddonTensor[];
}

export interface AddonOptimiserSettings {
  readonly kind: 'sgd' | 'adam';
  /** Identity of the settings (learning rate excluded): a change resets the optimiser state. */
  readonly key: string;
  readonly learningRate: number;
  readonly momentum?: number;
  readonly nesterov?: boolean;
  readonly weightDecay?: number;
  readonly beta1?: number;
  readonly beta2?: number;
  readonly epsilon?: number;
}

export interface AddonOptimiserState {
  readonly key: string;
  readonly iterations: number;
  readonly beta1Power: number;
  readonly beta2Power: number;
  /** SGD: one momentum buffer per trainable parameter; Adam: all first moments, then all second moments. */
  readonly slots: AddonTensor[];
}

export interface AddonNetwork {
  forward(x: Float32Array, shape: readonly number[], taps: readonly string[]): AddonOutputs;
  forwardWithPullback(
    x: Float32Array,
    shape: readonly number[],
    taps: readonly string[],
  ): AddonOutputs & { readonly id: number };
  /** One cotangent per output of the pass (logits first, then the taps), null where none. */
  pullback(id: number, cotangents: readonly (Float32Array | null)[]): Float32Array;
  release(id: number): void;
  trainStep(
    x: Float32Array,
    shape: readonly number[],
    labels: Float32Array,
    labelShape: readonly number[],
    classWeights: readonly number[] | null,
    optimiser: AddonOptimiserSettings,
    seed: number,
    /** TRADES: the adversarial twins (NHWC, same shape as x) and β, or null. */
    trades: { readonly adversarial: Float32Array; readonly beta: number } | null,
  ): number;
  exportWeights(): AddonWeight[];
  exportOptimiser(): AddonOptimiserState | null;
  importOptimiser(state: AddonOptimiserState): void;
  dispose(): void;
}

/** The spec as the addon reads it (plain JSON-compatible data). */
export interface AddonSpec {
  readonly nodes: readonly {
    readonly id: string;
    readonly inputs: readonly string[];
    readonly layer: LayerSpec;
  }[];
  readonly output: string;
  readonly taps: Readonly<Record<string, string>>;
}

export interface TorchAddon {
  readonly TorchNetwork: new (spec: AddonSpec | NetworkSpec, weights: readonly AddonWeight[]) => AddonNetwork;
  setThreads(threads: number): number;
  describe(): { torchVersion: string; threads: number; mkldnn: boolean; openmp: boolean };
}
