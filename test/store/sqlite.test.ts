import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/adapters/store/sqlite.js';
import { MemoryStore } from '../../src/node/store/memory.js';
import { storeConformance } from './conformance.js';

const dir = mkdtempSync(join(tmpdir(), 'farad-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

storeConformance({ name: 'sqlite', persistent: true, open: (id) => new SqliteStore(join(dir, `${id}.db`)) });
storeConformance({
  name: 'sqlite-group-commit',
  persistent: true,
  open: (id) => new SqliteStore(join(dir, `${id}.db`), { groupCommit: true }),
});
storeConformance({ name: 'memory', persistent: false, open: () => new MemoryStore() });

describe('SQLite group commit', () => {
  it('commits the batches of one event-loop turn in one transaction, each resolving after it', async () => {
    const s = new SqliteStore(join(dir, 'group.db'), { groupCommit: true });
    const enc = (t: string) => new TextEncoder().encode(t);
    const writes = Array.from({ length: 20 }, (_, i) =>
      s.write('g', `k${String(i).padStart(2, '0')}`, enc(`v${i}`)),
    );
    expect(s.stats.commits).toBe(0);
    await Promise.all(writes);
    expect(s.stats.commits).toBe(1);
    expect(s.stats.batches).toBe(20);
    expect(await s.list('g')).toHaveLength(20);
    // An invalid batch is refused on its own; the others of the turn commit.
    const ok = s.write('g', 'k20', enc('v20'));
    const bad = s.batch([{ op: 'put', namespace: 'g', key: '', value: enc('x') }]);
    await expect(bad).rejects.toBeInstanceOf(Error);
    await ok;
    expect(await s.read('g', 'k20')).toEqual(enc('v20'));
    // Queued batches are committed by close().
    const late = s.write('g', 'late', enc('z'));
    await s.close();
    await late;
    const r = new SqliteStore(join(dir, 'group.db'));
    expect(await r.read('g', 'late')).toEqual(enc('z'));
    await r.close();
  });
});

describe('SQLite commit failures', () => {
  it('a failed commit rejects its batches and every later write (STORE_FAILED); what was committed stays', async () => {
    const path = join(dir, 'fail.db');
    const s = new SqliteStore(path, { groupCommit: true, busyTimeoutMs: 20 });
    const enc = (t: string) => new TextEncoder().encode(t);
    await s.write('f', 'before', enc('1'));
    // Another connection holds the write lock: our next commit fails (SQLITE_BUSY).
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE');
    const a = s.write('f', 'a', enc('2'));
    const b = s.write('f', 'b', enc('3'));
    const barrier = s.barrier();
    await expect(a).rejects.toMatchObject({ code: 'STORE_FAILED' });
    await expect(b).rejects.toMatchObject({ code: 'STORE_FAILED' });
    await expect(barrier).rejects.toMatchObject({ code: 'STORE_FAILED' });
    other.exec('ROLLBACK');
    other.close();
    // Even with the lock gone, nothing may become durable after the lost writes.
    await expect(s.write('f', 'c', enc('4'))).rejects.toMatchObject({ code: 'STORE_FAILED' });
    await expect(s.barrier()).rejects.toMatchObject({ code: 'STORE_FAILED' });
    await s.close();
    const r = new SqliteStore(path);
    expect(await r.list('f')).toEqual(['before']);
    await r.close();
  });

  it('barrier() resolves after every batch queued before it is committed', async () => {
    const s = new SqliteStore(join(dir, 'barrier.db'), { groupCommit: true });
    const enc = (t: string) => new TextEncoder().encode(t);
    await s.barrier(); // nothing queued: resolves at once
    expect(s.stats.commits).toBe(0);
    const w1 = s.write('b', 'k1', enc('1'));
    // When the barrier resolves, the batch queued before it is committed (reads see only
    // committed data; nothing was written before the group's commit).
    const seen = s.barrier().then(() => s.read('b', 'k1'));
    const w2 = s.write('b', 'k2', enc('2'));
    expect(await s.read('b', 'k1')).toBeUndefined();
    expect(await seen).toEqual(enc('1'));
    await Promise.all([w1, w2]);
    expect(s.stats.commits).toBe(1);
    await s.close();
  });
});

describe('SQLite store durability', () => {
  it('a batch whose promise resolved survives SIGKILL of the writing process', () => {
    const path = join(dir, 'crash.db');
    const script = `
      import { SqliteStore } from ${JSON.stringify(join(root, 'src/adapters/store/sqlite.ts'))};
      const s = new SqliteStore(${JSON.stringify(path)});
      const value = new Uint8Array(1000).fill(7);
      for (let i = 0; i < 50; i++) {
        await s.batch([{ op: 'put', namespace: 'c', key: 'k' + String(i).padStart(3, '0'), value }]);
      }
      process.kill(process.pid, 'SIGKILL');
    `;
    const file = join(dir, 'crash-writer.mts');
    writeFileSync(file, script);
    // node itself (not the tsx wrapper) so that the kill signal is what the parent sees
    const r = spawnSync(process.execPath, ['--import', 'tsx', file], { cwd: root });
    expect(r.signal, String(r.stderr)).toBe('SIGKILL');
    const s = new SqliteStore(path);
    return s.list('c').then(async (keys) => {
      expect(keys).toHaveLength(50);
      expect(await s.read('c', 'k049')).toEqual(new Uint8Array(1000).fill(7));
      await s.close();
    });
  });

  it('converts a store of the former WITHOUT ROWID layout on open, keeping every row', async () => {
    const path = join(dir, 'legacy.db');
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.exec(
      'CREATE TABLE kv (namespace TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (namespace, key)) WITHOUT ROWID',
    );
    const put = db.prepare('INSERT INTO kv (namespace, key, value) VALUES (?, ?, ?)');
    const big = new Uint8Array(5000).fill(9);
    for (let i = 0; i < 20; i++) put.run('m', `k${String(i).padStart(2, '0')}`, Buffer.from([i]));
    put.run('c', 'state', Buffer.from(big));
    db.close();
    const s = new SqliteStore(path);
    expect(await s.list('m')).toHaveLength(20);
    expect(await s.read('m', 'k07')).toEqual(new Uint8Array([7]));
    expect(await s.read('c', 'state')).toEqual(big);
    await s.write('c', 'state', new Uint8Array([1, 2, 3]));
    expect(await s.read('c', 'state')).toEqual(new Uint8Array([1, 2, 3]));
    await s.close();
    const check = new Database(path, { readonly: true });
    const sql = (check.prepare("SELECT sql FROM sqlite_master WHERE name = 'kv'").get() as { sql: string })
      .sql;
    check.close();
    expect(sql).not.toMatch(/WITHOUT ROWID/i);
    // Reopening a converted store changes nothing.
    const again = new SqliteStore(path);
    expect(await again.read('c', 'state')).toEqual(new Uint8Array([1, 2, 3]));
    expect(await again.list('m')).toHaveLength(20);
    await again.close();
  });

  it('reports an unopenable path as STORE_OPEN_FAILED', () => {
    expect(() => new SqliteStore(join(dir, 'no', 'such', 'dir', 'x.db'))).toThrow(
      expect.objectContaining({ code: 'STORE_OPEN_FAILED' }),
    );
  });
});
