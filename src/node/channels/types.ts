/**
 * Public types of the channel runtime: the ports it needs (peers, chain, wallet, monitor sink),
 * its options and the channel snapshots it reports.
 */
import type { ChannelConfig, LocalCommitmentUpdate, MonitorUpdate } from '../../core/channel/index.js';
import { FaradError } from '../../protocol/errors.js';
import type { Network } from '../../protocol/tx/address.js';
import type { Transaction } from '../../protocol/tx/transaction.js';
import type { Message } from '../../protocol/wire/index.js';
import type { NodeKeys } from '../keys/index.js';
import type { PeerConnectedListener, PeerDisconnectedListener } from '../peer/manager.js';
import type { PeerId, PeerLogger } from '../peer/types.js';
import type { ChainBackend, ChainSource } from '../ports/chain.js';
import type { Clock } from '../ports/clock.js';
import type { KVStore } from '../ports/store.js';

/** What the channel manager needs from the peer layer ({@link PeerManager} implements it). */
export interface ChannelPeers {
  sendMessage(nodeId: PeerId, msg: Message): boolean;
  isConnected(nodeId: PeerId): boolean;
  onPeerConnected(listener: PeerConnectedListener): () => void;
  onPeerDisconnected(listener: PeerDisconnectedListener): () => void;
}

/**
 * The chain view: a {@link ChainSource} (the node's `ChainTracker`) plus block access to locate
 * the funding transaction in its block (short_channel_id). `ChainTracker` implements it.
 *
 * The tracker must scan from a height at or below every unconfirmed channel's funding height
 * (see {@link ChannelManager.rescanHeight}) so confirmations that happened while the node was
 * down are seen.
 */
export interface ChannelChain extends ChainSource {
  readonly backend: Pick<ChainBackend, 'getBlock'>;
}

/** What the channel manager needs from the on-chain wallet ({@link OnchainWallet} implements it). */
export interface FundingWallet {
  readonly network: Network;
  /** A fresh wallet address (cooperative-close destination). */
  newAddress(): string;
  /** Builds and signs, without broadcasting, a tx paying `amount` to `scriptPubKey`. */
  buildTx(req: {
    scriptPubKey: Uint8Array;
    amount: bigint;
    feeRate?: bigint;
  }): Promise<{ tx: Transaction; outputIndex: number }>;
  /** Releases the coins of a built transaction that will not be broadcast. */
  unlockCoins(tx: Transaction): void;
}

/** A monitor update as stored (namespace `monitor`, key `<channel id hex>/<seq, 12 digits>`). */
export interface StoredMonitorUpdate {
  seq: number;
  update: MonitorUpdate;
}

/**
 * The store key of a monitor update (namespace `monitor`): `<channel id hex>/<seq, 12 digits>`.
 * The chain monitor deletes the records its snapshots cover by these keys.
 */
export function monitorUpdateKey(channelId: string, seq: number): string {
  return `${channelId.toLowerCase()}/${seq.toString().padStart(12, '0')}`;
}

/**
 * Where `MonitorUpdate` effects go once they are durable (the BOLT 5 monitor consumes them).
 * The channel manager writes every update to the store (namespace `monitor`) in the same atomic
 * batch as the channel state, BEFORE any message that follows it leaves; then calls the sink.
 */
export interface MonitorSink {
  /** The durable updates of one step, in order. */
  monitorUpdates(channelId: string, updates: readonly StoredMonitorUpdate[]): void;
  /** Our latest commitment must go on chain (the manager also broadcasts it, best effort). */
  forceClose?(channelId: string, commitment: LocalCommitmentUpdate, reason: string): void;
}

/** Options of {@link ChannelManager}. */
export interface ChannelManagerOptions {
  keys: NodeKeys;
  store: KVStore;
  chain: ChannelChain;
  wallet: FundingWallet;
  /** Chain hash for `open_channel` (internal byte order). Default: from the wallet's network. */
  chainHash?: Uint8Array;
  clock?: Clock;
  /** Random bytes (temporary channel ids, aliases, preimages, onion session keys). */
  random?: (n: number) => Uint8Array;
  /** Overrides of the default channel policy ({@link defaultChannelConfig}). */
  channelConfig?: Partial<ChannelConfig>;
  /** Peers (node ids) whose zero-conf channel opens we accept. */
  trustedPeers?: Iterable<string>;
  monitorSink?: MonitorSink;
  /** Confirmations of a closing transaction before the channel is forgotten (default 6). */
  closeConfirmations?: number;
  /** Confirmation target for the commitment fee rate estimate (default 6). */
  feeTarget?: number;
  logger?: PeerLogger;
  /**
   * Called once when a store write fails (the store then refuses every later write): the node
   * can no longer make progress safely and should stop; a restart recovers from the store.
   */
  onStoreFailure?: (e: Error) => void;
  /**
   * How long HTLC removals (fulfills/fails) may wait to ride with the next commitment round
   * (ms, default 5; 0 signs them at once). Like LND's commit batching: fewer commitment rounds
   * and fewer signatures under load, at most this much later for an idle channel.
   */
  commitDelayMs?: number;
}

/** A channel as reported by {@link ChannelManager.listChannels}. */
export interface ChannelInfo {
  /** Hex channel id (the temporary id before funding). */
  channelId: string;
  peer: string;
  /** State machine state (`Offline` wraps the state it resumes). */
  state: string;
  /** The state under `Offline`, or `state`. */
  innerState: string;
  /** Connected to the peer and reestablished (not `Offline`). */
  online: boolean;
  isOpener: boolean;
  channelType: 'anchors' | 'static_remotekey' | undefined;
  capacitySat: bigint;
  /** Our balance in our current commitment, excluding HTLCs in flight. */
  localMsat: bigint;
  remoteMsat: bigint;
  /** Number of HTLCs in our current commitment. */
  pendingHtlcs: number;
  shortChannelId: bigint | undefined;
  localAlias: bigint | undefined;
  remoteAlias: bigint | undefined;
  fundingTxid: string | undefined;
  fundingOutputIndex: number | undefined;
  /** The mutual close or commitment transaction id, once closing. */
  closingTxid: string | undefined;
}

/** Options of {@link ChannelManager.openChannel}. */
export interface OpenChannelOptions {
  pushMsat?: bigint;
  channelType?: 'anchors' | 'static_remotekey';
  zeroConf?: boolean;
  /** Announce the channel (`announce_channel`); default false (private). */
  announce?: boolean;
}

/**
 * Failures of the channel runtime's API: `CHANNEL_NOT_FOUND`, `PEER_NOT_CONNECTED`,
 * `CHANNEL_COMMAND_REJECTED` (details: the state machine's error), `CHANNEL_OPEN_FAILED`,
 * `NODE_STOPPED`.
 */
export class ChannelManagerError extends FaradError {
  override name = 'ChannelManagerError';
}
