/**
 * Declarative field codecs for Lightning wire messages (BOLT 1 "Fundamental Types" and
 * "Type-Length-Value Format").
 *
 * A {@link Codec} reads a value from a {@link Reader} and writes it to a {@link Writer}. Small
 * combinators ({@link struct}, {@link list16}, {@link until}, {@link sized16}, {@link tlvStream})
 * build message bodies from the primitive types. Every codec carries a `shape` describing it, so
 * tooling (tests, docs) can walk a schema without running it.
 *
 * Decoding throws only {@link DecodeError}; writing a value that does not fit its type throws
 * {@link InvalidArgumentError}. Decoded byte fields are copies, never views of the input.
 */
import { secp } from '../crypto/secp256k1.js';
import { fromUtf8, utf8 } from '../encoding/bytes.js';
import { Reader } from '../encoding/reader.js';
import { decodeTlvStream, encodeTlvStream, type TlvRecord } from '../encoding/tlv.js';
import { Writer } from '../encoding/writer.js';
import { DecodeError, InvalidArgumentError } from '../errors.js';

/** Structural description of a codec (for schema walkers such as the property tests). */
export type CodecShape =
  | { kind: 'u8' | 'u16' | 'u32' | 'u64' | 's64' | 'bigsize' | 'tu32' | 'tu64' }
  | { kind: 'bytes'; length: number }
  | { kind: 'point' | 'varbytes' | 'rest' | 'utf8rest' | 'flag' | 'address' }
  | { kind: 'list16' | 'until' | 'encodedList'; item: Codec<unknown> }
  | { kind: 'fixedList'; count: number; item: Codec<unknown> }
  | { kind: 'sized16'; inner: Codec<unknown> }
  | { kind: 'struct'; fields: Record<string, Codec<unknown>> };

/** Reads and writes one value of type `T`. */
export interface Codec<T> {
  /** What this codec is (for schema walkers). */
  readonly shape: CodecShape;
  /** Reads a value; throws {@link DecodeError} on malformed input. */
  read(r: Reader): T;
  /** Writes `v`; throws {@link InvalidArgumentError} if `v` does not fit. */
  write(w: Writer, v: T): void;
}

/** The value type of a codec. */
export type Infer<C> = C extends Codec<infer T> ? T : never;

function codec<T>(shape: CodecShape, read: (r: Reader) => T, write: (w: Writer, v: T) => void): Codec<T> {
  return { shape, read, write };
}

/** `byte` / `u8`. */
export const u8: Codec<number> = codec(
  { kind: 'u8' },
  (r) => r.u8(),
  (w, v) => void w.u8(v),
);
/** `u16`, big-endian. */
export const u16: Codec<number> = codec(
  { kind: 'u16' },
  (r) => r.u16(),
  (w, v) => void w.u16(v),
);
/** `u32`, big-endian. */
export const u32: Codec<number> = codec(
  { kind: 'u32' },
  (r) => r.u32(),
  (w, v) => void w.u32(v),
);
/** `u64`, big-endian, as bigint (amounts, ids, short_channel_id). */
export const u64: Codec<bigint> = codec(
  { kind: 'u64' },
  (r) => r.u64(),
  (w, v) => void w.u64(v),
);
/** `s64`, big-endian two's complement. */
export const s64: Codec<bigint> = codec(
  { kind: 's64' },
  (r) => r.s64(),
  (w, v) => void w.s64(v),
);
/** `bigsize` (minimal encoding enforced on read). */
export const bigsize: Codec<bigint> = codec(
  { kind: 'bigsize' },
  (r) => r.bigsize(),
  (w, v) => void w.bigsize(v),
);
/** `tu32`: truncated u32 filling the rest of its TLV value. */
export const tu32: Codec<number> = codec(
  { kind: 'tu32' },
  (r) => Number(r.truncated(4)),
  (w, v) => void w.truncated(BigInt(v), 4),
);
/** `tu64`: truncated u64 filling the rest of its TLV value. */
export const tu64: Codec<bigint> = codec(
  { kind: 'tu64' },
  (r) => r.truncated(8),
  (w, v) => void w.truncated(v, 8),
);

/** Exactly `n` bytes (`n*byte`, `chain_hash`, `sha256`, `signature`, ...). */
export function bytes(n: number): Codec<Uint8Array> {
  return codec(
    { kind: 'bytes', length: n },
    (r) => r.bytes(n).slice(),
    (w, v) => {
      if (v.length !== n) throw new InvalidArgumentError(`expected ${n} bytes, got ${v.length}`);
      w.bytes(v);
    },
  );
}

/** `chain_hash` (32 bytes). */
export const chainHash = bytes(32);
/** `channel_id` (32 bytes). */
export const channelId = bytes(32);
/** `sha256` (32 bytes). */
export const sha256 = bytes(32);
/** `signature`: 64-byte compact ECDSA signature (not validated here). */
export const signature = bytes(64);
/** `32*byte` secret / preimage. */
export const bytes32 = bytes(32);
/** `short_channel_id` as a u64 bigint (see ./scid.ts for the BLOCKxTXxOUT form). */
export const shortChannelId: Codec<bigint> = u64;

/**
 * `point`: 33-byte compressed secp256k1 point, validated on read (`WIRE_INVALID_POINT`).
 * BOLT #1: "point: a 33-byte Elliptic Curve point (compressed encoding as per SEC 1 standard)".
 */
export const point: Codec<Uint8Array> = codec(
  { kind: 'point' },
  (r) => {
    const p = r.bytes(33).slice();
    if ((p[0] !== 2 && p[0] !== 3) || !secp().isPoint(p)) {
      throw new DecodeError('WIRE_INVALID_POINT', 'not a valid compressed secp256k1 point');
    }
    return p;
  },
  (w, v) => {
    if (v.length !== 33) throw new InvalidArgumentError('point must be 33 bytes');
    w.bytes(v);
  },
);

/** `[u16:len][len*byte]`. */
export const varbytes: Codec<Uint8Array> = codec(
  { kind: 'varbytes' },
  (r) => r.bytes(r.u16()).slice(),
  (w, v) => void w.u16(v.length).bytes(v),
);

/** `...*byte`: every remaining byte (last field of a TLV value or payload). */
export const rest: Codec<Uint8Array> = codec(
  { kind: 'rest' },
  (r) => r.rest().slice(),
  (w, v) => void w.bytes(v),
);

/** Every remaining byte as strict UTF-8 text (`UTF8_INVALID`). */
export const utf8Rest: Codec<string> = codec(
  { kind: 'utf8rest' },
  (r) => fromUtf8(r.rest()),
  (w, v) => void w.bytes(utf8(v)),
);

/** A TLV record with no value (presence is the information); a non-empty value is rejected. */
export const flag: Codec<true> = codec(
  { kind: 'flag' },
  (r) => {
    if (!r.done) throw new DecodeError('TLV_VALUE_TOO_LONG', 'flag TLV must be empty');
    return true as const;
  },
  () => {},
);

/** `[u16:count][count*item]`. */
export function list16<T>(item: Codec<T>): Codec<T[]> {
  return codec(
    { kind: 'list16', item },
    (r) => {
      const n = r.u16();
      const out: T[] = [];
      for (let i = 0; i < n; i++) out.push(item.read(r));
      return out;
    },
    (w, v) => {
      w.u16(v.length);
      for (const x of v) item.write(w, x);
    },
  );
}

/** `count*item` for a constant count. */
export function fixedList<T>(count: number, item: Codec<T>): Codec<T[]> {
  return codec(
    { kind: 'fixedList', count, item },
    (r) => {
      const out: T[] = [];
      for (let i = 0; i < count; i++) out.push(item.read(r));
      return out;
    },
    (w, v) => {
      if (v.length !== count) throw new InvalidArgumentError(`expected ${count} items, got ${v.length}`);
      for (const x of v) item.write(w, x);
    },
  );
}

/** `...*item`: items until the reader is exhausted (a partial last item is a short read). */
export function until<T>(item: Codec<T>): Codec<T[]> {
  return codec(
    { kind: 'until', item },
    (r) => {
      const out: T[] = [];
      while (!r.done) out.push(item.read(r));
      return out;
    },
    (w, v) => {
      for (const x of v) item.write(w, x);
    },
  );
}

/**
 * BOLT 7 "encoded" array: `[byte:encoding_type][...*item]`. Only encoding `0` (uncompressed) is
 * accepted. BOLT #7: encoding `1` "Previously used for zlib compression, this encoding MUST NOT
 * be used" → `WIRE_ZLIB_UNSUPPORTED`; any other type → `WIRE_UNKNOWN_ENCODING`. Writes type 0.
 */
export function encodedList<T>(item: Codec<T>): Codec<T[]> {
  const inner = until(item);
  return codec(
    { kind: 'encodedList', item },
    (r) => {
      const enc = r.u8();
      if (enc === 1) throw new DecodeError('WIRE_ZLIB_UNSUPPORTED', 'zlib-encoded array is not supported');
      if (enc !== 0) throw new DecodeError('WIRE_UNKNOWN_ENCODING', `unknown array encoding type ${enc}`);
      return inner.read(r);
    },
    (w, v) => {
      w.u8(0);
      inner.write(w, v);
    },
  );
}

/** `[u16:len][len*byte]` whose bytes hold exactly one `inner` value (`WIRE_TRAILING_BYTES`). */
export function sized16<T>(inner: Codec<T>): Codec<T> {
  return codec(
    { kind: 'sized16', inner },
    (r) => {
      const sub = new Reader(r.bytes(r.u16()));
      const v = inner.read(sub);
      if (!sub.done) throw new DecodeError('WIRE_TRAILING_BYTES', 'length-prefixed field has extra bytes');
      return v;
    },
    (w, v) => {
      const sub = new Writer();
      inner.write(sub, v);
      const b = sub.finish();
      w.u16(b.length).bytes(b);
    },
  );
}

/** Field map of a {@link struct}. */
export type Fields = Record<string, Codec<unknown>>;
/** The object type a {@link struct} of `F` reads. */
export type StructOf<F extends Fields> = { -readonly [K in keyof F]: Infer<F[K]> };

/** Fields in declaration order (object key order), read into / written from a plain object. */
export function struct<F extends Fields>(fields: F): Codec<StructOf<F>> {
  const entries = Object.entries(fields);
  return codec(
    { kind: 'struct', fields },
    (r) => {
      const out: Record<string, unknown> = {};
      for (const [k, c] of entries) out[k] = c.read(r);
      return out as StructOf<F>;
    },
    (w, v) => {
      const obj = v as Record<string, unknown>;
      for (const [k, c] of entries) {
        if (!(k in obj)) throw new InvalidArgumentError(`missing field ${k}`);
        c.write(w, obj[k]);
      }
    },
  );
}

// ---------------------------------------------------------------------------------------------
// TLV streams (BOLT 1 "Type-Length-Value Format") built on ../encoding/tlv.ts.

/** One known TLV record type of a stream: its type number and value codec. */
export interface TlvDef<T> {
  readonly type: bigint;
  readonly codec: Codec<T>;
}

/** Declares TLV record `type` whose whole value is read by `c`. */
export function tlv<T>(type: number | bigint, c: Codec<T>): TlvDef<T> {
  return { type: BigInt(type), codec: c };
}

/** Named known records of a TLV stream. */
export type TlvSchema = Record<string, TlvDef<unknown>>;
/** Decoded known records (each optional). */
export type TlvValues<S extends TlvSchema> = { -readonly [K in keyof S]?: Infer<S[K]['codec']> };

/** A typed TLV stream: known records decoded by name, unknown odd ones kept raw. */
export interface TlvStream<S extends TlvSchema> {
  readonly schema: S;
  /**
   * Decodes a whole stream. Errors (all {@link DecodeError}): the generic ones of
   * `decodeTlvStream` (`DECODE_SHORT_READ`, `DECODE_BIGSIZE_NONCANONICAL`, `TLV_LENGTH_EXCEEDS`,
   * `TLV_NOT_INCREASING`, `TLV_UNKNOWN_EVEN`), a known value shorter than its type
   * (`TLV_VALUE_TOO_SHORT`) or longer (`TLV_VALUE_TOO_LONG`), or a field-level code
   * (`DECODE_TRUNCATED_NONMINIMAL`, `WIRE_INVALID_POINT`, ...).
   */
  decode(b: Uint8Array): { values: TlvValues<S>; unknown: TlvRecord[] };
  /**
   * Encodes the known `values` present (undefined = absent) plus `unknown` raw records, sorted
   * by type. An unknown record colliding with a known type is a programming error.
   */
  encode(values: TlvValues<S>, unknown?: readonly TlvRecord[]): Uint8Array;
}

/** Reads a whole TLV value with `c`, mapping length problems to TLV_VALUE_TOO_SHORT/LONG. */
export function readTlvValue<T>(c: Codec<T>, value: Uint8Array, type: bigint): T {
  const r = new Reader(value);
  let v: T;
  try {
    v = c.read(r);
  } catch (e) {
    if (e instanceof DecodeError && e.code === 'DECODE_SHORT_READ') {
      throw new DecodeError('TLV_VALUE_TOO_SHORT', `TLV type ${type} value too short`, { cause: e });
    }
    if (e instanceof DecodeError && e.code === 'DECODE_TRUNCATED_TOO_LONG') {
      throw new DecodeError('TLV_VALUE_TOO_LONG', `TLV type ${type} value too long`, { cause: e });
    }
    throw e;
  }
  if (!r.done) throw new DecodeError('TLV_VALUE_TOO_LONG', `TLV type ${type} value too long`);
  return v;
}

/** Builds a typed TLV stream codec from a schema. */
export function tlvStream<S extends TlvSchema>(schema: S): TlvStream<S> {
  const byType = new Map<bigint, [string, TlvDef<unknown>]>();
  for (const [name, d] of Object.entries(schema)) byType.set(d.type, [name, d]);
  const isKnown = (t: bigint) => byType.has(t);
  return {
    schema,
    decode(b) {
      const values: Record<string, unknown> = {};
      const unknown: TlvRecord[] = [];
      for (const rec of decodeTlvStream(b, isKnown)) {
        const known = byType.get(rec.type);
        if (known) values[known[0]] = readTlvValue(known[1].codec, rec.value, rec.type);
        else unknown.push({ type: rec.type, value: rec.value.slice() });
      }
      return { values: values as TlvValues<S>, unknown };
    },
    encode(values, unknown = []) {
      const recs: TlvRecord[] = [];
      const vals = values as Record<string, unknown>;
      for (const [name, d] of Object.entries(schema)) {
        const v = vals[name];
        if (v === undefined) continue;
        const w = new Writer();
        d.codec.write(w, v);
        recs.push({ type: d.type, value: w.finish() });
      }
      for (const u of unknown) {
        if (byType.has(u.type))
          throw new InvalidArgumentError(`unknown TLV ${u.type} collides with a known type`);
        recs.push(u);
      }
      return encodeTlvStream(recs);
    },
  };
}
