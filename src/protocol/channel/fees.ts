/**
 * BOLT #3 "Fees" / "Fee Calculation" / "Trimmed Outputs" and Appendix A (expected weights).
 * All fees are whole satoshis (bigint); `feeratePerKw` is `feerate_per_kw` (sat per 1000 weight).
 */
import { InvalidArgumentError } from '../errors.js';
import { type ChannelType, hasAnchors } from './scripts.js';

/** Appendix A: expected commitment weight without HTLC outputs (no option_anchors). */
export const COMMITMENT_WEIGHT = 724;
/** Appendix A: expected commitment weight without HTLC outputs (option_anchors). */
export const COMMITMENT_WEIGHT_ANCHORS = 1124;
/** Appendix A: weight added per untrimmed HTLC output. */
export const HTLC_OUTPUT_WEIGHT = 172;
/** Appendix A: expected HTLC-timeout weight (no option_anchors). */
export const HTLC_TIMEOUT_WEIGHT = 663;
/** Appendix A: expected HTLC-timeout weight (option_anchors). */
export const HTLC_TIMEOUT_WEIGHT_ANCHORS = 666;
/** Appendix A: expected HTLC-success weight (no option_anchors). */
export const HTLC_SUCCESS_WEIGHT = 703;
/** Appendix A: expected HTLC-success weight (option_anchors). */
export const HTLC_SUCCESS_WEIGHT_ANCHORS = 706;
/** Value of each anchor output in satoshis (option_anchors). */
export const ANCHOR_OUTPUT_VALUE = 330n;

function checkFeerate(feeratePerKw: number): bigint {
  if (!Number.isInteger(feeratePerKw) || feeratePerKw < 0 || feeratePerKw > 0xffffffff)
    throw new InvalidArgumentError('feerate_per_kw must be a u32');
  return BigInt(feeratePerKw);
}

/** `feerate_per_kw * weight / 1000`, rounded down. */
export function feeForWeight(feeratePerKw: number, weight: number): bigint {
  return (checkFeerate(feeratePerKw) * BigInt(weight)) / 1000n;
}

/** Expected commitment weight: 724 (1124 with anchors) + 172 per untrimmed HTLC output. */
export function commitmentWeight(numUntrimmedHtlcs: number, channelType: ChannelType): number {
  return (
    (hasAnchors(channelType) ? COMMITMENT_WEIGHT_ANCHORS : COMMITMENT_WEIGHT) +
    HTLC_OUTPUT_WEIGHT * numUntrimmedHtlcs
  );
}

/** The base commitment fee (what the opener pays, before trimmed outputs). */
export function commitmentFee(
  feeratePerKw: number,
  numUntrimmedHtlcs: number,
  channelType: ChannelType,
): bigint {
  return feeForWeight(feeratePerKw, commitmentWeight(numUntrimmedHtlcs, channelType));
}

/** HTLC-timeout fee: `feerate_per_kw * 663 / 1000`; MUST be 0 with option_anchors (zero-fee HTLC txs). */
export function htlcTimeoutFee(feeratePerKw: number, channelType: ChannelType): bigint {
  return hasAnchors(channelType) ? 0n : feeForWeight(feeratePerKw, HTLC_TIMEOUT_WEIGHT);
}

/** HTLC-success fee: `feerate_per_kw * 703 / 1000`; MUST be 0 with option_anchors (zero-fee HTLC txs). */
export function htlcSuccessFee(feeratePerKw: number, channelType: ChannelType): bigint {
  return hasAnchors(channelType) ? 0n : feeForWeight(feeratePerKw, HTLC_SUCCESS_WEIGHT);
}

/** Direction of an HTLC relative to the owner of the commitment transaction. */
export type HtlcDirection = 'offered' | 'received';

/** Fee of the second-stage transaction of an HTLC (timeout for offered, success for received). */
export function htlcTxFee(direction: HtlcDirection, feeratePerKw: number, channelType: ChannelType): bigint {
  return direction === 'offered'
    ? htlcTimeoutFee(feeratePerKw, channelType)
    : htlcSuccessFee(feeratePerKw, channelType);
}

/**
 * BOLT #3 "Trimmed Outputs": true if the HTLC output MUST NOT be produced, i.e. its amount
 * (rounded down to satoshis) minus the second-stage fee is below the owner's dust limit.
 */
export function isHtlcTrimmed(
  direction: HtlcDirection,
  amountMsat: bigint,
  feeratePerKw: number,
  dustLimitSat: bigint,
  channelType: ChannelType,
): boolean {
  return amountMsat / 1000n < dustLimitSat + htlcTxFee(direction, feeratePerKw, channelType);
}
