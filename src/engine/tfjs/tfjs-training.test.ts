import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  activate,
  images,
  leakedTensors,
  maxRelativeDifference,
  tinyModel,
} from '../../../test/support/engines.ts';
import { Random } from '../../core/random.ts';
import { buildModel } from '../../models/model.ts';
import type { NetworkSpec } from '../network-spec.ts';
import type { HostTensor } from '../weights.ts';

/** input → global average pool → dense: the loss gradient is hand-computable. */
const linearSpec: NetworkSpec = {
  inputShape: [2, 2, 2],
  nodes: [
    { id: 'pool', inputs: ['input'], layer: { kind: 'globalAveragePool' } },
    {
      id: 'fc',
      inputs: ['pool'],
      layer: { kind: 'dense', name: 'fc', inFeatures: 2, outFeatures: 2, bias: true },
    },
  ],
  output: 'fc',
  taps: { logits: 'fc' },
};

/** input → batch norm → pool → dense: running statistics are hand-computable. */
const normSpec: NetworkSpec = {
  inputShape: [2, 2, 2],
  nodes: [
    {
      id: 'bn',
      inputs: ['input'],
      layer: { kind: 'batchNorm', name: 'bn', channels: 2, epsilon: 1e-5, momentum: 0.1 },
    },
    { id: 'pool', inputs: ['bn'], layer: { kind: 'globalAveragePool' } },
    {
      id: 'fc',
      inputs: ['pool'],
      layer: { kind: 'dense', name: 'fc', inFeatures: 2, outFeatures: 2, bias: true },
    },
  ],
  output: 'fc',
  taps: { logits: 'fc' },
};

const weightsOf = (entries: [string, number[], number[]][]) =>
  new Map<string, HostTensor>(
    entries.map(([name, shape, data]) => [name, { shape, data: Float32Array.from(data) }]),
  );

describe.each(['wasm', 'cpu'] as const)('training on %s', (engineName) => {
  it('one SGD step with momentum and weight decay equals PyTorch’s update, computed by hand', async () => {
    const engine = await activate(engineName);
    const w = [0.5, -0.25, 0.1, 0.3]; // fc.weight [out = 2, in = 2]
    const b = [0.05, -0.05];
    const network = engine.buildNetwork(
      linearSpec,
      weightsOf([
        ['fc.weight', [2, 2], w],
        ['fc.bias', [2], b],
      ]),
    );
    // Two images whose channel means are (1, 2) and (-1, 0.5); labels 0 and 1.
    const x = tf.tensor4d([1, 2, 1, 2, 1, 2, 1, 2, -1, 0.5, -1, 0.5, -1, 0.5, -1, 0.5], [2, 2, 2, 2]);
    const features = [
      [1, 2],
      [-1, 0.5],
    ];
    const labels = [0, 1];
    // By hand: z = W f + b, p = softmax(z), dL/dz = (p − y)/N, dL/dW = Σ (p − y) fᵀ / N.
    const gradW = [0, 0, 0, 0];
    const gradB = [0, 0];
    let loss = 0;
    features.forEach((f, n) => {
      const z = [0, 1].map(
        (o) => (w[o * 2] ?? 0) * (f[0] ?? 0) + (w[o * 2 + 1] ?? 0) * (f[1] ?? 0) + (b[o] ?? 0),
      );
      const denominator = Math.exp(z[0] ?? 0) + Math.exp(z[1] ?? 0);
      const p = z.map((value) => Math.exp(value) / denominator);
      loss -= Math.log(p[labels[n] ?? 0] ?? 1) / 2;
      for (let o = 0; o < 2; o++) {
        const error = ((p[o] ?? 0) - (o === labels[n] ? 1 : 0)) / 2;
        gradB[o] = (gradB[o] ?? 0) + error;
        for (let i = 0; i < 2; i++) gradW[o * 2 + i] = (gradW[o * 2 + i] ?? 0) + error * (f[i] ?? 0);
      }
    });
    const settings = { kind: 'sgd', learningRate: 0.1, momentum: 0.9, weightDecay: 0.01 } as const;
    const labelTensor = tf.tensor1d(labels, 'int32');
    const first = network.trainStep({ x, labels: labelTensor }, settings);
    expect(first.loss).toBeCloseTo(loss, 5);
    // PyTorch SGD: g' = g + λw; v = μv + g' (v starts at g'); w ← w − lr·v.
    const expectedW = w.map((value, i) => value - 0.1 * ((gradW[i] ?? 0) + 0.01 * value));
    const expectedB = b.map((value, i) => value - 0.1 * ((gradB[i] ?? 0) + 0.01 * value));
    const after = network.exportWeights();
    expect(maxRelativeDifference(after.get('fc.weight')?.data ?? [], expectedW)).toBeLessThan(1e-5);
    expect(maxRelativeDifference(after.get('fc.bias')?.data ?? [], expectedB)).toBeLessThan(1e-5);
    tf.dispose([x, labelTensor]);
    network.dispose();
  });

  it('a new learning rate takes effect at the next step (SGD with and without momentum, Adam)', async () => {
    const engine = await activate(engineName);
    for (const settings of [{ kind: 'sgd', momentum: 0.9 }, { kind: 'sgd' }, { kind: 'adam' }] as const) {
      const network = engine.buildNetwork(
        linearSpec,
        weightsOf([
          ['fc.weight', [2, 2], [0.5, -0.25, 0.1, 0.3]],
          ['fc.bias', [2], [0.05, -0.05]],
        ]),
      );
      const x = tf.tensor4d([1, 2, 1, 2, 1, 2, 1, 2, -1, 0.5, -1, 0.5, -1, 0.5, -1, 0.5], [2, 2, 2, 2]);
      const labels = tf.tensor1d([0, 1], 'int32');
      network.trainStep({ x, labels }, { ...settings, learningRate: 0.1 });
      const before = Array.from(network.exportWeights().get('fc.bias')?.data ?? []);
      // A rate of 0 (a schedule's end): the weights must not move.
      network.trainStep({ x, labels }, { ...settings, learningRate: 0 });
      expect({ settings, bias: Array.from(network.exportWeights().get('fc.bias')?.data ?? []) }).toEqual({
        settings,
        bias: before,
      });
      tf.dispose([x, labels]);
      network.dispose();
    }
  });

  it('a TRADES step adds β·KL(p(x) ‖ p(x′)) to the loss and its gradient, computed by hand', async () => {
    const engine = await activate(engineName);
    const w = [0.5, -0.25, 0.1, 0.3];
    const b = [0.05, -0.05];
    const network = engine.buildNetwork(
      linearSpec,
      weightsOf([
        ['fc.weight', [2, 2], w],
        ['fc.bias', [2], b],
      ]),
    );
    // Channel means f (clean) and f′ (twins); labels 0 and 1; β = 6.
    const features = [
      [1, 2],
      [-1, 0.5],
    ];
    const twins = [
      [0.5, 2.5],
      [-0.25, 0],
    ];
    const image = (rows: number[][]) =>
      tf.tensor4d(
        rows.flatMap((f) => [f, f, f, f].flat()),
        [2, 2, 2, 2],
      );
    const x = image(features);
    const adversarial = image(twins);
    const labels = [0, 1];
    const beta = 6;
    const softmax = (f: number[]) => {
      const z = [0, 1].map(
        (o) => (w[o * 2] ?? 0) * (f[0] ?? 0) + (w[o * 2 + 1] ?? 0) * (f[1] ?? 0) + (b[o] ?? 0),
      );
      const total = Math.exp(z[0] ?? 0) + Math.exp(z[1] ?? 0);
      return z.map((value) => Math.exp(value) / total);
    };
    // L = (1/N) Σ [−log p_y + β Σ_o p_o (log p_o − log q_o)];
    // ∂KL/∂z = p ⊙ (log p − log q − KL) (through p), ∂KL/∂z′ = q − p (through q).
    const gradW = [0, 0, 0, 0];
    const gradB = [0, 0];
    let loss = 0;
    features.forEach((f, n) => {
      const g = twins[n] as number[];
      const p = softmax(f);
      const q = softmax(g);
      const kl = p.reduce((sum, pk, k) => sum + pk * (Math.log(pk) - Math.log(q[k] ?? 1)), 0);
      loss += (-Math.log(p[labels[n] ?? 0] ?? 1) + beta * kl) / 2;
      for (let o = 0; o < 2; o++) {
        const po = p[o] ?? 0;
        const qo = q[o] ?? 0;
        const throughClean =
          (po - (o === labels[n] ? 1 : 0) + beta * po * (Math.log(po) - Math.log(qo) - kl)) / 2;
        const throughTwin = (beta * (qo - po)) / 2;
        gradB[o] = (gradB[o] ?? 0) + throughClean + throughTwin;
        for (let i = 0; i < 2; i++)
          gradW[o * 2 + i] = (gradW[o * 2 + i] ?? 0) + throughClean * (f[i] ?? 0) + throughTwin * (g[i] ?? 0);
      }
    });
    const labelTensor = tf.tensor1d(labels, 'int32');
    const step = network.trainStep(
      { x, labels: labelTensor, trades: { adversarial, beta } },
      { kind: 'sgd', learningRate: 0.1 },
    );
    expect(step.loss).toBeCloseTo(loss, 5);
    const after = network.exportWeights();
    expect(
      maxRelativeDifference(
        after.get('fc.weight')?.data ?? [],
        w.map((v, i) => v - 0.1 * (gradW[i] ?? 0)),
      ),
    ).toBeLessThan(1e-5);
    expect(
      maxRelativeDifference(
        after.get('fc.bias')?.data ?? [],
        b.map((v, i) => v - 0.1 * (gradB[i] ?? 0)),
      ),
    ).toBeLessThan(1e-5);
    // Twins equal to the clean images: KL = 0, so the loss is the cross-entropy alone.
    const same = network.trainStep(
      { x, labels: labelTensor, trades: { adversarial: x, beta } },
      { kind: 'sgd', learningRate: 0 },
    );
    const plain = network.trainStep({ x, labels: labelTensor }, { kind: 'sgd', learningRate: 0 });
    expect(same.loss).toBeCloseTo(plain.loss, 6);
    tf.dispose([x, adversarial, labelTensor]);
    network.dispose();
  });

  it('updates batch-norm running statistics as PyTorch does (momentum 0.1, unbiased variance)', async () => {
    const engine = await activate(engineName);
    const network = engine.buildNetwork(
      normSpec,
      weightsOf([
        ['bn.weight', [2], [1, 1]],
        ['bn.bias', [2], [0, 0]],
        ['bn.running_mean', [2], [0, 0]],
        ['bn.running_var', [2], [1, 1]],
        ['bn.num_batches_tracked', [], [0]],
        ['fc.weight', [2, 2], [1, 0, 0, 1]],
        ['fc.bias', [2], [0, 0]],
      ]),
    );
    const random = new Random(2);
    const values = random.normalArray(2 * 2 * 2 * 2, 1);
    const x = tf.tensor4d(values, [2, 2, 2, 2]);
    const labels = tf.tensor1d([0, 1], 'int32');
    network.trainStep({ x, labels }, { kind: 'sgd', learningRate: 0 });
    const channel = (c: number) => Array.from(values).filter((_, index) => index % 2 === c);
    const after = network.exportWeights();
    for (const c of [0, 1]) {
      const samples = channel(c);
      const mean = samples.reduce((sum, v) => sum + v, 0) / samples.length;
      const unbiased = samples.reduce((sum, v) => sum + (v - mean) ** 2, 0) / (samples.length - 1);
      expect(after.get('bn.running_mean')?.data[c]).toBeCloseTo(0.1 * mean, 6);
      expect(after.get('bn.running_var')?.data[c]).toBeCloseTo(0.9 + 0.1 * unbiased, 5);
    }
    expect(after.get('bn.num_batches_tracked')?.data[0]).toBe(1);
    tf.dispose([x, labels]);
    network.dispose();
  });
});

describe('training on wasm', () => {
  it('learns a separable task, and predictions after training use the trained weights', async () => {
    const engine = await activate('wasm');
    const model = tinyModel(engine, { arch: 'small-cnn', classes: 2, channels: 1, size: 8, width: 0.25 });
    // Class 1 images have a bright top-left quadrant.
    const random = new Random(4);
    const labels = Array.from({ length: 16 }, (_, i) => i % 2);
    const data = new Float32Array(16 * 64);
    labels.forEach((label, n) => {
      for (let p = 0; p < 64; p++) {
        const bright = label === 1 && p % 8 < 4 && p < 32;
        data[n * 64 + p] = (bright ? 0.8 : 0.2) + random.uniformIn(-0.1, 0.1);
      }
    });
    const x = tf.tensor4d(data, [16, 8, 8, 1]);
    const y = tf.tensor1d(labels, 'int32');
    const losses: number[] = [];
    for (let step = 0; step < 30; step++) {
      losses.push(model.network.trainStep({ x, labels: y }, { kind: 'adam', learningRate: 0.01 }).loss);
    }
    expect(losses.at(-1) ?? 1).toBeLessThan(0.5 * (losses[0] ?? 0));
    const predicted = tf.tidy(() => tf.argMax(model.classifier.predict(x).logits, 1).arraySync() as number[]);
    expect(predicted.filter((label, i) => label === labels[i]).length).toBeGreaterThanOrEqual(15);
    // A fresh network from the exported weights predicts the same.
    const copy = buildModel(engine, model.manifest, model.network.exportWeights());
    const a = tf.tidy(() => model.classifier.predict(x).logits.dataSync());
    const b = tf.tidy(() => copy.classifier.predict(x).logits.dataSync());
    expect(maxRelativeDifference(a, b)).toBeLessThan(1e-5);
    // Steps after the first allocate nothing that outlives them.
    expect(
      leakedTensors(() => model.network.trainStep({ x, labels: y }, { kind: 'adam', learningRate: 0.01 })),
    ).toBe(0);
    tf.dispose([x, y]);
    model.network.dispose();
    copy.network.dispose();
  });
});

describe('training parity', () => {
  it.each([
    ['sgd', { kind: 'sgd', learningRate: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4 }],
    // ε = 1e−4: with the default 1e−8, Adam turns last-bit noise in near-zero gradients into ±lr moves.
    ['adam', { kind: 'adam', learningRate: 1e-3, epsilon: 1e-4, weightDecay: 1e-4 }],
  ] as const)(
    'two %s steps of a ResNet-18 with the paper head give the same weights on wasm and cpu',
    async (_, settings) => {
      const architecture = {
        arch: 'resnet18',
        classes: 3,
        channels: 3,
        size: 16,
        width: 0.125,
        head: 'paper',
      } as const;
      const x = images(4, 16, 3);
      const run = async (name: 'wasm' | 'cpu') => {
        const engine = await activate(name);
        const model = tinyModel(engine, architecture, 9);
        const labels = tf.tensor1d([0, 1, 2, 1], 'int32');
        const losses = [0, 1].map(
          () => model.network.trainStep({ x, labels, classWeights: [1, 2, 0.5] }, settings).loss,
        );
        const weights = model.network.exportWeights();
        labels.dispose();
        model.network.dispose();
        return { losses, weights };
      };
      const cpu = await run('cpu');
      const wasm = await run('wasm');
      expect(maxRelativeDifference(wasm.losses, cpu.losses)).toBeLessThan(1e-4);
      for (const [name, tensor] of cpu.weights) {
        const actual = wasm.weights.get(name)?.data ?? new Float32Array();
        if (settings.kind === 'sgd') {
          expect(maxRelativeDifference(actual, tensor.data), name).toBeLessThan(1e-4);
        } else {
          // Adam's step is lr·m/√v: rounding differences in near-zero gradients move a weight by a small
          // fraction of the learning rate (measured: up to 1.2e−3·lr; a wrong update moves it by ~lr).
          const difference = Math.max(
            ...tensor.data.map((value, index) => Math.abs(value - (actual[index] ?? Number.NaN))),
          );
          expect(difference / settings.learningRate, name).toBeLessThan(1e-2);
        }
      }
      x.dispose();
    },
  );
});

describe('training state', () => {
  it.each([
    ['sgd', { kind: 'sgd', learningRate: 0.05, momentum: 0.9, weightDecay: 1e-4 }],
    ['adam', { kind: 'adam', learningRate: 1e-3 }],
  ] as const)(
    '%s: stopping after 2 steps and resuming from weights + state equals 4 uninterrupted steps',
    async (_, settings) => {
      const engine = await activate('wasm');
      const architecture = {
        arch: 'small-cnn',
        classes: 2,
        channels: 1,
        size: 8,
        width: 0.25,
        head: 'paper',
      } as const;
      const x = images(6, 8, 1);
      const labels = tf.tensor1d([0, 1, 0, 1, 1, 0], 'int32');
      const uninterrupted = tinyModel(engine, architecture, 4);
      for (let step = 0; step < 4; step++) uninterrupted.network.trainStep({ x, labels }, settings);
      const first = tinyModel(engine, architecture, 4);
      for (let step = 0; step < 2; step++) first.network.trainStep({ x, labels }, settings);
      const state = await first.network.exportTrainingState();
      expect(state?.steps).toBe(2);
      const resumed = buildModel(engine, first.manifest, first.network.exportWeights());
      if (state === undefined) throw new Error('no training state');
      await resumed.network.importTrainingState(state, settings);
      for (let step = 0; step < 2; step++) resumed.network.trainStep({ x, labels }, settings);
      const expected = uninterrupted.network.exportWeights();
      for (const [name, tensor] of resumed.network.exportWeights()) {
        expect(maxRelativeDifference(tensor.data, expected.get(name)?.data ?? []), name).toBe(0);
      }
      await expect(
        resumed.network.importTrainingState(state, { ...settings, kind: 'sgd', momentum: 0.5 } as const),
      ).rejects.toThrowError(/other optimiser settings/);
      tf.dispose([x, labels]);
      for (const model of [uninterrupted, first, resumed]) model.network.dispose();
    },
  );
});
