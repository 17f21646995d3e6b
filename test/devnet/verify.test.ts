/**
 * The bitcore-lib interpreter wrapper: valid spends verify, one changed byte is rejected,
 * failures are classified mandatory / non-mandatory like Core, and the CLEANSTACK rule
 * (implemented here because bitcore's is broken) behaves as Core's.
 */
import * as btc from '@scure/btc-signer';
import { describe, expect, it } from 'vitest';
import {
  MANDATORY_FLAGS,
  PreparedTx,
  STANDARD_FLAGS,
  verifyAllInputs,
  verifyInput,
} from '../../src/apps/devnet/verify.js';
import { CURVE_ORDER, secp } from '../../src/protocol/crypto/secp256k1.js';
import { bigIntToBytes, bytesToBigInt } from '../../src/protocol/encoding/bytes.js';
import { OP, p2pkh, p2wpkhScriptCode, script } from '../../src/protocol/tx/script.js';
import { compactToDer } from '../../src/protocol/tx/signature.js';
import {
  decodeTx,
  SIGHASH_ALL,
  sighashLegacy,
  sighashSegwitV0,
  type Transaction,
} from '../../src/protocol/tx/transaction.js';
import { key, sigFor, unsigned, wsh } from './helpers.js';

const k = key('verify');
const k2 = key('verify2');
const prev = { txid: '11'.repeat(32), vout: 0, value: 100_000n };

function p2wpkhSpend(): Transaction {
  const tx = unsigned([prev], [{ value: 90_000n, scriptPubKey: k2.script }]);
  tx.inputs[0]!.witness = [sigFor(tx, 0, p2wpkhScriptCode(k.pub), prev.value, k.priv), k.pub];
  return tx;
}

const check = (tx: Transaction, spk: Uint8Array, flags = STANDARD_FLAGS, value = prev.value) =>
  verifyInput(new PreparedTx(tx, [{ value, scriptPubKey: spk }]), 0, flags);

describe('bitcore interpreter wrapper', () => {
  it('verifies P2WPKH and rejects any one-byte change of the witness, or a wrong amount', () => {
    const tx = p2wpkhSpend();
    expect(check(tx, k.script)).toBeUndefined();
    expect(check(tx, k.script, STANDARD_FLAGS, prev.value + 1n)).toBe(
      'Signature must be zero for failed CHECK(MULTI)SIG operation',
    );
    const sig = tx.inputs[0]!.witness[0]!;
    for (const i of [5, 20, sig.length - 10]) {
      const bad = structuredClone(tx);
      bad.inputs[0]!.witness[0]![i]! ^= 0x01;
      expect(check(bad, k.script)).toBeDefined();
    }
    const badKey = structuredClone(tx);
    badKey.inputs[0]!.witness[1]![10]! ^= 0x01;
    expect(check(badKey, k.script)).toBe('Script failed an OP_EQUALVERIFY operation');
  });

  it('verifies a P2WSH 2-of-2 and rejects it with one byte changed in a signature', () => {
    const ws = script(OP.OP_2, k.pub, k2.pub, OP.OP_2, OP.OP_CHECKMULTISIG);
    const spk = wsh(ws).script;
    const tx = unsigned([prev], [{ value: 90_000n, scriptPubKey: k2.script }]);
    tx.inputs[0]!.witness = [
      new Uint8Array(0),
      sigFor(tx, 0, ws, prev.value, k.priv),
      sigFor(tx, 0, ws, prev.value, k2.priv),
      ws,
    ];
    expect(check(tx, spk)).toBeUndefined();
    const bad = structuredClone(tx);
    bad.inputs[0]!.witness[2]![8]! ^= 0x80;
    expect(
      verifyAllInputs(new PreparedTx(bad, [{ value: prev.value, scriptPubKey: spk }]), STANDARD_FLAGS),
    ).toMatch(/^mandatory-script-verify-flag-failed \(/);
    // Signatures in the wrong order fail too (CHECKMULTISIG is ordered).
    const swapped = structuredClone(tx);
    [swapped.inputs[0]!.witness[1], swapped.inputs[0]!.witness[2]] = [
      tx.inputs[0]!.witness[2]!,
      tx.inputs[0]!.witness[1]!,
    ];
    expect(check(swapped, spk)).toBeDefined();
  });

  it('classifies a high-S signature as non-mandatory (LOW_S is policy)', () => {
    const tx = unsigned([prev], [{ value: 90_000n, scriptPubKey: k2.script }]);
    const h = sighashSegwitV0(tx, 0, p2wpkhScriptCode(k.pub), prev.value, SIGHASH_ALL);
    const sig = secp().sign(h, k.priv);
    const highS = bigIntToBytes(CURVE_ORDER - bytesToBigInt(sig.subarray(32)), 32);
    tx.inputs[0]!.witness = [
      Uint8Array.of(...compactToDer(Uint8Array.of(...sig.subarray(0, 32), ...highS)), SIGHASH_ALL),
      k.pub,
    ];
    expect(
      verifyAllInputs(new PreparedTx(tx, [{ value: prev.value, scriptPubKey: k.script }]), STANDARD_FLAGS),
    ).toBe('non-mandatory-script-verify-flag (Non-canonical signature: S value is unnecessarily high)');
  });

  it('verifies legacy P2PKH and applies CLEANSTACK as Core does (policy only)', () => {
    const spk = p2pkh(k.pub);
    const tx = unsigned([prev], [{ value: 90_000n, scriptPubKey: k2.script }]);
    const sig = secp().sign(sighashLegacy(tx, 0, spk, SIGHASH_ALL), k.priv);
    tx.inputs[0]!.scriptSig = script(Uint8Array.of(...compactToDer(sig), SIGHASH_ALL), k.pub);
    expect(check(tx, spk)).toBeUndefined();
    // scriptSig leaves an extra element under a bare OP_1 script.
    const dirty = unsigned([prev], [{ value: 90_000n, scriptPubKey: k2.script }]);
    dirty.inputs[0]!.scriptSig = script(OP.OP_1);
    expect(check(dirty, Uint8Array.of(OP.OP_1))).toBe('Stack size must be exactly one after execution');
    expect(check(dirty, Uint8Array.of(OP.OP_1), MANDATORY_FLAGS)).toBeUndefined();
    expect(
      verifyAllInputs(
        new PreparedTx(dirty, [{ value: prev.value, scriptPubKey: Uint8Array.of(OP.OP_1) }]),
        STANDARD_FLAGS,
      ),
    ).toBe('non-mandatory-script-verify-flag (Stack size must be exactly one after execution)');
  });

  it('verifies a taproot key-path spend and rejects one changed byte', () => {
    const priv = k.priv;
    const xonly = secp().publicKey(priv).subarray(1);
    const p = btc.p2tr(xonly, undefined, btc.TEST_NETWORK);
    const t = new btc.Transaction();
    t.addInput({
      txid: prev.txid,
      index: 0,
      witnessUtxo: { script: p.script, amount: prev.value },
      tapInternalKey: xonly,
    });
    t.addOutputAddress(p.address!, 90_000n, btc.TEST_NETWORK);
    t.sign(priv);
    t.finalize();
    const tx = decodeTx(t.extract());
    expect(check(tx, p.script)).toBeUndefined();
    const bad = structuredClone(tx);
    bad.inputs[0]!.witness[0]![40]! ^= 0x01;
    expect(check(bad, p.script)).toBe('Invalid Schnorr signature');
  });
});
