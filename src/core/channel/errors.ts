/**
 * Typed errors of the BOLT #2 channel state machine (02-peer-protocol.md). Every check the
 * channel performs on a command or on a peer message fails with a {@link ChannelError} whose
 * `code` is one of {@link ChannelErrorCode}; callers branch on `code`, never on message text.
 */
import { FaradError, type FaradErrorOptions } from '../../protocol/errors.js';

/**
 * Every channel error code. Grouped by where it arises:
 * - establishment (`open_channel`/`accept_channel`/`funding_*` validation),
 * - normal operation (adds, settlements, signatures, revocations, fees),
 * - reestablishment, closing, and commands given in the wrong state.
 */
export type ChannelErrorCode =
  // establishment
  | 'INVALID_CHAIN_HASH'
  | 'FUNDING_TOO_SMALL'
  | 'FUNDING_TOO_LARGE'
  | 'PUSH_TOO_LARGE'
  | 'DUST_LIMIT_TOO_SMALL'
  | 'DUST_LIMIT_TOO_LARGE'
  | 'DUST_LIMIT_ABOVE_RESERVE'
  | 'CHANNEL_RESERVE_TOO_HIGH'
  | 'CHANNEL_RESERVE_NOT_MET'
  | 'TO_SELF_DELAY_TOO_LARGE'
  | 'MAX_ACCEPTED_HTLCS_TOO_LARGE'
  | 'HTLC_MINIMUM_TOO_LARGE'
  | 'MAX_HTLC_VALUE_IN_FLIGHT_TOO_SMALL'
  | 'MISSING_CHANNEL_TYPE'
  | 'INVALID_CHANNEL_TYPE'
  | 'CHANNEL_TYPE_MISMATCH'
  | 'ZERO_CONF_NOT_TRUSTED'
  | 'MINIMUM_DEPTH_TOO_LARGE'
  | 'OPENER_CANNOT_AFFORD_FEES'
  | 'INVALID_FUNDING_TX'
  | 'INVALID_PUBKEY'
  | 'INVALID_TEMPORARY_CHANNEL_ID'
  | 'FUNDING_TIMEOUT'
  // normal operation
  | 'HTLC_VALUE_TOO_SMALL'
  | 'INSUFFICIENT_FUNDS'
  | 'REMOTE_CANNOT_AFFORD_FEES_FOR_NEW_HTLC'
  | 'TOO_MANY_ACCEPTED_HTLCS'
  | 'HTLC_VALUE_IN_FLIGHT_EXCEEDED'
  | 'EXPIRY_TOO_SOON'
  | 'EXPIRY_TOO_BIG'
  | 'INVALID_CLTV_EXPIRY'
  | 'DUST_EXPOSURE_EXCEEDED'
  | 'UNEXPECTED_HTLC_ID'
  | 'UNKNOWN_HTLC_ID'
  | 'HTLC_ALREADY_SETTLED'
  | 'INVALID_HTLC_PREIMAGE'
  | 'INVALID_FAILURE_CODE'
  | 'INVALID_COMMITMENT_SIGNATURE'
  | 'INVALID_HTLC_SIGNATURE'
  | 'HTLC_SIG_COUNT_MISMATCH'
  | 'CANNOT_SIGN_WITHOUT_CHANGES'
  | 'CANNOT_SIGN_BEFORE_REVOCATION'
  | 'INVALID_REVOCATION'
  | 'UNEXPECTED_REVOCATION'
  | 'FEERATE_TOO_SMALL'
  | 'FEERATE_TOO_LARGE'
  | 'NON_OPENER_CANNOT_SEND_UPDATE_FEE'
  | 'CANNOT_AFFORD_FEES'
  | 'HTLC_TIMED_OUT'
  | 'FULFILLED_HTLC_ABOUT_TO_TIME_OUT'
  // reestablish
  | 'REVOCATION_SYNC_ERROR'
  | 'COMMITMENT_SYNC_ERROR'
  | 'INVALID_REVOKED_COMMIT_PROOF'
  | 'PEER_HAS_NEWER_STATE'
  // closing
  | 'NO_MORE_HTLCS_CLOSING_IN_PROGRESS'
  | 'CLOSING_ALREADY_IN_PROGRESS'
  | 'INVALID_SHUTDOWN_SCRIPT'
  | 'UPFRONT_SHUTDOWN_SCRIPT_MISMATCH'
  | 'CANNOT_CLOSE_WITH_UNSIGNED_UPDATES'
  | 'INVALID_CLOSE_FEE'
  | 'FEE_RANGE_NO_OVERLAP'
  | 'INVALID_CLOSE_SIGNATURE'
  // generic
  | 'CHANNEL_UNAVAILABLE'
  | 'UNEXPECTED_MESSAGE'
  | 'COMMAND_UNAVAILABLE_IN_STATE'
  | 'PEER_SENT_ERROR'
  | 'FORCE_CLOSE_REQUESTED';

/**
 * A channel-level error. `code` is stable; `details` carries the offending values. When it
 * comes from a peer message it is a protocol violation: the state machine sends `error`
 * (or `warning`) and fails the channel as BOLT #2 requires.
 */
export class ChannelError extends FaradError {
  override name = 'ChannelError';
  declare readonly code: ChannelErrorCode;
  constructor(code: ChannelErrorCode, shortMessage: string, opts: FaradErrorOptions = {}) {
    super(code, shortMessage, opts);
  }
}

/** Shorthand constructor: `chErr('INSUFFICIENT_FUNDS', 'cannot afford', 'missing=..')`. */
export function chErr(code: ChannelErrorCode, message: string, details?: string): ChannelError {
  return new ChannelError(code, message, details === undefined ? {} : { details });
}

/** The result union of every pure Commitments operation. */
export type Result<T> = ({ ok: true } & T) | { ok: false; error: ChannelError };

/** A failed {@link Result}. */
export function fail(
  code: ChannelErrorCode,
  message: string,
  details?: string,
): { ok: false; error: ChannelError } {
  return { ok: false, error: chErr(code, message, details) };
}
