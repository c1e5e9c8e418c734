import { describe, expect, it } from 'vitest';
import { matchedDataOptions, parseModelList } from './study-commands.ts';

describe('analyze natural: matching datasets to the first one', () => {
  const pneumonia = { name: 'pneumoniamnist', splits: ['train', 'val', 'test'], shape: [28, 28, 1] } as const;

  it('leaves a dataset of the same layout alone, and greys, resizes and splits CIFAR-10 test', () => {
    const fashion = { name: 'fashion-mnist', splits: ['train', 'test'], shape: [28, 28, 1] } as const;
    const cifar = { name: 'cifar10_test', splits: ['test'], shape: [32, 32, 3] } as const;
    const [first, second, third] = matchedDataOptions([pneumonia, fashion, cifar], 0.2);
    expect(first).toEqual({ options: {}, notes: [] });
    expect(second).toEqual({ options: {}, notes: [] });
    expect(third?.options).toEqual({ holdOut: 0.2, grey: true, resize: 28 });
    expect(third?.notes).toEqual([
      'cifar10_test: no train split; training on a stratified 80 % of its test images, measuring on the other 20 %',
      'cifar10_test: RGB converted to grey (BT.601 luminance) to match pneumoniamnist',
      'cifar10_test: 32×32 px resized to 28×28 (bilinear) to match pneumoniamnist',
    ]);
  });

  it('refuses what it cannot match: grey to RGB, and a first dataset of non-square images', () => {
    const rgb = { name: 'isic', splits: ['train'], shape: [64, 64, 3] } as const;
    expect(() => matchedDataOptions([rgb, pneumonia], 0.2)).toThrowError(
      /pneumoniamnist: 1-channel images cannot be matched to isic's 3-channel ones/,
    );
    const wide = { name: 'wide', splits: ['train'], shape: [28, 32, 1] } as const;
    expect(() => matchedDataOptions([wide, pneumonia], 0.2)).toThrowError(/28×32/);
  });
});

describe('analyze capacity: --models', () => {
  it('reads ARCH and ARCH@WIDTH and names a bad item', () => {
    expect(parseModelList('small-cnn,resnet18@0.5')).toEqual([
      { arch: 'small-cnn', width: 1, name: 'small-cnn' },
      { arch: 'resnet18', width: 0.5, name: 'resnet18@0.5' },
    ]);
    expect(() => parseModelList('resnet18@0')).toThrowError(/'resnet18@0' is not ARCH or ARCH@WIDTH/);
  });
});
