/**
 * SQLite {@link KVStore} on better-sqlite3: WAL journal, `synchronous=FULL` (every commit is
 * fsynced before the promise resolves), one table `kv(namespace, key, value)`.
 */
import Database from 'better-sqlite3';
import { checkStoreName, type KVStore, StoreError, type StoreOp } from '../../node/ports/store.js';

export interface SqliteStoreOptions {
  /** `synchronous` pragma: FULL (default, durable) or NORMAL (WAL-safe but may lose the last commits on power loss). */
  synchronous?: 'FULL' | 'NORMAL';
}

export class SqliteStore implements KVStore {
  private readonly db: Database.Database;
  private readonly getStmt: Database.Statement<[string, string], { value: Buffer }>;
  private readonly putStmt: Database.Statement<[string, string, Uint8Array]>;
  private readonly delStmt: Database.Statement<[string, string]>;
  private readonly listStmt: Database.Statement<[string], { key: string }>;
  private readonly runBatch: (ops: readonly StoreOp[]) => void;
  private closed = false;

  /** Opens (creating if needed) the database file at `path` (':memory:' for tests). */
  constructor(path: string, opts: SqliteStoreOptions = {}) {
    try {
      this.db = new Database(path);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`synchronous = ${opts.synchronous ?? 'FULL'}`);
      this.db.exec(
        'CREATE TABLE IF NOT EXISTS kv (namespace TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (namespace, key)) WITHOUT ROWID',
      );
    } catch (e) {
      throw new StoreError('STORE_OPEN_FAILED', `cannot open SQLite store at ${path}`, {
        details: e instanceof Error ? e.message : String(e),
        cause: e,
      });
    }
    this.getStmt = this.db.prepare('SELECT value FROM kv WHERE namespace = ? AND key = ?');
    this.putStmt = this.db.prepare('INSERT OR REPLACE INTO kv (namespace, key, value) VALUES (?, ?, ?)');
    this.delStmt = this.db.prepare('DELETE FROM kv WHERE namespace = ? AND key = ?');
    this.listStmt = this.db.prepare('SELECT key FROM kv WHERE namespace = ? ORDER BY key');
    this.runBatch = this.db.transaction((ops: readonly StoreOp[]) => {
      for (const o of ops) {
        if (o.op === 'put') this.putStmt.run(o.namespace, o.key, o.value);
        else this.delStmt.run(o.namespace, o.key);
      }
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
    for (const o of ops) {
      checkStoreName('namespace', o.namespace);
      checkStoreName('key', o.key);
      if (o.op === 'put' && !(o.value instanceof Uint8Array)) {
        throw new StoreError('STORE_INVALID_VALUE', 'store values must be Uint8Array');
      }
    }
    try {
      this.runBatch(ops);
    } catch (e) {
      throw new StoreError('STORE_WRITE_FAILED', 'SQLite write failed', {
        details: e instanceof Error ? e.message : String(e),
        cause: e,
      });
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}
