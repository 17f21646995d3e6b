/**
 * Wire messages: BOLT 7 extended-queries vectors, framing (unknown odd/even types), field helpers
 * (short_channel_id, address descriptors), and schema-driven property tests for every message.
 */
import { inflateSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { secp } from '../../src/protocol/crypto/secp256k1.js';
import { concat, utf8 } from '../../src/protocol/encoding/bytes.js';
import { Reader } from '../../src/protocol/encoding/reader.js';
import { decodeTlvStream, encodeTlvStream, type TlvRecord } from '../../src/protocol/encoding/tlv.js';
import { Writer } from '../../src/protocol/encoding/writer.js';
import { DecodeError, InvalidArgumentError } from '../../src/protocol/errors.js';
import { address, addressList, formatAddress, type NodeAddress } from '../../src/protocol/wire/address.js';
import type { Codec } from '../../src/protocol/wire/codec.js';
import {
  decodeMessage,
  encodeMessage,
  type KnownMessage,
  MESSAGE_TYPES,
  type Message,
  type MessageName,
  messageDef,
  messageName,
  peekMessageType,
} from '../../src/protocol/wire/messages.js';
import { scidFromParts, scidFromString, scidToParts, scidToString } from '../../src/protocol/wire/scid.js';
import { hex, loadVector, toHex } from '../helpers/vectors.js';

function expectDecodeError(fn: () => unknown, code?: string): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(DecodeError);
  if (code !== undefined) expect((err as DecodeError).code).toBe(code);
}

/** Decoding `b` either succeeds or throws a DecodeError — nothing else. */
function decodeOrDecodeError(b: Uint8Array): void {
  try {
    decodeMessage(b);
  } catch (e) {
    expect(e).toBeInstanceOf(DecodeError);
  }
}

// ---- BOLT 7 extended queries -------------------------------------------------------------------

interface VecMsg {
  type: 'QueryChannelRange' | 'ReplyChannelRange' | 'QueryShortChannelIds';
  chainHash: string;
  firstBlockNum?: number;
  numberOfBlocks?: number;
  complete?: number;
  shortChannelIds?: { array: string[]; encoding: string };
  timestamps?: { encoding: string; timestamps: { timestamp1: number; timestamp2: number }[] };
  checksums?: { checksums: { checksum1: number; checksum2: number }[] };
  tlvStream?: { records: (string | { array: number[]; encoding: string })[]; unknown: unknown[] };
}

/** BOLT 7 `query_option_flags` bits: 0 = wants timestamps, 1 = wants checksums. */
const QUERY_OPTION_BITS: Record<string, bigint> = { WANT_TIMESTAMPS: 1n, WANT_CHECKSUMS: 2n };

/** The vector's description as our message object. */
function expectedMessage(m: VecMsg): KnownMessage {
  const chainHash = hex(m.chainHash);
  const scids = (m.shortChannelIds?.array ?? []).map(scidFromString);
  switch (m.type) {
    case 'QueryChannelRange': {
      const out: KnownMessage = {
        type: 'query_channel_range',
        chainHash,
        firstBlocknum: m.firstBlockNum!,
        numberOfBlocks: m.numberOfBlocks!,
      };
      for (const r of m.tlvStream!.records) {
        out.queryOption = (r as string)
          .split('|')
          .map((s) => QUERY_OPTION_BITS[s.trim()]!)
          .reduce((a, b) => a | b, 0n);
      }
      return out;
    }
    case 'ReplyChannelRange': {
      const out: KnownMessage = {
        type: 'reply_channel_range',
        chainHash,
        firstBlocknum: m.firstBlockNum!,
        numberOfBlocks: m.numberOfBlocks!,
        syncComplete: m.complete!,
        shortChannelIds: scids,
      };
      if (m.timestamps) {
        out.timestamps = m.timestamps.timestamps.map((t) => ({
          timestampNodeId1: t.timestamp1,
          timestampNodeId2: t.timestamp2,
        }));
      }
      if (m.checksums) {
        out.checksums = m.checksums.checksums.map((c) => ({
          checksumNodeId1: c.checksum1,
          checksumNodeId2: c.checksum2,
        }));
      }
      return out;
    }
    case 'QueryShortChannelIds': {
      const out: KnownMessage = { type: 'query_short_channel_ids', chainHash, shortChannelIds: scids };
      for (const r of m.tlvStream!.records) {
        out.queryFlags = (r as { array: number[] }).array.map(BigInt);
      }
      return out;
    }
  }
}

function usesZlib(m: VecMsg): boolean {
  const encs = [m.shortChannelIds?.encoding, m.timestamps?.encoding];
  for (const r of m.tlvStream?.records ?? []) if (typeof r === 'object') encs.push(r.encoding);
  return encs.includes('COMPRESSED_ZLIB');
}

/** Test-only: rewrites zlib-encoded (type 1) arrays of a 261/264 message as uncompressed (type 0). */
function inflateEncoded(b: Uint8Array): Uint8Array {
  const r = new Reader(b);
  const type = r.u16();
  const head = r.bytes(type === 264 ? 32 + 4 + 4 + 1 : 32);
  const plain = (enc: Uint8Array) =>
    enc[0] === 1 ? concat(Uint8Array.of(0), new Uint8Array(inflateSync(enc.subarray(1)))) : enc;
  const ids = plain(r.bytes(r.u16()));
  const tlvs: TlvRecord[] = decodeTlvStream(r.rest()).map((t) =>
    t.type === 1n ? { type: t.type, value: plain(t.value) } : t,
  );
  const w = new Writer().u16(type).bytes(head).u16(ids.length).bytes(ids);
  return concat(w.finish(), encodeTlvStream(tlvs));
}

describe('BOLT 7 extended queries vectors', () => {
  const entries = loadVector('bolt07/extended-queries.json') as { hex: string; msg: VecMsg }[];
  it.each(entries.map((e, i) => ({ ...e, i })))('#$i $msg.type', (e) => {
    const want = expectedMessage(e.msg);
    if (!usesZlib(e.msg)) {
      expect(decodeMessage(hex(e.hex))).toEqual(want);
      expect(toHex(encodeMessage(want))).toBe(e.hex);
      return;
    }
    // BOLT 7: encoding 1 (zlib) "MUST NOT be used" — rejected with a typed error ...
    expectDecodeError(() => decodeMessage(hex(e.hex)), 'WIRE_ZLIB_UNSUPPORTED');
    // ... while the content the vector describes is what we decode once inflated by the test.
    const inflated = inflateEncoded(hex(e.hex));
    expect(decodeMessage(inflated)).toEqual(want);
    expect(toHex(encodeMessage(want))).toBe(toHex(inflated));
  });
});

// ---- framing ----------------------------------------------------------------------------------

describe('message framing', () => {
  it('returns unknown odd types and rejects unknown even types', () => {
    const odd = decodeMessage(hex('80010102'));
    expect(odd).toEqual({ type: 'unknown', typeNum: 0x8001, payload: hex('0102') });
    expect(toHex(encodeMessage(odd))).toBe('80010102');
    expectDecodeError(() => decodeMessage(hex('80020102')), 'WIRE_UNKNOWN_EVEN_MESSAGE');
    expectDecodeError(() => decodeMessage(hex('00')), 'DECODE_SHORT_READ');
    expectDecodeError(() => decodeMessage(hex('')), 'DECODE_SHORT_READ');
  });

  it('has a registry with unique type numbers', () => {
    const nums = Object.values(MESSAGE_TYPES);
    expect(new Set(nums).size).toBe(nums.length);
    for (const [name, n] of Object.entries(MESSAGE_TYPES)) expect(messageName(n)).toBe(name);
    expect(MESSAGE_TYPES.init).toBe(16);
    expect(MESSAGE_TYPES.lsps0_message).toBe(37913);
    expect(peekMessageType(hex('01020304'))).toBe(0x0102);
  });

  it('keeps body field names and TLV names disjoint (they share one object)', () => {
    for (const name of Object.keys(MESSAGE_TYPES) as MessageName[]) {
      const d = messageDef(name);
      const body = Object.keys(d.fields);
      const tlvs = Object.keys(d.ext?.schema ?? {});
      expect(
        body.filter((k) => tlvs.includes(k)),
        name,
      ).toEqual([]);
      for (const reserved of ['type', 'unknownTlvs']) expect([...body, ...tlvs]).not.toContain(reserved);
    }
  });

  it('decodes an LSPS0 message as UTF-8 JSON text without extension', () => {
    const text = '{"jsonrpc":"2.0","method":"lsps0.list_protocols","params":{},"id":"a"}';
    const b = concat(hex('9419'), utf8(text));
    expect(decodeMessage(b)).toEqual({ type: 'lsps0_message', json: text });
    expect(encodeMessage({ type: 'lsps0_message', json: text })).toEqual(b);
    expectDecodeError(() => decodeMessage(hex('9419ff')), 'UTF8_INVALID');
  });

  it('rejects oversized messages and bad field lengths with InvalidArgumentError', () => {
    expect(() => encodeMessage({ type: 'pong', ignored: new Uint8Array(65534) })).toThrow(
      InvalidArgumentError,
    );
    expect(() =>
      encodeMessage({ type: 'funding_signed', channelId: new Uint8Array(31), signature: new Uint8Array(64) }),
    ).toThrow(InvalidArgumentError);
  });

  it('rejects invalid points in message bodies', () => {
    const ra: KnownMessage = {
      type: 'revoke_and_ack',
      channelId: new Uint8Array(32),
      perCommitmentSecret: new Uint8Array(32),
      nextPerCommitmentPoint: POINTS[0]!,
    };
    const b = encodeMessage(ra);
    b[b.length - 33] = 4;
    expectDecodeError(() => decodeMessage(b), 'WIRE_INVALID_POINT');
  });
});

describe('short_channel_id', () => {
  it('converts BLOCKxTXxOUT both ways', () => {
    // BOLT 7: block height (3 bytes) || tx index (3 bytes) || output index (2 bytes).
    const scid = scidFromParts(539268, 845, 1);
    expect(scid).toBe((539268n << 40n) | (845n << 16n) | 1n);
    expect(scidToString(scid)).toBe('539268x845x1');
    expect(scidFromString('539268x845x1')).toBe(scid);
    expect(scidToParts(scid)).toEqual({ block: 539268, txIndex: 845, outputIndex: 1 });
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (v) => {
        expect(scidFromString(scidToString(v))).toBe(v);
      }),
    );
    for (const bad of [
      '',
      '1x2',
      '1x2x3x4',
      '16777216x0x0',
      '0x16777216x0',
      '0x0x65536',
      '-1x0x0',
      '1 x2x3',
    ]) {
      expectDecodeError(() => scidFromString(bad), 'SCID_INVALID');
    }
  });
});

describe('address descriptors', () => {
  it('decodes the BOLT 7 descriptor types and stops at the first unknown one', () => {
    // type 1 ipv4 127.0.0.1:9735, type 5 dns "a.b":9735, then unknown type 9 with trailing bytes
    const raw = hex('017f0000012607' + '0503612e622607' + '09aabb');
    const w = new Writer().u16(raw.length).bytes(raw).finish();
    const list = addressList.read(new Reader(w));
    expect(list).toEqual([
      { type: 'ipv4', addr: hex('7f000001'), port: 9735 },
      { type: 'dns', hostname: 'a.b', port: 9735 },
      { type: 'unknown', addrType: 9, data: hex('aabb') },
    ]);
    expect(list.map(formatAddress)).toEqual(['127.0.0.1:9735', 'a.b:9735', undefined]);
    const out = new Writer();
    addressList.write(out, list);
    expect(out.finish()).toEqual(w);
  });

  it('rejects non-ASCII hostnames and truncated descriptors', () => {
    expectDecodeError(() => address.read(new Reader(hex('0501ff2607'))), 'WIRE_BAD_HOSTNAME');
    expectDecodeError(() => address.read(new Reader(hex('017f00'))), 'DECODE_SHORT_READ');
    expectDecodeError(() => addressList.read(new Reader(hex('0003017f00'))), 'DECODE_SHORT_READ');
  });

  it('formats ipv6 and tor addresses', () => {
    const v6: NodeAddress = { type: 'ipv6', addr: hex('20010db8000000000000000000000001'), port: 9735 };
    expect(formatAddress(v6)).toBe('[2001:db8:0:0:0:0:0:1]:9735');
    const tor = formatAddress({ type: 'torv3', addr: new Uint8Array(35), port: 9735 });
    expect(tor).toMatch(/^a{56}\.onion:9735$/);
  });
});

// ---- schema-driven property tests -------------------------------------------------------------

const POINTS = Array.from({ length: 6 }, (_, i) => {
  const k = new Uint8Array(32);
  k[31] = i + 1;
  return secp().publicKey(k);
});

const arbAddressKnown: fc.Arbitrary<NodeAddress> = fc.oneof(
  fc.record({
    type: fc.constant('ipv4' as const),
    addr: fc.uint8Array({ minLength: 4, maxLength: 4 }),
    port: fc.nat(0xffff),
  }),
  fc.record({
    type: fc.constant('ipv6' as const),
    addr: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    port: fc.nat(0xffff),
  }),
  fc.record({
    type: fc.constant('torv2' as const),
    addr: fc.uint8Array({ minLength: 10, maxLength: 10 }),
    port: fc.nat(0xffff),
  }),
  fc.record({
    type: fc.constant('torv3' as const),
    addr: fc.uint8Array({ minLength: 35, maxLength: 35 }),
    port: fc.nat(0xffff),
  }),
  fc.record({
    type: fc.constant('dns' as const),
    hostname: fc.string({
      unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
      maxLength: 40,
    }),
    port: fc.nat(0xffff),
  }),
);
const arbAddressUnknown: fc.Arbitrary<NodeAddress> = fc.record({
  type: fc.constant('unknown' as const),
  addrType: fc.oneof(fc.constant(0), fc.integer({ min: 6, max: 255 })),
  data: fc.uint8Array({ maxLength: 20 }),
});

/** Builds a fast-check arbitrary for any codec from its shape. */
function arbFor(c: Codec<unknown>): fc.Arbitrary<unknown> {
  if (c === addressList) {
    return fc
      .tuple(fc.array(arbAddressKnown, { maxLength: 4 }), fc.option(arbAddressUnknown, { nil: undefined }))
      .map(([known, unk]) => (unk ? [...known, unk] : known));
  }
  const s = c.shape;
  switch (s.kind) {
    case 'u8':
      return fc.nat(0xff);
    case 'u16':
      return fc.nat(0xffff);
    case 'u32':
    case 'tu32':
      return fc.nat(0xffffffff);
    case 'u64':
    case 'tu64':
    case 'bigsize':
      return fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
    case 's64':
      return fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n });
    case 'bytes':
      return fc.uint8Array({ minLength: s.length, maxLength: s.length });
    case 'point':
      return fc.constantFrom(...POINTS);
    case 'varbytes':
    case 'rest':
      return fc.uint8Array({ maxLength: 40 });
    case 'utf8rest':
      return fc.string({ unit: 'grapheme', maxLength: 40 });
    case 'flag':
      return fc.constant(true);
    case 'address':
      return fc.oneof(arbAddressKnown, arbAddressUnknown);
    case 'list16':
    case 'until':
    case 'encodedList':
      return fc.array(arbFor(s.item), { maxLength: 4 });
    case 'fixedList':
      return fc.array(arbFor(s.item), { minLength: s.count, maxLength: s.count });
    case 'sized16':
      return arbFor(s.inner);
    case 'struct': {
      const model: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [k, f] of Object.entries(s.fields)) model[k] = arbFor(f);
      return fc.record(model);
    }
  }
}

function arbMessage(name: MessageName): fc.Arbitrary<Message> {
  const d = messageDef(name);
  const body: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [k, f] of Object.entries(d.fields)) body[k] = arbFor(f);
  const tlvModel: Record<string, fc.Arbitrary<unknown>> = {};
  const known = new Set<bigint>();
  for (const [k, t] of Object.entries(d.ext?.schema ?? {})) {
    tlvModel[k] = arbFor(t.codec);
    known.add(t.type);
  }
  const unknownTlvs = d.ext
    ? fc
        .uniqueArray(
          fc
            .oneof(fc.bigInt({ min: 0n, max: 600n }), fc.bigInt({ min: 0n, max: (1n << 63n) - 1n }))
            .map((t) => t * 2n + 1n),
          { maxLength: 3 },
        )
        .chain((types) =>
          fc.tuple(
            ...types
              .filter((t) => !known.has(t))
              .sort((a, b) => (a < b ? -1 : 1))
              .map((t) => fc.uint8Array({ maxLength: 10 }).map((value): TlvRecord => ({ type: t, value }))),
          ),
        )
    : fc.constant([] as TlvRecord[]);
  return fc
    .tuple(fc.record(body), fc.record(tlvModel, { requiredKeys: [] }), unknownTlvs)
    .map(([b, t, u]) => {
      const m: Record<string, unknown> = { type: name, ...b, ...t };
      if (u.length > 0) m.unknownTlvs = u;
      return m as Message;
    });
}

const NAMES = Object.keys(MESSAGE_TYPES) as MessageName[];

describe('every message: decode(encode(m)) = m', () => {
  it.each(NAMES)('%s', (name) => {
    fc.assert(
      fc.property(arbMessage(name), (m) => {
        const b = encodeMessage(m);
        expect(peekMessageType(b)).toBe(MESSAGE_TYPES[name]);
        const back = decodeMessage(b);
        expect(back).toEqual(m);
        expect(encodeMessage(back)).toEqual(b);
      }),
      { numRuns: 40 },
    );
  });
});

describe('bad input only throws DecodeError', () => {
  it('random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => decodeOrDecodeError(b)),
      { numRuns: 2000 },
    );
  });

  it('random payloads under every known type', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...Object.values(MESSAGE_TYPES)),
        fc.uint8Array({ maxLength: 400 }),
        (t, p) => decodeOrDecodeError(concat(new Writer().u16(t).finish(), p)),
      ),
      { numRuns: 2000 },
    );
  });

  it.each(NAMES)('truncations and byte flips of %s', (name) => {
    fc.assert(
      fc.property(arbMessage(name), fc.nat(), fc.nat(0xff), (m, pos, x) => {
        const b = encodeMessage(m);
        for (let n = 0; n < b.length; n += Math.max(1, b.length >> 5)) decodeOrDecodeError(b.subarray(0, n));
        const flipped = b.slice();
        const i = 2 + (pos % Math.max(1, b.length - 2));
        if (i < flipped.length) flipped[i]! ^= x | 1;
        decodeOrDecodeError(flipped);
      }),
      { numRuns: 15 },
    );
  });
});
