/**
 * Training on the tfjs engines: the NetworkSpec in training mode on tf.Variables, PyTorch
 * semantics throughout so a run here and a run in PyTorch (or on the native engine) agree:
 * - batch norm (batch-norm.ts, closed-form backward) normalises with the batch mean and biased
 *   variance over N·H·W and updates
 *   running_mean ← (1 − m)·running_mean + m·mean and running_var ← (1 − m)·running_var +
 *   m·var·n/(n − 1) (unbiased), num_batches_tracked += 1;
 * - dropout is inverted dropout, seeded per step;
 * - the loss is cross-entropy (a weighted mean with class weights, as `CrossEntropyLoss(weight=w)`)
 *   or, for multi-label targets, the mean binary cross-entropy with logits; a TRADES batch adds
 *   β · mean KL(p(x) ‖ p(x′)) from a second training-mode pass over the adversarial twins;
 * - optimisers are tfjs' own (`tf.train.momentum`, `tf.train.adam`), with PyTorch's coupled
 *   weight decay added to the gradients and the learning rate set every step.
 * Parameters are held in tfjs layouts (HWIO filters, [in, out] dense matrices) and converted to and
 * from PyTorch's layouts at the boundary.
 */
import * as tf from '@tensorflow/tfjs-core';
import { defined } from '../../core/assert.ts';
import { MedrobustError } from '../../core/errors.ts';
import type { OptimiserSettings, TrainingBatch, TrainingState, TrainStepResult } from '../contracts.ts';
import { inputNodeId, type NetworkSpec, parameterSpecs } from '../network-spec.ts';
import type { HostTensor, WeightMap } from '../weights.ts';
import { batchNormTraining } from './batch-norm.ts';
import { denseFromTfjs, denseToTfjs, filterFromTfjs, filterToTfjs } from './layouts.ts';

let instances = 0;

/** Adam's running powers β₁ᵗ and β₂ᵗ (protected fields of tfjs' AdamOptimizer). */
function betaPowers(optimiser: tf.Optimizer): { accBeta1: tf.Variable; accBeta2: tf.Variable } | undefined {
  const fields = optimiser as unknown as { accBeta1?: tf.Variable; accBeta2?: tf.Variable };
  return fields.accBeta1 === undefined || fields.accBeta2 === undefined
    ? undefined
    : { accBeta1: fields.accBeta1, accBeta2: fields.accBeta2 };
}

/** The optimiser's identity: kind and hyper-parameters, without the learning rate a schedule changes. */
export function optimiserKey(settings: OptimiserSettings): string {
  return JSON.stringify({ ...settings, learningRate: 0 });
}

/** Mean over the batch of KL(softmax(natural) ‖ softmax(adversarial)) (TRADES' robust term). */
export function tradesDivergence(natural: tf.Tensor2D, adversarial: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const logNatural = tf.logSoftmax(natural);
    const perSample = tf.sum(tf.mul(tf.exp(logNatural), tf.sub(logNatural, tf.logSoftmax(adversarial))), 1);
    return tf.mean(perSample) as tf.Scalar;
  });
}

export class TfjsTrainer {
  /** Trainable parameters and batch-norm buffers, by PyTorch name, in tfjs layouts. */
  private readonly variables = new Map<string, tf.Variable>();
  private readonly prefix = `medrobust-${++instances}`;
  private optimiser: tf.Optimizer | undefined;
  private optimiserKey = '';
  private steps = 0;

  constructor(
    private readonly spec: NetworkSpec,
    weights: WeightMap,
  ) {
    for (const [name, parameter] of parameterSpecs(spec)) {
      const tensor = weights.get(name);
      const shape = parameter.shape;
      const value = tf.tidy(() => {
        if (tensor === undefined) return tf.zeros([...shape]); // a missing num_batches_tracked counter
        if (shape.length === 4) {
          const [out, input, kernel] = shape as [number, number, number, number];
          return filterToTfjs(tensor.data, out, input, kernel);
        }
        if (shape.length === 2 && name.endsWith('.weight')) {
          const [out, input] = shape as [number, number];
          return denseToTfjs(tensor.data, out, input);
        }
        return tf.tensor(tensor.data, [...shape]);
      });
      this.variables.set(name, tf.variable(value, parameter.trainable, `${this.prefix}/${name}`));
      value.dispose();
    }
  }

  private variable(name: string): tf.Variable {
    return defined(this.variables.get(name), () => `tfjs-training: no variable ${name}`);
  }

  /** Training-mode forward pass; returns the logits and the batch statistics of every batch norm. */
  private forward(x: tf.Tensor4D, seed: number) {
    const values = new Map<string, tf.Tensor>([[inputNodeId, x]]);
    const statistics: { name: string; mean: tf.Tensor; variance: tf.Tensor; count: number }[] = [];
    let dropouts = 0;
    for (const node of this.spec.nodes) {
      const input = defined(values.get(node.inputs[0] ?? inputNodeId), () => `value of ${node.inputs[0]}`);
      const layer = node.layer;
      let output: tf.Tensor;
      switch (layer.kind) {
        case 'normalize':
          output = tf.div(tf.sub(input, tf.tensor1d([...layer.mean])), tf.tensor1d([...layer.std]));
          break;
        case 'conv2d': {
          output = tf.conv2d(
            input as tf.Tensor4D,
            this.variable(`${layer.name}.weight`) as tf.Tensor4D,
            layer.stride,
            layer.padding,
          );
          if (layer.bias) output = tf.add(output, this.variable(`${layer.name}.bias`));
          break;
        }
        case 'batchNorm': {
          const [n, h, w] = input.shape as [number, number, number, number];
          const result = batchNormTraining(
            input as tf.Tensor4D,
            this.variable(`${layer.name}.weight`) as tf.Tensor1D,
            this.variable(`${layer.name}.bias`) as tf.Tensor1D,
            layer.epsilon,
          );
          statistics.push({
            name: layer.name,
            mean: result.mean,
            variance: result.variance,
            count: n * h * w,
          });
          output = result.y;
          break;
        }
        case 'relu':
          output = tf.relu(input);
          break;
        case 'maxPool':
          output = tf.maxPool(input as tf.Tensor4D, layer.kernelSize, layer.stride, layer.padding);
          break;
        case 'add':
          output = tf.add(
            input,
            defined(values.get(node.inputs[1] ?? ''), () => `value of ${node.inputs[1]}`),
          );
          break;
        case 'globalAveragePool':
          output = tf.mean(input, [1, 2]);
          break;
        case 'dense': {
          output = tf.matMul(input as tf.Tensor2D, this.variable(`${layer.name}.weight`) as tf.Tensor2D);
          if (layer.bias) output = tf.add(output, this.variable(`${layer.name}.bias`));
          break;
        }
        case 'dropout':
          output =
            layer.rate > 0 ? tf.dropout(input, layer.rate, undefined, seed * 1000 + dropouts++) : input;
          break;
      }
      values.set(node.id, output);
    }
    return { logits: defined(values.get(this.spec.output), () => 'logits') as tf.Tensor2D, statistics };
  }

  private loss(logits: tf.Tensor2D, batch: TrainingBatch): tf.Scalar {
    const classes = logits.shape[1];
    if (batch.trades !== undefined && batch.labels.rank === 2) {
      throw new MedrobustError('unsupported', 'TRADES training of multi-label tasks', {
        hint: 'train multi-label models without --adversarial trades',
      });
    }
    if (batch.labels.rank === 2) {
      return tf.losses.sigmoidCrossEntropy(batch.labels, logits) as tf.Scalar;
    }
    const oneHot = tf.oneHot(batch.labels as tf.Tensor1D, classes);
    const perSample = tf.neg(tf.sum(tf.mul(oneHot, tf.logSoftmax(logits)), 1));
    if (batch.classWeights === undefined) return tf.mean(perSample);
    if (batch.classWeights.length !== classes) {
      throw new MedrobustError(
        'invalid-argument',
        `${batch.classWeights.length} class weights for ${classes} classes`,
        {
          hint: 'give one loss weight per class',
        },
      );
    }
    const weights = tf.sum(tf.mul(oneHot, tf.tensor1d([...batch.classWeights])), 1);
    return tf.div(tf.sum(tf.mul(perSample, weights)), tf.sum(weights));
  }

  private optimiserFor(settings: OptimiserSettings): tf.Optimizer {
    const key = optimiserKey(settings);
    if (this.optimiser === undefined || key !== this.optimiserKey) {
      this.optimiser?.dispose();
      this.optimiser =
        settings.kind === 'sgd'
          ? tf.train.momentum(settings.learningRate, settings.momentum ?? 0, settings.nesterov ?? false)
          : tf.train.adam(
              settings.learningRate,
              settings.beta1 ?? 0.9,
              settings.beta2 ?? 0.999,
              settings.epsilon ?? 1e-8,
            );
      this.optimiserKey = key;
    }
    // Adam's update reads its protected `learningRate` field every step; SGD and momentum multiply by
    // a scalar −lr cached when it was set, so they need `setLearningRate` (assigning the field alone
    // left a schedule's first rate in force).
    const rate = this.optimiser as unknown as {
      learningRate: number;
      setLearningRate?: (rate: number) => void;
    };
    if (rate.learningRate !== settings.learningRate) {
      if (typeof rate.setLearningRate === 'function') rate.setLearningRate(settings.learningRate);
      else rate.learningRate = settings.learningRate;
    }
    return this.optimiser;
  }

  step(batch: TrainingBatch, settings: OptimiserSettings): TrainStepResult {
    const optimiser = this.optimiserFor(settings);
    const seed = this.steps++;
    const trainable = [...this.variables.values()].filter((variable) => variable.trainable);
    const loss = tf.tidy(() => {
      let statistics: ReturnType<TfjsTrainer['forward']>['statistics'] = [];
      const { value, grads } = tf.variableGrads(() => {
        const result = this.forward(batch.x, seed);
        statistics = result.statistics;
        let loss = this.loss(result.logits, batch);
        if (batch.trades !== undefined) {
          const twin = this.forward(batch.trades.adversarial, seed);
          statistics = [...statistics, ...twin.statistics];
          loss = tf.add(loss, tf.mul(tradesDivergence(result.logits, twin.logits), batch.trades.beta));
        }
        for (const entry of statistics) {
          tf.keep(entry.mean);
          tf.keep(entry.variance);
        }
        return loss as tf.Scalar;
      }, trainable);
      const decay = settings.weightDecay ?? 0;
      const named = Object.fromEntries(
        trainable.map((variable) => {
          const gradient = defined(grads[variable.name], () => `gradient of ${variable.name}`);
          return [variable.name, decay > 0 ? tf.add(gradient, tf.mul(variable, decay)) : gradient];
        }),
      );
      optimiser.applyGradients(named);
      for (const { name, mean, variance, count } of statistics) {
        const momentum = this.momentumOf(name);
        const runningMean = this.variable(`${name}.running_mean`);
        const runningVariance = this.variable(`${name}.running_var`);
        runningMean.assign(tf.add(tf.mul(runningMean, 1 - momentum), tf.mul(mean, momentum)));
        runningVariance.assign(
          tf.add(
            tf.mul(runningVariance, 1 - momentum),
            tf.mul(variance, (momentum * count) / Math.max(count - 1, 1)),
          ),
        );
        const counter = this.variable(`${name}.num_batches_tracked`);
        counter.assign(tf.add(counter, 1));
        tf.dispose([mean, variance]);
      }
      return value.dataSync()[0] ?? Number.NaN;
    });
    return { loss };
  }

  private momentumOf(name: string): number {
    const node = this.spec.nodes.find(
      (candidate) => candidate.layer.kind === 'batchNorm' && candidate.layer.name === name,
    );
    return node?.layer.kind === 'batchNorm' ? node.layer.momentum : 0.1;
  }

  async exportState(): Promise<TrainingState | undefined> {
    if (this.optimiser === undefined) return undefined;
    const [iterations, ...slots] = await this.optimiser.getWeights();
    const powers = betaPowers(this.optimiser);
    return {
      steps: this.steps,
      optimiser: this.optimiserKey,
      iterations: (await iterations?.tensor.data())?.[0] ?? 0,
      ...(powers === undefined
        ? {}
        : { scalars: [powers.accBeta1.dataSync()[0] ?? 0, powers.accBeta2.dataSync()[0] ?? 0] }),
      slots: await Promise.all(
        slots.map(async ({ tensor }) => ({
          shape: [...tensor.shape],
          data: Float32Array.from(await tensor.data()),
        })),
      ),
    };
  }

  async importState(state: TrainingState, settings: OptimiserSettings): Promise<void> {
    if (state.optimiser !== optimiserKey(settings)) {
      throw new MedrobustError(
        'invalid-argument',
        'the checkpoint was trained with other optimiser settings',
        {
          hint: `resume with the settings it was written with (${state.optimiser}), or start a new run`,
        },
      );
    }
    const optimiser = this.optimiserFor(settings);
    const trainable = [...this.variables.values()].filter((variable) => variable.trainable);
    const perParameter = settings.kind === 'adam' ? 2 : 1;
    if (state.slots.length !== trainable.length * perParameter) {
      throw new MedrobustError(
        'invalid-argument',
        `the checkpoint has ${state.slots.length} optimiser slots for ${trainable.length} parameters`,
        {
          hint: 'resume with the architecture the checkpoint was written with',
        },
      );
    }
    const named = state.slots.map((slot, index) => ({
      name: `slot-${index}`,
      tensor: tf.tensor(slot.data, [...slot.shape]),
    }));
    await optimiser.setWeights([{ name: 'iter', tensor: tf.scalar(state.iterations, 'int32') }, ...named]);
    for (const { tensor } of named) tensor.dispose();
    // tfjs recomputes Adam's β₁ᵗ, β₂ᵗ with pow(); steps build them by multiplication, one rounding
    // apart: restore the values the run had, so a resumed run is bit-identical.
    const powers = betaPowers(optimiser);
    const [beta1Power, beta2Power] = state.scalars ?? [];
    if (powers !== undefined && beta1Power !== undefined && beta2Power !== undefined) {
      powers.accBeta1.assign(tf.scalar(beta1Power));
      powers.accBeta2.assign(tf.scalar(beta2Power));
    }
    this.steps = state.steps;
  }

  /** Current weights in PyTorch names and layouts. */
  exportWeights(): WeightMap {
    const weights = new Map<string, HostTensor>();
    for (const [name, parameter] of parameterSpecs(this.spec)) {
      const data = this.variable(name).dataSync() as Float32Array;
      const shape = parameter.shape;
      let converted: Float32Array = Float32Array.from(data);
      if (shape.length === 4) {
        const [out, input, kernel] = shape as [number, number, number, number];
        converted = filterFromTfjs(data, out, input, kernel);
      } else if (shape.length === 2 && name.endsWith('.weight')) {
        const [out, input] = shape as [number, number];
        converted = denseFromTfjs(data, out, input);
      }
      weights.set(name, { shape: [...shape], data: converted });
    }
    return weights;
  }

  dispose(): void {
    this.optimiser?.dispose();
    for (const variable of this.variables.values()) variable.dispose();
    this.variables.clear();
  }
}
