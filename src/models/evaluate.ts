/**
 * Evaluates a classifier on an image set in batches: softmax (or, for multi-label tasks, sigmoid)
 * probabilities, then the MedMNIST-style metrics of metrics.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MedrobustError } from '../core/errors.ts';
import type { ImageSet } from '../data/image-set.ts';
import type { Classifier } from '../engine/contracts.ts';
import { type ClassificationMetrics, classificationMetrics } from './metrics.ts';

export interface Evaluation extends ClassificationMetrics {
  readonly count: number;
  /** [count × classes] probabilities. */
  readonly probabilities: Float32Array;
}

export function evaluateClassifier(classifier: Classifier, set: ImageSet, batchSize = 64): Evaluation {
  const [count, height, width, channels] = set.shape;
  const [expectedHeight, expectedWidth, expectedChannels] = classifier.info.inputShape;
  if (height !== expectedHeight || width !== expectedWidth || channels !== expectedChannels) {
    throw new MedrobustError(
      'invalid-data',
      `the images are ${height}×${width}×${channels} but ${classifier.info.name} takes ${expectedHeight}×${expectedWidth}×${expectedChannels}`,
      { hint: 'evaluate on data of the resolution and channel count the model was trained for' },
    );
  }
  const classes = classifier.info.classNames.length;
  if (set.classNames.length !== classes) {
    throw new MedrobustError(
      'invalid-data',
      `the data has ${set.classNames.length} classes but the model has ${classes}`,
      {
        hint: 'evaluate on the dataset (or class subset) the model was trained on',
      },
    );
  }
  const pixels = height * width * channels;
  const probabilities = new Float32Array(count * classes);
  for (let start = 0; start < count; start += batchSize) {
    const end = Math.min(count, start + batchSize);
    const batch = tf.tidy(() => {
      const x = tf.tensor4d(set.images.subarray(start * pixels, end * pixels), [
        end - start,
        height,
        width,
        channels,
      ]);
      const { logits } = classifier.predict(x);
      return (set.task === 'multi-label' ? tf.sigmoid(logits) : tf.softmax(logits)).dataSync();
    });
    probabilities.set(batch, start * classes);
  }
  return { count, probabilities, ...classificationMetrics(probabilities, set.labels, classes, set.task) };
}
