/**
 * Route types (BOLT #4 "Payload for the Last Node" / "Non-strict Forwarding", BOLT #7 "HTLC
 * Fees", BOLT #11 route hints) shared by the pathfinder, MPP splitting and the retry policy.
 */
import type { RouteHintHop } from '../../protocol/invoice/bolt11.js';
import type { NetworkGraph } from '../gossip/graph.js';
import type { Scorer } from './scorer.js';

/** The forwarding policy a hop's sending node applies (from `channel_update` or a route hint). */
export interface HopPolicy {
  feeBaseMsat: number;
  feeProportionalMillionths: number;
  cltvExpiryDelta: number;
}

/** One channel of a route, in payment order. */
export interface RouteHop {
  /** The node this hop's HTLC is offered to (the channel's far end). */
  nodeId: Uint8Array;
  /** The channel (real scid, or an alias from a route hint / first hop). */
  shortChannelId: bigint;
  /** Direction in the graph (0: node1 → node2); undefined for route-hint and first-hop channels. */
  direction: 0 | 1 | undefined;
  /**
   * Amount of the HTLC over this channel, msat. For the last hop it is the payment amount;
   * for hop i it is the `amt_to_forward` in the onion payload of hop i-1's node.
   */
  amountMsat: bigint;
  /**
   * The HTLC's `cltv_expiry` minus the current block height (add the height to get the
   * `outgoing_cltv_value` of the previous node's payload, or the first HTLC's `cltv_expiry`).
   */
  relativeExpiry: number;
  /**
   * Fee kept by the node at the start of this channel for forwarding over it
   * (`fee_base_msat + amountMsat * fee_proportional_millionths / 1e6`); 0 for the first hop.
   */
  feeMsat: bigint;
  /** Policy of the channel's sending node (ignored for the first hop: we pay ourselves nothing). */
  policy: HopPolicy;
  /** Channel capacity in msat, undefined when unknown (route hints, first hops). */
  capacityMsat: bigint | undefined;
}

/** A route from the source to the target. */
export interface Route {
  hops: RouteHop[];
  /** Delivered to the target, msat (= last hop's `amountMsat`). */
  amountMsat: bigint;
  /** Sent by the source (first hop's `amountMsat`), fees included. */
  totalAmountMsat: bigint;
  /** `totalAmountMsat - amountMsat`. */
  feeMsat: bigint;
  /** The first HTLC's `cltv_expiry` minus the current height. */
  totalCltvDelta: number;
}

/** One of the source's own channels, with its exact usable outbound liquidity. */
export interface FirstHop {
  /** Real scid or alias the peer knows the channel by. */
  shortChannelId: bigint;
  peerNodeId: Uint8Array;
  /** What the channel can send now, msat (after reserve, fees and in-flight HTLCs). */
  outboundMsat: bigint;
  /** The peer's `htlc_minimum_msat` (default 1). */
  htlcMinimumMsat?: bigint;
}

/** Channel (or one direction of it) the route must avoid. */
export interface ChannelExclusion {
  shortChannelId: bigint;
  /** Only this direction (graph direction); both when undefined. */
  direction?: 0 | 1;
}

/** Cost model of the pathfinder (what is minimised besides fees). */
export interface RouteCostParams {
  /** Flat penalty per intermediate hop, msat (default 500). */
  baseHopPenaltyMsat?: number;
  /**
   * Time-value of funds locked for a `cltv_expiry_delta`: cost = amount × delta × this
   * (default 1.5e-8 per block, as LND's risk factor 15 per 10^9).
   */
  cltvCostPerBlock?: number;
}

/** Input of {@link findRoute}. */
export interface FindRouteParams {
  graph: NetworkGraph;
  /** Paying node (33 bytes). */
  source: Uint8Array;
  /** Payee (33 bytes). */
  target: Uint8Array;
  /** Amount to deliver, msat (> 0). */
  amountMsat: bigint;
  /** The payee's `min_final_cltv_expiry_delta` (plus any shadow-route offset). */
  finalCltvDelta: number;
  /** BOLT 11 `r` fields: private last hops to the target (scids may be aliases). */
  routeHints?: readonly (readonly RouteHintHop[])[];
  /** The source's own channels with exact liquidity; when given they replace its graph channels. */
  firstHops?: readonly FirstHop[];
  /** Maximum total fee, msat (default: unlimited). */
  maxFeeMsat?: bigint;
  /** Maximum first-HTLC relative expiry (default 2016 blocks). */
  maxCltv?: number;
  /** Maximum number of hops (default 20, what a 1300-byte onion carries comfortably). */
  maxHops?: number;
  excludedChannels?: Iterable<ChannelExclusion>;
  excludedNodes?: Iterable<Uint8Array>;
  /** Liquidity scorer (default none). */
  scorer?: Scorer;
  /** Current time in seconds for the scorer's decay (default 0). */
  now?: number;
  /**
   * Amounts already committed per channel direction by other parts of the same payment (MPP),
   * keyed by {@link channelKey}; they reduce the capacity left.
   */
  inFlight?: ReadonlyMap<bigint, bigint>;
  costs?: RouteCostParams;
}

/** Why no route was found. */
export type RouteFailureReason =
  | 'INVALID_AMOUNT'
  | 'SOURCE_IS_TARGET'
  | 'SOURCE_UNKNOWN'
  | 'TARGET_UNKNOWN'
  | 'FINAL_CLTV_TOO_LARGE'
  | 'NO_ROUTE';

/** Result of {@link findRoute}. */
export type FindRouteResult = { ok: true; route: Route } | { ok: false; reason: RouteFailureReason };

/**
 * Key of one channel direction for {@link FindRouteParams.inFlight}: `scid * 4 + direction`
 * (direction 2 for channels outside the graph).
 */
export function channelKey(scid: bigint, direction: 0 | 1 | undefined): bigint {
  return scid * 4n + BigInt(direction ?? 2);
}
