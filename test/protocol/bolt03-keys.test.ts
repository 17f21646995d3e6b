/** BOLT 3 keys: key derivation (Appendix E), per-commitment secrets (Appendix D). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { secp } from '../../src/protocol/crypto/secp256k1.js';
import { DecodeError } from '../../src/protocol/errors.js';
import {
  derivePrivkey,
  derivePubkey,
  deriveRevocationPrivkey,
  deriveRevocationPubkey,
  generateFromSeed,
  perCommitmentPoint,
  perCommitmentSecret,
  SHACHAIN_MAX_INDEX,
  ShachainError,
  ShachainStore,
} from '../../src/protocol/keys/index.js';
import { hex, loadVector, toHex } from '../helpers/vectors.js';

describe('BOLT 3 Appendix E: key derivation', () => {
  const V = loadVector('bolt03/key-derivation.json');
  const c = V.common;
  const baseSecret = hex(c.base_secret);
  const pcSecret = hex(c.per_commitment_secret);
  const basePoint = hex(c.base_point);
  const pcPoint = hex(c.per_commitment_point);

  it('has consistent inputs', () => {
    expect(toHex(secp().publicKey(baseSecret))).toBe(c.base_point);
    expect(toHex(perCommitmentPoint(pcSecret))).toBe(c.per_commitment_point);
  });

  const compute: Record<string, () => Uint8Array> = {
    localpubkey: () => derivePubkey(basePoint, pcPoint),
    localprivkey: () => derivePrivkey(baseSecret, pcPoint, basePoint),
    revocationpubkey: () => deriveRevocationPubkey(basePoint, pcPoint),
    revocationprivkey: () => deriveRevocationPrivkey(baseSecret, pcSecret),
  };
  for (const tc of V.cases) {
    it(tc.name, () => {
      const f = compute[tc.output_name];
      expect(f, tc.output_name).toBeDefined();
      expect(toHex(f!())).toBe(tc.output);
    });
  }

  it('private keys match their public keys', () => {
    expect(toHex(secp().publicKey(derivePrivkey(baseSecret, pcPoint)))).toBe(
      toHex(derivePubkey(basePoint, pcPoint)),
    );
    expect(toHex(secp().publicKey(deriveRevocationPrivkey(baseSecret, pcSecret)))).toBe(
      toHex(deriveRevocationPubkey(basePoint, pcPoint)),
    );
  });

  it('covers all 4 cases', () => expect(V.cases.length).toBe(4));
});

describe('BOLT 3 Appendix D: per-commitment secret generation', () => {
  const V = loadVector('bolt03/per-commitment-secret-generation.json');
  for (const tc of V.cases) {
    it(tc.name, () => {
      expect(toHex(generateFromSeed(hex(tc.seed), tc.index))).toBe(tc.output);
    });
  }
  it('maps commitment numbers to indices counting down from 2^48-1', () => {
    const seed = hex(V.cases[1].seed);
    expect(toHex(perCommitmentSecret(seed, 0))).toBe(toHex(generateFromSeed(seed, SHACHAIN_MAX_INDEX)));
    expect(toHex(perCommitmentSecret(seed, 5))).toBe(toHex(generateFromSeed(seed, SHACHAIN_MAX_INDEX - 5)));
  });
  it('covers all 5 cases', () => expect(V.cases.length).toBe(5));
});

describe('BOLT 3 Appendix D: per-commitment secret storage', () => {
  const V = loadVector('bolt03/per-commitment-secret-storage.json');
  for (const tc of V.cases) {
    it(tc.name, () => {
      let store = ShachainStore.empty();
      const seen: { index: number; secret: string }[] = [];
      for (const step of tc.steps) {
        if (step.expect === 'OK') {
          store = store.insert(step.index, hex(step.secret));
          seen.push({ index: step.index, secret: step.secret });
          // Every secret inserted so far is derivable, also after a persistence round trip.
          const restored = ShachainStore.decode(store.encode());
          for (const s of seen) {
            expect(toHex(store.secretAt(s.index)!)).toBe(s.secret);
            expect(toHex(restored.secretAt(s.index)!)).toBe(s.secret);
          }
        } else {
          expect(step.expect).toBe('ERROR');
          let err: unknown;
          try {
            store.insert(step.index, hex(step.secret));
          } catch (e) {
            err = e;
          }
          expect(err).toBeInstanceOf(ShachainError);
          expect((err as ShachainError).code).toBe('SHACHAIN_INCONSISTENT_SECRET');
        }
      }
    });
  }
  it('covers all 9 sequences', () => expect(V.cases.length).toBe(9));
  it('rejects out-of-order indices and reports unknown ones', () => {
    const seed = new Uint8Array(32).fill(7);
    const s = ShachainStore.empty().insert(SHACHAIN_MAX_INDEX, generateFromSeed(seed, SHACHAIN_MAX_INDEX));
    expect(() => s.insert(SHACHAIN_MAX_INDEX - 2, generateFromSeed(seed, SHACHAIN_MAX_INDEX - 2))).toThrow(
      ShachainError,
    );
    expect(s.secretAt(SHACHAIN_MAX_INDEX - 1)).toBeUndefined();
    expect(s.count).toBe(1);
  });
});

describe('BOLT 3 shachain properties', () => {
  it('inserting a correct sequence always succeeds and derives every old secret', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.integer({ min: 1, max: 70 }),
        (seed, n) => {
          let store = ShachainStore.empty();
          for (let k = 0; k < n; k++)
            store = store.insert(SHACHAIN_MAX_INDEX - k, perCommitmentSecret(seed, k));
          expect(store.count).toBe(n);
          expect(store.entries().length).toBeLessThanOrEqual(49);
          const restored = ShachainStore.decode(store.encode());
          expect(toHex(restored.encode())).toBe(toHex(store.encode()));
          for (let k = 0; k < n; k++) {
            const want = toHex(perCommitmentSecret(seed, k));
            expect(toHex(store.secretForCommitment(k)!)).toBe(want);
            expect(toHex(restored.secretForCommitment(k)!)).toBe(want);
          }
          expect(store.secretForCommitment(n)).toBeUndefined();
          // Continuing after a restore works like continuing the original.
          expect(toHex(restored.insert(store.nextIndex, perCommitmentSecret(seed, n)).encode())).toBe(
            toHex(store.insert(store.nextIndex, perCommitmentSecret(seed, n)).encode()),
          );
        },
      ),
      { numRuns: 25 },
    );
  });

  it('decoding random bytes and truncations only throws DecodeError', () => {
    const seed = new Uint8Array(32).fill(3);
    let store = ShachainStore.empty();
    for (let k = 0; k < 20; k++) store = store.insert(SHACHAIN_MAX_INDEX - k, perCommitmentSecret(seed, k));
    const valid = store.encode();
    const check = (b: Uint8Array) => {
      try {
        ShachainStore.decode(b);
      } catch (e) {
        expect(e).toBeInstanceOf(DecodeError);
      }
    };
    for (let i = 0; i < valid.length; i++) check(valid.subarray(0, i));
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => check(b)));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: valid.length - 1 }), fc.integer({ min: 1, max: 255 }), (i, x) => {
        const b = Uint8Array.from(valid);
        b[i]! ^= x;
        check(b);
      }),
    );
  });
});
