import { describe, expect, it } from 'vitest';
import {
  DustOutputError,
  FeeTooLowError,
  InsufficientFundsError,
  InvalidAddressError,
} from '../../src/core/wallet/errors.js';
import { feeForWeight } from '../../src/core/wallet/fees.js';
import { Bip84Account } from '../../src/core/wallet/keys.js';
import { ChainTracker } from '../../src/node/chain/tracker.js';
import { OnchainWallet } from '../../src/node/wallet/wallet.js';
import { toHex } from '../../src/protocol/encoding/bytes.js';
import { addressToScript } from '../../src/protocol/tx/address.js';
import { FakeBackend } from '../chain/fake-backend.js';

const MNEMONIC =
  'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about';
const OTHER = Bip84Account.fromMnemonic(
  'legal winner thank year wave sausage worth useful legal winner thank yellow',
  'regtest',
);

async function setup(reserveSats = 0n) {
  const b = new FakeBackend();
  b.mine(10);
  const chain = new ChainTracker(b);
  const w = new OnchainWallet({ mnemonic: MNEMONIC, network: 'regtest', chain, reserveSats });
  await w.sync();
  return { b, chain, w };
}

async function funded(amounts: bigint[], reserveSats = 0n) {
  const s = await setup(reserveSats);
  for (const a of amounts) s.b.fund(addressToScript(s.w.newAddress(), 'regtest'), a);
  await s.w.sync();
  s.b.mine(1);
  await s.w.sync();
  return s;
}

const dest = OTHER.key(0, 0).address;

describe('OnchainWallet (in-memory chain)', () => {
  it('receives: unconfirmed then confirmed', async () => {
    const { b, w } = await setup();
    const addr = w.newAddress();
    expect(addr).toBe(w.key(0, 0).address);
    expect(w.newAddress()).toBe(w.key(0, 1).address);
    b.fund(addressToScript(addr, 'regtest'), 100_000n);
    await w.sync();
    expect(w.balances()).toEqual({ confirmed: 0n, unconfirmed: 100_000n, reserved: 0n, total: 100_000n });
    expect(w.utxos()[0]!.trusted).toBe(false);
    b.mine(1);
    await w.sync();
    expect(w.balances()).toEqual({ confirmed: 100_000n, unconfirmed: 0n, reserved: 0n, total: 100_000n });
  });

  it('sends with exact accounting and trusts its own change', async () => {
    const { b, w } = await funded([100_000n]);
    const r = await w.send({ address: dest, amount: 30_000n, feeRate: 1_000n });
    const fee = 100_000n - r.tx.outputs.reduce((a, o) => a + o.value, 0n);
    expect(r.fee).toBe(fee);
    expect(fee).toBeGreaterThanOrEqual(feeForWeight(r.weight, 1_000n));
    expect(r.tx.outputs[0]).toEqual({ value: 30_000n, scriptPubKey: addressToScript(dest, 'regtest') });
    expect(toHex(r.tx.outputs[r.changeVout!]!.scriptPubKey)).toBe(toHex(w.key(1, 0).script));
    expect(w.balances()).toEqual({
      confirmed: 0n,
      unconfirmed: 70_000n - fee,
      reserved: 0n,
      total: 70_000n - fee,
    });
    expect(w.utxos()[0]!.trusted).toBe(true);
    // Own unconfirmed change is spendable.
    const r2 = await w.send({ address: dest, amount: 10_000n, feeRate: 1_000n });
    b.mine(1);
    await w.sync();
    expect(w.balances().confirmed).toBe(100_000n - 40_000n - fee - r2.fee);
    expect(w.balances().unconfirmed).toBe(0n);
  });

  it('bumps a fee with RBF; the original is dropped and the replacement confirms', async () => {
    const { b, chain, w } = await funded([100_000n]);
    const orig = await w.send({ address: dest, amount: 30_000n, feeRate: 253n });
    const bump = await w.bumpFee(orig.txid, 2_500n);
    expect(bump.fee).toBeGreaterThan(orig.fee);
    expect(bump.fee).toBeGreaterThanOrEqual(orig.fee + BigInt(bump.vsize));
    expect(bump.tx.inputs.map((i) => toHex(i.txid))).toEqual(orig.tx.inputs.map((i) => toHex(i.txid)));
    expect(chain.transaction(orig.txid)).toBeUndefined();
    expect(w.balances().total).toBe(70_000n - bump.fee);
    b.mine(1);
    await w.sync();
    expect(chain.transaction(bump.txid)!.confirmations).toBe(1);
    expect(w.balances()).toEqual({
      confirmed: 70_000n - bump.fee,
      unconfirmed: 0n,
      reserved: 0n,
      total: 70_000n - bump.fee,
    });
    await expect(w.bumpFee(bump.txid, 5_000n)).rejects.toMatchObject({ code: 'WALLET_CANNOT_BUMP' });
  });

  it('CPFP: a child lifts the package fee rate to the target', async () => {
    const { b, w } = await funded([100_000n]);
    const parent = await w.send({ address: dest, amount: 30_000n, feeRate: 253n });
    const child = await w.cpfp(parent.txid, 5_000n);
    expect(child.tx.inputs.some((i) => toHex(i.txid) === parent.txid)).toBe(true);
    expect(child.tx.outputs).toHaveLength(1);
    expect(child.packageFee).toBe(parent.fee + child.fee);
    expect(child.packageVsize).toBe(parent.vsize + child.vsize);
    expect(child.packageFeeRate).toBeGreaterThanOrEqual(5_000n);
    expect(w.balances().total).toBe(70_000n - parent.fee - child.fee);
    b.mine(1);
    await w.sync();
    expect(w.balances().confirmed).toBe(70_000n - parent.fee - child.fee);
  });

  it('keeps a reserve of confirmed coins out of normal sends', async () => {
    const { w } = await funded([100_000n, 60_000n], 50_000n);
    expect(w.balances()).toEqual({
      confirmed: 100_000n,
      unconfirmed: 0n,
      reserved: 60_000n,
      total: 160_000n,
    });
    await expect(w.send({ address: dest, amount: 120_000n, feeRate: 253n })).rejects.toBeInstanceOf(
      InsufficientFundsError,
    );
    const r = await w.send({ address: dest, amount: 120_000n, feeRate: 253n, allowReserve: true });
    expect(r.tx.inputs).toHaveLength(2);
  });

  it('raises typed errors for dust, low fees, bad addresses and insufficient funds', async () => {
    const { w } = await funded([50_000n]);
    await expect(w.send({ address: dest, amount: 293n, feeRate: 1000n })).rejects.toMatchObject({
      name: 'DustOutputError',
      value: 293n,
      dustLimit: 294n,
    });
    await expect(w.send({ address: dest, amount: 293n })).rejects.toBeInstanceOf(DustOutputError);
    await expect(w.send({ address: dest, amount: 10_000n, feeRate: 252n })).rejects.toBeInstanceOf(
      FeeTooLowError,
    );
    await expect(
      w.send({ address: 'bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu', amount: 10_000n }),
    ).rejects.toBeInstanceOf(InvalidAddressError);
    await expect(w.send({ address: 'nonsense', amount: 10_000n })).rejects.toBeInstanceOf(
      InvalidAddressError,
    );
    const e = await w.send({ address: dest, amount: 60_000n, feeRate: 1000n }).catch((x) => x);
    expect(e).toBeInstanceOf(InsufficientFundsError);
    expect(e.available).toBe(50_000n);
    expect(e.needed).toBeGreaterThan(60_000n);
  });

  it('extends the gap limit while scanning and ignores payments beyond it', async () => {
    const { b, w } = await setup();
    const far = w.key(0, 25).script; // beyond the initial window 0..19
    const near = w.key(0, 10).script;
    const tooFar = w.key(0, 60).script;
    b.mine(1, [b.fundTx(far, 1_000n), b.fundTx(near, 2_000n), b.fundTx(tooFar, 4_000n)]);
    await w.sync();
    expect(w.balances().confirmed).toBe(3_000n);
    expect(w.isMine(w.key(0, 45).script)).toBe(true);
    expect(w.isMine(w.key(0, 46).script)).toBe(false);
  });

  it('follows a reorg that removes its funding', async () => {
    const { b, w } = await funded([80_000n]);
    expect(w.balances().confirmed).toBe(80_000n);
    b.invalidate(1, true);
    b.mine(2);
    await w.sync();
    expect(w.balances().total).toBe(0n);
  });
});
