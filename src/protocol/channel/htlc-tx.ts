/**
 * BOLT #3 "HTLC-Timeout and HTLC-Success Transactions": the second-stage transactions that
 * spend the owner's HTLC outputs of a commitment transaction, their signatures (BIP143; with
 * option_anchors the counterparty signs SIGHASH_SINGLE|SIGHASH_ANYONECANPAY) and witnesses.
 */
import { secp } from '../crypto/secp256k1.js';
import { InvalidArgumentError } from '../errors.js';
import { p2wsh } from '../tx/script.js';
import { derWithHashType } from '../tx/signature.js';
import {
  SIGHASH_ALL,
  SIGHASH_ANYONECANPAY,
  SIGHASH_SINGLE,
  sighashSegwitV0,
  type Transaction,
} from '../tx/transaction.js';
import type { CommitmentHtlc, CommitmentTx, HtlcOutput } from './commitment.js';
import { htlcTxFee } from './fees.js';
import { type ChannelType, hasAnchors, htlcOutputScript } from './scripts.js';

/** Parameters of one second-stage HTLC transaction. */
export interface HtlcTxParams {
  channelType: ChannelType;
  /** Commitment txid (display order). */
  commitmentTxid: Uint8Array;
  /** The HTLC output being spent (from {@link CommitmentTx.htlcOutputs}). */
  output: HtlcOutput;
  feeratePerKw: number;
  /** Delay on the owner's output: the `to_self_delay` the counterparty asked for. */
  toSelfDelay: number;
  revocationPubkey: Uint8Array;
  localDelayedPubkey: Uint8Array;
}

/** A built (unsigned) HTLC-success or HTLC-timeout transaction. */
export interface HtlcTx {
  kind: 'htlc-success' | 'htlc-timeout';
  tx: Transaction;
  channelType: ChannelType;
  htlc: CommitmentHtlc;
  /** Index of the spent output in the commitment transaction. */
  commitmentOutputIndex: number;
  /** Witness script of the spent commitment HTLC output (the BIP143 scriptCode). */
  witnessScript: Uint8Array;
  /** Value of the spent commitment HTLC output (satoshis). */
  inputAmountSat: bigint;
  /** Witness script of this transaction's output (revocation / delayed). */
  outputWitnessScript: Uint8Array;
}

/**
 * Builds the HTLC-timeout (offered HTLC: locktime `cltv_expiry`) or HTLC-success (received HTLC:
 * locktime 0) transaction. Sequence 0 (1 with option_anchors); the output pays the HTLC amount
 * minus the second-stage fee (0 with option_anchors) to the revocable, delayed script.
 */
export function buildHtlcTx(p: HtlcTxParams): HtlcTx {
  return buildHtlcTxWith(p, htlcOutputScript(p.revocationPubkey, p.toSelfDelay, p.localDelayedPubkey));
}

/** {@link buildHtlcTx} with the output witness script `outWs` (same for every HTLC of a commitment). */
function buildHtlcTxWith(p: HtlcTxParams, outWs: Uint8Array, outSpk: Uint8Array = p2wsh(outWs)): HtlcTx {
  const { htlc } = p.output;
  const offered = htlc.direction === 'offered';
  const fee = htlcTxFee(htlc.direction, p.feeratePerKw, p.channelType);
  const value = p.output.amountSat - fee;
  if (value < 0n)
    throw new InvalidArgumentError('HTLC amount below the HTLC transaction fee (should be trimmed)');
  const tx: Transaction = {
    version: 2,
    inputs: [
      {
        txid: p.commitmentTxid,
        vout: p.output.outputIndex,
        scriptSig: new Uint8Array(0),
        sequence: hasAnchors(p.channelType) ? 1 : 0,
        witness: [],
      },
    ],
    outputs: [{ value, scriptPubKey: outSpk }],
    locktime: offered ? htlc.cltvExpiry : 0,
  };
  return {
    kind: offered ? 'htlc-timeout' : 'htlc-success',
    tx,
    channelType: p.channelType,
    htlc,
    commitmentOutputIndex: p.output.outputIndex,
    witnessScript: p.output.witnessScript,
    inputAmountSat: p.output.amountSat,
    outputWitnessScript: outWs,
  };
}

/**
 * All second-stage transactions of a commitment, in commitment output order (the order of
 * `htlc_signatures` in `commitment_signed`).
 */
export function buildHtlcTxs(c: CommitmentTx): HtlcTx[] {
  const p = c.params;
  if (c.htlcOutputs.length === 0) return [];
  // Every second-stage output of one commitment pays to the same script: build it once.
  const outWs = htlcOutputScript(p.keys.revocationPubkey, p.toSelfDelay, p.keys.localDelayedPubkey);
  const outSpk = p2wsh(outWs);
  return c.htlcOutputs.map((output) =>
    buildHtlcTxWith(
      {
        channelType: p.channelType,
        commitmentTxid: c.txid,
        output,
        feeratePerKw: p.feeratePerKw,
        toSelfDelay: p.toSelfDelay,
        revocationPubkey: p.keys.revocationPubkey,
        localDelayedPubkey: p.keys.localDelayedPubkey,
      },
      outWs,
      outSpk,
    ),
  );
}

/** Who signs: the commitment owner (`localhtlcsig`) or its counterparty (`remotehtlcsig`). */
export type HtlcSigner = 'owner' | 'counterparty';

/**
 * Sighash type of a signature on an HTLC transaction: SIGHASH_ALL, except the counterparty's
 * signature with option_anchors, which is SIGHASH_SINGLE|SIGHASH_ANYONECANPAY (BOLT #5).
 */
export function htlcSighashType(channelType: ChannelType, signer: HtlcSigner): number {
  return signer === 'counterparty' && hasAnchors(channelType)
    ? SIGHASH_SINGLE | SIGHASH_ANYONECANPAY
    : SIGHASH_ALL;
}

/** BIP143 digest of an HTLC transaction for `signer`. */
export function htlcTxSighash(h: HtlcTx, signer: HtlcSigner): Uint8Array {
  return sighashSegwitV0(h.tx, 0, h.witnessScript, h.inputAmountSat, htlcSighashType(h.channelType, signer));
}

/**
 * Signs an HTLC transaction with the signer's HTLC private key (`local_htlcpubkey` secret for
 * the owner, `remote_htlcpubkey` secret for the counterparty). Returns 64-byte compact.
 */
export function signHtlcTx(h: HtlcTx, htlcPrivkey: Uint8Array, signer: HtlcSigner): Uint8Array {
  return secp().sign(htlcTxSighash(h, signer), htlcPrivkey);
}

/** Verifies a compact signature on an HTLC transaction. */
export function verifyHtlcSig(
  h: HtlcTx,
  signature: Uint8Array,
  htlcPubkey: Uint8Array,
  signer: HtlcSigner,
): boolean {
  return secp().verify(signature, htlcTxSighash(h, signer), htlcPubkey);
}

/**
 * The signed HTLC transaction: witness `0 <remotehtlcsig> <localhtlcsig> <payment_preimage>`
 * (success) or `0 <remotehtlcsig> <localhtlcsig> <>` (timeout), then the witness script.
 * `preimage` is required for HTLC-success and ignored for HTLC-timeout.
 */
export function finalizeHtlcTx(
  h: HtlcTx,
  ownerSig: Uint8Array,
  counterpartySig: Uint8Array,
  preimage?: Uint8Array,
): Transaction {
  let last: Uint8Array = new Uint8Array(0);
  if (h.kind === 'htlc-success') {
    last = preimage ?? last;
    if (last.length !== 32) throw new InvalidArgumentError('HTLC-success needs the 32-byte preimage');
  }
  const witness = [
    new Uint8Array(0),
    derWithHashType(counterpartySig, htlcSighashType(h.channelType, 'counterparty')),
    derWithHashType(ownerSig, htlcSighashType(h.channelType, 'owner')),
    last,
    h.witnessScript,
  ];
  const [input] = h.tx.inputs;
  return { ...h.tx, inputs: [{ ...input!, witness }] };
}
