/**
 * Compact persistence of a {@link NetworkGraph}: the signed gossip bytes when the graph has
 * them (so a restored graph can still answer queries and rebroadcast), otherwise the bare
 * fields. Restoring does not re-verify signatures (the data was verified before it was stored)
 * and parses the signed messages at their fixed BOLT #7 offsets, without point decompression.
 *
 * Layout (big-endian): `u8 version=1 | chain_hash | u32 n | n × channel | u32 m | m × node`,
 * channel = `u64 scid | u64 capacity_sat | u32 added_at | u8 flags | (u16 len, announcement)
 * or (node_id_1, node_id_2, u16 flen, features) | 2 × policy`, policy = `u8 flags | (u16 len,
 * channel_update) or fixed fields`, node = `u16 len | node_announcement`.
 */
import { Reader } from '../../protocol/encoding/reader.js';
import { Writer } from '../../protocol/encoding/writer.js';
import { asDecodeError, DecodeError } from '../../protocol/errors.js';
import { NetworkGraph, type NetworkGraphOptions, type PolicyParams } from './graph.js';

const VERSION = 1;

/** Serializes the graph (channels, policies, node announcements; not pending checks). */
export function serializeGraph(g: NetworkGraph): Uint8Array {
  const w = new Writer(1 << 20);
  w.u8(VERSION).bytes(g.chainHash).u32(g.channelCount);
  for (const c of g.channels()) {
    w.u64(c.scid)
      .u64(c.capacitySat)
      .u32(c.addedAt >>> 0);
    if (c.announcement) {
      w.u8(1).u16(c.announcement.length).bytes(c.announcement);
    } else {
      const [a, b] = g.endpoints(c);
      w.u8(0).bytes(a.nodeId).bytes(b.nodeId).u16(c.features.length).bytes(c.features);
    }
    for (const p of c.policies) {
      if (!p) w.u8(0);
      else if (p.raw) w.u8(3).u16(p.raw.length).bytes(p.raw);
      else {
        w.u8(1).u32(p.timestamp).u8(p.messageFlags).u8(p.channelFlags).u16(p.cltvExpiryDelta);
        w.u64(p.htlcMinimumMsat).u32(p.feeBaseMsat).u32(p.feeProportionalMillionths).u64(p.htlcMaximumMsat);
      }
    }
  }
  const anns = [...g.nodes()].filter((n) => n.announcement);
  w.u32(anns.length);
  for (const n of anns) w.u16(n.announcement!.raw.length).bytes(n.announcement!.raw);
  return w.finish();
}

function corrupt(what: string): DecodeError {
  return new DecodeError('GRAPH_CORRUPT', `serialized graph: ${what}`);
}

function readPolicy(raw: Uint8Array): PolicyParams {
  // channel_update: type(2) sig(64) chain(32) scid(8) timestamp(4) mflags cflags cltv(2)
  // htlc_min(8) fee_base(4) fee_ppm(4) htlc_max(8)
  const r = new Reader(raw);
  if (r.u16() !== 258) throw corrupt('policy is not a channel_update');
  r.bytes(64 + 32 + 8);
  const timestamp = r.u32();
  const messageFlags = r.u8();
  const channelFlags = r.u8();
  const cltvExpiryDelta = r.u16();
  const htlcMinimumMsat = r.u64();
  const feeBaseMsat = r.u32();
  const feeProportionalMillionths = r.u32();
  const htlcMaximumMsat = r.u64();
  return {
    timestamp,
    messageFlags,
    channelFlags,
    cltvExpiryDelta,
    htlcMinimumMsat,
    feeBaseMsat,
    feeProportionalMillionths,
    htlcMaximumMsat,
    raw,
  };
}

/**
 * Restores a graph written by {@link serializeGraph}. Throws only {@link DecodeError}
 * (`GRAPH_CORRUPT`, `GRAPH_VERSION`, `DECODE_SHORT_READ`, ...).
 */
export function deserializeGraph(bytes: Uint8Array, opts: NetworkGraphOptions = {}): NetworkGraph {
  return asDecodeError('GRAPH_CORRUPT', 'serialized graph is invalid', () => {
    const r = new Reader(bytes);
    const v = r.u8();
    if (v !== VERSION) throw new DecodeError('GRAPH_VERSION', `unknown graph format version ${v}`);
    const g = new NetworkGraph(r.bytes(32).slice(), opts);
    const n = r.u32();
    for (let i = 0; i < n; i++) {
      const scid = r.u64();
      const capacitySat = r.u64();
      const addedAt = r.u32();
      const flags = r.u8();
      if (g.getChannel(scid)) throw corrupt('duplicate channel');
      if (flags === 1) {
        const raw = r.bytes(r.u16()).slice();
        // channel_announcement: type(2) sigs(256) flen features chain(32) scid(8) node_id_1 node_id_2 ...
        const a = new Reader(raw);
        if (a.u16() !== 256) throw corrupt('not a channel_announcement');
        a.bytes(256);
        const features = a.bytes(a.u16()).slice();
        a.bytes(32);
        if (a.u64() !== scid) throw corrupt('announcement scid mismatch');
        const nodeId1 = a.bytes(33).slice();
        const nodeId2 = a.bytes(33).slice();
        g.addChannel({ scid, nodeId1, nodeId2, capacitySat, features, announcement: raw, addedAt });
      } else if (flags === 0) {
        const nodeId1 = r.bytes(33).slice();
        const nodeId2 = r.bytes(33).slice();
        const features = r.bytes(r.u16()).slice();
        g.addChannel({ scid, nodeId1, nodeId2, capacitySat, features, addedAt });
      } else throw corrupt('bad channel flags');
      for (const dir of [0, 1] as const) {
        const pf = r.u8();
        if (pf === 0) continue;
        let p: PolicyParams;
        if (pf === 3) p = readPolicy(r.bytes(r.u16()).slice());
        else if (pf === 1) {
          p = {
            timestamp: r.u32(),
            messageFlags: r.u8(),
            channelFlags: r.u8(),
            cltvExpiryDelta: r.u16(),
            htlcMinimumMsat: r.u64(),
            feeBaseMsat: r.u32(),
            feeProportionalMillionths: r.u32(),
            htlcMaximumMsat: r.u64(),
          };
        } else throw corrupt('bad policy flags');
        if (((p.channelFlags ?? 0) & 1) !== dir) throw corrupt('policy direction mismatch');
        g.setPolicy(scid, dir, p);
      }
    }
    const m = r.u32();
    for (let i = 0; i < m; i++) {
      const raw = r.bytes(r.u16()).slice();
      // node_announcement: type(2) sig(64) flen features timestamp(4) node_id(33) ...
      const a = new Reader(raw);
      if (a.u16() !== 257) throw corrupt('not a node_announcement');
      a.bytes(64);
      const features = a.bytes(a.u16()).slice();
      const timestamp = a.u32();
      const nodeId = a.bytes(33).slice();
      if (!g.getNode(nodeId)) throw corrupt('announcement of an unknown node');
      g.setNodeAnnouncement(nodeId, { timestamp, features, raw });
    }
    if (!r.done) throw corrupt('trailing bytes');
    return g;
  });
}
