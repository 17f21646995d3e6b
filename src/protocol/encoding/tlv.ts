/**
 * BOLT 1 TLV streams: `type` and `length` are BigSize, records strictly increasing by type,
 * unknown even types are a decode error, unknown odd types are kept (and re-encoded).
 *
 * Spec (01-messaging.md, "Type-Length-Value Format"): the reader MUST fail on non-minimal
 * BigSize, a length exceeding the remaining bytes, non-increasing types, and unknown even types.
 */
import { DecodeError, InvalidArgumentError } from '../errors.js';
import { Reader } from './reader.js';
import { Writer } from './writer.js';

/** One raw TLV record. */
export interface TlvRecord {
  type: bigint;
  value: Uint8Array;
}

/**
 * Decodes a TLV stream into raw records (in order). `isKnown(type)` tells which types the
 * caller understands; an unknown even type fails with `TLV_UNKNOWN_EVEN`. Without `isKnown`
 * every type is accepted (a generic parse).
 */
export function decodeTlvStream(bytes: Uint8Array, isKnown?: (type: bigint) => boolean): TlvRecord[] {
  const r = new Reader(bytes);
  const out: TlvRecord[] = [];
  let last = -1n;
  while (!r.done) {
    const type = r.bigsize();
    const length = r.bigsize();
    if (length > BigInt(r.remaining)) {
      throw new DecodeError('TLV_LENGTH_EXCEEDS', 'TLV length exceeds the remaining bytes', {
        details: `type ${type} length ${length}, ${r.remaining} left`,
      });
    }
    if (type <= last) {
      throw new DecodeError('TLV_NOT_INCREASING', 'TLV types are not strictly increasing', {
        details: `type ${type} after ${last}`,
      });
    }
    last = type;
    const value = r.bytes(Number(length));
    if (isKnown && !isKnown(type) && type % 2n === 0n) {
      throw new DecodeError('TLV_UNKNOWN_EVEN', `unknown even TLV type ${type}`);
    }
    out.push({ type, value });
  }
  return out;
}

/** Encodes records, sorting them by type; duplicate types are a programming error. */
export function encodeTlvStream(records: readonly TlvRecord[]): Uint8Array {
  const sorted = [...records].sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
  const w = new Writer();
  let last = -1n;
  for (const rec of sorted) {
    if (rec.type === last) throw new InvalidArgumentError(`duplicate TLV type ${rec.type}`);
    last = rec.type;
    w.bigsize(rec.type).bigsize(BigInt(rec.value.length)).bytes(rec.value);
  }
  return w.finish();
}

/** Finds the value of `type` in decoded records. */
export function tlvGet(records: readonly TlvRecord[], type: bigint): Uint8Array | undefined {
  for (const r of records) if (r.type === type) return r.value;
  return undefined;
}

/** Decodes a `tu64` (truncated, minimal) TLV value. */
export function decodeTu64(v: Uint8Array): bigint {
  return new Reader(v).truncated(8);
}

/** Decodes a `tu32` TLV value. */
export function decodeTu32(v: Uint8Array): number {
  return Number(new Reader(v).truncated(4));
}

/** Encodes a `tu64`. */
export function encodeTu64(v: bigint): Uint8Array {
  return new Writer(8).truncated(v, 8).finish();
}

/** Encodes a `tu32`. */
export function encodeTu32(v: number): Uint8Array {
  return new Writer(4).truncated(BigInt(v), 4).finish();
}
