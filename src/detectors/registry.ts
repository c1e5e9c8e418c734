/**
 * Every detector by name (DESIGN.md §5 rule 5: frozen data; an unknown name lists the valid ones).
 * Add a detector: one file, one line here, one row in detectors.test.ts, one section in
 * docs/detectors.md.
 */
import { MedrobustError } from '../core/errors.ts';
import { bu } from './bu.ts';
import type { Detector } from './detector.ts';
import { dfeat } from './dfeat.ts';
import { kd } from './kd.ts';
import { lid, lidMle } from './lid.ts';
import { mahalanobis } from './mahalanobis.ts';
import { qfeat } from './qfeat.ts';

export const detectors: Readonly<Record<string, Detector<unknown>>> = Object.freeze({
  kd: kd as Detector<unknown>,
  lid: lid as Detector<unknown>,
  'lid-mle': lidMle as Detector<unknown>,
  dfeat: dfeat as Detector<unknown>,
  qfeat: qfeat as Detector<unknown>,
  mahalanobis: mahalanobis as Detector<unknown>,
  bu: bu as Detector<unknown>,
});

export const detectorNames: readonly string[] = Object.freeze(Object.keys(detectors));

export function getDetector(name: string): Detector<unknown> {
  const detector = detectors[name];
  if (detector === undefined) {
    throw new MedrobustError('not-found', `unknown detector '${name}'`, {
      hint: `choose from: ${detectorNames.join(', ')}`,
    });
  }
  return detector;
}
