/**
 * Devnet reorgs (invalidateblock + a longer competing branch), persistence across a restart
 * with --data-dir, and time-based relative locks (BIP68 with BIP113 median time past).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Devnet, startDevnet } from '../../src/apps/devnet/index.js';
import { toHex } from '../../src/protocol/encoding/bytes.js';
import { num, OP, raw, script } from '../../src/protocol/tx/script.js';
import { txid } from '../../src/protocol/tx/transaction.js';
import { findOutput, hex, key, RpcClient, sigFor, spendP2wpkh, unsigned, wsh } from './helpers.js';

const alice = key('reorg-alice');
const bob = key('reorg-bob');

describe('devnet reorg', () => {
  let devnet: Devnet;
  let rpc: RpcClient;
  beforeAll(async () => {
    devnet = await startDevnet();
    rpc = new RpcClient(devnet.rpcUrl);
  });
  afterAll(() => devnet.stop());

  it('returns the txs of an invalidated block to the mempool and lets a longer branch win', async () => {
    const f = await rpc.call('devnet_fund', alice.address, '500000');
    await rpc.call('devnet_mine', 1);
    const prev = await findOutput(rpc, f.txid, alice.script);
    const tx = spendP2wpkh(prev, alice, [{ value: 499_000n, scriptPubKey: bob.script }]);
    const id = await rpc.call('sendrawtransaction', hex(tx));
    const [x] = await rpc.call('generatetoaddress', 1, bob.address);
    const [y] = await rpc.call('generatetoaddress', 1, bob.address);
    expect((await rpc.call('getblock', x, 1)).tx).toContain(id);
    const forkHeight = (await rpc.call('getblockheader', x)).height as number;
    const parent = (await rpc.call('getblockheader', x)).previousblockhash as string;

    expect(await rpc.call('invalidateblock', x)).toBeNull();
    expect(await rpc.call('getbestblockhash')).toBe(parent);
    expect(await rpc.call('getblockcount')).toBe(forkHeight - 1);
    expect(await rpc.call('getrawmempool')).toContain(id);
    const unconf = await rpc.call('getrawtransaction', id, true);
    expect(unconf.confirmations).toBeUndefined();
    expect((await rpc.call('getblockheader', x)).confirmations).toBe(-1);
    expect(await rpc.call('gettxout', id, 0, false)).toBeNull();
    expect((await rpc.call('gettxout', id, 0, true)).confirmations).toBe(0);

    // A competing branch, longer than the dropped one (2 blocks), confirms the tx again.
    const branch = await rpc.call('generatetoaddress', 3, alice.address);
    expect(await rpc.call('getblockcount')).toBe(forkHeight + 2);
    expect(await rpc.call('getbestblockhash')).toBe(branch[2]);
    expect((await rpc.call('getblock', branch[0], 1)).tx).toContain(id);
    expect(await rpc.call('getrawmempool')).not.toContain(id);
    const again = await rpc.call('getrawtransaction', id, true);
    expect(again.blockhash).toBe(branch[0]);
    expect(again.confirmations).toBe(3);
    const tips = (await rpc.call('getchaintips')) as { hash: string; status: string; branchlen: number }[];
    expect(tips.find((t) => t.hash === y)).toMatchObject({ status: 'invalid', branchlen: 2 });
    expect(tips.find((t) => t.status === 'active')?.hash).toBe(branch[2]);

    // Esplora follows the reorg.
    const st = await (await fetch(`${devnet.esploraUrl}/tx/${id}/status`)).json();
    expect(st).toMatchObject({ confirmed: true, block_hash: branch[0], block_height: forkHeight });
    const bs = await (await fetch(`${devnet.esploraUrl}/block/${x}/status`)).json();
    expect(bs).toEqual({ in_best_chain: false, height: forkHeight, next_best: null });

    // reconsiderblock: the old branch (now shorter) stays inactive.
    await rpc.call('reconsiderblock', x);
    expect(await rpc.call('getbestblockhash')).toBe(branch[2]);
  });

  it('drops a mempool tx spending a coinbase that a reorg made immature', async () => {
    const [cbBlock] = await rpc.call('generatetoaddress', 1, alice.address);
    await rpc.call('devnet_mine', 99);
    const cbTxid = (await rpc.call('getblock', cbBlock, 1)).tx[0];
    const cb = await findOutput(rpc, cbTxid, alice.script);
    const spend = spendP2wpkh(cb, alice, [{ value: cb.value - 1_000n, scriptPubKey: bob.script }]);
    const id = await rpc.call('sendrawtransaction', hex(spend));
    const tip = await rpc.call('getbestblockhash');
    await rpc.call('invalidateblock', tip);
    expect(await rpc.call('getrawmempool')).not.toContain(id);
  });
});

describe('devnet time-based relative lock (BIP68 type flag, MTP)', () => {
  it('rejects a 512-second CSV spend until the median time past has advanced', async () => {
    const devnet = await startDevnet();
    try {
      const rpc = new RpcClient(devnet.rpcUrl);
      const k = key('csv-time');
      const seq = (1 << 22) | 1; // one 512-second unit
      const ws = script(raw(num(seq)), OP.OP_CHECKSEQUENCEVERIFY, OP.OP_DROP, k.pub, OP.OP_CHECKSIG);
      const out = wsh(ws);
      const f = devnet.fund(out.address, 100_000n);
      devnet.mine(1);
      const prev = await findOutput(rpc, f, out.script);
      const tx = unsigned([prev], [{ value: 99_000n, scriptPubKey: bob.script }], { sequence: seq });
      tx.inputs[0]!.witness = [sigFor(tx, 0, ws, prev.value, k.priv), ws];
      expect(await rpc.error('sendrawtransaction', hex(tx))).toEqual({
        code: -26,
        message: 'non-BIP68-final',
      });
      // Mining quickly moves the MTP one second per block; jump the clock instead. 300 s is
      // not enough for one 512-second unit, another 600 s is.
      await rpc.call('devnet_advancetime', 300);
      await rpc.call('devnet_mine', 11);
      expect((await rpc.error('sendrawtransaction', hex(tx))).message).toBe('non-BIP68-final');
      await rpc.call('devnet_advancetime', 600);
      await rpc.call('devnet_mine', 11);
      expect(await rpc.call('sendrawtransaction', hex(tx))).toBe(toHex(txid(tx)));
    } finally {
      await devnet.stop();
    }
  });
});

describe('devnet persistence', () => {
  it('keeps the tip, the UTXO set and the mempool across a restart with a data dir', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'farad-devnet-'));
    try {
      const d1 = await startDevnet({ dataDir: dir });
      const f = d1.fund(alice.address, 250_000n);
      const hashes = d1.mine(2);
      const pending = d1.fund(bob.address, 50_000n);
      // A reorg is persisted too.
      d1.chain.invalidateBlock(hashes[1]!);
      const tip = d1.chain.tip.hash;
      const height = d1.chain.height;
      await d1.stop();

      const d2 = await startDevnet({ dataDir: dir });
      try {
        const rpc = new RpcClient(d2.rpcUrl);
        expect(await rpc.call('getbestblockhash')).toBe(tip);
        expect(await rpc.call('getblockcount')).toBe(height);
        expect((await rpc.call('getrawtransaction', f, true)).confirmations).toBe(1);
        expect(await rpc.call('getrawmempool')).toContain(pending);
        expect((await rpc.call('getblockheader', hashes[1])).confirmations).toBe(-1);
        // And it keeps working: mine on top.
        const [h] = await rpc.call('devnet_mine', 1);
        expect(await rpc.call('getblockcount')).toBe(height + 1);
        expect((await rpc.call('getblock', h, 1)).tx).toContain(pending);
      } finally {
        await d2.stop();
      }
      const d3 = await startDevnet({ dataDir: dir });
      expect(d3.chain.height).toBe(height + 1);
      await d3.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
