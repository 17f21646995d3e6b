/**
 * Vocabulary of the per-channel on-chain monitor (BOLT #5, 05-onchain.md), sans-IO:
 * {@link MonitorState} (persistable plain data), {@link MonitorInput} (the channel's
 * {@link MonitorUpdate}s, blocks, reorgs, mempool transactions, commands),
 * {@link MonitorEffect} (what the runtime must do) and {@link MonitorContext} (secrets, feerates).
 *
 * Runtime obligations:
 * - feed every block in order (`BlockConnected` with ALL its transactions; the monitor filters)
 *   and every reorg (`BlockDisconnected` for each disconnected height, highest first);
 * - execute `Broadcast` (idempotently: the same claim is re-emitted every block until it
 *   confirms; a rejected duplicate/RBF-failed broadcast is harmless);
 * - answer `RequestCpfp` / `FundHtlcTx` from its wallet (see ./claims.ts for the signing helpers);
 * - after a `ForceClose` effect, stop the channel (`CmdForceClose`) before any further message of
 *   that channel leaves: the monitor is publishing our latest commitment;
 * - persist `PersistMonitor` before acting on later effects of the same step.
 */

import type { ShachainStore } from '../../protocol/keys/shachain.js';
import type { Transaction } from '../../protocol/tx/transaction.js';
import type {
  ChannelFundedUpdate,
  LocalCommitmentUpdate,
  MonitorHtlcTx,
  MonitorUpdate,
  RemoteCommitmentUpdate,
} from '../channel/monitor-update.js';
import type { ChannelKeys, SpecHtlc } from '../channel/types.js';

/** BOLT #5 suggests waiting for reorgs; Farad's default depth before forgetting anything. */
export const ANTI_REORG_DELAY = 6;

/** Monitor policy (all in blocks). */
export interface MonitorConfig {
  /**
   * Confirmations after which a spend is final: timed-out HTLCs are reported, outputs forgotten,
   * the channel declared resolved. (BOLT #5 calls an output "irrevocably resolved" at 100.)
   */
  antiReorgDelay: number;
  /** Go on chain when an offered HTLC is unresolved at `height >= cltv_expiry - margin`. */
  offeredHtlcCloseMargin: number;
  /** Go on chain when an incoming HTLC whose preimage we know is unresolved at `height >= cltv_expiry - margin`. */
  receivedHtlcCloseMargin: number;
}

/** Defaults: 6 blocks reorg safety; offered HTLCs at their expiry; fulfilled incoming 12 blocks before. */
export const DEFAULT_MONITOR_CONFIG: MonitorConfig = {
  antiReorgDelay: ANTI_REORG_DELAY,
  offeredHtlcCloseMargin: 0,
  receivedHtlcCloseMargin: 12,
};

/** What every step gets from the caller. */
export interface MonitorContext {
  /** The channel's secrets (sweeps, HTLC and penalty signatures, anchor spends). */
  keys: ChannelKeys;
  /** Target feerate (sat per 1000 weight) of claims, sweeps and CPFP; at least 253 is used. */
  feeratePerKw: number;
  /**
   * Where swept funds go. Fixed at the first step that knows one (this, else the
   * `ChannelFunded` update's `localShutdownScript`).
   */
  destinationScript?: Uint8Array;
  config?: Partial<MonitorConfig>;
}

/**
 * A peer commitment the peer revoked (compact: HTLC outputs are re-derived from the secret).
 * The state keeps them only until the runtime archives them ({@link archiveRevoked}); the
 * runtime puts one back ({@link hydrateRevoked}) when that commitment shows up on chain.
 */
export interface RevokedCommitment {
  commitmentNumber: number;
  /** Its txid when the monitor saw it as a `RemoteCommitment` (otherwise matched by number). */
  txid: Uint8Array | undefined;
  perCommitmentSecret: Uint8Array;
  /** Its HTLCs from the peer's point of view (trimmed ones included; only real outputs match). */
  htlcs: SpecHtlc[];
}

/**
 * A revoked commitment as archived out of the state (cold storage): its HTLCs, and its secret
 * when the state's {@link MonitorState.secrets} cannot derive it.
 */
export interface ArchivedRevoked {
  commitmentNumber: number;
  perCommitmentSecret: Uint8Array | undefined;
  htlcs: SpecHtlc[];
}

/** A transaction relevant to this channel, confirmed at `height`. */
export interface ChainTx {
  height: number;
  txid: Uint8Array;
  tx: Transaction;
}

/** The persistable monitor state (plain data; see ./serialize.ts). */
export interface MonitorState {
  version: 1;
  funded: ChannelFundedUpdate | undefined;
  destinationScript: Uint8Array | undefined;
  /** Our latest local commitment and the one before it (still valid until we revoke it). */
  locals: LocalCommitmentUpdate[];
  /** The peer's unrevoked commitments (current and, while waiting for a revocation, the next). */
  remotes: RemoteCommitmentUpdate[];
  /** Revoked peer commitments not archived yet (see {@link RevokedCommitment}). */
  revoked: RevokedCommitment[];
  /**
   * BOLT #3 compact store of every per-commitment secret the peer revealed (49 entries at most),
   * commitment 0 upwards; undefined when the monitor did not see them all in order (states
   * written before it existed). Lets any revoked commitment's `to_local` be punished without
   * its archived record.
   */
  secrets: ShachainStore | undefined;
  /** Preimages of HTLCs still in an unrevoked commitment (pruned as HTLCs leave). */
  preimages: Uint8Array[];
  /** Known mutual close transactions' txids. */
  mutualCloseTxids: Uint8Array[];
  /** We decided to publish our latest commitment (CmdForceClose or an HTLC deadline). */
  broadcastLocal: boolean;
  /** Last connected block height. */
  height: number;
  /** Relevant confirmed transactions (the funding spend and spends of tracked outputs), in chain order. */
  chainTxs: ChainTx[];
  /** Keys of one-shot effects already emitted (events, watches). */
  reported: string[];
  /** Everything resolved at depth: nothing more to do. */
  resolved: boolean;
}

/** A block was connected: its height and every transaction in it. */
export interface BlockConnected {
  type: 'BlockConnected';
  height: number;
  txs: Transaction[];
}

/** The block at `height` was disconnected (reorg): forget what it confirmed. */
export interface BlockDisconnected {
  type: 'BlockDisconnected';
  height: number;
}

/** A transaction seen in the mempool (preimages are extracted from it early). */
export interface MempoolTx {
  type: 'MempoolTx';
  tx: Transaction;
}

/** Publish our latest commitment and resolve it on chain. */
export interface MonitorCmdForceClose {
  type: 'CmdForceClose';
}

/** Everything {@link monitorStep} consumes. */
export type MonitorInput =
  | MonitorUpdate
  | BlockConnected
  | BlockDisconnected
  | MempoolTx
  | MonitorCmdForceClose;

/** What a broadcast transaction does. */
export type ClaimKind =
  | 'local-commitment'
  | 'to-local-sweep'
  | 'htlc-success'
  | 'htlc-timeout'
  | 'htlc-delayed-sweep'
  | 'to-remote-sweep'
  | 'remote-htlc-success'
  | 'remote-htlc-timeout'
  | 'justice';

/** Our anchor output of a commitment, to spend in a CPFP child (see `signAnchorSpend`). */
export interface AnchorSpend {
  txid: Uint8Array;
  vout: number;
  amountSat: bigint;
  witnessScript: Uint8Array;
}

/**
 * A zero-fee (option_anchors) second-stage transaction of our commitment for the wallet to fund:
 * keep input 0 and output 0 of `htlc.htlcTx.tx`, append wallet inputs/outputs, then call
 * `signFundedHtlcTx` for input 0 (SIGHASH_ALL) and sign the wallet inputs.
 */
export interface HtlcFundingRequest {
  htlc: MonitorHtlcTx;
  /** Our per-commitment point of the commitment it spends. */
  perCommitmentPoint: Uint8Array;
  /** Required for HTLC-success. */
  preimage: Uint8Array | undefined;
  /** Weight of input 0 + output 0 + tx overhead once signed (BOLT #3 Appendix A expected weight). */
  weight: number;
}

/** How the funding output was spent. */
export type CloseKind = 'mutual' | 'local' | 'remote' | 'revoked' | 'remote-unknown';

/** Outcome of an HTLC resolved on chain. */
export type HtlcOutcome = { kind: 'fulfilled'; preimage: Uint8Array } | { kind: 'timedOut' };

/** Everything the runtime must do after a step, in order. */
export type MonitorEffect =
  | { type: 'PersistMonitor'; state: MonitorState }
  | { type: 'WatchOutpoint'; txid: Uint8Array; vout: number }
  /** Publish `tx` (fully signed). Re-emitted every block until it (or a conflicting spend) confirms. */
  | { type: 'Broadcast'; tx: Transaction; kind: ClaimKind }
  /**
   * Fee-bump `parentTx` (already broadcast) by CPFP: the wallet builds a child spending `anchor`
   * (signed with `signAnchorSpend`) plus its own inputs so that the package (parent + child)
   * reaches `targetFeeratePerKw`, and submits [parent, child] as a package.
   */
  | {
      type: 'RequestCpfp';
      parentTx: Transaction;
      parentTxid: Uint8Array;
      parentFeeSat: bigint;
      parentWeight: number;
      anchor: AnchorSpend;
      targetFeeratePerKw: number;
    }
  /** Fund a zero-fee HTLC transaction of our commitment (anchors), see {@link HtlcFundingRequest}. */
  | { type: 'FundHtlcTx'; request: HtlcFundingRequest; targetFeeratePerKw: number }
  /** The funding output was spent (reported once per spending txid). */
  | { type: 'FundingSpent'; kind: CloseKind; txid: Uint8Array; height: number }
  /**
   * An HTLC of the unrevoked commitments is resolved on chain. `fulfilled` is reported as soon as
   * the preimage appears; `timedOut` once the resolving transaction (or, for trimmed/missing
   * HTLCs, the commitment) is `antiReorgDelay` deep. `direction` is from our point of view.
   */
  | {
      type: 'HtlcResolvedOnChain';
      direction: 'offered' | 'received';
      htlcId: bigint;
      paymentHash: Uint8Array;
      amountMsat: bigint;
      outcome: HtlcOutcome;
    }
  /** One of our claim transactions is `antiReorgDelay` deep; `amountSat` went to our destination. */
  | { type: 'ClaimConfirmed'; txid: Uint8Array; amountSat: bigint }
  /** An HTLC deadline forces an on-chain resolution; the monitor is already broadcasting. */
  | { type: 'ForceClose'; reason: string; paymentHash: Uint8Array | undefined }
  /** Everything is resolved and deep: the monitor may be archived. */
  | { type: 'ChannelFullyResolved'; channelId: Uint8Array | undefined; closeKind: CloseKind };

/** The result of {@link monitorStep}. */
export interface MonitorStepResult {
  state: MonitorState;
  effects: MonitorEffect[];
}
