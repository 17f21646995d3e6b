/**
 * Payment retry policy: what to learn and what to avoid after a route fails, from the BOLT #4
 * failure (04-onion-routing.md "Returning Errors", "Failure Messages") and which hop reported
 * it (`decryptErrorPacket`'s `hopIndex`: 0 is the node of `route.hops[0]`).
 *
 * The erring node at hop i is `route.hops[i].nodeId`; its outgoing channel is `hops[i+1]`.
 * BADONION failures come from the node *after* the one that reports them (BOLT #4: the
 * reporting node converts the next node's `update_fail_malformed_htlc`).
 */
import { FailureCode, NODE, PERM, UPDATE } from '../../protocol/onion/errors.js';
import type { FailureMessage } from '../../protocol/onion/failure.js';
import { failureCodeOf } from '../../protocol/onion/failure.js';
import type { ChannelExclusion, Route } from './types.js';

/** What to do after a failed attempt. */
export interface RetryDecision {
  /** False: the payment cannot succeed by retrying (e.g. the payee rejected it). */
  retry: boolean;
  /** Channels (or directions) to exclude from further attempts of this payment. */
  excludeChannels: ChannelExclusion[];
  /** Nodes to exclude from further attempts of this payment. */
  excludeNodes: Uint8Array[];
  /** The `channel_update` carried by the failure: apply it to the graph before retrying. */
  channelUpdate?: Uint8Array;
  /**
   * Exclude this too if the graph did not accept {@link channelUpdate} (an old or invalid
   * update would make the same route fail again).
   */
  excludeIfUpdateNotAccepted?: ChannelExclusion;
  /** Hops `[0, passedHops)` carried the HTLC (scorer: liquidity at least their amounts). */
  passedHops: number;
  /** Hop that failed for lack of liquidity (scorer: `pathFailed(route.hops, i, now)`). */
  liquidityFailedHop?: number;
  /** True when the HTLC reached the payee (a probe with an unknown hash "succeeds" this way). */
  reachedDestination: boolean;
  /** True when the failure is permanent for the excluded element (the graph may prune it). */
  permanent: boolean;
}

const POLICY_CODES = new Set<number>([
  FailureCode.amount_below_minimum,
  FailureCode.fee_insufficient,
  FailureCode.incorrect_cltv_expiry,
  FailureCode.expiry_too_soon,
]);

function exclusionOf(route: Route, hop: number): ChannelExclusion {
  const h = route.hops[hop]!;
  return h.direction === undefined
    ? { shortChannelId: h.shortChannelId }
    : { shortChannelId: h.shortChannelId, direction: h.direction };
}

/**
 * Decides how to retry after `route` failed. `erringHop` is the index of the reporting node
 * (undefined when the error could not be attributed); `failure` the decoded failure (undefined
 * when the attributed message did not decode: the reporting node is then blamed).
 */
export function retryDecision(
  route: Route,
  erringHop: number | undefined,
  failure: FailureMessage | undefined,
): RetryDecision {
  const last = route.hops.length - 1;
  const d: RetryDecision = {
    retry: true,
    excludeChannels: [],
    excludeNodes: [],
    passedHops: 0,
    reachedDestination: false,
    permanent: false,
  };
  if (erringHop === undefined || erringHop < 0 || erringHop > last) {
    // Unattributable: some node on the way garbled the error; avoid every forwarding channel.
    for (let i = 1; i <= last; i++) d.excludeChannels.push(exclusionOf(route, i));
    return d;
  }
  d.passedHops = erringHop + 1;
  const nodeId = route.hops[erringHop]!.nodeId;
  if (erringHop === last) {
    d.reachedDestination = true;
    // BOLT #4: mpp_timeout — "the complete amount of the multi-part payment was not received
    // within a reasonable time"; the payment may be retried as a whole.
    d.retry = failure?.name === 'mpp_timeout';
    return d;
  }
  if (!failure) {
    d.excludeNodes.push(nodeId);
    return d;
  }
  const code = failureCodeOf(failure);
  const next = erringHop + 1;
  if ('channelUpdate' in failure && failure.channelUpdate.length > 0) d.channelUpdate = failure.channelUpdate;
  if (code & 0x8000) {
    // BADONION: the next node could not parse the onion.
    if (next === last) {
      d.retry = false;
      return d;
    }
    d.excludeNodes.push(route.hops[next]!.nodeId);
    return d;
  }
  if (code & NODE) {
    d.excludeNodes.push(nodeId);
    d.permanent = (code & PERM) !== 0;
    return d;
  }
  if (code === FailureCode.temporary_channel_failure) {
    d.excludeChannels.push(exclusionOf(route, next));
    d.liquidityFailedHop = next;
    d.passedHops = next;
    return d;
  }
  if (code === FailureCode.channel_disabled) {
    d.excludeChannels.push(exclusionOf(route, next));
    return d;
  }
  if (POLICY_CODES.has(code)) {
    // Our view of the policy was outdated: the update fixes it; without one, avoid the channel.
    if (d.channelUpdate) d.excludeIfUpdateNotAccepted = exclusionOf(route, next);
    else d.excludeChannels.push(exclusionOf(route, next));
    return d;
  }
  if (
    code & PERM &&
    !(code & UPDATE) &&
    code !== FailureCode.invalid_onion_payload &&
    code !== FailureCode.incorrect_or_unknown_payment_details
  ) {
    // permanent_channel_failure, required_channel_feature_missing, unknown_next_peer, ...
    d.excludeChannels.push({ shortChannelId: route.hops[next]!.shortChannelId });
    d.permanent = true;
    return d;
  }
  if (code & UPDATE) {
    d.excludeChannels.push(exclusionOf(route, next));
    return d;
  }
  // expiry_too_far, invalid_onion_payload, final-only codes from a forwarding node, unknown.
  d.excludeNodes.push(nodeId);
  return d;
}
