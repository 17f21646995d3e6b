/** Transaction codec (src/protocol/tx): round trips, malformed input, and sighashes on BOLT 3 vectors. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { secp } from '../../src/protocol/crypto/secp256k1.js';
import { DecodeError } from '../../src/protocol/errors.js';
import { p2pkh, parseScript } from '../../src/protocol/tx/script.js';
import { compactToDer, derToCompact } from '../../src/protocol/tx/signature.js';
import {
  decodeTx,
  encodeTx,
  hasWitness,
  SIGHASH_ALL,
  SIGHASH_ANYONECANPAY,
  SIGHASH_SINGLE,
  sighashLegacy,
  sighashSegwitV0,
  type Transaction,
  txidHex,
  weight,
} from '../../src/protocol/tx/transaction.js';
import { hex, loadVector, toHex } from '../helpers/vectors.js';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const txArb: fc.Arbitrary<Transaction> = fc.record({
  version: fc.integer({ min: -0x80000000, max: 0x7fffffff }),
  inputs: fc.array(
    fc.record({
      txid: fc.uint8Array({ minLength: 32, maxLength: 32 }),
      vout: u32,
      scriptSig: fc.uint8Array({ maxLength: 120 }),
      sequence: u32,
      witness: fc.array(fc.uint8Array({ maxLength: 80 }), { maxLength: 4 }),
    }),
    { minLength: 1, maxLength: 4 },
  ),
  outputs: fc.array(
    fc.record({
      value: fc.bigInt({ min: 0n, max: 0xffffffffffffffffn }),
      scriptPubKey: fc.uint8Array({ maxLength: 60 }),
    }),
    { maxLength: 4 },
  ),
  locktime: u32,
});

function onlyDecodeError(b: Uint8Array): void {
  try {
    decodeTx(b);
  } catch (e) {
    expect(e).toBeInstanceOf(DecodeError);
  }
}

describe('tx codec', () => {
  it('decode(encode(tx)) == tx', () => {
    fc.assert(
      fc.property(txArb, (tx) => {
        const back = decodeTx(encodeTx(tx));
        expect(back).toEqual(tx);
        expect(encodeTx(back)).toEqual(encodeTx(tx));
      }),
    );
  });

  it('weight is 3 * base size + total size', () => {
    fc.assert(
      fc.property(txArb, (tx) => {
        const base = encodeTx(tx, { witness: false }).length;
        expect(weight(tx)).toBe(base * 3 + encodeTx(tx).length);
        if (!hasWitness(tx)) expect(weight(tx)).toBe(base * 4);
      }),
    );
  });

  it('random bytes and truncations only ever throw DecodeError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), onlyDecodeError));
    fc.assert(
      fc.property(txArb, fc.nat(), (tx, cut) => {
        const b = encodeTx(tx);
        onlyDecodeError(b.subarray(0, cut % b.length));
      }),
    );
  });

  it('round-trips every BOLT 3 commitment and HTLC transaction byte for byte', () => {
    const C = loadVector('bolt03/commitment-tx.json');
    for (const tc of C.cases) {
      expect(toHex(encodeTx(decodeTx(hex(tc.commit_tx_hex))))).toBe(tc.commit_tx_hex);
      for (const h of tc.htlc_txs) expect(toHex(encodeTx(decodeTx(hex(h.tx_hex))))).toBe(h.tx_hex);
    }
  });
});

describe('legacy sighash on the BOLT 3 funding transaction (Appendix B)', () => {
  const V = loadVector('bolt03/funding-tx.json');
  it('the scriptSig signature verifies and re-signing gives the same bytes', () => {
    const tx = decodeTx(hex(V.expected_funding_tx_hex));
    expect(txidHex(tx)).toBe(V.expected_txid);
    const coinbase = decodeTx(hex(V.chain.block1_coinbase_tx_hex));
    const prevScript = coinbase.outputs[V.input_index]!.scriptPubKey;
    const [sigPush, pubPush] = parseScript(tx.inputs[0]!.scriptSig);
    const sigWithType = sigPush!.data!;
    const pub = pubPush!.data!;
    expect(toHex(prevScript)).toBe(toHex(p2pkh(pub)));
    expect(sigWithType[sigWithType.length - 1]).toBe(SIGHASH_ALL);
    const der = sigWithType.subarray(0, sigWithType.length - 1);
    const digest = sighashLegacy(tx, 0, prevScript, SIGHASH_ALL);
    expect(secp().verify(derToCompact(der), digest, pub)).toBe(true);
    expect(toHex(compactToDer(secp().sign(digest, hex(V.chain.block1_coinbase_privkey))))).toBe(toHex(der));
    // A different sighash type gives a different digest (the type is committed).
    expect(toHex(sighashLegacy(tx, 0, prevScript, SIGHASH_SINGLE))).not.toBe(toHex(digest));
  });
});

describe('BIP143 sighash on BOLT 3 vectors', () => {
  const C = loadVector('bolt03/commitment-tx.json');
  const F = loadVector('bolt03/commitment-tx-anchors.json');
  const P = C.params;
  const fundingScript = hex(P.funding_witness_script);
  it('every commitment witness signature verifies against the funding keys', () => {
    const keys = [hex(P.local_funding_pubkey), hex(P.remote_funding_pubkey)].sort((a, b) =>
      toHex(a) < toHex(b) ? -1 : 1,
    );
    for (const txHex of [
      ...C.cases.map((c: { commit_tx_hex: string }) => c.commit_tx_hex),
      ...F.cases.map((c: { ExpectedCommitmentTxHex: string }) => c.ExpectedCommitmentTxHex),
    ]) {
      const tx = decodeTx(hex(txHex));
      const digest = sighashSegwitV0(tx, 0, fundingScript, BigInt(P.funding_amount_satoshi), SIGHASH_ALL);
      const w = tx.inputs[0]!.witness;
      expect(toHex(w[3]!)).toBe(P.funding_witness_script);
      for (const k of [0, 1]) {
        const s = w[k + 1]!;
        expect(s[s.length - 1]).toBe(SIGHASH_ALL);
        expect(secp().verify(derToCompact(s.subarray(0, s.length - 1)), digest, keys[k]!)).toBe(true);
      }
    }
  });
  it('anchors HTLC transactions carry a verifying SIGHASH_SINGLE|ANYONECANPAY remote signature', () => {
    let n = 0;
    for (const tc of F.cases) {
      const commit = decodeTx(hex(tc.ExpectedCommitmentTxHex));
      for (const d of tc.HtlcDescs) {
        const tx = decodeTx(hex(d.ResolutionTxHex));
        const w = tx.inputs[0]!.witness;
        const ws = w[4]!;
        const amount = commit.outputs[tx.inputs[0]!.vout]!.value;
        const type = SIGHASH_SINGLE | SIGHASH_ANYONECANPAY;
        expect(w[1]![w[1]!.length - 1]).toBe(type);
        expect(toHex(w[1]!.subarray(0, w[1]!.length - 1))).toBe(d.RemoteSigHex);
        const digest = sighashSegwitV0(tx, 0, ws, amount, type);
        expect(secp().verify(derToCompact(hex(d.RemoteSigHex)), digest, hex(P.remote_htlcpubkey))).toBe(true);
        n++;
      }
    }
    expect(n).toBe(15);
  });
});
