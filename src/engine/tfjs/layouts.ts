/**
 * Conversions between PyTorch layouts (OIHW filters, [out, in] dense matrices), used in weight files
 * and by the native engine, and tfjs layouts (HWIO filters, [in, out] dense matrices).
 */
import * as tf from '@tensorflow/tfjs-core';

/** OIHW → HWIO, as a host array. */
export function filterArrayToTfjs(
  filter: Float32Array,
  out: number,
  input: number,
  kernel: number,
): Float32Array {
  const converted = new Float32Array(filter.length);
  for (let o = 0; o < out; o++) {
    for (let i = 0; i < input; i++) {
      for (let h = 0; h < kernel; h++) {
        for (let w = 0; w < kernel; w++) {
          converted[((h * kernel + w) * input + i) * out + o] =
            filter[((o * input + i) * kernel + h) * kernel + w] ?? 0;
        }
      }
    }
  }
  return converted;
}

export function filterToTfjs(filter: Float32Array, out: number, input: number, kernel: number): tf.Tensor4D {
  return tf.tensor4d(filterArrayToTfjs(filter, out, input, kernel), [kernel, kernel, input, out]);
}

/** HWIO → OIHW. */
export function filterFromTfjs(
  filter: Float32Array,
  out: number,
  input: number,
  kernel: number,
): Float32Array {
  const converted = new Float32Array(filter.length);
  for (let o = 0; o < out; o++) {
    for (let i = 0; i < input; i++) {
      for (let h = 0; h < kernel; h++) {
        for (let w = 0; w < kernel; w++) {
          converted[((o * input + i) * kernel + h) * kernel + w] =
            filter[((h * kernel + w) * input + i) * out + o] ?? 0;
        }
      }
    }
  }
  return converted;
}

/** [out, in] → [in, out], as a host array. */
export function denseArrayToTfjs(matrix: Float32Array, out: number, input: number): Float32Array {
  const converted = new Float32Array(matrix.length);
  for (let o = 0; o < out; o++) {
    for (let i = 0; i < input; i++) converted[i * out + o] = matrix[o * input + i] ?? 0;
  }
  return converted;
}

export function denseToTfjs(matrix: Float32Array, out: number, input: number): tf.Tensor2D {
  return tf.tensor2d(denseArrayToTfjs(matrix, out, input), [input, out]);
}

/** [in, out] → [out, in]. */
export function denseFromTfjs(matrix: Float32Array, out: number, input: number): Float32Array {
  const converted = new Float32Array(matrix.length);
  for (let o = 0; o < out; o++) {
    for (let i = 0; i < input; i++) converted[o * input + i] = matrix[i * out + o] ?? 0;
  }
  return converted;
}
