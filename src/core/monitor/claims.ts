/**
 * BOLT #5 claim transactions (05-onchain.md "Unilateral Close Handling", "Revoked Transaction
 * Close Handling"): sweeps of delayed outputs, direct HTLC claims on the peer's commitment,
 * penalty (justice) spends, second-stage HTLC transactions of our commitment, and the signing
 * helpers the runtime's wallet uses for anchor CPFP children and zero-fee HTLC transactions.
 *
 * Witnesses (BOLT #3):
 * - `to_local`/second-stage output, delayed path: `<local_delayedsig> <>`; revocation path:
 *   `<revocation_sig> 1`;
 * - `to_remote`: P2WPKH `<sig> <pubkey>`, with anchors `<sig>` (P2WSH, `1 OP_CSV`);
 * - HTLC output, revocation: `<revocation_sig> <revocationpubkey>`; the counterparty's success
 *   path on an offered HTLC: `<remotehtlcsig> <payment_preimage>`; its timeout path on a
 *   received HTLC: `<remotehtlcsig> <>` (nLockTime = cltv_expiry);
 * - anchor: `<sig>`.
 */

import { HTLC_SUCCESS_WEIGHT_ANCHORS, HTLC_TIMEOUT_WEIGHT_ANCHORS } from '../../protocol/channel/fees.js';
import { finalizeHtlcTx, signHtlcTx } from '../../protocol/channel/htlc-tx.js';
import { secp } from '../../protocol/crypto/secp256k1.js';
import { InvalidArgumentError } from '../../protocol/errors.js';
import { derivePrivkey } from '../../protocol/keys/derivation.js';
import { classifyScript, p2wpkhScriptCode } from '../../protocol/tx/script.js';
import { derWithHashType } from '../../protocol/tx/signature.js';
import { SIGHASH_ALL, sighashSegwitV0, type Transaction, weight } from '../../protocol/tx/transaction.js';
import type { MonitorHtlcTx } from '../channel/monitor-update.js';
import type { ChannelKeys } from '../channel/types.js';
import type { AnchorSpend, HtlcFundingRequest } from './types.js';

/** Core's minimum relay feerate expressed per kw (1 sat/vB, rounded up). */
export const MIN_FEERATE_PER_KW = 253;

/** Sequence signalling RBF without a relative lock. */
export const SEQUENCE_RBF = 0xfffffffd;

/** A placeholder signature (max DER length + sighash byte) for weight estimation. */
const DUMMY_SIG = new Uint8Array(73);

/** How to spend one input of a claim transaction. */
export interface ClaimInput {
  txid: Uint8Array;
  vout: number;
  amountSat: bigint;
  sequence: number;
  /** BIP143 scriptCode (the witness script, or P2PKH-style code for P2WPKH). */
  scriptCode: Uint8Array;
  privkey: Uint8Array;
  /** Builds the witness from our DER+hashtype signature. */
  witness: (sig: Uint8Array) => Uint8Array[];
}

/** Core's dust threshold at 3 sat/vB for an output paying `script`. */
export function dustThreshold(script: Uint8Array): bigint {
  const outSize = 8 + (script.length < 0xfd ? 1 : 3) + script.length;
  const t = classifyScript(script);
  const witness = t === 'p2wpkh' || t === 'p2wsh' || t === 'p2tr' || t === 'witness_unknown';
  return (3n * BigInt(outSize + (witness ? 67 : 148)) * 1000n) / 1000n;
}

/** `ceil(feerate * weight / 1000)`. */
export function feeFor(feeratePerKw: number, txWeight: number): bigint {
  return (BigInt(Math.max(feeratePerKw, MIN_FEERATE_PER_KW)) * BigInt(txWeight) + 999n) / 1000n;
}

function sign(tx: Transaction, i: number, input: ClaimInput): Uint8Array {
  const digest = sighashSegwitV0(tx, i, input.scriptCode, input.amountSat, SIGHASH_ALL);
  return derWithHashType(secp().sign(digest, input.privkey), SIGHASH_ALL);
}

/**
 * A fully signed transaction spending `inputs` to one `destination` output, paying
 * `feeratePerKw` on its (worst-case) weight. Undefined when what is left is below dust.
 */
export function buildClaimTx(
  inputs: readonly ClaimInput[],
  destination: Uint8Array,
  feeratePerKw: number,
  locktime = 0,
): Transaction | undefined {
  if (inputs.length === 0) throw new InvalidArgumentError('a claim needs at least one input');
  let total = 0n;
  for (const i of inputs) total += i.amountSat;
  const tx: Transaction = {
    version: 2,
    inputs: inputs.map((i) => ({
      txid: i.txid,
      vout: i.vout,
      scriptSig: new Uint8Array(0),
      sequence: i.sequence,
      witness: i.witness(DUMMY_SIG),
    })),
    outputs: [{ value: 0n, scriptPubKey: destination }],
    locktime,
  };
  const value = total - feeFor(feeratePerKw, weight(tx));
  if (value < dustThreshold(destination)) return undefined;
  tx.outputs[0]!.value = value;
  for (const x of tx.inputs) x.witness = [];
  inputs.forEach((input, k) => {
    tx.inputs[k]!.witness = input.witness(sign(tx, k, input));
  });
  return tx;
}

/** Our HTLC private key for a commitment with per-commitment point `point` (either side's). */
export function ourHtlcPrivkey(keys: ChannelKeys, htlcBasepoint: Uint8Array, point: Uint8Array): Uint8Array {
  return derivePrivkey(keys.htlcBasepointSecret, point, htlcBasepoint);
}

/** Our delayed-payment private key for our commitment with point `point`. */
export function ourDelayedPrivkey(
  keys: ChannelKeys,
  delayedPaymentBasepoint: Uint8Array,
  point: Uint8Array,
): Uint8Array {
  return derivePrivkey(keys.delayedPaymentBasepointSecret, point, delayedPaymentBasepoint);
}

/** A delayed output of ours (`to_local`, second-stage HTLC output) after its CSV delay. */
export function delayedInput(
  outpoint: { txid: Uint8Array; vout: number; amountSat: bigint },
  witnessScript: Uint8Array,
  delay: number,
  privkey: Uint8Array,
): ClaimInput {
  return {
    ...outpoint,
    sequence: delay,
    scriptCode: witnessScript,
    privkey,
    witness: (sig) => [sig, new Uint8Array(0), witnessScript],
  };
}

/** Our `to_remote` output on the peer's commitment (P2WPKH, or P2WSH with `1 OP_CSV` for anchors). */
export function toRemoteInput(
  outpoint: { txid: Uint8Array; vout: number; amountSat: bigint },
  paymentPrivkey: Uint8Array,
  anchorsWitnessScript: Uint8Array | undefined,
): ClaimInput {
  if (anchorsWitnessScript) {
    return {
      ...outpoint,
      sequence: 1,
      scriptCode: anchorsWitnessScript,
      privkey: paymentPrivkey,
      witness: (sig) => [sig, anchorsWitnessScript],
    };
  }
  const pub = secp().publicKey(paymentPrivkey);
  return {
    ...outpoint,
    sequence: SEQUENCE_RBF,
    scriptCode: p2wpkhScriptCode(pub),
    privkey: paymentPrivkey,
    witness: (sig) => [sig, pub],
  };
}

/**
 * An HTLC output of the peer's commitment: with `preimage` the success path of an HTLC the peer
 * offered, otherwise the timeout path of an HTLC it received (the tx needs nLockTime = cltv_expiry).
 */
export function remoteHtlcInput(
  outpoint: { txid: Uint8Array; vout: number; amountSat: bigint },
  witnessScript: Uint8Array,
  htlcPrivkey: Uint8Array,
  preimage: Uint8Array | undefined,
  anchors: boolean,
): ClaimInput {
  return {
    ...outpoint,
    sequence: anchors ? 1 : SEQUENCE_RBF,
    scriptCode: witnessScript,
    privkey: htlcPrivkey,
    witness: (sig) => [sig, preimage ?? new Uint8Array(0), witnessScript],
  };
}

/** A revocable `to_local`-style output (revoked `to_local` or second-stage HTLC output). */
export function revokedDelayedInput(
  outpoint: { txid: Uint8Array; vout: number; amountSat: bigint },
  witnessScript: Uint8Array,
  revocationPrivkey: Uint8Array,
): ClaimInput {
  return {
    ...outpoint,
    sequence: SEQUENCE_RBF,
    scriptCode: witnessScript,
    privkey: revocationPrivkey,
    witness: (sig) => [sig, Uint8Array.of(1), witnessScript],
  };
}

/** An HTLC output of a revoked commitment (revocation key path). */
export function revokedHtlcInput(
  outpoint: { txid: Uint8Array; vout: number; amountSat: bigint },
  witnessScript: Uint8Array,
  revocationPrivkey: Uint8Array,
): ClaimInput {
  const pub = secp().publicKey(revocationPrivkey);
  return {
    ...outpoint,
    sequence: SEQUENCE_RBF,
    scriptCode: witnessScript,
    privkey: revocationPrivkey,
    witness: (sig) => [sig, pub, witnessScript],
  };
}

/**
 * The fully signed second-stage transaction of our commitment (static_remotekey: it carries its
 * own fee). `preimage` is required for HTLC-success.
 */
export function signedHtlcTx(
  h: MonitorHtlcTx,
  keys: ChannelKeys,
  htlcBasepoint: Uint8Array,
  point: Uint8Array,
  preimage: Uint8Array | undefined,
): Transaction {
  const ourSig = signHtlcTx(h.htlcTx, ourHtlcPrivkey(keys, htlcBasepoint, point), 'owner');
  return finalizeHtlcTx(h.htlcTx, ourSig, h.remoteSig, preimage);
}

/** Expected weight of a signed zero-fee HTLC transaction's own part (BOLT #3 Appendix A). */
export function anchorHtlcWeight(h: MonitorHtlcTx): number {
  return h.direction === 'offered' ? HTLC_TIMEOUT_WEIGHT_ANCHORS : HTLC_SUCCESS_WEIGHT_ANCHORS;
}

/**
 * Signs input 0 of a wallet-funded zero-fee HTLC transaction (option_anchors): `tx` MUST keep
 * the template's input 0, output 0, version and locktime; extra inputs/outputs come after. Our
 * signature is SIGHASH_ALL over the final transaction; the peer's SIGHASH_SINGLE|ANYONECANPAY
 * signature stays valid. Returns `tx` with input 0's witness set (the wallet signs the rest).
 */
export function signFundedHtlcTx(
  tx: Transaction,
  request: HtlcFundingRequest,
  keys: ChannelKeys,
  htlcBasepoint: Uint8Array,
): Transaction {
  const t = request.htlc.htlcTx;
  const in0 = tx.inputs[0];
  const tin = t.tx.inputs[0]!;
  const out0 = tx.outputs[0];
  if (
    !in0 ||
    !out0 ||
    in0.vout !== tin.vout ||
    in0.sequence !== tin.sequence ||
    tx.locktime !== t.tx.locktime ||
    tx.version !== t.tx.version ||
    out0.value !== t.tx.outputs[0]!.value
  )
    throw new InvalidArgumentError('funded HTLC tx must keep the template input 0 / output 0');
  const funded = { ...t, tx };
  const ourSig = signHtlcTx(funded, ourHtlcPrivkey(keys, htlcBasepoint, request.perCommitmentPoint), 'owner');
  // finalizeHtlcTx keeps one input only: assemble input 0's witness here.
  const one = finalizeHtlcTx(
    { ...funded, tx: { ...tx, inputs: [in0] } },
    ourSig,
    request.htlc.remoteSig,
    request.preimage,
  );
  return { ...tx, inputs: [one.inputs[0]!, ...tx.inputs.slice(1)] };
}

/**
 * The witness of our anchor input at `inputIndex` of a CPFP child: `<sig> <anchor script>`
 * signed SIGHASH_ALL with our funding key.
 */
export function signAnchorSpend(
  tx: Transaction,
  inputIndex: number,
  anchor: AnchorSpend,
  keys: ChannelKeys,
): Uint8Array[] {
  const digest = sighashSegwitV0(tx, inputIndex, anchor.witnessScript, anchor.amountSat, SIGHASH_ALL);
  return [derWithHashType(secp().sign(digest, keys.fundingPrivkey), SIGHASH_ALL), anchor.witnessScript];
}
