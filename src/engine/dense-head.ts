/**
 * The dense head of a network: the chain of dense, ReLU and dropout layers that ends at the logits,
 * read from a tapped activation, with its weights. Two analyses need it, and any engine can serve
 * both from one deterministic forward pass to the tap, since the head is re-evaluated in tfjs:
 * - Monte-Carlo dropout (Gal & Ghahramani 2016; the BU detector of Feinman et al. 2017, in Ma et al.
 *   2021 §5): when every dropout layer of the network sits in the head, everything before the head's
 *   tap is deterministic in inference mode, so sampling masks in the head alone gives exactly the
 *   network's MC-dropout predictions (`dropoutHead`). The paper head (pooled → Dense(128) `feature` →
 *   Dropout(0.2) → Dense(classes)) has one; the linear head does not.
 * - Grad-CAM (Selvaraju et al. 2017; Ma et al. 2021 §4): the class score as a function of the last
 *   convolutional block's feature map A is head(mean_hw(A)) when the network ends in a global average
 *   pool and a dense head (`poolingHead`), so ∂y/∂A comes from the head alone.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MedrobustError } from '../core/errors.ts';
import { inputNodeId, type NetworkSpec } from './network-spec.ts';
import type { HostTensor, WeightMap } from './weights.ts';

export type DenseHeadLayer =
  | {
      readonly kind: 'dense';
      readonly inFeatures: number;
      readonly outFeatures: number;
      /** [outFeatures, inFeatures], PyTorch layout. */
      readonly weight: HostTensor;
      readonly bias: HostTensor | undefined;
    }
  | { readonly kind: 'relu' }
  | { readonly kind: 'dropout'; readonly rate: number };

export interface DenseHead {
  /** The tap whose activation the head consumes. */
  readonly tap: string;
  /** True when the tap is a feature map [batch, h, w, c] that the head first averages over h and w. */
  readonly pool: boolean;
  /** In order; the last one produces the logits. */
  readonly layers: readonly DenseHeadLayer[];
}

export interface DenseHeadLayout {
  readonly tap: string;
  readonly pool: boolean;
  readonly nodes: readonly string[];
}

/** Node ids of the one-input dense/ReLU/dropout chain that ends at the logits (in order). */
function chainToLogits(spec: NetworkSpec): string[] {
  const byId = new Map(spec.nodes.map((node) => [node.id, node]));
  const chain: string[] = [];
  let current = spec.output;
  for (;;) {
    const node = byId.get(current);
    if (node === undefined || !['dense', 'relu', 'dropout'].includes(node.layer.kind)) break;
    chain.unshift(node.id);
    const [input] = node.inputs;
    if (input === undefined || input === inputNodeId) break;
    current = input;
  }
  return chain;
}

function tapsByNode(spec: NetworkSpec): Map<string, string> {
  return new Map(Object.entries(spec.taps).map(([name, id]) => [id, name]));
}

/** Where the MC-dropout head starts, or undefined when some dropout layer lies outside the dense head. */
export function dropoutHeadLayout(spec: NetworkSpec): DenseHeadLayout | undefined {
  const byId = new Map(spec.nodes.map((node) => [node.id, node]));
  const chain = chainToLogits(spec);
  const dropouts = chain.filter((id) => byId.get(id)?.layer.kind === 'dropout');
  const everyDropout = spec.nodes.filter((node) => node.layer.kind === 'dropout').length;
  if (dropouts.length === 0 || dropouts.length !== everyDropout) return undefined;
  // Start at the latest tapped node before the first dropout.
  const firstDropout = chain.indexOf(dropouts[0] as string);
  const tapOf = tapsByNode(spec);
  for (let start = firstDropout - 1; start >= 0; start--) {
    const tap = tapOf.get(chain[start] as string);
    if (tap !== undefined) return { tap, pool: false, nodes: chain.slice(start + 1) };
  }
  // The node feeding the chain's first layer (e.g. the pooled feature) may be tapped itself.
  const feeding = byId.get(chain[0] as string)?.inputs[0];
  const tap = feeding === undefined ? undefined : tapOf.get(feeding);
  return tap === undefined ? undefined : { tap, pool: false, nodes: chain };
}

/** The tapped feature map that a global average pool feeds into the dense head, or undefined. */
export function poolingHeadLayout(spec: NetworkSpec): DenseHeadLayout | undefined {
  const byId = new Map(spec.nodes.map((node) => [node.id, node]));
  const chain = chainToLogits(spec);
  const pool = byId.get(byId.get(chain[0] ?? '')?.inputs[0] ?? '');
  if (chain.length === 0 || pool?.layer.kind !== 'globalAveragePool') return undefined;
  const tap = tapsByNode(spec).get(pool.inputs[0] ?? '');
  return tap === undefined ? undefined : { tap, pool: true, nodes: chain };
}

/** The head of a layout with its weights. */
export function denseHead(spec: NetworkSpec, weights: WeightMap, layout: DenseHeadLayout): DenseHead {
  const byId = new Map(spec.nodes.map((node) => [node.id, node]));
  const layers = layout.nodes.map((id): DenseHeadLayer => {
    const layer = byId.get(id)?.layer;
    if (layer?.kind === 'dense') {
      const weight = weights.get(`${layer.name}.weight`);
      if (weight === undefined)
        throw new MedrobustError('internal', `denseHead: no weight ${layer.name}.weight`);
      return {
        kind: 'dense',
        inFeatures: layer.inFeatures,
        outFeatures: layer.outFeatures,
        weight,
        bias: layer.bias ? weights.get(`${layer.name}.bias`) : undefined,
      };
    }
    if (layer?.kind === 'dropout') return { kind: 'dropout', rate: layer.rate };
    return { kind: 'relu' };
  });
  return { tap: layout.tap, pool: layout.pool, layers };
}

/** The width of the activation each dropout layer of a head drops from (0 for other layers). */
export function dropoutWidths(layers: readonly DenseHeadLayer[]): number[] {
  return layers.map((layer, index) => {
    if (layer.kind !== 'dropout') return 0;
    const next = layers.slice(index + 1).find((later) => later.kind === 'dense');
    const previous = layers
      .slice(0, index)
      .reverse()
      .find((earlier) => earlier.kind === 'dense');
    return next?.kind === 'dense' ? next.inFeatures : previous?.kind === 'dense' ? previous.outFeatures : 0;
  });
}

/** The head's weights as tensors, made once per use (dispose them, or build them inside a tidy). */
export interface HeadTensors {
  readonly dense: readonly (
    | { readonly weight: tf.Tensor2D; readonly bias: tf.Tensor1D | undefined }
    | undefined
  )[];
}

export function headTensors(head: DenseHead): HeadTensors {
  return {
    dense: head.layers.map((layer) =>
      layer.kind === 'dense'
        ? {
            weight: tf.tensor2d(layer.weight.data, [layer.outFeatures, layer.inFeatures]),
            bias: layer.bias === undefined ? undefined : tf.tensor1d(layer.bias.data),
          }
        : undefined,
    ),
  };
}

/**
 * The head's logits for the tap's activation, in tfjs (differentiable). Dropout is the identity
 * unless `masks` gives one multiplier vector per dropout layer (inverted dropout: keep/(1 − rate)).
 */
export function applyDenseHead(
  head: DenseHead,
  tensors: HeadTensors,
  activation: tf.Tensor,
  masks?: readonly tf.Tensor1D[],
): tf.Tensor2D {
  return tf.tidy(() => {
    let out = (head.pool ? tf.mean(activation, [1, 2]) : activation) as tf.Tensor2D;
    let dropout = 0;
    head.layers.forEach((layer, index) => {
      if (layer.kind === 'relu') out = tf.relu(out);
      else if (layer.kind === 'dropout') {
        const mask = masks?.[dropout++];
        if (mask !== undefined) out = tf.mul(out, mask);
      } else {
        const dense = tensors.dense[index];
        if (dense === undefined)
          throw new MedrobustError('internal', 'applyDenseHead: missing dense weights');
        out = tf.matMul(out, dense.weight, false, true);
        if (dense.bias !== undefined) out = tf.add(out, dense.bias);
      }
    });
    return out;
  });
}
