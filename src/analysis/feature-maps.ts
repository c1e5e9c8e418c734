/**
 * Deep feature maps (Ma et al. 2021 §4, Fig. 7: adversarial perturbations of medical images grow
 * into large changes of intermediate features). For a tapped block's output A ([n, h, w, c]):
 * - the channel-mean map mean_c A[:, :, :, c], what the paper draws, clean against adversarial;
 * - the relative change ‖A(x′) − A(x)‖₂ / ‖A(x)‖₂ per image, compared across blocks with the
 *   input's own relative change ‖x′ − x‖₂ / ‖x‖₂ (an amplification factor when divided).
 *
 * Input contract: NHWC float32 images within the model's bounds, clean and adversarial index-aligned.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MedrobustError } from '../core/errors.ts';
import type { Classifier } from '../engine/contracts.ts';
import type { SaliencyMaps } from './saliency.ts';

export interface FeatureComparison {
  /** Per tap: the channel-mean maps of the clean and adversarial images ([n, h, w] each). */
  readonly maps: ReadonlyMap<string, { readonly clean: SaliencyMaps; readonly adversarial: SaliencyMaps }>;
  /** Per tap: ‖A(x′) − A(x)‖ / ‖A(x)‖ per image. */
  readonly relativeChange: ReadonlyMap<string, Float32Array>;
  /** ‖x′ − x‖ / ‖x‖ per image. */
  readonly inputChange: Float32Array;
}

function relative(clean: tf.Tensor, adversarial: tf.Tensor): Float32Array {
  return tf.tidy(() => {
    const axes = clean.shape.slice(1).map((_, index) => index + 1);
    const difference = tf.sqrt(tf.sum(tf.square(tf.sub(adversarial, clean)), axes));
    const norm = tf.sqrt(tf.sum(tf.square(clean), axes));
    return tf.div(difference, tf.maximum(norm, 1e-12)).dataSync() as Float32Array;
  });
}

function channelMean(activation: tf.Tensor): SaliencyMaps {
  if (activation.rank !== 4) {
    throw new MedrobustError(
      'invalid-argument',
      `feature maps need a spatial tap [n, h, w, c], got rank ${activation.rank}`,
      {
        hint: 'choose a convolutional block: stem, layer1…layer4 (ResNet) or block1… (small CNN)',
      },
    );
  }
  const [count = 0, height = 0, width = 0] = activation.shape;
  const values = tf.tidy(() => tf.mean(activation, 3).dataSync() as Float32Array);
  return { values: Float32Array.from(values), count, height, width };
}

export function compareFeatures(
  model: Classifier,
  clean: tf.Tensor4D,
  adversarial: tf.Tensor4D,
  taps: readonly string[],
): FeatureComparison {
  for (const tap of taps) {
    if (!model.info.layers.includes(tap)) {
      throw new MedrobustError('not-found', `the model ${model.info.name} has no tap '${tap}'`, {
        hint: `choose from: ${model.info.layers.join(', ')}`,
      });
    }
  }
  const cleanOutputs = model.predict(clean, taps);
  const adversarialOutputs = model.predict(adversarial, taps);
  try {
    const maps = new Map<string, { clean: SaliencyMaps; adversarial: SaliencyMaps }>();
    const relativeChange = new Map<string, Float32Array>();
    for (const tap of taps) {
      const a = cleanOutputs.taps.get(tap) as tf.Tensor;
      const b = adversarialOutputs.taps.get(tap) as tf.Tensor;
      if (a.rank === 4) maps.set(tap, { clean: channelMean(a), adversarial: channelMean(b) });
      relativeChange.set(tap, Float32Array.from(relative(a, b)));
    }
    return { maps, relativeChange, inputChange: Float32Array.from(relative(clean, adversarial)) };
  } finally {
    tf.dispose([
      cleanOutputs.logits,
      adversarialOutputs.logits,
      ...cleanOutputs.taps.values(),
      ...adversarialOutputs.taps.values(),
    ]);
  }
}
