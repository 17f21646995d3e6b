/**
 * Devnet consensus and policy over real HTTP JSON-RPC: each rejection carries Bitcoin Core's
 * error code and reject reason, and the same transaction is accepted once it becomes valid.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Devnet, startDevnet } from '../../src/apps/devnet/index.js';
import { dustThreshold, feeForVsize } from '../../src/apps/devnet/policy.js';
import { toHex } from '../../src/protocol/encoding/bytes.js';
import { num, OP, raw, script } from '../../src/protocol/tx/script.js';
import { txid as devnetTxid, vsize } from '../../src/protocol/tx/transaction.js';
import {
  findOutput,
  hex,
  key,
  type Prevout,
  RpcClient,
  sigFor,
  spendP2wpkh,
  unsigned,
  wsh,
} from './helpers.js';

let devnet: Devnet;
let rpc: RpcClient;
const alice = key('alice');
const bob = key('bob');

/** Funds alice with `sats` (confirmed) and returns the prevout. */
async function fundConfirmed(sats: bigint, to = alice): Promise<Prevout> {
  const r = await rpc.call('devnet_fund', to.address, sats.toString());
  await rpc.call('devnet_mine', 1);
  return findOutput(rpc, r.txid, to.script);
}

beforeAll(async () => {
  devnet = await startDevnet();
  rpc = new RpcClient(devnet.rpcUrl);
});
afterAll(async () => {
  await devnet.stop();
});

describe('devnet script verification', () => {
  it('rejects a bad signature (-26 mandatory-script-verify-flag-failed) and accepts the good one', async () => {
    const prev = await fundConfirmed(100_000n);
    const good = spendP2wpkh(prev, alice, [{ value: 99_000n, scriptPubKey: bob.script }]);
    const bad = structuredClone(good);
    const sig = bad.inputs[0]!.witness[0]!;
    sig[sig.length - 5]! ^= 0x01; // one byte of s
    const e = await rpc.error('sendrawtransaction', hex(bad));
    expect(e.code).toBe(-26);
    expect(e.message).toBe(
      'mandatory-script-verify-flag-failed (Signature must be zero for failed CHECK(MULTI)SIG operation)',
    );
    // A signature by the wrong key is equally rejected.
    const wrongKey = spendP2wpkh(prev, { ...alice, priv: bob.priv }, [
      { value: 99_000n, scriptPubKey: bob.script },
    ]);
    expect((await rpc.error('sendrawtransaction', hex(wrongKey))).code).toBe(-26);
    expect(await rpc.call('sendrawtransaction', hex(good))).toBe(toHex(devnetTxid(good)));
  });

  it('verifies a P2WSH 2-of-2 spend and rejects the same witness with one byte changed', async () => {
    const k1 = key('ms1');
    const k2 = key('ms2');
    const ws = script(OP.OP_2, k1.pub, k2.pub, OP.OP_2, OP.OP_CHECKMULTISIG);
    const out = wsh(ws);
    const prev = await fundConfirmed(200_000n, { ...alice, script: out.script, address: out.address });
    const tx = unsigned([prev], [{ value: 199_000n, scriptPubKey: bob.script }]);
    tx.inputs[0]!.witness = [
      new Uint8Array(0),
      sigFor(tx, 0, ws, prev.value, k1.priv),
      sigFor(tx, 0, ws, prev.value, k2.priv),
      ws,
    ];
    // A changed byte in the first signature: signature check fails.
    const badSig = structuredClone(tx);
    badSig.inputs[0]!.witness[1]![10]! ^= 0x40;
    const e1 = await rpc.error('sendrawtransaction', hex(badSig));
    expect(e1.code).toBe(-26);
    expect(e1.message).toMatch(/^mandatory-script-verify-flag-failed \(/);
    // A changed byte in the witness script: program hash mismatch.
    const badScript = structuredClone(tx);
    badScript.inputs[0]!.witness[3]![3]! ^= 0x01;
    const e2 = await rpc.error('sendrawtransaction', hex(badScript));
    expect(e2).toEqual({
      code: -26,
      message: 'mandatory-script-verify-flag-failed (Witness program hash mismatch)',
    });
    // A non-empty CHECKMULTISIG dummy: consensus (NULLDUMMY).
    const badDummy = structuredClone(tx);
    badDummy.inputs[0]!.witness[0] = Uint8Array.of(1);
    expect((await rpc.error('sendrawtransaction', hex(badDummy))).message).toBe(
      'mandatory-script-verify-flag-failed (Dummy CHECKMULTISIG argument must be zero)',
    );
    const accepted = await rpc.call('testmempoolaccept', [hex(tx)]);
    expect(accepted[0].allowed).toBe(true);
    expect(await rpc.call('sendrawtransaction', hex(tx))).toBe(accepted[0].txid);
  });
});

describe('devnet inputs and double spends', () => {
  it('rejects a mempool double spend (-26 insufficient fee) and a confirmed one (-25 missing inputs)', async () => {
    const prev = await fundConfirmed(100_000n);
    const a = spendP2wpkh(prev, alice, [{ value: 99_000n, scriptPubKey: bob.script }]);
    const b = spendP2wpkh(prev, alice, [{ value: 99_000n, scriptPubKey: alice.script }]);
    const aid = await rpc.call('sendrawtransaction', hex(a));
    const e = await rpc.error('sendrawtransaction', hex(b));
    expect(e.code).toBe(-26);
    expect(e.message).toMatch(/^insufficient fee, rejecting replacement [0-9a-f]{64}; new feerate /);
    // With full-RBF off and a non-signalling original, Core says txn-mempool-conflict.
    devnet.chain.fullRbf = false;
    const prev2 = await fundConfirmed(100_000n);
    const c = spendP2wpkh(prev2, alice, [{ value: 99_000n, scriptPubKey: bob.script }], {
      sequence: 0xffffffff,
    });
    const d = spendP2wpkh(prev2, alice, [{ value: 90_000n, scriptPubKey: bob.script }], {
      sequence: 0xffffffff,
    });
    await rpc.call('sendrawtransaction', hex(c));
    expect(await rpc.error('sendrawtransaction', hex(d))).toEqual({
      code: -26,
      message: 'txn-mempool-conflict',
    });
    devnet.chain.fullRbf = true;
    await rpc.call('devnet_mine', 1);
    expect((await rpc.call('getrawtransaction', aid, true)).confirmations).toBeGreaterThanOrEqual(1);
    expect(await rpc.error('sendrawtransaction', hex(b))).toEqual({
      code: -25,
      message: 'bad-txns-inputs-missingorspent',
    });
    // Re-sending a confirmed transaction whose outputs are unspent: -27.
    expect(await rpc.error('sendrawtransaction', hex(a))).toEqual({
      code: -27,
      message: 'Transaction outputs already in utxo set',
    });
    const t = await rpc.call('testmempoolaccept', [hex(b)]);
    expect(t[0]).toMatchObject({ allowed: false, 'reject-reason': 'missing-inputs' });
  });

  it('rejects an immature coinbase spend until it has 100 confirmations', async () => {
    const [h] = await rpc.call('generatetoaddress', 1, alice.address);
    const block = await rpc.call('getblock', h, 1);
    const cb = await findOutput(rpc, block.tx[0], alice.script);
    const spend = spendP2wpkh(cb, alice, [{ value: cb.value - 1_000n, scriptPubKey: bob.script }]);
    const e = await rpc.error('sendrawtransaction', hex(spend));
    expect(e).toEqual({
      code: -26,
      message: 'bad-txns-premature-spend-of-coinbase, tried to spend coinbase at depth 1',
    });
    await rpc.call('devnet_mine', 98);
    expect((await rpc.error('sendrawtransaction', hex(spend))).message).toBe(
      'bad-txns-premature-spend-of-coinbase, tried to spend coinbase at depth 99',
    );
    await rpc.call('devnet_mine', 1);
    expect(await rpc.call('sendrawtransaction', hex(spend))).toBe(toHex(devnetTxid(spend)));
  });

  it('rejects outputs above inputs (bad-txns-in-belowout)', async () => {
    const prev = await fundConfirmed(50_000n);
    const tx = spendP2wpkh(prev, alice, [{ value: 60_000n, scriptPubKey: bob.script }]);
    expect(await rpc.error('sendrawtransaction', hex(tx))).toEqual({
      code: -26,
      message: 'bad-txns-in-belowout, value in (0.0005) < value out (0.0006)',
    });
  });
});

describe('devnet time locks', () => {
  it('enforces a CSV delay (non-BIP68-final) and a to_local-style script spend after it', async () => {
    const revocation = key('revocation');
    const delayed = key('delayed');
    const delay = 5;
    // BOLT 3 to_local: OP_IF <revocationpubkey> OP_ELSE `to_self_delay` OP_CSV OP_DROP <local_delayedpubkey> OP_ENDIF OP_CHECKSIG
    const ws = script(
      OP.OP_IF,
      revocation.pub,
      OP.OP_ELSE,
      raw(num(delay)),
      OP.OP_CHECKSEQUENCEVERIFY,
      OP.OP_DROP,
      delayed.pub,
      OP.OP_ENDIF,
      OP.OP_CHECKSIG,
    );
    const out = wsh(ws);
    const prev = await fundConfirmed(100_000n, { ...alice, script: out.script, address: out.address });
    const build = (sequence: number) => {
      const tx = unsigned([prev], [{ value: 99_000n, scriptPubKey: bob.script }], { sequence });
      tx.inputs[0]!.witness = [sigFor(tx, 0, ws, prev.value, delayed.priv), new Uint8Array(0), ws];
      return tx;
    };
    const tx = build(delay);
    // 1 confirmation: a relative lock of 5 blocks is not met.
    expect(await rpc.error('sendrawtransaction', hex(tx))).toEqual({ code: -26, message: 'non-BIP68-final' });
    // A sequence below the script's delay passes BIP68 but fails OP_CSV.
    const short = build(1);
    expect(await rpc.error('sendrawtransaction', hex(short))).toEqual({
      code: -26,
      message: 'mandatory-script-verify-flag-failed (Locktime requirement not satisfied)',
    });
    await rpc.call('devnet_mine', delay - 2);
    expect((await rpc.error('sendrawtransaction', hex(tx))).message).toBe('non-BIP68-final');
    await rpc.call('devnet_mine', 1);
    expect(await rpc.call('sendrawtransaction', hex(tx))).toBe(toHex(devnetTxid(tx)));
  });

  it('spends the to_local revocation branch immediately, and rejects a non-minimal OP_IF argument', async () => {
    const revocation = key('revocation2');
    const delayed = key('delayed2');
    const ws = script(
      OP.OP_IF,
      revocation.pub,
      OP.OP_ELSE,
      OP.OP_16,
      OP.OP_CHECKSEQUENCEVERIFY,
      OP.OP_DROP,
      delayed.pub,
      OP.OP_ENDIF,
      OP.OP_CHECKSIG,
    );
    const out = wsh(ws);
    const prev = await fundConfirmed(100_000n, { ...alice, script: out.script, address: out.address });
    const tx = unsigned([prev], [{ value: 99_000n, scriptPubKey: bob.script }]);
    const sig = sigFor(tx, 0, ws, prev.value, revocation.priv);
    tx.inputs[0]!.witness = [sig, Uint8Array.of(2), ws];
    // MINIMALIF is policy: Core reports non-mandatory-script-verify-flag.
    expect(await rpc.error('sendrawtransaction', hex(tx))).toEqual({
      code: -26,
      message: 'non-mandatory-script-verify-flag (OP_IF/NOTIF argument must be minimal)',
    });
    tx.inputs[0]!.witness = [sig, Uint8Array.of(1), ws];
    expect(await rpc.call('sendrawtransaction', hex(tx))).toBe(toHex(devnetTxid(tx)));
  });

  it('enforces CLTV: non-final before the height, script failure with a low locktime, accepted at the height', async () => {
    const k = key('cltv');
    const height = (await rpc.call('getblockcount')) as number;
    const lockHeight = height + 5;
    const wsReal = script(raw(num(lockHeight)), OP.OP_CHECKLOCKTIMEVERIFY, OP.OP_DROP, k.pub, OP.OP_CHECKSIG);
    const out = wsh(wsReal);
    const prev = await fundConfirmed(100_000n, { ...alice, script: out.script, address: out.address });
    const build = (locktime: number) => {
      const tx = unsigned([prev], [{ value: 99_000n, scriptPubKey: bob.script }], {
        locktime,
        sequence: 0xfffffffe,
      });
      tx.inputs[0]!.witness = [sigFor(tx, 0, wsReal, prev.value, k.priv), wsReal];
      return tx;
    };
    const tx = build(lockHeight);
    expect(await rpc.error('sendrawtransaction', hex(tx))).toEqual({ code: -26, message: 'non-final' });
    const early = build((await rpc.call('getblockcount')) as number);
    expect(await rpc.error('sendrawtransaction', hex(early))).toEqual({
      code: -26,
      message: 'mandatory-script-verify-flag-failed (Locktime requirement not satisfied)',
    });
    // Final once the next block's height exceeds the locktime.
    const now = (await rpc.call('getblockcount')) as number;
    await rpc.call('devnet_mine', lockHeight - now - 1);
    expect((await rpc.error('sendrawtransaction', hex(tx))).message).toBe('non-final');
    await rpc.call('devnet_mine', 1);
    expect(await rpc.call('sendrawtransaction', hex(tx))).toBe(toHex(devnetTxid(tx)));
  });
});

describe('devnet relay policy', () => {
  it("rejects a fee below the min relay fee with Core's message, accepts at 1 sat/vB", async () => {
    const prev = await fundConfirmed(100_000n);
    const low = spendP2wpkh(prev, alice, [{ value: 99_900n, scriptPubKey: bob.script }]);
    const size = vsize(low);
    expect(size).toBeGreaterThan(100);
    expect(await rpc.error('sendrawtransaction', hex(low))).toEqual({
      code: -26,
      message: `min relay fee not met, 100 < ${feeForVsize(1000n, size)}`,
    });
    const ok = spendP2wpkh(prev, alice, [{ value: 100_000n - BigInt(size), scriptPubKey: bob.script }]);
    expect(vsize(ok)).toBe(size);
    expect(await rpc.call('sendrawtransaction', hex(ok))).toBe(toHex(devnetTxid(ok)));
  });

  it('rejects dust outputs (Core thresholds) and accepts at the threshold', async () => {
    const prev = await fundConfirmed(100_000n);
    const limit = dustThreshold({ value: 0n, scriptPubKey: bob.script });
    expect(limit).toBe(294n);
    const dust = spendP2wpkh(prev, alice, [
      { value: limit - 1n, scriptPubKey: bob.script },
      { value: 99_000n - limit, scriptPubKey: alice.script },
    ]);
    expect(await rpc.error('sendrawtransaction', hex(dust))).toEqual({ code: -26, message: 'dust' });
    const ok = spendP2wpkh(prev, alice, [
      { value: limit, scriptPubKey: bob.script },
      { value: 99_000n - limit, scriptPubKey: alice.script },
    ]);
    expect(await rpc.call('sendrawtransaction', hex(ok))).toBe(toHex(devnetTxid(ok)));
    expect(
      dustThreshold({
        value: 0n,
        scriptPubKey: Uint8Array.from([0x76, 0xa9, 20, ...new Uint8Array(20), 0x88, 0xac]),
      }),
    ).toBe(546n);
    expect(dustThreshold({ value: 0n, scriptPubKey: wsh(Uint8Array.of(OP.OP_1)).script })).toBe(330n);
  });

  it('rejects non-standard outputs and oversized OP_RETURN', async () => {
    const prev = await fundConfirmed(100_000n);
    const bare = spendP2wpkh(prev, alice, [{ value: 99_000n, scriptPubKey: Uint8Array.of(OP.OP_1) }]);
    expect(await rpc.error('sendrawtransaction', hex(bare))).toEqual({ code: -26, message: 'scriptpubkey' });
    const big = spendP2wpkh(prev, alice, [
      { value: 99_000n, scriptPubKey: bob.script },
      { value: 0n, scriptPubKey: script(OP.OP_RETURN, new Uint8Array(81)) },
    ]);
    expect(await rpc.error('sendrawtransaction', hex(big))).toEqual({ code: -26, message: 'scriptpubkey' });
    const fine = spendP2wpkh(prev, alice, [
      { value: 99_000n, scriptPubKey: bob.script },
      { value: 0n, scriptPubKey: script(OP.OP_RETURN, new Uint8Array(80)) },
    ]);
    expect(await rpc.call('sendrawtransaction', hex(fine))).toBe(toHex(devnetTxid(fine)));
  });

  it('replaces by fee only with a higher absolute fee and feerate', async () => {
    const prev = await fundConfirmed(100_000n);
    const a = spendP2wpkh(prev, alice, [{ value: 99_000n, scriptPubKey: bob.script }]);
    const aid = await rpc.call('sendrawtransaction', hex(a));
    // Same fee: rejected.
    const same = spendP2wpkh(prev, alice, [{ value: 99_000n, scriptPubKey: alice.script }]);
    expect((await rpc.error('sendrawtransaction', hex(same))).message).toMatch(
      /^insufficient fee, rejecting replacement/,
    );
    // Higher feerate but not enough extra fee for its own relay (needs +vsize sats).
    const tiny = spendP2wpkh(prev, alice, [{ value: 98_990n, scriptPubKey: bob.script }]);
    expect((await rpc.error('sendrawtransaction', hex(tiny))).message).toMatch(
      /^insufficient fee, rejecting replacement [0-9a-f]{64}, not enough additional fees to relay; 0\.0000001 < 0\.00000\d+$/,
    );
    const b = spendP2wpkh(prev, alice, [{ value: 98_000n, scriptPubKey: bob.script }]);
    const bid = await rpc.call('sendrawtransaction', hex(b));
    const pool = await rpc.call('getrawmempool');
    expect(pool).toContain(bid);
    expect(pool).not.toContain(aid);
  });

  it('accepts a zero-fee parent only as a package with a fee-paying child (submitpackage)', async () => {
    const prev = await fundConfirmed(100_000n);
    const parent = spendP2wpkh(prev, alice, [{ value: 100_000n, scriptPubKey: bob.script }]);
    const pid = toHex(devnetTxid(parent));
    const e = await rpc.error('sendrawtransaction', hex(parent));
    expect(e).toEqual({
      code: -26,
      message: `min relay fee not met, 0 < ${feeForVsize(1000n, vsize(parent))}`,
    });
    const child = spendP2wpkh({ txid: pid, vout: 0, value: 100_000n }, bob, [
      { value: 99_000n, scriptPubKey: alice.script },
    ]);
    // The child alone has no parent in the mempool.
    expect((await rpc.error('sendrawtransaction', hex(child))).code).toBe(-25);
    const r = await rpc.call('submitpackage', [hex(parent), hex(child)]);
    expect(r.package_msg).toBe('success');
    const results = Object.values(r['tx-results']) as {
      txid: string;
      error?: string;
      fees: { base: number };
    }[];
    expect(results.map((x) => x.txid).sort()).toEqual([pid, toHex(devnetTxid(child))].sort());
    expect(results.every((x) => x.error === undefined)).toBe(true);
    const pool = await rpc.call('getrawmempool');
    expect(pool).toContain(pid);
    const [h] = await rpc.call('devnet_mine', 1);
    const blk = await rpc.call('getblock', h, 1);
    expect(blk.tx).toContain(pid);
    expect(blk.tx).toContain(toHex(devnetTxid(child)));
  });
});
