/**
 * BOLT #3 "Commitment Transaction" and "Commitment Transaction Construction": the obscured
 * commitment number, the output set (to_local, to_remote, anchors, offered/received HTLCs),
 * trimming, the base fee paid by the opener, BIP69+CLTV ordering, and signing/witness assembly.
 *
 * "local" and "remote" are always from the point of view of the OWNER of the commitment
 * transaction (the node that can broadcast it): the owner's outputs are delayed and revocable.
 * To build the peer's commitment (for `commitment_signed`), swap the roles in the parameters.
 * Test vectors: BOLT #3 Appendix C (static_remotekey) and Appendix F (anchors).
 */
import { sha256 } from '../crypto/hash.js';
import { secp } from '../crypto/secp256k1.js';
import { bytesToBigInt, concat } from '../encoding/bytes.js';
import { InvalidArgumentError } from '../errors.js';
import { p2wsh } from '../tx/script.js';
import { type Transaction, type TxOut, txid } from '../tx/transaction.js';
import { sortByOutput } from './bip69.js';
import { ANCHOR_OUTPUT_VALUE, commitmentFee, type HtlcDirection, isHtlcTrimmed } from './fees.js';
import { fundingSighash, fundingWitness, type Outpoint, withInputWitness } from './funding.js';
import {
  anchorScript,
  type ChannelType,
  fundingScript,
  hasAnchors,
  offeredHtlcScript,
  receivedHtlcScript,
  toLocalScript,
  toRemoteOutput,
} from './scripts.js';

const MASK48 = (1n << 48n) - 1n;

/**
 * The commitment number obscuring factor: the lower 48 bits of
 * `SHA256(payment_basepoint from open_channel || payment_basepoint from accept_channel)`.
 */
export function obscuringFactor(
  openerPaymentBasepoint: Uint8Array,
  accepterPaymentBasepoint: Uint8Array,
): bigint {
  return bytesToBigInt(sha256(concat(openerPaymentBasepoint, accepterPaymentBasepoint))) & MASK48;
}

/**
 * Locktime and `txin[0]` sequence encoding the obscured commitment number:
 * locktime = 0x20 << 24 | lower 24 bits, sequence = 0x80 << 24 | upper 24 bits.
 */
export function encodeCommitmentNumber(
  commitmentNumber: number,
  factor: bigint,
): { locktime: number; sequence: number } {
  if (!Number.isSafeInteger(commitmentNumber) || commitmentNumber < 0 || commitmentNumber > 2 ** 48 - 1)
    throw new InvalidArgumentError('commitment number must be a 48-bit integer');
  const obscured = (BigInt(commitmentNumber) ^ factor) & MASK48;
  return {
    locktime: 0x20000000 + Number(obscured & 0xffffffn),
    sequence: 0x80000000 + Number(obscured >> 24n),
  };
}

/**
 * Recovers the commitment number from a commitment transaction's locktime and input sequence,
 * or undefined if they do not carry the 0x20/0x80 markers.
 */
export function decodeCommitmentNumber(
  locktime: number,
  sequence: number,
  factor: bigint,
): number | undefined {
  if (locktime >>> 24 !== 0x20 || sequence >>> 24 !== 0x80) return undefined;
  const obscured = (BigInt(sequence & 0xffffff) << 24n) | BigInt(locktime & 0xffffff);
  return Number((obscured ^ factor) & MASK48);
}

/** An HTLC committed in a commitment transaction. */
export interface CommitmentHtlc {
  /** The HTLC `id` from `update_add_htlc` (for bookkeeping only; not in the transaction). */
  id: bigint;
  /** 'offered' if the commitment owner offered it (pays out via HTLC-timeout), else 'received'. */
  direction: HtlcDirection;
  amountMsat: bigint;
  paymentHash: Uint8Array;
  cltvExpiry: number;
}

/** The per-commitment keys of the commitment owner (BOLT #3 "Key Derivation"). */
export interface CommitmentKeys {
  /** `revocationpubkey` (from the counterparty's revocation basepoint and the owner's point). */
  revocationPubkey: Uint8Array;
  /** `local_delayedpubkey` (owner's delayed payment basepoint, tweaked). */
  localDelayedPubkey: Uint8Array;
  /** `remotepubkey`: the counterparty's `payment_basepoint` (static_remotekey / anchors). */
  remotePaymentPubkey: Uint8Array;
  /** `local_htlcpubkey`. */
  localHtlcPubkey: Uint8Array;
  /** `remote_htlcpubkey`. */
  remoteHtlcPubkey: Uint8Array;
}

/** Everything needed to build one commitment transaction. */
export interface CommitmentParams {
  channelType: ChannelType;
  fundingOutpoint: Outpoint;
  fundingAmountSat: bigint;
  /** Funding pubkey of the commitment owner (also locks `to_local_anchor`). */
  localFundingPubkey: Uint8Array;
  /** Funding pubkey of the counterparty (also locks `to_remote_anchor`). */
  remoteFundingPubkey: Uint8Array;
  commitmentNumber: number;
  /** From {@link obscuringFactor} (opener's basepoint first). */
  obscuringFactor: bigint;
  /** True if the commitment owner opened (funded) the channel and thus pays the fee. */
  localIsOpener: boolean;
  /** Owner's balance, excluding HTLCs and before the fee (msat). */
  toLocalMsat: bigint;
  /** Counterparty's balance, excluding HTLCs and before the fee (msat). */
  toRemoteMsat: bigint;
  feeratePerKw: number;
  /** The owner's `dust_limit_satoshis`. */
  dustLimitSat: bigint;
  /** The delay on the owner's outputs: the `to_self_delay` the counterparty asked for. */
  toSelfDelay: number;
  keys: CommitmentKeys;
  htlcs: readonly CommitmentHtlc[];
}

/** Kind of a commitment output. */
export type CommitmentOutputKind =
  | 'to_local'
  | 'to_remote'
  | 'to_local_anchor'
  | 'to_remote_anchor'
  | 'offered_htlc'
  | 'received_htlc';

/** One output of a built commitment transaction. */
export interface CommitmentOutput {
  kind: CommitmentOutputKind;
  index: number;
  amountSat: bigint;
  scriptPubKey: Uint8Array;
  /** The P2WSH witness script (undefined for a P2WPKH `to_remote`). */
  witnessScript: Uint8Array | undefined;
  /** The HTLC, for HTLC outputs. */
  htlc: CommitmentHtlc | undefined;
}

/** An untrimmed HTLC and where it sits in the commitment transaction. */
export interface HtlcOutput {
  htlcId: bigint;
  htlc: CommitmentHtlc;
  outputIndex: number;
  amountSat: bigint;
  witnessScript: Uint8Array;
}

/** A built (unsigned) commitment transaction and its bookkeeping. */
export interface CommitmentTx {
  /** Unsigned transaction (empty witness). */
  tx: Transaction;
  /** Its txid (display order). */
  txid: Uint8Array;
  /** All outputs in transaction order. */
  outputs: CommitmentOutput[];
  /** Untrimmed HTLC outputs in transaction order (the order of `htlc_signatures`). */
  htlcOutputs: HtlcOutput[];
  /** HTLCs that were trimmed (their value went to the fee). */
  trimmedHtlcs: CommitmentHtlc[];
  toLocalIndex: number | undefined;
  toRemoteIndex: number | undefined;
  localAnchorIndex: number | undefined;
  remoteAnchorIndex: number | undefined;
  /** The base fee (weight formula), paid by the opener. */
  baseFeeSat: bigint;
  /** The actual fee: funding amount minus the sum of the outputs. */
  feeSat: bigint;
  /** The funding witness script (spent by input 0). */
  fundingScript: Uint8Array;
  /** The parameters the transaction was built from. */
  params: CommitmentParams;
}

type Draft = Omit<CommitmentOutput, 'index'>;

/**
 * Builds the commitment transaction (BOLT #3 "Commitment Transaction Construction"):
 * trims HTLCs, subtracts the base fee (and, with anchors, 2 x 330 sat) from the opener,
 * drops balances below the dust limit, adds anchors (to_local_anchor if to_local exists or there
 * are untrimmed HTLCs; likewise for to_remote), and sorts outputs (BIP69 + cltv_expiry).
 *
 * Throws InvalidArgumentError if balances plus HTLCs do not add up to the funding amount.
 * An opener that cannot afford the fee simply loses its output (it becomes fee).
 */
export function buildCommitmentTx(p: CommitmentParams): CommitmentTx {
  const { channelType: ct, keys } = p;
  const anchors = hasAnchors(ct);
  let totalMsat = p.toLocalMsat + p.toRemoteMsat;
  for (const h of p.htlcs) {
    if (h.amountMsat < 0n) throw new InvalidArgumentError('negative HTLC amount');
    totalMsat += h.amountMsat;
  }
  if (p.toLocalMsat < 0n || p.toRemoteMsat < 0n) throw new InvalidArgumentError('negative balance');
  if (totalMsat !== p.fundingAmountSat * 1000n)
    throw new InvalidArgumentError('balances and HTLCs do not add up to the funding amount', {
      details: `${totalMsat} msat != ${p.fundingAmountSat} sat`,
    });

  const untrimmed: CommitmentHtlc[] = [];
  const trimmed: CommitmentHtlc[] = [];
  for (const h of p.htlcs) {
    (isHtlcTrimmed(h.direction, h.amountMsat, p.feeratePerKw, p.dustLimitSat, ct) ? trimmed : untrimmed).push(
      h,
    );
  }
  const baseFee = commitmentFee(p.feeratePerKw, untrimmed.length, ct);
  const openerCost = baseFee + (anchors ? 2n * ANCHOR_OUTPUT_VALUE : 0n);
  let toLocal = p.toLocalMsat / 1000n;
  let toRemote = p.toRemoteMsat / 1000n;
  if (p.localIsOpener) toLocal -= openerCost;
  else toRemote -= openerCost;

  const drafts: Draft[] = [];
  const htlcKeys = {
    revocationPubkey: keys.revocationPubkey,
    localHtlcPubkey: keys.localHtlcPubkey,
    remoteHtlcPubkey: keys.remoteHtlcPubkey,
  };
  for (const h of untrimmed) {
    const ws =
      h.direction === 'offered'
        ? offeredHtlcScript(htlcKeys, h.paymentHash, ct)
        : receivedHtlcScript(htlcKeys, h.paymentHash, h.cltvExpiry, ct);
    drafts.push({
      kind: h.direction === 'offered' ? 'offered_htlc' : 'received_htlc',
      amountSat: h.amountMsat / 1000n,
      scriptPubKey: p2wsh(ws),
      witnessScript: ws,
      htlc: h,
    });
  }
  // BOLT #3: if the amount would be less than dust_limit_satoshis, MUST NOT contain that output.
  const hasToLocal = toLocal >= p.dustLimitSat;
  const hasToRemote = toRemote >= p.dustLimitSat;
  if (hasToLocal) {
    const ws = toLocalScript(keys.revocationPubkey, p.toSelfDelay, keys.localDelayedPubkey);
    drafts.push({
      kind: 'to_local',
      amountSat: toLocal,
      scriptPubKey: p2wsh(ws),
      witnessScript: ws,
      htlc: undefined,
    });
  }
  if (hasToRemote) {
    const o = toRemoteOutput(keys.remotePaymentPubkey, ct);
    drafts.push({ kind: 'to_remote', amountSat: toRemote, ...o, htlc: undefined });
  }
  if (anchors) {
    if (hasToLocal || untrimmed.length > 0) {
      const ws = anchorScript(p.localFundingPubkey);
      drafts.push({
        kind: 'to_local_anchor',
        amountSat: ANCHOR_OUTPUT_VALUE,
        scriptPubKey: p2wsh(ws),
        witnessScript: ws,
        htlc: undefined,
      });
    }
    if (hasToRemote || untrimmed.length > 0) {
      const ws = anchorScript(p.remoteFundingPubkey);
      drafts.push({
        kind: 'to_remote_anchor',
        amountSat: ANCHOR_OUTPUT_VALUE,
        scriptPubKey: p2wsh(ws),
        witnessScript: ws,
        htlc: undefined,
      });
    }
  }

  // BOLT #3: value, then scriptpubkey, then (HTLC outputs) increasing cltv_expiry.
  const sorted = sortByOutput(
    drafts,
    (d): TxOut => ({ value: d.amountSat, scriptPubKey: d.scriptPubKey }),
    (a, b) => (a.htlc?.cltvExpiry ?? 0) - (b.htlc?.cltvExpiry ?? 0),
  );
  const outputs: CommitmentOutput[] = sorted.map((d, index) => ({ ...d, index }));
  const { locktime, sequence } = encodeCommitmentNumber(p.commitmentNumber, p.obscuringFactor);
  const tx: Transaction = {
    version: 2,
    inputs: [
      {
        txid: p.fundingOutpoint.txid,
        vout: p.fundingOutpoint.vout,
        scriptSig: new Uint8Array(0),
        sequence,
        witness: [],
      },
    ],
    outputs: outputs.map((o) => ({ value: o.amountSat, scriptPubKey: o.scriptPubKey })),
    locktime,
  };
  let outSum = 0n;
  for (const o of outputs) outSum += o.amountSat;
  const find = (k: CommitmentOutputKind) => outputs.find((o) => o.kind === k)?.index;
  return {
    tx,
    txid: txid(tx),
    outputs,
    htlcOutputs: outputs
      .filter((o) => o.htlc !== undefined)
      .map((o) => ({
        htlcId: o.htlc!.id,
        htlc: o.htlc!,
        outputIndex: o.index,
        amountSat: o.amountSat,
        witnessScript: o.witnessScript!,
      })),
    trimmedHtlcs: trimmed,
    toLocalIndex: find('to_local'),
    toRemoteIndex: find('to_remote'),
    localAnchorIndex: find('to_local_anchor'),
    remoteAnchorIndex: find('to_remote_anchor'),
    baseFeeSat: baseFee,
    feeSat: p.fundingAmountSat - outSum,
    fundingScript: fundingScript(p.localFundingPubkey, p.remoteFundingPubkey),
    params: p,
  };
}

/**
 * Sighashes of built commitment transactions (verified, then signed again for the monitor, in
 * the same step). Keyed by the {@link CommitmentTx} object, which is never mutated after
 * {@link buildCommitmentTx}; entries die with it.
 */
const sighashes = new WeakMap<CommitmentTx, Uint8Array>();

/** BIP143 SIGHASH_ALL digest that both funding keys sign for this commitment transaction. */
export function commitmentSighash(c: CommitmentTx): Uint8Array {
  let h = sighashes.get(c);
  if (!h) {
    h = fundingSighash(c.tx, c.fundingScript, c.params.fundingAmountSat);
    sighashes.set(c, h);
  }
  return h.slice();
}

/** Signs the commitment transaction with a funding private key (64-byte compact signature). */
export function signCommitmentTx(c: CommitmentTx, fundingPrivkey: Uint8Array): Uint8Array {
  return secp().sign(commitmentSighash(c), fundingPrivkey);
}

/** Verifies a compact signature on the commitment transaction against a funding pubkey. */
export function verifyCommitmentSig(
  c: CommitmentTx,
  signature: Uint8Array,
  fundingPubkey: Uint8Array,
): boolean {
  return secp().verify(signature, commitmentSighash(c), fundingPubkey);
}

/**
 * The fully signed commitment transaction: witness `0 <sig_for_pubkey1> <sig_for_pubkey2>
 * <funding script>` from the owner's (`localSig`) and the counterparty's (`remoteSig`)
 * compact signatures.
 */
export function finalizeCommitmentTx(
  c: CommitmentTx,
  localSig: Uint8Array,
  remoteSig: Uint8Array,
): Transaction {
  return withInputWitness(
    c.tx,
    fundingWitness(c.params.localFundingPubkey, localSig, c.params.remoteFundingPubkey, remoteSig),
  );
}
