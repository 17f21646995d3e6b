/**
 * Payment onion processing at a hop (04-onion-routing.md, "Onion Decryption", "`payload`
 * format" reader requirements on blinding, "Route Blinding" reader of `encrypted_recipient_data`).
 */
import { DecodeError } from '../errors.js';
import { type EncryptedData, unblindHop } from './blinding.js';
import { FailureCode, OnionBlindingError, OnionPayloadError, OnionPeelError } from './errors.js';
import { decodePaymentPayload, PayloadRecordError, type PaymentHopPayload } from './payload.js';
import { PAYMENT_ONION_LENGTH, peelSphinx } from './sphinx.js';

/** Options of {@link peelOnion}. */
export interface PeelOnionOptions {
  /** `path_key` (blinding point) from the incoming `update_add_htlc`, if any. */
  blindingPoint?: Uint8Array;
}

/** Route-blinding data of a blinded hop. */
export interface BlindedHopInfo {
  /** The path key used (`E_i`). */
  pathKey: Uint8Array;
  /** True when the path key came from `current_path_key` (this node is the introduction point). */
  introductionNode: boolean;
  /** Decrypted `encrypted_data_tlv` bytes. */
  raw: Uint8Array;
  data: EncryptedData;
  /** Path key to send with the forwarded HTLC (`update_add_htlc` `path_key`). */
  nextPathKey: Uint8Array;
}

/** Result of {@link peelOnion}. */
export interface PeeledOnion {
  /** Shared secret with the origin (keep it to encrypt a failure). */
  sharedSecret: Uint8Array;
  /** The decrypted payload TLV bytes. */
  rawPayload: Uint8Array;
  /** Decoded payload. */
  payload: PaymentHopPayload;
  /** The 1366-byte packet to forward, or undefined at the final node. */
  nextPacket: Uint8Array | undefined;
  /** True when this node is the final destination (all-zero next HMAC). */
  final: boolean;
  /** Present when the payload carries `encrypted_recipient_data`. */
  blinded?: BlindedHopInfo;
}

/**
 * Peels one layer of a payment onion (`onion_routing_packet`, 1366 bytes) with the node's
 * private key and the payment hash as associated data.
 *
 * Errors (all {@link DecodeError}s):
 * - {@link OnionPeelError}: version / key / HMAC failure → `update_fail_malformed_htlc` with
 *   `failureCode` and `sha256OfOnion`.
 * - {@link OnionBlindingError}: blinded-route failure → `invalid_onion_blinding`.
 * - {@link OnionPayloadError}: payload not understood → `invalid_onion_payload` with the
 *   offending type/offset.
 *
 * With a blinding point (inside a blinded route) every failure is reported as
 * {@link OnionBlindingError}, as BOLT #4 requires. The caller MUST also turn its own later
 * failures into `invalid_onion_blinding` when `blinded` is set and the hop is not final.
 *
 * With a blinding point, the node key is tweaked per BOLT #4 and the same ECDH result decrypts
 * `encrypted_recipient_data`; with `current_path_key` in the payload (introduction node) one
 * more ECDH is needed. Semantic payload rules (required fields, amounts, CLTV) are the caller's.
 */
export function peelOnion(
  packet: Uint8Array,
  nodePrivKey: Uint8Array,
  associatedData: Uint8Array,
  opts: PeelOnionOptions = {},
): PeeledOnion {
  if (packet.length !== PAYMENT_ONION_LENGTH)
    throw new OnionPeelError(
      'ONION_BAD_LENGTH',
      `payment onion must be ${PAYMENT_ONION_LENGTH} bytes`,
      FailureCode.invalid_onion_hmac,
      packet,
    );
  let peeled: ReturnType<typeof peelSphinx>;
  let payload: PaymentHopPayload;
  try {
    peeled = peelSphinx(packet, nodePrivKey, associatedData, {
      ...(opts.blindingPoint !== undefined ? { blindingPoint: opts.blindingPoint } : {}),
      minPayloadLength: 2,
    });
    payload = decodeHopPayload(peeled.payload, peeled.sharedSecret);
  } catch (e) {
    // BOLT #4: an erring node: if `path_key` is set in the incoming `update_add_htlc`:
    // MUST return an `invalid_onion_blinding` error.
    if (opts.blindingPoint !== undefined && !(e instanceof OnionBlindingError))
      throw new OnionBlindingError('blinded onion cannot be processed', packet, sharedSecretOf(e), {
        cause: e,
      });
    throw e;
  }
  const ss = peeled.sharedSecret;
  const out: PeeledOnion = {
    sharedSecret: ss,
    rawPayload: peeled.payload,
    payload,
    nextPacket: peeled.nextPacket,
    final: peeled.nextPacket === undefined,
  };

  const erd = payload.encryptedRecipientData;
  if (opts.blindingPoint !== undefined) {
    // BOLT #4: If `path_key` is set in the incoming `update_add_htlc`:
    //   MUST return an error if `current_path_key` is present.
    if (payload.currentPathKey !== undefined)
      throw new OnionBlindingError('current_path_key present with a path_key', packet, ss);
    if (erd === undefined)
      throw new OnionBlindingError('blinded hop without encrypted_recipient_data', packet, ss);
  }
  if (erd !== undefined) {
    const pathKey = opts.blindingPoint ?? payload.currentPathKey;
    // BOLT #4: Otherwise: MUST return an error if `current_path_key` is not present.
    if (pathKey === undefined)
      throw new OnionBlindingError('encrypted_recipient_data without a path key', packet, ss);
    try {
      const u = unblindHop(nodePrivKey, pathKey, erd, peeled.blindingSharedSecret);
      out.blinded = {
        pathKey,
        introductionNode: opts.blindingPoint === undefined,
        raw: u.raw,
        data: u.data,
        nextPathKey: u.nextPathKey,
      };
    } catch (e) {
      throw new OnionBlindingError('encrypted_recipient_data is invalid', packet, ss, { cause: e });
    }
  }
  return out;
}

function decodeHopPayload(bytes: Uint8Array, ss: Uint8Array): PaymentHopPayload {
  try {
    return decodePaymentPayload(bytes);
  } catch (e) {
    if (e instanceof PayloadRecordError)
      throw new OnionPayloadError(
        'ONION_PAYLOAD_INVALID',
        e.shortMessage,
        ss,
        { tlvType: e.tlvType, offset: e.offset },
        { cause: e },
      );
    const msg = e instanceof DecodeError ? e.shortMessage : 'invalid payload';
    throw new OnionPayloadError('ONION_PAYLOAD_INVALID', msg, ss, {}, { cause: e });
  }
}

function sharedSecretOf(e: unknown): Uint8Array | undefined {
  return e instanceof OnionPayloadError ? e.sharedSecret : undefined;
}
