/**
 * Helpers of the payment layer for multi-hop sending (BOLT 4 "Packet Structure", "Returning
 * Errors"; BOLT 7 pathfinding through src/core/router): our channels as the router's first hops
 * with their exact sendable balance, the onion of one route, and the attribution of a returned
 * failure to the hop that sent it.
 */
import { availableBalanceForSendMsat, type HtlcFailure } from '../../core/channel/index.js';
import { routeOnionPayloads } from '../../core/router/payloads.js';
import type { FirstHop, Route } from '../../core/router/types.js';
import { fromHex } from '../../protocol/encoding/bytes.js';
import {
  computeHopKeys,
  createOnionPacket,
  decryptErrorPacket,
  encodePaymentPayload,
  type FailureMessage,
  type PaymentData,
} from '../../protocol/onion/index.js';
import { type ChannelManager, fundedData } from '../channels/manager.js';

/** Our usable channels as first hops, and the channel id behind each first-hop scid. */
export function firstHops(cm: ChannelManager): { hops: FirstHop[]; channelOf: Map<bigint, string> } {
  const hops: FirstHop[] = [];
  const channelOf = new Map<bigint, string>();
  for (const c of cm.listChannels()) {
    if (c.state !== 'Normal') continue;
    const st = cm.channelState(c.channelId);
    const d = st ? fundedData(st) : undefined;
    if (!d) continue;
    // The real scid when known (both ends know it), else our alias (unique on our side).
    const scid = c.shortChannelId ?? c.localAlias;
    if (scid === undefined) continue;
    const outbound = availableBalanceForSendMsat(d.commitments);
    if (outbound <= 0n) continue;
    hops.push({
      shortChannelId: scid,
      peerNodeId: fromHex(c.peer),
      outboundMsat: outbound,
      htlcMinimumMsat: d.commitments.params.remote.htlcMinimumMsat,
    });
    channelOf.set(scid, c.channelId);
  }
  // Most outbound first: between otherwise equal routes the router keeps the first one, so a
  // direct payment leaves on the channel with the most to send (as usableChannels orders them).
  hops.sort((a, b) => (a.outboundMsat > b.outboundMsat ? -1 : a.outboundMsat < b.outboundMsat ? 1 : 0));
  return { hops, channelOf };
}

/** The first HTLC and onion of a route. */
export interface BuiltOnion {
  amountMsat: bigint;
  cltvExpiry: number;
  packet: Uint8Array;
}

/** Builds the onion of `route` at `height` (final payload: payment data and/or keysend preimage). */
export function buildRouteOnion(p: {
  route: Route;
  height: number;
  sessionKey: Uint8Array;
  paymentHash: Uint8Array;
  paymentData?: PaymentData | undefined;
  keysendPreimage?: Uint8Array | undefined;
}): BuiltOnion {
  const ro = routeOnionPayloads(p.route, p.height, p.paymentData);
  const last = ro.payloads[ro.payloads.length - 1]!;
  if (p.keysendPreimage) last.keysendPreimage = p.keysendPreimage;
  const packet = createOnionPacket({
    sessionKey: p.sessionKey,
    hops: p.route.hops.map((h, i) => ({ pubkey: h.nodeId, payload: encodePaymentPayload(ro.payloads[i]!) })),
    associatedData: p.paymentHash,
  }).packet;
  return { amountMsat: ro.firstAmountMsat, cltvExpiry: ro.firstCltvExpiry, packet };
}

/** What a failed HTLC tells the payer. */
export interface AttributedFailure {
  /** Index of the reporting hop in the route (undefined: unattributable or a local failure). */
  hopIndex: number | undefined;
  failure: FailureMessage | undefined;
  /** Short text: the failure name, or what happened. */
  reason: string;
  /** The HTLC never left our node (refused or discarded before it was signed). */
  local: boolean;
}

/** Decrypts and attributes the failure of an HTLC sent over `route` with `sessionKey`. */
export function attributeFailure(
  route: Route,
  sessionKey: Uint8Array,
  failure: HtlcFailure,
): AttributedFailure {
  if (failure.kind === 'local')
    return {
      hopIndex: undefined,
      failure: undefined,
      reason: `${failure.error.code}: ${failure.error.message}`,
      local: true,
    };
  if (failure.kind === 'malformed')
    // The first hop could not read its own onion layer: it reported it (BOLT 4 BADONION).
    return {
      hopIndex: -1,
      failure: undefined,
      reason: `malformed onion (code ${failure.failureCode})`,
      local: false,
    };
  const secrets = computeHopKeys(
    sessionKey,
    route.hops.map((h) => h.nodeId),
  ).map((k) => k.sharedSecret);
  const d = decryptErrorPacket(failure.reason, secrets);
  if (!d.attributed)
    return { hopIndex: undefined, failure: undefined, reason: 'unreadable failure', local: false };
  return {
    hopIndex: d.hopIndex,
    failure: d.failure,
    reason: d.failure ? d.failure.name : 'undecodable failure',
    local: false,
  };
}
