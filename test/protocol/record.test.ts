import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/protocol/encoding/bytes.js';
import {
  decodeTree,
  encodeTree,
  MAX_TREE_DEPTH,
  type TreeExtension,
  type TreeMemo,
} from '../../src/protocol/encoding/record.js';
import { DecodeError, InvalidArgumentError } from '../../src/protocol/errors.js';

const roundTrip = (v: unknown, opts: Parameters<typeof encodeTree>[1] = {}) =>
  decodeTree(encodeTree(v, opts), { offset: opts.header === undefined ? 0 : 1, ...opts });

/** Every thrown error must be a DecodeError (any result is fine). */
function onlyDecodeErrors(bytes: Uint8Array, opts: Parameters<typeof decodeTree>[1] = {}): void {
  try {
    decodeTree(bytes, opts);
  } catch (e) {
    expect(e).toBeInstanceOf(DecodeError);
  }
}

// (An own `constructor` key is tested apart: toStrictEqual compares `constructor` properties.)
const key = fc.oneof(
  fc.constantFrom('amountMsat', 'id', 'type', '__proto__', '', '0', '12', 'toString'),
  fc.string({ maxLength: 40, unit: 'grapheme' }).filter((k) => k !== 'constructor'),
);
const leaf = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.maxSafeInteger(),
  fc.double(),
  fc.constantFrom(0, -0, 127, 128, 2 ** 32, -(2 ** 32), 2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 53, Number.NaN),
  fc.bigInt(),
  fc.bigInt({ min: -(1n << 300n), max: 1n << 300n }),
  fc.constantFrom(0n, -1n, (1n << 53n) - 1n, 1n << 53n, -(1n << 53n), (1n << 64n) - 1n),
  fc.string({ maxLength: 80, unit: 'grapheme' }),
  fc.string({
    maxLength: 80,
    unit: fc.constantFrom('a', '\u0000', '\u00e9', '\u20ac', '\u{1d11e}', '\u{10ffff}'),
  }),
  fc.uint8Array({ maxLength: 100 }),
);
const { tree } = fc.letrec((tie) => ({
  tree: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('array'), tie('object')),
  array: fc.array(tie('tree'), { maxLength: 6 }),
  object: fc.array(fc.tuple(key, tie('tree')), { maxLength: 6 }).map((entries) => {
    const o: Record<string, unknown> = {};
    for (const [k, v] of entries)
      Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
    return o;
  }),
}));

describe('record tree codec: round trip', () => {
  it('decode(encode(x)) is x for arbitrary plain trees (key order, undefined, bigint, bytes, unicode)', () => {
    fc.assert(
      fc.property(tree, fc.option(fc.integer({ min: 0, max: 255 }), { nil: undefined }), (x, header) => {
        const back = roundTrip(x, header === undefined ? {} : { header });
        expect(back).toStrictEqual(x);
        if (x !== null && typeof x === 'object' && !(x instanceof Uint8Array))
          expect(Object.keys(back as object)).toEqual(Object.keys(x));
        // Deterministic: re-encoding the decoded tree gives the same bytes.
        expect(encodeTree(back)).toEqual(encodeTree(x));
      }),
      { numRuns: 300 },
    );
  });

  it('keeps -0, NaN, infinities, integer boundaries and large bigints exactly', () => {
    const values = [
      -0,
      0,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      0.1,
      -1.5e300,
      Number.MIN_VALUE,
      127,
      128,
      2 ** 31,
      2 ** 32,
      Number.MAX_SAFE_INTEGER,
      -Number.MAX_SAFE_INTEGER,
      2 ** 53,
      -(2 ** 60),
      0n,
      1n,
      -1n,
      (1n << 53n) - 1n,
      1n << 53n,
      -((1n << 53n) - 1n),
      -(1n << 53n),
      (1n << 64n) - 1n,
      0xffffffffffffffffn,
      -(1n << 255n),
      1n << 1000n,
    ];
    for (const v of values) expect(Object.is(roundTrip(v), v) || roundTrip(v) === v).toBe(true);
    expect(roundTrip(values)).toStrictEqual(values);
  });

  it('keeps undefined-valued keys, array holes as undefined, integer-like key order and __proto__ keys', () => {
    const o = { b: 1, a: undefined, 2: 'two', 1: 'one', nested: { x: undefined } };
    const back = roundTrip(o) as Record<string, unknown>;
    expect(Object.keys(back)).toEqual(['1', '2', 'b', 'a', 'nested']);
    expect('a' in back).toBe(true);
    expect(back).toStrictEqual(o);
    // biome-ignore lint/suspicious/noSparseArray: a hole is what is tested
    expect(roundTrip([1, , 3])).toStrictEqual([1, undefined, 3]);
    const proto = JSON.parse('{"__proto__":{"polluted":true}}') as object;
    const p = roundTrip(proto) as Record<string, unknown>;
    expect(Object.getPrototypeOf(p)).toBe(Object.prototype);
    expect(Object.keys(p)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const c = roundTrip({ constructor: { a: 1n }, toString: 2 }) as Record<string, unknown>;
    expect(Object.keys(c)).toEqual(['constructor', 'toString']);
    expect(c.constructor).toStrictEqual({ a: 1n });
    expect(c.toString).toBe(2);
  });

  it('decodes bytes as fresh copies that never alias the input', () => {
    const bytes = Uint8Array.from([1, 2, 3, 4]);
    const enc = encodeTree({ a: bytes, b: bytes.subarray(1, 3) });
    const back = decodeTree(enc) as { a: Uint8Array; b: Uint8Array };
    expect(back.a).toStrictEqual(bytes);
    expect(back.b).toStrictEqual(Uint8Array.from([2, 3]));
    expect(back.a.buffer).not.toBe(enc.buffer);
    enc.fill(0);
    expect(back.a).toStrictEqual(Uint8Array.from([1, 2, 3, 4]));
    expect(back.a.byteOffset).toBe(0);
    expect(back.a.buffer.byteLength).toBe(4);
  });

  it('follows JSON for non-plain values: own enumerable keys, toJSON, functions and symbols', () => {
    class Point {
      x = 1;
      y = 2n;
      get sum(): number {
        return this.x;
      }
    }
    expect(roundTrip(new Point())).toStrictEqual({ x: 1, y: 2n });
    const d = new Date(0);
    expect(roundTrip({ d })).toStrictEqual({ d: d.toJSON() });
    expect(roundTrip({ f: () => 1, s: Symbol('x'), k: 1 })).toStrictEqual({ k: 1 });
    expect(roundTrip([() => 1, Symbol('x')])).toStrictEqual([null, null]);
    expect(roundTrip(new Map([[1, 2]]))).toStrictEqual({});
    const err = roundTrip(new InvalidArgumentError('bad')) as Record<string, unknown>;
    expect(err.code).toBe('INVALID_ARGUMENT');
  });

  it('interns keys and short strings: a repeated key costs one byte', () => {
    const one = encodeTree([{ amountMsat: 1 }]);
    const two = encodeTree([{ amountMsat: 1 }, { amountMsat: 1 }]);
    // The second object: tag + key reference + value + end = 4 bytes.
    expect(two.length - one.length).toBe(4);
    const s = encodeTree(['offered', 'offered', 'offered']);
    expect(s.length).toBe(2 + 1 + 1 + 7 + 2 * 2);
  });

  it('writes the layout its module documentation describes', () => {
    const enc = encodeTree(
      { a: 1, bb: [true, null, undefined, 300, -2, 5n, -5n, new Uint8Array([0xab])], a2: 'a' },
      { header: 0x01 },
    );
    expect(toHex(enc)).toBe(
      [
        '01', // header
        '0f', // object
        '03',
        '61',
        '81', // key "a" (new, 1 byte), 1
        '05',
        '6262', // key "bb" (new, 2 bytes)
        '0e',
        '08',
        '03',
        '01',
        '00', // array of 8: true, null, undefined
        '04',
        'ac02', // 300 varint
        '05',
        '02', // -2
        '07',
        '05',
        '08',
        '05', // 5n, -5n
        '0d',
        '01',
        'ab', // bytes
        '05',
        '6132', // key "a2"
        '0b',
        '02', // string "a": reference to entry 0
        '00', // end of object
      ].join(''),
    );
  });
});

describe('record tree codec: extensions and memoisation', () => {
  class Box {
    constructor(readonly n: number) {}
  }
  const boxExt: TreeExtension = {
    id: 7,
    match: (v) => v instanceof Box,
    encode: (v) => Uint8Array.of((v as Box).n),
    decode: (b) => {
      if (b.length !== 1) throw new Error('bad box');
      return new Box(b[0]!);
    },
  };

  it('writes extension values as their own bytes and rebuilds them', () => {
    const v = { box: new Box(9), list: [new Box(1)] };
    const back = roundTrip(v, { extensions: [boxExt] }) as typeof v;
    expect(back.box).toBeInstanceOf(Box);
    expect(back).toStrictEqual(v);
    const enc = encodeTree(v, { extensions: [boxExt] });
    // Unknown extension, or an extension decoder that throws a plain Error: DecodeError.
    expect(() => decodeTree(enc)).toThrow(DecodeError);
    const bad = encodeTree(
      { x: new Box(1) },
      { extensions: [{ ...boxExt, encode: () => new Uint8Array(2) }] },
    );
    expect(() => decodeTree(bad, { extensions: [boxExt], code: 'X' })).toThrow(DecodeError);
  });

  it('memoised subtrees round-trip and are copied from the cache', () => {
    const memo: TreeMemo = { cache: new WeakMap(), keys: new Set(['params']) };
    fc.assert(
      fc.property(tree, tree, tree, (p, a, b) => {
        const params = { p, k: 'amountMsat', n: 1n };
        const s1 = { amountMsat: a, params, k: 'amountMsat' };
        const s2 = { params, other: b, amountMsat: 2n };
        const e1 = encodeTree(s1, { memo });
        expect(memo.cache.has(params)).toBe(true);
        const e2 = encodeTree(s2, { memo });
        expect(decodeTree(e1)).toStrictEqual(s1);
        expect(decodeTree(e2)).toStrictEqual(s2);
        // Same tree, with and without memo: same values.
        expect(decodeTree(encodeTree(s2))).toStrictEqual(decodeTree(e2));
      }),
      { numRuns: 100 },
    );
  });

  it('rejects circular and too-deep trees with InvalidArgumentError', () => {
    const o: Record<string, unknown> = {};
    o.self = o;
    expect(() => encodeTree(o)).toThrow(InvalidArgumentError);
    let deep: unknown = 1;
    for (let i = 0; i < MAX_TREE_DEPTH + 1; i++) deep = [deep];
    expect(() => encodeTree(deep)).toThrow(InvalidArgumentError);
    expect(() => encodeTree(1, { header: 256 })).toThrow(InvalidArgumentError);
  });
});

describe('record tree codec: malformed input', () => {
  it('random bytes and truncations of valid encodings only throw DecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (junk) => onlyDecodeErrors(junk, { code: 'X' })),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(tree, fc.nat(), (x, cut) => {
        const enc = encodeTree(x);
        const short = enc.subarray(0, cut % Math.max(1, enc.length));
        expect(() => decodeTree(short)).toThrow(DecodeError);
        // A flipped byte: anything but a non-DecodeError exception.
        const flipped = Uint8Array.from(enc);
        const i = cut % enc.length;
        flipped[i] = flipped[i]! ^ (1 + (cut % 255));
        onlyDecodeErrors(flipped);
      }),
      { numRuns: 500 },
    );
  });

  it('bounds nesting, lengths and counts by the input', () => {
    const nested = new Uint8Array(200_000).fill(0x11); // scopes all the way down
    expect(() => decodeTree(nested)).toThrow(DecodeError);
    const arrays = new Uint8Array(200_000);
    for (let i = 0; i < arrays.length; i += 2) arrays.set([0x0e, 0x01], i);
    expect(() => decodeTree(arrays)).toThrow(DecodeError);
    // Huge counts/lengths fail before any allocation.
    for (const b of [
      [0x0e, 0xff, 0xff, 0xff, 0xff, 0x0f],
      [0x0d, 0xff, 0xff, 0xff, 0xff, 0x0f],
      [0x0c, 0xff, 0xff, 0xff, 0x7f],
      [0x09, 0xff, 0xff, 0xff, 0x7f],
      [0x0f, 0xff, 0xff, 0xff, 0x7f],
      [0x04, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], // varint > 8 bytes
      [0x04, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], // > 2^53 - 1
      [0x05, 0x00], // negative zero integer
      [0x0b, 0x02], // reference to an empty table
      [0x0b, 0x00], // end marker as a string
      [0x0f, 0x03, 0x61], // object without end
      [0x0c, 0x02, 0xc3, 0x28], // invalid UTF-8
      [0x81, 0x81], // trailing bytes
      [0x12],
      [],
    ])
      expect(() => decodeTree(Uint8Array.from(b), { code: 'RECORD_INVALID' })).toThrow(DecodeError);
    try {
      decodeTree(Uint8Array.of(0x12), { code: 'RECORD_INVALID' });
    } catch (e) {
      expect((e as DecodeError).code).toBe('RECORD_INVALID');
    }
  });
});
