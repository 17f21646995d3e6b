/**
 * Multi-part payments (BOLT #4 `basic_mpp`): splits an amount no single route can carry into
 * several routes whose delivered amounts sum to the total. Greedy: each part takes the largest
 * amount the next-best route can carry according to its liquidity estimate (htlc_maximum,
 * capacity already used by earlier parts, the scorer's upper bound, a saturation cap), halving
 * the attempt until a route exists; parts never go below `minPartMsat`.
 */
import { findRoute } from './find-route.js';
import { ProbabilisticScorer } from './scorer.js';
import { channelKey, type FindRouteParams, type Route, type RouteFailureReason } from './types.js';

/** Input of {@link splitPayment}: {@link FindRouteParams} plus split limits. */
export interface SplitPaymentParams extends FindRouteParams {
  /** Maximum number of parts (default 16). */
  maxParts?: number;
  /** Smallest part, msat (default 10,000 msat, capped at the total). */
  minPartMsat?: bigint;
  /** Fraction of a channel's capacity one payment may use across its parts (default 0.5). */
  maxChannelSaturation?: number;
}

/** Result of {@link splitPayment}. */
export type SplitPaymentResult =
  | {
      ok: true;
      /** The parts; `amountMsat` of all routes sums to the requested amount. */
      routes: Route[];
      /** Total fee over all parts, msat. */
      feeMsat: bigint;
    }
  | { ok: false; reason: RouteFailureReason | 'TOO_MANY_PARTS' };

function bottleneck(r: Route, p: SplitPaymentParams, used: ReadonlyMap<bigint, bigint>): bigint {
  const sat = p.maxChannelSaturation ?? 0.5;
  const now = p.now ?? 0;
  let best: bigint | undefined;
  for (const h of r.hops) {
    const key = channelKey(h.shortChannelId, h.direction);
    const u = used.get(key) ?? 0n;
    let lim: bigint | undefined;
    const first = p.firstHops?.find((f) => f.shortChannelId === h.shortChannelId);
    if (h === r.hops[0] && first) lim = first.outboundMsat - u;
    else if (h.direction !== undefined && h.capacityMsat !== undefined) {
      const c = p.graph.getChannel(h.shortChannelId);
      const pol = c?.policies[h.direction];
      lim = BigInt(Math.floor(Number(h.capacityMsat) * sat)) - u;
      if (pol && pol.htlcMaximumMsat < lim) lim = pol.htlcMaximumMsat;
      if (p.scorer instanceof ProbabilisticScorer) {
        const [, hi] = p.scorer.liquidityBounds(h.shortChannelId, h.direction, Number(h.capacityMsat), now);
        const s = BigInt(Math.floor(hi)) - u;
        if (s < lim) lim = s;
      }
    }
    if (lim !== undefined && (best === undefined || lim < best)) best = lim;
  }
  return best ?? r.amountMsat;
}

/**
 * Splits `p.amountMsat` over several routes when needed. Returns one route when a single one
 * can carry everything. Each part is found with `inFlight` reflecting earlier parts, so later
 * parts see the capacity left. The caller sends every part with the same payment hash, secret
 * and `total_msat`.
 */
export function splitPayment(p: SplitPaymentParams): SplitPaymentResult {
  const single = findRoute(p);
  if (single.ok) return { ok: true, routes: [single.route], feeMsat: single.route.feeMsat };
  if (single.reason !== 'NO_ROUTE') return single;
  const maxParts = p.maxParts ?? 16;
  let minPart = p.minPartMsat ?? 10_000n;
  if (minPart > p.amountMsat) minPart = p.amountMsat;
  if (minPart < 1n) minPart = 1n;
  const used = new Map<bigint, bigint>(p.inFlight ?? []);
  const routes: Route[] = [];
  let remaining = p.amountMsat;
  let fees = 0n;
  while (remaining > 0n) {
    if (routes.length >= maxParts) return { ok: false, reason: 'TOO_MANY_PARTS' };
    const budget = p.maxFeeMsat === undefined ? undefined : p.maxFeeMsat - fees;
    const attempt = (amountMsat: bigint) =>
      findRoute({
        ...p,
        amountMsat,
        inFlight: used,
        ...(budget === undefined ? {} : { maxFeeMsat: budget }),
      });
    let amount = remaining;
    let found: Route | undefined;
    for (;;) {
      const r = attempt(amount);
      if (r.ok) {
        found = r.route;
        break;
      }
      if (amount <= minPart) break;
      amount = amount / 2n < minPart ? minPart : amount / 2n;
    }
    if (!found) return { ok: false, reason: 'NO_ROUTE' };
    // Grow the part up to the route's estimated liquidity, keeping any remainder >= minPart.
    let want = bottleneck(found, p, used);
    if (want > remaining) want = remaining;
    if (remaining - want > 0n && remaining - want < minPart) want = remaining - minPart;
    if (want > found.amountMsat) {
      const r = attempt(want);
      if (r.ok) found = r.route;
    }
    if (remaining - found.amountMsat > 0n && remaining - found.amountMsat < minPart) {
      // Leave at least minPart for the next part (or take everything if the route allows).
      const r = attempt(remaining);
      if (r.ok) found = r.route;
      else if (found.amountMsat - minPart >= minPart) {
        const r2 = attempt(remaining - minPart);
        if (r2.ok) found = r2.route;
      }
    }
    routes.push(found);
    remaining -= found.amountMsat;
    fees += found.feeMsat;
    for (const h of found.hops) {
      const key = channelKey(h.shortChannelId, h.direction);
      used.set(key, (used.get(key) ?? 0n) + h.amountMsat);
    }
  }
  if (p.maxFeeMsat !== undefined && fees > p.maxFeeMsat) return { ok: false, reason: 'NO_ROUTE' };
  return { ok: true, routes, feeMsat: fees };
}
