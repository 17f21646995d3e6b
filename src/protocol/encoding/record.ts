/**
 * Compact, self-describing binary encoding of plain data trees (Farad-internal persistence format,
 * not a BOLT wire format): what the node stores for channel states, monitor updates, payment
 * records, invoices and events. It replaces tagged JSON (`{"$n":"1"}` bigints, `{"$b":"hex"}`
 * bytes), which cost a replacer call per value, a hex string per byte array and twice the bytes.
 *
 * Layout: an optional caller-chosen header byte (format/version marker, see {@link encodeTree}),
 * then one value. Every value starts with a tag byte:
 *
 * | tag          | value                                                                        |
 * |--------------|------------------------------------------------------------------------------|
 * | `0x80 + n`   | number `n`, an integer 0..127                                                |
 * | `0x00`       | undefined                                                                    |
 * | `0x01`       | null                                                                         |
 * | `0x02/0x03`  | false / true                                                                 |
 * | `0x04`       | number, safe integer >= 0: varint                                            |
 * | `0x05`       | number, safe integer < 0: varint of its magnitude                            |
 * | `0x06`       | number, any other (fractions, -0, NaN, ±Infinity): float64 little-endian     |
 * | `0x07/0x08`  | bigint >= 0 / < 0, magnitude < 2^53: varint of the magnitude                 |
 * | `0x09/0x0a`  | bigint >= 0 / < 0, larger: varint length + big-endian magnitude              |
 * | `0x0b`       | string, interned: a string reference (below)                                 |
 * | `0x0c`       | string: varint UTF-8 length + UTF-8                                          |
 * | `0x0d`       | bytes (Uint8Array): varint length + raw bytes                                |
 * | `0x0e`       | array: varint count + that many values                                       |
 * | `0x0f`       | object: (string reference, value)* then `0x00`                               |
 * | `0x10`       | extension: id byte + varint length + the extension's own bytes               |
 * | `0x11`       | scope: one value decoded with a fresh, empty string table ({@link TreeMemo})  |
 *
 * Varints are unsigned LEB128 (7 bits per byte, least significant first), at most 8 bytes and
 * at most 2^53-1. A string reference is a varint `r`: `0` ends an object; odd `r` is a new string
 * of `(r-1)/2` UTF-8 bytes that follow, appended to the message's string table; even `r` names
 * entry `r/2 - 1` of the table. Object keys and short strings (<= 32 UTF-16 units) are interned
 * this way, so a repeated key such as `amountMsat` costs one byte after its first occurrence.
 *
 * Round-trip semantics ({@link decodeTree} of {@link encodeTree}): key order, `undefined`
 * values (object keys and array slots are kept, unlike JSON), `-0`, NaN and ±Infinity, bigint and
 * nested arrays are preserved exactly. Like JSON: only own enumerable string keys are written
 * (class instances decode as plain objects), `toJSON()` is honoured on non-plain objects,
 * functions and symbols are dropped from objects and become `null` in arrays, array holes become
 * `undefined`. Uint8Array (and subclasses) decode as fresh Uint8Array copies that never alias
 * the input buffer. Values matched by an extension (e.g. the shachain store) are written as the
 * extension's bytes and rebuilt by its decoder.
 *
 * Decoding is bounded: every count and length is checked against the bytes left before anything
 * is allocated, nesting is limited to {@link MAX_TREE_DEPTH}, and malformed input throws only
 * {@link DecodeError} with the caller's code. Encoding never mutates its input; circular or
 * too-deep trees throw {@link InvalidArgumentError}.
 */
import { DecodeError, InvalidArgumentError } from '../errors.js';

/** Deepest nesting of arrays/objects accepted by {@link encodeTree} and {@link decodeTree}. */
export const MAX_TREE_DEPTH = 512;

/**
 * A class the codec writes as opaque bytes (its own serialisation) instead of as an object.
 * `id` (0..255) identifies it on the wire: it must never be reused for another type.
 */
export interface TreeExtension {
  /** Wire identifier, 0..255. */
  readonly id: number;
  /** True when `value` is handled by this extension (typically an `instanceof` check). */
  readonly match: (value: object) => boolean;
  /** Serialises a matched value. */
  readonly encode: (value: object) => Uint8Array;
  /** Rebuilds the value; may throw anything (converted to DecodeError by the decoder). */
  readonly decode: (bytes: Uint8Array) => unknown;
}

/** Options of {@link encodeTree}. */
export interface EncodeTreeOptions {
  /** A byte written before the value (format/version marker), 0..255. */
  readonly header?: number;
  /** Classes written as opaque bytes. */
  readonly extensions?: readonly TreeExtension[];
  /** Memoisation of unchanged subtrees (see {@link TreeMemo}). */
  readonly memo?: TreeMemo;
}

/**
 * Memoisation of the encodings of immutable subtrees between calls: the value of an object
 * property named in `keys` (when it is an object) is written in its own string-table scope (tag
 * `0x11`), so its bytes do not depend on what precedes it, and cached in `cache` by object
 * identity. The next encoding of a tree holding the same object copies the cached bytes.
 *
 * Obligation: an object reachable under one of `keys` MUST NOT be mutated after it was first
 * encoded (stale bytes would be written otherwise), and one `cache` must only be used with the
 * same `extensions` and `keys`.
 */
export interface TreeMemo {
  /** Encodings by object identity (owned by the caller, typically a module-level WeakMap). */
  readonly cache: WeakMap<object, Uint8Array>;
  /** Property names whose (object) values are memoised. */
  readonly keys: ReadonlySet<string>;
}

/** Options of {@link decodeTree}. */
export interface DecodeTreeOptions {
  /** Where the value starts (after the caller's header). Default 0. */
  readonly offset?: number;
  /** DecodeError code for malformed input. Default `TREE_INVALID`. */
  readonly code?: string;
  /** Extensions the encoder may have used (matched by id). */
  readonly extensions?: readonly TreeExtension[];
}

const T_UNDEFINED = 0x00;
const T_NULL = 0x01;
const T_FALSE = 0x02;
const T_TRUE = 0x03;
const T_UINT = 0x04;
const T_NINT = 0x05;
const T_F64 = 0x06;
const T_BIG_POS = 0x07;
const T_BIG_NEG = 0x08;
const T_BIG_POS_LONG = 0x09;
const T_BIG_NEG_LONG = 0x0a;
const T_STR_REF = 0x0b;
const T_STR = 0x0c;
const T_BYTES = 0x0d;
const T_ARRAY = 0x0e;
const T_OBJECT = 0x0f;
const T_EXT = 0x10;
const T_SCOPE = 0x11;
const T_SMALL = 0x80;

/** Strings up to this many UTF-16 units are interned. */
const INTERN_MAX = 32;
const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE_BIG = -MAX_SAFE_BIG;

const textEncoder = new TextEncoder();
/** Float64 scratch (little-endian). */
const F64 = new DataView(new ArrayBuffer(8));
const F64B = new Uint8Array(F64.buffer);
const textDecoder = new TextDecoder('utf-8', { fatal: true });

// ------------------------------------------------------------------------------------------------
// Encoder

class Encoder {
  buf: Uint8Array;
  pos = 0;
  private strings = new Map<string, number>();
  private readonly exts: readonly TreeExtension[];
  private readonly memo: TreeMemo | undefined;

  constructor(buf: Uint8Array, exts: readonly TreeExtension[], memo: TreeMemo | undefined) {
    this.buf = buf;
    this.exts = exts;
    this.memo = memo;
  }

  /** A memoised subtree: cached bytes, or encoded in a fresh string-table scope and cached. */
  private memoised(v: object, depth: number, cache: WeakMap<object, Uint8Array>): void {
    const hit = cache.get(v);
    if (hit !== undefined) {
      this.ensure(hit.length);
      this.buf.set(hit, this.pos);
      this.pos += hit.length;
      return;
    }
    const start = this.pos;
    const outer = this.strings;
    this.strings = new Map();
    this.ensure(1);
    this.buf[this.pos++] = T_SCOPE;
    this.value(v, depth);
    this.strings = outer;
    cache.set(v, this.buf.slice(start, this.pos));
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.pos + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  /** Unsigned varint; the caller guarantees 8 free bytes. */
  varint(n: number): void {
    const b = this.buf;
    let p = this.pos;
    while (n > 0x7fffffff) {
      b[p++] = (n % 128) | 0x80;
      n = Math.floor(n / 128);
    }
    while (n > 0x7f) {
      b[p++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    b[p++] = n;
    this.pos = p;
  }

  /** UTF-8 bytes preceded by varint `len * mul + add` (mul 1 or 2). */
  private utf8(s: string, mul: number, add: number): void {
    const n = s.length;
    this.ensure(n + 9);
    const start = this.pos;
    this.varint(n * mul + add);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        // Not ASCII: redo with the real UTF-8 length.
        this.pos = start;
        const u = textEncoder.encode(s);
        this.ensure(u.length + 9);
        this.varint(u.length * mul + add);
        this.buf.set(u, this.pos);
        this.pos += u.length;
        return;
      }
      b[p++] = c;
    }
    this.pos = p;
  }

  /** A string reference (interned): used for keys and short string values. */
  ref(s: string): void {
    const i = this.strings.get(s);
    if (i !== undefined) {
      this.ensure(8);
      this.varint(i);
      return;
    }
    this.strings.set(s, (this.strings.size + 1) * 2);
    this.utf8(s, 2, 1);
  }

  value(v: unknown, depth: number): void {
    switch (typeof v) {
      case 'number':
        this.number(v);
        return;
      case 'string':
        if (v.length <= INTERN_MAX) {
          this.ensure(1);
          this.buf[this.pos++] = T_STR_REF;
          this.ref(v);
        } else {
          this.ensure(1);
          this.buf[this.pos++] = T_STR;
          this.utf8(v, 1, 0);
        }
        return;
      case 'bigint':
        this.bigint(v);
        return;
      case 'boolean':
        this.ensure(1);
        this.buf[this.pos++] = v ? T_TRUE : T_FALSE;
        return;
      case 'undefined':
        this.ensure(1);
        this.buf[this.pos++] = T_UNDEFINED;
        return;
      case 'object':
        if (v === null) {
          this.ensure(1);
          this.buf[this.pos++] = T_NULL;
        } else this.object(v, depth);
        return;
      default:
        // function / symbol in an array slot or at the root: JSON writes null.
        this.ensure(1);
        this.buf[this.pos++] = T_NULL;
    }
  }

  number(v: number): void {
    this.ensure(9);
    if (v >>> 0 === v && (v !== 0 || 1 / v > 0)) {
      if (v < 128) this.buf[this.pos++] = T_SMALL + v;
      else {
        this.buf[this.pos++] = T_UINT;
        this.varint(v);
      }
    } else if (Number.isSafeInteger(v) && v !== 0) {
      if (v > 0) {
        this.buf[this.pos++] = T_UINT;
        this.varint(v);
      } else {
        this.buf[this.pos++] = T_NINT;
        this.varint(-v);
      }
    } else {
      this.buf[this.pos++] = T_F64;
      F64.setFloat64(0, v, true);
      this.buf.set(F64B, this.pos);
      this.pos += 8;
    }
  }

  bigint(v: bigint): void {
    this.ensure(9);
    if (v >= 0n) {
      if (v <= MAX_SAFE_BIG) {
        this.buf[this.pos++] = T_BIG_POS;
        this.varint(Number(v));
      } else this.longBig(T_BIG_POS_LONG, v);
    } else if (v >= MIN_SAFE_BIG) {
      this.buf[this.pos++] = T_BIG_NEG;
      this.varint(Number(-v));
    } else this.longBig(T_BIG_NEG_LONG, -v);
  }

  private longBig(tag: number, mag: bigint): void {
    // Little-endian 32-bit limbs, then written big-endian without leading zero bytes.
    const limbs: number[] = [];
    for (let m = mag; m > 0n; m >>= 32n) limbs.push(Number(m & 0xffffffffn));
    const top = limbs[limbs.length - 1]!;
    const topBytes = top > 0xffffff ? 4 : top > 0xffff ? 3 : top > 0xff ? 2 : 1;
    const n = (limbs.length - 1) * 4 + topBytes;
    this.ensure(n + 10);
    this.buf[this.pos++] = tag;
    this.varint(n);
    const b = this.buf;
    let p = this.pos;
    for (let i = limbs.length - 1; i >= 0; i--) {
      const l = limbs[i]!;
      for (let j = i === limbs.length - 1 ? topBytes - 1 : 3; j >= 0; j--) b[p++] = (l >>> (8 * j)) & 0xff;
    }
    this.pos = p;
  }

  bytes(v: Uint8Array): void {
    const n = v.length;
    this.ensure(n + 9);
    this.buf[this.pos++] = T_BYTES;
    this.varint(n);
    if (n <= 64) {
      const b = this.buf;
      let p = this.pos;
      for (let i = 0; i < n; i++) b[p++] = v[i]!;
    } else this.buf.set(v, this.pos);
    this.pos += n;
  }

  object(v: object, depth: number): void {
    if (v instanceof Uint8Array) {
      this.bytes(v);
      return;
    }
    if (depth >= MAX_TREE_DEPTH) throw new InvalidArgumentError('encodeTree: tree too deep or circular');
    if (Array.isArray(v)) {
      const n = v.length;
      this.ensure(9);
      this.buf[this.pos++] = T_ARRAY;
      this.varint(n);
      for (let i = 0; i < n; i++) this.value(v[i], depth + 1);
      return;
    }
    const proto = Object.getPrototypeOf(v) as unknown;
    if (proto !== Object.prototype && proto !== null) {
      for (const e of this.exts) {
        if (e.match(v)) {
          const b = e.encode(v);
          this.ensure(b.length + 10);
          this.buf[this.pos++] = T_EXT;
          this.buf[this.pos++] = e.id;
          this.varint(b.length);
          this.buf.set(b, this.pos);
          this.pos += b.length;
          return;
        }
      }
      const toJSON = (v as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === 'function') {
        this.value(toJSON.call(v, ''), depth + 1);
        return;
      }
    }
    this.ensure(1);
    this.buf[this.pos++] = T_OBJECT;
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    const memo = this.memo;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      const x = o[k];
      const t = typeof x;
      if (t === 'function' || t === 'symbol') continue;
      this.ref(k);
      if (memo !== undefined && t === 'object' && x !== null && memo.keys.has(k))
        this.memoised(x as object, depth + 1, memo.cache);
      else this.value(x, depth + 1);
    }
    this.ensure(1);
    this.buf[this.pos++] = 0;
  }
}

let scratch: Uint8Array | undefined = new Uint8Array(16384);

/**
 * Encodes `value` (see the module documentation for the layout and the round-trip rules).
 * Throws {@link InvalidArgumentError} on a circular or too-deep tree, or a bad header/extension id.
 */
export function encodeTree(value: unknown, opts: EncodeTreeOptions = {}): Uint8Array {
  const exts = opts.extensions ?? [];
  for (const e of exts)
    if (!Number.isInteger(e.id) || e.id < 0 || e.id > 255)
      throw new InvalidArgumentError('encodeTree: extension id must be 0..255');
  // The scratch buffer is reused between calls (taken while in use, so nested calls stay safe).
  const buf = scratch ?? new Uint8Array(4096);
  scratch = undefined;
  const enc = new Encoder(buf, exts, opts.memo);
  try {
    if (opts.header !== undefined) {
      if (!Number.isInteger(opts.header) || opts.header < 0 || opts.header > 255)
        throw new InvalidArgumentError('encodeTree: header must be a byte');
      enc.buf[enc.pos++] = opts.header;
    }
    enc.value(value, 0);
    return enc.buf.slice(0, enc.pos);
  } finally {
    // Keep the (possibly grown) buffer unless it became huge.
    scratch = enc.buf.length <= 1 << 20 ? enc.buf : buf;
  }
}

// ------------------------------------------------------------------------------------------------
// Decoder

class Decoder {
  pos: number;
  private strings: string[] = [];

  constructor(
    private readonly b: Uint8Array,
    offset: number,
    private readonly code: string,
    private readonly exts: readonly TreeExtension[],
  ) {
    this.pos = offset;
  }

  fail(what: string): never {
    throw new DecodeError(this.code, `invalid stored tree: ${what}`, { details: `offset ${this.pos}` });
  }

  u8(): number {
    if (this.pos >= this.b.length) this.fail('truncated');
    return this.b[this.pos++]!;
  }

  varint(): number {
    const b = this.b;
    let p = this.pos;
    let n = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      if (p >= b.length) this.fail('truncated varint');
      const x = b[p++]!;
      n += (x & 0x7f) * mul;
      if (x < 0x80) {
        if (n > Number.MAX_SAFE_INTEGER) break;
        this.pos = p;
        return n;
      }
      mul *= 128;
    }
    return this.fail('varint too large');
  }

  /** A length that must fit in the remaining input. */
  len(): number {
    const n = this.varint();
    if (n > this.b.length - this.pos) this.fail('length beyond end of input');
    return n;
  }

  utf8(n: number): string {
    const b = this.b;
    const start = this.pos;
    const end = start + n;
    this.pos = end;
    if (n <= 64) {
      let s = '';
      for (let i = start; i < end; i++) {
        const c = b[i]!;
        if (c >= 0x80) return this.utf8Slow(start, end);
        s += String.fromCharCode(c);
      }
      return s;
    }
    return this.utf8Slow(start, end);
  }

  private utf8Slow(start: number, end: number): string {
    try {
      return textDecoder.decode(this.b.subarray(start, end));
    } catch {
      return this.fail('invalid UTF-8');
    }
  }

  /** A string reference; `undefined` for the end-of-object marker. */
  ref(): string | undefined {
    const r = this.varint();
    if (r === 0) return undefined;
    if (r % 2 === 0) {
      const s = this.strings[r / 2 - 1];
      if (s === undefined) this.fail('unknown string reference');
      return s;
    }
    const n = (r - 1) / 2;
    if (n > this.b.length - this.pos) this.fail('length beyond end of input');
    const s = this.utf8(n);
    this.strings.push(s);
    return s;
  }

  value(depth: number): unknown {
    const t = this.u8();
    if (t >= T_SMALL) return t - T_SMALL;
    switch (t) {
      case T_UNDEFINED:
        return undefined;
      case T_NULL:
        return null;
      case T_FALSE:
        return false;
      case T_TRUE:
        return true;
      case T_UINT:
        return this.varint();
      case T_NINT: {
        const n = this.varint();
        return n === 0 ? this.fail('negative zero integer') : -n;
      }
      case T_F64: {
        if (this.b.length - this.pos < 8) this.fail('truncated float');
        F64B.set(this.b.subarray(this.pos, this.pos + 8));
        this.pos += 8;
        return F64.getFloat64(0, true);
      }
      case T_BIG_POS:
        return BigInt(this.varint());
      case T_BIG_NEG:
        return -BigInt(this.varint());
      case T_BIG_POS_LONG:
      case T_BIG_NEG_LONG: {
        const n = this.len();
        if (n === 0) this.fail('empty bigint');
        let hex = '0x';
        for (let i = 0; i < n; i++) hex += (this.b[this.pos + i]! + 0x100).toString(16).slice(1);
        this.pos += n;
        const v = BigInt(hex);
        return t === T_BIG_POS_LONG ? v : -v;
      }
      case T_STR_REF: {
        const s = this.ref();
        return s === undefined ? this.fail('empty string reference') : s;
      }
      case T_STR:
        return this.utf8(this.len());
      case T_BYTES: {
        const n = this.len();
        const out = this.b.slice(this.pos, this.pos + n);
        this.pos += n;
        return out;
      }
      case T_ARRAY: {
        if (depth >= MAX_TREE_DEPTH) this.fail('nesting too deep');
        // Every element takes at least one byte: the count is bounded by the input.
        const n = this.len();
        const out = new Array<unknown>(n);
        for (let i = 0; i < n; i++) out[i] = this.value(depth + 1);
        return out;
      }
      case T_OBJECT: {
        if (depth >= MAX_TREE_DEPTH) this.fail('nesting too deep');
        const o: Record<string, unknown> = {};
        for (;;) {
          const k = this.ref();
          if (k === undefined) return o;
          const v = this.value(depth + 1);
          if (k === '__proto__')
            Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
          else o[k] = v;
        }
      }
      case T_SCOPE: {
        if (depth >= MAX_TREE_DEPTH) this.fail('nesting too deep');
        const outer = this.strings;
        this.strings = [];
        const v = this.value(depth + 1);
        this.strings = outer;
        return v;
      }
      case T_EXT: {
        const id = this.u8();
        const n = this.len();
        const ext = this.exts.find((e) => e.id === id);
        if (!ext) this.fail(`unknown extension ${id}`);
        const body = this.b.slice(this.pos, this.pos + n);
        this.pos += n;
        try {
          return ext.decode(body);
        } catch (e) {
          throw new DecodeError(this.code, `invalid stored tree: extension ${id}`, { cause: e });
        }
      }
      default:
        return this.fail(`unknown tag 0x${t.toString(16)}`);
    }
  }
}

/**
 * Decodes one value written by {@link encodeTree}, starting at `opts.offset` and ending exactly
 * at the end of `bytes`. Throws only {@link DecodeError} (code `opts.code`) on malformed input;
 * work and allocations are bounded by the input length.
 */
export function decodeTree(bytes: Uint8Array, opts: DecodeTreeOptions = {}): unknown {
  const code = opts.code ?? 'TREE_INVALID';
  const d = new Decoder(bytes, opts.offset ?? 0, code, opts.extensions ?? []);
  try {
    const v = d.value(0);
    if (d.pos !== bytes.length) d.fail('trailing bytes');
    return v;
  } catch (e) {
    if (e instanceof DecodeError) throw e;
    // e.g. a stack overflow on a pathological input, or a BigInt parse error.
    throw new DecodeError(code, 'invalid stored tree', {
      details: e instanceof Error ? e.message : String(e),
      cause: e,
    });
  }
}
