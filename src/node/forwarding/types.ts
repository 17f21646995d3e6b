/**
 * Public types of the HTLC forwarding runtime (BOLT #4 "Forwarding" / "Returning Errors",
 * BOLT #7 "HTLC Fees", BOLT #2 "Forwarding HTLCs"): the per-channel forwarding policy, the
 * persistent forward records and the interception point.
 */
import { FaradError } from '../../protocol/errors.js';
import type { FailureMessage, FailureName } from '../../protocol/onion/index.js';

/**
 * What we charge and require to forward over one of our channels (the policy of our side of the
 * channel, the one our `channel_update` announces). BOLT 7: the fee is
 * `fee_base_msat + amount_to_forward * fee_proportional_millionths / 1,000,000`.
 */
export interface ForwardingPolicy {
  feeBaseMsat: number;
  feeProportionalMillionths: number;
  /** Blocks we require between the incoming and the outgoing HTLC's `cltv_expiry`. */
  cltvExpiryDelta: number;
  /** Smallest HTLC we forward over the channel (the peer's own minimum applies too). */
  htlcMinimumMsat: bigint;
  /** Largest HTLC we forward over the channel; undefined: the channel capacity. */
  htlcMaximumMsat?: bigint | undefined;
}

/** The default policy: 1000 msat + 1 ppm, 80 blocks, no extra minimum. */
export const DEFAULT_FORWARDING_POLICY: Readonly<ForwardingPolicy> = Object.freeze({
  feeBaseMsat: 1000,
  feeProportionalMillionths: 1,
  cltvExpiryDelta: 80,
  htlcMinimumMsat: 1n,
});

/** Where a forward is. */
export type ForwardStatus =
  /** Held by the interceptor (not forwarded yet). */
  | 'held'
  /** The outgoing HTLC is (being) offered downstream. */
  | 'offered'
  /** Fulfilled downstream; the preimage went (or goes) upstream. */
  | 'settled'
  /** Failed; the failure went (or goes) upstream. */
  | 'failed';

/** One forward (an incoming HTLC and the outgoing HTLC it became), as stored. */
export interface ForwardRecord {
  /** `<incoming channel id>/<incoming HTLC id>`. */
  id: string;
  paymentHash: string;
  inChannelId: string;
  inHtlcId: bigint;
  inAmountMsat: bigint;
  inCltvExpiry: number;
  /** The `short_channel_id` the onion asked for (real or alias). */
  requestedScid: bigint;
  /** The outgoing channel actually used (non-strict forwarding may pick another one to the same peer). */
  outChannelId?: string;
  outHtlcId?: bigint;
  /** `amt_to_forward` (or the interceptor's override). */
  outAmountMsat: bigint;
  /** `outgoing_cltv_value`. */
  outCltvExpiry: number;
  /** `inAmountMsat - outAmountMsat` (what we earn once settled). */
  feeMsat: bigint;
  status: ForwardStatus;
  /** Failure name (ours or the downstream's when readable: `downstream`). */
  failureReason?: string;
  /** Hex preimage once settled. */
  preimage?: string;
  /** Hex onion shared secret with the payer (encrypts our failures, wraps downstream ones). */
  sharedSecret: string;
  /** The packet for the next hop, kept while the forward is held. */
  nextOnion?: Uint8Array;
  /** The `update_fail_htlc` reason sent upstream (re-sent after a restart if needed). */
  upstreamFailure?: Uint8Array;
  /** How the outgoing HTLC ended on chain, if it did. */
  outResolvedOnChain?: 'fulfilled' | 'timedOut';
  /** Milliseconds since the epoch. */
  createdAt: number;
  resolvedAt?: number;
}

/** A forward as {@link ForwardingManager.listForwards} reports it (no secrets, no onion). */
export type ForwardInfo = Omit<ForwardRecord, 'sharedSecret' | 'nextOnion' | 'upstreamFailure'>;

/** A forward as the interceptor sees it, with the actions it may take later. */
export interface InterceptedForward {
  readonly id: string;
  readonly paymentHash: string;
  readonly inChannelId: string;
  readonly inHtlcId: bigint;
  readonly inAmountMsat: bigint;
  readonly inCltvExpiry: number;
  /** The `short_channel_id` of the onion (may be a fake one, e.g. for a JIT channel). */
  readonly requestedScid: bigint;
  /** The channel that scid resolves to, if any. */
  readonly outChannelId: string | undefined;
  readonly outAmountMsat: bigint;
  readonly outCltvExpiry: number;
  /** The 1366-byte onion for the next node. */
  readonly nextOnion: Uint8Array;
  /** Forwards now (see {@link ResumeOptions}). */
  resume(opts?: ResumeOptions): Promise<void>;
  /** Fails the incoming HTLC with a failure (default `temporary_channel_failure`). */
  fail(failure?: InterceptFailure): Promise<void>;
  /** Fulfills the incoming HTLC with the preimage (the interceptor got it elsewhere). */
  settle(preimage: Uint8Array): Promise<void>;
}

/** A failure given by name (data filled in) or in full. */
export type InterceptFailure = FailureName | FailureMessage;

/** Options of {@link InterceptedForward.resume}. */
export interface ResumeOptions {
  /** Forward over this channel (e.g. a JIT channel just opened) instead of the onion's scid. */
  channelId?: string;
  /**
   * Amount of the outgoing HTLC instead of `amt_to_forward` (e.g. an LSP deducting its channel
   * opening fee); the fee policy check is skipped, it must not exceed the incoming amount.
   */
  amountMsat?: bigint;
}

/** What the interceptor decides for a new forward: forward at once, or hold it. */
export type InterceptDecision = 'forward' | 'hold';

/** The interception hook (see {@link ForwardingManager.setInterceptor}). */
export type ForwardInterceptor = (f: InterceptedForward) => InterceptDecision | Promise<InterceptDecision>;

/** Errors of the forwarding API: `FORWARD_NOT_FOUND`, `FORWARD_NOT_HELD`, `PREIMAGE_MISMATCH`. */
export class ForwardingError extends FaradError {
  override name = 'ForwardingError';
}
