import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MedrobustError } from '../core/errors.ts';
import { countParameters, parameterSpecs } from '../engine/network-spec.ts';
import { buildNetworkSpec, defaultPreprocessing, parseArchitecture } from './architecture.ts';

const spec = (input: Record<string, unknown>) => {
  const architecture = parseArchitecture(input, 'test');
  return buildNetworkSpec(architecture, defaultPreprocessing(architecture.channels));
};

/** sha256 of "name:shape" lines in state-dict order, the same string the python snippet below hashes. */
function stateDictDigest(input: Record<string, unknown>): string {
  const lines = [...parameterSpecs(spec(input))].map(
    ([name, parameter]) => `${name}:${parameter.shape.join('x')}`,
  );
  return createHash('sha256').update(lines.join('\n')).digest('hex');
}

describe('model zoo', () => {
  // Published torchvision parameter counts (torchvision.models docs; also sum(p.numel()) in torchvision 0.14).
  it.each([
    ['resnet18', 11_689_512],
    ['resnet34', 21_797_672],
    ['resnet50', 25_557_032],
  ] as const)('%s with 1000 classes has torchvision’s parameter count', (arch, expected) => {
    expect(countParameters(spec({ arch, classes: 1000, channels: 3, size: 224 }))).toBe(expected);
  });

  // Reference digests computed with Debian's python3-torchvision 0.14.1:
  //   sd = torchvision.models.NAME().state_dict()
  //   hashlib.sha256('\n'.join(f"{k}:{'x'.join(map(str, v.shape))}" for k, v in sd.items()).encode()).hexdigest()
  it.each([
    ['resnet18', '57440be3f02613ebbe12e65d6702b9fcc7c39f9851592b06db0bd3df2ada1626'],
    ['resnet34', 'f7c2447e090f1de814aca8b1565657c4fcb37d003a5ee37f7318c36107860bba'],
    ['resnet50', 'b2933f3f8f5836c8d3176a74a87213e36a72179677abbad33ecdf41b7505d5d7'],
  ] as const)('%s state dict has torchvision’s names, order and shapes', (arch, digest) => {
    expect(stateDictDigest({ arch, classes: 1000, channels: 3, size: 224 })).toBe(digest);
  });

  it('the 28-px stem and grey input match torchvision with conv1 = Conv2d(1, 64, 3, 1, 1) and maxpool = Identity', () => {
    // torchvision 0.14: resnet18(num_classes=2) with that conv1 has 11,168,706 parameters.
    const small = spec({ arch: 'resnet18', classes: 2, channels: 1, size: 28 });
    expect(countParameters(small)).toBe(11_168_706);
    expect(small.nodes.some((node) => node.layer.kind === 'maxPool')).toBe(false);
    const conv1 = small.nodes.find((node) => node.id === 'conv1')?.layer;
    expect(conv1).toMatchObject({ kind: 'conv2d', kernelSize: 3, stride: 1, padding: 1, inChannels: 1 });
  });

  it('the paper head is Linear(F, 128) → Dropout(0.2) → Linear(128, K) with a 128-d feature tap', () => {
    // torchvision 0.14: resnet50(num_classes=2) with fc = Sequential(Linear(2048,128), Dropout(0.2), Linear(128,2)).
    const paper = spec({ arch: 'resnet50', classes: 2, channels: 3, size: 224, head: 'paper' });
    expect(countParameters(paper)).toBe(23_770_562);
    const names = [...parameterSpecs(paper).keys()].filter((name) => name.startsWith('fc'));
    expect(names).toEqual(['fc.0.weight', 'fc.0.bias', 'fc.2.weight', 'fc.2.bias']);
    expect(paper.taps.feature).toBe('fc.0');
  });

  it('chooses the stem by size unless told', () => {
    expect(parseArchitecture({ arch: 'resnet18', classes: 2, channels: 1, size: 32 }, 't').stem).toBe(
      'small',
    );
    expect(parseArchitecture({ arch: 'resnet18', classes: 2, channels: 1, size: 64 }, 't').stem).toBe(
      'imagenet',
    );
    expect(
      parseArchitecture({ arch: 'resnet18', classes: 2, channels: 1, size: 28, stem: 'imagenet' }, 't').stem,
    ).toBe('imagenet');
  });

  it('the width multiplier scales every stage', () => {
    const half = spec({ arch: 'resnet18', classes: 2, channels: 1, size: 28, width: 0.5 });
    const shapes = parameterSpecs(half);
    expect(shapes.get('conv1.weight')?.shape).toEqual([32, 1, 3, 3]);
    expect(shapes.get('layer4.1.conv2.weight')?.shape).toEqual([256, 256, 3, 3]);
    expect(shapes.get('fc.weight')?.shape).toEqual([2, 256]);
  });

  it('taps every block, every stage, the pooled feature and the logits', () => {
    const taps = Object.keys(spec({ arch: 'resnet18', classes: 2, channels: 1, size: 28 }).taps);
    expect(taps).toEqual([
      'stem',
      'layer1.0',
      'layer1.1',
      'layer1',
      'layer2.0',
      'layer2.1',
      'layer2',
      'layer3.0',
      'layer3.1',
      'layer3',
      'layer4.0',
      'layer4.1',
      'layer4',
      'pool',
      'logits',
    ]);
    const cnnTaps = Object.keys(
      spec({ arch: 'small-cnn', classes: 3, channels: 3, size: 32, head: 'paper' }).taps,
    );
    expect(cnnTaps).toEqual(['block1', 'block2', 'block3', 'pool', 'feature', 'logits']);
  });

  it.each([
    [{ arch: 'vgg16', classes: 2, channels: 1, size: 28 }, 'arch'],
    [{ arch: 'resnet18', classes: 1, channels: 1, size: 28 }, 'classes'],
    [{ arch: 'resnet18', classes: 2, channels: 2, size: 28 }, 'channels'],
    [{ arch: 'resnet18', classes: 2, channels: 1, size: 4 }, 'size'],
    [{ arch: 'resnet18', classes: 2, channels: 1, size: 28, depth: 7 }, 'depth'],
  ])('rejects %o naming the field', (input, field) => {
    expect(() => parseArchitecture(input, 'model.json')).toThrowError(MedrobustError);
    expect(() => parseArchitecture(input, 'model.json')).toThrowError(
      new RegExp(`model.json: invalid architecture[\\s\\S]*${field}`),
    );
  });
});
