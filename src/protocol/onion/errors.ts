/**
 * Typed onion-processing errors (04-onion-routing.md, "Onion Decryption" and "Failure Messages").
 *
 * All of them are {@link DecodeError}s (the onion is untrusted input) and carry the BOLT #4
 * `failure_code` a processing node reports:
 * - {@link OnionPeelError}: the packet itself is bad (version, ephemeral key, HMAC, blinding).
 *   The node cannot derive a usable shared secret, so it MUST fail the HTLC with
 *   `update_fail_malformed_htlc` carrying `sha256_of_onion` and this `failureCode`.
 * - {@link OnionPayloadError}: the packet authenticated but the per-hop payload is not
 *   understood; the node reports `invalid_onion_payload` (PERM|22) in a normal encrypted
 *   failure using `sharedSecret`.
 */
import { sha256 } from '../crypto/hash.js';
import { DecodeError, type FaradErrorOptions } from '../errors.js';

/** BOLT #4 failure-code flag: unparsable onion encrypted by the sending peer. */
export const BADONION = 0x8000;
/** BOLT #4 failure-code flag: permanent failure. */
export const PERM = 0x4000;
/** BOLT #4 failure-code flag: node failure (otherwise channel). */
export const NODE = 0x2000;
/** BOLT #4 failure-code flag: channel forwarding parameter violated. */
export const UPDATE = 0x1000;

/** Numeric BOLT #4 failure codes. */
export const FailureCode = {
  temporary_node_failure: NODE | 2,
  permanent_node_failure: PERM | NODE | 2,
  required_node_feature_missing: PERM | NODE | 3,
  invalid_onion_version: BADONION | PERM | 4,
  invalid_onion_hmac: BADONION | PERM | 5,
  invalid_onion_key: BADONION | PERM | 6,
  temporary_channel_failure: UPDATE | 7,
  permanent_channel_failure: PERM | 8,
  required_channel_feature_missing: PERM | 9,
  unknown_next_peer: PERM | 10,
  amount_below_minimum: UPDATE | 11,
  fee_insufficient: UPDATE | 12,
  incorrect_cltv_expiry: UPDATE | 13,
  expiry_too_soon: UPDATE | 14,
  incorrect_or_unknown_payment_details: PERM | 15,
  final_incorrect_cltv_expiry: 18,
  final_incorrect_htlc_amount: 19,
  channel_disabled: UPDATE | 20,
  expiry_too_far: 21,
  invalid_onion_payload: PERM | 22,
  mpp_timeout: 23,
  invalid_onion_blinding: BADONION | PERM | 24,
} as const;

/** Name of a known BOLT #4 failure. */
export type FailureName = keyof typeof FailureCode;

/** The packet-level failure codes usable with `update_fail_malformed_htlc`. */
export type MalformedFailureCode =
  | typeof FailureCode.invalid_onion_version
  | typeof FailureCode.invalid_onion_hmac
  | typeof FailureCode.invalid_onion_key
  | typeof FailureCode.invalid_onion_blinding;

/**
 * The onion packet could not be processed (bad version, bad ephemeral key, HMAC mismatch or
 * unusable blinding). Codes: `ONION_BAD_VERSION`, `ONION_BAD_KEY`, `ONION_BAD_HMAC`,
 * `ONION_BAD_BLINDING`, `ONION_BAD_LENGTH`.
 */
export class OnionPeelError extends DecodeError {
  override name = 'OnionPeelError';
  /** BOLT #4 failure code (BADONION set) for `update_fail_malformed_htlc`. */
  readonly failureCode: MalformedFailureCode;
  /** `sha256_of_onion`: SHA256 of the received onion packet bytes. */
  readonly sha256OfOnion: Uint8Array;

  constructor(
    code: string,
    shortMessage: string,
    failureCode: MalformedFailureCode,
    onion: Uint8Array,
    opts: FaradErrorOptions = {},
  ) {
    super(code, shortMessage, opts);
    this.failureCode = failureCode;
    this.sha256OfOnion = sha256(onion);
  }
}

/**
 * A route-blinding failure (`invalid_onion_blinding`, code `ONION_BAD_BLINDING`). Inside a
 * blinded route (path key received with the HTLC) it goes back in `update_fail_malformed_htlc`;
 * at the introduction node (`current_path_key` in the payload) `sharedSecret` is known and it
 * goes back as a normal encrypted failure.
 */
export class OnionBlindingError extends OnionPeelError {
  override name = 'OnionBlindingError';
  /** The onion shared secret, when the packet itself authenticated. */
  readonly sharedSecret: Uint8Array | undefined;

  constructor(
    shortMessage: string,
    onion: Uint8Array,
    sharedSecret: Uint8Array | undefined,
    opts: FaradErrorOptions = {},
  ) {
    super('ONION_BAD_BLINDING', shortMessage, FailureCode.invalid_onion_blinding, onion, opts);
    this.sharedSecret = sharedSecret;
  }
}

/**
 * The onion authenticated (so `sharedSecret` is known) but its per-hop payload is malformed or
 * not understood. Report `invalid_onion_payload` with `tlvType`/`offset` when known.
 * Codes: `ONION_PAYLOAD_FRAMING`, `ONION_PAYLOAD_INVALID`.
 */
export class OnionPayloadError extends DecodeError {
  override name = 'OnionPayloadError';
  readonly failureCode = FailureCode.invalid_onion_payload;
  /** The hop's shared secret, to build the encrypted failure. */
  readonly sharedSecret: Uint8Array;
  /** The offending TLV type, if narrowed down. */
  readonly tlvType: bigint | undefined;
  /** Byte offset of that TLV record in the decrypted payload, if narrowed down. */
  readonly offset: number | undefined;

  constructor(
    code: string,
    shortMessage: string,
    sharedSecret: Uint8Array,
    where: { tlvType?: bigint; offset?: number } = {},
    opts: FaradErrorOptions = {},
  ) {
    super(code, shortMessage, opts);
    this.sharedSecret = sharedSecret;
    this.tlvType = where.tlvType;
    this.offset = where.offset;
  }
}
