/**
 * Compiles a NetworkSpec to plain tfjs ops (no tf.layers: layers' fused convolution computes
 * weight gradients even when only the input gradient is wanted; DESIGN.md §3). Used by the `wasm`
 * and `cpu` engines, which differ only in the tfjs backend underneath.
 *
 * Inference graphs fold batch norm into the preceding convolution (w' = w·γ/√(σ²+ε),
 * b' = β + (b − μ)·γ/√(σ²+ε), computed in float64 on the host) and fuse a following ReLU into the
 * convolution when nothing else reads the intermediate value. Both are exact rewrites; the tests
 * compare folded and unfolded graphs.
 */
import * as tf from '@tensorflow/tfjs-core';
import { defined } from '../../core/assert.ts';
import { MedrobustError } from '../../core/errors.ts';
import type {
  BuildOptions,
  Cotangents,
  ForwardPass,
  ForwardPurpose,
  Network,
  OptimiserSettings,
  Outputs,
  TrainingBatch,
  TrainingState,
  TrainStepResult,
} from '../contracts.ts';
import { inputNodeId, type LayerSpec, type NetworkSpec, validateNetworkSpec } from '../network-spec.ts';
import { checkWeights, type HostTensor, type WeightMap } from '../weights.ts';
import { denseToTfjs, filterToTfjs } from './layouts.ts';
import { TfjsTrainer } from './tfjs-training.ts';

type Step = (values: Map<string, tf.Tensor>, purpose: ForwardPurpose) => void;

/** ReLU whose backward pass lets through only positive gradients at positive inputs (guided back-propagation). */
const guidedRelu = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x]);
  return {
    value: tf.relu(x),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
      tf.mul(dy, tf.mul(tf.step(saved[0] as tf.Tensor), tf.step(dy))),
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor) => tf.Tensor;

const reluFor = (purpose: ForwardPurpose) => (purpose === 'guided' ? guidedRelu : tf.relu);

interface FoldedConvolution {
  filter: Float32Array; // OIHW
  bias: Float32Array | undefined;
}

function weight(weights: WeightMap, name: string): HostTensor {
  return defined(weights.get(name), () => `tfjs-network: weight "${name}" missing after checkWeights`);
}

function foldBatchNorm(
  convolution: Extract<LayerSpec, { kind: 'conv2d' }>,
  norm: Extract<LayerSpec, { kind: 'batchNorm' }>,
  weights: WeightMap,
): FoldedConvolution {
  const filter = weight(weights, `${convolution.name}.weight`).data;
  const convBias = convolution.bias ? weight(weights, `${convolution.name}.bias`).data : undefined;
  const gamma = weight(weights, `${norm.name}.weight`).data;
  const beta = weight(weights, `${norm.name}.bias`).data;
  const mean = weight(weights, `${norm.name}.running_mean`).data;
  const variance = weight(weights, `${norm.name}.running_var`).data;
  const perOutput = filter.length / convolution.outChannels;
  const folded = new Float32Array(filter.length);
  const bias = new Float32Array(convolution.outChannels);
  for (let o = 0; o < convolution.outChannels; o++) {
    const scale = (gamma[o] ?? 0) / Math.sqrt((variance[o] ?? 0) + norm.epsilon);
    for (let k = 0; k < perOutput; k++) folded[o * perOutput + k] = (filter[o * perOutput + k] ?? 0) * scale;
    bias[o] = (beta[o] ?? 0) + ((convBias?.[o] ?? 0) - (mean[o] ?? 0)) * scale;
  }
  return { filter: folded, bias };
}

export class TfjsNetwork implements Network {
  readonly differentiable = true;
  private readonly steps: Step[] = [];
  /** Node id → id of the node whose value it shares after folding and fusing. */
  private readonly aliases = new Map<string, string>();
  private readonly constants: tf.Tensor[] = [];
  private readonly fold: boolean;
  /** Created by the first training step; the inference graph is recompiled from it when stale. */
  private trainer: TfjsTrainer | undefined;
  private stale = false;
  private disposed = false;

  constructor(
    readonly spec: NetworkSpec,
    private weights: WeightMap,
    private readonly checkBackend: () => void,
    options: BuildOptions = {},
  ) {
    validateNetworkSpec(spec);
    checkWeights(spec, weights, 'model weights');
    this.fold = options.foldBatchNorm ?? true;
    this.compile(this.fold);
  }

  trainStep(batch: TrainingBatch, optimiser: OptimiserSettings): TrainStepResult {
    this.checkUsable();
    this.trainer ??= new TfjsTrainer(this.spec, this.weights);
    const result = this.trainer.step(batch, optimiser);
    this.stale = true;
    return result;
  }

  async exportTrainingState(): Promise<TrainingState | undefined> {
    return this.trainer?.exportState();
  }

  async importTrainingState(state: TrainingState, optimiser: OptimiserSettings): Promise<void> {
    this.checkUsable();
    this.trainer ??= new TfjsTrainer(this.spec, this.weights);
    await this.trainer.importState(state, optimiser);
  }

  /** After training, rebuild the (folded) inference graph from the current weights. */
  private refresh(): void {
    if (!this.stale || this.trainer === undefined) return;
    this.weights = this.trainer.exportWeights();
    for (const tensor of this.constants) tensor.dispose();
    this.constants.length = 0;
    this.steps.length = 0;
    this.aliases.clear();
    this.compile(this.fold);
    this.stale = false;
  }

  private checkUsable(): void {
    if (this.disposed) throw new MedrobustError('invalid-argument', 'this network has been disposed');
    this.checkBackend();
  }

  /** Constants outlive the caller's tf.tidy (the graph may be recompiled inside one after training). */
  private constant<T extends tf.Tensor>(tensor: T): T {
    this.constants.push(tf.keep(tensor));
    return tensor;
  }

  private compile(fold: boolean): void {
    const nodes = new Map(this.spec.nodes.map((node) => [node.id, node]));
    const readers = new Map<string, number>();
    for (const node of this.spec.nodes) {
      for (const input of node.inputs) readers.set(input, (readers.get(input) ?? 0) + 1);
    }
    const tapped = new Set([...Object.values(this.spec.taps), this.spec.output]);
    /** A node can be merged into its single reader when nobody else sees its value. */
    const private_ = (id: string) => readers.get(id) === 1 && !tapped.has(id);
    const readerOf = new Map<string, string>();
    for (const node of this.spec.nodes) for (const input of node.inputs) readerOf.set(input, node.id);

    const skip = new Set<string>();
    for (const node of this.spec.nodes) {
      if (skip.has(node.id)) continue;
      const layer = node.layer;
      const source = node.inputs[0] ?? inputNodeId;
      const read = (values: Map<string, tf.Tensor>, id: string) =>
        defined(values.get(this.resolve(id)), () => `tfjs-network: value of "${id}" not computed`);
      switch (layer.kind) {
        case 'conv2d': {
          let filter = weight(this.weights, `${layer.name}.weight`).data;
          let bias = layer.bias ? weight(this.weights, `${layer.name}.bias`).data : undefined;
          let outputId = node.id;
          const next = readerOf.get(node.id);
          const nextNode = next === undefined ? undefined : nodes.get(next);
          if (fold && nextNode?.layer.kind === 'batchNorm' && private_(node.id)) {
            ({ filter, bias } = foldBatchNorm(layer, nextNode.layer, this.weights));
            this.aliases.set(node.id, nextNode.id);
            skip.add(nextNode.id);
            outputId = nextNode.id;
          }
          let activation: 'relu' | 'linear' = 'linear';
          const afterId = readerOf.get(outputId);
          const after = afterId === undefined ? undefined : nodes.get(afterId);
          if (fold && after?.layer.kind === 'relu' && private_(outputId)) {
            activation = 'relu';
            this.aliases.set(outputId, after.id);
            if (outputId !== node.id) this.aliases.set(node.id, after.id);
            skip.add(after.id);
            outputId = after.id;
          }
          const filterTensor = this.constant(
            filterToTfjs(filter, layer.outChannels, layer.inChannels, layer.kernelSize),
          );
          const biasTensor = bias === undefined ? undefined : this.constant(tf.tensor1d(bias));
          const target = outputId;
          const { stride, padding } = layer;
          this.steps.push((values, purpose) => {
            const input = read(values, source) as tf.Tensor4D;
            if (purpose === 'predict') {
              values.set(
                target,
                tf.fused.conv2d({
                  x: input,
                  filter: filterTensor,
                  strides: stride,
                  pad: padding,
                  ...(biasTensor === undefined ? {} : { bias: biasTensor }),
                  activation,
                }),
              );
              return;
            }
            // tfjs' fused convolution differentiates with a custom gradient that also computes the
            // filter gradient; plain ops let the tape skip everything not on the path from the input.
            let output: tf.Tensor4D = tf.conv2d(input, filterTensor, stride, padding);
            if (biasTensor !== undefined) output = tf.add(output, biasTensor);
            values.set(target, activation === 'relu' ? reluFor(purpose)(output) : output);
          });
          break;
        }
        case 'batchNorm': {
          const mean = this.constant(tf.tensor1d(weight(this.weights, `${layer.name}.running_mean`).data));
          const variance = this.constant(tf.tensor1d(weight(this.weights, `${layer.name}.running_var`).data));
          const gamma = this.constant(tf.tensor1d(weight(this.weights, `${layer.name}.weight`).data));
          const beta = this.constant(tf.tensor1d(weight(this.weights, `${layer.name}.bias`).data));
          const { epsilon } = layer;
          this.steps.push((values) => {
            values.set(node.id, tf.batchNorm(read(values, source), mean, variance, beta, gamma, epsilon));
          });
          break;
        }
        case 'normalize': {
          const channels = this.spec.inputShape[2];
          const scale = this.constant(
            tf.tensor1d(Array.from({ length: channels }, (_, c) => 1 / (layer.std[c] ?? 1))),
          );
          const shift = this.constant(
            tf.tensor1d(
              Array.from({ length: channels }, (_, c) => -(layer.mean[c] ?? 0) / (layer.std[c] ?? 1)),
            ),
          );
          this.steps.push((values) =>
            values.set(node.id, tf.add(tf.mul(read(values, source), scale), shift)),
          );
          break;
        }
        case 'relu':
          this.steps.push((values, purpose) => values.set(node.id, reluFor(purpose)(read(values, source))));
          break;
        case 'maxPool': {
          const { kernelSize, stride, padding } = layer;
          this.steps.push((values) =>
            values.set(node.id, tf.maxPool(read(values, source) as tf.Tensor4D, kernelSize, stride, padding)),
          );
          break;
        }
        case 'add': {
          const other = defined(node.inputs[1], () => `tfjs-network: add node "${node.id}" has one input`);
          this.steps.push((values) => values.set(node.id, tf.add(read(values, source), read(values, other))));
          break;
        }
        case 'globalAveragePool':
          this.steps.push((values) => values.set(node.id, tf.mean(read(values, source), [1, 2])));
          break;
        case 'dense': {
          const matrix = this.constant(
            denseToTfjs(
              weight(this.weights, `${layer.name}.weight`).data,
              layer.outFeatures,
              layer.inFeatures,
            ),
          );
          const bias = layer.bias
            ? this.constant(tf.tensor1d(weight(this.weights, `${layer.name}.bias`).data))
            : undefined;
          this.steps.push((values) => {
            const product = tf.matMul(read(values, source) as tf.Tensor2D, matrix);
            values.set(node.id, bias === undefined ? product : tf.add(product, bias));
          });
          break;
        }
        case 'dropout':
          // Inference mode: dropout is the identity.
          this.aliases.set(node.id, source);
          break;
      }
    }
  }

  private resolve(id: string): string {
    let current = id;
    for (let next = this.aliases.get(current); next !== undefined; next = this.aliases.get(current))
      current = next;
    return current;
  }

  private checkTaps(taps: readonly string[]): void {
    for (const tap of taps) {
      if (!(tap in this.spec.taps)) {
        throw new MedrobustError(
          'not-found',
          `unknown tap "${tap}"; valid taps: ${Object.keys(this.spec.taps).join(', ')}`,
          {
            hint: '`medrobust model info DIR` lists the taps of a model',
          },
        );
      }
    }
  }

  forward(x: tf.Tensor4D, taps: readonly string[], purpose: ForwardPurpose): Outputs {
    this.checkUsable();
    this.refresh();
    this.checkTaps(taps);
    const values = new Map<string, tf.Tensor>([[inputNodeId, x]]);
    for (const step of this.steps) step(values, purpose);
    const value = (id: string) =>
      defined(values.get(this.resolve(id)), () => `tfjs-network: "${id}" not computed`);
    // Intermediate values are left to the caller's tf.tidy (or to the gradient tape) to dispose.
    return {
      logits: value(this.spec.output) as tf.Tensor2D,
      taps: new Map(taps.map((tap) => [tap, value(defined(this.spec.taps[tap], () => `tap ${tap}`))])),
    };
  }

  forwardWithPullback(x: tf.Tensor4D, taps: readonly string[]): ForwardPass {
    const outputs = tf.tidy(() => {
      const result = this.forward(x, taps, 'predict');
      return { logits: result.logits, taps: [...result.taps] as [string, tf.Tensor][] };
    });
    return {
      outputs: { logits: outputs.logits, taps: new Map(outputs.taps) },
      // A reference implementation of the pullback contract that the native engine implements natively:
      // the vector–Jacobian product is the gradient of Σ⟨output, cotangent⟩.
      pullback: (cotangents: Cotangents) =>
        tf.tidy(() =>
          tf.grad((input: tf.Tensor) => {
            const result = this.forward(input as tf.Tensor4D, taps, 'gradient');
            let total = tf.sum(tf.mul(result.logits, cotangents.logits));
            for (const [tap, cotangent] of cotangents.taps) {
              const value = defined(result.taps.get(tap), () => `pullback: tap ${tap} was not requested`);
              total = tf.add(total, tf.sum(tf.mul(value, cotangent)));
            }
            return total;
          })(x),
        ) as tf.Tensor4D,
      release: () => {},
    };
  }

  exportWeights(): WeightMap {
    this.refresh();
    return this.weights;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.trainer?.dispose();
    for (const tensor of this.constants) tensor.dispose();
    this.constants.length = 0;
  }
}
