/**
 * The engine-neutral description of a network: a small, topologically ordered graph of layers.
 * Architectures (src/models) build it; every engine compiles it (the tfjs engines with plain tfjs
 * ops, the native engine with libtorch), so an architecture is written once and runs everywhere.
 *
 * Layout and naming contract:
 * - Activations are NHWC at this boundary (tfjs' layout); an engine that computes in NCHW converts.
 * - Parameters carry PyTorch names and PyTorch layouts: conv `NAME.weight` is [out, in, kh, kw]
 *   (OIHW) and `NAME.bias` [out]; dense `NAME.weight` is [out, in]; batch norm has `NAME.weight`,
 *   `NAME.bias`, `NAME.running_mean`, `NAME.running_var` and the integer `NAME.num_batches_tracked`.
 * - Padding is explicit and symmetric, as in PyTorch (never TensorFlow's asymmetric 'same').
 */
import { MedrobustError } from '../core/errors.ts';

export type LayerSpec =
  | { readonly kind: 'normalize'; readonly mean: readonly number[]; readonly std: readonly number[] }
  | {
      readonly kind: 'conv2d';
      readonly name: string;
      readonly inChannels: number;
      readonly outChannels: number;
      readonly kernelSize: number;
      readonly stride: number;
      readonly padding: number;
      readonly bias: boolean;
    }
  | {
      readonly kind: 'batchNorm';
      readonly name: string;
      readonly channels: number;
      readonly epsilon: number;
      readonly momentum: number;
    }
  | { readonly kind: 'relu' }
  | {
      readonly kind: 'maxPool';
      readonly kernelSize: number;
      readonly stride: number;
      readonly padding: number;
    }
  | { readonly kind: 'add' }
  | { readonly kind: 'globalAveragePool' }
  | {
      readonly kind: 'dense';
      readonly name: string;
      readonly inFeatures: number;
      readonly outFeatures: number;
      readonly bias: boolean;
    }
  | { readonly kind: 'dropout'; readonly rate: number };

export interface NodeSpec {
  /** Unique within the network; `input` is reserved for the network's input. */
  readonly id: string;
  /** Ids of earlier nodes (or `input`) this node consumes; `add` takes two, every other layer one. */
  readonly inputs: readonly string[];
  readonly layer: LayerSpec;
}

export interface NetworkSpec {
  /** [height, width, channels] of one input image. */
  readonly inputShape: readonly [number, number, number];
  readonly nodes: readonly NodeSpec[];
  /** Id of the node whose output is the logits, shape [batch, classes]. */
  readonly output: string;
  /** Tap name → node id: the activations a caller may ask for by name. */
  readonly taps: Readonly<Record<string, string>>;
}

export const inputNodeId = 'input';

export interface ParameterSpec {
  readonly shape: readonly number[];
  /** False for batch-norm running statistics and counters (buffers in PyTorch's terms). */
  readonly trainable: boolean;
}

/** Every parameter and buffer of a network, by PyTorch name and PyTorch shape, in graph order. */
export function parameterSpecs(spec: NetworkSpec): Map<string, ParameterSpec> {
  const parameters = new Map<string, ParameterSpec>();
  for (const node of spec.nodes) {
    const layer = node.layer;
    switch (layer.kind) {
      case 'conv2d':
        parameters.set(`${layer.name}.weight`, {
          shape: [layer.outChannels, layer.inChannels, layer.kernelSize, layer.kernelSize],
          trainable: true,
        });
        if (layer.bias) parameters.set(`${layer.name}.bias`, { shape: [layer.outChannels], trainable: true });
        break;
      case 'batchNorm':
        parameters.set(`${layer.name}.weight`, { shape: [layer.channels], trainable: true });
        parameters.set(`${layer.name}.bias`, { shape: [layer.channels], trainable: true });
        parameters.set(`${layer.name}.running_mean`, { shape: [layer.channels], trainable: false });
        parameters.set(`${layer.name}.running_var`, { shape: [layer.channels], trainable: false });
        parameters.set(`${layer.name}.num_batches_tracked`, { shape: [], trainable: false });
        break;
      case 'dense':
        parameters.set(`${layer.name}.weight`, {
          shape: [layer.outFeatures, layer.inFeatures],
          trainable: true,
        });
        if (layer.bias) parameters.set(`${layer.name}.bias`, { shape: [layer.outFeatures], trainable: true });
        break;
      default:
        break;
    }
  }
  return parameters;
}

/** Number of trainable parameters (what torchvision's published counts count). */
export function countParameters(spec: NetworkSpec): number {
  let total = 0;
  for (const parameter of parameterSpecs(spec).values()) {
    if (parameter.trainable) total += parameter.shape.reduce((product, size) => product * size, 1);
  }
  return total;
}

/** Checks the graph is well formed: unique ids, inputs defined before use, arities, output and taps exist. */
export function validateNetworkSpec(spec: NetworkSpec): NetworkSpec {
  const seen = new Set<string>([inputNodeId]);
  const fail = (message: string): never => {
    throw new MedrobustError('invalid-model', `network spec: ${message}`, {
      hint: 'the architecture description is inconsistent; rebuild it with `medrobust model init`',
    });
  };
  for (const node of spec.nodes) {
    if (seen.has(node.id)) fail(`node id "${node.id}" is used twice`);
    const arity = node.layer.kind === 'add' ? 2 : 1;
    if (node.inputs.length !== arity) {
      fail(`node "${node.id}" (${node.layer.kind}) takes ${arity} input(s), got ${node.inputs.length}`);
    }
    for (const input of node.inputs) {
      if (!seen.has(input)) fail(`node "${node.id}" reads "${input}" before it is defined`);
    }
    seen.add(node.id);
  }
  if (!seen.has(spec.output)) fail(`output node "${spec.output}" does not exist`);
  for (const [tap, id] of Object.entries(spec.taps)) {
    if (!seen.has(id)) fail(`tap "${tap}" points at missing node "${id}"`);
  }
  return spec;
}
