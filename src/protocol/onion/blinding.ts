/**
 * BOLT #4 route blinding (04-onion-routing.md, "Route Blinding" and "Inside
 * `encrypted_recipient_data`: `encrypted_data_tlv`").
 *
 * Creation (by the recipient): path keys `E_{i+1} = SHA256(E_i || ss_i) * E_i`, blinded ids
 * `B_i = HMAC256("blinded_node_id", ss_i) * N_i`, and `encrypted_recipient_data` =
 * ChaCha20-Poly1305(rho_i, zero nonce, encrypted_data_tlv). Reading (by each hop): the same
 * `ss_i = ECDH(k_i, E_i)` gives the blinded private key, the decryption key and the next path key.
 */
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { secp } from '../crypto/secp256k1.js';
import { Reader } from '../encoding/reader.js';
import { decodeTlvStream, encodeTlvStream, type TlvRecord } from '../encoding/tlv.js';
import { Writer } from '../encoding/writer.js';
import { DecodeError, InvalidArgumentError } from '../errors.js';
import { blindedNodeIdTweak, blindingFactor, generateKey } from './keys.js';

const ZERO_NONCE = new Uint8Array(12);

/** TLV types of `encrypted_data_tlv`. */
export const EncryptedDataType = {
  padding: 1n,
  shortChannelId: 2n,
  nextNodeId: 4n,
  pathId: 6n,
  nextPathKeyOverride: 8n,
  paymentRelay: 10n,
  paymentConstraints: 12n,
  allowedFeatures: 14n,
} as const;

/** `payment_relay`: how a blinded hop computes the forwarded amount and expiry. */
export interface PaymentRelay {
  /** u16. */
  cltvExpiryDelta: number;
  /** u32. */
  feeProportionalMillionths: number;
  /** tu32 (msat). */
  feeBaseMsat: bigint;
}

/** `payment_constraints`: limits on HTLCs using the blinded hop. */
export interface PaymentConstraints {
  /** u32 block height. */
  maxCltvExpiry: number;
  /** tu64 (msat). */
  htlcMinimumMsat: bigint;
}

/** A decoded `encrypted_data_tlv`. */
export interface EncryptedData {
  padding?: Uint8Array;
  shortChannelId?: bigint;
  /** 33-byte node id of the next hop. */
  nextNodeId?: Uint8Array;
  pathId?: Uint8Array;
  /** 33-byte path key to hand to the next hop instead of the derived one. */
  nextPathKeyOverride?: Uint8Array;
  paymentRelay?: PaymentRelay;
  paymentConstraints?: PaymentConstraints;
  /** Feature bit field (must be empty when set by a compliant writer). */
  allowedFeatures?: Uint8Array;
  /** Unknown odd records, in type order. */
  extra?: TlvRecord[];
}

const KNOWN = new Set<bigint>(Object.values(EncryptedDataType));

/** Encodes an `encrypted_data_tlv` stream (plaintext). */
export function encodeEncryptedData(d: EncryptedData): Uint8Array {
  const recs: TlvRecord[] = [];
  const T = EncryptedDataType;
  if (d.padding !== undefined) recs.push({ type: T.padding, value: d.padding });
  if (d.shortChannelId !== undefined)
    recs.push({ type: T.shortChannelId, value: new Writer(8).u64(d.shortChannelId).finish() });
  if (d.nextNodeId !== undefined) recs.push({ type: T.nextNodeId, value: point33(d.nextNodeId) });
  if (d.pathId !== undefined) recs.push({ type: T.pathId, value: d.pathId });
  if (d.nextPathKeyOverride !== undefined)
    recs.push({ type: T.nextPathKeyOverride, value: point33(d.nextPathKeyOverride) });
  if (d.paymentRelay !== undefined) {
    const r = d.paymentRelay;
    recs.push({
      type: T.paymentRelay,
      value: new Writer(10)
        .u16(r.cltvExpiryDelta)
        .u32(r.feeProportionalMillionths)
        .truncated(r.feeBaseMsat, 4)
        .finish(),
    });
  }
  if (d.paymentConstraints !== undefined) {
    const c = d.paymentConstraints;
    recs.push({
      type: T.paymentConstraints,
      value: new Writer(12).u32(c.maxCltvExpiry).truncated(c.htlcMinimumMsat, 8).finish(),
    });
  }
  if (d.allowedFeatures !== undefined) recs.push({ type: T.allowedFeatures, value: d.allowedFeatures });
  for (const r of d.extra ?? []) {
    if (KNOWN.has(r.type)) throw new InvalidArgumentError(`extra record uses known type ${r.type}`);
    recs.push(r);
  }
  return encodeTlvStream(recs);
}

function point33(p: Uint8Array): Uint8Array {
  if (p.length !== 33) throw new InvalidArgumentError('point must be 33 bytes');
  return p;
}

function whole<T>(v: Uint8Array, what: string, fn: (r: Reader) => T): T {
  const r = new Reader(v);
  const out = fn(r);
  if (!r.done) throw new DecodeError('ENCDATA_FIELD_INVALID', `trailing bytes in ${what}`);
  return out;
}

function readPoint(v: Uint8Array, what: string): Uint8Array {
  if (v.length !== 33 || !secp().isPoint(v))
    throw new DecodeError('ENCDATA_FIELD_INVALID', `${what} is not a valid point`);
  return v.slice();
}

/**
 * Decodes an `encrypted_data_tlv` stream. Unknown even types fail (`TLV_UNKNOWN_EVEN`); BOLT #4:
 * "If the `encrypted_recipient_data` ... contains unknown even fields: MUST return an error".
 */
export function decodeEncryptedData(bytes: Uint8Array): EncryptedData {
  const T = EncryptedDataType;
  const recs = decodeTlvStream(bytes, (t) => KNOWN.has(t));
  const d: EncryptedData = {};
  const extra: TlvRecord[] = [];
  for (const { type, value } of recs) {
    switch (type) {
      case T.padding:
        d.padding = value.slice();
        break;
      case T.shortChannelId:
        d.shortChannelId = whole(value, 'short_channel_id', (r) => r.u64());
        break;
      case T.nextNodeId:
        d.nextNodeId = readPoint(value, 'next_node_id');
        break;
      case T.pathId:
        d.pathId = value.slice();
        break;
      case T.nextPathKeyOverride:
        d.nextPathKeyOverride = readPoint(value, 'next_path_key_override');
        break;
      case T.paymentRelay:
        d.paymentRelay = whole(value, 'payment_relay', (r) => ({
          cltvExpiryDelta: r.u16(),
          feeProportionalMillionths: r.u32(),
          feeBaseMsat: r.truncated(4),
        }));
        break;
      case T.paymentConstraints:
        d.paymentConstraints = whole(value, 'payment_constraints', (r) => ({
          maxCltvExpiry: r.u32(),
          htlcMinimumMsat: r.truncated(8),
        }));
        break;
      case T.allowedFeatures:
        d.allowedFeatures = value.slice();
        break;
      default:
        extra.push({ type, value: value.slice() });
    }
  }
  if (extra.length > 0) d.extra = extra;
  return d;
}

/** Encrypts an `encrypted_data_tlv` with `rho` (ChaCha20-Poly1305, zero nonce, no AAD). */
export function encryptRecipientData(rho: Uint8Array, plaintext: Uint8Array): Uint8Array {
  return chacha20poly1305(rho, ZERO_NONCE).encrypt(plaintext);
}

/**
 * Decrypts `encrypted_recipient_data` with `rho`. Throws DecodeError `ENCDATA_DECRYPT_FAILED`
 * when it does not authenticate.
 */
export function decryptRecipientData(rho: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  if (ciphertext.length < 16) throw new DecodeError('ENCDATA_DECRYPT_FAILED', 'encrypted data too short');
  try {
    return chacha20poly1305(rho, ZERO_NONCE).decrypt(ciphertext);
  } catch (e) {
    throw new DecodeError('ENCDATA_DECRYPT_FAILED', 'encrypted_recipient_data does not decrypt', {
      cause: e,
    });
  }
}

/** One node of a path to blind. */
export interface BlindedPathInput {
  /** The real node id `N_i`. */
  nodeId: Uint8Array;
  /** Plaintext `encrypted_data_tlv` for this node (see {@link encodeEncryptedData}). */
  encryptedData: Uint8Array;
}

/** A hop of a blinded path as handed to senders (`blinded_path_hop`). */
export interface BlindedHop {
  blindedNodeId: Uint8Array;
  encryptedRecipientData: Uint8Array;
}

/** `sciddir_or_pubkey`: a node id, or a short channel id plus direction bit (BOLT 12 compact form). */
export type IntroductionNode = { nodeId: Uint8Array } | { shortChannelId: bigint; direction: 0 | 1 };

/** A `blinded_path`. */
export interface BlindedPath {
  firstNodeId: IntroductionNode;
  /** `first_path_key` (`E_0`). */
  firstPathKey: Uint8Array;
  hops: BlindedHop[];
}

/** The creator's per-hop secrets (never part of the path handed out). */
export interface BlindedHopSecrets {
  /** `e_i`. */
  pathPrivKey: Uint8Array;
  /** `E_i`. */
  pathKey: Uint8Array;
  /** `ss_i`. */
  sharedSecret: Uint8Array;
  /** `rho_i`. */
  rho: Uint8Array;
}

/** Result of {@link createBlindedPath}. */
export interface CreatedBlindedPath {
  path: BlindedPath & { firstNodeId: { nodeId: Uint8Array } };
  secrets: BlindedHopSecrets[];
}

/**
 * Creates a blinded path over `hops` with the given first ephemeral secret `e_0` (the caller
 * draws it from a CSPRNG). To concatenate two paths, put the second path's `first_path_key`
 * into the last `encrypted_data_tlv` of the first as `next_path_key_override`.
 */
export function createBlindedPath(
  sessionKey: Uint8Array,
  hops: readonly BlindedPathInput[],
): CreatedBlindedPath {
  const s = secp();
  if (hops.length === 0) throw new InvalidArgumentError('blinded path needs at least one hop');
  if (!s.isPrivateKey(sessionKey)) throw new InvalidArgumentError('invalid blinded path session key');
  let e = sessionKey;
  const out: BlindedHop[] = [];
  const secrets: BlindedHopSecrets[] = [];
  for (let i = 0; i < hops.length; i++) {
    const hop = hops[i]!;
    const E = s.publicKey(e);
    let ss: Uint8Array;
    let blindedNodeId: Uint8Array;
    try {
      ss = s.ecdh(e, hop.nodeId);
      blindedNodeId = s.pointMul(hop.nodeId, blindedNodeIdTweak(ss));
    } catch (err) {
      throw new InvalidArgumentError(`invalid node id for blinded hop ${i}`, { cause: err });
    }
    const rho = generateKey('rho', ss);
    out.push({ blindedNodeId, encryptedRecipientData: encryptRecipientData(rho, hop.encryptedData) });
    secrets.push({ pathPrivKey: e, pathKey: E, sharedSecret: ss, rho });
    if (i + 1 < hops.length) e = s.privMul(e, blindingFactor(E, ss));
  }
  return {
    path: { firstNodeId: { nodeId: hops[0]!.nodeId }, firstPathKey: secrets[0]!.pathKey, hops: out },
    secrets,
  };
}

/** Result of {@link unblindHop}. */
export interface UnblindedHop {
  /** `ss_i = ECDH(k_i, E_i)`. */
  sharedSecret: Uint8Array;
  /** `b_i = HMAC256("blinded_node_id", ss_i) * k_i` (decrypts onions sent to `B_i`). */
  blindedPrivKey: Uint8Array;
  /** Decrypted `encrypted_data_tlv` bytes. */
  raw: Uint8Array;
  /** Decoded `encrypted_data_tlv`. */
  data: EncryptedData;
  /** Path key for the next hop: the override if present, else `SHA256(E_i || ss_i) * E_i`. */
  nextPathKey: Uint8Array;
}

/**
 * The reader side of route blinding: derives `ss_i`, the blinded private key and the next
 * path key, and decrypts and decodes `encrypted_recipient_data`. Pass `sharedSecret` if
 * `ECDH(nodePrivKey, pathKey)` was already computed (e.g. by the onion peel). Throws
 * DecodeError (`ENCDATA_DECRYPT_FAILED`, TLV codes, `PATH_KEY_INVALID`) on bad input.
 */
export function unblindHop(
  nodePrivKey: Uint8Array,
  pathKey: Uint8Array,
  encryptedRecipientData: Uint8Array,
  sharedSecret?: Uint8Array,
): UnblindedHop {
  const s = secp();
  let ss = sharedSecret;
  if (ss === undefined) {
    try {
      ss = s.ecdh(nodePrivKey, pathKey);
    } catch (e) {
      throw new DecodeError('PATH_KEY_INVALID', 'path key is not a valid point', { cause: e });
    }
  }
  const raw = decryptRecipientData(generateKey('rho', ss), encryptedRecipientData);
  const data = decodeEncryptedData(raw);
  const blindedPrivKey = s.privMul(nodePrivKey, blindedNodeIdTweak(ss));
  const nextPathKey = data.nextPathKeyOverride ?? deriveNextPathKey(pathKey, ss);
  return { sharedSecret: ss, blindedPrivKey, raw, data, nextPathKey };
}

/**
 * The derived next path key `E_{i+1} = SHA256(E_i || ss_i) * E_i` (used unless the hop's
 * `encrypted_data_tlv` carries `next_path_key_override`).
 */
export function deriveNextPathKey(pathKey: Uint8Array, sharedSecret: Uint8Array): Uint8Array {
  return secp().pointMul(pathKey, blindingFactor(pathKey, sharedSecret));
}

/** Encodes a `blinded_path` subtype. */
export function encodeBlindedPath(p: BlindedPath): Uint8Array {
  const w = new Writer(64 + p.hops.length * 100);
  writeIntroductionNode(w, p.firstNodeId);
  w.bytes(point33(p.firstPathKey));
  if (p.hops.length > 255) throw new InvalidArgumentError('blinded path has more than 255 hops');
  w.u8(p.hops.length);
  for (const h of p.hops) {
    if (h.encryptedRecipientData.length > 0xffff) throw new InvalidArgumentError('encrypted data too long');
    w.bytes(point33(h.blindedNodeId)).u16(h.encryptedRecipientData.length).bytes(h.encryptedRecipientData);
  }
  return w.finish();
}

function writeIntroductionNode(w: Writer, n: IntroductionNode): void {
  if ('nodeId' in n) w.bytes(point33(n.nodeId));
  else w.u8(n.direction).u64(n.shortChannelId);
}

/** Reads a `blinded_path` from `r` (used inside TLVs; may be followed by other data). */
export function readBlindedPath(r: Reader): BlindedPath {
  const first = r.u8();
  let firstNodeId: IntroductionNode;
  if (first === 0 || first === 1) {
    firstNodeId = { shortChannelId: r.u64(), direction: first };
  } else if (first === 2 || first === 3) {
    const rest = r.bytes(32);
    const id = new Uint8Array(33);
    id[0] = first;
    id.set(rest, 1);
    firstNodeId = { nodeId: id };
  } else {
    throw new DecodeError('BLINDED_PATH_INVALID', `invalid sciddir_or_pubkey prefix ${first}`);
  }
  const firstPathKey = r.bytes(33).slice();
  const n = r.u8();
  const hops: BlindedHop[] = [];
  for (let i = 0; i < n; i++) {
    const blindedNodeId = r.bytes(33).slice();
    const len = r.u16();
    hops.push({ blindedNodeId, encryptedRecipientData: r.bytes(len).slice() });
  }
  return { firstNodeId, firstPathKey, hops };
}

/** Decodes exactly one `blinded_path` (DecodeError on trailing bytes or truncation). */
export function decodeBlindedPath(bytes: Uint8Array): BlindedPath {
  const r = new Reader(bytes);
  const p = readBlindedPath(r);
  if (!r.done) throw new DecodeError('BLINDED_PATH_TRAILING', 'trailing bytes after blinded_path');
  return p;
}

/**
 * Amount a blinded intermediate hop forwards, from its `payment_relay` (BOLT #4 reader
 * requirements): `((amount_msat - fee_base_msat) * 1000000 + 1000000 + fee_proportional_millionths - 1)
 * / (1000000 + fee_proportional_millionths)`. Returns undefined if the amount does not cover the base fee.
 */
export function blindedForwardAmount(incomingMsat: bigint, relay: PaymentRelay): bigint | undefined {
  if (incomingMsat < relay.feeBaseMsat) return undefined;
  const prop = BigInt(relay.feeProportionalMillionths);
  return ((incomingMsat - relay.feeBaseMsat) * 1_000_000n + 1_000_000n + prop - 1n) / (1_000_000n + prop);
}
