/**
 * Architecture configurations (the `architecture` block of model.json) and the one function that
 * turns a configuration into a NetworkSpec. The zod schema is the single source of defaults.
 */
import { z } from 'zod';
import { MedrobustError } from '../core/errors.ts';
import type { NetworkSpec } from '../engine/network-spec.ts';
import { validateNetworkSpec } from '../engine/network-spec.ts';
import { GraphBuilder } from './graph-builder.ts';
import { resnetBody, resnetDepths } from './resnet.ts';
import { smallCnnBody } from './small-cnn.ts';

export const architectureNames = ['small-cnn', 'resnet18', 'resnet34', 'resnet50'] as const;
export type ArchitectureName = (typeof architectureNames)[number];

export const architectureSchema = z
  .object({
    arch: z.enum(architectureNames),
    classes: z.number().int().min(2).max(100_000),
    channels: z.union([z.literal(1), z.literal(3)]),
    /** Square input size in pixels. */
    size: z.number().int().min(8).max(1024),
    /** Multiplies every layer's channel count (0.25, 0.5, 1, 2, ...). */
    width: z.number().positive().max(16).default(1),
    /** `linear`: pooled feature → classes. `paper`: pooled → Dense(128) → Dropout(0.2) → Dense(classes). */
    head: z.enum(['linear', 'paper']).default('linear'),
    /**
     * `small`: 3×3 stride-1 convolution and no max-pool (MedMNIST/CIFAR ResNets, for 28–32 px);
     * `imagenet`: 7×7 stride-2 convolution and 3×3 stride-2 max-pool (64–224 px).
     * Default: `small` up to 32 px, `imagenet` above.
     */
    stem: z.enum(['small', 'imagenet']).optional(),
  })
  .strict();

export type ArchitectureInput = z.input<typeof architectureSchema>;
export type Architecture = z.output<typeof architectureSchema> & { stem: 'small' | 'imagenet' };

export function parseArchitecture(input: unknown, source: string): Architecture {
  const parsed = architectureSchema.safeParse(input);
  if (!parsed.success) {
    const issues = parsed.error.issues.map(
      (issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`,
    );
    throw new MedrobustError('invalid-model', `${source}: invalid architecture\n  ${issues.join('\n  ')}`, {
      hint: `architectures: ${architectureNames.join(', ')}; classes ≥ 2; channels 1 or 3; size 8–1024`,
    });
  }
  return { ...parsed.data, stem: parsed.data.stem ?? (parsed.data.size <= 32 ? 'small' : 'imagenet') };
}

/** The dense head; returns the logits node. Taps `feature` (paper head's 128-d output) when present. */
function head(builder: GraphBuilder, pooled: string, features: number, architecture: Architecture): string {
  if (architecture.head === 'linear') {
    return builder.add(
      { kind: 'dense', name: 'fc', inFeatures: features, outFeatures: architecture.classes, bias: true },
      [pooled],
      'fc',
    );
  }
  // PyTorch: model.fc = nn.Sequential(nn.Linear(F, 128), nn.Dropout(0.2), nn.Linear(128, K)).
  const feature = builder.add(
    { kind: 'dense', name: 'fc.0', inFeatures: features, outFeatures: 128, bias: true },
    [pooled],
    'fc.0',
  );
  builder.tap('feature', feature);
  const dropped = builder.add({ kind: 'dropout', rate: 0.2 }, [feature], 'fc.1');
  return builder.add(
    { kind: 'dense', name: 'fc.2', inFeatures: 128, outFeatures: architecture.classes, bias: true },
    [dropped],
    'fc.2',
  );
}

export interface Preprocessing {
  /** Per-channel mean and standard deviation applied to [0, 1] images inside the model. */
  readonly mean: readonly number[];
  readonly std: readonly number[];
}

/** The paper's scaling, x/127.5 − 1 on 8-bit images, i.e. (x − 0.5)/0.5 on [0, 1] images. */
export function defaultPreprocessing(channels: number): Preprocessing {
  return { mean: new Array(channels).fill(0.5), std: new Array(channels).fill(0.5) };
}

export function buildNetworkSpec(architecture: Architecture, preprocessing: Preprocessing): NetworkSpec {
  const { channels, size } = architecture;
  if (preprocessing.mean.length !== channels || preprocessing.std.length !== channels) {
    throw new MedrobustError('invalid-model', `preprocessing needs ${channels} mean and std values`, {
      hint: `give one mean and one std per input channel (got ${preprocessing.mean.length} and ${preprocessing.std.length})`,
    });
  }
  if (preprocessing.std.some((value) => !(value > 0))) {
    throw new MedrobustError('invalid-model', 'preprocessing std values must be positive', {
      hint: 'use the per-channel standard deviations of the training images, e.g. 0.5',
    });
  }
  const builder = new GraphBuilder([size, size, channels]);
  const normalized = builder.add(
    { kind: 'normalize', mean: [...preprocessing.mean], std: [...preprocessing.std] },
    [builder.input],
    'normalize',
  );
  const body =
    architecture.arch === 'small-cnn'
      ? smallCnnBody(builder, normalized, architecture)
      : resnetBody(builder, normalized, architecture, resnetDepths[architecture.arch]);
  const pooled = builder.tap('pool', builder.add({ kind: 'globalAveragePool' }, [body.output], 'avgpool'));
  const logits = builder.tap('logits', head(builder, pooled, body.features, architecture));
  return validateNetworkSpec(builder.build(logits));
}
