/**
 * The in-memory form every dataset reader produces: images as NHWC float32 in [0, 1] (the input
 * range of every medrobust model; scaling to the network's own range happens inside the model),
 * integer labels, class names and the task kind. Optional per-image lesion masks (synthetic phantoms,
 * user mask folders) and source names (files) travel with the images.
 */
export type Task = 'binary' | 'multi-class' | 'multi-label' | 'ordinal';

export interface ImageSet {
  /** NHWC float32 in [0, 1]. */
  readonly images: Float32Array;
  /** [count, height, width, channels]. */
  readonly shape: readonly [number, number, number, number];
  /** [count × labelsPerImage] integers: class indices, or 0/1 per label for multi-label tasks. */
  readonly labels: Int32Array;
  readonly labelsPerImage: number;
  readonly classNames: readonly string[];
  readonly task: Task;
  /** [count × height × width], 1 inside the lesion, when known. */
  readonly masks?: Uint8Array;
  /** Where each image came from (file name, or "name:index"), when known. */
  readonly sources?: readonly string[];
}
