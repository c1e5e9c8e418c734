/**
 * ResNet-18/34 (basic blocks) and ResNet-50 (bottleneck blocks, stride on the 3×3 convolution as in
 * torchvision, "ResNet v1.5"). He, Zhang, Ren, Sun, "Deep Residual Learning for Image Recognition",
 * CVPR 2016. Parameter names are torchvision's (`conv1`, `layer1.0.bn1`, `layer2.0.downsample.0`,
 * `fc`), so torchvision state dicts load unchanged. Two stems: the ImageNet one (7×7/2 conv, 3×3/2
 * max-pool) and the 28/32-px one (3×3/1 conv, max-pool replaced by the identity), as MedMNIST's
 * and CIFAR ResNets use. The width multiplier scales every layer's channels.
 */
import type { GraphBuilder } from './graph-builder.ts';
import { scaled } from './graph-builder.ts';

export const resnetDepths = {
  resnet18: { block: 'basic', blocks: [2, 2, 2, 2] },
  resnet34: { block: 'basic', blocks: [3, 4, 6, 3] },
  resnet50: { block: 'bottleneck', blocks: [3, 4, 6, 3] },
} as const;

type Depth = (typeof resnetDepths)[keyof typeof resnetDepths];

interface ResnetOptions {
  readonly channels: number;
  readonly width: number;
  readonly stem: 'small' | 'imagenet';
}

function basicBlock(
  builder: GraphBuilder,
  prefix: string,
  input: string,
  inPlanes: number,
  planes: number,
  stride: number,
): string {
  let out = builder.relu(
    builder.batchNorm(
      `${prefix}.bn1`,
      builder.conv(`${prefix}.conv1`, input, inPlanes, planes, 3, stride),
      planes,
    ),
  );
  out = builder.batchNorm(`${prefix}.bn2`, builder.conv(`${prefix}.conv2`, out, planes, planes, 3), planes);
  const shortcut =
    stride !== 1 || inPlanes !== planes
      ? builder.batchNorm(
          `${prefix}.downsample.1`,
          builder.conv(`${prefix}.downsample.0`, input, inPlanes, planes, 1, stride),
          planes,
        )
      : input;
  return builder.relu(builder.add({ kind: 'add' }, [out, shortcut]));
}

function bottleneckBlock(
  builder: GraphBuilder,
  prefix: string,
  input: string,
  inPlanes: number,
  planes: number,
  stride: number,
): string {
  const outPlanes = planes * 4;
  let out = builder.relu(
    builder.batchNorm(`${prefix}.bn1`, builder.conv(`${prefix}.conv1`, input, inPlanes, planes, 1), planes),
  );
  out = builder.relu(
    builder.batchNorm(
      `${prefix}.bn2`,
      builder.conv(`${prefix}.conv2`, out, planes, planes, 3, stride),
      planes,
    ),
  );
  out = builder.batchNorm(
    `${prefix}.bn3`,
    builder.conv(`${prefix}.conv3`, out, planes, outPlanes, 1),
    outPlanes,
  );
  const shortcut =
    stride !== 1 || inPlanes !== outPlanes
      ? builder.batchNorm(
          `${prefix}.downsample.1`,
          builder.conv(`${prefix}.downsample.0`, input, inPlanes, outPlanes, 1, stride),
          outPlanes,
        )
      : input;
  return builder.relu(builder.add({ kind: 'add' }, [out, shortcut]));
}

/** Emits stem and four stages; taps `stem`, every block (`layer1.0`, ...) and every stage (`layer1`, ...). */
export function resnetBody(
  builder: GraphBuilder,
  input: string,
  options: ResnetOptions,
  depth: Depth,
): { output: string; features: number } {
  const stemPlanes = scaled(64, options.width);
  let out: string;
  if (options.stem === 'imagenet') {
    out = builder.relu(
      builder.batchNorm('bn1', builder.conv('conv1', input, options.channels, stemPlanes, 7, 2), stemPlanes),
    );
    out = builder.add({ kind: 'maxPool', kernelSize: 3, stride: 2, padding: 1 }, [out], 'maxpool');
  } else {
    out = builder.relu(
      builder.batchNorm('bn1', builder.conv('conv1', input, options.channels, stemPlanes, 3, 1), stemPlanes),
    );
  }
  builder.tap('stem', out);
  const expansion = depth.block === 'bottleneck' ? 4 : 1;
  let inPlanes = stemPlanes;
  depth.blocks.forEach((count, stage) => {
    const planes = scaled(64 * 2 ** stage, options.width);
    for (let index = 0; index < count; index++) {
      const prefix = `layer${stage + 1}.${index}`;
      const stride = index === 0 && stage > 0 ? 2 : 1;
      const block = depth.block === 'bottleneck' ? bottleneckBlock : basicBlock;
      out = builder.tap(prefix, block(builder, prefix, out, inPlanes, planes, stride));
      inPlanes = planes * expansion;
    }
    builder.tap(`layer${stage + 1}`, out);
  });
  return { output: out, features: inPlanes };
}
