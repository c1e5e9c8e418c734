/**
 * Seeded, PyTorch-style initial weights, as torchvision initialises its ResNets:
 * - convolutions: Kaiming normal, fan-out mode, ReLU gain: N(0, 2 / (out · kh · kw))
 *   (He et al., "Delving Deep into Rectifiers", ICCV 2015);
 * - batch norm: γ = 1, β = 0, running mean 0, running variance 1, no batches tracked;
 * - dense layers: PyTorch's nn.Linear default, weight and bias uniform in ±1/√fan_in.
 */
import { Random } from '../core/random.ts';
import type { NetworkSpec } from '../engine/network-spec.ts';
import type { HostTensor, WeightMap } from '../engine/weights.ts';

export function initialiseWeights(spec: NetworkSpec, seed: number): WeightMap {
  const random = new Random(seed);
  const weights = new Map<string, HostTensor>();
  const put = (name: string, shape: number[], data: Float32Array) => weights.set(name, { shape, data });
  for (const node of spec.nodes) {
    const layer = node.layer;
    switch (layer.kind) {
      case 'conv2d': {
        const { outChannels: out, inChannels: input, kernelSize: kernel } = layer;
        const std = Math.sqrt(2 / (out * kernel * kernel));
        put(
          `${layer.name}.weight`,
          [out, input, kernel, kernel],
          random.normalArray(out * input * kernel * kernel, std),
        );
        if (layer.bias) {
          const bound = 1 / Math.sqrt(input * kernel * kernel);
          put(`${layer.name}.bias`, [out], random.uniformArray(out, -bound, bound));
        }
        break;
      }
      case 'batchNorm':
        put(`${layer.name}.weight`, [layer.channels], new Float32Array(layer.channels).fill(1));
        put(`${layer.name}.bias`, [layer.channels], new Float32Array(layer.channels));
        put(`${layer.name}.running_mean`, [layer.channels], new Float32Array(layer.channels));
        put(`${layer.name}.running_var`, [layer.channels], new Float32Array(layer.channels).fill(1));
        put(`${layer.name}.num_batches_tracked`, [], new Float32Array(1));
        break;
      case 'dense': {
        const bound = 1 / Math.sqrt(layer.inFeatures);
        put(
          `${layer.name}.weight`,
          [layer.outFeatures, layer.inFeatures],
          random.uniformArray(layer.outFeatures * layer.inFeatures, -bound, bound),
        );
        if (layer.bias)
          put(
            `${layer.name}.bias`,
            [layer.outFeatures],
            random.uniformArray(layer.outFeatures, -bound, bound),
          );
        break;
      }
      default:
        break;
    }
  }
  return weights;
}
