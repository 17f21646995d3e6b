/**
 * BOLT #4 failure messages and returned error packets (04-onion-routing.md, "Returning Errors"
 * and "Failure Messages"). Attributable errors (`attribution_data`) are not implemented.
 *
 * `failuremsg` = `u16 failure_code || data || [tlv_stream]`. The erring node wraps it as
 * `hmac(um) || u16 failure_len || failuremsg || u16 pad_len || pad`, XORs the `ammag` stream;
 * every hop on the way back XORs its own `ammag` stream; the origin peels the layers with each
 * hop's keys until the `um` HMAC matches.
 */
import { hmacSha256 } from '../crypto/hash.js';
import { Reader } from '../encoding/reader.js';
import { decodeTlvStream, encodeTlvStream, type TlvRecord } from '../encoding/tlv.js';
import { Writer } from '../encoding/writer.js';
import { DecodeError, InvalidArgumentError } from '../errors.js';
import { BADONION, FailureCode, type FailureName, NODE, PERM, UPDATE } from './errors.js';
import { generateKey, macEqual, xorStreamInPlace } from './keys.js';

/** Fields common to every decoded failure. */
interface FailureBase {
  /** Optional TLV extension after the failure data (kept when it parses as a TLV stream). */
  tlvs?: TlvRecord[];
}

type Simple<N extends FailureName> = FailureBase & { name: N };
type OnionHash<N extends FailureName> = FailureBase & { name: N; sha256OfOnion: Uint8Array };
type WithUpdate<N extends FailureName, X = object> = FailureBase & { name: N; channelUpdate: Uint8Array } & X;

/** A decoded BOLT #4 failure message. `channelUpdate` is the raw (possibly empty) bytes. */
export type FailureMessage =
  | Simple<'temporary_node_failure'>
  | Simple<'permanent_node_failure'>
  | Simple<'required_node_feature_missing'>
  | OnionHash<'invalid_onion_version'>
  | OnionHash<'invalid_onion_hmac'>
  | OnionHash<'invalid_onion_key'>
  | WithUpdate<'temporary_channel_failure'>
  | Simple<'permanent_channel_failure'>
  | Simple<'required_channel_feature_missing'>
  | Simple<'unknown_next_peer'>
  | WithUpdate<'amount_below_minimum', { htlcMsat: bigint }>
  | WithUpdate<'fee_insufficient', { htlcMsat: bigint }>
  | WithUpdate<'incorrect_cltv_expiry', { cltvExpiry: number }>
  | WithUpdate<'expiry_too_soon'>
  | (FailureBase & { name: 'incorrect_or_unknown_payment_details'; htlcMsat: bigint; height: number })
  | (FailureBase & { name: 'final_incorrect_cltv_expiry'; cltvExpiry: number })
  | (FailureBase & { name: 'final_incorrect_htlc_amount'; incomingHtlcAmt: bigint })
  | WithUpdate<'channel_disabled', { disabledFlags: number }>
  | Simple<'expiry_too_far'>
  | (FailureBase & { name: 'invalid_onion_payload'; tlvType: bigint; offset: number })
  | Simple<'mpp_timeout'>
  | OnionHash<'invalid_onion_blinding'>
  | (FailureBase & { name: 'unknown'; code: number; data: Uint8Array });

const NAME_BY_CODE = new Map<number, FailureName>(
  (Object.entries(FailureCode) as [FailureName, number][]).map(([n, c]) => [c, n]),
);

/** The numeric `failure_code` of a failure. */
export function failureCodeOf(f: FailureMessage): number {
  return f.name === 'unknown' ? f.code : FailureCode[f.name];
}

/** Flags of a failure code. */
export function failureFlags(code: number): {
  badOnion: boolean;
  perm: boolean;
  node: boolean;
  update: boolean;
} {
  return {
    badOnion: (code & BADONION) !== 0,
    perm: (code & PERM) !== 0,
    node: (code & NODE) !== 0,
    update: (code & UPDATE) !== 0,
  };
}

function writeUpdate(w: Writer, u: Uint8Array): void {
  if (u.length > 0xffff) throw new InvalidArgumentError('channel_update too long');
  w.u16(u.length).bytes(u);
}

/** Encodes `failuremsg` (code, data, optional TLV extension). */
export function encodeFailureMessage(f: FailureMessage): Uint8Array {
  const w = new Writer(64);
  w.u16(failureCodeOf(f));
  switch (f.name) {
    case 'invalid_onion_version':
    case 'invalid_onion_hmac':
    case 'invalid_onion_key':
    case 'invalid_onion_blinding':
      if (f.sha256OfOnion.length !== 32) throw new InvalidArgumentError('sha256_of_onion must be 32 bytes');
      w.bytes(f.sha256OfOnion);
      break;
    case 'temporary_channel_failure':
    case 'expiry_too_soon':
      writeUpdate(w, f.channelUpdate);
      break;
    case 'amount_below_minimum':
    case 'fee_insufficient':
      w.u64(f.htlcMsat);
      writeUpdate(w, f.channelUpdate);
      break;
    case 'incorrect_cltv_expiry':
      w.u32(f.cltvExpiry);
      writeUpdate(w, f.channelUpdate);
      break;
    case 'incorrect_or_unknown_payment_details':
      w.u64(f.htlcMsat).u32(f.height);
      break;
    case 'final_incorrect_cltv_expiry':
      w.u32(f.cltvExpiry);
      break;
    case 'final_incorrect_htlc_amount':
      w.u64(f.incomingHtlcAmt);
      break;
    case 'channel_disabled':
      w.u16(f.disabledFlags);
      writeUpdate(w, f.channelUpdate);
      break;
    case 'invalid_onion_payload':
      w.bigsize(f.tlvType).u16(f.offset);
      break;
    case 'unknown':
      if (NAME_BY_CODE.has(f.code)) throw new InvalidArgumentError(`code ${f.code} is a known failure`);
      w.bytes(f.data);
      break;
    default:
      break;
  }
  if (f.tlvs !== undefined && f.tlvs.length > 0) w.bytes(encodeTlvStream(f.tlvs));
  return w.finish();
}

/**
 * Decodes `failuremsg`. Throws DecodeError on a truncated code or data. Bytes after the data
 * are kept as `tlvs` when they form a valid TLV stream and otherwise ignored (BOLT #4:
 * "MUST ignore any extra bytes in `failuremsg`"). Unassigned codes decode as `unknown`.
 */
export function decodeFailureMessage(bytes: Uint8Array): FailureMessage {
  const r = new Reader(bytes);
  const code = r.u16();
  const name = NAME_BY_CODE.get(code);
  const upd = () => r.bytes(r.u16()).slice();
  let f: FailureMessage;
  switch (name) {
    case undefined:
      return { name: 'unknown', code, data: r.rest().slice() };
    case 'invalid_onion_version':
    case 'invalid_onion_hmac':
    case 'invalid_onion_key':
    case 'invalid_onion_blinding':
      f = { name, sha256OfOnion: r.bytes(32).slice() };
      break;
    case 'temporary_channel_failure':
    case 'expiry_too_soon':
      f = { name, channelUpdate: upd() };
      break;
    case 'amount_below_minimum':
    case 'fee_insufficient': {
      const htlcMsat = r.u64();
      f = { name, htlcMsat, channelUpdate: upd() };
      break;
    }
    case 'incorrect_cltv_expiry': {
      const cltvExpiry = r.u32();
      f = { name, cltvExpiry, channelUpdate: upd() };
      break;
    }
    case 'incorrect_or_unknown_payment_details': {
      const htlcMsat = r.u64();
      f = { name, htlcMsat, height: r.u32() };
      break;
    }
    case 'final_incorrect_cltv_expiry':
      f = { name, cltvExpiry: r.u32() };
      break;
    case 'final_incorrect_htlc_amount':
      f = { name, incomingHtlcAmt: r.u64() };
      break;
    case 'channel_disabled': {
      const disabledFlags = r.u16();
      f = { name, disabledFlags, channelUpdate: upd() };
      break;
    }
    case 'invalid_onion_payload': {
      const tlvType = r.bigsize();
      f = { name, tlvType, offset: r.u16() };
      break;
    }
    default:
      f = { name };
  }
  if (!r.done) {
    try {
      const tlvs = decodeTlvStream(r.rest());
      if (tlvs.length > 0) f.tlvs = tlvs.map((t) => ({ type: t.type, value: t.value.slice() }));
    } catch {
      // BOLT #4: the origin node MUST ignore any extra bytes in `failuremsg`.
    }
  }
  return f;
}

/** Default minimum of `failure_len + pad_len` (BOLT #4: at least 256, SHOULD be exactly 256). */
export const ERROR_PAD_TARGET = 256;
const HMAC_LEN = 32;

/**
 * Builds the unobfuscated return packet at the erring node:
 * `HMAC(um, rest) || u16 failure_len || failuremsg || u16 pad_len || 0^pad_len` with
 * `failure_len + pad_len = max(padTo, failure_len)`.
 */
export function encodeReturnPacket(
  sharedSecret: Uint8Array,
  failureMessage: Uint8Array,
  padTo: number = ERROR_PAD_TARGET,
): Uint8Array {
  if (padTo < ERROR_PAD_TARGET) throw new InvalidArgumentError('padTo must be at least 256');
  if (failureMessage.length > 0xffff) throw new InvalidArgumentError('failure message too long');
  const padLen = Math.max(0, padTo - failureMessage.length);
  if (padLen > 0xffff) throw new InvalidArgumentError('padding too long');
  const body = new Writer(4 + failureMessage.length + padLen)
    .u16(failureMessage.length)
    .bytes(failureMessage)
    .u16(padLen)
    .bytes(new Uint8Array(padLen))
    .finish();
  const out = new Uint8Array(HMAC_LEN + body.length);
  out.set(hmacSha256(generateKey('um', sharedSecret), body));
  out.set(body, HMAC_LEN);
  return out;
}

/**
 * Applies one hop's `ammag` stream to an error packet (returns a new array). The erring node
 * and every intermediate node on the way back do this with their own shared secret
 * (BOLT #4 "Intermediate nodes": the transformation of the return packet).
 */
export function obfuscateErrorPacket(sharedSecret: Uint8Array, packet: Uint8Array): Uint8Array {
  const out = packet.slice();
  xorStreamInPlace(generateKey('ammag', sharedSecret), out);
  return out;
}

/**
 * Creates the error packet an erring node sends in `update_fail_htlc.reason`: the return
 * packet for `failure`, obfuscated with its own `ammag` key.
 */
export function createErrorPacket(
  sharedSecret: Uint8Array,
  failure: FailureMessage | Uint8Array,
  opts: { padTo?: number } = {},
): Uint8Array {
  const msg = failure instanceof Uint8Array ? failure : encodeFailureMessage(failure);
  return obfuscateErrorPacket(sharedSecret, encodeReturnPacket(sharedSecret, msg, opts.padTo));
}

/** Result of {@link decryptErrorPacket}. */
export type DecryptedError =
  | {
      attributed: true;
      /** Index (0 = first hop) of the erring node in the route. */
      hopIndex: number;
      /** Raw `failuremsg`. */
      failureMessage: Uint8Array;
      /** Decoded failure, or undefined if `failuremsg` is malformed (the hop is still to blame). */
      failure: FailureMessage | undefined;
    }
  | { attributed: false };

/** Dummy-decryption rounds an origin SHOULD run in total (BOLT #4: "repeated 27 times"). */
export const ERROR_DECRYPT_ROUNDS = 27;
const DUMMY_SECRET = new Uint8Array(32);

/**
 * Origin-side attribution: peels the `ammag` layer of each hop in route order and checks the
 * `um` HMAC; the first hop whose HMAC matches is the erring node. Keeps decrypting with a
 * constant dummy key up to {@link ERROR_DECRYPT_ROUNDS} rounds so timing does not reveal the
 * position. Returns `{ attributed: false }` when no hop matches. Never throws on any packet
 * content.
 */
export function decryptErrorPacket(packet: Uint8Array, sharedSecrets: readonly Uint8Array[]): DecryptedError {
  let cur = packet.slice();
  let found: DecryptedError = { attributed: false };
  const rounds = Math.max(ERROR_DECRYPT_ROUNDS, sharedSecrets.length);
  for (let i = 0; i < rounds; i++) {
    const real = i < sharedSecrets.length && !found.attributed;
    const ss = real ? sharedSecrets[i]! : DUMMY_SECRET;
    xorStreamInPlace(generateKey('ammag', ss), cur);
    if (cur.length < HMAC_LEN + 2) continue;
    const body = cur.subarray(HMAC_LEN);
    const ok = macEqual(hmacSha256(generateKey('um', ss), body), cur.subarray(0, HMAC_LEN));
    if (real && ok) found = parseReturnBody(i, body);
    if (!real) cur = packet.slice(); // dummy rounds: same work, no state to keep
  }
  return found;
}

function parseReturnBody(hopIndex: number, body: Uint8Array): DecryptedError {
  const len = (body[0]! << 8) | body[1]!;
  const failureMessage = body.slice(2, Math.min(body.length, 2 + len));
  let failure: FailureMessage | undefined;
  if (failureMessage.length === len) {
    try {
      failure = decodeFailureMessage(failureMessage);
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
    }
  }
  return { attributed: true, hopIndex, failureMessage, failure };
}
