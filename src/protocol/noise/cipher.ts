/**
 * BOLT #8 (08-transport.md) § "Cryptographic Primitives": the ChaCha20-Poly1305 AEAD with the
 * BOLT 8 nonce layout and the two-output HKDF used by the Noise handshake and by key rotation.
 */
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { DecodeError, InvalidArgumentError } from '../errors.js';

const EMPTY = new Uint8Array(0);

/**
 * The 96-bit ChaCha20-Poly1305 nonce for counter `n`.
 *
 * BOLT #8: "The nonce `n` is encoded as 32 zero bits, followed by a *little-endian* 64-bit value."
 */
export function noiseNonce(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('noise nonce out of range');
  const out = new Uint8Array(12);
  let v = n;
  for (let i = 4; i < 12; i++) {
    out[i] = v % 256;
    v = Math.floor(v / 256);
  }
  return out;
}

/**
 * `encryptWithAD(k, n, ad, plaintext)` (BOLT 8 § Cryptographic Primitives): ChaCha20-Poly1305
 * (RFC 8439) with a 32-byte key, the BOLT 8 nonce and associated data; returns ciphertext || 16-byte MAC.
 */
export function encryptWithAD(k: Uint8Array, n: number, ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
  if (k.length !== 32) throw new InvalidArgumentError('noise key must be 32 bytes');
  return chacha20poly1305(k, noiseNonce(n), ad).encrypt(plaintext);
}

/**
 * `decryptWithAD(k, n, ad, ciphertext)`: the inverse of {@link encryptWithAD}. A MAC failure (or a
 * ciphertext shorter than the MAC) throws {@link DecodeError} with the caller's `code`.
 */
export function decryptWithAD(
  k: Uint8Array,
  n: number,
  ad: Uint8Array,
  ciphertext: Uint8Array,
  code: string,
  message: string,
): Uint8Array {
  if (k.length !== 32) throw new InvalidArgumentError('noise key must be 32 bytes');
  if (ciphertext.length < 16)
    throw new DecodeError(code, message, { details: 'ciphertext shorter than MAC' });
  try {
    return chacha20poly1305(k, noiseNonce(n), ad).decrypt(ciphertext);
  } catch (e) {
    throw new DecodeError(code, message, { cause: e });
  }
}

/**
 * `HKDF(salt, ikm)` of BOLT 8: HKDF-SHA256 (RFC 5869) with a zero-length `info`, 64 bytes of
 * output split into two 32-byte halves.
 */
export function hkdf2(salt: Uint8Array, ikm: Uint8Array): [Uint8Array, Uint8Array] {
  const out = hkdf(sha256, ikm, salt, EMPTY, 64);
  return [out.slice(0, 32), out.slice(32, 64)];
}

/** `SHA256(a || b)`, the Noise `MixHash` step. */
export function mixHash(h: Uint8Array, data: Uint8Array): Uint8Array {
  return sha256.create().update(h).update(data).digest();
}
