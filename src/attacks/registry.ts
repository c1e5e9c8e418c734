/**
 * Attacks by name (DESIGN.md §5 rule 5): a frozen table; an unknown name lists the valid ones.
 * Adding an attack = one file, one line here, one row in the conformance table, one docs anchor.
 */
import { MedrobustError } from '../core/errors.ts';
import { apgdCe, apgdDlr } from './apgd.ts';
import type { Attack } from './attack.ts';
import { bim } from './bim.ts';
import { cwL2 } from './cw-l2.ts';
import { cwLinf } from './cw-linf.ts';
import { deepfool } from './deepfool.ts';
import { fgsm } from './fgsm.ts';
import { paperBim, paperCw, paperFgsm, paperPgd } from './paper-presets.ts';
import { pgd } from './pgd.ts';
import { square } from './square.ts';

// Each entry keeps its own option type; the registry exposes them as Attack<unknown>, whose run()
// parses options itself.
const entries = [
  fgsm,
  bim,
  pgd,
  cwLinf,
  cwL2,
  deepfool,
  apgdCe,
  apgdDlr,
  square,
  paperFgsm,
  paperBim,
  paperPgd,
  paperCw,
] as unknown as Attack[];

export const attacks: Readonly<Record<string, Attack>> = Object.freeze(
  Object.fromEntries(entries.map((attack) => [attack.name, attack])),
);

export const attackNames = Object.freeze(Object.keys(attacks));

export function getAttack(name: string): Attack {
  const attack = attacks[name];
  if (attack === undefined) {
    throw new MedrobustError('not-found', `unknown attack "${name}"`, {
      hint: `choose one of: ${attackNames.join(', ')}`,
    });
  }
  return attack;
}
