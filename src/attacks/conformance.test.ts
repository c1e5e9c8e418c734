/**
 * The conformance table (DESIGN.md §5 rule 9): every registered attack, on a tiny ResNet labelled
 * by its own predictions, must keep its output within the image bounds and (fixed-ε attacks) within
 * the ε-ball; leave images unchanged at ε = 0; lower accuracy; reach targets under a targeted goal;
 * be deterministic under a seed; and leak no tensors. Adding an attack = adding its row here.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LabelledFixture, ownLabels } from '../../test/support/attack-fixtures.ts';
import { activate, leakedTensors } from '../../test/support/engines.ts';
import { targeted } from '../core/goal.ts';
import type { Attack } from './attack.ts';
import { attackNames, getAttack } from './registry.ts';

/** Options per attack at a given ε (the attack's own defaults otherwise). */
const rows: Readonly<Record<string, (epsilon: number) => Record<string, unknown>>> = {
  fgsm: (epsilon) => ({ epsilon }),
  bim: (epsilon) => ({ epsilon, steps: 10 }),
  pgd: (epsilon) => ({ epsilon, steps: 10, restarts: 2 }),
  'cw-linf': (epsilon) => ({ epsilon, steps: 10, confidence: 5 }),
  'cw-l2': () => ({ steps: 30, searchSteps: 3, initialConstant: 1, learningRate: 0.05 }),
  deepfool: () => ({ steps: 20 }),
  'apgd-ce': (epsilon) => ({ epsilon, steps: 20 }),
  'apgd-dlr': (epsilon) => ({ epsilon, steps: 20 }),
  square: (epsilon) => ({ epsilon, queries: 500, initialFraction: 0.3 }),
  'paper-fgsm': (epsilon) => ({ epsilon }),
  'paper-bim': (epsilon) => ({ epsilon }),
  'paper-pgd': (epsilon) => ({ epsilon }),
  'paper-cw': (epsilon) => ({ epsilon }),
};

const epsilon = 0.1;
let fixture: LabelledFixture;

beforeAll(async () => {
  fixture = ownLabels(await activate('cpu'));
});
afterAll(() => fixture.dispose());

it('every registered attack has a conformance row', () => {
  expect([...attackNames].sort()).toEqual(Object.keys(rows).sort());
});

function accuracy(predictions: Int32Array, labels: Int32Array): number {
  return predictions.filter((prediction, index) => prediction === labels[index]).length / labels.length;
}

describe.each(attackNames.map((name) => [name, getAttack(name)] as [string, Attack]))(
  '%s',
  (name, attack) => {
    const options = (value: number) => (rows[name] ?? (() => ({ epsilon: value })))(value);

    it('stays within bounds and the ε-ball, and lowers accuracy', () => {
      const { model, x, labels } = fixture;
      const result = attack.run(model, { x, labels }, undefined, options(epsilon), { seed: 1 });
      const [minimum, maximum] = [
        tf.min(result.adversarial).dataSync()[0],
        tf.max(result.adversarial).dataSync()[0],
      ];
      expect(minimum).toBeGreaterThanOrEqual(0);
      expect(maximum).toBeLessThanOrEqual(1);
      if (attack.kind === 'fixed-epsilon') {
        const norms = attack.norm(attack.parse(options(epsilon))) === 'linf' ? result.linf : result.l2;
        for (const distance of norms) expect(distance).toBeLessThanOrEqual(epsilon + 1e-6);
      }
      expect(accuracy(result.predictions, labels)).toBeLessThan(1);
      expect(Array.from(result.success)).toEqual(
        Array.from(result.predictions, (p, i) => Number(p !== labels[i])),
      );
      result.adversarial.dispose();
    });

    it.skipIf(attack.kind !== 'fixed-epsilon')('leaves images unchanged at ε = 0', () => {
      const { model, x, labels } = fixture;
      const result = attack.run(model, { x, labels }, undefined, options(0), { seed: 1 });
      expect(Math.max(...result.linf)).toBe(0);
      result.adversarial.dispose();
    });

    it('reaches the targets of a targeted goal', () => {
      const { model, x, labels } = fixture;
      const classes = model.info.classNames.length;
      const targets = Array.from(labels, (label) => (label + 1) % classes);
      const result = attack.run(model, { x, labels }, targeted(targets), options(0.3), { seed: 1 });
      const reached = Array.from(result.success).filter(Boolean).length;
      expect(reached / labels.length).toBeGreaterThanOrEqual(0.5);
      expect(Array.from(result.success)).toEqual(
        Array.from(result.predictions, (p, i) => Number(p === targets[i])),
      );
      result.adversarial.dispose();
    });

    it('is deterministic under a seed and leaks no tensors', () => {
      const { model, x, labels } = fixture;
      let first: number[] = [];
      let second: number[] = [];
      const leaked = leakedTensors(() => {
        const a = attack.run(model, { x, labels }, undefined, options(epsilon), { seed: 5 });
        const b = attack.run(model, { x, labels }, undefined, options(epsilon), { seed: 5 });
        first = Array.from(a.adversarial.dataSync());
        second = Array.from(b.adversarial.dataSync());
        tf.dispose([a.adversarial, b.adversarial]);
      });
      expect(second).toEqual(first);
      expect(leaked).toBe(0);
    });

    it('rejects bad options and out-of-range images with a clear error', () => {
      const { model, x, labels } = fixture;
      expect(() => attack.run(model, { x, labels }, undefined, { epsilon: -1 })).toThrow(/epsilon/);
      const bright = tf.add(x, 2) as tf.Tensor4D;
      expect(() => attack.run(model, { x: bright, labels }, undefined, options(epsilon))).toThrow(
        /outside the model's bounds/,
      );
      bright.dispose();
    });
  },
);
