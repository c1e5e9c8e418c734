/**
 * What an attack is after (DESIGN.md §2): any wrong class (untargeted), or a given class per image
 * (targeted). Targets are class indices on the host, one per image.
 */
import { MedrobustError } from './errors.ts';

export type Goal =
  | { readonly kind: 'untargeted' }
  | { readonly kind: 'targeted'; readonly targets: Int32Array };

export const untargeted: Goal = Object.freeze({ kind: 'untargeted' });

export function targeted(targets: ArrayLike<number>): Goal {
  return { kind: 'targeted', targets: Int32Array.from(targets) };
}

/** Whether each prediction reaches the goal, given the true labels. */
export function goalReached(
  goal: Goal,
  predictions: ArrayLike<number>,
  labels: ArrayLike<number>,
): Uint8Array {
  const reached = new Uint8Array(predictions.length);
  for (let i = 0; i < predictions.length; i++) {
    reached[i] =
      goal.kind === 'untargeted'
        ? Number(predictions[i] !== labels[i])
        : Number(predictions[i] === goal.targets[i]);
  }
  return reached;
}

export function checkGoal(goal: Goal, batch: number, classes: number): void {
  if (goal.kind === 'untargeted') return;
  if (goal.targets.length !== batch) {
    throw new MedrobustError('invalid-argument', `${goal.targets.length} targets for ${batch} images`, {
      hint: 'give one target class per image',
    });
  }
  for (const target of goal.targets) {
    if (!Number.isInteger(target) || target < 0 || target >= classes) {
      throw new MedrobustError(
        'invalid-argument',
        `target class ${target} is not one of the model's ${classes} classes`,
        {
          hint: `targets are class indices 0…${classes - 1}`,
        },
      );
    }
  }
}
