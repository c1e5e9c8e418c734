import { describe, expect, it } from 'vitest';
import { buildNetworkSpec, defaultPreprocessing, parseArchitecture } from '../models/architecture.ts';
import { denseHead, dropoutHeadLayout, poolingHeadLayout } from './dense-head.ts';
import type { LayerSpec, NetworkSpec, NodeSpec } from './network-spec.ts';

const zoo = (input: Record<string, unknown>) => {
  const architecture = parseArchitecture(input, 'test');
  return buildNetworkSpec(architecture, defaultPreprocessing(architecture.channels));
};

const dense = (name: string, inFeatures: number, outFeatures: number): LayerSpec => ({
  kind: 'dense',
  name,
  inFeatures,
  outFeatures,
  bias: true,
});

/** input → GAP → nodes…, the last one the logits; `taps` names nodes. */
function chain(layers: readonly LayerSpec[], taps: Record<string, string>): NetworkSpec {
  const nodes: NodeSpec[] = [{ id: 'pool', inputs: ['input'], layer: { kind: 'globalAveragePool' } }];
  layers.forEach((layer, index) => {
    nodes.push({ id: `n${index}`, inputs: [nodes[index]?.id ?? ''], layer });
  });
  return { inputShape: [4, 4, 3], nodes, output: `n${layers.length - 1}`, taps: { pool: 'pool', ...taps } };
}

describe('dense heads', () => {
  it("finds the paper head's dropout after the 'feature' tap, and none in the linear head", () => {
    expect(
      dropoutHeadLayout(zoo({ arch: 'resnet18', classes: 2, channels: 1, size: 28, head: 'paper' })),
    ).toEqual({
      tap: 'feature',
      pool: false,
      nodes: ['fc.1', 'fc.2'],
    });
    expect(
      dropoutHeadLayout(zoo({ arch: 'small-cnn', classes: 3, channels: 1, size: 16, head: 'paper' }))?.tap,
    ).toBe('feature');
    expect(
      dropoutHeadLayout(zoo({ arch: 'resnet18', classes: 2, channels: 1, size: 28, head: 'linear' })),
    ).toBe(undefined);
  });

  it('starts at the latest tap before the first dropout, else at the tapped input of the chain', () => {
    const layers: LayerSpec[] = [
      dense('a', 3, 8),
      { kind: 'relu' },
      { kind: 'dropout', rate: 0.5 },
      dense('b', 8, 4),
      { kind: 'dropout', rate: 0.1 },
      dense('c', 4, 2),
    ];
    expect(dropoutHeadLayout(chain(layers, { hidden: 'n1' }))).toEqual({
      tap: 'hidden',
      pool: false,
      nodes: ['n2', 'n3', 'n4', 'n5'],
    });
    expect(dropoutHeadLayout(chain(layers, {}))).toEqual({
      tap: 'pool',
      pool: false,
      nodes: ['n0', 'n1', 'n2', 'n3', 'n4', 'n5'],
    });
  });

  it('refuses networks whose dropout is not all in a dense chain ending at the logits', () => {
    const spec = chain([dense('a', 3, 8), { kind: 'dropout', rate: 0.5 }, dense('b', 8, 2)], {});
    const body: NodeSpec = { id: 'early', inputs: ['input'], layer: { kind: 'dropout', rate: 0.2 } };
    const withBodyDropout: NetworkSpec = {
      ...spec,
      nodes: [
        body,
        ...spec.nodes.map((node) => (node.id === 'pool' ? { ...node, inputs: ['early'] } : node)),
      ],
    };
    expect(dropoutHeadLayout(withBodyDropout)).toBe(undefined);
    // Untapped input: nothing to read the head's input from.
    expect(dropoutHeadLayout({ ...spec, taps: {} })).toBe(undefined);
  });

  it('carries the dense weights of the head, by PyTorch name', () => {
    const spec = chain([dense('a', 3, 2), { kind: 'dropout', rate: 0.5 }, dense('b', 2, 2)], {
      hidden: 'n0',
    });
    const weight = { shape: [2, 2], data: Float32Array.from([1, 2, 3, 4]) };
    const bias = { shape: [2], data: Float32Array.from([5, 6]) };
    const layout = dropoutHeadLayout(spec);
    if (layout === undefined) throw new Error('no dropout head');
    const head = denseHead(
      spec,
      new Map([
        ['b.weight', weight],
        ['b.bias', bias],
      ]),
      layout,
    );
    expect(head).toEqual({
      tap: 'hidden',
      pool: false,
      layers: [
        { kind: 'dropout', rate: 0.5 },
        { kind: 'dense', inFeatures: 2, outFeatures: 2, weight, bias },
      ],
    });
  });

  it('finds the feature map a global average pool feeds into the head (Grad-CAM)', () => {
    expect(
      poolingHeadLayout(zoo({ arch: 'resnet18', classes: 2, channels: 1, size: 28, head: 'linear' })),
    ).toEqual({
      tap: 'layer4',
      pool: true,
      nodes: ['fc'],
    });
    expect(
      poolingHeadLayout(zoo({ arch: 'small-cnn', classes: 2, channels: 1, size: 16, head: 'paper' })),
    ).toEqual({
      tap: 'block3',
      pool: true,
      nodes: ['fc.0', 'fc.1', 'fc.2'],
    });
    // A pool of an untapped activation (here the input) gives no map to explain.
    expect(poolingHeadLayout(chain([dense('a', 3, 2)], {}))).toBe(undefined);
  });
});
