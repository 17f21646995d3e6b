/**
 * Bounded big-endian reader over a Uint8Array. Every read past the end throws
 * {@link DecodeError} `DECODE_SHORT_READ`; BigSize and truncated integers enforce minimal
 * encoding as BOLT 1 requires.
 */
import { DecodeError } from '../errors.js';

export class Reader {
  private pos = 0;
  private readonly view: DataView;

  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** Bytes not yet read. */
  get remaining(): number {
    return this.buf.length - this.pos;
  }

  /** Current offset. */
  get offset(): number {
    return this.pos;
  }

  /** True when every byte has been read. */
  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  private need(n: number, what: string): void {
    if (n > this.buf.length - this.pos) {
      throw new DecodeError('DECODE_SHORT_READ', `short read: ${what} needs ${n} bytes`, {
        details: `offset ${this.pos}, ${this.buf.length - this.pos} left`,
      });
    }
  }

  u8(): number {
    this.need(1, 'u8');
    return this.buf[this.pos++]!;
  }

  u16(): number {
    this.need(2, 'u16');
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.need(4, 'u32');
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  u64(): bigint {
    this.need(8, 'u64');
    const v = this.view.getBigUint64(this.pos);
    this.pos += 8;
    return v;
  }

  s8(): number {
    this.need(1, 's8');
    return this.view.getInt8(this.pos++);
  }

  s16(): number {
    this.need(2, 's16');
    const v = this.view.getInt16(this.pos);
    this.pos += 2;
    return v;
  }

  s32(): number {
    this.need(4, 's32');
    const v = this.view.getInt32(this.pos);
    this.pos += 4;
    return v;
  }

  s64(): bigint {
    this.need(8, 's64');
    const v = this.view.getBigInt64(this.pos);
    this.pos += 8;
    return v;
  }

  /** Reads exactly `n` bytes (a copy-free subarray). */
  bytes(n: number): Uint8Array {
    this.need(n, `${n} bytes`);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Reads every remaining byte. */
  rest(): Uint8Array {
    const out = this.buf.subarray(this.pos);
    this.pos = this.buf.length;
    return out;
  }

  /** BOLT 1 BigSize, rejecting non-canonical encodings (`DECODE_BIGSIZE_NONCANONICAL`). */
  bigsize(): bigint {
    const first = this.u8();
    if (first < 0xfd) return BigInt(first);
    if (first === 0xfd) {
      const v = this.u16();
      if (v < 0xfd) throw nonCanonical();
      return BigInt(v);
    }
    if (first === 0xfe) {
      const v = this.u32();
      if (v < 0x10000) throw nonCanonical();
      return BigInt(v);
    }
    const v = this.u64();
    if (v < 0x100000000n) throw nonCanonical();
    return v;
  }

  /**
   * Truncated unsigned integer (BOLT 1 `tu16`/`tu32`/`tu64`) occupying the rest of the reader,
   * at most `maxLen` bytes, with no leading zero byte (`DECODE_TRUNCATED_NONMINIMAL`).
   */
  truncated(maxLen: 2 | 4 | 8): bigint {
    const n = this.remaining;
    if (n > maxLen)
      throw new DecodeError('DECODE_TRUNCATED_TOO_LONG', `truncated integer longer than ${maxLen} bytes`);
    const b = this.bytes(n);
    if (n > 0 && b[0] === 0)
      throw new DecodeError('DECODE_TRUNCATED_NONMINIMAL', 'truncated integer has a leading zero');
    let v = 0n;
    for (const x of b) v = (v << 8n) | BigInt(x);
    return v;
  }
}

function nonCanonical(): DecodeError {
  return new DecodeError('DECODE_BIGSIZE_NONCANONICAL', 'BigSize is not minimally encoded');
}
