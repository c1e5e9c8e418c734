/**
 * The range of a model's input. Models take images in [0, 1] and scale them internally, so attacks
 * clip to these bounds and never normalise anything (DESIGN.md §2).
 */
import { MedrobustError } from './errors.ts';

export interface Bounds {
  readonly lower: number;
  readonly upper: number;
}

export const unitBounds: Bounds = Object.freeze({ lower: 0, upper: 1 });

export function checkBounds(bounds: Bounds, where: string): Bounds {
  if (!Number.isFinite(bounds.lower) || !Number.isFinite(bounds.upper) || bounds.lower >= bounds.upper) {
    throw new MedrobustError('invalid-argument', `${where}: bounds must be finite with lower < upper`, {
      hint: `got lower=${bounds.lower}, upper=${bounds.upper}; images scaled to [0, 1] use {"lower": 0, "upper": 1}`,
    });
  }
  return bounds;
}
