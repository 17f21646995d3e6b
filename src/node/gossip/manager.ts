/**
 * The gossip runtime (BOLT #7, 07-routing-gossip.md): runs the sans-IO {@link NetworkGraph}
 * against the node's peers, chain and channels.
 *
 * Rules implemented:
 * - Incoming `channel_announcement`/`channel_update`/`node_announcement` are applied to the
 *   graph; an announcement's funding output is looked up on chain (block at the scid's height →
 *   transaction → output) without blocking the peer's other messages, and the channel enters
 *   the graph only when that unspent output pays the P2WSH 2-of-2 of its bitcoin keys. Invalid
 *   signatures and other malformed gossip get a `warning` (BOLT 7 "SHOULD send a warning").
 * - Staggered rebroadcast: accepted gossip waits in a queue keyed by channel direction / node
 *   (a newer message replaces the queued one, so at most one `channel_update` per channel
 *   direction leaves per interval) and is flushed every `flushIntervalMs` to every other peer
 *   that sent a `gossip_timestamp_filter` matching its timestamp ("MUST not relay gossip it did
 *   not generate itself unless explicitly requested"); a `channel_announcement` goes first and
 *   only once one of its `channel_update`s exists. Our own gossip goes out at once, unfiltered.
 * - On connection to a `gossip_queries` peer: `gossip_timestamp_filter` (new gossip from now
 *   on), and with up to `maxSyncPeers` peers an initial sync: `query_channel_range` over the
 *   whole chain, then `query_short_channel_ids` (one in flight at a time) for the channels we
 *   do not know (with `gossip_queries_ex`: also for newer `channel_update`s, by timestamp).
 *   Peers' queries are answered from the graph.
 * - Our public channels: once `channel_ready` was exchanged and the funding has
 *   `announceDepth` (6) confirmations, we send `announcement_signatures` (again on each
 *   reconnection until we have the peer's; and once in answer to the peer's first one per
 *   connection); with both, the `channel_announcement` is assembled, checked like any other,
 *   and broadcast with our `channel_update` and our `node_announcement`. Our updates are
 *   re-signed when the policy or the channel's state changes (disabled while closing or after
 *   the peer has been offline `disableAfterMs`) and before they go stale (`keepaliveSeconds`).
 * - Private channels stay private: our `channel_update` for them goes only to the channel's
 *   peer, with `dont_forward` and the peer's alias as short_channel_id; the peer's update for
 *   such a channel is kept (verified) for our invoices' route hints ({@link privateRouteHints}).
 * - Pruning: every channel's funding outpoint is watched; a channel is forgotten once the spend
 *   has `pruneDelayBlocks` (12) confirmations. `pruneStale` runs every `staleCheckIntervalMs`.
 * - The graph and our announcement state persist under store namespace `gossip` every
 *   `persistIntervalMs` (when changed) and on {@link stop}.
 */
import type { ChannelState, FundedData } from '../../core/channel/index.js';
import {
  answerShortChannelIds,
  assembleChannelAnnouncement,
  buildChannelAnnouncement,
  type ChannelPolicy,
  checkAnnouncementSignatures,
  createAnnouncementSignatures,
  createChannelUpdate,
  deserializeGraph,
  type FundingCheckRequest,
  type GossipResult,
  gossipInTimestampRange,
  NetworkGraph,
  replyChannelRange,
  serializeGraph,
  signNodeAnnouncement,
  type UnsignedChannelAnnouncement,
  verifyChannelUpdate,
} from '../../core/gossip/index.js';
import { compare, equal, fromHex, fromUtf8, toHex, utf8 } from '../../protocol/encoding/bytes.js';
import { DecodeError, InvalidArgumentError } from '../../protocol/errors.js';
import { featureBytesFromBits, featureInfo } from '../../protocol/features.js';
import { formatShortChannelId, type RouteHintHop } from '../../protocol/invoice/index.js';
import {
  type AnnouncementSignatures,
  type ChannelUpdate,
  decodeMessage,
  encodeMessage,
  type Message,
  type NodeAddress,
  type NodeAnnouncement,
  type QueryShortChannelIds,
  type ReplyChannelRange,
} from '../../protocol/wire/index.js';
import { fundedData } from '../channels/manager.js';
import type { ChannelInfo } from '../channels/types.js';
import { DEFAULT_FORWARDING_POLICY, type ForwardingPolicy } from '../forwarding/types.js';
import type { NodeKeys } from '../keys/index.js';
import { CHAIN_HASHES, defaultInitFeatures } from '../peer/init.js';
import {
  type GossipMessage,
  type GossipMessageHandler,
  type PeerId,
  type PeerInfo,
  type PeerLogger,
  silentLogger,
} from '../peer/types.js';
import type { ChainEvent, OutPoint } from '../ports/chain.js';
import { type Clock, systemClock, type TimerHandle } from '../ports/clock.js';
import type { KVStore } from '../ports/store.js';
import { FundingLookup, type GossipChain } from './funding.js';
import type {
  GossipChannels,
  GossipManagerOptions,
  GossipPeers,
  GossipStats,
  GraphDescription,
  NodeAnnouncementConfig,
  PolicyDescription,
} from './types.js';

/** Store namespace of the gossip runtime (keys `graph`, `own`, `outpoints`). */
export const GOSSIP_NAMESPACE = 'gossip';

const ZERO32 = new Uint8Array(32);
const FULL_RANGE = 0xffffffff;
const TYPE_CHANNEL_ANNOUNCEMENT = 256;
const TYPE_CHANNEL_UPDATE = 258;
/** Rejections that mean the peer sent something it should not have (warning-worthy). */
const WARN_REASONS = new Set([
  'MALFORMED',
  'BAD_SIGNATURE',
  'BAD_NODE_ORDER',
  'HTLC_MAX_BELOW_MIN',
  'HTLC_MAX_ABOVE_CAPACITY',
  'SAME_TIMESTAMP_DIFFERENT_CONTENT',
]);
const MAX_DEFERRED = 1000;
const MAX_ANNOUNCEMENT_RETRIES = 5;

/** Announcement progress of one of our public channels (persisted). */
interface OwnChannel {
  scid: bigint;
  /** The peer's `announcement_signatures` (verified). */
  remote: { nodeSignature: Uint8Array; bitcoinSignature: Uint8Array } | undefined;
  /** The assembled announcement entered our graph. */
  announced: boolean;
}

interface OwnRecord {
  v: 1;
  nodeAnnTimestamp: number;
  updateTimestamps: Record<string, number>;
  channels: Record<string, { scid: string; remoteNode?: string; remoteBitcoin?: string; announced: boolean }>;
}

/** A queued rebroadcast. */
interface Outgoing {
  raw: Uint8Array;
  kind: 'a' | 'u' | 'n';
  scid: bigint | undefined;
  timestamp: number;
  from: PeerId | undefined;
  tries: number;
}

/** Initial-sync progress with one peer. */
interface SyncState {
  phase: 'range' | 'scids';
  ex: boolean;
  replies: ReplyChannelRange[];
  chunks: Array<{ scids: bigint[]; flags: bigint[] | undefined }>;
}

interface PeerState {
  filter: { first: number; end: number } | undefined;
  sync: SyncState | undefined;
  /** Channels whose `announcement_signatures` we sent on this connection. */
  sigsSent: Set<string>;
  /** Private channels whose `channel_update` (by content key) we sent on this connection. */
  privateSent: Map<string, string>;
}

function wrapRaw(raw: Uint8Array): Message {
  // Re-encodes byte-identically: the signatures cover these exact bytes.
  return { type: 'unknown', typeNum: (raw[0]! << 8) | raw[1]!, payload: raw.subarray(2) };
}

function u32At(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

function u64At(b: Uint8Array, o: number): bigint {
  return (BigInt(u32At(b, o)) << 32n) | BigInt(u32At(b, o + 4));
}

/** Queue key, kind, scid and timestamp of a raw gossip message (fixed BOLT 7 offsets). */
function describeRaw(raw: Uint8Array): Omit<Outgoing, 'from' | 'tries' | 'raw'> & { key: string } {
  const t = (raw[0]! << 8) | raw[1]!;
  if (t === TYPE_CHANNEL_ANNOUNCEMENT) {
    const flen = (raw[258]! << 8) | raw[259]!;
    const scid = u64At(raw, 260 + flen + 32);
    return { key: `a:${scid}`, kind: 'a', scid, timestamp: 0 };
  }
  if (t === TYPE_CHANNEL_UPDATE) {
    const scid = u64At(raw, 98);
    const dir = raw[111]! & 1;
    return { key: `u:${scid}:${dir}`, kind: 'u', scid, timestamp: u32At(raw, 106) };
  }
  // node_announcement (257): type(2) signature(64) flen(2) features timestamp(4) node_id(33)
  const flen = (raw[66]! << 8) | raw[67]!;
  const ts = u32At(raw, 68 + flen);
  return {
    key: `n:${toHex(raw.subarray(72 + flen, 105 + flen))}`,
    kind: 'n',
    scid: undefined,
    timestamp: ts,
  };
}

function outpointKey(o: OutPoint): string {
  return `${o.txid}:${o.vout}`;
}

function scidBlock(scid: bigint): number {
  return Number(scid >> 40n);
}

function aliasBytes(alias: string): Uint8Array {
  const out = new Uint8Array(32);
  let b = utf8(alias);
  if (b.length > 32) {
    // Cut at a character boundary (BOLT 7: "MUST set `alias` to a valid UTF-8 string").
    let n = 32;
    while (n > 0 && (b[n]! & 0xc0) === 0x80) n--;
    b = b.subarray(0, n);
  }
  out.set(b);
  return out;
}

const ADDRESS_ORDER: Record<NodeAddress['type'], number> = {
  ipv4: 1,
  ipv6: 2,
  torv2: 3,
  torv3: 4,
  dns: 5,
  unknown: 6,
};

function formatAddress(a: NodeAddress): string {
  switch (a.type) {
    case 'ipv4':
      return `${[...a.addr].join('.')}:${a.port}`;
    case 'ipv6': {
      const parts: string[] = [];
      for (let i = 0; i < 16; i += 2) parts.push(((a.addr[i]! << 8) | a.addr[i + 1]!).toString(16));
      return `[${parts.join(':')}]:${a.port}`;
    }
    case 'dns':
      return `${a.hostname}:${a.port}`;
    case 'torv2':
    case 'torv3':
      return `${a.type}:${toHex(a.addr)}:${a.port}`;
    default:
      return `unknown:${a.addrType}`;
  }
}

function policyDescription(p: ChannelPolicy | undefined): PolicyDescription | null {
  if (!p) return null;
  return {
    timestamp: p.timestamp,
    disabled: p.disabled,
    cltvExpiryDelta: p.cltvExpiryDelta,
    htlcMinimumMsat: p.htlcMinimumMsat.toString(),
    htlcMaximumMsat: p.htlcMaximumMsat.toString(),
    feeBaseMsat: p.feeBaseMsat,
    feeProportionalMillionths: p.feeProportionalMillionths,
  };
}

/** Inner state kind (the state under `Offline`). */
function innerKind(s: ChannelState): string {
  return s.kind === 'Offline' ? s.inner.kind : s.kind;
}

/** See the module documentation. */
export class GossipManager implements GossipMessageHandler {
  readonly chainHash: Uint8Array;
  readonly #keys: NodeKeys;
  readonly #store: KVStore;
  readonly #chain: GossipChain;
  readonly #channels: GossipChannels | undefined;
  readonly #clock: Clock;
  readonly #log: PeerLogger;
  readonly #funding: FundingLookup;
  readonly #opts: Required<
    Pick<
      GossipManagerOptions,
      | 'flushIntervalMs'
      | 'persistIntervalMs'
      | 'staleCheckIntervalMs'
      | 'keepaliveSeconds'
      | 'disableAfterMs'
      | 'announceDepth'
      | 'pruneDelayBlocks'
      | 'maxSyncPeers'
      | 'queryChunkSize'
      | 'filterBacklogSeconds'
    >
  > & { staleAgeSeconds: number | undefined };
  #policy: Partial<ForwardingPolicy>;
  readonly #policyFor: GossipManagerOptions['policyFor'];
  #node: NodeAnnouncementConfig;
  #graph: NetworkGraph | undefined;
  #peers: GossipPeers | undefined;
  #unsubs: Array<() => void> = [];
  #timer: TimerHandle | undefined;
  #started = false;
  #stopped = false;

  readonly #peerState = new Map<PeerId, PeerState>();
  readonly #offlineSince = new Map<PeerId, number>();
  readonly #queue = new Map<string, Outgoing>();
  readonly #tasks = new Set<Promise<unknown>>();
  readonly #inflight = new Map<bigint, Promise<void>>();
  readonly #deferred = new Map<bigint, FundingCheckRequest>();
  readonly #outpoints = new Map<bigint, OutPoint>();
  readonly #byOutpoint = new Map<string, bigint>();
  readonly #spent = new Set<bigint>();
  readonly #own = new Map<string, OwnChannel>();
  /** The peer's latest `channel_update` for our private channels, by channel id. */
  readonly #peerUpdates = new Map<string, ChannelUpdate>();
  /** Our latest `channel_update` per scid (private ones and failure-message copies). */
  readonly #ownUpdates = new Map<bigint, ChannelUpdate>();
  #updateTs = new Map<bigint, number>();
  #nodeAnnTs = 0;
  #nodeAnn: Uint8Array | undefined;
  #ownQueue: Promise<unknown> = Promise.resolve();
  #persistedRevision = -1;
  #ownDirty = false;
  #lastPersist = 0;
  #lastStale = 0;
  #syncing = 0;
  readonly #stats: GossipStats = {
    accepted: 0,
    ignored: {},
    rejected: {},
    relayed: 0,
    queriesAnswered: 0,
    syncsCompleted: 0,
  };

  constructor(opts: GossipManagerOptions) {
    this.#keys = opts.keys;
    this.#store = opts.store;
    this.#chain = opts.chain;
    this.#channels = opts.channels;
    this.#clock = opts.clock ?? systemClock;
    this.#log = opts.logger ?? silentLogger;
    this.chainHash = opts.chainHash ?? CHAIN_HASHES.regtest;
    this.#funding = new FundingLookup(opts.chain, opts.funding);
    this.#opts = {
      flushIntervalMs: opts.flushIntervalMs ?? 60_000,
      persistIntervalMs: opts.persistIntervalMs ?? 300_000,
      staleCheckIntervalMs: opts.staleCheckIntervalMs ?? 86_400_000,
      staleAgeSeconds: opts.staleAgeSeconds,
      keepaliveSeconds: opts.keepaliveSeconds ?? 7 * 86_400,
      disableAfterMs: opts.disableAfterMs ?? 600_000,
      announceDepth: Math.max(6, opts.announceDepth ?? 6),
      pruneDelayBlocks: opts.pruneDelayBlocks ?? 12,
      maxSyncPeers: opts.maxSyncPeers ?? 2,
      queryChunkSize: Math.max(1, Math.min(opts.queryChunkSize ?? 2000, 8000)),
      filterBacklogSeconds: opts.filterBacklogSeconds ?? 600,
    };
    this.#policy = { ...opts.policy };
    this.#policyFor = opts.policyFor;
    this.#node = opts.node ?? {};
    if (opts.graph) this.#graph = opts.graph;
  }

  // ---------------------------------------------------------------------------------------------
  // Lifecycle

  /** The network graph (available after {@link start}, or at once when passed in the options). */
  get graph(): NetworkGraph {
    if (!this.#graph) throw new InvalidArgumentError('gossip manager not started');
    return this.#graph;
  }

  /**
   * Loads the graph and our announcement state from the store, subscribes to the chain, the
   * peers and the channel runtime, and starts the periodic flush. Call once, before the peer
   * manager connects or listens.
   */
  async start(peers: GossipPeers): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.#peers = peers;
    await this.#load();
    this.#persistedRevision = this.graph.revision;
    const now = this.#clock.now();
    this.#lastPersist = now;
    this.#lastStale = now;
    this.#unsubs.push(this.#chain.subscribe((e) => this.#onChainEvent(e)));
    this.#unsubs.push(peers.onPeerConnected((p, info) => this.#onPeerConnected(p, info)));
    this.#unsubs.push(peers.onPeerDisconnected((p) => this.#onPeerDisconnected(p)));
    this.#channels?.setGossipHooks({
      announcementSignatures: (peer, msg) => this.handleAnnouncementSignatures(peer, msg),
      channelChanged: () => this.#reconcileSoon(),
    });
    for (const p of peers.peers()) this.#onPeerConnected(p.nodeId, p);
    // Channel peers not connected at start-up count as offline from now (disable timer).
    for (const c of this.#channels?.listChannels() ?? []) {
      if (!peers.isConnected(c.peer) && !this.#offlineSince.has(c.peer)) this.#offlineSince.set(c.peer, now);
    }
    this.#schedule();
    this.#reconcileSoon();
  }

  /** Stops timers and subscriptions, waits for pending work and saves the graph. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#timer?.cancel();
    for (const u of this.#unsubs) u();
    this.#unsubs = [];
    await this.whenIdle();
    if (this.#started) await this.persist();
  }

  /** Resolves once no funding check or own-channel task is pending. */
  async whenIdle(): Promise<void> {
    for (let i = 0; i < 100; i++) {
      const pending = [...this.#tasks, this.#ownQueue];
      await Promise.allSettled(pending);
      if (this.#tasks.size === 0 && pending[pending.length - 1] === this.#ownQueue) return;
    }
  }

  /** Writes the graph, our announcement state and the watched outpoints (one atomic batch). */
  async persist(): Promise<void> {
    const g = this.graph;
    const own: OwnRecord = {
      v: 1,
      nodeAnnTimestamp: this.#nodeAnnTs,
      updateTimestamps: Object.fromEntries([...this.#updateTs].map(([k, v]) => [k.toString(), v])),
      channels: {},
    };
    for (const [id, c] of this.#own) {
      own.channels[id] = {
        scid: c.scid.toString(),
        announced: c.announced,
        ...(c.remote
          ? { remoteNode: toHex(c.remote.nodeSignature), remoteBitcoin: toHex(c.remote.bitcoinSignature) }
          : {}),
      };
    }
    const outpoints: Record<string, string> = {};
    for (const [scid, o] of this.#outpoints) outpoints[scid.toString()] = outpointKey(o);
    const revision = g.revision;
    await this.#store.batch([
      { op: 'put', namespace: GOSSIP_NAMESPACE, key: 'graph', value: serializeGraph(g) },
      { op: 'put', namespace: GOSSIP_NAMESPACE, key: 'own', value: utf8(JSON.stringify(own)) },
      { op: 'put', namespace: GOSSIP_NAMESPACE, key: 'outpoints', value: utf8(JSON.stringify(outpoints)) },
    ]);
    this.#persistedRevision = revision;
    this.#ownDirty = false;
    this.#lastPersist = this.#clock.now();
  }

  async #load(): Promise<void> {
    if (!this.#graph) {
      const raw = await this.#store.read(GOSSIP_NAMESPACE, 'graph');
      const gopts =
        this.#opts.staleAgeSeconds !== undefined ? { staleAgeSeconds: this.#opts.staleAgeSeconds } : {};
      let g: NetworkGraph | undefined;
      if (raw) {
        try {
          g = deserializeGraph(raw, gopts);
          if (!equal(g.chainHash, this.chainHash)) g = undefined;
        } catch (e) {
          if (!(e instanceof DecodeError)) throw e;
          this.#log.warn('stored graph unreadable: starting empty', { error: e.message });
        }
      }
      this.#graph = g ?? new NetworkGraph(this.chainHash, gopts);
    }
    const ownRaw = await this.#store.read(GOSSIP_NAMESPACE, 'own');
    if (ownRaw) {
      const rec = JSON.parse(fromUtf8(ownRaw)) as OwnRecord;
      this.#nodeAnnTs = rec.nodeAnnTimestamp;
      for (const [k, v] of Object.entries(rec.updateTimestamps)) this.#updateTs.set(BigInt(k), v);
      for (const [id, c] of Object.entries(rec.channels)) {
        this.#own.set(id, {
          scid: BigInt(c.scid),
          announced: c.announced,
          remote:
            c.remoteNode && c.remoteBitcoin
              ? { nodeSignature: fromHex(c.remoteNode), bitcoinSignature: fromHex(c.remoteBitcoin) }
              : undefined,
        });
      }
    }
    const opRaw = await this.#store.read(GOSSIP_NAMESPACE, 'outpoints');
    if (opRaw) {
      const rec = JSON.parse(fromUtf8(opRaw)) as Record<string, string>;
      for (const [k, v] of Object.entries(rec)) {
        const scid = BigInt(k);
        if (!this.graph.getChannel(scid)) continue;
        const i = v.lastIndexOf(':');
        this.#watch(scid, { txid: v.slice(0, i), vout: Number(v.slice(i + 1)) });
      }
    }
    const me = this.graph.getNode(this.#keys.nodePublicKey);
    if (me?.announcement) this.#nodeAnn = me.announcement.raw;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = this.#clock.setTimeout(() => this.#tick(), this.#opts.flushIntervalMs);
  }

  #tick(): void {
    if (this.#stopped) return;
    try {
      this.flush();
      const now = this.#clock.now();
      if (now - this.#lastStale >= this.#opts.staleCheckIntervalMs) {
        this.#lastStale = now;
        this.pruneStale();
      }
      this.#reconcileSoon();
      if (
        now - this.#lastPersist >= this.#opts.persistIntervalMs &&
        (this.#ownDirty || this.graph.revision !== this.#persistedRevision)
      ) {
        this.#track(
          this.persist().catch((e) => this.#log.error('graph persist failed', { error: String(e) })),
        );
      }
    } finally {
      this.#schedule();
    }
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#tasks.add(p);
    const done = () => this.#tasks.delete(p);
    p.then(done, done);
    return p;
  }

  // ---------------------------------------------------------------------------------------------
  // Public API

  /** Counters of processed gossip. */
  stats(): GossipStats {
    return {
      ...this.#stats,
      ignored: { ...this.#stats.ignored },
      rejected: { ...this.#stats.rejected },
    };
  }

  /** Sets our node's presentation; re-announces it when we have public channels. */
  setNodeInfo(node: NodeAnnouncementConfig): void {
    this.#node = { ...this.#node, ...node };
    this.#nodeAnn = undefined;
    this.#enqueueOwn(async () => {
      if (this.graph.getNode(this.#keys.nodePublicKey)) {
        const raw = this.#ensureNodeAnnouncement();
        if (raw) this.#sendOwn([raw]);
      }
    });
  }

  /**
   * Changes our default forwarding policy (`policyFor` overrides still apply); new
   * `channel_update`s go out at once for the channels it changes.
   */
  setPolicy(policy: Partial<ForwardingPolicy>): void {
    this.#policy = { ...this.#policy, ...policy };
    this.#reconcileSoon();
  }

  /** Our forwarding policy for a channel (what our `channel_update` announces). */
  policyOf(channel: ChannelInfo): ForwardingPolicy {
    return { ...DEFAULT_FORWARDING_POLICY, ...this.#policy, ...this.#policyFor?.(channel) };
  }

  /**
   * Our current `channel_update` for one of our channels, by its real short_channel_id or
   * either alias (BOLT 4 failure messages carry it). For a public announced channel by its real
   * scid: the update in the graph; otherwise an update for exactly that scid (with
   * `dont_forward` when the channel is private), signed on demand and cached.
   */
  ourChannelUpdate(scid: bigint): ChannelUpdate | undefined {
    const found = this.#findOwnChannel(scid);
    if (!found) return undefined;
    const { info, data } = found;
    const p = data.commitments.params;
    const dir = this.#direction(info.peer);
    if (p.announce && scid === data.shortChannelId) {
      const raw = this.#graph?.getChannel(scid)?.policies[dir]?.raw;
      if (raw) return decodeMessage(raw) as ChannelUpdate;
    }
    const st = this.#channels!.channelState(info.channelId)!;
    return this.#privateUpdate(info, st, data, scid, !p.announce);
  }

  /**
   * The peer's `channel_update` for one of our channels (its fees and CLTV delta towards us):
   * from the graph for announced channels, else as received directly from the peer.
   */
  peerChannelUpdate(channelId: string): ChannelUpdate | undefined {
    const id = channelId.toLowerCase();
    const direct = this.#peerUpdates.get(id);
    if (direct) return direct;
    const st = this.#channels?.channelState(id);
    const d = st && fundedData(st);
    const info = this.#channels?.listChannels().find((c) => c.channelId === id);
    if (!d?.shortChannelId || !info) return undefined;
    const raw = this.#graph?.getChannel(d.shortChannelId)?.policies[1 - this.#direction(info.peer)]?.raw;
    return raw ? (decodeMessage(raw) as ChannelUpdate) : undefined;
  }

  /**
   * BOLT 11 route hints for our private channels in a usable state: one single-hop hint per
   * channel, from the peer to us, over the alias the peer gave us (else the real scid), with
   * the peer's fees and CLTV delta from its `channel_update` (our default policy until it sent
   * one). Channels with the most inbound liquidity come first.
   */
  privateRouteHints(): RouteHintHop[][] {
    if (!this.#channels) return [];
    const out: Array<{ inbound: bigint; hop: RouteHintHop }> = [];
    for (const info of this.#channels.listChannels()) {
      const st = this.#channels.channelState(info.channelId);
      const d = st && fundedData(st);
      if (!st || !d || d.commitments.params.announce) continue;
      if (innerKind(st) !== 'Normal' || d.localShutdown || d.remoteShutdown) continue;
      const scid = d.remoteAlias ?? d.shortChannelId;
      if (scid === undefined) continue;
      const pu = this.#peerUpdates.get(info.channelId);
      const def = this.policyOf(info);
      out.push({
        inbound: info.remoteMsat,
        hop: {
          pubkey: fromHex(info.peer),
          shortChannelId: scid,
          feeBaseMsat: pu?.feeBaseMsat ?? def.feeBaseMsat,
          feeProportionalMillionths: pu?.feeProportionalMillionths ?? def.feeProportionalMillionths,
          cltvExpiryDelta: pu?.cltvExpiryDelta ?? def.cltvExpiryDelta,
        },
      });
    }
    out.sort((a, b) => (a.inbound > b.inbound ? -1 : a.inbound < b.inbound ? 1 : 0));
    return out.map((o) => [o.hop]);
  }

  /**
   * Applies a `channel_update` learnt outside gossip (e.g. from a BOLT 4 failure message); an
   * accepted one is queued for rebroadcast like any other.
   */
  applyChannelUpdate(update: ChannelUpdate): GossipResult {
    const raw = encodeMessage(update);
    const r = this.graph.apply(raw, { now: this.#nowS() });
    this.#handleResult(undefined, r);
    return r;
  }

  /** BOLT 7 stale pruning now (channels without an update for two weeks); returns the scids. */
  pruneStale(): bigint[] {
    const removed = this.graph.pruneStale(this.#nowS());
    for (const s of removed) this.#forget(s);
    if (removed.length > 0) this.#log.info('pruned stale channels', { count: removed.length });
    return removed;
  }

  /** Sends every queued rebroadcast now (the periodic flush calls it). */
  flush(): void {
    if (!this.#peers || this.#queue.size === 0) return;
    const g = this.graph;
    const items = [...this.#queue.entries()];
    this.#queue.clear();
    const order = { a: 0, u: 1, n: 2 } as const;
    items.sort((x, y) => order[x[1].kind] - order[y[1].kind]);
    const sendable: Outgoing[] = [];
    for (const [key, it] of items) {
      if (it.kind === 'a') {
        const c = g.getChannel(it.scid!);
        if (!c) continue;
        const ts = Math.max(c.policies[0]?.timestamp ?? 0, c.policies[1]?.timestamp ?? 0);
        // BOLT 7: "If a `channel_announcement` has no corresponding `channel_update`s: MUST NOT send".
        if (ts === 0) {
          if (++it.tries < MAX_ANNOUNCEMENT_RETRIES) this.#queue.set(key, it);
          continue;
        }
        sendable.push({ ...it, timestamp: ts });
      } else sendable.push(it);
    }
    if (sendable.length === 0) return;
    for (const p of this.#peers.peers()) {
      const st = this.#peerState.get(p.nodeId);
      const f = st?.filter;
      if (!f) continue;
      for (const it of sendable) {
        if (it.from === p.nodeId) continue;
        if (it.timestamp < f.first || it.timestamp >= f.end) continue;
        if (this.#peers.sendMessage(p.nodeId, wrapRaw(it.raw))) this.#stats.relayed++;
      }
    }
  }

  /** A JSON-friendly snapshot of the graph (nodes with their announcement, channels with policies). */
  describeGraph(): GraphDescription {
    const g = this.graph;
    const nodes: GraphDescription['nodes'] = [];
    for (const n of g.nodes()) {
      let alias: string | undefined;
      let color: string | undefined;
      let addresses: string[] = [];
      if (n.announcement) {
        try {
          const m = decodeMessage(n.announcement.raw) as NodeAnnouncement;
          const end = m.alias.indexOf(0);
          alias = new TextDecoder().decode(end < 0 ? m.alias : m.alias.subarray(0, end));
          color = toHex(m.rgbColor);
          addresses = m.addresses.filter((a) => a.type !== 'unknown').map(formatAddress);
        } catch {
          // stored bytes were verified before; an undecodable alias is left out
        }
      }
      nodes.push({
        nodeId: n.hex,
        alias,
        color,
        addresses,
        features: n.announcement ? toHex(n.announcement.features) : undefined,
        lastUpdate: n.announcement?.timestamp,
      });
    }
    const channels: GraphDescription['channels'] = [];
    for (const c of g.channels()) {
      const [a, b] = g.endpoints(c);
      channels.push({
        shortChannelId: c.scid.toString(),
        scid: formatShortChannelId(c.scid),
        node1: a.hex,
        node2: b.hex,
        capacitySat: c.capacitySat.toString(),
        features: toHex(c.features),
        policies: [policyDescription(c.policies[0]), policyDescription(c.policies[1])],
      });
    }
    return { nodes, channels };
  }

  // ---------------------------------------------------------------------------------------------
  // Incoming gossip

  /** {@link GossipMessageHandler}: BOLT 7 gossip and queries from a peer. */
  handleGossipMessage(peer: PeerId, msg: GossipMessage): void {
    if (!this.#started || this.#stopped) return;
    const p = peer.toLowerCase();
    switch (msg.type) {
      case 'channel_announcement':
      case 'channel_update':
      case 'node_announcement':
        this.#onGossip(p, msg);
        return;
      case 'gossip_timestamp_filter': {
        if (!equal(msg.chainHash, this.chainHash)) return;
        const st = this.#state(p);
        const first = msg.firstTimestamp;
        st.filter = { first, end: Math.min(first + msg.timestampRange, 2 ** 32) };
        // BOLT 7: "SHOULD send all gossip messages whose `timestamp` is greater or equal to
        // `first_timestamp`, and less than `first_timestamp` plus `timestamp_range`."
        if (msg.timestampRange > 0) {
          for (const raw of gossipInTimestampRange(this.graph, first, msg.timestampRange)) {
            this.#peers?.sendMessage(p, wrapRaw(raw));
          }
        }
        return;
      }
      case 'query_channel_range':
        for (const r of replyChannelRange(this.graph, msg)) this.#peers?.sendMessage(p, r);
        return;
      case 'query_short_channel_ids': {
        const ans = answerShortChannelIds(this.graph, msg);
        if (!ans.ok) {
          this.#warn(p, 'query_flags do not match the short_channel_ids');
          return;
        }
        for (const raw of ans.messages) this.#peers?.sendMessage(p, wrapRaw(raw));
        this.#peers?.sendMessage(p, ans.end);
        this.#stats.queriesAnswered++;
        return;
      }
      case 'reply_channel_range':
        this.#onReplyChannelRange(p, msg);
        return;
      case 'reply_short_channel_ids_end':
        this.#onReplyEnd(p);
        return;
      default:
        return;
    }
  }

  #onGossip(peer: PeerId, msg: Message): void {
    let raw: Uint8Array;
    try {
      raw = encodeMessage(msg);
    } catch {
      this.#count({ status: 'rejected', reason: 'MALFORMED' });
      return;
    }
    const r = this.graph.apply(raw, { now: this.#nowS() });
    if (r.status === 'ignored' && r.reason === 'UNKNOWN_CHANNEL' && msg.type === 'channel_update') {
      if (this.#privatePeerUpdate(peer, msg)) return;
    }
    this.#handleResult(peer, r);
  }

  #handleResult(peer: PeerId | undefined, r: GossipResult): void {
    this.#count(r);
    switch (r.status) {
      case 'accepted':
        for (const raw of r.rebroadcast) this.#enqueue(raw, peer);
        return;
      case 'pending':
        this.#startFundingCheck(r.check, peer);
        return;
      case 'rejected':
        this.#log.debug('gossip rejected', { peer, reason: r.reason });
        if (peer && WARN_REASONS.has(r.reason)) this.#warn(peer, `invalid gossip: ${r.reason}`);
        return;
      default:
        return;
    }
  }

  #count(r: GossipResult): void {
    if (r.status === 'accepted') this.#stats.accepted++;
    else if (r.status === 'ignored') this.#stats.ignored[r.reason] = (this.#stats.ignored[r.reason] ?? 0) + 1;
    else if (r.status === 'rejected')
      this.#stats.rejected[r.reason] = (this.#stats.rejected[r.reason] ?? 0) + 1;
  }

  #warn(peer: PeerId, text: string): void {
    this.#peers?.sendMessage(peer, { type: 'warning', channelId: ZERO32, data: utf8(text) });
  }

  #enqueue(raw: Uint8Array, from: PeerId | undefined): void {
    const d = describeRaw(raw);
    const prev = this.#queue.get(d.key);
    if (prev && prev.kind !== 'a' && prev.timestamp > d.timestamp) return;
    this.#queue.set(d.key, { raw, kind: d.kind, scid: d.scid, timestamp: d.timestamp, from, tries: 0 });
  }

  #startFundingCheck(check: FundingCheckRequest, peer: PeerId | undefined): Promise<void> {
    const scid = check.shortChannelId;
    const existing = this.#inflight.get(scid);
    if (existing) return existing;
    const run = (async () => {
      const found = await this.#funding.lookup(check);
      if (this.#stopped) return;
      if (found === 'not_yet') {
        // The block is not there yet: keep the announcement pending and retry on new blocks.
        if (this.#deferred.size < MAX_DEFERRED) {
          this.#deferred.set(scid, check);
          return;
        }
        this.#handleResult(peer, this.graph.resolveFundingCheck(scid, undefined, { now: this.#nowS() }));
        return;
      }
      const r = this.graph.resolveFundingCheck(scid, found, { now: this.#nowS() });
      if (r.status === 'accepted' && found) this.#watch(scid, found.outpoint);
      this.#handleResult(peer, r);
    })().finally(() => this.#inflight.delete(scid));
    this.#inflight.set(scid, run);
    this.#track(run);
    return run;
  }

  #watch(scid: bigint, o: OutPoint): void {
    this.#outpoints.set(scid, o);
    this.#byOutpoint.set(outpointKey(o), scid);
    this.#chain.watchOutpoint(o);
  }

  #forget(scid: bigint): void {
    const o = this.#outpoints.get(scid);
    if (o) this.#byOutpoint.delete(outpointKey(o));
    this.#outpoints.delete(scid);
    this.#spent.delete(scid);
    this.#funding.forget(scid);
    this.#queue.delete(`a:${scid}`);
    this.#queue.delete(`u:${scid}:0`);
    this.#queue.delete(`u:${scid}:1`);
  }

  /** A peer's (possibly `dont_forward`) update for one of our unannounced channels. */
  #privatePeerUpdate(peer: PeerId, msg: ChannelUpdate): boolean {
    const found = this.#findOwnChannel(msg.shortChannelId);
    if (!found || found.info.peer !== peer) return false;
    if (!equal(msg.chainHash, this.chainHash)) return false;
    // BOLT 7: "SHOULD accept `channel_update`s for its own channels (even if non-public)".
    if (!verifyChannelUpdate(msg, fromHex(peer))) {
      this.#count({ status: 'rejected', reason: 'BAD_SIGNATURE' });
      this.#warn(peer, 'invalid gossip: BAD_SIGNATURE');
      return true;
    }
    const prev = this.#peerUpdates.get(found.info.channelId);
    if (!prev || prev.timestamp < msg.timestamp) this.#peerUpdates.set(found.info.channelId, msg);
    this.#stats.ignored.OWN_PRIVATE_CHANNEL = (this.#stats.ignored.OWN_PRIVATE_CHANNEL ?? 0) + 1;
    return true;
  }

  // ---------------------------------------------------------------------------------------------
  // Peers and sync

  #state(peer: PeerId): PeerState {
    let st = this.#peerState.get(peer);
    if (!st) {
      st = { filter: undefined, sync: undefined, sigsSent: new Set(), privateSent: new Map() };
      this.#peerState.set(peer, st);
    }
    return st;
  }

  #onPeerConnected(peer: PeerId, info: PeerInfo): void {
    if (this.#stopped) return;
    const p = peer.toLowerCase();
    const old = this.#peerState.get(p);
    if (old?.sync) this.#syncing--;
    this.#peerState.delete(p);
    this.#offlineSince.delete(p);
    const st = this.#state(p);
    const queries = info.features.has(6) || info.features.has(7);
    if (!queries) return;
    // BOLT 7: "A node which wants any gossip messages has to send this" — from now on (the
    // initial sync below fetches the past).
    this.#peers?.sendMessage(p, {
      type: 'gossip_timestamp_filter',
      chainHash: this.chainHash,
      firstTimestamp: Math.max(0, this.#nowS() - this.#opts.filterBacklogSeconds),
      timestampRange: FULL_RANGE,
    });
    if (this.#syncing < this.#opts.maxSyncPeers) {
      this.#syncing++;
      const ex = info.features.has(10) || info.features.has(11);
      st.sync = { phase: 'range', ex, replies: [], chunks: [] };
      this.#peers?.sendMessage(p, {
        type: 'query_channel_range',
        chainHash: this.chainHash,
        firstBlocknum: 0,
        numberOfBlocks: FULL_RANGE,
        ...(ex ? { queryOption: 1n } : {}),
      });
    }
  }

  #onPeerDisconnected(peer: PeerId): void {
    const p = peer.toLowerCase();
    const st = this.#peerState.get(p);
    if (st?.sync) this.#syncing--;
    this.#peerState.delete(p);
    this.#offlineSince.set(p, this.#clock.now());
  }

  #onReplyChannelRange(peer: PeerId, msg: ReplyChannelRange): void {
    const sync = this.#peerState.get(peer)?.sync;
    if (sync?.phase !== 'range' || !equal(msg.chainHash, this.chainHash)) return;
    sync.replies.push(msg);
    // BOLT 7: the final reply has `first_blocknum + number_of_blocks` at or past the query's end.
    if (msg.firstBlocknum + msg.numberOfBlocks < FULL_RANGE) return;
    const g = this.graph;
    const wanted: Array<{ scid: bigint; flag: bigint }> = [];
    const seen = new Set<bigint>();
    for (const r of sync.replies) {
      r.shortChannelIds.forEach((scid, i) => {
        if (seen.has(scid)) return;
        seen.add(scid);
        const c = g.getChannel(scid);
        if (!c) {
          wanted.push({ scid, flag: 0x1fn });
          return;
        }
        const ts = r.timestamps?.[i];
        if (!sync.ex || !ts) return;
        let flag = 0n;
        if (ts.timestampNodeId1 > (c.policies[0]?.timestamp ?? 0)) flag |= 2n;
        if (ts.timestampNodeId2 > (c.policies[1]?.timestamp ?? 0)) flag |= 4n;
        const [a, b] = g.endpoints(c);
        if (flag !== 0n && !a.announcement) flag |= 8n;
        if (flag !== 0n && !b.announcement) flag |= 16n;
        if (flag !== 0n) wanted.push({ scid, flag });
      });
    }
    wanted.sort((x, y) => (x.scid < y.scid ? -1 : x.scid > y.scid ? 1 : 0));
    sync.replies = [];
    sync.phase = 'scids';
    for (let i = 0; i < wanted.length; i += this.#opts.queryChunkSize) {
      const part = wanted.slice(i, i + this.#opts.queryChunkSize);
      sync.chunks.push({
        scids: part.map((w) => w.scid),
        flags: sync.ex ? part.map((w) => w.flag) : undefined,
      });
    }
    this.#nextQuery(peer);
  }

  #nextQuery(peer: PeerId): void {
    const st = this.#peerState.get(peer);
    const sync = st?.sync;
    if (!st || !sync) return;
    const next = sync.chunks.shift();
    if (!next) {
      st.sync = undefined;
      this.#syncing--;
      this.#stats.syncsCompleted++;
      return;
    }
    const q: QueryShortChannelIds = {
      type: 'query_short_channel_ids',
      chainHash: this.chainHash,
      shortChannelIds: next.scids,
      ...(next.flags ? { queryFlags: next.flags } : {}),
    };
    this.#peers?.sendMessage(peer, q);
  }

  #onReplyEnd(peer: PeerId): void {
    const sync = this.#peerState.get(peer)?.sync;
    if (sync?.phase === 'scids') this.#nextQuery(peer);
  }

  // ---------------------------------------------------------------------------------------------
  // Chain

  #onChainEvent(e: ChainEvent): void {
    if (this.#stopped) return;
    if (e.type === 'outpoint_spent') {
      const scid = this.#byOutpoint.get(outpointKey(e.outpoint));
      if (scid !== undefined) this.#spent.add(scid);
    } else if (e.type === 'block_connected') {
      this.#onBlock();
    } else if (e.type === 'block_disconnected') {
      this.#funding.clear();
    }
  }

  #onBlock(): void {
    // Funding spends deep enough: forget the channel (BOLT 7 "Pruning the Network View").
    for (const scid of [...this.#spent]) {
      const o = this.#outpoints.get(scid);
      const spend = o ? this.#chain.spendOf(o) : undefined;
      if (!o || !spend) {
        this.#spent.delete(scid);
        continue;
      }
      if (spend.block && spend.confirmations >= this.#opts.pruneDelayBlocks) {
        this.graph.prune(scid);
        this.#forget(scid);
        this.#log.info('channel closed: pruned', { scid: formatShortChannelId(scid) });
      }
    }
    // Announcements waiting for their block.
    const deferred = [...this.#deferred.values()];
    this.#deferred.clear();
    for (const check of deferred) this.#startFundingCheck(check, undefined);
    this.#reconcileSoon();
  }

  // ---------------------------------------------------------------------------------------------
  // Our channels

  #nowS(): number {
    return Math.floor(this.#clock.now() / 1000);
  }

  #enqueueOwn(task: () => Promise<void>): Promise<void> {
    const run = this.#ownQueue.then(() => (this.#stopped ? undefined : task()));
    this.#ownQueue = run.catch((e: unknown) => this.#log.error('gossip task failed', { error: String(e) }));
    return run;
  }

  #reconcilePending = false;

  #reconcileSoon(): void {
    if (!this.#channels || this.#reconcilePending || this.#stopped) return;
    this.#reconcilePending = true;
    void this.#enqueueOwn(async () => {
      this.#reconcilePending = false;
      await this.#reconcileAll();
    });
  }

  /** Direction of our updates on a channel with `peer`: 0 when we are `node_id_1`. */
  #direction(peer: PeerId): 0 | 1 {
    return compare(this.#keys.nodePublicKey, fromHex(peer)) < 0 ? 0 : 1;
  }

  #findOwnChannel(scid: bigint): { info: ChannelInfo; data: FundedData } | undefined {
    if (!this.#channels) return undefined;
    for (const info of this.#channels.listChannels()) {
      if (info.shortChannelId !== scid && info.localAlias !== scid && info.remoteAlias !== scid) continue;
      const st = this.#channels.channelState(info.channelId);
      const data = st && fundedData(st);
      if (data && st.kind !== 'Closed') return { info, data };
    }
    return undefined;
  }

  async #reconcileAll(): Promise<void> {
    const cm = this.#channels;
    if (!cm || !this.#peers) return;
    const tip = this.#chain.tip()?.height ?? 0;
    for (const info of cm.listChannels()) {
      const st = cm.channelState(info.channelId);
      const d = st && fundedData(st);
      if (!st || !d) continue;
      try {
        if (d.commitments.params.announce) await this.#reconcilePublic(info, st, d, tip);
        else this.#reconcilePrivate(info, st, d);
      } catch (e) {
        this.#log.error('announcing channel failed', { channel: info.channelId, error: String(e) });
      }
    }
  }

  #unsigned(info: ChannelInfo, d: FundedData, scid: bigint): UnsignedChannelAnnouncement {
    const p = d.commitments.params;
    return buildChannelAnnouncement({
      chainHash: this.chainHash,
      shortChannelId: scid,
      localNodeId: this.#keys.nodePublicKey,
      remoteNodeId: fromHex(info.peer),
      localBitcoinKey: p.local.fundingPubkey,
      remoteBitcoinKey: p.remote.fundingPubkey,
    });
  }

  #ourSignatures(
    info: ChannelInfo,
    d: FundedData,
    unsigned: UnsignedChannelAnnouncement,
  ): AnnouncementSignatures {
    const idx = this.#channels!.channelKeyIndex(info.channelId);
    if (idx === undefined) throw new InvalidArgumentError('channel key index unknown');
    return createAnnouncementSignatures({
      channelId: d.commitments.params.channelId,
      announcement: unsigned.announcement,
      nodeSecret: this.#keys.nodeSecretKey,
      bitcoinSecret: this.#keys.channelKeys(idx).fundingPrivkey,
    });
  }

  /** Whether our channel may be announced now (BOLT 7 timing requirements). */
  #announceable(st: ChannelState, d: FundedData, tip: number): boolean {
    const scid = d.shortChannelId;
    return (
      scid !== undefined &&
      innerKind(st) === 'Normal' &&
      d.localShutdown === undefined &&
      d.localReady &&
      d.remoteReady &&
      tip - scidBlock(scid) + 1 >= this.#opts.announceDepth
    );
  }

  async #reconcilePublic(info: ChannelInfo, st: ChannelState, d: FundedData, tip: number): Promise<void> {
    const scid = d.shortChannelId;
    if (scid === undefined) return;
    let own = this.#own.get(info.channelId);
    if (!own || own.scid !== scid) {
      own = { scid, remote: undefined, announced: false };
      this.#own.set(info.channelId, own);
      this.#ownDirty = true;
    }
    if (this.#announceable(st, d, tip)) {
      const ps = this.#peerState.get(info.peer);
      // BOLT 7: send once the timing requirements are met; "if it has NOT received an
      // `announcement_signatures` message: SHOULD retransmit" on reconnection.
      if (st.kind === 'Normal' && ps && !ps.sigsSent.has(info.channelId) && !(own.remote && own.announced)) {
        const ours = this.#ourSignatures(info, d, this.#unsigned(info, d, scid));
        if (this.#peers!.sendMessage(info.peer, ours)) ps.sigsSent.add(info.channelId);
      }
      if (own.remote && !own.announced) await this.#announce(info, d, own);
    }
    if (own.announced && this.graph.getChannel(scid)) this.#refreshPublicUpdate(info, st, d, scid);
  }

  /** Assembles, checks and broadcasts our channel's announcement with our update and node announcement. */
  async #announce(info: ChannelInfo, d: FundedData, own: OwnChannel): Promise<void> {
    const unsigned = this.#unsigned(info, d, own.scid);
    const ours = this.#ourSignatures(info, d, unsigned);
    const ann = assembleChannelAnnouncement(unsigned, ours, own.remote!);
    const raw = encodeMessage(ann);
    const r = this.graph.apply(raw, { now: this.#nowS() });
    if (r.status === 'pending') await this.#startFundingCheck(r.check, undefined);
    else if (r.status === 'ignored' && r.reason === 'ALREADY_PENDING') await this.#inflight.get(own.scid);
    else if (r.status === 'rejected') {
      this.#log.error('our channel announcement was rejected', { channel: info.channelId, reason: r.reason });
      return;
    }
    if (!this.graph.getChannel(own.scid)) {
      this.#log.warn('our channel announcement is not in the graph yet', { channel: info.channelId });
      return;
    }
    own.announced = true;
    this.#ownDirty = true;
    const st = this.#channels!.channelState(info.channelId)!;
    const update = this.#refreshPublicUpdate(info, st, d, own.scid, true);
    const nodeAnn = this.#ensureNodeAnnouncement();
    const out = [raw];
    if (update) out.push(update);
    if (nodeAnn) out.push(nodeAnn);
    this.#sendOwn(out);
    this.#log.info('channel announced', { channel: info.channelId, scid: formatShortChannelId(own.scid) });
  }

  /** Our own gossip goes to every connected peer at once, whatever their filter. */
  #sendOwn(raws: Uint8Array[]): void {
    if (!this.#peers) return;
    for (const p of this.#peers.peers())
      for (const raw of raws) this.#peers.sendMessage(p.nodeId, wrapRaw(raw));
  }

  /** The fields our `channel_update` should have now. */
  #desired(
    info: ChannelInfo,
    st: ChannelState,
    d: FundedData,
  ): Omit<
    Parameters<typeof createChannelUpdate>[0],
    'chainHash' | 'shortChannelId' | 'timestamp' | 'dontForward'
  > {
    const p = d.commitments.params;
    const pol = this.policyOf(info);
    const cap = p.fundingAmountSat * 1000n;
    let max = p.remote.maxHtlcValueInFlightMsat < cap ? p.remote.maxHtlcValueInFlightMsat : cap;
    if (pol.htlcMaximumMsat !== undefined && pol.htlcMaximumMsat < max) max = pol.htlcMaximumMsat;
    let min = p.remote.htlcMinimumMsat;
    if (pol.htlcMinimumMsat !== undefined && pol.htlcMinimumMsat > min) min = pol.htlcMinimumMsat;
    if (max < min) max = min;
    const usable = innerKind(st) === 'Normal' && !d.localShutdown && !d.remoteShutdown;
    const since = this.#offlineSince.get(info.peer);
    const offlineLong =
      !this.#peers?.isConnected(info.peer) &&
      since !== undefined &&
      this.#clock.now() - since >= this.#opts.disableAfterMs;
    return {
      direction: this.#direction(info.peer),
      disabled: !usable || offlineLong,
      cltvExpiryDelta: pol.cltvExpiryDelta,
      htlcMinimumMsat: min,
      htlcMaximumMsat: max,
      feeBaseMsat: pol.feeBaseMsat,
      feeProportionalMillionths: pol.feeProportionalMillionths,
    };
  }

  #nextTimestamp(scid: bigint, atLeast: number): number {
    const ts = Math.max(this.#nowS(), (this.#updateTs.get(scid) ?? 0) + 1, atLeast);
    this.#updateTs.set(scid, ts);
    this.#ownDirty = true;
    return ts;
  }

  /**
   * Re-signs our update of a public channel when it changed or is due for a keepalive; applies it
   * to the graph and (unless `quiet`) sends it to every peer. Returns the new raw update, if any.
   */
  #refreshPublicUpdate(
    info: ChannelInfo,
    st: ChannelState,
    d: FundedData,
    scid: bigint,
    quiet = false,
  ): Uint8Array | undefined {
    const want = this.#desired(info, st, d);
    const cur = this.graph.getChannel(scid)?.policies[want.direction];
    if (
      cur &&
      cur.disabled === want.disabled &&
      cur.cltvExpiryDelta === want.cltvExpiryDelta &&
      cur.htlcMinimumMsat === want.htlcMinimumMsat &&
      cur.htlcMaximumMsat === want.htlcMaximumMsat &&
      cur.feeBaseMsat === want.feeBaseMsat &&
      cur.feeProportionalMillionths === want.feeProportionalMillionths &&
      this.#nowS() - cur.timestamp < this.#opts.keepaliveSeconds
    ) {
      return undefined;
    }
    // A closed channel's update is not worth refreshing once disabled.
    if (cur?.disabled && want.disabled && (st.kind === 'Closing' || st.kind === 'Closed')) return undefined;
    const upd = createChannelUpdate(
      {
        ...want,
        chainHash: this.chainHash,
        shortChannelId: scid,
        timestamp: this.#nextTimestamp(scid, (cur?.timestamp ?? 0) + 1),
      },
      this.#keys.nodeSecretKey,
    );
    const raw = encodeMessage(upd);
    const r = this.graph.apply(raw, { now: this.#nowS() });
    this.#count(r);
    if (r.status !== 'accepted') {
      this.#log.error('our channel_update was not accepted', { reason: 'reason' in r ? r.reason : r.status });
      return undefined;
    }
    this.#ownUpdates.set(scid, upd);
    if (!quiet) this.#sendOwn([raw]);
    return raw;
  }

  /** Our (private-style) update for a channel under `scid`, signed when its fields changed. */
  #privateUpdate(
    info: ChannelInfo,
    st: ChannelState,
    d: FundedData,
    scid: bigint,
    dontForward: boolean,
  ): ChannelUpdate {
    const want = this.#desired(info, st, d);
    const cur = this.#ownUpdates.get(scid);
    if (
      cur &&
      ((cur.channelFlags & 2) !== 0) === want.disabled &&
      cur.cltvExpiryDelta === want.cltvExpiryDelta &&
      cur.htlcMinimumMsat === want.htlcMinimumMsat &&
      cur.htlcMaximumMsat === want.htlcMaximumMsat &&
      cur.feeBaseMsat === want.feeBaseMsat &&
      cur.feeProportionalMillionths === want.feeProportionalMillionths &&
      ((cur.messageFlags & 2) !== 0) === dontForward &&
      this.#nowS() - cur.timestamp < this.#opts.keepaliveSeconds
    ) {
      return cur;
    }
    const upd = createChannelUpdate(
      {
        ...want,
        chainHash: this.chainHash,
        shortChannelId: scid,
        dontForward,
        timestamp: this.#nextTimestamp(scid, (cur?.timestamp ?? 0) + 1),
      },
      this.#keys.nodeSecretKey,
    );
    this.#ownUpdates.set(scid, upd);
    return upd;
  }

  /**
   * BOLT 7: an unannounced channel's parameters go to its peer only, with `dont_forward` and
   * "either an `alias` it has received from the peer, or the real `short_channel_id`".
   */
  #reconcilePrivate(info: ChannelInfo, st: ChannelState, d: FundedData): void {
    if (st.kind !== 'Normal' || !d.remoteReady) return;
    const scid = d.remoteAlias ?? d.shortChannelId;
    const ps = this.#peerState.get(info.peer);
    if (scid === undefined || !ps) return;
    const upd = this.#privateUpdate(info, st, d, scid, true);
    const key = `${scid}:${upd.timestamp}`;
    if (ps.privateSent.get(info.channelId) === key) return;
    if (this.#peers!.sendMessage(info.peer, upd)) ps.privateSent.set(info.channelId, key);
  }

  /** Our `node_announcement` (signed once per content change). */
  #ensureNodeAnnouncement(): Uint8Array | undefined {
    const g = this.graph;
    const me = g.getNode(this.#keys.nodePublicKey);
    if (!me) return undefined;
    if (this.#nodeAnn && me.announcement && equal(me.announcement.raw, this.#nodeAnn)) return this.#nodeAnn;
    const features =
      this.#node.features ??
      [...defaultInitFeatures()].filter((b) => featureInfo(b & ~1)?.contexts.includes('node'));
    const addresses = [...(this.#node.addresses ?? [])].sort(
      (a, b) => ADDRESS_ORDER[a.type] - ADDRESS_ORDER[b.type],
    );
    const ts = Math.max(this.#nowS(), this.#nodeAnnTs + 1, (me.announcement?.timestamp ?? 0) + 1);
    const ann = signNodeAnnouncement(
      {
        features: featureBytesFromBits(features),
        timestamp: ts,
        nodeId: this.#keys.nodePublicKey,
        rgbColor: fromHex((this.#node.color ?? '3399ff').padStart(6, '0').slice(0, 6)),
        alias: aliasBytes(this.#node.alias ?? ''),
        addresses,
      },
      this.#keys.nodeSecretKey,
    );
    const raw = encodeMessage(ann);
    const r = g.apply(raw, { now: this.#nowS() });
    this.#count(r);
    if (r.status !== 'accepted') return me.announcement?.raw;
    this.#nodeAnnTs = ts;
    this.#nodeAnn = raw;
    this.#ownDirty = true;
    return raw;
  }

  /**
   * A peer's `announcement_signatures` (handed over by the channel runtime). BOLT 7 recipient:
   * a wrong `short_channel_id` or signature gets a `warning`; once we have sent and received
   * valid ones, the `channel_announcement` is queued for our peers; we answer the first one of
   * each connection with ours.
   */
  handleAnnouncementSignatures(peer: PeerId, msg: AnnouncementSignatures): Promise<void> {
    const p = peer.toLowerCase();
    return this.#enqueueOwn(async () => {
      const cm = this.#channels;
      if (!cm) return;
      const id = toHex(msg.channelId);
      const info = cm.listChannels().find((c) => c.channelId === id);
      const st = info && cm.channelState(id);
      const d = st && fundedData(st);
      if (!info || !st || !d || info.peer !== p) return;
      if (!d.commitments.params.announce) {
        this.#warn(p, 'announcement_signatures for an unannounced channel');
        return;
      }
      const scid = d.shortChannelId;
      // BOLT 7: "if it has not sent `channel_ready`: MAY defer handling" — we ignore it; the
      // peer retransmits on reconnection.
      if (scid === undefined || !d.localReady) return;
      const unsigned = this.#unsigned(info, d, scid);
      const err = checkAnnouncementSignatures(
        unsigned.announcement,
        msg,
        fromHex(p),
        d.commitments.params.remote.fundingPubkey,
      );
      if (err) {
        this.#warn(p, `announcement_signatures: ${err}`);
        return;
      }
      let own = this.#own.get(id);
      if (!own || own.scid !== scid) {
        own = { scid, remote: undefined, announced: false };
        this.#own.set(id, own);
      }
      own.remote = { nodeSignature: msg.nodeSignature, bitcoinSignature: msg.bitcoinSignature };
      this.#ownDirty = true;
      const tip = this.#chain.tip()?.height ?? 0;
      if (!this.#announceable(st, d, tip)) return; // answered and announced once we reach the depth
      const ps = this.#peerState.get(p);
      if (ps && !ps.sigsSent.has(id)) {
        if (this.#peers!.sendMessage(p, this.#ourSignatures(info, d, unsigned))) ps.sigsSent.add(id);
      }
      if (!own.announced) await this.#announce(info, d, own);
    });
  }
}
