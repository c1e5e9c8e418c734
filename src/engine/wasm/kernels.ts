/**
 * medrobust's kernel pack for tfjs-backend-wasm 4.22 (DESIGN.md §3). Stock wasm has no
 * `Conv2DBackpropFilter` (so it cannot train a convolutional network), a scalar-loop
 * `Conv2DBackpropInput` about 10× slower than its forward convolution, an `Identity` that copies
 * (defeating XNNPACK's weight-packing cache, which is keyed by buffer), and a batch-norm gradient
 * that tiles full-size tensors. Every kernel here is a composition of the backend's own
 * XNNPACK-backed kernels, called at the kernel level (no tfjs ops, no hand-written inner loops);
 * intermediates are released with `disposeData`.
 *
 * - dW (`Conv2DBackpropFilter`): one convolution of xᵀ (channels as batch, batch as channels) with
 *   dyᵀ as the filter, the forward stride becoming the dilation and the dilation the stride.
 * - dX (`Conv2DBackpropInput`), stride 1: a convolution of dy with the spatially flipped,
 *   in/out-transposed filter. Stride s: the polyphase form. Output row J = q·s + r of the
 *   (padded) input gathers Σₜ dy[q − t]·W[t·s + r], a stride-1 correlation of dy with the flipped
 *   sub-filter W_r; the s² sub-filters are stacked on the output channels of one stride-1
 *   convolution, DepthToSpace interleaves the phases, and a slice removes the forward padding.
 *   The transformed filter is cached per source buffer and geometry (an attack differentiates
 *   through the same weights thousands of times; XNNPACK then also reuses its packed weights) and
 *   freed once the source buffer is. The spatial flip is a product with an anti-identity matrix
 *   over the flattened kh·kw axis (exact: one 1 per row), because wasm's Reverse and Gather are
 *   scalar loops about ten times slower than XNNPACK's matrix product on filter-sized tensors.
 * - `Identity`: shares the input buffer (reference counted), as the cpu and webgl backends do.
 * - `FusedBatchNorm` gradient: lazy, broadcasting terms (registered globally; it is exact on any
 *   backend).
 *
 * `useWasmKernels('stock')` restores tfjs' own registrations, so benchmarks compare both in one run.
 */

import type { GradConfig, KernelConfig, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { assert } from '../../core/assert.ts';

/** The parts of the wasm backend the kernels use (typed here; tfjs does not export its class to Node). */
interface WasmBackend {
  disposeData(dataId: object, force?: boolean): boolean;
  incRef(dataId: object): void;
  makeOutput(shape: number[], dtype: 'float32', memoryOffset?: number, values?: Float32Array): TensorInfo;
  readonly dataIdMap: { has(dataId: object): boolean };
}

type Inputs = Record<string, TensorInfo>;

function call(name: string, inputs: Inputs, attrs: object, backend: WasmBackend): TensorInfo {
  const kernel = stockKernels.get(name) ?? tf.getKernel(name, 'wasm');
  assert(kernel !== undefined, () => `wasm kernels: the backend has no ${name} kernel`);
  return kernel.kernelFunc({ inputs, attrs: attrs as NamedAttrMap, backend: backend as never }) as TensorInfo;
}

function release(backend: WasmBackend, ...infos: TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}

type Pair = [number, number];

interface ConvGeometry {
  batch: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  outChannels: number;
  filterHeight: number;
  filterWidth: number;
  strides: Pair;
  dilations: Pair;
  padTop: number;
  padLeft: number;
}

function geometry(
  inputShape: readonly number[],
  filterShape: readonly number[],
  attrs: NamedAttrMap,
): ConvGeometry {
  const info = tf.backend_util.computeConv2DInfo(
    inputShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides as number | Pair,
    (attrs.dilations as number | Pair | undefined) ?? 1,
    attrs.pad as 'valid',
    attrs.dimRoundingMode as 'floor' | undefined,
    false,
    'channelsLast',
  );
  return {
    batch: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    inChannels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    outChannels: info.outChannels,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strides: [info.strideHeight, info.strideWidth],
    dilations: [info.dilationHeight, info.dilationWidth],
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

/**
 * Pads (positive) or crops (negative) the spatial axes of an NHWC tensor so a following
 * convolution can take non-negative explicit padding. Returns the input itself when nothing changes.
 */
function cropForPadding(
  x: TensorInfo,
  top: number,
  bottom: number,
  left: number,
  right: number,
  backend: WasmBackend,
) {
  const cropTop = Math.max(0, -top);
  const cropBottom = Math.max(0, -bottom);
  const cropLeft = Math.max(0, -left);
  const cropRight = Math.max(0, -right);
  const padding: [Pair, Pair, Pair, Pair] = [
    [0, 0],
    [Math.max(0, top), Math.max(0, bottom)],
    [Math.max(0, left), Math.max(0, right)],
    [0, 0],
  ];
  if (cropTop + cropBottom + cropLeft + cropRight === 0) return { input: x, padding, owned: false };
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const input = call(
    'Slice',
    { x },
    { begin: [0, cropTop, cropLeft, 0], size: [n, h - cropTop - cropBottom, w - cropLeft - cropRight, c] },
    backend,
  );
  return { input, padding, owned: true };
}

function conv2dBackpropFilter(args: { inputs: Inputs; backend: unknown; attrs: NamedAttrMap }): TensorInfo {
  const backend = args.backend as WasmBackend;
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const filterShape = args.attrs.filterShape as [number, number, number, number];
  const g = geometry(x.shape, filterShape, args.attrs);
  const [strideH, strideW] = g.strides;
  const [dilationH, dilationW] = g.dilations;
  // dW[a, b, ci, co] = Σ_{n,i,j} x[n, i·s − p + a·d, j·s − p + b·d, ci] · dy[n, i, j, co]:
  // a convolution over x with batch ↔ channels swapped and dy as the filter (stride d, dilation s).
  const xT = call('Transpose', { x }, { perm: [3, 1, 2, 0] }, backend); // [ci, h, w, n]
  const dyT = call('Transpose', { x: dy }, { perm: [1, 2, 0, 3] }, backend); // [ho, wo, n, co]
  const bottom = (g.filterHeight - 1) * dilationH + (g.outHeight - 1) * strideH + 1 - g.inHeight - g.padTop;
  const right = (g.filterWidth - 1) * dilationW + (g.outWidth - 1) * strideW + 1 - g.inWidth - g.padLeft;
  const { input, padding, owned } = cropForPadding(xT, g.padTop, bottom, g.padLeft, right, backend);
  const product = call(
    'Conv2D',
    { x: input, filter: dyT },
    { strides: [dilationH, dilationW], pad: padding, dataFormat: 'NHWC', dilations: [strideH, strideW] },
    backend,
  ); // [ci, kh, kw, co]
  const out = call('Transpose', { x: product }, { perm: [1, 2, 0, 3] }, backend);
  release(backend, xT, dyT, product);
  if (owned) release(backend, input);
  return out;
}

/**
 * Reverses the rows of a [rows, columns] tensor with one XNNPACK matrix product by the
 * anti-identity J (J[i][rows − 1 − i] = 1); exact for finite values.
 */
function reverseRows(x: TensorInfo, backend: WasmBackend): TensorInfo {
  const [rows, columns] = x.shape as [number, number];
  const values = new Float32Array(rows * rows);
  for (let i = 0; i < rows; i++) values[i * rows + rows - 1 - i] = 1;
  const permutation = backend.makeOutput([1, rows, rows], 'float32', undefined, values);
  const matrix = call('Reshape', { x }, { shape: [1, rows, columns] }, backend);
  const product = call(
    'BatchMatMul',
    { a: permutation, b: matrix },
    { transposeA: false, transposeB: false },
    backend,
  );
  const out = call('Reshape', { x: product }, { shape: [rows, columns] }, backend);
  release(backend, permutation, matrix, product);
  return out;
}

/** Transformed filters by source buffer and geometry; entries die with their source buffer. */
const transformedFilters = new Map<object, Map<string, TensorInfo>>();

function releaseTransformedFilters(backend: WasmBackend, all: boolean): void {
  for (const [source, entries] of transformedFilters) {
    if (!all && backend.dataIdMap.has(source)) continue;
    for (const info of entries.values()) backend.disposeData(info.dataId);
    transformedFilters.delete(source);
  }
}

function cachedFilter(
  filter: TensorInfo,
  key: string,
  backend: WasmBackend,
  make: () => TensorInfo,
): TensorInfo {
  releaseTransformedFilters(backend, false);
  let entries = transformedFilters.get(filter.dataId);
  if (entries === undefined) {
    entries = new Map();
    transformedFilters.set(filter.dataId, entries);
  }
  let info = entries.get(key);
  if (info === undefined) {
    info = make();
    entries.set(key, info);
  }
  return info;
}

/** [kh, kw, ci, co] → [kh, kw, co, ci], flipped in both spatial axes. */
function flippedTransposedFilter(filter: TensorInfo, backend: WasmBackend): TensorInfo {
  const [kh, kw, ci, co] = filter.shape as [number, number, number, number];
  const transposed = call('Transpose', { x: filter }, { perm: [0, 1, 3, 2] }, backend);
  const rows = call('Reshape', { x: transposed }, { shape: [kh * kw, co * ci] }, backend);
  const flipped = reverseRows(rows, backend);
  const out = call('Reshape', { x: flipped }, { shape: [kh, kw, co, ci] }, backend);
  release(backend, transposed, rows, flipped);
  return out;
}

/** Sub-filters F[u, v, co, (rh, rw, ci)] = W[(T−1−u)·s + rh, (T−1−v)·s + rw, ci, co], zero past the kernel. */
function polyphaseFilter(filter: TensorInfo, stride: number, backend: WasmBackend): TensorInfo {
  const [kh, kw, ci, co] = filter.shape as [number, number, number, number];
  const tapsH = Math.ceil(kh / stride);
  const tapsW = Math.ceil(kw / stride);
  const padded = call(
    'PadV2',
    { x: filter },
    {
      paddings: [
        [0, tapsH * stride - kh],
        [0, tapsW * stride - kw],
        [0, 0],
        [0, 0],
      ],
      constantValue: 0,
    },
    backend,
  );
  // [T, s, T, s, ci, co] → [T, T, co, s, s, ci] as three low-rank transposes (wasm's generic N-d
  // transpose is about ten times slower): swap ci/co, then move s_h past T_w, then (s_h s_w) past co.
  const pairs = call('Reshape', { x: padded }, { shape: [tapsH * stride * tapsW * stride, ci, co] }, backend);
  const swapped = call('Transpose', { x: pairs }, { perm: [0, 2, 1] }, backend); // [.., co, ci]
  const first = call('Reshape', { x: swapped }, { shape: [tapsH, stride, tapsW, stride * co * ci] }, backend);
  const moved = call('Transpose', { x: first }, { perm: [0, 2, 1, 3] }, backend); // [T, T, s, s·co·ci]
  const second = call('Reshape', { x: moved }, { shape: [tapsH * tapsW, stride * stride, co, ci] }, backend);
  const arranged = call('Transpose', { x: second }, { perm: [0, 2, 1, 3] }, backend); // [T·T, co, s·s, ci]
  const rows = call(
    'Reshape',
    { x: arranged },
    { shape: [tapsH * tapsW, co * stride * stride * ci] },
    backend,
  );
  const flipped = reverseRows(rows, backend);
  const out = call('Reshape', { x: flipped }, { shape: [tapsH, tapsW, co, stride * stride * ci] }, backend);
  release(backend, padded, pairs, swapped, first, moved, second, arranged, rows, flipped);
  return out;
}

function conv2dBackpropInput(args: { inputs: Inputs; backend: unknown; attrs: NamedAttrMap }): TensorInfo {
  const backend = args.backend as WasmBackend;
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const inputShape = args.attrs.inputShape as [number, number, number, number];
  const g = geometry(inputShape, filter.shape, args.attrs);
  const [strideH, strideW] = g.strides;
  const [dilationH, dilationW] = g.dilations;
  if (strideH === 1 && strideW === 1) {
    const transformed = cachedFilter(filter, 'flip', backend, () => flippedTransposedFilter(filter, backend));
    const spanH = (g.filterHeight - 1) * dilationH;
    const spanW = (g.filterWidth - 1) * dilationW;
    const top = spanH - g.padTop;
    const left = spanW - g.padLeft;
    const { input, padding, owned } = cropForPadding(
      dy,
      top,
      g.inHeight + spanH - g.outHeight - top,
      left,
      g.inWidth + spanW - g.outWidth - left,
      backend,
    );
    const out = call(
      'Conv2D',
      { x: input, filter: transformed },
      { strides: [1, 1], pad: padding, dataFormat: 'NHWC', dilations: [dilationH, dilationW] },
      backend,
    );
    if (owned) release(backend, input);
    return out;
  }
  assert(
    strideH === strideW && dilationH === 1 && dilationW === 1,
    () => 'wasm kernels: polyphase Conv2DBackpropInput needs equal strides and no dilation',
  );
  const stride = strideH;
  const subFilters = cachedFilter(filter, `polyphase-${stride}`, backend, () =>
    polyphaseFilter(filter, stride, backend),
  );
  const tapsH = Math.ceil(g.filterHeight / stride);
  const tapsW = Math.ceil(g.filterWidth / stride);
  const rows = Math.ceil((g.padTop + g.inHeight) / stride);
  const columns = Math.ceil((g.padLeft + g.inWidth) / stride);
  const { input, padding, owned } = cropForPadding(
    dy,
    tapsH - 1,
    rows - g.outHeight,
    tapsW - 1,
    columns - g.outWidth,
    backend,
  );
  const stacked = call(
    'Conv2D',
    { x: input, filter: subFilters },
    { strides: [1, 1], pad: padding, dataFormat: 'NHWC', dilations: [1, 1] },
    backend,
  ); // [n, rows, columns, s²·ci]
  const interleaved = call(
    'DepthToSpace',
    { x: stacked },
    { blockSize: stride, dataFormat: 'NHWC' },
    backend,
  );
  const out = call(
    'Slice',
    { x: interleaved },
    { begin: [0, g.padTop, g.padLeft, 0], size: [g.batch, g.inHeight, g.inWidth, g.inChannels] },
    backend,
  );
  release(backend, stacked, interleaved);
  if (owned) release(backend, input);
  return out;
}

function identity(args: { inputs: Inputs; backend: unknown }): TensorInfo {
  const backend = args.backend as WasmBackend;
  const x = args.inputs.x as TensorInfo;
  if (x.dtype === 'string') return call('Identity', { x }, {}, backend);
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/** y = (x − μ)·γ/√(σ² + ε) + β, differentiated term by term with broadcasting (no tiling), lazily. */
const batchNormGradient: GradConfig = {
  kernelName: 'FusedBatchNorm',
  inputsToSave: ['x', 'mean', 'variance', 'scale'],
  gradFunc: (dy, saved, attrs) => {
    const gradient = dy as tf.Tensor;
    const [x, mean, variance, scale] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined];
    const epsilon = (attrs as { varianceEpsilon: number }).varianceEpsilon;
    const axes = tf.backend_util.getReductionAxes(mean.shape, x.shape);
    const reduce = (value: tf.Tensor) =>
      tf.reshape(axes.length > 0 ? tf.sum(value, axes) : value, mean.shape);
    const inverseStd = () => tf.rsqrt(tf.add(variance, epsilon));
    const scaled = () => (scale === undefined ? gradient : tf.mul(gradient, scale));
    return {
      x: () => tf.mul(scaled(), inverseStd()),
      mean: () => tf.neg(reduce(tf.mul(scaled(), inverseStd()))),
      variance: () =>
        reduce(tf.mul(tf.mul(scaled(), tf.sub(x, mean)), tf.mul(-0.5, tf.pow(inverseStd(), 3)))),
      scale: () => reduce(tf.mul(gradient, tf.mul(tf.sub(x, mean), inverseStd()))),
      offset: () => reduce(gradient),
    };
  },
};

export type WasmKernels = 'ours' | 'stock';

const ourKernels: KernelConfig[] = [
  { kernelName: 'Conv2DBackpropFilter', backendName: 'wasm', kernelFunc: conv2dBackpropFilter as never },
  { kernelName: 'Conv2DBackpropInput', backendName: 'wasm', kernelFunc: conv2dBackpropInput as never },
  { kernelName: 'Identity', backendName: 'wasm', kernelFunc: identity as never },
];

/** tfjs' own registrations, kept to restore `stock` mode and to call from ours. */
const stockKernels = new Map<string, KernelConfig>();
let stockBatchNormGradient: GradConfig | undefined;
let active: WasmKernels = 'stock';

/** Which kernels the wasm backend runs now. */
export function activeWasmKernels(): WasmKernels {
  return active;
}

/** Registers our kernels (`ours`, the default) or restores tfjs' own (`stock`) for the wasm backend. */
export function useWasmKernels(kernels: WasmKernels): void {
  if (kernels === active) return;
  if (stockKernels.size === 0) {
    for (const { kernelName } of ourKernels) {
      const stock = tf.getKernel(kernelName, 'wasm');
      if (stock !== undefined) stockKernels.set(kernelName, stock);
    }
    stockBatchNormGradient = tf.getGradient('FusedBatchNorm');
  }
  for (const config of ourKernels) {
    if (tf.getKernel(config.kernelName, 'wasm') !== undefined) tf.unregisterKernel(config.kernelName, 'wasm');
    const replacement = kernels === 'ours' ? config : stockKernels.get(config.kernelName);
    if (replacement !== undefined) tf.registerKernel(replacement);
  }
  if (kernels === 'stock') {
    const backend = tf.findBackend('wasm') as unknown as WasmBackend | null;
    if (backend !== null) releaseTransformedFilters(backend, true);
  }
  const gradient = kernels === 'ours' ? batchNormGradient : stockBatchNormGradient;
  if (gradient !== undefined) {
    tf.unregisterGradient('FusedBatchNorm');
    tf.registerGradient(gradient);
  }
  active = kernels;
}
