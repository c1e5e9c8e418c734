/**
 * The small CNN: the fast default for demos and tests. Three blocks of
 * [conv3×3 → BN → ReLU] × 2 → max-pool 2×2 with 32, 64, 128 channels (times the width multiplier).
 * Parameter names follow a PyTorch `nn.Sequential` named `features` (indices as PyTorch would
 * number them), so the equivalent PyTorch module is:
 *   features = nn.Sequential(conv, bn, relu, conv, bn, relu, maxpool, ...)  # 7 modules per block
 *   avgpool = nn.AdaptiveAvgPool2d(1); fc = nn.Linear(128·width, classes)
 */
import type { GraphBuilder } from './graph-builder.ts';
import { scaled } from './graph-builder.ts';

interface SmallCnnOptions {
  readonly channels: number;
  readonly width: number;
}

export const smallCnnBlockChannels = [32, 64, 128] as const;

/** Taps `block1`, `block2`, `block3` (after each max-pool). */
export function smallCnnBody(
  builder: GraphBuilder,
  input: string,
  options: SmallCnnOptions,
): { output: string; features: number } {
  let out = input;
  let inChannels = options.channels;
  let index = 0;
  smallCnnBlockChannels.forEach((base, block) => {
    const channels = scaled(base, options.width);
    for (let repeat = 0; repeat < 2; repeat++) {
      const conv = builder.conv(`features.${index}`, out, inChannels, channels, 3);
      const norm = builder.batchNorm(`features.${index + 1}`, conv, channels);
      out = builder.relu(norm);
      index += 3;
      inChannels = channels;
    }
    out = builder.add({ kind: 'maxPool', kernelSize: 2, stride: 2, padding: 0 }, [out], `features.${index}`);
    index += 1;
    builder.tap(`block${block + 1}`, out);
  });
  return { output: out, features: inChannels };
}
