/**
 * Per-sample cotangent scaling: protection against float32 underflow in backward passes.
 *
 * When a model is confident, the gradient of the loss with respect to its logits is tiny
 * (softmax − one-hot ≈ e^(−margin)); propagated back through the network it becomes denormal, which
 * WebAssembly has no flush-to-zero for (convolutions slow down ~1.7× on this machine), or underflows
 * to zero, which silently hides the gradient from an attack (a form of gradient masking). The
 * backward pass of an inference-mode network is linear in the output cotangent, so each sample's
 * cotangent can be multiplied by 2^k before it enters the network and the input gradient divided by
 * 2^k afterwards: the result is the same gradient, computed in the normal float range. k is chosen so
 * the sample's largest logit cotangent becomes about 1, only when it is below 2^−40, and at most 64.
 * The taps' cotangents get the same per-sample factor (it is one linear map).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Outputs } from './contracts.ts';

const threshold = 2 ** -40;
const maximumExponent = 64;

/** 2^k per sample for a [batch, ...] cotangent (1 where the cotangent is not tiny). */
export function cotangentScale(cotangent: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => {
    const flat = tf.reshape(cotangent, [cotangent.shape[0] ?? 0, -1]);
    const largest = tf.max(tf.abs(flat), 1);
    const exponent = tf.clipByValue(tf.neg(tf.floor(tf.div(tf.log(largest), Math.LN2))), 0, maximumExponent);
    const scaled = tf.pow(
      tf.scalar(2),
      tf.where(tf.less(largest, threshold), exponent, tf.zerosLike(exponent)),
    );
    return scaled as tf.Tensor1D;
  });
}

function perSample(scale: tf.Tensor1D, like: tf.Tensor): tf.Tensor {
  return tf.reshape(scale, [scale.shape[0], ...like.shape.slice(1).map(() => 1)]);
}

export function scaleCotangent(cotangent: tf.Tensor, scale: tf.Tensor1D): tf.Tensor {
  return tf.mul(cotangent, perSample(scale, cotangent));
}

export function unscaleGradient(gradient: tf.Tensor4D, scale: tf.Tensor1D): tf.Tensor4D {
  return tf.div(gradient, perSample(scale, gradient)) as tf.Tensor4D;
}

/**
 * Wraps outputs so that, inside a tfjs gradient computation, their cotangents are scaled per sample;
 * `scale()` then returns the factors used (kept; the caller disposes them), or undefined when no
 * output received a cotangent.
 */
export function createCotangentScaler() {
  let scale: tf.Tensor1D | undefined;
  // tfjs types customGrad's arguments as a union of tensors and the save function.
  const wrap = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const value = args[0] as tf.Tensor;
    return {
      value: tf.clone(value),
      gradFunc: (dy: tf.Tensor | tf.Tensor[]) => {
        const cotangent = dy as tf.Tensor;
        if (scale === undefined) scale = tf.keep(cotangentScale(cotangent));
        return scaleCotangent(cotangent, scale);
      },
    };
  });
  return {
    wrap(outputs: Outputs): Outputs {
      // The logits come first so their cotangent (reached first in the backward pass) sets the scale.
      return {
        logits: wrap(outputs.logits) as tf.Tensor2D,
        taps: new Map([...outputs.taps].map(([name, tap]) => [name, wrap(tap)])),
      };
    },
    scale: () => scale,
  };
}
