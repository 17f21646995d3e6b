/**
 * Serialisation of the node's own records (monitor updates, payments, invoices, events,
 * forwarding policies).
 *
 * - Written: byte `0x01` (binary record marker, never the first byte of JSON text), then the
 *   value as a binary tree (src/protocol/encoding/record.ts): bigint, Uint8Array, arrays and
 *   objects round-trip exactly, `undefined`-valued fields included.
 * - Read as well (records written before): UTF-8 JSON with tagged values, `{"$n":"123"}` a
 *   bigint, `{"$b":"hex"}` bytes.
 *
 * Decoding throws only {@link DecodeError} `RECORD_INVALID`.
 */
import { legacyJsonReviver } from '../../core/channel/serialize.js';
import { fromUtf8 } from '../../protocol/encoding/bytes.js';
import { decodeTree, encodeTree } from '../../protocol/encoding/record.js';
import { DecodeError } from '../../protocol/errors.js';

/** First byte of a binary record. */
export const RECORD_MARKER = 0x01;

const reviver = legacyJsonReviver('RECORD_INVALID');

/** Serialises plain data (bigint, Uint8Array, arrays, objects) to a binary record. */
export function encodeRecord(value: unknown): Uint8Array {
  return encodeTree(value, { header: RECORD_MARKER });
}

/**
 * Parses {@link encodeRecord}'s output, or a legacy JSON record (no schema check: callers trust
 * their own store). Throws only DecodeError `RECORD_INVALID`.
 */
export function decodeRecord<T>(bytes: Uint8Array): T {
  if (bytes[0] === RECORD_MARKER) return decodeTree(bytes, { offset: 1, code: 'RECORD_INVALID' }) as T;
  try {
    return JSON.parse(fromUtf8(bytes), reviver) as T;
  } catch (e) {
    // Also UTF8_INVALID / HEX_INVALID from the helpers: one code for every bad record.
    throw new DecodeError('RECORD_INVALID', 'invalid stored record', {
      details: e instanceof Error ? e.message : String(e),
      cause: e,
    });
  }
}
