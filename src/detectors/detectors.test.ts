/**
 * The table every detector must pass (DESIGN.md §5 rule 9, for detectors): on a small fixture model,
 * fitted on clean images and strongly perturbed twins, it separates held-out twins (AUC > 0.9; 0.75
 * for single-layer LID); its
 * state survives saving (typed arrays through detector-directory) and restores to identical scores;
 * fitting and scoring leak no tensors; bad options and a mismatched model give clear errors.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activate, images, tinyModel } from '../../test/support/engines.ts';
import { Random } from '../core/random.ts';
import type { Engine } from '../engine/contracts.ts';
import { rocAuc } from '../models/metrics.ts';
import type { LoadedModel } from '../models/model.ts';
import { loadDetectorState, saveDetector } from '../node/detector-directory.ts';
import { fitDetector, restoreDetector } from './detector.ts';
import { extractFeatures } from './features.ts';
import { detectorNames, getDetector } from './registry.ts';

let engine: Engine;
let fixture: LoadedModel;
let directory: string;

/** Clean images and twins moved by ±0.3 per pixel (a crude stand-in for an attack, far off-manifold). */
function perturbed(x: tf.Tensor4D, seed: number): tf.Tensor4D {
  const random = new Random(seed);
  return tf.tidy(() => {
    const signs = tf.tensor(
      Array.from({ length: x.size }, () => (random.uniform() < 0.5 ? -0.3 : 0.3)),
      x.shape,
    );
    return tf.clipByValue(tf.add(x, signs), 0, 1) as tf.Tensor4D;
  });
}

beforeAll(async () => {
  engine = await activate('cpu');
  fixture = tinyModel(engine, {
    arch: 'small-cnn',
    classes: 2,
    channels: 1,
    size: 16,
    width: 0.25,
    head: 'paper',
  });
  directory = await mkdtemp(join(tmpdir(), 'medrobust-detectors-'));
});

afterAll(async () => {
  fixture.network.dispose();
  await rm(directory, { recursive: true, force: true });
});

describe.each(detectorNames)('detector %s', (name) => {
  it('separates held-out perturbed twins, saves, restores to the same scores, leaks nothing', async () => {
    const detector = getDetector(name);
    const model = fixture.classifier;
    const reference = { x: images(60, 16, 1, 11), labels: Int32Array.from({ length: 60 }, (_, i) => i % 2) };
    const clean = images(40, 16, 1, 12);
    const adversarial = perturbed(clean, 13);
    const heldOutClean = images(16, 16, 1, 14);
    const heldOutAdversarial = perturbed(heldOutClean, 15);
    const before = tf.memory().numTensors;
    // Fixture-sized settings: the 60 reference images as LID's neighbour batch; for QFeat a γ suited to the fixture's
    // 128 binary dimensions (the paper's 2.8 makes every pair of distinct codes nearly orthogonal).
    const options = name.startsWith('lid')
      ? { k: 20, batchSize: 60 }
      : name === 'qfeat'
        ? { gamma: 0.05 }
        : {};
    const fitted = fitDetector(model, detector, options, {
      reference,
      clean,
      adversarial,
    });
    const cleanScores = await fitted.score(heldOutClean);
    const adversarialScores = await fitted.score(heldOutAdversarial);
    expect(tf.memory().numTensors).toBe(before);
    const labels = [...new Array(16).fill(0), ...new Array(16).fill(1)];
    // One TLE value per image is a weaker separator on this 16-px fixture (measured 0.84).
    expect(rocAuc([...cleanScores, ...adversarialScores], labels)).toBeGreaterThan(
      name === 'lid' ? 0.75 : 0.9,
    );

    const path = join(directory, name);
    await saveDetector(path, fitted.toJSON());
    const restored = restoreDetector(model, detector, await loadDetectorState(path));
    expect(Array.from(await restored.score(heldOutAdversarial))).toEqual(Array.from(adversarialScores));
    expect(restored.threshold).toBe(fitted.threshold);
    // Scoring from a shared forward pass holding every tap of the model gives the same scores.
    const shared = extractFeatures(model, heldOutAdversarial, model.info.layers);
    expect(Array.from(await restored.scoreFeatures(shared, heldOutAdversarial))).toEqual(
      Array.from(adversarialScores),
    );
    tf.dispose([reference.x, clean, adversarial, heldOutClean, heldOutAdversarial]);
  }, 60_000);
});

describe('Mahalanobis input pre-processing', () => {
  it('moves each image against the gradient of its class distance before scoring, without leaks', async () => {
    const detector = getDetector('mahalanobis');
    const model = fixture.classifier;
    const reference = { x: images(40, 16, 1, 31), labels: Int32Array.from({ length: 40 }, (_, i) => i % 2) };
    const clean = images(20, 16, 1, 32);
    const adversarial = perturbed(clean, 33);
    const before = tf.memory().numTensors;
    const plain = fitDetector(model, detector, {}, { reference, clean, adversarial });
    const processed = fitDetector(model, detector, { noise: 0.01 }, { reference, clean, adversarial });
    const plainScores = await plain.score(clean);
    const processedScores = await processed.score(clean);
    expect(tf.memory().numTensors).toBe(before);
    expect(Array.from(processedScores)).not.toEqual(Array.from(plainScores));
    // Only the exact (noise 0) form is differentiable.
    expect(plain.scoreTensor).toBeDefined();
    expect(processed.scoreTensor).toBeUndefined();
    tf.dispose([reference.x, clean, adversarial]);
  }, 60_000);
});

describe('detector errors', () => {
  it('rejects unknown detectors, bad options and unknown taps with the fix', () => {
    expect(() => getDetector('nope')).toThrow(/unknown detector 'nope'/);
    expect(() => getDetector('kd').parse({ bandwidth: -1 })).toThrow(/kd: invalid options\n {2}bandwidth/);
    expect(() => getDetector('kd').taps(fixture.classifier.info, { tap: 'layer9', bandwidth: 1 })).toThrow(
      /has no tap 'layer9'/,
    );
  });
  it('refuses to restore a detector onto a model with other classes', async () => {
    const detector = getDetector('kd');
    const reference = { x: images(20, 16, 1, 21), labels: Int32Array.from({ length: 20 }, (_, i) => i % 2) };
    const clean = images(10, 16, 1, 22);
    const adversarial = perturbed(clean, 23);
    const state = fitDetector(fixture.classifier, detector, {}, { reference, clean, adversarial }).toJSON();
    const other = tinyModel(engine, {
      arch: 'small-cnn',
      classes: 3,
      channels: 1,
      size: 16,
      width: 0.25,
      head: 'paper',
    });
    expect(() => restoreDetector(other.classifier, detector, state)).toThrow(
      /fitted on a model with input 16×16×1/,
    );
    other.network.dispose();
    tf.dispose([reference.x, clean, adversarial]);
  });
});
