/**
 * Node key material derived from one 32-byte node seed (deterministic; the derivation below is
 * part of the backup format and MUST NOT change without a version bump):
 *
 * - Node key (BOLT 8 static key, BOLT 11 signing key, BOLT 4 onion key):
 *   `HMAC-SHA256(key = seed, "farad/node-key/v1" || u32be(k))` for the first `k = 0, 1, ...`
 *   giving a valid secp256k1 scalar.
 * - Channel number `i` (a counter the channel manager persists and never reuses):
 *   `base_i = HMAC-SHA256(key = seed, "farad/channel/v1" || u64be(i))`, then each secret of
 *   {@link ChannelKeys} is `HMAC-SHA256(key = base_i, label || u32be(k))` for the first valid
 *   scalar, with labels `funding`, `revocation`, `payment`, `delayed_payment`, `htlc`; the BOLT 3
 *   per-commitment seed is `HMAC-SHA256(key = base_i, "per_commitment_seed")` (any 32 bytes).
 *
 * Everything is recomputable from the seed and the channel number alone.
 */
import type { ChannelKeys } from '../../core/channel/types.js';
import { hmacSha256 } from '../../protocol/crypto/hash.js';
import { secp } from '../../protocol/crypto/secp256k1.js';
import { concat, toHex, utf8 } from '../../protocol/encoding/bytes.js';
import { InvalidArgumentError } from '../../protocol/errors.js';

function u32be(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0);
  return b;
}

function u64be(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n));
  return b;
}

/** The first valid secp256k1 scalar of `HMAC-SHA256(key, label || u32be(k))`, k = 0, 1, ... */
function scalar(key: Uint8Array, label: string): Uint8Array {
  for (let k = 0; ; k++) {
    const s = hmacSha256(key, concat(utf8(label), u32be(k)));
    if (secp().isPrivateKey(s)) return s;
  }
}

/** How many channels' {@link ChannelKeys} {@link NodeKeys} keeps derived (least recently used evicted). */
export const CHANNEL_KEYS_CACHE_SIZE = 4096;

/** Keys of a node: its static node key and per-channel {@link ChannelKeys}. */
export class NodeKeys {
  readonly #seed: Uint8Array;
  /** Derived channel keys by index, least recently used first (bounded). */
  readonly #channels = new Map<number, Readonly<ChannelKeys>>();
  /** The node's static private key (32 bytes). */
  readonly nodeSecretKey: Uint8Array;
  /** The node's public key (33 bytes, compressed). */
  readonly nodePublicKey: Uint8Array;
  /** The node id: hex of {@link nodePublicKey}. */
  readonly nodeId: string;

  /** `seed`: 32 secret bytes (keep them backed up: every key below derives from them). */
  constructor(seed: Uint8Array) {
    if (!(seed instanceof Uint8Array) || seed.length !== 32)
      throw new InvalidArgumentError('node seed must be 32 bytes');
    this.#seed = seed.slice();
    this.nodeSecretKey = scalar(this.#seed, 'farad/node-key/v1');
    this.nodePublicKey = secp().publicKey(this.nodeSecretKey);
    this.nodeId = toHex(this.nodePublicKey);
  }

  /**
   * The secrets of channel number `index` (a non-negative integer, never reused). Memoised: the
   * same frozen object is returned for the same index (the channel and monitor managers ask on
   * every step, and the channel code memoises per-commitment secrets per keys object). Callers
   * MUST NOT mutate the returned object or its byte arrays.
   */
  channelKeys(index: number): ChannelKeys {
    if (!Number.isSafeInteger(index) || index < 0)
      throw new InvalidArgumentError('channel key index must be a non-negative integer');
    const hit = this.#channels.get(index);
    if (hit) {
      // Most recently used last.
      this.#channels.delete(index);
      this.#channels.set(index, hit);
      return hit;
    }
    const keys = Object.freeze(this.#deriveChannelKeys(index));
    this.#channels.set(index, keys);
    if (this.#channels.size > CHANNEL_KEYS_CACHE_SIZE) {
      const oldest = this.#channels.keys().next();
      if (!oldest.done) this.#channels.delete(oldest.value);
    }
    return keys;
  }

  #deriveChannelKeys(index: number): ChannelKeys {
    const base = hmacSha256(this.#seed, concat(utf8('farad/channel/v1'), u64be(index)));
    return {
      fundingPrivkey: scalar(base, 'funding'),
      revocationBasepointSecret: scalar(base, 'revocation'),
      paymentBasepointSecret: scalar(base, 'payment'),
      delayedPaymentBasepointSecret: scalar(base, 'delayed_payment'),
      htlcBasepointSecret: scalar(base, 'htlc'),
      perCommitmentSeed: hmacSha256(base, utf8('per_commitment_seed')),
    };
  }
}
