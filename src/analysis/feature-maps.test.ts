/**
 * Feature-map comparison against values computed on the host from the same taps: channel means,
 * ‖A′ − A‖/‖A‖ per image, and the input's own relative change; identical inputs change nothing.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activate, images, tinyModel } from '../../test/support/engines.ts';
import type { LoadedModel } from '../models/model.ts';
import { compareFeatures } from './feature-maps.ts';

let model: LoadedModel;

beforeAll(async () => {
  model = tinyModel(await activate('cpu'), {
    arch: 'small-cnn',
    classes: 2,
    channels: 1,
    size: 16,
    width: 0.25,
  });
});

afterAll(() => {
  model.network.dispose();
});

describe('feature maps', () => {
  it('channel means and relative changes equal the host computation; no leaks', () => {
    const clean = images(2, 16, 1, 1);
    const adversarial = tf.tidy(() => tf.clipByValue(tf.add(clean, 0.05), 0, 1) as tf.Tensor4D);
    const before = tf.memory().numTensors;
    const comparison = compareFeatures(model.classifier, clean, adversarial, ['block1', 'block3']);
    expect(tf.memory().numTensors).toBe(before);
    const { taps } = model.classifier.predict(clean, ['block1']);
    const { taps: moved } = model.classifier.predict(adversarial, ['block1']);
    const a = (taps.get('block1') as tf.Tensor4D).arraySync();
    const b = (moved.get('block1') as tf.Tensor4D).arraySync();
    tf.dispose([...taps.values(), ...moved.values()]);
    const [, h = 0, w = 0] = [a.length, a[0]?.length, a[0]?.[0]?.length];
    const maps = comparison.maps.get('block1');
    for (let n = 0; n < 2; n++) {
      let difference = 0;
      let norm = 0;
      for (let i = 0; i < h; i++) {
        for (let j = 0; j < w; j++) {
          const channels = a[n]?.[i]?.[j] ?? [];
          const mean = channels.reduce((sum, value) => sum + value, 0) / channels.length;
          expect(maps?.clean.values[(n * h + i) * w + j]).toBeCloseTo(mean, 5);
          channels.forEach((value, c) => {
            difference += ((b[n]?.[i]?.[j]?.[c] ?? 0) - value) ** 2;
            norm += value ** 2;
          });
        }
      }
      expect(comparison.relativeChange.get('block1')?.[n]).toBeCloseTo(Math.sqrt(difference / norm), 4);
    }
    const x = clean.arraySync().flat(3);
    const y = adversarial.arraySync().flat(3);
    const inputChange =
      Math.sqrt(x.slice(0, 256).reduce((sum, value, index) => sum + ((y[index] ?? 0) - value) ** 2, 0)) /
      Math.sqrt(x.slice(0, 256).reduce((sum, value) => sum + value ** 2, 0));
    expect(comparison.inputChange[0]).toBeCloseTo(inputChange, 5);
    const same = compareFeatures(model.classifier, clean, clean, ['block2']);
    expect(Array.from(same.relativeChange.get('block2') ?? [])).toEqual([0, 0]);
    tf.dispose([clean, adversarial]);
  });

  it('names the taps a model has when asked for another', () => {
    const x = images(1, 16, 1, 2);
    expect(() => compareFeatures(model.classifier, x, x, ['layer9'])).toThrow(/no tap 'layer9'[\s\S]*/);
    x.dispose();
  });
});
