/** BOLT #3 transactions: funding (Appendix B), commitment + HTLC (Appendix C, F), fees, closing. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildClosingTx,
  buildCommitmentTx,
  buildFundingTx,
  buildHtlcTxs,
  type ChannelType,
  COMMITMENT_WEIGHT,
  type CommitmentHtlc,
  type CommitmentParams,
  commitmentFee,
  commitmentWeight,
  decodeCommitmentNumber,
  finalizeClosingTx,
  finalizeCommitmentTx,
  finalizeHtlcTx,
  fundingScript,
  HTLC_SUCCESS_WEIGHT,
  HTLC_TIMEOUT_WEIGHT,
  htlcSuccessFee,
  htlcTimeoutFee,
  isHtlcTrimmed,
  obscuringFactor,
  signClosingTx,
  signCommitmentTx,
  signHtlcTx,
  verifyCommitmentSig,
  verifyHtlcSig,
} from '../../src/protocol/channel/index.js';
import { sha256 } from '../../src/protocol/crypto/hash.js';
import { secp } from '../../src/protocol/crypto/secp256k1.js';
import { compare } from '../../src/protocol/encoding/bytes.js';
import { p2pkh, p2wpkh, p2wsh, pushData } from '../../src/protocol/tx/script.js';
import { compactToDer, derToCompact, derWithHashType } from '../../src/protocol/tx/signature.js';
import {
  decodeTx,
  encodeTx,
  SIGHASH_ALL,
  sighashLegacy,
  txidHex,
  weight,
} from '../../src/protocol/tx/transaction.js';
import { hex, loadVector, toHex } from '../helpers/vectors.js';

const C = loadVector('bolt03/commitment-tx.json');
const F = loadVector('bolt03/commitment-tx-anchors.json');
const P = C.params;

interface VectorHtlc {
  id: number;
  direction: string;
  amount_msat: number;
  expiry: number;
  payment_preimage: string;
  payment_hash: string;
}

const htlcById = new Map<number, VectorHtlc>(P.htlcs.map((h: VectorHtlc) => [h.id, h]));
const preimages = new Map<string, Uint8Array>(
  P.htlcs.map((h: VectorHtlc) => [toHex(sha256(hex(h.payment_preimage))), hex(h.payment_preimage)]),
);

function toCommitmentHtlc(h: VectorHtlc): CommitmentHtlc {
  return {
    id: BigInt(h.id),
    // 'local->remote' is offered by the local node (the commitment owner).
    direction: h.direction === 'local->remote' ? 'offered' : 'received',
    amountMsat: BigInt(h.amount_msat),
    paymentHash: sha256(hex(h.payment_preimage)),
    cltvExpiry: h.expiry,
  };
}

const remoteFundingPrivkey = hex(P.internal.remote_funding_privkey);
const remoteHtlcPrivkey = hex(P.internal.remote_privkey);
const localHtlcPrivkey = hex(P.local_privkey);
const localFundingPrivkey = hex(P.local_funding_privkey);

function params(
  channelType: ChannelType,
  toLocalMsat: bigint,
  toRemoteMsat: bigint,
  feeratePerKw: number,
  dustLimitSat: bigint,
  htlcIds: number[],
): CommitmentParams {
  return {
    channelType,
    fundingOutpoint: { txid: hex(P.funding_txid), vout: P.funding_output_index },
    fundingAmountSat: BigInt(P.funding_amount_satoshi),
    localFundingPubkey: hex(P.local_funding_pubkey),
    remoteFundingPubkey: hex(P.remote_funding_pubkey),
    commitmentNumber: P.commitment_number,
    obscuringFactor: obscuringFactor(hex(P.local_payment_basepoint), hex(P.remote_payment_basepoint)),
    localIsOpener: true,
    toLocalMsat,
    toRemoteMsat,
    feeratePerKw,
    dustLimitSat,
    toSelfDelay: P.to_self_delay,
    keys: {
      revocationPubkey: hex(P.local_revocation_pubkey),
      localDelayedPubkey: hex(P.local_delayedpubkey),
      remotePaymentPubkey: hex(P.remote_payment_basepoint),
      localHtlcPubkey: hex(P.local_htlcpubkey),
      remoteHtlcPubkey: hex(P.remote_htlcpubkey),
    },
    htlcs: htlcIds.map((id) => toCommitmentHtlc(htlcById.get(id)!)),
  };
}

describe('BOLT 3 Appendix C params', () => {
  it('derives the vector keys and the obscuring factor', () => {
    const s = secp();
    expect(toHex(s.publicKey(localFundingPrivkey))).toBe(P.local_funding_pubkey);
    expect(toHex(s.publicKey(remoteFundingPrivkey))).toBe(P.remote_funding_pubkey);
    expect(toHex(s.publicKey(localHtlcPrivkey))).toBe(P.local_htlcpubkey);
    expect(toHex(s.publicKey(remoteHtlcPrivkey))).toBe(P.remote_htlcpubkey);
    const f = obscuringFactor(hex(P.local_payment_basepoint), hex(P.remote_payment_basepoint));
    expect(f).toBe(BigInt(`0x${P.obscuring_factor_hex}`));
    expect(toHex(fundingScript(hex(P.local_funding_pubkey), hex(P.remote_funding_pubkey)))).toBe(
      P.funding_witness_script,
    );
    expect(toHex(fundingScript(hex(P.remote_funding_pubkey), hex(P.local_funding_pubkey)))).toBe(
      P.funding_witness_script,
    );
    for (const h of P.htlcs as VectorHtlc[])
      expect(toHex(sha256(hex(h.payment_preimage)))).toBe(h.payment_hash);
  });
});

describe('BOLT 3 Appendix C: commitment and HTLC transactions (static_remotekey)', () => {
  let htlcTxCount = 0;
  for (const tc of C.cases) {
    it(tc.name, () => {
      const p = params(
        'static_remotekey',
        BigInt(tc.to_local_msat),
        BigInt(tc.to_remote_msat),
        tc.local_feerate_per_kw,
        BigInt(P.local_dust_limit_satoshi),
        tc.htlc_ids,
      );
      const c = buildCommitmentTx(p);
      if (tc.base_fee_satoshi !== undefined) expect(c.baseFeeSat).toBe(BigInt(tc.base_fee_satoshi));
      if (tc.actual_fee_satoshi !== undefined) expect(c.feeSat).toBe(BigInt(tc.actual_fee_satoshi));
      expect(c.htlcOutputs.length).toBe(tc.num_htlcs);
      // Every output the spec lists, with its amount and script.
      // The spec lists every output, except in the last case (HTLC outputs only).
      const listsBalances = tc.outputs.some((o: { type: string }) => o.type.startsWith('to_'));
      if (listsBalances) expect(c.outputs.length).toBe(tc.outputs.length);
      else expect(c.outputs.filter((o) => o.htlc).length).toBe(tc.outputs.length);
      for (const o of tc.outputs) {
        const found = c.outputs.filter(
          (x) =>
            x.kind === o.type &&
            x.amountSat === BigInt(o.amount_satoshi) &&
            (o.witness_script !== undefined
              ? x.witnessScript !== undefined && toHex(x.witnessScript) === o.witness_script
              : toHex(x.scriptPubKey) === toHex(p2wpkh(hex(o.p2wpkh_pubkey)))) &&
            (o.htlc_id === undefined || x.htlc?.id === BigInt(o.htlc_id)),
        );
        expect(found.length, JSON.stringify(o)).toBe(1);
      }
      const localSig = signCommitmentTx(c, localFundingPrivkey);
      const remoteSig = signCommitmentTx(c, remoteFundingPrivkey);
      expect(toHex(compactToDer(localSig))).toBe(tc.local_signature);
      expect(toHex(compactToDer(remoteSig))).toBe(tc.remote_signature);
      expect(
        verifyCommitmentSig(c, derToCompact(hex(tc.remote_signature)), hex(P.remote_funding_pubkey)),
      ).toBe(true);
      const signed = finalizeCommitmentTx(c, localSig, remoteSig);
      expect(toHex(encodeTx(signed))).toBe(tc.commit_tx_hex);
      expect(decodeCommitmentNumber(signed.locktime, signed.inputs[0]!.sequence, p.obscuringFactor)).toBe(
        P.commitment_number,
      );

      const htlcTxs = buildHtlcTxs(c);
      expect(htlcTxs.length).toBe(tc.htlc_txs.length);
      tc.htlc_txs.forEach((v: Record<string, string | number>, i: number) => {
        const h = htlcTxs[i]!;
        expect(h.commitmentOutputIndex).toBe(v.commit_output_index);
        expect(h.kind).toBe(v.type);
        expect(h.htlc.id).toBe(BigInt(v.htlc_id as number));
        const remote = signHtlcTx(h, remoteHtlcPrivkey, 'counterparty');
        const local = signHtlcTx(h, localHtlcPrivkey, 'owner');
        expect(toHex(compactToDer(remote))).toBe(v.remote_htlc_signature);
        expect(toHex(compactToDer(local))).toBe(v.local_htlc_signature);
        expect(verifyHtlcSig(h, remote, hex(P.remote_htlcpubkey), 'counterparty')).toBe(true);
        const tx = finalizeHtlcTx(h, local, remote, preimages.get(toHex(h.htlc.paymentHash)));
        expect(toHex(encodeTx(tx))).toBe(v.tx_hex);
        expect(weight(tx)).toBeLessThanOrEqual(
          h.kind === 'htlc-success' ? HTLC_SUCCESS_WEIGHT : HTLC_TIMEOUT_WEIGHT,
        );
        htlcTxCount++;
      });
    });
  }
  it('covered all 16 cases and 33 HTLC transactions', () => {
    expect(C.cases.length).toBe(16);
    expect(htlcTxCount).toBe(33);
  });
});

function anchorsHtlcIds(tc: { Name: string; UseTestHtlcs: boolean }): number[] {
  const exception = F.htlc_selection.exception[tc.Name];
  if (exception) return exception;
  return F.htlc_selection[`UseTestHtlcs=${tc.UseTestHtlcs}`];
}

describe('BOLT 3 Appendix F: commitment and HTLC transactions (anchors_zero_fee_htlc_tx)', () => {
  let htlcTxCount = 0;
  for (const tc of F.cases) {
    it(tc.Name, () => {
      const p = params(
        'anchors_zero_fee_htlc_tx',
        BigInt(tc.LocalBalance),
        BigInt(tc.RemoteBalance),
        tc.FeePerKw,
        BigInt(tc.DustLimitSatoshis),
        anchorsHtlcIds(tc),
      );
      const c = buildCommitmentTx(p);
      const localSig = signCommitmentTx(c, localFundingPrivkey);
      const remoteSig = signCommitmentTx(c, remoteFundingPrivkey);
      expect(toHex(compactToDer(remoteSig))).toBe(tc.RemoteSigHex);
      const signed = finalizeCommitmentTx(c, localSig, remoteSig);
      expect(toHex(encodeTx(signed))).toBe(tc.ExpectedCommitmentTxHex);
      const htlcTxs = buildHtlcTxs(c);
      expect(htlcTxs.length).toBe(tc.HtlcDescs.length);
      tc.HtlcDescs.forEach((d: { RemoteSigHex: string; ResolutionTxHex: string }, i: number) => {
        const h = htlcTxs[i]!;
        const remote = signHtlcTx(h, remoteHtlcPrivkey, 'counterparty');
        expect(toHex(compactToDer(remote))).toBe(d.RemoteSigHex);
        const local = signHtlcTx(h, localHtlcPrivkey, 'owner');
        const tx = finalizeHtlcTx(h, local, remote, preimages.get(toHex(h.htlc.paymentHash)));
        expect(toHex(encodeTx(tx))).toBe(d.ResolutionTxHex);
        htlcTxCount++;
      });
    });
  }
  it('covered all 9 cases and 15 HTLC transactions', () => {
    expect(F.cases.length).toBe(9);
    expect(htlcTxCount).toBe(15);
  });
});

describe('BOLT 3 Appendix B: funding transaction', () => {
  const V = loadVector('bolt03/funding-tx.json');
  it('reproduces the funding transaction and txid', () => {
    const coinbase = decodeTx(hex(V.chain.block1_coinbase_tx_hex));
    const priv = hex(V.chain.block1_coinbase_privkey);
    const pub = secp().publicKey(priv);
    const prevScript = coinbase.outputs[V.input_index]!.scriptPubKey;
    expect(toHex(prevScript)).toBe(toHex(p2pkh(pub)));
    expect(txidHex(coinbase)).toBe(V.input_txid);
    const f = buildFundingTx({
      inputs: [{ txid: hex(V.input_txid), vout: V.input_index }],
      localFundingPubkey: hex(V.local_funding_pubkey),
      remoteFundingPubkey: hex(V.remote_funding_pubkey),
      fundingAmountSat: BigInt(V.funding_satoshis),
      change: { value: BigInt(V.change_satoshis), scriptPubKey: p2wpkh(pub) },
    });
    expect(toHex(f.fundingScript)).toBe(V.funding_witness_script);
    expect(f.fundingOutputIndex).toBe(V.funding_output_index);
    const digest = sighashLegacy(f.tx, 0, prevScript, SIGHASH_ALL);
    const sig = secp().sign(digest, priv);
    const scriptSig = Uint8Array.of(...pushData(derWithHashType(sig, SIGHASH_ALL)), ...pushData(pub));
    const signed = { ...f.tx, inputs: [{ ...f.tx.inputs[0]!, scriptSig }] };
    expect(toHex(encodeTx(signed))).toBe(V.expected_funding_tx_hex);
    expect(txidHex(signed)).toBe(V.expected_txid);
    // The change pays the fee at feerate_per_kw for the transaction's actual weight.
    const fee = BigInt(V.input_satoshis) - BigInt(V.funding_satoshis) - BigInt(V.change_satoshis);
    expect(fee).toBe((BigInt(V.feerate_per_kw) * BigInt(weight(signed))) / 1000n);
  });
});

describe('BOLT 3 Fees: fee calculation example', () => {
  const V = loadVector('bolt03/fee-calculation-example.json');
  it('computes the HTLC fees, trimming and commitment fees', () => {
    const ct: ChannelType = 'static_remotekey';
    const rate = V.feerate_per_kw as number;
    const dust = BigInt(V.dust_limit_satoshis);
    const e = V.expected;
    expect(HTLC_TIMEOUT_WEIGHT).toBe(e.htlc_timeout_weight);
    expect(HTLC_SUCCESS_WEIGHT).toBe(e.htlc_success_weight);
    expect(COMMITMENT_WEIGHT).toBe(e.base_weight);
    expect(htlcTimeoutFee(rate, ct)).toBe(BigInt(e.htlc_timeout_fee));
    expect(htlcSuccessFee(rate, ct)).toBe(BigInt(e.htlc_success_fee));
    const offered = (V.offered_htlcs_msat as number[]).map(BigInt);
    const received = (V.received_htlcs_msat as number[]).map(BigInt);
    const keptOffered = offered.filter((a) => !isHtlcTrimmed('offered', a, rate, dust, ct));
    const keptReceived = received.filter((a) => !isHtlcTrimmed('received', a, rate, dust, ct));
    const trimmed = [
      ...offered.filter((a) => isHtlcTrimmed('offered', a, rate, dust, ct)),
      ...received.filter((a) => isHtlcTrimmed('received', a, rate, dust, ct)),
    ];
    expect(keptOffered.map((a) => Number(a / 1000n))).toEqual(e.untrimmed_offered_satoshis);
    expect(keptReceived.map((a) => Number(a / 1000n))).toEqual(e.untrimmed_received_satoshis);
    expect(trimmed.map((a) => Number(a / 1000n))).toEqual(e.trimmed_satoshis);
    const n = keptOffered.length + keptReceived.length;
    expect(commitmentWeight(n, ct)).toBe(e.final_weight);
    const base = commitmentFee(rate, n, ct);
    expect(base).toBe(BigInt(e.base_fee_satoshis));
    expect(base + trimmed.reduce((s, a) => s + a / 1000n, 0n)).toBe(BigInt(e.actual_fee_satoshis));
  });
  it('uses zero HTLC fees with anchors', () => {
    expect(htlcTimeoutFee(5000, 'anchors_zero_fee_htlc_tx')).toBe(0n);
    expect(htlcSuccessFee(5000, 'anchors_zero_fee_htlc_tx')).toBe(0n);
  });
});

describe('BOLT 3 legacy closing transaction', () => {
  const base = {
    fundingOutpoint: { txid: hex(P.funding_txid), vout: 0 },
    fundingAmountSat: BigInt(P.funding_amount_satoshi),
    localFundingPubkey: hex(P.local_funding_pubkey),
    remoteFundingPubkey: hex(P.remote_funding_pubkey),
    localScriptPubKey: p2wpkh(hex(P.local_payment_basepoint)),
    remoteScriptPubKey: p2wpkh(hex(P.remote_payment_basepoint)),
    dustLimitSat: 546n,
  };
  it('subtracts the fee from the opener, sorts outputs and signs', () => {
    const c = buildClosingTx({
      ...base,
      toLocalMsat: 6_000_000_500n,
      toRemoteMsat: 3_999_999_500n,
      feeSat: 1000n,
      localIsOpener: true,
    });
    expect(c.tx.inputs[0]!.sequence).toBe(0xffffffff);
    expect(c.tx.locktime).toBe(0);
    expect(c.tx.version).toBe(2);
    expect(c.tx.outputs.map((o) => o.value)).toEqual([3_999_999n, 5_999_000n]);
    expect(c.remoteOutputIndex).toBe(0);
    expect(c.localOutputIndex).toBe(1);
    const l = signClosingTx(c, localFundingPrivkey);
    const r = signClosingTx(c, remoteFundingPrivkey);
    const tx = finalizeClosingTx(c, l, r);
    expect(tx.inputs[0]!.witness.length).toBe(4);
    expect(toHex(tx.inputs[0]!.witness[3]!)).toBe(P.funding_witness_script);
  });
  it('removes dust outputs and may omit its own output', () => {
    const c = buildClosingTx({
      ...base,
      toLocalMsat: 9_999_500_000n,
      toRemoteMsat: 500_000n,
      feeSat: 700n,
      localIsOpener: false,
    });
    expect(c.tx.outputs.length).toBe(1);
    expect(c.remoteOutputIndex).toBeUndefined();
    const d = buildClosingTx({
      ...base,
      toLocalMsat: 5_000_000_000n,
      toRemoteMsat: 5_000_000_000n,
      feeSat: 700n,
      localIsOpener: true,
      omitLocalOutput: true,
    });
    expect(d.tx.outputs).toEqual([{ value: 5_000_000n, scriptPubKey: base.remoteScriptPubKey }]);
  });
});

describe('BOLT 3 commitment builder invariants (property)', () => {
  const htlcArb = fc.record({
    offered: fc.boolean(),
    amountMsat: fc.bigInt({ min: 1n, max: 3_000_000n }),
    hash: fc.integer({ min: 0, max: 3 }),
    cltv: fc.integer({ min: 400_000, max: 400_010 }),
  });
  it('outputs + fee == funding; fee == base fee + trimmed + rounding; sorted; weight bounded', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<ChannelType>('static_remotekey', 'anchors_zero_fee_htlc_tx'),
        fc.array(htlcArb, { maxLength: 12 }),
        fc.integer({ min: 253, max: 5000 }),
        fc.bigInt({ min: 0n, max: 4_000_000_000n }),
        fc.bigInt({ min: 354n, max: 3000n }),
        fc.boolean(),
        (ct, hs, rate, toRemoteMsat, dust, localIsOpener) => {
          const htlcs: CommitmentHtlc[] = hs.map((h, i) => ({
            id: BigInt(i),
            direction: h.offered ? 'offered' : 'received',
            amountMsat: h.amountMsat,
            paymentHash: sha256(Uint8Array.of(h.hash)),
            cltvExpiry: h.cltv,
          }));
          const htlcSum = htlcs.reduce((s, h) => s + h.amountMsat, 0n);
          const p = params(ct, 0n, 0n, rate, dust, []);
          const total = p.fundingAmountSat * 1000n;
          const [toLocalMsat, remote] = localIsOpener
            ? [total - htlcSum - toRemoteMsat, toRemoteMsat]
            : [toRemoteMsat, total - htlcSum - toRemoteMsat];
          const c = buildCommitmentTx({ ...p, htlcs, toLocalMsat, toRemoteMsat: remote, localIsOpener });
          const outSum = c.tx.outputs.reduce((s, o) => s + o.value, 0n);
          expect(outSum + c.feeSat).toBe(p.fundingAmountSat);
          // Independent accounting of where the fee comes from.
          const rounding =
            p.fundingAmountSat -
            toLocalMsat / 1000n -
            remote / 1000n -
            htlcs.reduce((s, h) => s + h.amountMsat / 1000n, 0n);
          const trimmed = htlcs.filter((h) => isHtlcTrimmed(h.direction, h.amountMsat, rate, dust, ct));
          const trimmedSat = trimmed.reduce((s, h) => s + h.amountMsat / 1000n, 0n);
          const nonOpenerSat = (localIsOpener ? remote : toLocalMsat) / 1000n;
          const nonOpenerDust = nonOpenerSat < dust ? nonOpenerSat : 0n;
          const anchors = ct === 'anchors_zero_fee_htlc_tx';
          const anchorCount =
            (c.localAnchorIndex !== undefined ? 1n : 0n) + (c.remoteAnchorIndex !== undefined ? 1n : 0n);
          const missingAnchors = anchors ? (2n - anchorCount) * 330n : 0n;
          expect(c.feeSat).toBe(c.baseFeeSat + rounding + trimmedSat + nonOpenerDust + missingAnchors);
          expect(c.htlcOutputs.length).toBe(htlcs.length - trimmed.length);
          expect(c.baseFeeSat).toBe(commitmentFee(rate, c.htlcOutputs.length, ct));
          // BIP69 + CLTV order.
          for (let i = 1; i < c.outputs.length; i++) {
            const a = c.outputs[i - 1]!;
            const b = c.outputs[i]!;
            const cmp =
              a.amountSat === b.amountSat
                ? compare(a.scriptPubKey, b.scriptPubKey)
                : a.amountSat < b.amountSat
                  ? -1
                  : 1;
            expect(cmp <= 0).toBe(true);
            if (cmp === 0) expect(a.htlc!.cltvExpiry <= b.htlc!.cltvExpiry).toBe(true);
          }
          for (const o of c.htlcOutputs) {
            expect(toHex(c.tx.outputs[o.outputIndex]!.scriptPubKey)).toBe(toHex(p2wsh(o.witnessScript)));
          }
          // With both balance outputs, the signed weight never exceeds the expected weight.
          if (
            c.toLocalIndex !== undefined &&
            c.toRemoteIndex !== undefined &&
            (!anchors || anchorCount === 2n)
          ) {
            const signed = finalizeCommitmentTx(
              c,
              signCommitmentTx(c, localFundingPrivkey),
              signCommitmentTx(c, remoteFundingPrivkey),
            );
            expect(weight(signed)).toBeLessThanOrEqual(commitmentWeight(c.htlcOutputs.length, ct));
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
