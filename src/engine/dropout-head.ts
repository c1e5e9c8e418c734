/**
 * The dropout head of a network: the layers after a tapped vector activation when they are a chain
 * of dense, ReLU and dropout layers that contains the network's every dropout layer. It is what
 * Monte-Carlo dropout (Gal & Ghahramani 2016; the BU detector of Feinman et al. 2017, used by
 * Ma et al. 2021 §5) samples: everything before the tap is deterministic in inference mode, so
 * sampling dropout masks in the head alone gives exactly the network's MC-dropout predictions, and
 * any engine can serve it from one deterministic forward pass to the tap.
 *
 * The paper head (pooled → Dense(128) `feature` → Dropout(0.2) → Dense(classes)) has one; the linear
 * head and networks with dropout between convolutions do not.
 */
import { MedrobustError } from '../core/errors.ts';
import { inputNodeId, type NetworkSpec } from './network-spec.ts';
import type { HostTensor, WeightMap } from './weights.ts';

export type DropoutHeadLayer =
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

export interface DropoutHead {
  /** The tap whose activation ([batch, features]) the head consumes. */
  readonly tap: string;
  /** In order; the last one produces the logits. */
  readonly layers: readonly DropoutHeadLayer[];
}

/** The structure of the network's dropout head (no weights), or undefined when it has none. */
export function dropoutHeadLayout(
  spec: NetworkSpec,
): { readonly tap: string; readonly nodes: readonly string[] } | undefined {
  const byId = new Map(spec.nodes.map((node) => [node.id, node]));
  if (!spec.nodes.some((node) => node.layer.kind === 'dropout')) return undefined;
  // Walk back from the logits while each node is a one-input dense, ReLU or dropout layer.
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
  const dropouts = chain.filter((id) => byId.get(id)?.layer.kind === 'dropout');
  const everyDropout = spec.nodes.filter((node) => node.layer.kind === 'dropout').length;
  if (dropouts.length === 0 || dropouts.length !== everyDropout) return undefined;
  // Start at the latest tapped node before the first dropout whose consumers are all in the chain.
  const firstDropout = chain.indexOf(dropouts[0] as string);
  const tapOf = new Map(Object.entries(spec.taps).map(([name, id]) => [id, name]));
  for (let start = firstDropout - 1; start >= 0; start--) {
    const id = chain[start] as string;
    const tap = tapOf.get(id);
    if (tap !== undefined) return { tap, nodes: chain.slice(start + 1) };
  }
  // The node feeding the chain's first layer (e.g. the pooled feature) may be tapped itself.
  const feeding = byId.get(chain[0] as string)?.inputs[0];
  const tap = feeding === undefined ? undefined : tapOf.get(feeding);
  return tap === undefined ? undefined : { tap, nodes: chain };
}

/** The network's dropout head with its weights, or undefined when it has none. */
export function dropoutHead(spec: NetworkSpec, weights: WeightMap): DropoutHead | undefined {
  const layout = dropoutHeadLayout(spec);
  if (layout === undefined) return undefined;
  const byId = new Map(spec.nodes.map((node) => [node.id, node]));
  const layers = layout.nodes.map((id): DropoutHeadLayer => {
    const layer = byId.get(id)?.layer;
    if (layer?.kind === 'dense') {
      const weight = weights.get(`${layer.name}.weight`);
      if (weight === undefined)
        throw new MedrobustError('internal', `dropoutHead: no weight ${layer.name}.weight`);
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
  return { tap: layout.tap, layers };
}
