/**
 * BOLT #4 Sphinx packets (04-onion-routing.md, "Packet Structure", "Packet Construction",
 * "Filler Generation", "Onion Decryption").
 *
 * Generic over the `hop_payloads` length: 1300 bytes for payment onions
 * (`onion_routing_packet`), any length for `onion_message_packet`. The session key is passed in;
 * nothing here draws randomness.
 */

import { hmacSha256 } from '../crypto/hash.js';
import { secp } from '../crypto/secp256k1.js';
import { concat } from '../encoding/bytes.js';
import { Reader } from '../encoding/reader.js';
import { encodeBigSize } from '../encoding/writer.js';
import { DecodeError, InvalidArgumentError } from '../errors.js';
import { FailureCode, OnionBlindingError, OnionPayloadError, OnionPeelError } from './errors.js';
import {
  blindedNodeIdTweak,
  blindingFactor,
  computeHopKeys,
  generateCipherStream,
  generateKey,
  type HopKeys,
  macEqual,
  xorStreamInPlace,
} from './keys.js';

/** Size of `hop_payloads` in a payment onion. */
export const PAYMENT_HOP_PAYLOADS_LENGTH = 1300;
/** Size of a serialized payment `onion_routing_packet` (1 + 33 + 1300 + 32). */
export const PAYMENT_ONION_LENGTH = 1366;
/** Only version 0 is defined. */
export const ONION_VERSION = 0;
const HMAC_LEN = 32;
const HEADER_LEN = 1 + 33;

/** A parsed onion packet (no validation of the key beyond its length). */
export interface OnionPacket {
  version: number;
  /** 33-byte ephemeral public key. */
  publicKey: Uint8Array;
  /** Obfuscated `hop_payloads` (1300 bytes for payments). */
  hopPayloads: Uint8Array;
  /** 32-byte HMAC for the receiving node. */
  hmac: Uint8Array;
}

/** Serializes an onion packet: `version || public_key || hop_payloads || hmac`. */
export function encodeOnionPacket(p: OnionPacket): Uint8Array {
  if (p.publicKey.length !== 33) throw new InvalidArgumentError('onion public key must be 33 bytes');
  if (p.hmac.length !== HMAC_LEN) throw new InvalidArgumentError('onion hmac must be 32 bytes');
  return concat(Uint8Array.of(p.version), p.publicKey, p.hopPayloads, p.hmac);
}

/**
 * Splits a serialized onion packet. `hop_payloads` is everything between the 34-byte header
 * and the 32-byte HMAC; throws DecodeError `ONION_TOO_SHORT` below 66 bytes.
 */
export function decodeOnionPacket(bytes: Uint8Array): OnionPacket {
  if (bytes.length < HEADER_LEN + HMAC_LEN)
    throw new DecodeError('ONION_TOO_SHORT', 'onion packet shorter than 66 bytes');
  return {
    version: bytes[0]!,
    publicKey: bytes.slice(1, HEADER_LEN),
    hopPayloads: bytes.slice(HEADER_LEN, bytes.length - HMAC_LEN),
    hmac: bytes.slice(bytes.length - HMAC_LEN),
  };
}

/** One hop of a route to build an onion for. */
export interface SphinxHop {
  /** The key the hop decrypts with: its node id, or its blinded node id inside a blinded path. */
  pubkey: Uint8Array;
  /** The hop's payload bytes (a TLV stream), without the BigSize length prefix. */
  payload: Uint8Array;
}

/** Parameters of {@link createOnionPacket}. */
export interface CreateOnionParams {
  /** 32-byte session key (caller supplies fresh CSPRNG output; never reused). */
  sessionKey: Uint8Array;
  hops: readonly SphinxHop[];
  /** Associated data committed to by every HMAC (the payment hash; empty for onion messages). */
  associatedData: Uint8Array;
  /** `hop_payloads` length; default 1300 (payments). */
  packetLength?: number;
}

/** Result of {@link createOnionPacket}. */
export interface CreatedOnion {
  /** The serialized packet for the first hop. */
  packet: Uint8Array;
  /** Per-hop shared secrets (keep them to decrypt returned errors). */
  sharedSecrets: Uint8Array[];
  /** Per-hop ephemeral public keys and shared secrets. */
  hopKeys: HopKeys[];
}

function shiftSize(payload: Uint8Array): number {
  return encodeBigSize(BigInt(payload.length)).length + payload.length + HMAC_LEN;
}

/**
 * Generates the filler ("Filler Generation"): the bytes every forwarding hop appends (zeros
 * XORed with its rho stream) as they end up at the tail of the last hop's `hop_payloads`.
 * Efficient form: `filler_i = (filler_{i-1} || 0^shift_i) XOR rho_i[L - |filler_{i-1}| .. L + shift_i)`.
 */
export function generateFiller(
  hopPayloads: readonly Uint8Array[],
  sharedSecrets: readonly Uint8Array[],
  packetLength: number,
): Uint8Array {
  let filler: Uint8Array = new Uint8Array(0);
  for (let i = 0; i < hopPayloads.length - 1; i++) {
    const shift = shiftSize(hopPayloads[i]!);
    const next = new Uint8Array(filler.length + shift);
    next.set(filler);
    const stream = generateCipherStream(generateKey('rho', sharedSecrets[i]!), packetLength + shift);
    const start = packetLength - filler.length;
    for (let j = 0; j < next.length; j++) next[j]! ^= stream[start + j]!;
    filler = next;
  }
  return filler;
}

/**
 * Builds a Sphinx onion packet ("Packet Construction"), deterministic in the session key.
 *
 * The starting `hop_payloads` are the `pad`-key ChaCha20 stream; each hop, from the last,
 * right-shifts by `bigsize(len) + len + 32`, writes `bigsize(len) || payload || next_hmac`,
 * XORs its rho stream, (last hop only) overwrites the tail with the filler, and MACs
 * `hop_payloads || associated_data` with its mu key. Throws InvalidArgumentError when the
 * payloads do not fit or a key is invalid.
 */
export function createOnionPacket(params: CreateOnionParams): CreatedOnion {
  const L = params.packetLength ?? PAYMENT_HOP_PAYLOADS_LENGTH;
  const { hops, associatedData, sessionKey } = params;
  if (!Number.isInteger(L) || L <= 0) throw new InvalidArgumentError('packetLength must be positive');
  if (hops.length === 0) throw new InvalidArgumentError('onion needs at least one hop');
  let total = 0;
  for (const h of hops) total += shiftSize(h.payload);
  if (total > L) throw new InvalidArgumentError(`hop payloads need ${total} bytes, packet has ${L}`);

  const hopKeys = computeHopKeys(
    sessionKey,
    hops.map((h) => h.pubkey),
  );
  const secrets = hopKeys.map((k) => k.sharedSecret);
  const payloads = hops.map((h) => h.payload);
  const filler = generateFiller(payloads, secrets, L);

  const mix = generateCipherStream(generateKey('pad', sessionKey), L);
  let nextHmac: Uint8Array = new Uint8Array(HMAC_LEN);
  for (let i = hops.length - 1; i >= 0; i--) {
    const payload = payloads[i]!;
    const len = encodeBigSize(BigInt(payload.length));
    const shift = len.length + payload.length + HMAC_LEN;
    mix.copyWithin(shift, 0, L - shift);
    mix.set(len, 0);
    mix.set(payload, len.length);
    mix.set(nextHmac, len.length + payload.length);
    xorStreamInPlace(generateKey('rho', secrets[i]!), mix);
    if (i === hops.length - 1) mix.set(filler, L - filler.length);
    nextHmac = hmacSha256(generateKey('mu', secrets[i]!), concat(mix, associatedData));
  }
  const packet = encodeOnionPacket({
    version: ONION_VERSION,
    publicKey: hopKeys[0]!.ephemeralPubKey,
    hopPayloads: mix,
    hmac: nextHmac,
  });
  return { packet, sharedSecrets: secrets, hopKeys };
}

/** Options of {@link peelSphinx}. */
export interface PeelSphinxOptions {
  /**
   * Route-blinding `path_key` received alongside the onion (`update_add_htlc` TLV or
   * `onion_message`). The node key is tweaked by `HMAC256("blinded_node_id", ECDH(path_key, k))`.
   */
  blindingPoint?: Uint8Array;
  /** Minimum accepted payload length: 2 for payments (0/1 reserved), 0 for onion messages. */
  minPayloadLength?: number;
}

/** Result of {@link peelSphinx}. */
export interface PeeledSphinx {
  /** Shared secret with the sender (`ss`), for errors and key derivation. */
  sharedSecret: Uint8Array;
  /** The decrypted payload for this hop (without its length prefix). */
  payload: Uint8Array;
  /** The packet to forward, or undefined when this node is the final destination. */
  nextPacket: Uint8Array | undefined;
  /** `ECDH(path_key, node_privkey)` when a blinding point was given (route-blinding `ss_i`). */
  blindingSharedSecret: Uint8Array | undefined;
}

function isZero(b: Uint8Array): boolean {
  let d = 0;
  for (const x of b) d |= x;
  return d === 0;
}

/**
 * Processes one onion layer ("Onion Decryption"): checks version, ephemeral key and HMAC,
 * decrypts this hop's payload and builds the next packet (ephemeral key blinded by
 * `SHA256(public_key || ss)`).
 *
 * Cost: one ECDH, plus one point multiplication when forwarding (and one more ECDH with a
 * blinding point). Throws {@link OnionPeelError} for packet-level failures and
 * {@link OnionPayloadError} when the authenticated payload framing is invalid.
 */
export function peelSphinx(
  onion: Uint8Array,
  nodePrivKey: Uint8Array,
  associatedData: Uint8Array,
  opts: PeelSphinxOptions = {},
): PeeledSphinx {
  const s = secp();
  if (onion.length < HEADER_LEN + HMAC_LEN + 1)
    throw new OnionPeelError(
      'ONION_BAD_LENGTH',
      'onion packet too short',
      FailureCode.invalid_onion_hmac,
      onion,
    );
  const pkt = decodeOnionPacket(onion);
  // BOLT #4: if `version` is not 0: MUST abort processing the packet and fail.
  if (pkt.version !== ONION_VERSION)
    throw new OnionPeelError(
      'ONION_BAD_VERSION',
      `unknown onion version ${pkt.version}`,
      FailureCode.invalid_onion_version,
      onion,
    );
  const pub = pkt.publicKey;
  if (pub[0] !== 2 && pub[0] !== 3)
    throw new OnionPeelError(
      'ONION_BAD_KEY',
      'onion public key is not compressed',
      FailureCode.invalid_onion_key,
      onion,
    );

  let key = nodePrivKey;
  let blindingSharedSecret: Uint8Array | undefined;
  if (opts.blindingPoint !== undefined) {
    try {
      blindingSharedSecret = s.ecdh(nodePrivKey, opts.blindingPoint);
      key = s.privMul(nodePrivKey, blindedNodeIdTweak(blindingSharedSecret));
    } catch (e) {
      throw new OnionBlindingError('invalid blinding point', onion, undefined, { cause: e });
    }
  }
  let ss: Uint8Array;
  try {
    ss = s.ecdh(key, pub);
  } catch (e) {
    // BOLT #4: if `public_key` is not a valid pubkey: MUST abort processing the packet and fail.
    throw new OnionPeelError(
      'ONION_BAD_KEY',
      'invalid onion public key',
      FailureCode.invalid_onion_key,
      onion,
      {
        cause: e,
      },
    );
  }
  const L = pkt.hopPayloads.length;
  // BOLT #4: MUST use a constant time comparison of the computed HMAC and `hmac`.
  const mac = hmacSha256(generateKey('mu', ss), concat(pkt.hopPayloads, associatedData));
  if (!macEqual(mac, pkt.hmac))
    throw new OnionPeelError('ONION_BAD_HMAC', 'onion HMAC mismatch', FailureCode.invalid_onion_hmac, onion);

  const unwrapped = new Uint8Array(2 * L);
  unwrapped.set(pkt.hopPayloads);
  xorStreamInPlace(generateKey('rho', ss), unwrapped);

  const r = new Reader(unwrapped);
  let len: bigint;
  try {
    len = r.bigsize();
  } catch (e) {
    throw new OnionPayloadError('ONION_PAYLOAD_FRAMING', 'malformed payload length', ss, {}, { cause: e });
  }
  const min = BigInt(opts.minPayloadLength ?? 0);
  if (len < min)
    throw new OnionPayloadError('ONION_PAYLOAD_FRAMING', `payload length ${len} below ${min}`, ss);
  const start = r.offset;
  // BOLT #4: if `unwrapped_payloads` is smaller than `hop_payloads`: MUST abort.
  if (len + BigInt(start + HMAC_LEN) > BigInt(L))
    throw new OnionPayloadError('ONION_PAYLOAD_FRAMING', 'payload length exceeds the packet', ss);
  const n = Number(len);
  const payload = unwrapped.slice(start, start + n);
  const shift = start + n + HMAC_LEN;
  const nextHmac = unwrapped.subarray(start + n, shift);

  let nextPacket: Uint8Array | undefined;
  if (!isZero(nextHmac)) {
    const nextPub = s.pointMul(pub, blindingFactor(pub, ss));
    nextPacket = encodeOnionPacket({
      version: ONION_VERSION,
      publicKey: nextPub,
      hopPayloads: unwrapped.subarray(shift, shift + L),
      hmac: nextHmac,
    });
  }
  return { sharedSecret: ss, payload, nextPacket, blindingSharedSecret };
}
