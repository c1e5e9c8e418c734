/**
 * ε as users write it: a decimal in the [0, 1] image range (0.0039) or a fraction of 255 ("1/255",
 * "0.5/255"), the paper's convention (Ma et al. 2021 quote every budget in /255 of [0, 1]).
 */

/** The ε a text denotes, or undefined when it is not an ε in [0, 1]. */
export function epsilonFromText(text: string): number | undefined {
  const match = /^\s*([0-9]*\.?[0-9]+(?:e-?[0-9]+)?)\s*(?:\/\s*([0-9]*\.?[0-9]+))?\s*$/i.exec(text);
  if (match === null) return undefined;
  const numerator = Number(match[1]);
  const denominator = match[2] === undefined ? 1 : Number(match[2]);
  const epsilon = numerator / denominator;
  if (!Number.isFinite(epsilon) || denominator === 0 || epsilon < 0 || epsilon > 1) return undefined;
  return epsilon;
}

/** ε as a fraction of 255 when it is one (1/255, 0.5/255), else as a decimal. */
export function formatEpsilon(epsilon: number): string {
  const times255 = Math.round(epsilon * 255 * 1000) / 1000;
  return Math.abs(times255 - epsilon * 255) < 1e-6 ? `${times255}/255` : String(epsilon);
}
