/**
 * The store conformance suite: every KVStore backend must pass it. `open(path)` opens a store
 * at a location that survives `close()` (reopening the same path sees the same data), or an
 * ephemeral one when the backend has no persistence (`persistent: false`).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type KVStore, StoreError } from '../../src/node/ports/store.js';

export interface StoreBackend {
  name: string;
  persistent: boolean;
  /** Opens a store; the same `id` reopens the same data when persistent. */
  open(id: string): KVStore;
}

const enc = (s: string) => new TextEncoder().encode(s);

export function storeConformance(backend: StoreBackend): void {
  let n = 0;
  const fresh = () => backend.open(`${backend.name}-${process.pid}-${n++}`);

  describe(`KVStore conformance: ${backend.name}`, () => {
    it('reads back what was written, and undefined for absent keys', async () => {
      const s = fresh();
      await s.write('channels', 'a', enc('one'));
      expect(await s.read('channels', 'a')).toEqual(enc('one'));
      expect(await s.read('channels', 'b')).toBeUndefined();
      await s.write('channels', 'a', enc('two'));
      expect(await s.read('channels', 'a')).toEqual(enc('two'));
      await s.close();
    });

    it('isolates namespaces and lists keys in ascending order', async () => {
      const s = fresh();
      await s.write('ns1', 'k2', enc('x'));
      await s.write('ns1', 'k1', enc('y'));
      await s.write('ns2', 'k1', enc('z'));
      expect(await s.list('ns1')).toEqual(['k1', 'k2']);
      expect(await s.list('ns2')).toEqual(['k1']);
      expect(await s.list('empty')).toEqual([]);
      expect(await s.read('ns2', 'k1')).toEqual(enc('z'));
      await s.remove('ns1', 'k1');
      await s.remove('ns1', 'absent');
      expect(await s.list('ns1')).toEqual(['k2']);
      await s.close();
    });

    it('applies a batch atomically: an invalid operation rejects the whole batch', async () => {
      const s = fresh();
      await s.write('b', 'keep', enc('v0'));
      await expect(
        s.batch([
          { op: 'put', namespace: 'b', key: 'new', value: enc('v1') },
          { op: 'del', namespace: 'b', key: 'keep' },
          { op: 'put', namespace: 'b', key: '', value: enc('bad key') },
        ]),
      ).rejects.toBeInstanceOf(StoreError);
      expect(await s.read('b', 'new')).toBeUndefined();
      expect(await s.read('b', 'keep')).toEqual(enc('v0'));
      await s.batch([
        { op: 'put', namespace: 'b', key: 'new', value: enc('v1') },
        { op: 'del', namespace: 'b', key: 'keep' },
      ]);
      expect(await s.list('b')).toEqual(['new']);
      await s.close();
    });

    it('rejects invalid names with STORE_INVALID_KEY and calls after close with STORE_CLOSED', async () => {
      const s = fresh();
      for (const bad of ['', 'a b', 'x'.repeat(121), 'ü']) {
        await expect(s.write('ns', bad, enc('v'))).rejects.toMatchObject({ code: 'STORE_INVALID_KEY' });
        await expect(s.read(bad, 'k')).rejects.toMatchObject({ code: 'STORE_INVALID_KEY' });
      }
      await s.close();
      await expect(s.read('ns', 'k')).rejects.toMatchObject({ code: 'STORE_CLOSED' });
    });

    it('stores arbitrary binary values unchanged (property)', async () => {
      const s = fresh();
      await fc.assert(
        fc.asyncProperty(
          fc.uint8Array({ maxLength: 4096 }),
          fc.stringMatching(/^[a-z0-9]{1,20}$/),
          async (v, k) => {
            await s.write('bin', k, v);
            const got = await s.read('bin', k);
            expect(got).toEqual(v);
            // the returned value is a copy: mutating it does not change the store
            if (got && got.length > 0) {
              got[0] = (got[0]! + 1) & 0xff;
              expect(await s.read('bin', k)).toEqual(v);
            }
          },
        ),
        { numRuns: 100 },
      );
      await s.close();
    });

    if (backend.persistent) {
      it('keeps data across close and reopen', async () => {
        const id = `${backend.name}-reopen-${process.pid}`;
        const s = backend.open(id);
        await s.batch([
          { op: 'put', namespace: 'm', key: 'a', value: enc('1') },
          { op: 'put', namespace: 'm', key: 'b', value: enc('2') },
        ]);
        await s.close();
        const s2 = backend.open(id);
        expect(await s2.list('m')).toEqual(['a', 'b']);
        expect(await s2.read('m', 'b')).toEqual(enc('2'));
        await s2.close();
      });
    }
  });
}
