/**
 * The on-chain wallet against the devnet over real HTTP, once per chain-source adapter:
 * receive, send, RBF bump, CPFP with balances exact to the satoshi (fees recomputed from the
 * transactions' actual inputs and outputs), typed errors, and a reorg the balance follows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BitcoindBackend, bitcoindChainSource } from '../../src/adapters/chain/bitcoind.js';
import { esploraChainSource } from '../../src/adapters/chain/esplora.js';
import { type Devnet, startDevnet } from '../../src/apps/devnet/index.js';
import { DustOutputError, FeeTooLowError, InsufficientFundsError } from '../../src/core/wallet/errors.js';
import { feeForWeight } from '../../src/core/wallet/fees.js';
import { mnemonicFromEntropy } from '../../src/core/wallet/keys.js';
import type { ChainTracker } from '../../src/node/chain/tracker.js';
import type { ChainEvent } from '../../src/node/ports/chain.js';
import { OnchainWallet } from '../../src/node/wallet/wallet.js';
import { toHex } from '../../src/protocol/encoding/bytes.js';
import type { Transaction } from '../../src/protocol/tx/transaction.js';

let d: Devnet;
let rpc: BitcoindBackend;

beforeAll(async () => {
  d = await startDevnet();
  rpc = new BitcoindBackend({ url: d.rpcUrl });
  d.mine(101);
});
afterAll(() => d.stop());

type Kind = 'bitcoind' | 'esplora';

async function makeWallet(kind: Kind, seedByte: number): Promise<{ w: OnchainWallet; chain: ChainTracker }> {
  const startHeight = (await rpc.getTip()).height;
  const chain =
    kind === 'bitcoind'
      ? bitcoindChainSource({ url: d.rpcUrl, startHeight })
      : esploraChainSource({ url: d.esploraUrl, network: 'regtest', startHeight });
  const mnemonic = mnemonicFromEntropy(new Uint8Array(16).fill(seedByte));
  const w = new OnchainWallet({ mnemonic, network: 'regtest', chain });
  await w.sync();
  return { w, chain };
}

/** Fee of `tx` recomputed from its actual prevouts (fetched from the devnet) and outputs. */
async function actualFee(tx: Transaction): Promise<bigint> {
  let fee = 0n;
  for (const i of tx.inputs) {
    const prev = await rpc.getTransaction(toHex(i.txid));
    fee += prev!.outputs[i.vout]!.value;
  }
  for (const o of tx.outputs) fee -= o.value;
  return fee;
}

for (const [kind, seed] of [
  ['bitcoind', 1],
  ['esplora', 2],
] as const) {
  describe(`wallet over ${kind}`, () => {
    let w: OnchainWallet;
    let chain: ChainTracker;
    beforeAll(async () => {
      ({ w, chain } = await makeWallet(kind, seed));
    });

    it('receives: unconfirmed, then confirmed', async () => {
      const addr = w.newAddress();
      d.fund(addr, 300_000n);
      await w.sync();
      expect(w.balances()).toEqual({ confirmed: 0n, unconfirmed: 300_000n, reserved: 0n, total: 300_000n });
      d.mine(1);
      await w.sync();
      expect(w.balances()).toEqual({ confirmed: 300_000n, unconfirmed: 0n, reserved: 0n, total: 300_000n });
    });

    it('sends: new balance = old - amount - fee, exact to the satoshi', async () => {
      const before = w.balances().total;
      const r = await w.send({ address: d.minerAddress, amount: 50_000n });
      const fee = await actualFee(r.tx);
      expect(r.fee).toBe(fee);
      expect(fee).toBeGreaterThanOrEqual(feeForWeight(r.weight, await chain.estimateFeeRate(6)));
      await w.sync();
      expect(w.balances().total).toBe(before - 50_000n - fee);
      d.mine(1);
      await w.sync();
      expect(w.balances()).toEqual({
        confirmed: before - 50_000n - fee,
        unconfirmed: 0n,
        reserved: 0n,
        total: before - 50_000n - fee,
      });
      expect(await chain.backend.txStatus(r.txid)).toBe('confirmed');
    });

    it('RBF: the replacement confirms, the original does not; balance exact', async () => {
      const before = w.balances().total;
      const orig = await w.send({ address: d.minerAddress, amount: 40_000n, feeRate: 253n });
      const bump = await w.bumpFee(orig.txid, 2_500n);
      const fee = await actualFee(bump.tx);
      expect(bump.fee).toBe(fee);
      expect(fee).toBeGreaterThanOrEqual(orig.fee + BigInt(bump.vsize)); // BIP125 rule 4
      expect(bump.tx.inputs.map((i) => `${toHex(i.txid)}:${i.vout}`)).toEqual(
        orig.tx.inputs.map((i) => `${toHex(i.txid)}:${i.vout}`),
      );
      await w.sync();
      expect(await chain.backend.txStatus(orig.txid)).toBe('unknown');
      d.mine(1);
      await w.sync();
      expect(await chain.backend.txStatus(bump.txid)).toBe('confirmed');
      expect(await chain.backend.txStatus(orig.txid)).toBe('unknown');
      expect(chain.transaction(orig.txid)).toBeUndefined();
      expect(w.balances()).toMatchObject({ confirmed: before - 40_000n - fee, unconfirmed: 0n });
    });

    it('CPFP: the child lifts the package fee rate; balance exact', async () => {
      const before = w.balances().total;
      const parent = await w.send({ address: d.minerAddress, amount: 30_000n, feeRate: 253n });
      const child = await w.cpfp(parent.txid, 5_000n); // 20 sat/vB
      const parentFee = await actualFee(parent.tx);
      const childFee = await actualFee(child.tx);
      expect([parent.fee, child.fee]).toEqual([parentFee, childFee]);
      // The devnet's own view of the package (Core's getmempoolentry format, amounts in BTC).
      const pe = await rpc.call<{ vsize: number; fees: { base: number } }>('getmempoolentry', [parent.txid]);
      const ce = await rpc.call<{ ancestorsize: number; fees: { ancestor: number } }>('getmempoolentry', [
        child.txid,
      ]);
      expect(Math.round(pe.fees.base * 1e8) / pe.vsize).toBeLessThan(2);
      const ancestorFee = BigInt(Math.round(ce.fees.ancestor * 1e8));
      expect(ancestorFee).toBe(parentFee + childFee);
      expect(Number(ancestorFee) / ce.ancestorsize).toBeGreaterThanOrEqual(20);
      d.mine(1);
      await w.sync();
      expect(await chain.backend.txStatus(parent.txid)).toBe('confirmed');
      expect(await chain.backend.txStatus(child.txid)).toBe('confirmed');
      expect(w.balances()).toMatchObject({
        confirmed: before - 30_000n - parentFee - childFee,
        unconfirmed: 0n,
      });
    });

    it('raises typed errors for insufficient funds, dust and below-minimum fees', async () => {
      const have = w.balances().confirmed;
      const e = await w.send({ address: d.minerAddress, amount: have + 1n }).catch((x) => x);
      expect(e).toBeInstanceOf(InsufficientFundsError);
      expect(e.available).toBe(have);
      expect(e.needed).toBeGreaterThan(have);
      await expect(w.send({ address: d.minerAddress, amount: 293n })).rejects.toBeInstanceOf(DustOutputError);
      await expect(
        w.send({ address: d.minerAddress, amount: 10_000n, feeRate: 200n }),
      ).rejects.toBeInstanceOf(FeeTooLowError);
      expect(w.balances().confirmed).toBe(have);
    });
  });
}

describe('reorg followed by both chain sources', () => {
  it('a confirmed send whose block is replaced is reported disconnected and the balance follows', async () => {
    const a = await makeWallet('bitcoind', 7);
    const b = await makeWallet('esplora', 7); // same seed, other chain source
    d.fund(a.w.newAddress(), 200_000n);
    d.mine(1);
    await Promise.all([a.w.sync(), b.w.sync()]);
    expect(a.w.balances().confirmed).toBe(200_000n);
    expect(b.w.balances().confirmed).toBe(200_000n);

    const sent = await a.w.send({ address: d.minerAddress, amount: 60_000n, feeRate: 1_000n });
    const [x] = d.mine(1);
    await Promise.all([a.w.sync(), b.w.sync()]);
    for (const s of [a, b]) {
      expect(s.chain.transaction(sent.txid)!.block?.hash).toBe(x);
      expect(s.w.balances()).toMatchObject({ confirmed: 140_000n - sent.fee, unconfirmed: 0n });
    }

    // Invalidate the block: the send is unconfirmed again (back in the devnet's mempool).
    await rpc.call('invalidateblock', [x]);
    const evs = await Promise.all([a.w.sync(), b.w.sync()]);
    for (const ev of evs) {
      const types = ev.map((e: ChainEvent) => `${e.type}:${'txid' in e ? e.txid : e.block.hash}`);
      expect(types).toEqual([`tx_unconfirmed:${sent.txid}`, `block_disconnected:${x}`]);
    }
    for (const s of [a, b]) {
      expect(s.w.balances()).toMatchObject({ confirmed: 0n, unconfirmed: 140_000n - sent.fee });
    }

    // Replace it (RBF) and mine a longer branch: the original never confirms.
    const bump = await a.w.bumpFee(sent.txid, 3_000n);
    const branch = d.mine(2);
    await Promise.all([a.w.sync(), b.w.sync()]);
    const fee = await actualFee(bump.tx);
    for (const s of [a, b]) {
      expect(s.chain.transaction(sent.txid)).toBeUndefined();
      expect(s.chain.transaction(bump.txid)!.block?.hash).toBe(branch[0]);
      expect(s.w.balances()).toEqual({
        confirmed: 140_000n - fee,
        unconfirmed: 0n,
        reserved: 0n,
        total: 140_000n - fee,
      });
    }
    expect(await rpc.txStatus(sent.txid)).toBe('unknown');
  });
});
