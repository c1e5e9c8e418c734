import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MedrobustError } from '../core/errors.ts';
import { RunStore, type UnitRecord } from './run-store.ts';

const folders: string[] = [];
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});
function temporary(): string {
  const folder = mkdtempSync(join(tmpdir(), 'medrobust-store-'));
  folders.push(folder);
  return folder;
}

const record: UnitRecord = {
  id: 'attack/breast/cnn/paper-pgd/1-255',
  position: 3,
  kind: 'attack',
  hash: '0123456789abcdef',
  config: { attack: 'paper-pgd', epsilons: [1 / 255] },
  status: 'done',
  startedAt: '2026-12-06T10:00:00.000Z',
  finishedAt: '2026-12-06T10:00:04.000Z',
  seconds: 4.25,
  metrics: { accuracy: [0.75], nested: { auc: 0.5 } },
  artefacts: ['units/attack/breast/cnn/paper-pgd/1-255/results.json'],
  error: null,
  engine: 'torch',
  owned: false,
  shard: '2/3',
};

describe('RunStore', () => {
  it('round-trips units and meta through the file, in WAL mode', () => {
    const path = join(temporary(), 'run.sqlite');
    const store = RunStore.open(path);
    store.setMeta('experimentHash', 'abc');
    store.put({ ...record, id: 'model/breast/cnn', position: 0, kind: 'model', owned: true, shard: null });
    store.put(record);
    store.put({ ...record, status: 'failed', error: 'boom', metrics: null, seconds: null });
    store.close();

    const reopened = RunStore.open(path, { create: false });
    expect(reopened.getMeta('experimentHash')).toBe('abc');
    expect(reopened.meta()).toEqual({ experimentHash: 'abc', schema: '1' });
    expect(reopened.units().map((unit) => unit.id)).toEqual(['model/breast/cnn', record.id]);
    expect(reopened.unit(record.id)).toEqual({
      ...record,
      status: 'failed',
      error: 'boom',
      metrics: null,
      seconds: null,
    });
    expect(reopened.unit('model/breast/cnn')?.owned).toBe(true);
    expect(reopened.removeExcept(['model/breast/cnn'])).toBe(1);
    expect(reopened.units()).toHaveLength(1);
    reopened.close();
  });

  it('says what to pass when the store does not exist', () => {
    expect(() => RunStore.open(join(temporary(), 'missing', 'run.sqlite'), { create: false })).toThrow(
      MedrobustError,
    );
  });
});
