/**
 * SQLite {@link KVStore} on better-sqlite3: WAL journal, `synchronous=FULL` (every commit is
 * fsynced before the promise resolves), one table `kv(namespace, key, value)` (rowid table, unique
 * (namespace, key); stores from earlier versions are converted on open).
 *
 * Group commit (option `groupCommit`, used by the node daemon): `batch` (and `write`/`remove`)
 * validates its operations at once, then queues them; every batch queued during one turn of the
 * event loop is committed in ONE transaction
 * (one fsync) on the next turn, in queue order, and their promises resolve after that commit.
 * Each batch stays atomic (the transaction holds all of it or none); batches resolve in the
 * order they were queued. Reads see committed data. Without the option every batch is committed
 * at once, in its own transaction.
 *
 * A commit that fails (I/O error, disk full, corruption) rejects its batches and every later one:
 * the store refuses all further writes with `STORE_FAILED` (later batches may depend on the lost
 * ones, so none may become durable after them). The node must be restarted; it recovers from
 * what was committed. Invalid operations are refused at `batch()` and never reach a commit.
 */
import Database from 'better-sqlite3';
import { checkStoreName, type KVStore, StoreError, type StoreOp } from '../../node/ports/store.js';

/**
 * The table: a rowid table with a unique (namespace, key) index. Values up to ~4 KB stay inside
 * their B-tree leaf (a channel state, a monitor update), where the former `WITHOUT ROWID` layout
 * spilled anything above ~1 KB into overflow pages: a commit now writes fewer WAL pages (about
 * 15% less time per commit measured on the channel write pattern, see docs/benchmarks.md).
 */
const KV_COLUMNS =
  '(namespace TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, UNIQUE (namespace, key))';

/**
 * Converts a store created with the former `WITHOUT ROWID` table to {@link KV_COLUMNS}, in one
 * transaction (all rows or none: a crash midway leaves the old table intact).
 */
function migrateFromWithoutRowid(db: Database.Database): void {
  const row = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'kv'").get() as
    | { sql: string }
    | undefined;
  if (!row || !/WITHOUT\s+ROWID/i.test(row.sql)) return;
  db.transaction(() => {
    db.exec(`CREATE TABLE kv_rowid ${KV_COLUMNS}`);
    db.exec('INSERT INTO kv_rowid (namespace, key, value) SELECT namespace, key, value FROM kv');
    db.exec('DROP TABLE kv');
    db.exec('ALTER TABLE kv_rowid RENAME TO kv');
  })();
}

export interface SqliteStoreOptions {
  /** `synchronous` pragma: FULL (default, durable) or NORMAL (WAL-safe but may lose the last commits on power loss). */
  synchronous?: 'FULL' | 'NORMAL';
  /**
   * Commit the batches queued during one event-loop turn together, in one transaction (default
   * false: each batch commits at once). Same durability and atomicity per batch, far fewer fsyncs
   * under load; a write resolves one turn later.
   */
  groupCommit?: boolean;
  /** How long a write waits for a lock held by another connection before failing (ms, default 5000). */
  busyTimeoutMs?: number;
}

/** Counters of a {@link SqliteStore} (for benchmarks and diagnostics). */
export interface SqliteStoreStats {
  /** Committed write transactions (each one fsync of the WAL with `synchronous=FULL`). */
  commits: number;
  /** `batch` calls (several may share one commit). */
  batches: number;
  /** Put/delete operations. */
  ops: number;
  /** Bytes of the values put. */
  bytesPut: number;
  /** Milliseconds spent committing (statements, WAL write and fsync), summed. */
  commitMs: number;
}

interface QueuedBatch {
  /** Operations; empty for a {@link SqliteStore.barrier} marker. */
  ops: readonly StoreOp[];
  resolve: () => void;
  reject: (e: Error) => void;
}

export class SqliteStore implements KVStore {
  /** Write counters since the store was opened. */
  readonly stats: SqliteStoreStats = { commits: 0, batches: 0, ops: 0, bytesPut: 0, commitMs: 0 };
  private readonly db: Database.Database;
  private readonly getStmt: Database.Statement<[string, string], { value: Buffer }>;
  private readonly putStmt: Database.Statement<[string, string, Uint8Array]>;
  private readonly delStmt: Database.Statement<[string, string]>;
  private readonly listStmt: Database.Statement<[string], { key: string }>;
  private readonly runBatch: (ops: readonly StoreOp[]) => void;
  private readonly runGroup: (group: readonly QueuedBatch[]) => void;
  private queued: QueuedBatch[] = [];
  private scheduled = false;
  private readonly group: boolean;
  private closed = false;
  /** The first commit failure; once set every write is refused (see the module documentation). */
  private failure: StoreError | undefined;

  /** Opens (creating if needed) the database file at `path` (':memory:' for tests). */
  constructor(path: string, opts: SqliteStoreOptions = {}) {
    this.group = opts.groupCommit ?? false;
    try {
      this.db = new Database(path, { timeout: opts.busyTimeoutMs ?? 5000 });
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`synchronous = ${opts.synchronous ?? 'FULL'}`);
      this.db.exec(`CREATE TABLE IF NOT EXISTS kv ${KV_COLUMNS}`);
      migrateFromWithoutRowid(this.db);
    } catch (e) {
      throw new StoreError('STORE_OPEN_FAILED', `cannot open SQLite store at ${path}`, {
        details: e instanceof Error ? e.message : String(e),
        cause: e,
      });
    }
    this.getStmt = this.db.prepare('SELECT value FROM kv WHERE namespace = ? AND key = ?');
    // An upsert rewrites an existing row in place (its index entry is unchanged).
    this.putStmt = this.db.prepare(
      'INSERT INTO kv (namespace, key, value) VALUES (?, ?, ?) ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value',
    );
    this.delStmt = this.db.prepare('DELETE FROM kv WHERE namespace = ? AND key = ?');
    this.listStmt = this.db.prepare('SELECT key FROM kv WHERE namespace = ? ORDER BY key');
    const apply = (ops: readonly StoreOp[]) => {
      for (const o of ops) {
        if (o.op === 'put') this.putStmt.run(o.namespace, o.key, o.value);
        else this.delStmt.run(o.namespace, o.key);
      }
    };
    this.runBatch = this.db.transaction(apply);
    this.runGroup = this.db.transaction((group: readonly QueuedBatch[]) => {
      for (const b of group) apply(b.ops);
    });
  }

  private check(): void {
    if (this.closed) throw new StoreError('STORE_CLOSED', 'store is closed');
  }

  async read(namespace: string, key: string): Promise<Uint8Array | undefined> {
    this.check();
    checkStoreName('namespace', namespace);
    checkStoreName('key', key);
    const row = this.getStmt.get(namespace, key);
    return row ? new Uint8Array(row.value) : undefined;
  }

  async write(namespace: string, key: string, value: Uint8Array): Promise<void> {
    await this.batch([{ op: 'put', namespace, key, value }]);
  }

  async remove(namespace: string, key: string): Promise<void> {
    await this.batch([{ op: 'del', namespace, key }]);
  }

  async list(namespace: string): Promise<string[]> {
    this.check();
    checkStoreName('namespace', namespace);
    return this.listStmt.all(namespace).map((r) => r.key);
  }

  async batch(ops: readonly StoreOp[]): Promise<void> {
    this.check();
    if (this.failure) throw this.failure;
    for (const o of ops) {
      checkStoreName('namespace', o.namespace);
      checkStoreName('key', o.key);
      if (o.op === 'put' && !(o.value instanceof Uint8Array)) {
        throw new StoreError('STORE_INVALID_VALUE', 'store values must be Uint8Array');
      }
    }
    return new Promise<void>((resolve, reject) => {
      this.queued.push({ ops, resolve, reject });
      if (!this.group) this.commitQueued();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.commitQueued());
      }
    });
  }

  /**
   * Resolves once every batch queued before the call is committed (at once when none is
   * queued); rejects with `STORE_FAILED` after a failed commit.
   */
  async barrier(): Promise<void> {
    this.check();
    if (this.failure) throw this.failure;
    if (this.queued.length === 0) return;
    return new Promise<void>((resolve, reject) => {
      this.queued.push({ ops: [], resolve, reject });
    });
  }

  /** Commits every queued batch in one transaction (see the module documentation). */
  private commitQueued(): void {
    this.scheduled = false;
    const group = this.queued;
    this.queued = [];
    if (group.length === 0) return;
    if (this.failure) {
      for (const b of group) b.reject(this.failure);
      return;
    }
    if (group.every((b) => b.ops.length === 0)) {
      for (const b of group) b.resolve();
      return;
    }
    const t0 = performance.now();
    try {
      if (group.length === 1) this.runBatch(group[0]!.ops);
      else this.runGroup(group);
      const dt = performance.now() - t0;
      this.stats.commitMs += dt;
    } catch (e) {
      this.failure = new StoreError('STORE_FAILED', 'SQLite write failed: the store refuses further writes', {
        details: e instanceof Error ? e.message : String(e),
        cause: e,
      });
      for (const b of group) b.reject(this.failure);
      return;
    }
    this.stats.commits++;
    for (const b of group) {
      if (b.ops.length > 0) {
        this.stats.batches++;
        this.stats.ops += b.ops.length;
        for (const o of b.ops) if (o.op === 'put') this.stats.bytesPut += o.value.length;
      }
      b.resolve();
    }
  }

  /**
   * What the store holds: per namespace the number of keys and their key + value bytes, and the
   * database and WAL file sizes (after a passive checkpoint).
   */
  usage(): { namespaces: Record<string, { keys: number; bytes: number }>; pageBytes: number } {
    this.check();
    const rows = this.db
      .prepare(
        'SELECT namespace, count(*) AS n, sum(length(key) + length(value)) AS b FROM kv GROUP BY namespace',
      )
      .all() as Array<{ namespace: string; n: number; b: number }>;
    const namespaces: Record<string, { keys: number; bytes: number }> = {};
    for (const r of rows) namespaces[r.namespace] = { keys: r.n, bytes: r.b };
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    const size = this.db.pragma('page_size', { simple: true }) as number;
    return { namespaces, pageBytes: pages * size };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.commitQueued();
    this.closed = true;
    this.db.close();
  }
}
