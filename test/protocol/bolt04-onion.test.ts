/**
 * BOLT #4 Sphinx onion construction and per-hop processing: fixtures/vectors/bolt04/onion-test.json,
 * plus payload codec and robustness properties.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sha256 } from '../../src/protocol/crypto/hash.js';
import { secp } from '../../src/protocol/crypto/secp256k1.js';
import { Reader } from '../../src/protocol/encoding/reader.js';
import { DecodeError } from '../../src/protocol/errors.js';
import {
  createOnionPacket,
  decodePaymentPayload,
  encodePaymentPayload,
  FailureCode,
  OnionPayloadError,
  OnionPeelError,
  type PaymentHopPayload,
  peelOnion,
  peelSphinx,
} from '../../src/protocol/onion/index.js';
import { hex, loadVector, toHex } from '../helpers/vectors.js';

const V = loadVector('bolt04/onion-test.json');

/** The vector's payloads carry their BigSize length prefix; strip it. */
function stripLength(prefixed: Uint8Array): Uint8Array {
  const r = new Reader(prefixed);
  const len = Number(r.bigsize());
  const out = r.rest();
  expect(out.length).toBe(len);
  return out;
}

describe('BOLT 4 onion-test.json: packet construction', () => {
  const hops = (V.generate.hops as { pubkey: string; payload: string }[]).map((h) => ({
    pubkey: hex(h.pubkey),
    payload: stripLength(hex(h.payload)),
  }));

  it('builds the onion byte-exact from the session key, payloads and associated data', () => {
    const built = createOnionPacket({
      sessionKey: hex(V.generate.session_key),
      hops,
      associatedData: hex(V.generate.associated_data),
    });
    expect(toHex(built.packet)).toBe(V.onion);
  });

  it('peels every hop with its private key: payload, next onion, final flag', () => {
    const ad = hex(V.generate.associated_data);
    const built = createOnionPacket({ sessionKey: hex(V.generate.session_key), hops, associatedData: ad });
    let packet = hex(V.onion);
    const privs = V.decode as string[];
    expect(privs.length).toBe(hops.length);
    for (let i = 0; i < privs.length; i++) {
      const priv = hex(privs[i]!);
      expect(toHex(secp().publicKey(priv))).toBe(V.generate.hops[i].pubkey);
      // The packet this hop receives carries the sender's ephemeral key for it.
      expect(toHex(packet.subarray(1, 34))).toBe(toHex(built.hopKeys[i]!.ephemeralPubKey));
      const out = peelOnion(packet, priv, ad);
      expect(toHex(out.rawPayload)).toBe(toHex(hops[i]!.payload));
      expect(toHex(out.sharedSecret)).toBe(toHex(built.sharedSecrets[i]!));
      expect(toHex(encodePaymentPayload(out.payload))).toBe(toHex(hops[i]!.payload));
      if (i < privs.length - 1) {
        expect(out.final).toBe(false);
        expect(out.nextPacket).toBeDefined();
        expect(out.nextPacket!.length).toBe(1366);
        packet = out.nextPacket!;
      } else {
        expect(out.final).toBe(true);
        expect(out.nextPacket).toBeUndefined();
      }
    }
  });

  it('decodes the vector payload fields', () => {
    const p0 = decodePaymentPayload(hops[0]!.payload);
    expect(p0.amtToForward).toBe(BigInt(0x3a98));
    expect(p0.outgoingCltvValue).toBe(0x5dc);
    expect(p0.shortChannelId).toBe(1n);
    const p1 = decodePaymentPayload(hops[1]!.payload);
    expect(p1.extra?.length).toBe(1);
    expect(p1.extra?.[0]?.type).toBe(513n);
    const p4 = decodePaymentPayload(hops[4]!.payload);
    expect(p4.paymentData?.totalMsat).toBe(10000n);
    expect(p4.shortChannelId).toBeUndefined();
  });
});

describe('BOLT 4 onion processing errors', () => {
  const ad = hex(V.generate.associated_data);
  const priv0 = hex(V.decode[0]);
  const onion = hex(V.onion);

  it('rejects an unknown version with invalid_onion_version and sha256 of the onion', () => {
    const bad = onion.slice();
    bad[0] = 1;
    const e = catchErr(() => peelOnion(bad, priv0, ad));
    expect(e).toBeInstanceOf(OnionPeelError);
    expect((e as OnionPeelError).failureCode).toBe(FailureCode.invalid_onion_version);
    expect(toHex((e as OnionPeelError).sha256OfOnion)).toBe(toHex(sha256(bad)));
  });

  it('rejects an invalid ephemeral key with invalid_onion_key', () => {
    for (const prefix of [4, 2]) {
      const bad = onion.slice();
      bad[1] = prefix;
      if (prefix === 2) bad.fill(0xff, 2, 34); // x >= p: not on the curve
      const e = catchErr(() => peelOnion(bad, priv0, ad));
      expect(e).toBeInstanceOf(OnionPeelError);
      expect((e as OnionPeelError).failureCode).toBe(FailureCode.invalid_onion_key);
    }
  });

  it('rejects a flipped bit (payload, hmac or associated data) with invalid_onion_hmac', () => {
    for (const idx of [40, 1000, 1365]) {
      const bad = onion.slice();
      bad[idx]! ^= 1;
      const e = catchErr(() => peelOnion(bad, priv0, ad));
      expect((e as OnionPeelError).failureCode).toBe(FailureCode.invalid_onion_hmac);
    }
    const e = catchErr(() => peelOnion(onion, priv0, new Uint8Array(32)));
    expect((e as OnionPeelError).failureCode).toBe(FailureCode.invalid_onion_hmac);
  });

  it('reports invalid_onion_payload with type and offset for an unknown even type', () => {
    const payload = encodePaymentPayload({ amtToForward: 1000n, outgoingCltvValue: 100, extra: [] });
    const withEven = new Uint8Array([...payload, 0x20, 0x01, 0x00]); // type 32, len 1
    const built = createOnionPacket({
      sessionKey: hex(V.generate.session_key),
      hops: [{ pubkey: hex(V.generate.hops[0].pubkey), payload: withEven }],
      associatedData: ad,
    });
    const e = catchErr(() => peelOnion(built.packet, priv0, ad));
    expect(e).toBeInstanceOf(OnionPayloadError);
    const pe = e as OnionPayloadError;
    expect(pe.failureCode).toBe(FailureCode.invalid_onion_payload);
    expect(pe.tlvType).toBe(32n);
    expect(pe.offset).toBe(payload.length);
    expect(toHex(pe.sharedSecret)).toBe(toHex(built.sharedSecrets[0]!));
  });

  it('rejects payload lengths 0 and 1 for payments but allows them for onion messages', () => {
    for (const payload of [new Uint8Array(0), new Uint8Array([1])]) {
      const built = createOnionPacket({
        sessionKey: hex(V.generate.session_key),
        hops: [{ pubkey: hex(V.generate.hops[0].pubkey), payload }],
        associatedData: ad,
      });
      expect(catchErr(() => peelOnion(built.packet, priv0, ad))).toBeInstanceOf(OnionPayloadError);
      expect(toHex(peelSphinx(built.packet, priv0, ad).payload)).toBe(toHex(payload));
    }
  });

  it('supports other packet lengths (onion messages)', () => {
    const hops = [0, 1, 2].map((i) => ({
      pubkey: hex(V.generate.hops[i].pubkey),
      payload: new Uint8Array(40 + i).fill(i + 1),
    }));
    for (const packetLength of [300, 32768]) {
      const built = createOnionPacket({
        sessionKey: hex(V.generate.session_key),
        hops,
        associatedData: ad,
        packetLength,
      });
      expect(built.packet.length).toBe(packetLength + 66);
      let pkt: Uint8Array | undefined = built.packet;
      for (let i = 0; i < 3; i++) {
        const out = peelSphinx(pkt!, hex(V.decode[i]), ad);
        expect(toHex(out.payload)).toBe(toHex(hops[i]!.payload));
        pkt = out.nextPacket;
        expect(pkt === undefined).toBe(i === 2);
      }
    }
  });
});

function catchErr(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error');
}

const bytesN = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

const payloadArb: fc.Arbitrary<PaymentHopPayload> = fc
  .record(
    {
      amtToForward: u64,
      outgoingCltvValue: fc.integer({ min: 0, max: 0xffffffff }),
      shortChannelId: u64,
      paymentData: fc.record({ paymentSecret: bytesN(32), totalMsat: u64 }),
      encryptedRecipientData: fc.uint8Array({ maxLength: 80 }),
      currentPathKey: fc.constantFrom(hex(V.generate.hops[0].pubkey), hex(V.generate.hops[1].pubkey)),
      paymentMetadata: fc.uint8Array({ maxLength: 40 }),
      totalAmountMsat: u64,
      keysendPreimage: bytesN(32),
      extra: fc
        .uniqueArray(fc.bigInt({ min: 0n, max: 1n << 40n }), { maxLength: 3, selector: (t) => t })
        .map((ts) =>
          ts
            .map((t) => t * 2n + 1n)
            .filter((t) => t !== 5482373484n)
            .sort((a, b) => (a < b ? -1 : 1))
            .map((type) => ({ type, value: new Uint8Array([Number(type % 256n)]) })),
        ),
    },
    { requiredKeys: [] },
  )
  .map((p) => {
    if (p.extra !== undefined && p.extra.length === 0) delete p.extra;
    return p;
  });

describe('BOLT 4 payment payload properties', () => {
  it('decode(encode(p)) equals p', () => {
    fc.assert(
      fc.property(payloadArb, (p) => {
        expect(decodePaymentPayload(encodePaymentPayload(p))).toEqual(p);
      }),
      { numRuns: 300 },
    );
  });

  it('random bytes only ever throw DecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (b) => {
        try {
          decodePaymentPayload(b);
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('truncations of valid payloads only ever throw DecodeError', () => {
    fc.assert(
      fc.property(payloadArb, fc.nat(), (p, cut) => {
        const enc = encodePaymentPayload(p);
        try {
          decodePaymentPayload(enc.subarray(0, enc.length === 0 ? 0 : cut % enc.length));
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('BOLT 4 onion robustness', () => {
  const ad = hex(V.generate.associated_data);
  const priv0 = hex(V.decode[0]);
  const onion = hex(V.onion);

  it('random onions only ever throw DecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 1400 }), (b) => {
        try {
          peelOnion(b, priv0, ad);
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('random 1366-byte onions with a valid key only ever throw DecodeError', () => {
    fc.assert(
      fc.property(bytesN(1366 - 34), fc.boolean(), (rest, blinded) => {
        const b = new Uint8Array(1366);
        b.set(onion.subarray(0, 34));
        b.set(rest, 34);
        try {
          peelOnion(b, priv0, ad, blinded ? { blindingPoint: rest.subarray(0, 33) } : {});
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 40 },
    );
  });

  it('onions with a corrupted payload but a recomputed valid HMAC only throw DecodeError', () => {
    // Builds packets whose HMAC verifies but whose decrypted payload is random bytes.
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 200 }), (payload) => {
        const built = createOnionPacket({
          sessionKey: hex(V.generate.session_key),
          hops: [{ pubkey: hex(V.generate.hops[0].pubkey), payload }],
          associatedData: ad,
        });
        try {
          peelOnion(built.packet, priv0, ad);
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 60 },
    );
  });
});
