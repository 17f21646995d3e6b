import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadNativeSecp256k1 } from '../../src/adapters/crypto/native-secp256k1.js';
import { nobleBackend } from '../../src/protocol/crypto/secp256k1.js';
import { InvalidArgumentError } from '../../src/protocol/errors.js';

const native = loadNativeSecp256k1();
const key = fc.uint8Array({ minLength: 32, maxLength: 32 }).filter((k) => nobleBackend.isPrivateKey(k));
const digest = fc.uint8Array({ minLength: 32, maxLength: 32 });

describe('crypto port: native libsecp256k1 backend equals noble', () => {
  it('public keys, signatures (RFC 6979), recovery ids and ECDH are byte-identical', () => {
    fc.assert(
      fc.property(key, key, digest, (a, b, d) => {
        expect(native.publicKey(a)).toEqual(nobleBackend.publicKey(a));
        expect(native.sign(d, a)).toEqual(nobleBackend.sign(d, a));
        expect(native.signRecoverable(d, a)).toEqual(nobleBackend.signRecoverable(d, a));
        const pb = nobleBackend.publicKey(b);
        expect(native.ecdh(a, pb)).toEqual(nobleBackend.ecdh(a, pb));
        expect(native.pointMul(pb, a)).toEqual(nobleBackend.pointMul(pb, a));
        const pa = nobleBackend.publicKey(a);
        if (!pa.slice(1).every((x, i) => x === pb[i + 1])) {
          expect(native.pointAdd(pa, pb)).toEqual(nobleBackend.pointAdd(pa, pb));
        }
        // pub + tweak * G, both backends, equal to the two-step form.
        const tweaked = nobleBackend.pointAddTweak(pb, a);
        expect(native.pointAddTweak(pb, a)).toEqual(tweaked);
        if (!pa.slice(1).every((x, i) => x === pb[i + 1]))
          expect(tweaked).toEqual(nobleBackend.pointAdd(pb, pa));
        expect(native.privAdd(a, b)).toEqual(nobleBackend.privAdd(a, b));
        expect(native.privMul(a, b)).toEqual(nobleBackend.privMul(a, b));
      }),
      { numRuns: 100 },
    );
  });

  it('verifies and recovers what the other backend signed; rejects a tampered digest', () => {
    fc.assert(
      fc.property(key, digest, (k, d) => {
        const pub = nobleBackend.publicKey(k);
        const sig = nobleBackend.signRecoverable(d, k);
        expect(native.verify(sig.signature, d, pub)).toBe(true);
        expect(native.recover(sig.signature, sig.recovery, d)).toEqual(pub);
        const d2 = Uint8Array.from(d);
        d2[0] = (d2[0]! + 1) & 0xff;
        expect(native.verify(sig.signature, d2, pub)).toBe(false);
        expect(nobleBackend.verify(sig.signature, d2, pub)).toBe(false);
      }),
      { numRuns: 100 },
    );
  });

  it('rejects invalid keys with InvalidArgumentError like noble does', () => {
    const zero = new Uint8Array(32);
    expect(native.isPrivateKey(zero)).toBe(false);
    expect(native.isPoint(new Uint8Array(33))).toBe(false);
    expect(() => native.publicKey(zero)).toThrow(InvalidArgumentError);
    expect(() => native.ecdh(new Uint8Array(32).fill(1), new Uint8Array(33))).toThrow(InvalidArgumentError);
  });

  it('pointAddTweak: a zero tweak gives the point back; a tweak at or above the order and an invalid point are refused', () => {
    const pub = nobleBackend.publicKey(new Uint8Array(32).fill(7));
    const zero = new Uint8Array(32);
    expect(native.pointAddTweak(pub, zero)).toEqual(pub);
    expect(nobleBackend.pointAddTweak(pub, zero)).toEqual(pub);
    const order = Uint8Array.from(
      Buffer.from('fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141', 'hex'),
    );
    for (const b of [native, nobleBackend]) {
      expect(() => b.pointAddTweak(pub, order)).toThrow(InvalidArgumentError);
      expect(() => b.pointAddTweak(new Uint8Array(33).fill(5), zero)).toThrow(InvalidArgumentError);
    }
  });
});
