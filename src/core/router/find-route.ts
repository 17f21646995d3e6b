/**
 * Pathfinding over the BOLT #7 graph: a Dijkstra from the target back to the source (amounts
 * and CLTVs are "calculated backward from the destination to the source", BOLT #7 "HTLC Fees"
 * and "Routing Example"), minimising fee + CLTV time-value + per-hop penalty + the scorer's
 * liquidity penalty, honouring `htlc_minimum_msat`/`htlc_maximum_msat`, capacity, disabled
 * directions, unroutable features, exclusions, max fee, max CLTV and max hops. Route hints
 * (BOLT #11 `r`) add private last hops; `firstHops` replace the source's own channels.
 *
 * The search runs on numbers (msat as float64) over integer node indexes; the chosen path is
 * then recomputed exactly in bigint and re-checked, so returned amounts are exact.
 */
import { toHex } from '../../protocol/encoding/bytes.js';
import type { ChannelPolicy, GraphChannel, GraphNode } from '../gossip/types.js';
import { MinHeap } from './heap.js';
import { zeroScorer } from './scorer.js';
import {
  channelKey,
  type FindRouteParams,
  type FindRouteResult,
  type HopPolicy,
  type Route,
  type RouteHop,
} from './types.js';

/** Default maximum first-HTLC relative expiry (blocks). */
export const DEFAULT_MAX_CLTV = 2016;
/** Default maximum route length. */
export const DEFAULT_MAX_HOPS = 20;

/** BOLT #7 "HTLC Fees": `fee_base_msat + (amount_to_forward * fee_proportional_millionths / 1000000)`. */
export function forwardingFeeMsat(
  policy: Pick<HopPolicy, 'feeBaseMsat' | 'feeProportionalMillionths'>,
  amountMsat: bigint,
): bigint {
  return BigInt(policy.feeBaseMsat) + (amountMsat * BigInt(policy.feeProportionalMillionths)) / 1_000_000n;
}

/** The same fee on numbers (exact while `amount * ppm` < 2^53). */
function feeF(base: number, ppm: number, amount: number): number {
  const t = amount * ppm;
  return base + (t - (t % 1_000_000)) / 1_000_000;
}

/** A channel outside the graph: a route-hint hop or one of the source's first hops. */
interface VirtualEdge {
  scid: bigint;
  from: number;
  to: number;
  policy: HopPolicy;
  minMsat: bigint;
  /** Upper bound of one HTLC, msat (undefined: unbounded). */
  maxMsat: bigint | undefined;
  minF: number;
  maxF: number;
  firstHop: boolean;
}

type Edge = GraphChannel | VirtualEdge;

function isVirtual(e: Edge): e is VirtualEdge {
  return (e as VirtualEdge).from !== undefined;
}

/**
 * Finds the cheapest route (see module doc). Never throws on graph content; programming
 * errors (bad key lengths) surface as `SOURCE_UNKNOWN`/`TARGET_UNKNOWN`.
 */
export function findRoute(p: FindRouteParams): FindRouteResult {
  const g = p.graph;
  if (p.amountMsat <= 0n) return { ok: false, reason: 'INVALID_AMOUNT' };
  const srcHex = toHex(p.source);
  const tgtHex = toHex(p.target);
  if (srcHex === tgtHex) return { ok: false, reason: 'SOURCE_IS_TARGET' };
  const maxCltv = p.maxCltv ?? DEFAULT_MAX_CLTV;
  const maxHops = p.maxHops ?? DEFAULT_MAX_HOPS;
  if (p.finalCltvDelta > maxCltv) return { ok: false, reason: 'FINAL_CLTV_TOO_LARGE' };

  const slots = g.nodeSlots();
  const N = slots.length;
  const extra = new Map<string, number>();
  const extraIds: Uint8Array[] = [];
  const indexOf = (id: Uint8Array, hex = toHex(id)): number => {
    const i = g.nodeIndexOf(id);
    if (i >= 0) return i;
    let e = extra.get(hex);
    if (e === undefined) {
      e = N + extraIds.length;
      extra.set(hex, e);
      extraIds.push(id);
    }
    return e;
  };
  const virtualIn = new Map<number, VirtualEdge[]>();
  const addVirtual = (e: VirtualEdge) => {
    const l = virtualIn.get(e.to);
    if (l) l.push(e);
    else virtualIn.set(e.to, [e]);
  };

  const srcInGraph = g.nodeIndexOf(p.source) >= 0;
  const tgtInGraph = g.nodeIndexOf(p.target) >= 0;
  const hints = p.routeHints ?? [];
  if (!srcInGraph && !p.firstHops) return { ok: false, reason: 'SOURCE_UNKNOWN' };
  if (
    !tgtInGraph &&
    !hints.some((h) => h.length > 0) &&
    !p.firstHops?.some((f) => toHex(f.peerNodeId) === tgtHex)
  ) {
    return { ok: false, reason: 'TARGET_UNKNOWN' };
  }
  const src = indexOf(p.source, srcHex);
  const tgt = indexOf(p.target, tgtHex);
  for (const hint of hints) {
    hint.forEach((h, i) => {
      const next = i + 1 < hint.length ? hint[i + 1]!.pubkey : p.target;
      addVirtual({
        scid: h.shortChannelId,
        from: indexOf(h.pubkey),
        to: indexOf(next),
        policy: {
          feeBaseMsat: h.feeBaseMsat,
          feeProportionalMillionths: h.feeProportionalMillionths,
          cltvExpiryDelta: h.cltvExpiryDelta,
        },
        minMsat: 0n,
        maxMsat: undefined,
        minF: 0,
        maxF: Infinity,
        firstHop: false,
      });
    });
  }
  const useFirstHops = p.firstHops !== undefined;
  for (const f of p.firstHops ?? []) {
    const min = f.htlcMinimumMsat ?? 1n;
    addVirtual({
      scid: f.shortChannelId,
      from: src,
      to: indexOf(f.peerNodeId),
      policy: { feeBaseMsat: 0, feeProportionalMillionths: 0, cltvExpiryDelta: 0 },
      minMsat: min,
      maxMsat: f.outboundMsat,
      minF: Number(min),
      maxF: Number(f.outboundMsat),
      firstHop: true,
    });
  }

  const M = N + extraIds.length;
  const excludedNode = new Uint8Array(M);
  for (const id of p.excludedNodes ?? []) {
    const i = g.nodeIndexOf(id);
    if (i >= 0) excludedNode[i] = 1;
    const e = extra.get(toHex(id));
    if (e !== undefined) excludedNode[e] = 1;
  }
  const exAll = new Set<bigint>();
  const exDir = new Set<bigint>();
  for (const x of p.excludedChannels ?? []) {
    if (x.direction === undefined) exAll.add(x.shortChannelId);
    else exDir.add(x.shortChannelId * 2n + BigInt(x.direction));
  }
  const hasEx = exAll.size > 0 || exDir.size > 0;
  const inFlight = p.inFlight && p.inFlight.size > 0 ? p.inFlight : undefined;
  const scorer = p.scorer ?? zeroScorer;
  const now = p.now ?? 0;
  const basePenalty = p.costs?.baseHopPenaltyMsat ?? 500;
  const cltvCost = p.costs?.cltvCostPerBlock ?? 1.5e-8;
  const amountF = Number(p.amountMsat);
  const maxFeeF = p.maxFeeMsat === undefined ? Infinity : Number(p.maxFeeMsat);

  const cost = new Float64Array(M).fill(Infinity);
  const amt = new Float64Array(M);
  const cltv = new Int32Array(M);
  const hops = new Int32Array(M);
  const settled = new Uint8Array(M);
  const nextNode = new Int32Array(M).fill(-1);
  const nextEdge: (Edge | undefined)[] = new Array(M);
  const nextDir = new Int8Array(M);
  const heap = new MinHeap(Math.min(1 << 16, 4 * M + 16));

  cost[tgt] = 0;
  amt[tgt] = amountF;
  cltv[tgt] = p.finalCltvDelta;
  heap.push(0, tgt);

  // Relaxes edge u -> v (policy of u's side) carrying `av` msat into v.
  const relax = (
    u: number,
    v: number,
    edge: Edge,
    dir: number,
    base: number,
    ppm: number,
    delta: number,
    capF: number,
    scid: bigint,
    scored: boolean,
  ) => {
    const av = amt[v]!;
    const isSrc = u === src;
    const fee = isSrc ? 0 : feeF(base, ppm, av);
    const newAmt = av + fee;
    if (newAmt - amountF > maxFeeF) return;
    const add = isSrc ? 0 : delta;
    const newCltv = cltv[v]! + add;
    if (newCltv > maxCltv) return;
    let penalty = 0;
    if (scored) {
      let used = 0;
      if (inFlight) {
        const f = inFlight.get(channelKey(scid, dir as 0 | 1));
        if (f !== undefined) used = Number(f);
        if (av + used > capF) return;
      }
      penalty = scorer.penaltyMsat(scid, dir as 0 | 1, av + used, capF, now);
      if (penalty === Infinity) return;
    } else if (inFlight) {
      const f = inFlight.get(channelKey(scid, undefined));
      if (f !== undefined && isVirtual(edge) && edge.firstHop && av + Number(f) > edge.maxF) return;
    }
    const c = cost[v]! + fee + penalty + (isSrc ? 0 : basePenalty + av * add * cltvCost);
    if (c < cost[u]!) {
      cost[u] = c;
      amt[u] = newAmt;
      cltv[u] = newCltv;
      hops[u] = hops[v]! + 1;
      nextNode[u] = v;
      nextEdge[u] = edge;
      nextDir[u] = dir;
      heap.push(c, u);
    }
  };

  while (heap.size > 0) {
    const v = heap.pop();
    if (settled[v]) continue;
    settled[v] = 1;
    if (v === src) break;
    if (v !== tgt) {
      // Cannot forward through an excluded node or one with unknown required features.
      if (excludedNode[v]) continue;
      if (v < N && slots[v]!.unroutable) continue;
    }
    if (hops[v]! >= maxHops) continue;
    const av = amt[v]!;
    if (v < N) {
      const chans = (slots[v] as GraphNode).channels;
      for (let k = 0; k < chans.length; k++) {
        const c = chans[k]!;
        const u = c.n1 === v ? c.n2 : c.n1;
        if (settled[u] || (useFirstHops && u === src) || c.unroutable) continue;
        const dir = u === c.n1 ? 0 : 1;
        const pol = c.policies[dir] as ChannelPolicy | undefined;
        if (pol === undefined || pol.disabled) continue;
        if (av < pol.minMsatF || av > pol.maxMsatF) continue;
        if (hasEx && (exAll.has(c.scid) || exDir.has(c.scid * 2n + BigInt(dir)))) continue;
        relax(
          u,
          v,
          c,
          dir,
          pol.feeBaseMsat,
          pol.feeProportionalMillionths,
          pol.cltvExpiryDelta,
          c.capacityMsatF,
          c.scid,
          true,
        );
      }
    }
    const vin = virtualIn.get(v);
    if (vin) {
      for (const e of vin) {
        if (settled[e.from]) continue;
        if (av < e.minF || av > e.maxF) continue;
        if (hasEx && exAll.has(e.scid)) continue;
        const pol = e.policy;
        relax(
          e.from,
          v,
          e,
          2,
          pol.feeBaseMsat,
          pol.feeProportionalMillionths,
          pol.cltvExpiryDelta,
          Infinity,
          e.scid,
          false,
        );
      }
    }
  }
  if (!settled[src] || cost[src] === Infinity) return { ok: false, reason: 'NO_ROUTE' };

  // Rebuild the path and recompute amounts/expiries exactly, backwards.
  const path: { to: number; edge: Edge; dir: number }[] = [];
  for (let x = src; x !== tgt; x = nextNode[x]!) {
    path.push({ to: nextNode[x]!, edge: nextEdge[x]!, dir: nextDir[x]! });
  }
  const nodeIdOf = (i: number) => (i < N ? slots[i]!.nodeId : extraIds[i - N]!);
  const out: RouteHop[] = new Array(path.length);
  let a = p.amountMsat;
  let exp = p.finalCltvDelta;
  for (let k = path.length - 1; k >= 0; k--) {
    const { to, edge, dir } = path[k]!;
    let policy: HopPolicy;
    let capacityMsat: bigint | undefined;
    let min: bigint;
    let max: bigint | undefined;
    if (isVirtual(edge)) {
      policy = edge.policy;
      capacityMsat = undefined;
      min = edge.minMsat;
      max = edge.maxMsat;
    } else {
      const pol = edge.policies[dir]!;
      policy = {
        feeBaseMsat: pol.feeBaseMsat,
        feeProportionalMillionths: pol.feeProportionalMillionths,
        cltvExpiryDelta: pol.cltvExpiryDelta,
      };
      capacityMsat = edge.capacitySat * 1000n;
      min = pol.htlcMinimumMsat;
      max = pol.htlcMaximumMsat < capacityMsat ? pol.htlcMaximumMsat : capacityMsat;
    }
    if (a < min || (max !== undefined && a > max)) return { ok: false, reason: 'NO_ROUTE' };
    const fee = k === 0 ? 0n : forwardingFeeMsat(policy, a);
    out[k] = {
      nodeId: nodeIdOf(to),
      shortChannelId: edge.scid,
      direction: isVirtual(edge) ? undefined : (dir as 0 | 1),
      amountMsat: a,
      relativeExpiry: exp,
      feeMsat: fee,
      policy,
      capacityMsat,
    };
    a += fee;
    if (k > 0) exp += policy.cltvExpiryDelta;
  }
  const route: Route = {
    hops: out,
    amountMsat: p.amountMsat,
    totalAmountMsat: out[0]!.amountMsat,
    feeMsat: out[0]!.amountMsat - p.amountMsat,
    totalCltvDelta: out[0]!.relativeExpiry,
  };
  if (p.maxFeeMsat !== undefined && route.feeMsat > p.maxFeeMsat) return { ok: false, reason: 'NO_ROUTE' };
  if (route.totalCltvDelta > maxCltv) return { ok: false, reason: 'NO_ROUTE' };
  return { ok: true, route };
}
