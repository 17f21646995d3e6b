/**
 * The BOLT #7 network graph (07-routing-gossip.md): validates incoming gossip
 * (`channel_announcement`, `node_announcement`, `channel_update`) and stores channels by
 * short_channel_id with capacity and per-direction policy, and nodes with their latest
 * announcement. Sans-IO: the funding-output check and the clock come from the caller.
 *
 * Flow for a `channel_announcement`: {@link NetworkGraph.apply} checks the chain, the node
 * order and the four signatures, then returns `pending` with a {@link FundingCheckRequest};
 * the runtime looks the output up and calls {@link NetworkGraph.resolveFundingCheck}; only a
 * matching unspent P2WSH output makes the channel enter the graph (with that output's value as
 * capacity). `channel_update`s and `node_announcement`s for a pending channel are queued and
 * applied once it is accepted.
 *
 * Nodes and channels are indexed by dense integers so the router can run over typed arrays.
 */

import { fundingScript } from '../../protocol/channel/scripts.js';
import { equal, toHex } from '../../protocol/encoding/bytes.js';
import { DecodeError, InvalidArgumentError } from '../../protocol/errors.js';
import { featureBitsFromBytes, featureInfo } from '../../protocol/features.js';
import { p2wsh } from '../../protocol/tx/script.js';
import {
  type ChannelAnnouncement,
  type ChannelUpdate,
  decodeMessage,
  encodeMessage,
  type Message,
  type NodeAnnouncement,
  scidToParts,
} from '../../protocol/wire/index.js';
import {
  channelUpdateSigner,
  verifyChannelAnnouncement,
  verifyChannelUpdate,
  verifyNodeAnnouncement,
} from './signatures.js';
import type {
  ChannelPolicy,
  FundingCheckRequest,
  FundingOutput,
  GossipResult,
  GraphChannel,
  GraphNode,
  NodeAnnouncementInfo,
} from './types.js';

/** BOLT #7 "Recommendation on Pruning Stale Entries": two weeks, in seconds. */
export const STALE_CHANNEL_AGE_SECONDS = 1_209_600;

/** Options of {@link NetworkGraph}. */
export interface NetworkGraphOptions {
  /** How far in the future a `timestamp` may be (seconds, default one day) when `now` is given. */
  maxFutureSeconds?: number;
  /** Age after which updates are stale (default {@link STALE_CHANNEL_AGE_SECONDS}). */
  staleAgeSeconds?: number;
  /** Maximum announcements awaiting their funding check (default 10,000). */
  maxPending?: number;
}

/** Per-call context of {@link NetworkGraph.apply}. */
export interface ApplyContext {
  /** Current UNIX time in seconds; enables the future/stale timestamp checks. */
  now?: number;
}

/** A channel to insert without gossip (own channels, tests, benchmarks). */
export interface AddChannelParams {
  scid: bigint;
  nodeId1: Uint8Array;
  nodeId2: Uint8Array;
  capacitySat: bigint;
  features?: Uint8Array;
  /** The signed announcement bytes, if any (kept for query answers and rebroadcast). */
  announcement?: Uint8Array;
  addedAt?: number;
}

/** A policy to insert without gossip (see {@link NetworkGraph.setPolicy}). */
export interface PolicyParams {
  timestamp: number;
  messageFlags?: number;
  /** Direction bit is taken from the `direction` argument; bit 1 = disabled. */
  channelFlags?: number;
  cltvExpiryDelta: number;
  htlcMinimumMsat: bigint;
  htlcMaximumMsat: bigint;
  feeBaseMsat: number;
  feeProportionalMillionths: number;
  raw?: Uint8Array;
}

interface MutableNode {
  index: number;
  nodeId: Uint8Array;
  hex: string;
  channels: MutableChannel[];
  announcement: NodeAnnouncementInfo | undefined;
  unroutable: boolean;
}

interface MutableChannel {
  scid: bigint;
  n1: number;
  n2: number;
  capacitySat: bigint;
  capacityMsatF: number;
  features: Uint8Array;
  unroutable: boolean;
  announcement: Uint8Array | undefined;
  policies: [ChannelPolicy | undefined, ChannelPolicy | undefined];
  addedAt: number;
}

interface Pending {
  msg: ChannelAnnouncement;
  raw: Uint8Array;
  check: FundingCheckRequest;
  updates: [
    { msg: ChannelUpdate; raw: Uint8Array } | undefined,
    { msg: ChannelUpdate; raw: Uint8Array } | undefined,
  ];
  nodeAnns: Map<string, { msg: NodeAnnouncement; raw: Uint8Array }>;
}

/** True when a feature bitfield has an even bit we do not know (BOLT 7 "unknown even bit"). */
export function hasUnknownEvenFeature(features: Uint8Array): boolean {
  for (const bit of featureBitsFromBytes(features)) if (bit % 2 === 0 && !featureInfo(bit)) return true;
  return false;
}

function policyFrom(p: PolicyParams, direction: 0 | 1, capacitySat: bigint): ChannelPolicy {
  const channelFlags = ((p.channelFlags ?? 0) & ~1) | direction;
  const cap = capacitySat * 1000n;
  const max = p.htlcMaximumMsat < cap ? p.htlcMaximumMsat : cap;
  return {
    timestamp: p.timestamp,
    messageFlags: p.messageFlags ?? 1,
    channelFlags,
    disabled: (channelFlags & 2) !== 0,
    cltvExpiryDelta: p.cltvExpiryDelta,
    htlcMinimumMsat: p.htlcMinimumMsat,
    htlcMaximumMsat: p.htlcMaximumMsat,
    feeBaseMsat: p.feeBaseMsat,
    feeProportionalMillionths: p.feeProportionalMillionths,
    raw: p.raw,
    minMsatF: Number(p.htlcMinimumMsat),
    maxMsatF: Number(max),
  };
}

function sameUpdateContent(a: Uint8Array, b: Uint8Array): boolean {
  // Compare everything but the signature (bytes 2..66): ECDSA signatures are malleable.
  if (a.length !== b.length) return false;
  for (let i = 66; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function dnsCount(ann: NodeAnnouncement): number {
  let n = 0;
  for (const a of ann.addresses) if (a.type === 'dns') n++;
  return n;
}

/**
 * The network graph. Mutated only through {@link apply}, {@link resolveFundingCheck},
 * {@link prune}, {@link pruneStale}, {@link addChannel}/{@link setPolicy} and
 * {@link removeChannel}; read by the router through {@link nodeSlots} and {@link nodeIndexOf}.
 */
export class NetworkGraph {
  /** The chain this graph follows (BOLT 7 `chain_hash`). */
  readonly chainHash: Uint8Array;
  private readonly opts: Required<NetworkGraphOptions>;
  private readonly nodeList: (MutableNode | undefined)[] = [];
  private readonly freeNodes: number[] = [];
  private readonly byHex = new Map<string, number>();
  private readonly chans = new Map<bigint, MutableChannel>();
  private readonly pending = new Map<bigint, Pending>();
  private sorted: bigint[] | undefined;
  private version = 0;

  constructor(chainHash: Uint8Array, opts: NetworkGraphOptions = {}) {
    if (chainHash.length !== 32) throw new InvalidArgumentError('chain hash must be 32 bytes');
    this.chainHash = chainHash;
    this.opts = {
      maxFutureSeconds: opts.maxFutureSeconds ?? 86_400,
      staleAgeSeconds: opts.staleAgeSeconds ?? STALE_CHANNEL_AGE_SECONDS,
      maxPending: opts.maxPending ?? 10_000,
    };
  }

  // ------------------------------------------------------------------------------ reading

  /** Number of channels. */
  get channelCount(): number {
    return this.chans.size;
  }

  /** Number of nodes (with at least one channel). */
  get nodeCount(): number {
    return this.byHex.size;
  }

  /** Incremented on every mutation (caches keyed on the graph can compare it). */
  get revision(): number {
    return this.version;
  }

  /** A channel by short_channel_id. */
  getChannel(scid: bigint): GraphChannel | undefined {
    return this.chans.get(scid);
  }

  /** A node by public key. */
  getNode(nodeId: Uint8Array): GraphNode | undefined {
    const i = this.byHex.get(toHex(nodeId));
    return i === undefined ? undefined : this.nodeList[i];
  }

  /** The node at a dense index (undefined for a free slot). */
  nodeAt(index: number): GraphNode | undefined {
    return this.nodeList[index];
  }

  /** Dense index of a node, or -1. */
  nodeIndexOf(nodeId: Uint8Array): number {
    return this.byHex.get(toHex(nodeId)) ?? -1;
  }

  /** Every node slot by index (holes are free slots). For the router's hot path. */
  nodeSlots(): readonly (GraphNode | undefined)[] {
    return this.nodeList;
  }

  /** Every channel (insertion order). */
  channels(): IterableIterator<GraphChannel> {
    return this.chans.values();
  }

  /** Every node. */
  *nodes(): IterableIterator<GraphNode> {
    for (const n of this.nodeList) if (n) yield n;
  }

  /** The two endpoint nodes of a channel. */
  endpoints(c: GraphChannel): [GraphNode, GraphNode] {
    return [this.nodeList[c.n1]!, this.nodeList[c.n2]!];
  }

  /** Every scid, ascending (cached until the next mutation). */
  sortedScids(): readonly bigint[] {
    if (!this.sorted) this.sorted = [...this.chans.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return this.sorted;
  }

  /** Announcements awaiting their funding check. */
  pendingChecks(): FundingCheckRequest[] {
    return [...this.pending.values()].map((p) => p.check);
  }

  // ------------------------------------------------------------------------------ gossip

  /**
   * Applies one gossip message (decoded, or its raw bytes including the 2-byte type). Checks,
   * per BOLT #7: the chain hash, signatures, node order, timestamps (newer than the stored
   * one; with `ctx.now`, not too far in the future nor older than the stale age), channel
   * existence, `htlc_maximum_msat` against `htlc_minimum_msat` and the capacity.
   * Returns `pending` for a new valid `channel_announcement` (see {@link resolveFundingCheck}).
   */
  apply(input: Uint8Array | Message, ctx: ApplyContext = {}): GossipResult {
    let msg: Message;
    let raw: Uint8Array;
    if (input instanceof Uint8Array) {
      try {
        msg = decodeMessage(input);
      } catch (e) {
        if (e instanceof DecodeError) return { status: 'rejected', reason: 'MALFORMED' };
        throw e;
      }
      raw = input;
    } else {
      msg = input;
      if (
        msg.type !== 'channel_announcement' &&
        msg.type !== 'channel_update' &&
        msg.type !== 'node_announcement'
      ) {
        return { status: 'ignored', reason: 'NOT_GOSSIP' };
      }
      raw = encodeMessage(msg);
    }
    switch (msg.type) {
      case 'channel_announcement':
        return this.applyChannelAnnouncement(msg, raw);
      case 'channel_update':
        return this.applyChannelUpdate(msg, raw, ctx);
      case 'node_announcement':
        return this.applyNodeAnnouncement(msg, raw, ctx);
      default:
        return { status: 'ignored', reason: 'NOT_GOSSIP' };
    }
  }

  private applyChannelAnnouncement(msg: ChannelAnnouncement, raw: Uint8Array): GossipResult {
    // BOLT #7: "if the specified `chain_hash` is unknown to the receiver: MUST ignore the message."
    if (!equal(msg.chainHash, this.chainHash)) return { status: 'ignored', reason: 'UNKNOWN_CHAIN' };
    const known = this.chans.get(msg.shortChannelId);
    if (known?.announcement && equal(known.announcement, raw))
      return { status: 'ignored', reason: 'DUPLICATE' };
    const pend = this.pending.get(msg.shortChannelId);
    if (pend && equal(pend.raw, raw)) return { status: 'ignored', reason: 'ALREADY_PENDING' };
    // BOLT #7: `node_id_1` is "the lexicographically-lesser of the two compressed keys".
    let order = 0;
    for (let i = 0; i < 33 && order === 0; i++) order = msg.nodeId1[i]! - msg.nodeId2[i]!;
    if (order >= 0) return { status: 'rejected', reason: 'BAD_NODE_ORDER' };
    // BOLT #7: "MUST verify the integrity AND authenticity of the message by verifying the signatures."
    if (!verifyChannelAnnouncement(msg, raw)) return { status: 'rejected', reason: 'BAD_SIGNATURE' };
    if (known) {
      const [a, b] = this.endpoints(known);
      if (equal(a.nodeId, msg.nodeId1) && equal(b.nodeId, msg.nodeId2)) {
        return { status: 'ignored', reason: 'DUPLICATE' };
      }
      return { status: 'rejected', reason: 'CONFLICTING_ANNOUNCEMENT' };
    }
    if (pend) return { status: 'ignored', reason: 'ALREADY_PENDING' };
    if (this.pending.size >= this.opts.maxPending) return { status: 'ignored', reason: 'TOO_MANY_PENDING' };
    const parts = scidToParts(msg.shortChannelId);
    const check: FundingCheckRequest = {
      shortChannelId: msg.shortChannelId,
      block: parts.block,
      txIndex: parts.txIndex,
      outputIndex: parts.outputIndex,
      expectedScript: p2wsh(fundingScript(msg.bitcoinKey1, msg.bitcoinKey2)),
    };
    this.pending.set(msg.shortChannelId, {
      msg,
      raw,
      check,
      updates: [undefined, undefined],
      nodeAnns: new Map(),
    });
    return { status: 'pending', check };
  }

  /**
   * Answers a {@link FundingCheckRequest}: `output` is the unspent output at the scid, or
   * undefined when it does not exist or is spent. BOLT #7: "if the `short_channel_id`'s output
   * does NOT correspond to a P2WSH (using `bitcoin_key_1` and `bitcoin_key_2`...) OR the output
   * is spent: MUST ignore the message." On success the channel enters the graph with the output
   * value as capacity, queued updates/announcements are applied, and `rebroadcast` holds the
   * announcement followed by every accepted queued message.
   */
  resolveFundingCheck(scid: bigint, output: FundingOutput | undefined, ctx: ApplyContext = {}): GossipResult {
    const p = this.pending.get(scid);
    if (!p) return { status: 'ignored', reason: 'UNKNOWN_CHANNEL' };
    this.pending.delete(scid);
    if (!output) return { status: 'rejected', reason: 'FUNDING_OUTPUT_MISSING' };
    if (!equal(output.scriptPubKey, p.check.expectedScript)) {
      return { status: 'rejected', reason: 'FUNDING_SCRIPT_MISMATCH' };
    }
    this.insertChannel({
      scid,
      nodeId1: p.msg.nodeId1,
      nodeId2: p.msg.nodeId2,
      capacitySat: output.valueSat,
      features: p.msg.features,
      announcement: p.raw,
      addedAt: ctx.now ?? 0,
    });
    const rebroadcast: Uint8Array[] = [p.raw];
    for (const u of p.updates) {
      if (!u) continue;
      const r = this.applyChannelUpdate(u.msg, u.raw, ctx);
      if (r.status === 'accepted') rebroadcast.push(...r.rebroadcast);
    }
    for (const n of p.nodeAnns.values()) {
      const r = this.applyNodeAnnouncement(n.msg, n.raw, ctx);
      if (r.status === 'accepted') rebroadcast.push(...r.rebroadcast);
    }
    return { status: 'accepted', rebroadcast };
  }

  private checkTimestamp(ts: number, ctx: ApplyContext): GossipResult | undefined {
    if (ctx.now === undefined) return undefined;
    // BOLT #7: "if the `timestamp` is unreasonably far in the future: MAY discard".
    if (ts > ctx.now + this.opts.maxFutureSeconds)
      return { status: 'ignored', reason: 'TIMESTAMP_IN_FUTURE' };
    if (ts + this.opts.staleAgeSeconds < ctx.now) return { status: 'ignored', reason: 'TOO_OLD' };
    return undefined;
  }

  private applyChannelUpdate(msg: ChannelUpdate, raw: Uint8Array, ctx: ApplyContext): GossipResult {
    // BOLT #7: "if the specified `chain_hash` value is unknown ...: MUST ignore the channel update."
    if (!equal(msg.chainHash, this.chainHash)) return { status: 'ignored', reason: 'UNKNOWN_CHAIN' };
    const dir = (msg.channelFlags & 1) as 0 | 1;
    const chan = this.chans.get(msg.shortChannelId);
    if (!chan) {
      const p = this.pending.get(msg.shortChannelId);
      // BOLT #7: "if the `short_channel_id` does NOT match a previous `channel_announcement`
      // ... MUST ignore `channel_update`s that do NOT correspond to one of its own channels."
      if (!p) return { status: 'ignored', reason: 'UNKNOWN_CHANNEL' };
      const q = p.updates[dir];
      if (q && q.msg.timestamp >= msg.timestamp) return { status: 'ignored', reason: 'STALE_TIMESTAMP' };
      const t = this.checkTimestamp(msg.timestamp, ctx);
      if (t) return t;
      if (!verifyChannelUpdate(msg, channelUpdateSigner(msg, p.msg), raw)) {
        return { status: 'rejected', reason: 'BAD_SIGNATURE' };
      }
      p.updates[dir] = { msg, raw };
      return { status: 'ignored', reason: 'ALREADY_PENDING' };
    }
    const old = chan.policies[dir];
    if (old) {
      if (msg.timestamp < old.timestamp) return { status: 'ignored', reason: 'STALE_TIMESTAMP' };
      if (msg.timestamp === old.timestamp && (!old.raw || sameUpdateContent(old.raw, raw))) {
        // BOLT #7: "if the fields below `timestamp` are equal: SHOULD ignore this message".
        return { status: 'ignored', reason: 'DUPLICATE' };
      }
    }
    const t = this.checkTimestamp(msg.timestamp, ctx);
    if (t) return t;
    const signer = dir === 0 ? this.nodeList[chan.n1]!.nodeId : this.nodeList[chan.n2]!.nodeId;
    // BOLT #7: "if `signature` is not a valid signature ...: MUST NOT process the message further."
    if (!verifyChannelUpdate(msg, signer, raw)) return { status: 'rejected', reason: 'BAD_SIGNATURE' };
    if (old && msg.timestamp === old.timestamp) {
      return { status: 'rejected', reason: 'SAME_TIMESTAMP_DIFFERENT_CONTENT' };
    }
    // BOLT #7: "if `htlc_maximum_msat` < `htlc_minimum_msat`: SHOULD ignore this channel during
    // route considerations"; "if `htlc_maximum_msat` is greater than channel capacity: MAY
    // blacklist this `node_id`, SHOULD ignore this channel".
    if (msg.htlcMaximumMsat < msg.htlcMinimumMsat)
      return { status: 'rejected', reason: 'HTLC_MAX_BELOW_MIN' };
    if (msg.htlcMaximumMsat > chan.capacitySat * 1000n) {
      return { status: 'rejected', reason: 'HTLC_MAX_ABOVE_CAPACITY' };
    }
    chan.policies[dir] = policyFrom({ ...msg, raw }, dir, chan.capacitySat);
    this.touch();
    // `dont_forward` (message_flags bit 1): never relay.
    return { status: 'accepted', rebroadcast: (msg.messageFlags & 2) !== 0 ? [] : [raw] };
  }

  private applyNodeAnnouncement(msg: NodeAnnouncement, raw: Uint8Array, ctx: ApplyContext): GossipResult {
    const hex = toHex(msg.nodeId);
    const idx = this.byHex.get(hex);
    if (idx === undefined) {
      for (const p of this.pending.values()) {
        if (equal(p.msg.nodeId1, msg.nodeId) || equal(p.msg.nodeId2, msg.nodeId)) {
          const q = p.nodeAnns.get(hex);
          if (q && q.msg.timestamp >= msg.timestamp) return { status: 'ignored', reason: 'STALE_TIMESTAMP' };
          if (!verifyNodeAnnouncement(msg, raw)) return { status: 'rejected', reason: 'BAD_SIGNATURE' };
          p.nodeAnns.set(hex, { msg, raw });
          return { status: 'ignored', reason: 'ALREADY_PENDING' };
        }
      }
      // BOLT #7: "if `node_id` is NOT previously known from a `channel_announcement` message
      // ...: SHOULD ignore the message."
      return { status: 'ignored', reason: 'UNKNOWN_NODE' };
    }
    const node = this.nodeList[idx]!;
    if (node.announcement) {
      if (node.announcement.timestamp === msg.timestamp && equal(node.announcement.raw, raw)) {
        return { status: 'ignored', reason: 'DUPLICATE' };
      }
      if (msg.timestamp <= node.announcement.timestamp)
        return { status: 'ignored', reason: 'STALE_TIMESTAMP' };
    }
    const t = this.checkTimestamp(msg.timestamp, ctx);
    if (t) return t;
    if (!verifyNodeAnnouncement(msg, raw)) return { status: 'rejected', reason: 'BAD_SIGNATURE' };
    node.announcement = { timestamp: msg.timestamp, features: msg.features, raw };
    node.unroutable = hasUnknownEvenFeature(msg.features);
    this.touch();
    // BOLT #7: "if more than one `type 5` address is announced: ... MUST not forward".
    return { status: 'accepted', rebroadcast: dnsCount(msg) > 1 ? [] : [raw] };
  }

  // ------------------------------------------------------------------------------ direct edits

  /**
   * Inserts (or replaces) a channel without gossip validation: for the node's own channels,
   * persistence and tests. The caller vouches for it.
   */
  addChannel(p: AddChannelParams): GraphChannel {
    if (equal(p.nodeId1, p.nodeId2)) throw new InvalidArgumentError('channel endpoints must differ');
    if (this.chans.has(p.scid)) this.removeChannel(p.scid);
    return this.insertChannel(p);
  }

  /** Sets one direction's policy of a known channel without gossip validation. */
  setPolicy(scid: bigint, direction: 0 | 1, p: PolicyParams): void {
    const c = this.chans.get(scid);
    if (!c) throw new InvalidArgumentError('unknown channel');
    c.policies[direction] = policyFrom(p, direction, c.capacitySat);
    this.touch();
  }

  private insertChannel(p: AddChannelParams): MutableChannel {
    // Keep node_id_1 the lesser key so direction 0 always means node1 -> node2.
    let a = p.nodeId1;
    let b = p.nodeId2;
    for (let i = 0; i < 33; i++) {
      if (a[i] === b[i]) continue;
      if (a[i]! > b[i]!) [a, b] = [b, a];
      break;
    }
    const n1 = this.nodeFor(a);
    const n2 = this.nodeFor(b);
    const features = p.features ?? new Uint8Array(0);
    const c: MutableChannel = {
      scid: p.scid,
      n1: n1.index,
      n2: n2.index,
      capacitySat: p.capacitySat,
      capacityMsatF: Number(p.capacitySat) * 1000,
      features,
      unroutable: hasUnknownEvenFeature(features),
      announcement: p.announcement,
      policies: [undefined, undefined],
      addedAt: p.addedAt ?? 0,
    };
    this.chans.set(p.scid, c);
    n1.channels.push(c);
    n2.channels.push(c);
    this.sorted = undefined;
    this.touch();
    return c;
  }

  private nodeFor(nodeId: Uint8Array): MutableNode {
    const hex = toHex(nodeId);
    const i = this.byHex.get(hex);
    if (i !== undefined) return this.nodeList[i]!;
    const index = this.freeNodes.pop() ?? this.nodeList.length;
    const n: MutableNode = {
      index,
      nodeId: nodeId.slice(),
      hex,
      channels: [],
      announcement: undefined,
      unroutable: false,
    };
    this.nodeList[index] = n;
    this.byHex.set(hex, index);
    return n;
  }

  /** Sets a node's announcement without validation (persistence). Creates no node. */
  setNodeAnnouncement(nodeId: Uint8Array, info: NodeAnnouncementInfo): void {
    const i = this.byHex.get(toHex(nodeId));
    if (i === undefined) throw new InvalidArgumentError('unknown node');
    const n = this.nodeList[i]!;
    n.announcement = info;
    n.unroutable = hasUnknownEvenFeature(info.features);
    this.touch();
  }

  /**
   * Removes a channel (and endpoint nodes left without channels). Returns false if unknown.
   */
  removeChannel(scid: bigint): boolean {
    const c = this.chans.get(scid);
    if (!c) return false;
    this.chans.delete(scid);
    for (const idx of [c.n1, c.n2]) {
      const n = this.nodeList[idx]!;
      const k = n.channels.indexOf(c);
      if (k >= 0) n.channels.splice(k, 1);
      // BOLT #7: "if the announced node no longer has any associated open channels: MAY prune".
      if (n.channels.length === 0) {
        this.nodeList[idx] = undefined;
        this.byHex.delete(n.hex);
        this.freeNodes.push(idx);
      }
    }
    this.sorted = undefined;
    this.touch();
    return true;
  }

  /**
   * The runtime saw the funding output spent (and, per BOLT #7, waited 12 blocks): forget the
   * channel. Same as {@link removeChannel}; also drops a pending announcement for the scid.
   */
  prune(scid: bigint): boolean {
    this.pending.delete(scid);
    return this.removeChannel(scid);
  }

  /**
   * BOLT #7 "Recommendation on Pruning Stale Entries": removes every channel whose latest
   * `channel_update` in either direction is older than `maxAgeSeconds` (default two weeks,
   * 1209600 s). A direction with no update counts as stale once the channel has been in the
   * graph that long ("the oldest `channel_update` is used to prune the channel"). Returns the
   * removed scids.
   */
  pruneStale(now: number, maxAgeSeconds = this.opts.staleAgeSeconds): bigint[] {
    const limit = now - maxAgeSeconds;
    const removed: bigint[] = [];
    for (const c of this.chans.values()) {
      let stale = false;
      for (const p of c.policies) {
        if (p ? p.timestamp < limit : c.addedAt < limit) stale = true;
      }
      if (stale) removed.push(c.scid);
    }
    for (const scid of removed) this.removeChannel(scid);
    return removed;
  }

  private touch(): void {
    this.version++;
  }
}
