import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  answerShortChannelIds,
  channelUpdateChecksum,
  checkAnnouncementSignatures,
  crc32c,
  deserializeGraph,
  gossipDigest,
  gossipInTimestampRange,
  NetworkGraph,
  replyChannelRange,
  serializeGraph,
  verifyChannelAnnouncement,
  verifyChannelUpdate,
  verifyNodeAnnouncement,
} from '../../../src/core/gossip/index.js';
import { sha256d } from '../../../src/protocol/crypto/hash.js';
import { secp } from '../../../src/protocol/crypto/secp256k1.js';
import { concat, equal, fromHex, toHex } from '../../../src/protocol/encoding/bytes.js';
import { DecodeError } from '../../../src/protocol/errors.js';
import {
  type ChannelAnnouncement,
  decodeMessage,
  encodeMessage,
  type NodeAnnouncement,
} from '../../../src/protocol/wire/index.js';
import { CHAIN, nodeAnn, party, type SignedChannel, signedChannel, update } from './helpers.js';

const A = party('alice');
const B = party('bob');
const C = party('carol');
const D = party('dave');
const NOW = 1_750_000_000;

/** A graph with the channel accepted (funding output matches) at capacity 1,000,000 sat. */
function graphWith(...chs: SignedChannel[]): NetworkGraph {
  const g = new NetworkGraph(CHAIN);
  for (const ch of chs) {
    expect(g.apply(ch.raw).status).toBe('pending');
    const r = g.resolveFundingCheck(ch.scid, { valueSat: 1_000_000n, scriptPubKey: ch.script });
    expect(r.status).toBe('accepted');
  }
  return g;
}

describe('gossip signatures', () => {
  const ch = signedChannel(A, B);

  it('channel_announcement: four signatures over double-SHA256 of the bytes after offset 256', () => {
    expect(verifyChannelAnnouncement(ch.ann)).toBe(true);
    // The digest is sha256d of the payload after the 4 signatures (2-byte type + 256 bytes).
    expect(toHex(gossipDigest(ch.ann))).toBe(toHex(sha256d(ch.raw.subarray(258))));
    const h = sha256d(ch.raw.subarray(258));
    expect(secp().verify(ch.ann.nodeSignature1, h, ch.ann.nodeId1)).toBe(true);
    expect(secp().verify(ch.ann.bitcoinSignature2, h, ch.ann.bitcoinKey2)).toBe(true);
    // node_id_1 is the lesser key
    expect(toHex(ch.ann.nodeId1) < toHex(ch.ann.nodeId2)).toBe(true);
  });

  it('each of the four signatures is checked', () => {
    for (const f of ['nodeSignature1', 'nodeSignature2', 'bitcoinSignature1', 'bitcoinSignature2'] as const) {
      const bad = {
        ...ch.ann,
        [f]: ch.ann.nodeSignature1 === ch.ann[f] ? ch.ann.nodeSignature2 : ch.ann.nodeSignature1,
      };
      expect(verifyChannelAnnouncement(bad as ChannelAnnouncement)).toBe(false);
    }
    // a changed signed field breaks every signature
    expect(verifyChannelAnnouncement({ ...ch.ann, shortChannelId: ch.ann.shortChannelId + 1n })).toBe(false);
  });

  it('announcement_signatures are checked against the peer keys', () => {
    const u = { ...ch.ann };
    const good = { nodeSignature: ch.ann.nodeSignature2, bitcoinSignature: ch.ann.bitcoinSignature2 };
    const msg = {
      type: 'announcement_signatures' as const,
      channelId: new Uint8Array(32),
      shortChannelId: ch.scid,
      ...good,
    };
    const [, n2] = ch.ends;
    expect(checkAnnouncementSignatures(u, msg, n2.nodeId, n2.bitcoinKey)).toBeUndefined();
    expect(checkAnnouncementSignatures(u, { ...msg, shortChannelId: 1n }, n2.nodeId, n2.bitcoinKey)).toBe(
      'WRONG_SHORT_CHANNEL_ID',
    );
    expect(
      checkAnnouncementSignatures(
        u,
        { ...msg, nodeSignature: ch.ann.nodeSignature1 },
        n2.nodeId,
        n2.bitcoinKey,
      ),
    ).toBe('BAD_NODE_SIGNATURE');
    expect(
      checkAnnouncementSignatures(
        u,
        { ...msg, bitcoinSignature: ch.ann.bitcoinSignature1 },
        n2.nodeId,
        n2.bitcoinKey,
      ),
    ).toBe('BAD_BITCOIN_SIGNATURE');
  });

  it('a message with unknown TLVs re-encodes byte-identically and verifies', () => {
    // Sign an announcement that carries an unknown odd TLV (a "future field").
    const ext: NodeAnnouncement = {
      ...nodeAnn(A, 100),
      unknownTlvs: [{ type: 77n, value: fromHex('c0ffee') }],
    };
    const unsigned = encodeMessage({ ...ext, signature: new Uint8Array(64) });
    const sig = secp().sign(sha256d(unsigned.subarray(66)), A.nodeSecret);
    const raw = concat(unsigned.subarray(0, 2), sig, unsigned.subarray(66));
    const decoded = decodeMessage(raw) as NodeAnnouncement;
    expect(decoded.unknownTlvs?.[0]?.type).toBe(77n);
    expect(toHex(encodeMessage(decoded))).toBe(toHex(raw));
    expect(verifyNodeAnnouncement(decoded)).toBe(true);
    expect(verifyNodeAnnouncement(decoded, raw)).toBe(true);
    // Dropping the unknown field changes the digest.
    const { unknownTlvs: _, ...stripped } = decoded;
    expect(verifyNodeAnnouncement(stripped as NodeAnnouncement)).toBe(false);
  });

  it('channel_update is signed by node_id_1 for direction 0 and node_id_2 for direction 1', () => {
    const u0 = update(ch, 0, 100);
    const u1 = update(ch, 1, 100);
    expect(u0.messageFlags & 1).toBe(1); // must_be_one
    expect(verifyChannelUpdate(u0, ch.ann.nodeId1)).toBe(true);
    expect(verifyChannelUpdate(u0, ch.ann.nodeId2)).toBe(false);
    expect(verifyChannelUpdate(u1, ch.ann.nodeId2)).toBe(true);
    const raw = encodeMessage(u1);
    expect(toHex(gossipDigest(u1))).toBe(toHex(sha256d(raw.subarray(66))));
  });
});

describe('NetworkGraph.apply', () => {
  it('holds a channel_announcement until the funding output check matches', () => {
    const ch = signedChannel(A, B);
    const g = new NetworkGraph(CHAIN);
    const r = g.apply(ch.raw);
    expect(r.status).toBe('pending');
    if (r.status !== 'pending') return;
    expect(r.check.shortChannelId).toBe(ch.scid);
    expect(r.check.block).toBe(700_000);
    expect(toHex(r.check.expectedScript)).toBe(toHex(ch.script));
    expect(g.channelCount).toBe(0);
    expect(g.apply(ch.raw)).toEqual({ status: 'ignored', reason: 'ALREADY_PENDING' });
    const ok = g.resolveFundingCheck(ch.scid, { valueSat: 2_000_000n, scriptPubKey: ch.script });
    expect(ok.status).toBe('accepted');
    if (ok.status === 'accepted') expect(ok.rebroadcast.map(toHex)).toEqual([toHex(ch.raw)]);
    expect(g.getChannel(ch.scid)?.capacitySat).toBe(2_000_000n);
    expect(g.nodeCount).toBe(2);
    expect(g.apply(ch.raw)).toEqual({ status: 'ignored', reason: 'DUPLICATE' });
  });

  it('rejects a wrong or missing funding output', () => {
    const ch = signedChannel(A, B);
    const g = new NetworkGraph(CHAIN);
    g.apply(ch.raw);
    const other = signedChannel(A, C).script;
    expect(g.resolveFundingCheck(ch.scid, { valueSat: 1n, scriptPubKey: other })).toEqual({
      status: 'rejected',
      reason: 'FUNDING_SCRIPT_MISMATCH',
    });
    g.apply(ch.raw);
    expect(g.resolveFundingCheck(ch.scid, undefined)).toEqual({
      status: 'rejected',
      reason: 'FUNDING_OUTPUT_MISSING',
    });
    expect(g.channelCount).toBe(0);
  });

  it('rejects bad signatures, bad node order, other chains and conflicts', () => {
    const ch = signedChannel(A, B);
    const g = new NetworkGraph(CHAIN);
    const tampered = ch.raw.slice();
    tampered[tampered.length - 1]! ^= 1; // a bitcoin key byte... may make the point invalid
    expect(['MALFORMED', 'BAD_SIGNATURE']).toContain((g.apply(tampered) as { reason: string }).reason);
    const badSig = ch.raw.slice();
    badSig[10]! ^= 1;
    expect(g.apply(badSig)).toEqual({ status: 'rejected', reason: 'BAD_SIGNATURE' });
    const swapped: ChannelAnnouncement = { ...ch.ann, nodeId1: ch.ann.nodeId2, nodeId2: ch.ann.nodeId1 };
    expect(g.apply(swapped)).toEqual({ status: 'rejected', reason: 'BAD_NODE_ORDER' });
    expect(g.apply({ ...ch.ann, chainHash: new Uint8Array(32) })).toEqual({
      status: 'ignored',
      reason: 'UNKNOWN_CHAIN',
    });
    const g2 = graphWith(ch);
    // A different valid announcement for the same scid.
    const conflict = signedChannel(C, D, 700_000, 1, 0);
    expect(g2.apply(conflict.raw)).toEqual({ status: 'rejected', reason: 'CONFLICTING_ANNOUNCEMENT' });
  });

  it('applies channel_updates per direction with increasing timestamps', () => {
    const ch = signedChannel(A, B);
    const g = graphWith(ch);
    const u = update(ch, 0, NOW, { feeBaseMsat: 7, feeProportionalMillionths: 11 });
    const raw = encodeMessage(u);
    expect(g.apply(raw, { now: NOW })).toEqual({ status: 'accepted', rebroadcast: [raw] });
    const pol = g.getChannel(ch.scid)!.policies[0]!;
    expect([pol.feeBaseMsat, pol.feeProportionalMillionths, pol.timestamp]).toEqual([7, 11, NOW]);
    expect(g.getChannel(ch.scid)!.policies[1]).toBeUndefined();
    // same timestamp & content: duplicate; older: stale; newer: accepted
    expect(g.apply(u)).toEqual({ status: 'ignored', reason: 'DUPLICATE' });
    expect(g.apply(update(ch, 0, NOW - 1))).toEqual({ status: 'ignored', reason: 'STALE_TIMESTAMP' });
    expect(g.apply(update(ch, 0, NOW, { feeBaseMsat: 8 }))).toEqual({
      status: 'rejected',
      reason: 'SAME_TIMESTAMP_DIFFERENT_CONTENT',
    });
    expect(g.apply(update(ch, 0, NOW + 1, { feeBaseMsat: 9 })).status).toBe('accepted');
    expect(g.getChannel(ch.scid)!.policies[0]!.feeBaseMsat).toBe(9);
    // direction 1 signed by the wrong node
    expect(g.apply(update(ch, 1, NOW, {}, ch.ends[0]))).toEqual({
      status: 'rejected',
      reason: 'BAD_SIGNATURE',
    });
    expect(g.apply(update(ch, 1, NOW)).status).toBe('accepted');
  });

  it('checks htlc_maximum_msat, timestamps against now, unknown channels and dont_forward', () => {
    const ch = signedChannel(A, B);
    const g = graphWith(ch);
    expect(g.apply(update(ch, 0, NOW, { htlcMaximumMsat: 1_000_000_001n }))).toEqual({
      status: 'rejected',
      reason: 'HTLC_MAX_ABOVE_CAPACITY',
    });
    expect(g.apply(update(ch, 0, NOW, { htlcMinimumMsat: 10n, htlcMaximumMsat: 10n })).status).toBe(
      'accepted',
    );
    expect(
      g.apply(
        {
          ...update(ch, 0, NOW + 1),
          htlcMinimumMsat: 11n,
          htlcMaximumMsat: 10n,
          signature: new Uint8Array(64),
        },
        { now: NOW },
      ),
    ).toEqual({ status: 'rejected', reason: 'BAD_SIGNATURE' });
    expect(g.apply(update(ch, 1, NOW + 2 * 86_400), { now: NOW })).toEqual({
      status: 'ignored',
      reason: 'TIMESTAMP_IN_FUTURE',
    });
    expect(g.apply(update(ch, 1, NOW - 15 * 86_400), { now: NOW })).toEqual({
      status: 'ignored',
      reason: 'TOO_OLD',
    });
    expect(g.apply(update(ch, 1, NOW, { dontForward: true }), { now: NOW })).toEqual({
      status: 'accepted',
      rebroadcast: [],
    });
    const unknown = signedChannel(C, D, 800_000);
    expect(g.apply(update(unknown, 0, NOW))).toEqual({ status: 'ignored', reason: 'UNKNOWN_CHANNEL' });
  });

  it('queues updates and node announcements of a pending channel', () => {
    const ch = signedChannel(A, B);
    const g = new NetworkGraph(CHAIN);
    g.apply(ch.raw);
    const u = encodeMessage(update(ch, 1, NOW));
    const n = encodeMessage(nodeAnn(A, NOW));
    expect(g.apply(u)).toEqual({ status: 'ignored', reason: 'ALREADY_PENDING' });
    expect(g.apply(n)).toEqual({ status: 'ignored', reason: 'ALREADY_PENDING' });
    const r = g.resolveFundingCheck(ch.scid, { valueSat: 1_000_000n, scriptPubKey: ch.script });
    expect(r).toEqual({ status: 'accepted', rebroadcast: [ch.raw, u, n] });
    expect(g.getChannel(ch.scid)!.policies[1]!.timestamp).toBe(NOW);
    expect(g.getNode(A.nodeId)!.announcement!.timestamp).toBe(NOW);
  });

  it('node_announcement: known nodes only, newer timestamps, valid signature, feature flags', () => {
    const ch = signedChannel(A, B);
    const g = graphWith(ch);
    expect(g.apply(nodeAnn(C, NOW))).toEqual({ status: 'ignored', reason: 'UNKNOWN_NODE' });
    const n = nodeAnn(A, NOW);
    expect(g.apply(n)).toEqual({ status: 'accepted', rebroadcast: [encodeMessage(n)] });
    expect(g.apply(n)).toEqual({ status: 'ignored', reason: 'DUPLICATE' });
    expect(g.apply(nodeAnn(A, NOW - 5))).toEqual({ status: 'ignored', reason: 'STALE_TIMESTAMP' });
    expect(g.apply({ ...nodeAnn(A, NOW + 5), timestamp: NOW + 6 })).toEqual({
      status: 'rejected',
      reason: 'BAD_SIGNATURE',
    });
    expect(g.getNode(A.nodeId)!.unroutable).toBe(false);
    // bit 100 (even, unknown): MUST NOT route through the node
    const feat = new Uint8Array(13);
    feat[0] = 0x10;
    expect(g.apply(nodeAnn(A, NOW + 10, feat)).status).toBe('accepted');
    expect(g.getNode(A.nodeId)!.unroutable).toBe(true);
  });
});

describe('pruning', () => {
  it('prune(scid) forgets the channel and nodes left without channels', () => {
    const ab = signedChannel(A, B, 700_000);
    const bc = signedChannel(B, C, 700_001);
    const g = graphWith(ab, bc);
    expect(g.nodeCount).toBe(3);
    expect(g.prune(ab.scid)).toBe(true);
    expect(g.getChannel(ab.scid)).toBeUndefined();
    expect(g.getNode(A.nodeId)).toBeUndefined();
    expect(g.getNode(B.nodeId)!.channels.length).toBe(1);
    expect(g.prune(ab.scid)).toBe(false);
    // an update for the pruned channel is now unknown
    expect(g.apply(update(ab, 0, NOW))).toEqual({ status: 'ignored', reason: 'UNKNOWN_CHANNEL' });
  });

  it('pruneStale removes channels whose oldest update is older than two weeks', () => {
    const ab = signedChannel(A, B, 700_000);
    const bc = signedChannel(B, C, 700_001);
    const cd = signedChannel(C, D, 700_002);
    const g = graphWith(ab, bc, cd);
    const t = NOW;
    g.apply(update(ab, 0, t));
    g.apply(update(ab, 1, t - 1_209_600 - 10)); // one side stale
    g.apply(update(bc, 0, t));
    g.apply(update(bc, 1, t - 1_209_600 + 10)); // just fresh
    // cd: no updates, addedAt 0 -> stale
    expect(g.pruneStale(t).sort()).toEqual([ab.scid, cd.scid].sort());
    expect(g.channelCount).toBe(1);
    expect(g.getChannel(bc.scid)).toBeDefined();
  });
});

describe('graph persistence', () => {
  it('round-trips channels, policies and node announcements byte for byte', () => {
    const ab = signedChannel(A, B, 700_000);
    const bc = signedChannel(B, C, 700_001);
    const g = graphWith(ab, bc);
    g.apply(update(ab, 0, NOW));
    g.apply(update(bc, 1, NOW, { disabled: true }));
    g.apply(nodeAnn(B, NOW));
    // a channel inserted without gossip
    g.addChannel({ scid: 5n, nodeId1: C.nodeId, nodeId2: D.nodeId, capacitySat: 42n, addedAt: 9 });
    g.setPolicy(5n, 1, {
      timestamp: 3,
      cltvExpiryDelta: 6,
      htlcMinimumMsat: 1n,
      htlcMaximumMsat: 42_000n,
      feeBaseMsat: 2,
      feeProportionalMillionths: 4,
    });
    const bytes = serializeGraph(g);
    const h = deserializeGraph(bytes);
    expect(toHex(serializeGraph(h))).toBe(toHex(bytes));
    expect(h.channelCount).toBe(3);
    const c = h.getChannel(bc.scid)!;
    expect(c.policies[1]!.disabled).toBe(true);
    expect(toHex(c.announcement!)).toBe(toHex(bc.raw));
    expect(toHex(h.getNode(B.nodeId)!.announcement!.raw)).toBe(toHex(encodeMessage(nodeAnn(B, NOW))));
    expect(h.getChannel(5n)!.policies[1]!.feeProportionalMillionths).toBe(4);
    expect(h.getChannel(5n)!.addedAt).toBe(9);
  });

  it('bad input only ever throws DecodeError', () => {
    const ab = signedChannel(A, B, 700_000);
    const g = graphWith(ab);
    g.apply(update(ab, 0, NOW));
    const bytes = serializeGraph(g);
    fc.assert(
      fc.property(fc.nat(bytes.length - 1), fc.uint8Array({ maxLength: 64 }), (cut, junk) => {
        for (const b of [
          bytes.subarray(0, cut),
          junk,
          concat(bytes, junk.length ? junk : new Uint8Array([0])),
        ]) {
          try {
            deserializeGraph(b);
          } catch (e) {
            expect(e).toBeInstanceOf(DecodeError);
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('gossip queries', () => {
  // 5 channels in blocks 100, 100, 101, 103, 110
  const chs = [
    signedChannel(A, B, 100, 1),
    signedChannel(A, C, 100, 2),
    signedChannel(B, C, 101, 1),
    signedChannel(C, D, 103, 1),
    signedChannel(B, D, 110, 1),
  ];
  const g = graphWith(...chs);
  for (const [i, ch] of chs.entries()) {
    g.apply(update(ch, 0, NOW + i));
    if (i !== 2) g.apply(update(ch, 1, NOW + 10 + i));
  }
  g.apply(nodeAnn(A, NOW));
  g.apply(nodeAnn(B, NOW + 100));

  it('CRC32C matches the RFC 3720 B.4 test patterns', () => {
    expect(crc32c(new Uint8Array(32)).toString(16)).toBe('8a9136aa');
    expect(crc32c(new Uint8Array(32).fill(0xff)).toString(16)).toBe('62a8ab43');
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)).toString(16)).toBe('46dd794e');
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)).toString(16)).toBe('113fdb5c');
  });

  it('reply_channel_range covers the query in order, split, with timestamps and checksums', () => {
    const q = {
      type: 'query_channel_range' as const,
      chainHash: CHAIN,
      firstBlocknum: 100,
      numberOfBlocks: 11,
      queryOption: 3n,
    };
    const replies = replyChannelRange(g, q, { maxScidsPerReply: 2 });
    expect(replies.length).toBe(3);
    expect(replies.flatMap((r) => r.shortChannelIds)).toEqual(chs.map((c) => c.scid));
    expect(replies[0]!.firstBlocknum).toBe(100);
    expect(replies.map((r) => r.syncComplete)).toEqual([0, 0, 1]);
    const last = replies[2]!;
    expect(last.firstBlocknum + last.numberOfBlocks).toBe(111);
    for (let i = 1; i < replies.length; i++) {
      const prev = replies[i - 1]!;
      expect(replies[i]!.firstBlocknum).toBeGreaterThanOrEqual(prev.firstBlocknum);
      expect(replies[i]!.firstBlocknum).toBeLessThanOrEqual(prev.firstBlocknum + prev.numberOfBlocks);
      for (const s of replies[i]!.shortChannelIds) {
        const blk = Number(s >> 40n);
        expect(blk).toBeGreaterThanOrEqual(replies[i]!.firstBlocknum);
        expect(blk).toBeLessThan(replies[i]!.firstBlocknum + replies[i]!.numberOfBlocks);
      }
    }
    const ts = replies.flatMap((r) => r.timestamps!);
    expect(ts[2]).toEqual({ timestampNodeId1: NOW + 2, timestampNodeId2: 0 });
    expect(ts[4]).toEqual({ timestampNodeId1: NOW + 4, timestampNodeId2: NOW + 14 });
    const cs = replies.flatMap((r) => r.checksums!);
    // checksum = CRC32C of the update without signature and timestamp, computed here by hand
    const raw = g.getChannel(chs[0]!.scid)!.policies[0]!.raw!;
    const u = decodeMessage(raw);
    if (u.type !== 'channel_update') throw new Error('not an update');
    const body = concat(
      u.chainHash,
      raw.subarray(98, 106),
      Uint8Array.of(u.messageFlags, u.channelFlags),
      raw.subarray(112),
    );
    expect(cs[0]!.checksumNodeId1).toBe(crc32c(body));
    expect(cs[0]!.checksumNodeId1).toBe(channelUpdateChecksum(raw));
    expect(cs[2]!.checksumNodeId2).toBe(0);
    // every reply fits in a message
    for (const r of replies) expect(encodeMessage(r).length).toBeLessThanOrEqual(65535);
  });

  it('reply_channel_range: empty ranges, other chains, default sizes', () => {
    const empty = replyChannelRange(g, {
      type: 'query_channel_range',
      chainHash: CHAIN,
      firstBlocknum: 200,
      numberOfBlocks: 5,
    });
    expect(empty).toEqual([
      {
        type: 'reply_channel_range',
        chainHash: CHAIN,
        firstBlocknum: 200,
        numberOfBlocks: 5,
        syncComplete: 1,
        shortChannelIds: [],
      },
    ]);
    const mid = replyChannelRange(g, {
      type: 'query_channel_range',
      chainHash: CHAIN,
      firstBlocknum: 101,
      numberOfBlocks: 3,
    });
    expect(mid.length).toBe(1);
    expect(mid[0]!.shortChannelIds).toEqual([chs[2]!.scid, chs[3]!.scid]);
    expect(mid[0]!.timestamps).toBeUndefined();
    const other = replyChannelRange(g, {
      type: 'query_channel_range',
      chainHash: new Uint8Array(32),
      firstBlocknum: 0,
      numberOfBlocks: 1000,
    });
    expect(other[0]!.syncComplete).toBe(0);
    expect(other[0]!.shortChannelIds).toEqual([]);
  });

  it('query_short_channel_ids: full answers, query flags, node announcements once', () => {
    const q = {
      type: 'query_short_channel_ids' as const,
      chainHash: CHAIN,
      shortChannelIds: [chs[0]!.scid, chs[1]!.scid, 12345n],
    };
    const a = answerShortChannelIds(g, q);
    expect(a.ok).toBe(true);
    if (!a.ok) return;
    const c0 = g.getChannel(chs[0]!.scid)!;
    const c1 = g.getChannel(chs[1]!.scid)!;
    const nodeA = g.getNode(A.nodeId)!.announcement!.raw;
    const nodeB = g.getNode(B.nodeId)!.announcement!.raw;
    const first = chs[0]!.ends[0] === A ? [nodeA, nodeB] : [nodeB, nodeA];
    expect(a.messages.map(toHex)).toEqual(
      [
        c0.announcement!,
        c0.policies[0]!.raw!,
        c0.policies[1]!.raw!,
        ...first,
        c1.announcement!,
        c1.policies[0]!.raw!,
        c1.policies[1]!.raw!,
      ].map(toHex),
    );
    expect(a.end.fullInformation).toBe(1);
    const f = answerShortChannelIds(g, { ...q, queryFlags: [4n, 1n, 31n] });
    expect(f.ok && f.messages.map(toHex)).toEqual([c0.policies[1]!.raw!, c1.announcement!].map(toHex));
    expect(answerShortChannelIds(g, { ...q, queryFlags: [1n] })).toEqual({
      ok: false,
      reason: 'QUERY_FLAGS_MISMATCH',
    });
    const other = answerShortChannelIds(g, { ...q, chainHash: new Uint8Array(32) });
    expect(other.ok && [other.messages.length, other.end.fullInformation]).toEqual([0, 0]);
  });

  it('gossip_timestamp_filter: announcements only with an update in range, before it', () => {
    const out = gossipInTimestampRange(g, NOW + 12, 3).map(toHex);
    const c3 = g.getChannel(chs[3]!.scid)!;
    const c4 = g.getChannel(chs[4]!.scid)!;
    expect(out).toEqual(
      [c3.announcement!, c3.policies[1]!.raw!, c4.announcement!, c4.policies[1]!.raw!].map(toHex),
    );
    const withNode = gossipInTimestampRange(g, NOW + 100, 1).map(toHex);
    expect(withNode).toEqual([toHex(g.getNode(B.nodeId)!.announcement!.raw)]);
    expect(equal(g.chainHash, CHAIN)).toBe(true);
  });
});
