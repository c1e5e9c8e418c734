/**
 * The attack contract and its one wrapper (DESIGN.md §2, §5 rules 2 and 4). An attack is a stateless
 * definition: a name, the paper it implements, a zod schema that parses its options (the single
 * source of defaults and docs) and a `perturb` function. `defineAttack` turns it into an `Attack`
 * whose `run` enforces, for every attack alike: option parsing with errors naming the option, the
 * goal and label shapes, inputs within the model's bounds, a memory scope, clipping to the bounds,
 * projection onto the ε-ball for fixed-ε attacks, and the success and distances of the result.
 *
 * Input contract: x is an NHWC float32 batch within the model's bounds; labels are the true classes
 * (host Int32Array, one per image). Success is always judged against the true labels (untargeted:
 * the adversarial prediction differs from them) or the targets.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { z } from 'zod';
import type { Bounds } from '../core/bounds.ts';
import type { Citation } from '../core/citation.ts';
import { MedrobustError } from '../core/errors.ts';
import { checkGoal, type Goal, goalReached, untargeted } from '../core/goal.ts';
import { l2Norms, linfNorms, type Norm, projectToBall } from '../core/norms.ts';
import { parseOptions as parseUnitOptions } from '../core/options.ts';
import type { Classifier } from '../engine/contracts.ts';

export type { Citation } from '../core/citation.ts';

export interface AttackBatch {
  readonly x: tf.Tensor4D;
  /** True classes, one per image. */
  readonly labels: Int32Array;
}

/** Fixed-ε attacks return a point of the ε-ball; minimisation attacks the smallest perturbation they find. */
export type AttackKind = 'fixed-epsilon' | 'minimization';

/** What `perturb` receives: parsed options and everything checked. */
export interface AttackRun<Options> {
  readonly model: Classifier;
  readonly x: tf.Tensor4D;
  readonly labels: Int32Array;
  readonly goal: Goal;
  readonly options: Options;
  readonly bounds: Bounds;
  readonly classes: number;
  readonly seed: number;
}

export interface AttackResult {
  /** The adversarial images, within bounds (and within the ε-ball for fixed-ε attacks). Caller disposes. */
  readonly adversarial: tf.Tensor4D;
  /** The model's class for each adversarial image. */
  readonly predictions: Int32Array;
  /** [images × classes] softmax probabilities of the adversarial images (for AUC under attack). */
  readonly probabilities: Float32Array;
  /** 1 where the goal is reached. */
  readonly success: Uint8Array;
  readonly l2: Float32Array;
  readonly linf: Float32Array;
}

export interface AttackContext {
  /** Seed of every random choice (random starts, restarts, Square's proposals). Default 0. */
  readonly seed?: number;
}

export interface Attack<Options = unknown> {
  readonly name: string;
  readonly description: string;
  readonly kind: AttackKind;
  readonly paper: Citation;
  readonly options: z.ZodType<Options>;
  /** The norm the attack measures perturbations in, for parsed options. */
  norm(options: Options): Norm;
  /** The ε of a fixed-ε attack (undefined for minimisation attacks). */
  epsilon(options: Options): number | undefined;
  parse(options: unknown): Options;
  run(
    model: Classifier,
    batch: AttackBatch,
    goal?: Goal,
    options?: unknown,
    context?: AttackContext,
  ): AttackResult;
}

export interface AttackDefinition<Schema extends z.ZodType> {
  readonly name: string;
  readonly description: string;
  readonly kind: AttackKind;
  readonly paper: Citation;
  readonly options: Schema;
  readonly norm: (options: z.output<Schema>) => Norm;
  readonly epsilon?: (options: z.output<Schema>) => number;
  /** Returns the adversarial batch (a new tensor); the wrapper clips and projects it. */
  readonly perturb: (run: AttackRun<z.output<Schema>>) => tf.Tensor4D;
}

/** Inputs may exceed the bounds by rounding only. */
const boundsTolerance = 1e-5;

function checkInputs(model: Classifier, batch: AttackBatch, name: string): void {
  const [height, width, channels] = model.info.inputShape;
  const { x, labels } = batch;
  if (x.rank !== 4 || x.shape[1] !== height || x.shape[2] !== width || x.shape[3] !== channels) {
    throw new MedrobustError(
      'invalid-argument',
      `${name}: images must be [batch, ${height}, ${width}, ${channels}], got [${x.shape.join(', ')}]`,
      { hint: 'resize or convert the images to the model input shape' },
    );
  }
  if (labels.length !== x.shape[0]) {
    throw new MedrobustError(
      'invalid-argument',
      `${name}: ${labels.length} labels for ${x.shape[0]} images`,
      {
        hint: 'give one true class per image',
      },
    );
  }
  const classes = model.info.classNames.length;
  for (const label of labels) {
    if (label < 0 || label >= classes) {
      throw new MedrobustError(
        'invalid-argument',
        `${name}: label ${label} is not one of ${classes} classes`,
        {
          hint: `labels are class indices 0…${classes - 1}`,
        },
      );
    }
  }
  const { lower, upper } = model.info.bounds;
  const [minimum, maximum] = tf.tidy(() => [tf.min(x).dataSync()[0] ?? 0, tf.max(x).dataSync()[0] ?? 0]);
  if ((minimum ?? 0) < lower - boundsTolerance || (maximum ?? 0) > upper + boundsTolerance) {
    throw new MedrobustError(
      'invalid-argument',
      `${name}: images range over [${minimum}, ${maximum}], outside the model's bounds [${lower}, ${upper}]`,
      { hint: `scale images to [${lower}, ${upper}] first (medrobust models take [0, 1] images)` },
    );
  }
}

export function parseOptions<Schema extends z.ZodType>(
  schema: Schema,
  input: unknown,
  name: string,
): z.output<Schema> {
  return parseUnitOptions(
    schema,
    input,
    name,
    `\`medrobust attack --list\` shows ${name}'s options and defaults`,
  );
}

/** The class the model gives each image (argmax of the logits). */
export function predictClasses(model: Classifier, x: tf.Tensor4D): Int32Array {
  return classify(model, x).predictions;
}

/** Softmax probabilities and classes for a batch of images, from one forward pass. */
export function classify(
  model: Classifier,
  x: tf.Tensor4D,
): { readonly probabilities: Float32Array; readonly predictions: Int32Array } {
  return tf.tidy(() => {
    const { logits } = model.predict(x);
    return {
      probabilities: Float32Array.from(tf.softmax(logits).dataSync()),
      predictions: Int32Array.from(tf.argMax(logits, 1).dataSync()),
    };
  });
}

export function defineAttack<Schema extends z.ZodType>(
  definition: AttackDefinition<Schema>,
): Attack<z.output<Schema>> {
  type Options = z.output<Schema>;
  const parse = (input: unknown): Options => parseOptions(definition.options, input, definition.name);
  return Object.freeze({
    name: definition.name,
    description: definition.description,
    kind: definition.kind,
    paper: definition.paper,
    options: definition.options as z.ZodType<Options>,
    norm: definition.norm,
    epsilon: (options: Options) => definition.epsilon?.(options),
    parse,
    run(
      model: Classifier,
      batch: AttackBatch,
      goal: Goal = untargeted,
      input: unknown = {},
      context: AttackContext = {},
    ): AttackResult {
      const options = parse(input);
      checkInputs(model, batch, definition.name);
      const classes = model.info.classNames.length;
      checkGoal(goal, batch.labels.length, classes);
      const bounds = model.info.bounds;
      const norm = definition.norm(options);
      const epsilon = definition.epsilon?.(options);
      const adversarial = tf.tidy(() => {
        const raw = definition.perturb({
          model,
          x: batch.x,
          labels: batch.labels,
          goal,
          options,
          bounds,
          classes,
          seed: context.seed ?? 0,
        });
        let result = tf.clipByValue(raw, bounds.lower, bounds.upper) as tf.Tensor4D;
        if (epsilon !== undefined) {
          result = tf.clipByValue(
            projectToBall(norm, result, batch.x, epsilon),
            bounds.lower,
            bounds.upper,
          ) as tf.Tensor4D;
        }
        return result;
      });
      const { predictions, probabilities } = classify(model, adversarial);
      const [l2, linf] = tf.tidy(() => {
        const delta = tf.sub(adversarial, batch.x);
        return [Float32Array.from(l2Norms(delta).dataSync()), Float32Array.from(linfNorms(delta).dataSync())];
      });
      return {
        adversarial,
        predictions,
        probabilities,
        success: goalReached(goal, predictions, batch.labels),
        l2: l2 ?? new Float32Array(),
        linf: linf ?? new Float32Array(),
      };
    },
  });
}
