import { describe, expect, it } from 'vitest';
import { ChainTracker } from '../../src/node/chain/tracker.js';
import type { ChainEvent } from '../../src/node/ports/chain.js';
import { sha256 } from '../../src/protocol/crypto/hash.js';
import { fromHex, toHex, utf8 } from '../../src/protocol/encoding/bytes.js';
import { p2wpkh } from '../../src/protocol/tx/script.js';
import { type Transaction, txidHex } from '../../src/protocol/tx/transaction.js';
import { FakeBackend } from './fake-backend.js';

const script = (n: number) => p2wpkh(Uint8Array.of(2, ...sha256(utf8(`k${n}`))));

function spend(prev: Transaction, vout: number, to: Uint8Array, value: bigint): Transaction {
  return {
    version: 2,
    locktime: 0,
    inputs: [
      { txid: fromHex(txidHex(prev)), vout, scriptSig: new Uint8Array(0), sequence: 0xfffffffd, witness: [] },
    ],
    outputs: [{ value, scriptPubKey: to }],
  };
}

const types = (ev: ChainEvent[]) => ev.map((e) => e.type);

describe('ChainTracker block sync', () => {
  it('starts at the tip by default and connects new blocks in order', async () => {
    const b = new FakeBackend();
    b.mine(5);
    const t = new ChainTracker(b);
    expect(await t.poll()).toEqual([]);
    expect(t.tip()).toEqual({ height: 5, hash: b.blocks[5]!.hash });
    b.mine(2);
    const ev = await t.poll();
    expect(ev).toEqual([
      { type: 'block_connected', block: { height: 6, hash: b.blocks[6]!.hash }, time: b.blocks[6]!.time },
      { type: 'block_connected', block: { height: 7, hash: b.blocks[7]!.hash }, time: b.blocks[7]!.time },
    ]);
  });

  it('scans from a start height and reports watched-script txs with confirmations', async () => {
    const b = new FakeBackend();
    const s = script(1);
    const fund = b.fundTx(s, 50_000n);
    b.mine(1, [fund]);
    b.mine(3);
    const t = new ChainTracker(b, { startHeight: 1 });
    t.watchScript(s);
    const ev = await t.poll();
    expect(types(ev)).toEqual([
      'block_connected',
      'tx_confirmed',
      'block_connected',
      'block_connected',
      'block_connected',
    ]);
    const w = t.transaction(txidHex(fund))!;
    expect(w.block).toEqual({ height: 1, hash: b.blocks[1]!.hash });
    expect(w.confirmations).toBe(4);
  });

  it('walks back to the fork point on a reorg and reports disconnections', async () => {
    const b = new FakeBackend();
    b.mine(3);
    const s = script(2);
    const t = new ChainTracker(b);
    t.watchScript(s);
    await t.poll();
    const fund = b.fundTx(s, 10_000n);
    b.mine(1, [fund]); // height 4
    b.mine(1); // height 5
    await t.poll();
    const oldHashes = [b.blocks[4]!.hash, b.blocks[5]!.hash];
    expect(t.transaction(txidHex(fund))!.confirmations).toBe(2);
    // Replace blocks 4 and 5 by a longer branch 4', 5', 6' without the tx.
    b.invalidate(2, true);
    b.mine(3);
    const ev = await t.poll();
    expect(types(ev)).toEqual([
      'block_disconnected',
      'tx_unconfirmed',
      'block_disconnected',
      'block_connected',
      'block_connected',
      'block_connected',
      'tx_dropped',
    ]);
    expect(ev[0]).toEqual({ type: 'block_disconnected', block: { height: 5, hash: oldHashes[1] } });
    expect(ev[1]).toMatchObject({
      type: 'tx_unconfirmed',
      txid: txidHex(fund),
      block: { height: 4, hash: oldHashes[0] },
    });
    expect(t.tip()).toEqual({ height: 6, hash: b.blocks[6]!.hash });
    expect(t.transaction(txidHex(fund))).toBeUndefined();
    // The fork point was found with few hash look-ups, not a rescan from the start.
  });

  it('re-confirms a reorged tx that is mined again in the new branch', async () => {
    const b = new FakeBackend();
    const s = script(3);
    const t = new ChainTracker(b);
    t.watchScript(s);
    await t.poll();
    const fund = b.fundTx(s, 10_000n);
    b.mine(1, [fund]);
    await t.poll();
    b.invalidate(1); // tx back to the mempool
    b.mine(2);
    const ev = await t.poll();
    expect(types(ev)).toEqual([
      'tx_unconfirmed',
      'block_disconnected',
      'block_connected',
      'tx_confirmed',
      'block_connected',
    ]);
    expect(t.transaction(txidHex(fund))!.block).toEqual({ height: 1, hash: b.blocks[1]!.hash });
  });

  it('fails typed when the reorg is deeper than the kept history', async () => {
    const b = new FakeBackend();
    const t = new ChainTracker(b, { maxReorgDepth: 2 });
    await t.poll();
    b.mine(5);
    await t.poll();
    b.invalidate(4);
    b.mine(5);
    await expect(t.poll()).rejects.toMatchObject({ code: 'CHAIN_REORG_TOO_DEEP' });
  });
});

describe('ChainTracker watches and mempool', () => {
  it('reports mempool txs, outpoint spends and confirmations; drops replaced txs', async () => {
    const b = new FakeBackend();
    const s = script(4);
    const t = new ChainTracker(b);
    t.watchScript(s);
    await t.poll();
    const fund = b.fundTx(s, 100_000n);
    b.mine(1, [fund]);
    const ev1 = await t.poll();
    expect(types(ev1)).toEqual(['block_connected', 'tx_confirmed']);
    // Its output to the watched script is now a watched outpoint: a spend is reported.
    const pay = spend(fund, 0, script(99), 90_000n);
    b.mempool.set(txidHex(pay), pay);
    const ev2 = await t.poll();
    expect(ev2).toEqual([
      { type: 'tx_mempool', txid: txidHex(pay), tx: pay },
      {
        type: 'outpoint_spent',
        outpoint: { txid: txidHex(fund), vout: 0 },
        txid: txidHex(pay),
        inputIndex: 0,
        block: undefined,
      },
    ]);
    expect(t.spendOf({ txid: txidHex(fund), vout: 0 })).toMatchObject({
      txid: txidHex(pay),
      confirmations: 0,
    });
    // A conflicting tx confirms: the mempool one is dropped as replaced.
    const other = spend(fund, 0, script(98), 80_000n);
    b.mempool.clear();
    b.mine(1, [other]);
    const ev3 = await t.poll();
    expect(types(ev3)).toEqual(['block_connected', 'tx_confirmed', 'tx_dropped', 'outpoint_spent']);
    expect(ev3[2]).toMatchObject({ txid: txidHex(pay), replacedBy: txidHex(other) });
    expect(t.spendOf({ txid: txidHex(fund), vout: 0 })).toMatchObject({
      txid: txidHex(other),
      confirmations: 1,
    });
  });

  it('drops an unconfirmed tx evicted from the mempool', async () => {
    const b = new FakeBackend();
    const s = script(5);
    const t = new ChainTracker(b);
    t.watchScript(s);
    await t.poll();
    const id = b.fund(s, 5_000n);
    expect(types(await t.poll())).toEqual(['tx_mempool']);
    b.mempool.delete(id);
    expect(types(await t.poll())).toEqual(['tx_dropped']);
    expect(t.transactions()).toEqual([]);
  });

  it('lets a listener extend the watch set while a block is scanned', async () => {
    const b = new FakeBackend();
    const s1 = script(6);
    const s2 = script(7);
    const t = new ChainTracker(b);
    t.watchScript(s1);
    t.subscribe((e) => {
      if (e.type === 'tx_confirmed' && toHex(e.tx.outputs[0]!.scriptPubKey) === toHex(s1)) t.watchScript(s2);
    });
    await t.poll();
    const later = b.fundTx(s2, 1_000n);
    const first = b.fundTx(s1, 1_000n);
    b.mine(1, [later, first]); // the s2 payment comes first in the block
    await t.poll();
    expect(t.transaction(txidHex(later))?.confirmations).toBe(1);
  });

  it('clamps fee estimates to 253 sat/kw and uses the fallback', async () => {
    const b = new FakeBackend();
    const t = new ChainTracker(b, { fallbackFeeRate: 1000n });
    expect(await t.estimateFeeRate(6)).toBe(1000n);
    b.feeRate = 100n;
    expect(await t.estimateFeeRate(6)).toBe(253n);
    b.feeRate = 7_500n;
    expect(await t.estimateFeeRate(2)).toBe(7_500n);
    await expect(new ChainTracker(new FakeBackend()).estimateFeeRate(1)).resolves.toBe(253n);
  });
});

describe('startPolling', () => {
  it('polls on a timer, reports events and errors, and stops', async () => {
    const { startPolling } = await import('../../src/node/chain/poller.js');
    const b = new FakeBackend();
    const t = new ChainTracker(b);
    const seen: string[] = [];
    const errors: unknown[] = [];
    const p = startPolling(t, {
      intervalMs: 5,
      onEvents: (ev) => seen.push(...types(ev)),
      onError: (e) => errors.push(e),
    });
    await new Promise((r) => setTimeout(r, 20));
    b.mine(2);
    for (let i = 0; i < 100 && seen.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
    expect(seen).toEqual(['block_connected', 'block_connected']);
    const orig = b.getTip.bind(b);
    b.getTip = async () => {
      throw new Error('down');
    };
    for (let i = 0; i < 100 && errors.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect((errors[0] as Error).message).toBe('down');
    b.getTip = orig;
    await p.stop();
    const calls = b.calls;
    await new Promise((r) => setTimeout(r, 30));
    expect(b.calls).toBe(calls);
  });
});
