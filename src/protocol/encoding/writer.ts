/** Growable big-endian writer producing a Uint8Array. */
import { InvalidArgumentError } from '../errors.js';

export class Writer {
  private buf: Uint8Array;
  private view: DataView;
  private len = 0;

  constructor(initial = 64) {
    this.buf = new Uint8Array(initial);
    this.view = new DataView(this.buf.buffer);
  }

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): this {
    checkRange(v, 0, 0xff, 'u8');
    this.ensure(1);
    this.buf[this.len++] = v;
    return this;
  }

  u16(v: number): this {
    checkRange(v, 0, 0xffff, 'u16');
    this.ensure(2);
    this.view.setUint16(this.len, v);
    this.len += 2;
    return this;
  }

  u32(v: number): this {
    checkRange(v, 0, 0xffffffff, 'u32');
    this.ensure(4);
    this.view.setUint32(this.len, v);
    this.len += 4;
    return this;
  }

  u64(v: bigint): this {
    if (v < 0n || v > 0xffffffffffffffffn) throw new InvalidArgumentError('u64 out of range');
    this.ensure(8);
    this.view.setBigUint64(this.len, v);
    this.len += 8;
    return this;
  }

  s8(v: number): this {
    checkRange(v, -0x80, 0x7f, 's8');
    this.ensure(1);
    this.view.setInt8(this.len++, v);
    return this;
  }

  s16(v: number): this {
    checkRange(v, -0x8000, 0x7fff, 's16');
    this.ensure(2);
    this.view.setInt16(this.len, v);
    this.len += 2;
    return this;
  }

  s32(v: number): this {
    checkRange(v, -0x80000000, 0x7fffffff, 's32');
    this.ensure(4);
    this.view.setInt32(this.len, v);
    this.len += 4;
    return this;
  }

  s64(v: bigint): this {
    if (v < -(1n << 63n) || v >= 1n << 63n) throw new InvalidArgumentError('s64 out of range');
    this.ensure(8);
    this.view.setBigInt64(this.len, v);
    this.len += 8;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }

  /** BOLT 1 BigSize (minimal). */
  bigsize(v: bigint): this {
    if (v < 0n || v > 0xffffffffffffffffn) throw new InvalidArgumentError('BigSize out of range');
    if (v < 0xfdn) return this.u8(Number(v));
    if (v <= 0xffffn) return this.u8(0xfd).u16(Number(v));
    if (v <= 0xffffffffn) return this.u8(0xfe).u32(Number(v));
    return this.u8(0xff).u64(v);
  }

  /** Truncated unsigned integer: big-endian with leading zero bytes removed (0 → no bytes). */
  truncated(v: bigint, maxLen: 2 | 4 | 8): this {
    if (v < 0n || v >= 1n << BigInt(8 * maxLen))
      throw new InvalidArgumentError(`tu${maxLen * 8} out of range`);
    const tmp: number[] = [];
    while (v > 0n) {
      tmp.unshift(Number(v & 0xffn));
      v >>= 8n;
    }
    return this.bytes(Uint8Array.from(tmp));
  }

  get length(): number {
    return this.len;
  }

  /** The written bytes (a copy). */
  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

function checkRange(v: number, min: number, max: number, what: string): void {
  if (!Number.isInteger(v) || v < min || v > max)
    throw new InvalidArgumentError(`${what} out of range: ${v}`);
}

/** Encodes a BigSize value on its own. */
export function encodeBigSize(v: bigint): Uint8Array {
  return new Writer(9).bigsize(v).finish();
}
