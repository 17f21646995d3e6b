/**
 * From a {@link Route} to what the sender puts on the wire (BOLT #4 "Packet Structure",
 * `payload` TLVs): the first HTLC's amount/expiry and each hop's `amt_to_forward`,
 * `outgoing_cltv_value` and `short_channel_id`.
 */
import type { PaymentData, PaymentHopPayload } from '../../protocol/onion/payload.js';
import type { Route } from './types.js';

/** The first `update_add_htlc` and the per-hop onion payloads of a route. */
export interface RouteOnion {
  /** `amount_msat` of the HTLC to the first hop. */
  firstAmountMsat: bigint;
  /** `cltv_expiry` of the HTLC to the first hop (absolute). */
  firstCltvExpiry: number;
  /** One payload per hop, in route order (the last is the payee's). */
  payloads: PaymentHopPayload[];
}

/**
 * Builds the per-hop payloads at `blockHeight`. BOLT #4: a forwarding node gets
 * `amt_to_forward`, `outgoing_cltv_value` and `short_channel_id` of its outgoing HTLC; the
 * final node gets the amount and expiry it receives plus `payment_data` (secret and
 * `total_msat`, for MPP the whole payment's total) when given.
 */
export function routeOnionPayloads(route: Route, blockHeight: number, paymentData?: PaymentData): RouteOnion {
  const hops = route.hops;
  const payloads: PaymentHopPayload[] = hops.map((h, i) => {
    const next = hops[i + 1];
    if (next) {
      return {
        amtToForward: next.amountMsat,
        outgoingCltvValue: blockHeight + next.relativeExpiry,
        shortChannelId: next.shortChannelId,
      };
    }
    const last: PaymentHopPayload = {
      amtToForward: h.amountMsat,
      outgoingCltvValue: blockHeight + h.relativeExpiry,
    };
    if (paymentData) last.paymentData = paymentData;
    return last;
  });
  return {
    firstAmountMsat: hops[0]!.amountMsat,
    firstCltvExpiry: blockHeight + hops[0]!.relativeExpiry,
    payloads,
  };
}
