/**
 * The contracts everything above the engine layer programs against (DESIGN.md §2). Attacks,
 * detectors and analyses see a `Classifier`: tensors in, tensors out, never a tfjs model or a
 * backend. An engine turns a `NetworkSpec` and weights into a `Network`; `createClassifier` turns a
 * network into a classifier and owns input checking and the gradient plumbing, so a new engine
 * implements the forward pass (and, when it runs outside tfjs, the backward pass from output
 * cotangents to the input) and nothing else.
 *
 * Tensor conventions: images are NHWC float32 within `bounds`; logits are [batch, classes];
 * spatial taps are NHWC, vector taps [batch, features]. Ownership: whoever receives a tensor
 * disposes it.
 */
import type { Tensor, Tensor1D, Tensor2D, Tensor4D } from '@tensorflow/tfjs-core';
import type { Bounds } from '../core/bounds.ts';
import type { DenseHead } from './dense-head.ts';
import type { NetworkSpec } from './network-spec.ts';
import type { HostTensor, WeightMap } from './weights.ts';

export interface ModelInfo {
  readonly name: string;
  /** [height, width, channels] of one input image. */
  readonly inputShape: readonly [number, number, number];
  readonly classNames: readonly string[];
  /** The valid input range; images are in [0, 1] for every model medrobust builds. */
  readonly bounds: Bounds;
  /** Names of the activations that can be tapped, in graph order. */
  readonly layers: readonly string[];
}

export interface Outputs {
  readonly logits: Tensor2D;
  readonly taps: ReadonlyMap<string, Tensor>;
}

/** A per-sample scalar written with tfjs ops: shape [batch]. */
export type Objective = (outputs: Outputs) => Tensor1D;

export interface Classifier {
  readonly info: ModelInfo;
  /** Logits and the requested taps; no gradient is recorded. */
  predict(x: Tensor4D, taps?: readonly string[]): Outputs;
  /** The objective's per-sample value and its gradient with respect to the input. */
  valueAndGrad(
    x: Tensor4D,
    objective: Objective,
    taps?: readonly string[],
  ): { readonly value: Tensor1D; readonly grad: Tensor4D };
  /**
   * The layers after a tap that hold all of the network's dropout (dense, ReLU and dropout only),
   * with their weights: what Monte-Carlo dropout samples. Undefined when the network has no such head.
   */
  dropoutHead?(): DenseHead | undefined;
  /**
   * The objective's guided-back-propagation gradient with respect to the input (guided Grad-CAM);
   * present only when the network runs in tfjs (the wasm and cpu engines).
   */
  guidedGradient?(x: Tensor4D, objective: Objective): Tensor4D;
  /**
   * The last feature map's tap and the dense head after its global average pool, with weights (the
   * class scores as a function of that map, for Grad-CAM). Undefined when the network ends otherwise.
   */
  poolingHead?(): DenseHead | undefined;
}

/** Cotangents of the outputs: the gradient of a scalar with respect to the logits and each tap. */
export interface Cotangents {
  readonly logits: Tensor2D;
  readonly taps: ReadonlyMap<string, Tensor>;
}

/** One forward pass whose backward pass can be asked for once the cotangents are known. */
export interface ForwardPass {
  readonly outputs: Outputs;
  /** Input gradient for the given output cotangents (a vector–Jacobian product). */
  pullback(cotangents: Cotangents): Tensor4D;
  /** Frees whatever the engine kept for the backward pass (not the outputs). */
  release(): void;
}

/**
 * `predict`: no gradient will be taken; `gradient`: an input gradient will; `guided`: the same with
 * guided back-propagation (Springenberg et al. 2015: every ReLU passes back only positive gradients
 * at positive inputs), which only networks built from tfjs ops support.
 */
export type ForwardPurpose = 'predict' | 'gradient' | 'guided';

/** One training batch. Labels are class indices (int32, [batch]) or, for multi-label tasks, 0/1 ([batch, classes]). */
export interface TrainingBatch {
  readonly x: Tensor4D;
  readonly labels: Tensor1D | Tensor2D;
  /** Per-class loss weights (PyTorch `CrossEntropyLoss(weight=...)` semantics: a weighted mean). */
  readonly classWeights?: readonly number[];
  /**
   * TRADES (Zhang et al., ICML 2019): adds β · mean over the batch of KL(p(x) ‖ p(x′)), the
   * adversarial twins x′ passed through the network in training mode after x (batch norm statistics
   * of each pass, running statistics updated by both, as the reference implementation does). The
   * gradient flows through both passes. Single-label tasks only.
   */
  readonly trades?: { readonly adversarial: Tensor4D; readonly beta: number };
}

/**
 * Optimiser settings, PyTorch semantics: SGD keeps v ← μ·v + g (Nesterov optional), Adam the usual
 * moments; weight decay adds λ·w to each gradient (`torch.optim.SGD(weight_decay=λ)`). The learning
 * rate may change from step to step (schedules); the optimiser's state lives in the network.
 */
export type OptimiserSettings =
  | {
      readonly kind: 'sgd';
      readonly learningRate: number;
      readonly momentum?: number;
      readonly nesterov?: boolean;
      readonly weightDecay?: number;
    }
  | {
      readonly kind: 'adam';
      readonly learningRate: number;
      readonly beta1?: number;
      readonly beta2?: number;
      readonly epsilon?: number;
      readonly weightDecay?: number;
    };

/**
 * What, besides the weights, a training run needs to continue exactly where it stopped: the steps
 * taken (dropout seeds derive from it) and the optimiser's state (iteration count, momentum or Adam
 * moments, one slot tensor per trainable parameter and moment, in parameter order).
 */
export interface TrainingState {
  readonly steps: number;
  /** The optimiser settings the slots belong to, learning rate excluded (schedules change it). */
  readonly optimiser: string;
  readonly iterations: number;
  readonly slots: readonly HostTensor[];
  /** Optimiser scalars that must survive exactly (Adam: β₁ᵗ, β₂ᵗ). */
  readonly scalars?: readonly number[];
}

export interface TrainStepResult {
  /** Mean loss over the batch before the update. */
  readonly loss: number;
}

export interface Network {
  readonly spec: NetworkSpec;
  /**
   * True when `forward` is built from tfjs ops, so tfjs can differentiate through it; engines that
   * run the network elsewhere return false and implement `forwardWithPullback`.
   */
  readonly differentiable: boolean;
  /**
   * Inference-mode forward pass (batch norm uses running statistics, dropout is off). `purpose`
   * says whether a gradient will be taken through it: `predict` lets an engine use kernels without
   * a cheap input gradient (tfjs' fused convolution computes the filter gradient too).
   */
  forward(x: Tensor4D, taps: readonly string[], purpose: ForwardPurpose): Outputs;
  forwardWithPullback(x: Tensor4D, taps: readonly string[]): ForwardPass;
  /**
   * One optimisation step in training mode (batch norm on batch statistics, updating its running
   * statistics as PyTorch does; dropout on). Later forward passes use the updated weights.
   */
  trainStep(batch: TrainingBatch, optimiser: OptimiserSettings): TrainStepResult;
  /** The training state after the steps taken so far (undefined before the first step). */
  exportTrainingState(): Promise<TrainingState | undefined>;
  /** Restores a state exported by a network of the same architecture, for the given settings. */
  importTrainingState(state: TrainingState, optimiser: OptimiserSettings): Promise<void>;
  /** The weights in PyTorch names and layouts. */
  exportWeights(): WeightMap;
  dispose(): void;
}

export interface BuildOptions {
  /** Fold batch norm into the preceding convolution (default true; exact in inference mode). */
  readonly foldBatchNorm?: boolean;
}

export type EngineName = 'wasm' | 'cpu' | 'torch';

export interface Engine {
  readonly name: EngineName;
  buildNetwork(spec: NetworkSpec, weights: WeightMap, options?: BuildOptions): Network;
  /** What a user may want to know: backend, threads, versions. */
  describe(): Readonly<Record<string, string | number | boolean>>;
}
