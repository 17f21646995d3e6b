/**
 * Public types of the gossip runtime (BOLT 7 over the node's peers): its ports, options,
 * forwarding policy, statistics and the JSON-friendly graph description.
 */
import type { ChannelState } from '../../core/channel/index.js';
import type { NetworkGraph } from '../../core/gossip/index.js';
import type { Message, NodeAddress } from '../../protocol/wire/index.js';
import type { ChannelInfo, GossipHooks } from '../channels/index.js';
import type { ForwardingPolicy } from '../forwarding/types.js';
import type { NodeKeys } from '../keys/index.js';
import type { PeerConnectedListener, PeerDisconnectedListener } from '../peer/manager.js';
import type { PeerId, PeerInfo, PeerLogger } from '../peer/types.js';
import type { Clock } from '../ports/clock.js';
import type { KVStore } from '../ports/store.js';
import type { FundingLookupOptions, GossipChain } from './funding.js';

/** What the gossip layer needs from the peer layer ({@link PeerManager} implements it). */
export interface GossipPeers {
  sendMessage(nodeId: PeerId, msg: Message): boolean;
  isConnected(nodeId: PeerId): boolean;
  peers(): PeerInfo[];
  onPeerConnected(listener: PeerConnectedListener): () => void;
  onPeerDisconnected(listener: PeerDisconnectedListener): () => void;
}

/** What the gossip layer needs from the channel runtime ({@link ChannelManager} implements it). */
export interface GossipChannels {
  listChannels(): ChannelInfo[];
  channelState(channelId: string): ChannelState | undefined;
  channelKeyIndex(channelId: string): number | undefined;
  setGossipHooks(hooks: GossipHooks): void;
}

/** How our node presents itself in its `node_announcement`. */
export interface NodeAnnouncementConfig {
  /** Up to 32 bytes of UTF-8 (longer is cut at a character boundary). */
  alias?: string;
  /** `rgb_color` as 6 hex digits (default `3399ff`). */
  color?: string;
  /** Public addresses that accept connections (sorted by type when announced). */
  addresses?: NodeAddress[];
  /** Node feature bits (default: our `init` defaults that are valid in node announcements). */
  features?: Iterable<number>;
}

/** Options of {@link GossipManager}. */
export interface GossipManagerOptions {
  keys: NodeKeys;
  store: KVStore;
  chain: GossipChain;
  /** Our channels (announcements and `channel_update`s); omit for a relay-only manager. */
  channels?: GossipChannels;
  /** Chain hash (internal byte order). Default: regtest. */
  chainHash?: Uint8Array;
  clock?: Clock;
  logger?: PeerLogger;
  node?: NodeAnnouncementConfig;
  /** Default forwarding policy of our channels (over the forwarding module's `DEFAULT_FORWARDING_POLICY`). */
  policy?: Partial<ForwardingPolicy>;
  /**
   * Per-channel policy (takes precedence over `policy`); wire the forwarding module here:
   * `(c) => forwarder.channelPolicy(c.channelId)`. Changes are picked up on the next tick.
   */
  policyFor?: (channel: ChannelInfo) => Partial<ForwardingPolicy> | undefined;
  /** Period of the rebroadcast flush and maintenance tick (BOLT 7 suggests 60 s; default 60000). */
  flushIntervalMs?: number;
  /** Minimum interval between graph writes to the store (default 300000 ms). */
  persistIntervalMs?: number;
  /** Interval of stale-channel pruning (default one day). */
  staleCheckIntervalMs?: number;
  /** Age after which a channel without fresh updates is pruned (default two weeks, seconds). */
  staleAgeSeconds?: number;
  /** Our `channel_update`s are re-signed after this long even when unchanged (default 7 days, seconds). */
  keepaliveSeconds?: number;
  /** Our channel is announced disabled once its peer has been offline this long (default 10 min). */
  disableAfterMs?: number;
  /** Funding confirmations before `announcement_signatures` (BOLT 7: at least 6; default 6). */
  announceDepth?: number;
  /** Blocks after a funding spend before the channel is forgotten (BOLT 7: 12; default 12). */
  pruneDelayBlocks?: number;
  /**
   * How far back our `gossip_timestamp_filter` asks for (seconds, default 600): older gossip
   * comes through the initial `query_channel_range` sync.
   */
  filterBacklogSeconds?: number;
  /** Peers we run the initial `gossip_queries` sync with (default 2). */
  maxSyncPeers?: number;
  /** Short channel ids per `query_short_channel_ids` (default 2000). */
  queryChunkSize?: number;
  funding?: FundingLookupOptions;
  /** Use this graph instead of loading it from the store. */
  graph?: NetworkGraph;
}

/** Counters of processed gossip (for diagnostics and tests). */
export interface GossipStats {
  accepted: number;
  ignored: Record<string, number>;
  rejected: Record<string, number>;
  /** Raw messages handed to peers by the rebroadcast flush. */
  relayed: number;
  /** `query_short_channel_ids` answered. */
  queriesAnswered: number;
  /** Initial syncs completed (range + short channel id queries). */
  syncsCompleted: number;
}

/** One direction's policy in {@link GraphDescription}. */
export interface PolicyDescription {
  timestamp: number;
  disabled: boolean;
  cltvExpiryDelta: number;
  htlcMinimumMsat: string;
  htlcMaximumMsat: string;
  feeBaseMsat: number;
  feeProportionalMillionths: number;
}

/** A JSON-friendly snapshot of the network graph (bigints as decimal strings, bytes as hex). */
export interface GraphDescription {
  nodes: Array<{
    nodeId: string;
    alias: string | undefined;
    color: string | undefined;
    addresses: string[];
    features: string | undefined;
    lastUpdate: number | undefined;
  }>;
  channels: Array<{
    shortChannelId: string;
    /** `BLOCKxTXxOUTPUT`. */
    scid: string;
    node1: string;
    node2: string;
    capacitySat: string;
    features: string;
    /** [direction 0 (node1 → node2), direction 1 (node2 → node1)]. */
    policies: [PolicyDescription | null, PolicyDescription | null];
  }>;
}
