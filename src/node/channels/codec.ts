/**
 * JSON with tagged values for the node's own records (monitor updates, payments, invoices,
 * events): `{"$n":"123"}` is a bigint, `{"$b":"hex"}` bytes. Decoding throws only
 * {@link DecodeError} `RECORD_INVALID`.
 */
import { fromHex, fromUtf8, toHex, utf8 } from '../../protocol/encoding/bytes.js';
import { asDecodeError } from '../../protocol/errors.js';

function replacer(this: unknown, _key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return { $n: value.toString() };
  if (value instanceof Uint8Array) return { $b: toHex(value) };
  return value;
}

function reviver(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1) {
      if (typeof o.$n === 'string' && /^-?\d+$/.test(o.$n)) return BigInt(o.$n);
      if (typeof o.$b === 'string') return fromHex(o.$b);
    }
  }
  return value;
}

/** Serialises plain data (bigint, Uint8Array, arrays, objects) to UTF-8 JSON bytes. */
export function encodeRecord(value: unknown): Uint8Array {
  return utf8(JSON.stringify(value, replacer));
}

/** Parses {@link encodeRecord}'s output (no schema check: callers trust their own store). */
export function decodeRecord<T>(bytes: Uint8Array): T {
  return asDecodeError(
    'RECORD_INVALID',
    'invalid stored record',
    () => JSON.parse(fromUtf8(bytes), reviver) as T,
  );
}
