/**
 * A small helper the architecture files use to emit NetworkSpec nodes in order, naming parameters
 * the way PyTorch modules name them, so weight files line up with torchvision's state dicts.
 */
import type { LayerSpec, NetworkSpec, NodeSpec } from '../engine/network-spec.ts';
import { inputNodeId } from '../engine/network-spec.ts';

export class GraphBuilder {
  private readonly nodes: NodeSpec[] = [];
  private readonly taps: Record<string, string> = {};
  private counter = 0;

  constructor(private readonly inputShape: readonly [number, number, number]) {}

  get input(): string {
    return inputNodeId;
  }

  add(layer: LayerSpec, inputs: readonly string[], id?: string): string {
    const nodeId = id ?? `${layer.kind}_${this.counter++}`;
    this.nodes.push({ id: nodeId, inputs, layer });
    return nodeId;
  }

  conv(
    name: string,
    input: string,
    inChannels: number,
    outChannels: number,
    kernelSize: number,
    stride = 1,
  ): string {
    return this.add(
      {
        kind: 'conv2d',
        name,
        inChannels,
        outChannels,
        kernelSize,
        stride,
        padding: Math.floor(kernelSize / 2),
        bias: false,
      },
      [input],
      name,
    );
  }

  batchNorm(name: string, input: string, channels: number): string {
    return this.add({ kind: 'batchNorm', name, channels, epsilon: 1e-5, momentum: 0.1 }, [input], name);
  }

  relu(input: string): string {
    return this.add({ kind: 'relu' }, [input]);
  }

  tap(name: string, nodeId: string): string {
    this.taps[name] = nodeId;
    return nodeId;
  }

  build(output: string): NetworkSpec {
    return { inputShape: this.inputShape, nodes: [...this.nodes], output, taps: { ...this.taps } };
  }
}

/** Channel count after a width multiplier (at least one channel). */
export function scaled(channels: number, width: number): number {
  return Math.max(1, Math.round(channels * width));
}
