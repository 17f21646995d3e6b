/**
 * BOLT #4 key derivation and stream primitives (04-onion-routing.md, "Key Generation",
 * "Pseudo Random Byte Stream", "Shared Secret", "Blinding Ephemeral Onion Keys").
 *
 * Every onion key is `HMAC-SHA256(key = key-type bytes, msg = 32-byte shared secret)`; the
 * pseudo-random stream is ChaCha20 over zero bytes with an all-zero 96-bit nonce.
 */
import { chacha20 } from '@noble/ciphers/chacha.js';
import { hmacSha256, sha256 } from '../crypto/hash.js';
import { secp } from '../crypto/secp256k1.js';
import { concat, utf8 } from '../encoding/bytes.js';
import { InvalidArgumentError } from '../errors.js';

/** Key-type labels of BOLT #4 (no C-style terminating zero byte). */
export type OnionKeyType = 'rho' | 'mu' | 'um' | 'pad' | 'ammag';

const KEY_LABELS: Record<OnionKeyType, Uint8Array> = {
  rho: utf8('rho'),
  mu: utf8('mu'),
  um: utf8('um'),
  pad: utf8('pad'),
  ammag: utf8('ammag'),
};

const ZERO_NONCE = new Uint8Array(12);
const BLINDED_NODE_ID_LABEL = utf8('blinded_node_id');

/**
 * Derives a BOLT #4 key: `HMAC256(keyType, secret)` ("Key Generation").
 * @param secret 32-byte shared secret (or session key for `pad`).
 */
export function generateKey(type: OnionKeyType, secret: Uint8Array): Uint8Array {
  if (secret.length !== 32) throw new InvalidArgumentError('onion key secret must be 32 bytes');
  return hmacSha256(KEY_LABELS[type], secret);
}

/**
 * `length` bytes of the ChaCha20 stream under `key` with the all-zero nonce
 * ("Pseudo Random Byte Stream").
 */
export function generateCipherStream(key: Uint8Array, length: number): Uint8Array {
  return chacha20(key, ZERO_NONCE, new Uint8Array(length));
}

/** XORs the ChaCha20 stream of `key` into `data` in place (stream offset 0). */
export function xorStreamInPlace(key: Uint8Array, data: Uint8Array): void {
  chacha20(key, ZERO_NONCE, data, data);
}

/**
 * BOLT #4 ECDH shared secret: `SHA256(compressed(priv * pub))` ("Shared Secret").
 * Throws InvalidArgumentError on an invalid key (callers parsing untrusted keys check first).
 */
export function sharedSecret(priv: Uint8Array, pub: Uint8Array): Uint8Array {
  return secp().ecdh(priv, pub);
}

/**
 * The ephemeral-key blinding factor `SHA256(ephemeralPubKey || sharedSecret)`
 * ("Blinding Ephemeral Onion Keys"); also the route-blinding path key tweak
 * `SHA256(E_i || ss_i)`.
 */
export function blindingFactor(ephemeralPub: Uint8Array, ss: Uint8Array): Uint8Array {
  return sha256(concat(ephemeralPub, ss));
}

/** Route blinding node-id tweak `HMAC256("blinded_node_id", ss)` (04, "Route Blinding"). */
export function blindedNodeIdTweak(ss: Uint8Array): Uint8Array {
  return hmacSha256(BLINDED_NODE_ID_LABEL, ss);
}

/** Constant-time equality of two equal-length MACs. */
export function macEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

/** Per-hop data the sender derives from the session key (shared secrets and ephemeral keys). */
export interface HopKeys {
  /** Ephemeral public key the hop sees in its packet (`epk_k`). */
  ephemeralPubKey: Uint8Array;
  /** Shared secret `ss_k` with the hop. */
  sharedSecret: Uint8Array;
}

/**
 * Computes, for each hop public key, the ephemeral public key and shared secret of the
 * Sphinx construction ("Packet Construction"): `ss_k = ECDH(ek_k, pk_k)`,
 * `ek_{k+1} = ek_k * SHA256(epk_k || ss_k)`. One ECDH and one base-point multiplication per hop.
 */
export function computeHopKeys(sessionKey: Uint8Array, hopPubKeys: readonly Uint8Array[]): HopKeys[] {
  const s = secp();
  if (!s.isPrivateKey(sessionKey)) throw new InvalidArgumentError('invalid session key');
  const out: HopKeys[] = [];
  let ek = sessionKey;
  for (let i = 0; i < hopPubKeys.length; i++) {
    const epk = s.publicKey(ek);
    let ss: Uint8Array;
    try {
      ss = s.ecdh(ek, hopPubKeys[i]!);
    } catch (e) {
      throw new InvalidArgumentError(`invalid public key for hop ${i}`, { cause: e });
    }
    out.push({ ephemeralPubKey: epk, sharedSecret: ss });
    if (i + 1 < hopPubKeys.length) ek = s.privMul(ek, blindingFactor(epk, ss));
  }
  return out;
}
