/**
 * Lesion-aware numbers (SPEC.md §6; claim 5 of Ma et al. 2021 made measurable: do attacks, and the
 * model's attention, concentrate on the lesion?). With a lesion mask per image:
 * - the share of the perturbation's L2 energy inside the lesion, Σ_inside Σ_c δ² / Σ Σ_c δ², to be
 *   read against the lesion's share of the image (its area fraction): a ratio above 1 means the
 *   attack concentrates on the lesion;
 * - the share of a (non-negative) map's mass inside the lesion, e.g. Grad-CAM of the clean and of the
 *   adversarial image.
 *
 * Input contract: images [h × w × channels] and maps [h × w] row-major; masks [h × w], non-zero
 * inside the lesion.
 */
import { MedrobustError } from '../core/errors.ts';

function checkSizes(pixels: number, mask: ArrayLike<number>, where: string): void {
  if (mask.length !== pixels) {
    throw new MedrobustError('invalid-argument', `${where}: a mask of ${mask.length} pixels for ${pixels}`, {
      hint: 'masks must have the image size (height × width)',
    });
  }
}

/** Fraction of the image inside the lesion. */
export function lesionArea(mask: ArrayLike<number>): number {
  let inside = 0;
  for (let i = 0; i < mask.length; i++) if ((mask[i] ?? 0) !== 0) inside++;
  return mask.length === 0 ? 0 : inside / mask.length;
}

/** Share of the perturbation's squared L2 norm inside the lesion (NaN when there is no perturbation). */
export function perturbationEnergyInside(
  clean: ArrayLike<number>,
  adversarial: ArrayLike<number>,
  mask: ArrayLike<number>,
  channels: number,
): number {
  checkSizes(clean.length / channels, mask, 'perturbation energy');
  let inside = 0;
  let total = 0;
  for (let pixel = 0; pixel < mask.length; pixel++) {
    let energy = 0;
    for (let c = 0; c < channels; c++) {
      const index = pixel * channels + c;
      energy += ((adversarial[index] ?? 0) - (clean[index] ?? 0)) ** 2;
    }
    total += energy;
    if ((mask[pixel] ?? 0) !== 0) inside += energy;
  }
  return total > 0 ? inside / total : Number.NaN;
}

/** Share of a non-negative map's mass inside the lesion (NaN when the map is all zero). */
export function massInside(map: ArrayLike<number>, mask: ArrayLike<number>): number {
  checkSizes(map.length, mask, 'map mass');
  let inside = 0;
  let total = 0;
  for (let i = 0; i < map.length; i++) {
    const value = Math.max(0, map[i] ?? 0);
    total += value;
    if ((mask[i] ?? 0) !== 0) inside += value;
  }
  return total > 0 ? inside / total : Number.NaN;
}
