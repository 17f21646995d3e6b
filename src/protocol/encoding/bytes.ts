/** Byte helpers over `Uint8Array` (never Buffer: this layer runs in browsers). */
import { DecodeError, InvalidArgumentError } from '../errors.js';

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Lowercase hex of `b`. */
export function toHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += HEX[b[i]!];
  return s;
}

/** Parses hex (either case). Throws {@link DecodeError} `HEX_INVALID` on odd length or non-hex. */
export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0) throw new DecodeError('HEX_INVALID', 'hex string has odd length');
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = hexVal(hex.charCodeAt(2 * i));
    const lo = hexVal(hex.charCodeAt(2 * i + 1));
    if (hi < 0 || lo < 0) throw new DecodeError('HEX_INVALID', 'hex string has a non-hex character');
    out[i] = (hi << 4) | lo;
  }
  return out;
}

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Concatenates byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Constant-length byte equality (not constant-time; use for public data). */
export function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Lexicographic compare: negative if a < b. */
export function compare(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** XOR of two equal-length arrays into a new array. */
export function xor(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length !== b.length) throw new InvalidArgumentError('xor: length mismatch');
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/** UTF-8 encode. */
export function utf8(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

const strictDecoder = new TextDecoder('utf-8', { fatal: true });
/** Strict UTF-8 decode; throws {@link DecodeError} `UTF8_INVALID`. */
export function fromUtf8(b: Uint8Array): string {
  try {
    return strictDecoder.decode(b);
  } catch (e) {
    throw new DecodeError('UTF8_INVALID', 'invalid UTF-8', { cause: e });
  }
}

/** Big-endian unsigned bigint of `b`. */
export function bytesToBigInt(b: Uint8Array): bigint {
  let v = 0n;
  for (let i = 0; i < b.length; i++) v = (v << 8n) | BigInt(b[i]!);
  return v;
}

/** Big-endian encoding of `v` in exactly `len` bytes. */
export function bigIntToBytes(v: bigint, len: number): Uint8Array {
  if (v < 0n || v >= 1n << BigInt(8 * len))
    throw new InvalidArgumentError(`value does not fit in ${len} bytes`);
  const out = new Uint8Array(len);
  for (let i = len - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}
