import { describe, expect, it } from 'vitest';
import { MedrobustError } from '../../src/core/errors.ts';
import { parseExperiment } from '../../src/evaluation/experiment/schema.ts';
import { canonicalJson, hashOf, parseShard, planUnits, shardUnits } from './plan.ts';

const base = {
  name: 'plan',
  datasets: [
    { name: 'chest', path: 'phantom:chest-xray:16' },
    { name: 'skin', path: 'phantom:dermoscopy:16' },
  ],
  models: [
    { name: 'cnn', train: { epochs: 1 } },
    { name: 'wide', train: { epochs: 1, width: 2 }, datasets: ['chest'] },
  ],
  robustness: { attacks: ['paper-fgsm', 'cw-l2'], epsilons: ['1/255', '2/255'] },
  detection: { detectors: ['kd'] },
  analyses: [{ kind: 'gradcam' }],
};
const plan = (json: unknown) => planUnits(parseExperiment(json, 'plan.json'));

describe('planUnits', () => {
  it('lists models first, then each pair’s attacks per ε, detection and analyses', () => {
    const ids = plan(base).map((unit) => unit.id);
    expect(ids).toEqual([
      'model/chest/cnn',
      'model/chest/wide',
      'model/skin/cnn',
      'attack/chest/cnn/paper-fgsm/1_255',
      'attack/chest/cnn/paper-fgsm/2_255',
      'attack/chest/cnn/cw-l2/all',
      'detect/chest/cnn',
      'analysis/chest/cnn/gradcam',
      'attack/chest/wide/paper-fgsm/1_255',
      'attack/chest/wide/paper-fgsm/2_255',
      'attack/chest/wide/cw-l2/all',
      'detect/chest/wide',
      'analysis/chest/wide/gradcam',
      'attack/skin/cnn/paper-fgsm/1_255',
      'attack/skin/cnn/paper-fgsm/2_255',
      'attack/skin/cnn/cw-l2/all',
      'detect/skin/cnn',
      'analysis/skin/cnn/gradcam',
    ]);
  });

  it('changes the hash of a model and everything downstream of it, and nothing else', () => {
    const before = new Map(plan(base).map((unit) => [unit.id, unit.hash]));
    const changed = structuredClone(base);
    changed.models[1] = { name: 'wide', train: { epochs: 2, width: 2 }, datasets: ['chest'] };
    const after = new Map(plan(changed).map((unit) => [unit.id, unit.hash]));
    for (const [id, hash] of before) {
      if (id.includes('/chest/wide')) expect(after.get(id), id).not.toBe(hash);
      else expect(after.get(id), id).toBe(hash);
    }
    // Same settings, keys in another order: same hashes.
    const reordered = Object.fromEntries(Object.entries(base).reverse());
    expect(plan(reordered).map((unit) => unit.hash)).toEqual([...before.values()]);
  });

  it('hashes canonical JSON (sorted keys, no undefined)', () => {
    expect(canonicalJson({ b: 1, a: [{ d: undefined, c: 'x' }] })).toBe('{"a":[{"c":"x"}],"b":1}');
    expect(hashOf({ a: 1, b: 2 })).toBe(hashOf({ b: 2, a: 1 }));
    expect(hashOf({ a: 1 })).not.toBe(hashOf({ a: 2 }));
    expect(hashOf({ a: 1 })).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe('sharding', () => {
  it('parses K/N and rejects anything else', () => {
    expect(parseShard('2/3')).toEqual({ index: 2, count: 3 });
    for (const text of ['0/3', '4/3', '1', 'a/b', '1/0']) {
      expect(() => parseShard(text), text).toThrow(MedrobustError);
    }
  });

  it('gives every unit to exactly one shard and adds prerequisites as not owned', () => {
    const units = plan(base);
    const owners = new Map<string, number>();
    for (let index = 1; index <= 3; index += 1) {
      const assigned = shardUnits(units, { index, count: 3 });
      for (const { unit, owned } of assigned) {
        if (owned) {
          expect(owners.has(unit.id), unit.id).toBe(false);
          owners.set(unit.id, index);
          expect(unit.position % 3).toBe(index - 1);
        }
      }
      const ids = new Set(assigned.map(({ unit }) => unit.id));
      for (const { unit } of assigned) for (const need of unit.needs) expect(ids.has(need)).toBe(true);
    }
    expect(owners.size).toBe(units.length);
    expect(shardUnits(units, undefined).every(({ owned }) => owned)).toBe(true);
  });
});
