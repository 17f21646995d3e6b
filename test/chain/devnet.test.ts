/**
 * Both chain-source adapters against the devnet over real HTTP (bitcoind JSON-RPC and Esplora
 * REST): tip tracking, reorg reporting, fee estimates and typed broadcast rejections.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BitcoindBackend, bitcoindChainSource } from '../../src/adapters/chain/bitcoind.js';
import { esploraChainSource } from '../../src/adapters/chain/esplora.js';
import { type Devnet, startDevnet } from '../../src/apps/devnet/index.js';
import { signP2wpkh } from '../../src/core/wallet/build.js';
import { Bip84Account } from '../../src/core/wallet/keys.js';
import type { ChainTracker } from '../../src/node/chain/tracker.js';
import { BroadcastError, type ChainEvent } from '../../src/node/ports/chain.js';
import { fromHex } from '../../src/protocol/encoding/bytes.js';
import { type Transaction, txidHex } from '../../src/protocol/tx/transaction.js';

let d: Devnet;
let rpc: BitcoindBackend;
const acct = new Bip84Account(fromHex('11'.repeat(32)), 'regtest');

function sources(): [[string, ChainTracker], [string, ChainTracker]] {
  return [
    ['bitcoind', bitcoindChainSource({ url: d.rpcUrl, timeoutMs: 10_000 })],
    ['esplora', esploraChainSource({ url: d.esploraUrl, network: 'regtest', timeoutMs: 10_000 })],
  ];
}

const brief = (ev: ChainEvent[]) =>
  ev.map((e) => {
    switch (e.type) {
      case 'block_connected':
      case 'block_disconnected':
        return `${e.type}:${e.block.height}:${e.block.hash}`;
      case 'tx_confirmed':
      case 'tx_unconfirmed':
        return `${e.type}:${e.txid}:${e.block.hash}`;
      default:
        return `${e.type}:${'txid' in e ? e.txid : ''}`;
    }
  });

beforeAll(async () => {
  d = await startDevnet();
  rpc = new BitcoindBackend({ url: d.rpcUrl });
  d.mine(101);
});
afterAll(() => d.stop());

describe('chain sources on the devnet', () => {
  it('track the tip by polling', async () => {
    const srcs = sources();
    for (const [, s] of srcs) expect(await s.poll()).toEqual([]);
    const tip = await rpc.getTip();
    for (const [, s] of srcs) expect(s.tip()).toEqual(tip);
    const hashes = d.mine(3);
    for (const [, s] of srcs) {
      const ev = await s.poll();
      expect(ev).toHaveLength(3);
      expect(ev.map((e) => (e.type === 'block_connected' ? e.block : undefined))).toEqual(
        hashes.map((hash, i) => ({ height: tip.height + 1 + i, hash })),
      );
    }
  });

  it('report a confirmed tx whose block is invalidated and replaced by a longer branch as disconnected', async () => {
    const srcs = sources();
    const key = acct.key(0, 0);
    for (const [, s] of srcs) {
      s.watchScript(key.script);
      await s.poll();
    }
    const txid = d.fund(key.address, 50_000n);
    for (const [, s] of srcs) expect(brief(await s.poll())).toEqual([`tx_mempool:${txid}`]);
    const [x] = d.mine(1);
    const h = (await rpc.getTip()).height;
    for (const [, s] of srcs) {
      expect(brief(await s.poll())).toEqual([`block_connected:${h}:${x}`, `tx_confirmed:${txid}:${x}`]);
      expect(s.transaction(txid)!.confirmations).toBe(1);
    }
    await rpc.call('invalidateblock', [x]);
    const branch = d.mine(2); // the tx returns to the mempool and is mined again in the new branch
    expect(branch[0]).not.toBe(x);
    for (const [name, s] of srcs) {
      const ev = brief(await s.poll());
      expect({ name, ev }).toEqual({
        name,
        ev: [
          `tx_unconfirmed:${txid}:${x}`,
          `block_disconnected:${h}:${x}`,
          `block_connected:${h}:${branch[0]}`,
          `tx_confirmed:${txid}:${branch[0]}`,
          `block_connected:${h + 1}:${branch[1]}`,
        ],
      });
      expect(s.transaction(txid)).toMatchObject({ block: { height: h, hash: branch[0] }, confirmations: 2 });
    }
  });

  it('agree on fee estimates in sat/kw (>= 253)', async () => {
    const [[, a], [, b]] = sources();
    for (const target of [1, 2, 6, 144]) {
      const ra = await a.estimateFeeRate(target);
      expect(ra).toBeGreaterThanOrEqual(253n);
      expect(await b.estimateFeeRate(target)).toBe(ra);
    }
  });

  it('map rejected broadcasts to typed BroadcastErrors', async () => {
    const key = acct.key(0, 1);
    const fundTxid = d.fund(key.address, 100_000n);
    d.mine(1);
    const fundTx = (await rpc.getTransaction(fundTxid))!;
    const vout = fundTx.outputs.findIndex((o) => o.value === 100_000n);
    const input = { txid: fundTxid, vout, value: 100_000n, script: key.script };
    const sign = (outputs: { value: bigint; scriptPubKey: Uint8Array }[], inputs = [input]) =>
      signP2wpkh({ inputs, outputs, locktime: 0 }, () => acct.privateKey(0, 1)).tx;
    const to = acct.key(0, 2).script;
    const zeroFee = sign([{ value: 100_000n, scriptPubKey: to }]);
    const dust = sign([
      { value: 100n, scriptPubKey: to },
      { value: 99_000n, scriptPubKey: to },
    ]);
    const good = sign([{ value: 99_000n, scriptPubKey: to }]);
    const badSig: Transaction = {
      ...good,
      inputs: good.inputs.map((i) => {
        const sig = Uint8Array.from(i.witness[0]!);
        sig[10] = sig[10]! ^ 1;
        return { ...i, witness: [sig, i.witness[1]!] };
      }),
    };
    const missing = sign([{ value: 90_000n, scriptPubKey: to }], [{ ...input, txid: 'ab'.repeat(32) }]);
    const nonFinal = signP2wpkh(
      { inputs: [input], outputs: [{ value: 99_000n, scriptPubKey: to }], locktime: 1_000_000 },
      () => acct.privateKey(0, 1),
    ).tx;
    for (const [name, s] of sources()) {
      const reason = async (tx: Transaction) => {
        const e = await s.broadcast(tx).then(
          () => undefined,
          (x) => x,
        );
        expect(e, name).toBeInstanceOf(BroadcastError);
        return [(e as BroadcastError).reason, (e as BroadcastError).rpcCode];
      };
      expect(await reason(zeroFee)).toEqual(['min-relay-fee', -26]);
      expect(await reason(dust)).toEqual(['dust', -26]);
      expect((await reason(badSig))[0]).toBe('script-verify');
      expect(await reason(missing)).toEqual(['missing-inputs', -25]);
      expect((await reason(nonFinal))[0]).toBe('non-final');
    }
    // A valid spend is accepted once, then confirmed; re-broadcasting it is "already in chain".
    const [[, a], [, b]] = sources();
    expect(await a.broadcast(good)).toBe(txidHex(good));
    d.mine(1);
    for (const s of [a, b]) {
      await expect(s.broadcast(good)).rejects.toMatchObject({ reason: 'already-in-chain', rpcCode: -27 });
    }
  });
});
