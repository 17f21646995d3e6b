/**
 * BOLT #7 "Query Messages": answers `query_channel_range` and `query_short_channel_ids` from
 * the graph, and selects gossip for a `gossip_timestamp_filter`. Plain (encoding type 0)
 * arrays only. Only channels that have a signed `channel_announcement` are public and appear
 * in answers; raw signed messages are returned byte for byte.
 */
import { equal } from '../../protocol/encoding/bytes.js';
import type {
  QueryChannelRange,
  QueryShortChannelIds,
  ReplyChannelRange,
  ReplyShortChannelIdsEnd,
} from '../../protocol/wire/index.js';
import { scidToParts } from '../../protocol/wire/scid.js';
import { crc32c } from './crc32c.js';
import type { NetworkGraph } from './graph.js';
import type { GraphChannel } from './types.js';

/**
 * Checksum of a raw `channel_update` (with its 2-byte type). BOLT #7: "the CRC32C checksum ...
 * of this `channel_update` without its `signature` and `timestamp` fields" — i.e. of
 * `chain_hash || short_channel_id` followed by every field after `timestamp` (including any
 * unknown trailing fields).
 */
export function channelUpdateChecksum(raw: Uint8Array): number {
  // type(2) signature(64) chain_hash(32) scid(8) | timestamp(4) | rest
  return crc32c(raw.subarray(66, 106), raw.subarray(110));
}

const MAX_MESSAGE = 65535;

function blockOf(scid: bigint): number {
  return Number(scid >> 40n);
}

/** Announced channels with `first <= block < first + count`, ascending by scid. */
export function announcedScidsInRange(g: NetworkGraph, first: number, count: number): bigint[] {
  const end = first + count;
  const out: bigint[] = [];
  const all = g.sortedScids();
  // binary search for the first scid with block >= first
  let lo = 0;
  let hi = all.length;
  const start = BigInt(first) << 40n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (all[mid]! < start) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo; i < all.length; i++) {
    const s = all[i]!;
    if (blockOf(s) >= end) break;
    if (g.getChannel(s)?.announcement) out.push(s);
  }
  return out;
}

/** Options of {@link replyChannelRange}. */
export interface ReplyChannelRangeOptions {
  /** Maximum scids per reply (default: as many as fit in one 65535-byte message). */
  maxScidsPerReply?: number;
}

/**
 * The `reply_channel_range` messages answering `q` (BOLT #7 receiver requirements): replies in
 * ascending `first_blocknum`, the first starting at the query's `first_blocknum`, together
 * covering the queried range, the last with `sync_complete` = 1; `timestamps_tlv` and
 * `checksums_tlv` when `query_option` bits 0/1 ask for them (0 for a direction without an
 * update). A query for another chain gets one empty reply with `sync_complete` = 0.
 */
export function replyChannelRange(
  g: NetworkGraph,
  q: QueryChannelRange,
  opts: ReplyChannelRangeOptions = {},
): ReplyChannelRange[] {
  const first = q.firstBlocknum;
  const end = Math.min(first + q.numberOfBlocks, 0x100000000);
  const base = { type: 'reply_channel_range' as const, chainHash: q.chainHash };
  if (!equal(q.chainHash, g.chainHash)) {
    return [
      { ...base, firstBlocknum: first, numberOfBlocks: end - first, syncComplete: 0, shortChannelIds: [] },
    ];
  }
  const wantTs = q.queryOption !== undefined && (q.queryOption & 1n) !== 0n;
  const wantCs = q.queryOption !== undefined && (q.queryOption & 2n) !== 0n;
  const perItem = 8 * (1 + (wantTs ? 1 : 0) + (wantCs ? 1 : 0));
  const fit = Math.floor((MAX_MESSAGE - 64) / perItem);
  const chunkSize = Math.max(1, Math.min(opts.maxScidsPerReply ?? fit, fit));
  const scids = announcedScidsInRange(g, first, end - first);
  const chunks: bigint[][] = [];
  for (let i = 0; i < scids.length; i += chunkSize) chunks.push(scids.slice(i, i + chunkSize));
  if (chunks.length === 0) chunks.push([]);
  const out: ReplyChannelRange[] = [];
  let start = first;
  chunks.forEach((chunk, k) => {
    const last = k === chunks.length - 1;
    const stop = last ? end : blockOf(chunk[chunk.length - 1]!) + 1;
    const reply: ReplyChannelRange = {
      ...base,
      firstBlocknum: start,
      numberOfBlocks: stop - start,
      syncComplete: last ? 1 : 0,
      shortChannelIds: chunk,
    };
    const chans = chunk.map((s) => g.getChannel(s)!);
    if (wantTs) {
      reply.timestamps = chans.map((c) => ({
        timestampNodeId1: c.policies[0]?.timestamp ?? 0,
        timestampNodeId2: c.policies[1]?.timestamp ?? 0,
      }));
    }
    if (wantCs) {
      const cs = (c: GraphChannel, d: 0 | 1) => {
        const raw = c.policies[d]?.raw;
        return raw ? channelUpdateChecksum(raw) : 0;
      };
      reply.checksums = chans.map((c) => ({ checksumNodeId1: cs(c, 0), checksumNodeId2: cs(c, 1) }));
    }
    out.push(reply);
    if (!last) {
      // The next reply starts where this one ended, or one block earlier when a block's
      // channels are split across replies (first_blocknum stays non-decreasing).
      start = Math.min(stop, blockOf(chunks[k + 1]![0]!));
    }
  });
  return out;
}

/** Answer to a `query_short_channel_ids`. */
export type ShortChannelIdsAnswer =
  | {
      readonly ok: true;
      /** Raw signed gossip to send, in order, followed by `end`. */
      readonly messages: readonly Uint8Array[];
      readonly end: ReplyShortChannelIdsEnd;
    }
  /** `encoded_query_flags` does not hold exactly one flag per scid (BOLT 7: MAY warn/close). */
  | { readonly ok: false; readonly reason: 'QUERY_FLAGS_MISMATCH' };

/**
 * Answers `query_short_channel_ids` (BOLT #7): for each known scid, without `query_flags` the
 * `channel_announcement`, the latest `channel_update` of each end, then the endpoints'
 * `node_announcement`s; with flags, bit 0 the announcement, bits 1/2 the update of node 1/2,
 * bits 3/4 the node announcement of node 1/2. Node announcements are not repeated within one
 * answer. `full_information` is 0 for another chain (and nothing is sent), 1 otherwise.
 */
export function answerShortChannelIds(g: NetworkGraph, q: QueryShortChannelIds): ShortChannelIdsAnswer {
  const flags = q.queryFlags;
  if (flags !== undefined && flags.length !== q.shortChannelIds.length) {
    return { ok: false, reason: 'QUERY_FLAGS_MISMATCH' };
  }
  const endOf = (full: number): ReplyShortChannelIdsEnd => ({
    type: 'reply_short_channel_ids_end',
    chainHash: q.chainHash,
    fullInformation: full,
  });
  if (!equal(q.chainHash, g.chainHash)) return { ok: true, messages: [], end: endOf(0) };
  const out: Uint8Array[] = [];
  const sentNodes = new Set<number>();
  q.shortChannelIds.forEach((scid, i) => {
    const c = g.getChannel(scid);
    if (!c?.announcement) return;
    const f = flags === undefined ? 0x1fn : flags[i]!;
    if (f & 1n) out.push(c.announcement);
    if (f & 2n && c.policies[0]?.raw) out.push(c.policies[0].raw);
    if (f & 4n && c.policies[1]?.raw) out.push(c.policies[1].raw);
    const [a, b] = g.endpoints(c);
    for (const [bit, n] of [
      [8n, a],
      [16n, b],
    ] as const) {
      if (f & bit && n.announcement && !sentNodes.has(n.index)) {
        sentNodes.add(n.index);
        out.push(n.announcement.raw);
      }
    }
  });
  return { ok: true, messages: out, end: endOf(1) };
}

/**
 * Gossip for a `gossip_timestamp_filter` (BOLT #7): every update and node announcement with
 * `first <= timestamp < first + range`; a `channel_announcement` is sent only when one of its
 * updates is (its timestamp is "the `timestamp` of a corresponding `channel_update`"), before
 * them, and node announcements after the channels.
 */
export function gossipInTimestampRange(g: NetworkGraph, first: number, range: number): Uint8Array[] {
  const end = first + range;
  const inRange = (t: number) => t >= first && t < end;
  const out: Uint8Array[] = [];
  for (const s of g.sortedScids()) {
    const c = g.getChannel(s)!;
    if (!c.announcement) continue;
    const ups = c.policies.filter((p) => p?.raw && inRange(p.timestamp)).map((p) => p!.raw!);
    if (ups.length === 0) continue;
    out.push(c.announcement, ...ups);
  }
  for (const n of g.nodes())
    if (n.announcement && inRange(n.announcement.timestamp)) out.push(n.announcement.raw);
  return out;
}

/** The block height part of a short_channel_id. */
export function scidBlock(scid: bigint): number {
  return scidToParts(scid).block;
}
