/**
 * What the channel state machine tells the on-chain monitor (BOLT #5, 05-onchain.md), as
 * `MonitorUpdate` effects. The monitor is written against these types: with them alone (plus
 * the channel's {@link ChannelKeys} through the signer) it can recognise and resolve every
 * transaction spending the funding output:
 *
 * - {@link ChannelFundedUpdate} once, when the first commitments are signed (funding outpoint,
 *   scripts, both sides' basepoints and delays);
 * - {@link LocalCommitmentUpdate} for each new commitment of ours the peer signed (commitment tx
 *   with the peer's funding signature + HTLC txs with the peer's signatures) — what a local
 *   force close broadcasts;
 * - {@link RemoteCommitmentUpdate} for each commitment of the peer we sign — to recognise a remote
 *   force close and claim our outputs/HTLCs from it;
 * - {@link RemoteRevocationUpdate} for each revoked peer commitment — the secret to punish it;
 * - {@link PreimageUpdate} whenever we learn a preimage (we fulfill, or the peer fulfills);
 * - {@link MutualCloseUpdate} when a cooperative close is final.
 *
 * Ordering obligation (the runtime's): a MonitorUpdate MUST reach the monitor (durably) before
 * any `SendMessage` that follows it in the effect list — e.g. the remote commitment is known to
 * the monitor before our `commitment_signed` leaves, our new local commitment before our
 * `revoke_and_ack` (which makes the previous one punishable) leaves.
 */
import type { CommitmentKeys } from '../../protocol/channel/commitment.js';
import type { HtlcTx } from '../../protocol/channel/htlc-tx.js';
import type { ChannelType } from '../../protocol/channel/scripts.js';
import type { Transaction } from '../../protocol/tx/transaction.js';
import type { ChannelPubkeys, CommitmentSpec } from './types.js';

/** One side's static on-chain parameters. */
export interface MonitorSide extends ChannelPubkeys {
  dustLimitSat: bigint;
  /** CSV delay on THIS side's own outputs (to_local, second-stage HTLC outputs). */
  ownOutputsDelay: number;
}

/** The channel is funded: everything static the monitor needs. */
export interface ChannelFundedUpdate {
  type: 'ChannelFunded';
  channelId: Uint8Array;
  channelType: ChannelType;
  isOpener: boolean;
  /** Funding outpoint (`txid` in display order). */
  fundingTxid: Uint8Array;
  fundingOutputIndex: number;
  fundingAmountSat: bigint;
  /** The 2-of-2 funding witness script. */
  fundingScript: Uint8Array;
  /** BOLT #3 commitment number obscuring factor (opener's payment basepoint first). */
  obscuringFactor: bigint;
  local: MonitorSide;
  remote: MonitorSide;
  /** Where our funds go on a mutual close / sweep (our default shutdown script). */
  localShutdownScript: Uint8Array;
}

/** One second-stage transaction of our commitment, with the peer's signature. */
export interface MonitorHtlcTx {
  htlcId: bigint;
  /** 'offered' (our outgoing HTLC, HTLC-timeout) or 'received' (incoming, HTLC-success). */
  direction: 'offered' | 'received';
  paymentHash: Uint8Array;
  amountMsat: bigint;
  cltvExpiry: number;
  /**
   * The unsigned transaction as built by `buildHtlcTx` (locktime, sequence, the delayed
   * output). Finalise with `finalizeHtlcTx(tx, ourSig, remoteSig, preimage?)`; our signature uses
   * `derivePrivkey(htlcBasepointSecret, perCommitmentPoint)`. With anchors the peer signed
   * SIGHASH_SINGLE|ANYONECANPAY, so fee inputs/outputs may be added before we sign.
   */
  htlcTx: HtlcTx;
  /** The peer's signature (compact 64 bytes). */
  remoteSig: Uint8Array;
}

/** A new local commitment (the one a local force close broadcasts). */
export interface LocalCommitmentUpdate {
  type: 'LocalCommitment';
  channelId: Uint8Array;
  commitmentNumber: number;
  /** Our per-commitment point for it. */
  perCommitmentPoint: Uint8Array;
  /**
   * The commitment transaction: fully signed (both funding signatures in its witness), or, when
   * {@link LocalCommitmentUpdate.remoteSig} is set, unsigned — the monitor adds both signatures
   * (ours from the channel's funding key) when it broadcasts it.
   */
  commitTx: Transaction;
  /**
   * The peer's funding signature (64-byte compact) of an unsigned {@link LocalCommitmentUpdate.commitTx}
   * (absent when `commitTx` is already signed). Signing our own commitment only when it is
   * published keeps one signature per received `commitment_signed` off the payment path.
   */
  remoteSig?: Uint8Array;
  txid: Uint8Array;
  /** Our point of view. */
  spec: CommitmentSpec;
  keys: CommitmentKeys;
  /** Output indexes (undefined when the output is absent). */
  toLocalOutputIndex: number | undefined;
  localAnchorOutputIndex: number | undefined;
  /** Witness script of `to_local` (revocable, delayed by {@link MonitorSide.ownOutputsDelay}). */
  toLocalWitnessScript: Uint8Array | undefined;
  /** Every untrimmed HTLC's second-stage transaction, in commitment output order. */
  htlcTxs: MonitorHtlcTx[];
}

/** An HTLC output of the peer's commitment. */
export interface MonitorRemoteHtlc {
  htlcId: bigint;
  /** From the PEER's point of view: 'offered' = the peer's outgoing = our incoming. */
  direction: 'offered' | 'received';
  paymentHash: Uint8Array;
  amountMsat: bigint;
  cltvExpiry: number;
  outputIndex: number;
  amountSat: bigint;
  witnessScript: Uint8Array;
}

/** A commitment of the peer that we signed (sent in `commitment_signed`, or at funding). */
export interface RemoteCommitmentUpdate {
  type: 'RemoteCommitment';
  channelId: Uint8Array;
  commitmentNumber: number;
  txid: Uint8Array;
  /** The peer's per-commitment point for it. */
  perCommitmentPoint: Uint8Array;
  /** The peer's point of view. */
  spec: CommitmentSpec;
  keys: CommitmentKeys;
  /** Our output in their commitment (`to_remote`), if present. */
  toRemoteOutputIndex: number | undefined;
  toRemoteScriptPubKey: Uint8Array | undefined;
  /** The peer's `to_local` output (revocable), if present. */
  toLocalOutputIndex: number | undefined;
  toLocalWitnessScript: Uint8Array | undefined;
  remoteAnchorOutputIndex: number | undefined;
  htlcOutputs: MonitorRemoteHtlc[];
}

/** The peer revoked its commitment `commitmentNumber`: publishing it is now punishable. */
export interface RemoteRevocationUpdate {
  type: 'RemoteRevocation';
  channelId: Uint8Array;
  commitmentNumber: number;
  perCommitmentSecret: Uint8Array;
}

/** A payment preimage we know (to claim HTLC outputs on chain). */
export interface PreimageUpdate {
  type: 'Preimage';
  channelId: Uint8Array;
  paymentHash: Uint8Array;
  preimage: Uint8Array;
}

/** The fully signed mutual close transaction both sides agreed on. */
export interface MutualCloseUpdate {
  type: 'MutualClose';
  channelId: Uint8Array;
  tx: Transaction;
}

/** Everything the monitor is told (discriminated on `type`). */
export type MonitorUpdate =
  | ChannelFundedUpdate
  | LocalCommitmentUpdate
  | RemoteCommitmentUpdate
  | RemoteRevocationUpdate
  | PreimageUpdate
  | MutualCloseUpdate;
