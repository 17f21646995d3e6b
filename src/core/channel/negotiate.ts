/**
 * BOLT #2 "Legacy Closing Negotiation: closing_signed" with the `fee_range` TLV, over BOLT #3
 * "Legacy Closing Transaction": fee estimation from the transaction weight, our fee range, and
 * verification of the peer's signature against every variant BOLT #3 allows (outputs trimmed
 * at either side's dust limit; the signer MAY omit its own output).
 */
import { buildClosingTx, type ClosingTx, signClosingTx } from '../../protocol/channel/closing.js';
import { fundingSighash, fundingWitness, withInputWitness } from '../../protocol/channel/funding.js';
import { secp } from '../../protocol/crypto/secp256k1.js';
import { type Transaction, weight } from '../../protocol/tx/transaction.js';
import type { ClosingSigned } from '../../protocol/wire/messages.js';
import type { CloseFeerates, FundedData } from './state.js';
import type { ChannelKeys } from './types.js';

/** A closing transaction variant (always built from our point of view). */
interface Variant {
  tx: ClosingTx;
}

function closingParams(d: FundedData, feeSat: bigint, dustLimitSat: bigint) {
  const c = d.commitments;
  const p = c.params;
  return {
    fundingOutpoint: { txid: p.fundingTxid, vout: p.fundingOutputIndex },
    fundingAmountSat: p.fundingAmountSat,
    localFundingPubkey: p.local.fundingPubkey,
    remoteFundingPubkey: p.remote.fundingPubkey,
    localScriptPubKey: d.localShutdown!.scriptpubkey,
    remoteScriptPubKey: d.remoteShutdown!.scriptpubkey,
    toLocalMsat: c.localCommit.spec.toLocalMsat,
    toRemoteMsat: c.localCommit.spec.toRemoteMsat,
    feeSat,
    localIsOpener: p.isOpener,
    dustLimitSat,
  };
}

/** Our closing transaction at `feeSat` (outputs below our dust limit removed). */
export function ourClosingTx(d: FundedData, feeSat: bigint): ClosingTx {
  return buildClosingTx(closingParams(d, feeSat, d.commitments.params.local.dustLimitSat));
}

/** Expected weight of the signed closing transaction (dummy signatures, +4 wu margin). */
export function closingWeight(d: FundedData): number {
  const tx = ourClosingTx(d, 0n);
  const dummy = new Uint8Array(64).fill(0x7f);
  const p = d.commitments.params;
  const signed = withInputWitness(
    tx.tx,
    fundingWitness(p.local.fundingPubkey, dummy, p.remote.fundingPubkey, dummy),
  );
  return weight(signed) + 4;
}

/** The fee (sat) of the closing transaction at `feeratePerKw`. */
export function closingFeeAt(d: FundedData, feeratePerKw: number): bigint {
  return (BigInt(feeratePerKw) * BigInt(closingWeight(d))) / 1000n;
}

/** The opener's balance in whole satoshis (the fee comes out of it). */
function openerBalanceSat(d: FundedData): bigint {
  const s = d.commitments.localCommit.spec;
  return (d.commitments.params.isOpener ? s.toLocalMsat : s.toRemoteMsat) / 1000n;
}

/** Our acceptable fee range; the non-opener accepts up to the peer's max (it does not pay). */
export function ourFeeRange(
  d: FundedData,
  feerates: CloseFeerates,
  theirRange?: { minFeeSatoshis: bigint; maxFeeSatoshis: bigint },
): { min: bigint; max: bigint } {
  const w = BigInt(closingWeight(d));
  const min = (BigInt(feerates.min) * w) / 1000n;
  let max = (BigInt(feerates.max) * w) / 1000n;
  if (!d.commitments.params.isOpener && theirRange && theirRange.maxFeeSatoshis > max)
    max = theirRange.maxFeeSatoshis;
  const cap = openerBalanceSat(d);
  if (max > cap) max = cap;
  return { min: min > max ? max : min, max };
}

/** Our preferred fee clamped into `[lo, hi]`. */
export function preferredFee(d: FundedData, feerates: CloseFeerates, lo: bigint, hi: bigint): bigint {
  const f = closingFeeAt(d, feerates.preferred);
  return f < lo ? lo : f > hi ? hi : f;
}

/** Our `closing_signed` for `feeSat` (signature on our variant) with an optional `fee_range`. */
export function makeClosingSigned(
  d: FundedData,
  feeSat: bigint,
  range: { min: bigint; max: bigint } | undefined,
  keys: ChannelKeys,
): ClosingSigned {
  const tx = ourClosingTx(d, feeSat);
  return {
    type: 'closing_signed',
    channelId: d.commitments.params.channelId,
    feeSatoshis: feeSat,
    signature: signClosingTx(tx, keys.fundingPrivkey),
    ...(range ? { feeRange: { minFeeSatoshis: range.min, maxFeeSatoshis: range.max } } : {}),
  };
}

/**
 * Finds the closing transaction variant the peer's signature is valid for (BOLT #2: "if the
 * signature is not valid for either variant of closing transaction ... MUST fail"), or undefined.
 */
export function verifyPeerClosing(d: FundedData, feeSat: bigint, signature: Uint8Array): Variant | undefined {
  const p = d.commitments.params;
  const dusts = [p.remote.dustLimitSat, p.local.dustLimitSat];
  const candidates: ClosingTx[] = [];
  for (const dust of dusts) {
    const base = closingParams(d, feeSat, dust);
    candidates.push(buildClosingTx(base));
    // The peer MAY omit its own output: build from the peer's point of view with omitLocalOutput.
    candidates.push(
      buildClosingTx({
        ...base,
        localFundingPubkey: base.remoteFundingPubkey,
        remoteFundingPubkey: base.localFundingPubkey,
        localScriptPubKey: base.remoteScriptPubKey,
        remoteScriptPubKey: base.localScriptPubKey,
        toLocalMsat: base.toRemoteMsat,
        toRemoteMsat: base.toLocalMsat,
        localIsOpener: !base.localIsOpener,
        omitLocalOutput: true,
      }),
    );
  }
  for (const tx of candidates) {
    if (feeSat < 0n) return undefined;
    const digest = fundingSighash(tx.tx, tx.fundingScript, p.fundingAmountSat);
    if (secp().verify(signature, digest, p.remote.fundingPubkey)) return { tx };
  }
  return undefined;
}

/** The fully signed closing transaction for a variant the peer signed (we sign the same one). */
export function finalizeMutualClose(
  d: FundedData,
  v: { tx: ClosingTx },
  theirSig: Uint8Array,
  keys: ChannelKeys,
): { tx: Transaction; ourSig: Uint8Array } {
  const p = d.commitments.params;
  const ourSig = secp().sign(
    fundingSighash(v.tx.tx, v.tx.fundingScript, p.fundingAmountSat),
    keys.fundingPrivkey,
  );
  const tx = withInputWitness(
    v.tx.tx,
    fundingWitness(p.local.fundingPubkey, ourSig, p.remote.fundingPubkey, theirSig),
  );
  return { tx, ourSig };
}
