import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeRecord, encodeRecord, RECORD_MARKER } from '../../src/node/channels/codec.js';
import { toHex, utf8 } from '../../src/protocol/encoding/bytes.js';
import { DecodeError } from '../../src/protocol/errors.js';

/** The JSON records written before the binary format (the former encoder). */
function legacyRecord(value: unknown): Uint8Array {
  return utf8(
    JSON.stringify(value, (_k, v: unknown) => {
      if (typeof v === 'bigint') return { $n: v.toString() };
      if (v instanceof Uint8Array) return { $b: toHex(v) };
      return v;
    }),
  );
}

const record = fc.record(
  {
    paymentHash: fc.uint8Array({ minLength: 32, maxLength: 32 }).map(toHex),
    amountMsat: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    feeMsat: fc.bigInt({ min: -(1n << 70n), max: 1n << 70n }),
    status: fc.constantFrom('pending', 'succeeded', 'failed'),
    createdAt: fc.maxSafeNat(),
    preimage: fc.option(fc.uint8Array({ minLength: 32, maxLength: 32 }), { nil: undefined }),
    description: fc.string({ unit: 'grapheme', maxLength: 200 }),
    parts: fc.array(
      fc.record(
        { channelId: fc.uint8Array({ maxLength: 32 }), htlcId: fc.bigInt({ min: 0n, max: 1n << 64n }) },
        { noNullPrototype: true },
      ),
      { maxLength: 5 },
    ),
  },
  { requiredKeys: ['paymentHash', 'amountMsat', 'status', 'parts'], noNullPrototype: true },
);

describe('node record codec', () => {
  it('binary records start with the marker and round-trip exactly (undefined fields kept)', () => {
    fc.assert(
      fc.property(record, (r) => {
        const enc = encodeRecord(r);
        expect(enc[0]).toBe(RECORD_MARKER);
        expect(decodeRecord(enc)).toStrictEqual(r);
      }),
      { numRuns: 200 },
    );
    const withUndefined = { a: 1n, b: undefined };
    expect(Object.keys(decodeRecord<object>(encodeRecord(withUndefined)))).toEqual(['a', 'b']);
  });

  it('legacy JSON records still decode (bigint, bytes; undefined fields were dropped)', () => {
    fc.assert(
      fc.property(record, (r) => {
        const back = decodeRecord<Record<string, unknown>>(legacyRecord(r));
        expect(back).toEqual(r);
        for (const [k, v] of Object.entries(r)) if (v === undefined) expect(k in back).toBe(false);
      }),
      { numRuns: 200 },
    );
    expect(decodeRecord(utf8('{"x":{"$n":"-12"},"y":{"$b":"00ff"},"z":[1,"a",null]}'))).toStrictEqual({
      x: -12n,
      y: Uint8Array.from([0, 255]),
      z: [1, 'a', null],
    });
    expect(decodeRecord(utf8(' 5'))).toBe(5);
  });

  it('is smaller than the JSON it replaces', () => {
    const r = {
      paymentHash: 'ab'.repeat(32),
      amountMsat: 1_000_000n,
      feeMsat: 0n,
      parts: [1, 2, 3].map((i) => ({
        channelId: new Uint8Array(32).fill(i),
        htlcId: BigInt(i),
        amountMsat: 1000n,
      })),
    };
    expect(encodeRecord(r).length).toBeLessThan(legacyRecord(r).length / 2);
  });

  it('garbage, truncations and corrupted records only throw DecodeError RECORD_INVALID', () => {
    const check = (b: Uint8Array) => {
      try {
        decodeRecord(b);
      } catch (e) {
        expect(e).toBeInstanceOf(DecodeError);
        expect((e as DecodeError).code).toBe('RECORD_INVALID');
      }
    };
    fc.assert(
      fc.property(record, fc.nat(), fc.uint8Array({ maxLength: 80 }), (r, cut, junk) => {
        for (const enc of [encodeRecord(r), legacyRecord(r)]) {
          check(enc.subarray(0, cut % enc.length));
          const bad = Uint8Array.from(enc);
          bad[cut % bad.length]! ^= 0x5a;
          check(bad);
        }
        check(junk);
        check(Uint8Array.of(RECORD_MARKER, ...junk));
      }),
      { numRuns: 300 },
    );
    for (const b of [new Uint8Array(0), Uint8Array.of(RECORD_MARKER), utf8('{"a":'), Uint8Array.of(0xff)])
      expect(() => decodeRecord(b)).toThrow(DecodeError);
  });
});
