/**
 * Turns a Network into the Classifier every attack, detector and analysis uses (DESIGN.md §2).
 * It checks inputs at the boundary and owns the gradient plumbing:
 * - a network built from tfjs ops is differentiated by one `tf.valueAndGrad` over objective∘forward;
 * - a network that runs elsewhere returns its outputs, the objective's gradient with respect to those
 *   outputs is taken in tfjs (cheap), and the cotangents go back to the engine's own backward pass.
 * Both paths give the gradient of Σ_batch objective, i.e. each sample's own gradient, because samples
 * do not interact in inference mode, and both scale tiny cotangents per sample against underflow and
 * denormal slow paths (cotangent-scaling.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { assert, defined } from '../core/assert.ts';
import type { Bounds } from '../core/bounds.ts';
import { MedrobustError } from '../core/errors.ts';
import type { Classifier, ModelInfo, Network, Objective, Outputs } from './contracts.ts';
import {
  cotangentScale,
  createCotangentScaler,
  scaleCotangent,
  unscaleGradient,
} from './cotangent-scaling.ts';
import { denseHead, dropoutHeadLayout, poolingHeadLayout } from './dense-head.ts';

export interface ClassifierDescription {
  readonly name: string;
  readonly classNames: readonly string[];
  readonly bounds: Bounds;
}

function checkInput(info: ModelInfo, x: tf.Tensor4D): void {
  const [height, width, channels] = info.inputShape;
  if (x.rank !== 4 || x.shape[1] !== height || x.shape[2] !== width || x.shape[3] !== channels) {
    throw new MedrobustError(
      'invalid-argument',
      `${info.name} expects images of shape [batch, ${height}, ${width}, ${channels}], got [${x.shape.join(', ')}]`,
      {
        hint: 'resize or convert the images (grey ↔ RGB) to the model input shape shown by `medrobust model info`',
      },
    );
  }
  if (x.dtype !== 'float32') {
    throw new MedrobustError('invalid-argument', `${info.name} expects float32 images, got ${x.dtype}`, {
      hint: `scale images to [${info.bounds.lower}, ${info.bounds.upper}] as float32`,
    });
  }
}

function checkObjectiveValue(value: tf.Tensor, batch: number): void {
  if (value.rank !== 1 || value.shape[0] !== batch) {
    throw new MedrobustError(
      'invalid-argument',
      `an objective must return one value per sample, shape [${batch}], got [${value.shape.join(', ')}]`,
      { hint: 'reduce over every axis but the batch axis, e.g. tf.sum(x, 1) on [batch, classes]' },
    );
  }
}

export function createClassifier(network: Network, description: ClassifierDescription): Classifier {
  const info: ModelInfo = Object.freeze({
    name: description.name,
    inputShape: network.spec.inputShape,
    classNames: Object.freeze([...description.classNames]),
    bounds: Object.freeze({ ...description.bounds }),
    layers: Object.freeze(Object.keys(network.spec.taps)),
  });

  const predict = (x: tf.Tensor4D, taps: readonly string[] = []): Outputs => {
    checkInput(info, x);
    const kept = tf.tidy(() => {
      const outputs = network.forward(x, taps, 'predict');
      return { logits: outputs.logits, taps: [...outputs.taps.values()] };
    });
    return {
      logits: kept.logits,
      taps: new Map(taps.map((tap, index) => [tap, defined(kept.taps[index], () => tap)])),
    };
  };

  const valueAndGradInTfjs = (
    x: tf.Tensor4D,
    objective: Objective,
    taps: readonly string[],
    purpose: 'gradient' | 'guided' = 'gradient',
  ) =>
    tf.tidy(() => {
      const scaler = createCotangentScaler();
      const { value, grad } = tf.valueAndGrad((input: tf.Tensor4D) => {
        const value = objective(scaler.wrap(network.forward(input, taps, purpose)));
        checkObjectiveValue(value, x.shape[0]);
        return value;
      })(x);
      const scale = scaler.scale();
      const unscaled = scale === undefined ? grad : unscaleGradient(grad as tf.Tensor4D, scale);
      scale?.dispose();
      return { value: value as tf.Tensor1D, grad: unscaled as tf.Tensor4D };
    });

  const valueAndGradByPullback = (x: tf.Tensor4D, objective: Objective, taps: readonly string[]) => {
    const pass = network.forwardWithPullback(x, taps);
    try {
      return tf.tidy(() => {
        const primals = [
          pass.outputs.logits,
          ...taps.map((tap) => defined(pass.outputs.taps.get(tap), () => tap)),
        ];
        // allowNoGradients: an objective may ignore some taps; their cotangent is then zero.
        const { value, grads } = tf.engine().gradients(
          () => {
            const value = objective({
              logits: primals[0] as tf.Tensor2D,
              taps: new Map(taps.map((tap, index) => [tap, defined(primals[index + 1], () => tap)])),
            });
            checkObjectiveValue(value, x.shape[0]);
            return value;
          },
          primals,
          undefined,
          true,
        );
        const scale = cotangentScale(grads[0] ?? grads.find((g) => g !== undefined && g !== null) ?? value);
        const cotangent = (index: number) => {
          const primal = defined(primals[index], () => `cotangent ${index}`);
          const gradient = grads[index];
          return gradient === undefined || gradient === null
            ? tf.zerosLike(primal)
            : scaleCotangent(gradient, scale);
        };
        const grad = pass.pullback({
          logits: cotangent(0) as tf.Tensor2D,
          taps: new Map(taps.map((tap, index) => [tap, cotangent(index + 1)])),
        });
        return { value: value as tf.Tensor1D, grad: unscaleGradient(grad, scale) };
      });
    } finally {
      pass.release();
      tf.dispose([pass.outputs.logits, ...pass.outputs.taps.values()]);
    }
  };

  // Weights are exported only when asked for (the native engine copies them out of libtorch).
  const dropoutLayout = dropoutHeadLayout(network.spec);
  const poolingLayout = poolingHeadLayout(network.spec);
  return Object.freeze({
    info,
    predict,
    ...(network.differentiable
      ? {
          guidedGradient: (x: tf.Tensor4D, objective: Objective) => {
            checkInput(info, x);
            const { value, grad } = valueAndGradInTfjs(x, objective, [], 'guided');
            value.dispose();
            return grad;
          },
        }
      : {}),
    dropoutHead: () =>
      dropoutLayout === undefined
        ? undefined
        : denseHead(network.spec, network.exportWeights(), dropoutLayout),
    poolingHead: () =>
      poolingLayout === undefined
        ? undefined
        : denseHead(network.spec, network.exportWeights(), poolingLayout),
    valueAndGrad(x: tf.Tensor4D, objective: Objective, taps: readonly string[] = []) {
      checkInput(info, x);
      const result = network.differentiable
        ? valueAndGradInTfjs(x, objective, taps)
        : valueAndGradByPullback(x, objective, taps);
      assert(
        result.grad.shape.every((size, axis) => size === x.shape[axis]),
        () => `valueAndGrad: gradient shape [${result.grad.shape}] differs from input [${x.shape}]`,
      );
      return result;
    },
  });
}

/**
 * Exposes the pullback path of a tfjs network, so tests (and engine authors) can check that the
 * cotangent route gives the same gradient as tfjs' own differentiation.
 */
export function withPullbackGradients(network: Network): Network {
  return {
    spec: network.spec,
    differentiable: false,
    forward: (x, taps, purpose) => network.forward(x, taps, purpose),
    forwardWithPullback: (x, taps) => network.forwardWithPullback(x, taps),
    trainStep: (batch, optimiser) => network.trainStep(batch, optimiser),
    exportTrainingState: () => network.exportTrainingState(),
    importTrainingState: (state, optimiser) => network.importTrainingState(state, optimiser),
    exportWeights: () => network.exportWeights(),
    dispose: () => network.dispose(),
  };
}
