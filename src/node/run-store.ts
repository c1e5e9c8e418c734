/**
 * The run store of `medrobust run`: one SQLite database (better-sqlite3, write-ahead log) per run
 * folder, with a row per unit of work (its config hash, status, timings, metrics and artefact
 * paths) and the experiment it belongs to. A unit's row turns `done` only after its artefacts are
 * on disk, in one transaction, so a run killed at any moment loses at most the unit in progress.
 */
import Database from 'better-sqlite3';
import { MedrobustError } from '../core/errors.ts';

export const storeFileName = 'run.sqlite';

export type UnitStatus = 'running' | 'done' | 'failed' | 'skipped';

export interface UnitRecord {
  readonly id: string;
  /** Position in the experiment's deterministic unit order. */
  readonly position: number;
  readonly kind: string;
  readonly hash: string;
  readonly config: unknown;
  readonly status: UnitStatus;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly seconds: number | null;
  readonly metrics: unknown;
  /** Paths relative to the run folder. */
  readonly artefacts: readonly string[];
  readonly error: string | null;
  /** The engine that ran it (engine choice is not part of the hash). */
  readonly engine: string | null;
  /** False where a shard ran the unit only as a prerequisite of its own units. */
  readonly owned: boolean;
  /** "K/N" of the shard that ran it, or null for an unsharded run. */
  readonly shard: string | null;
}

interface Row {
  id: string;
  position: number;
  kind: string;
  hash: string;
  config: string;
  status: UnitStatus;
  started_at: string | null;
  finished_at: string | null;
  seconds: number | null;
  metrics: string | null;
  artefacts: string;
  error: string | null;
  engine: string | null;
  owned: number;
  shard: string | null;
}

const schemaVersion = '1';

function fromRow(row: Row): UnitRecord {
  return {
    id: row.id,
    position: row.position,
    kind: row.kind,
    hash: row.hash,
    config: JSON.parse(row.config),
    status: row.status,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    seconds: row.seconds,
    metrics: row.metrics === null ? null : JSON.parse(row.metrics),
    artefacts: JSON.parse(row.artefacts) as string[],
    error: row.error,
    engine: row.engine,
    owned: row.owned === 1,
    shard: row.shard,
  };
}

export class RunStore {
  private readonly database: Database.Database;

  private constructor(database: Database.Database) {
    this.database = database;
  }

  /** Opens (creating when asked) the store at `path`. */
  static open(path: string, options: { create: boolean } = { create: true }): RunStore {
    let database: Database.Database;
    try {
      database = new Database(path, { fileMustExist: !options.create });
    } catch (error) {
      throw new MedrobustError(
        'not-found',
        `${path}: cannot open the run store (${(error as Error).message})`,
        {
          hint: 'pass the folder a `medrobust run` wrote (it holds run.sqlite)',
          cause: error,
        },
      );
    }
    database.pragma('journal_mode = WAL');
    database.pragma('synchronous = NORMAL');
    database.pragma('busy_timeout = 5000');
    database.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS units (
        id TEXT PRIMARY KEY,
        position INTEGER NOT NULL,
        kind TEXT NOT NULL,
        hash TEXT NOT NULL,
        config TEXT NOT NULL,
        status TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT,
        seconds REAL,
        metrics TEXT,
        artefacts TEXT NOT NULL DEFAULT '[]',
        error TEXT,
        engine TEXT,
        owned INTEGER NOT NULL DEFAULT 1,
        shard TEXT
      );`);
    const store = new RunStore(database);
    const version = store.getMeta('schema');
    if (version === undefined) store.setMeta('schema', schemaVersion);
    else if (version !== schemaVersion) {
      database.close();
      throw new MedrobustError(
        'invalid-data',
        `${path}: run store schema ${version}, this medrobust reads ${schemaVersion}`,
        {
          hint: 'run the experiment again into a new folder',
        },
      );
    }
    return store;
  }

  getMeta(key: string): string | undefined {
    const row = this.database.prepare('SELECT value FROM meta WHERE key = ?').get(key) as
      | { value: string }
      | undefined;
    return row?.value;
  }

  setMeta(key: string, value: string): void {
    this.database
      .prepare(
        'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
      )
      .run(key, value);
  }

  meta(): Record<string, string> {
    const rows = this.database.prepare('SELECT key, value FROM meta ORDER BY key').all() as {
      key: string;
      value: string;
    }[];
    return Object.fromEntries(rows.map((row) => [row.key, row.value]));
  }

  unit(id: string): UnitRecord | undefined {
    const row = this.database.prepare('SELECT * FROM units WHERE id = ?').get(id) as Row | undefined;
    return row === undefined ? undefined : fromRow(row);
  }

  units(): UnitRecord[] {
    return (this.database.prepare('SELECT * FROM units ORDER BY position, id').all() as Row[]).map(fromRow);
  }

  /** Inserts or replaces a unit's row. */
  put(record: UnitRecord): void {
    this.database
      .prepare(
        `INSERT INTO units (id, position, kind, hash, config, status, started_at, finished_at, seconds, metrics, artefacts, error, engine, owned, shard)
         VALUES (@id, @position, @kind, @hash, @config, @status, @started_at, @finished_at, @seconds, @metrics, @artefacts, @error, @engine, @owned, @shard)
         ON CONFLICT(id) DO UPDATE SET position = excluded.position, kind = excluded.kind, hash = excluded.hash,
           config = excluded.config, status = excluded.status, started_at = excluded.started_at,
           finished_at = excluded.finished_at, seconds = excluded.seconds, metrics = excluded.metrics,
           artefacts = excluded.artefacts, error = excluded.error, engine = excluded.engine,
           owned = excluded.owned, shard = excluded.shard`,
      )
      .run({
        id: record.id,
        position: record.position,
        kind: record.kind,
        hash: record.hash,
        config: JSON.stringify(record.config),
        status: record.status,
        started_at: record.startedAt,
        finished_at: record.finishedAt,
        seconds: record.seconds,
        metrics:
          record.metrics === null || record.metrics === undefined ? null : JSON.stringify(record.metrics),
        artefacts: JSON.stringify(record.artefacts),
        error: record.error,
        engine: record.engine,
        owned: record.owned ? 1 : 0,
        shard: record.shard,
      });
  }

  /** Removes rows of units the experiment no longer has. */
  removeExcept(ids: readonly string[]): number {
    const keep = new Set(ids);
    const stale = this.units().filter((unit) => !keep.has(unit.id));
    const remove = this.database.prepare('DELETE FROM units WHERE id = ?');
    this.database.transaction(() => {
      for (const unit of stale) remove.run(unit.id);
    })();
    return stale.length;
  }

  close(): void {
    this.database.close();
  }
}
