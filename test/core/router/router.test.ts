import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NetworkGraph } from '../../../src/core/gossip/index.js';
import {
  type FindRouteParams,
  findRoute,
  ProbabilisticScorer,
  type Route,
  retryDecision,
  routeOnionPayloads,
  splitPayment,
  zeroScorer,
} from '../../../src/core/router/index.js';
import { sha256 } from '../../../src/protocol/crypto/hash.js';
import { toHex, utf8 } from '../../../src/protocol/encoding/bytes.js';
import { DecodeError } from '../../../src/protocol/errors.js';

const id = (name: string): Uint8Array => {
  const b = new Uint8Array(33);
  b[0] = 2;
  b.set(sha256(utf8(name)), 1);
  return b;
};

interface Pol {
  base?: number;
  ppm?: number;
  delta?: number;
  min?: bigint;
  max?: bigint;
  disabled?: boolean;
}

/** A test graph: `link(x, y, scid, capacitySat, policyOfX, policyOfY)`. */
class TestGraph {
  g = new NetworkGraph(new Uint8Array(32));
  link(x: string, y: string, scid: bigint, capSat: bigint, px: Pol | null = {}, py: Pol | null = {}): void {
    this.g.addChannel({ scid, nodeId1: id(x), nodeId2: id(y), capacitySat: capSat });
    const xFirst = toHex(id(x)) < toHex(id(y));
    const set = (p: Pol | null, dir: 0 | 1) => {
      if (!p) return;
      this.g.setPolicy(scid, dir, {
        timestamp: 1,
        channelFlags: p.disabled ? 2 : 0,
        cltvExpiryDelta: p.delta ?? 40,
        htlcMinimumMsat: p.min ?? 1n,
        htlcMaximumMsat: p.max ?? capSat * 1000n,
        feeBaseMsat: p.base ?? 0,
        feeProportionalMillionths: p.ppm ?? 0,
      });
    };
    set(px, xFirst ? 0 : 1);
    set(py, xFirst ? 1 : 0);
  }
}

const pure = { baseHopPenaltyMsat: 0, cltvCostPerBlock: 0 };

function route(p: Omit<FindRouteParams, 'finalCltvDelta'> & { finalCltvDelta?: number }): Route {
  const r = findRoute({ finalCltvDelta: 18, costs: pure, ...p });
  if (!r.ok) throw new Error(`no route: ${r.reason}`);
  return r.route;
}

const names = (r: Route) => r.hops.map((h) => toHex(h.nodeId));
const path = (...n: string[]) => n.map((x) => toHex(id(x)));

describe('findRoute: fees and CLTV', () => {
  // BOLT #7 "Routing Example": A-B, B-C, C-D, D-A; each node's side advertises
  // A: 10 blocks, 100 + 1000 ppm; B: 20, 200 + 2000; C: 30, 300 + 3000; D: 40, 400 + 4000.
  const t = new TestGraph();
  const P = { A: { delta: 10, base: 100, ppm: 1000 }, B: { delta: 20, base: 200, ppm: 2000 } };
  const Q = { C: { delta: 30, base: 300, ppm: 3000 }, D: { delta: 40, base: 400, ppm: 4000 } };
  const cap = 100_000_000n;
  t.link('A', 'B', 1n, cap, P.A, P.B);
  t.link('B', 'C', 2n, cap, P.B, Q.C);
  t.link('C', 'D', 3n, cap, Q.C, Q.D);
  t.link('D', 'A', 4n, cap, Q.D, P.A);

  it('reproduces the BOLT 7 routing example A->B->C and A->D->C', () => {
    const r = route({ graph: t.g, source: id('A'), target: id('C'), amountMsat: 4_999_999n });
    expect(names(r)).toEqual(path('B', 'C'));
    // "amount_msat: 5010198, cltv_expiry: current-block-height + 20 + 18" (no shadow route here)
    expect(r.hops.map((h) => [h.amountMsat, h.relativeExpiry])).toEqual([
      [5_010_198n, 38],
      [4_999_999n, 18],
    ]);
    expect(r.feeMsat).toBe(10_199n);
    const viaD = route({
      graph: t.g,
      source: id('A'),
      target: id('C'),
      amountMsat: 4_999_999n,
      excludedNodes: [id('B')],
    });
    expect(names(viaD)).toEqual(path('D', 'C'));
    expect(viaD.hops.map((h) => [h.amountMsat, h.relativeExpiry])).toEqual([
      [5_020_398n, 58],
      [4_999_999n, 18],
    ]);
    const onion = routeOnionPayloads(r, 800_000);
    expect(onion.firstAmountMsat).toBe(5_010_198n);
    expect(onion.firstCltvExpiry).toBe(800_038);
    expect(onion.payloads).toEqual([
      { amtToForward: 4_999_999n, outgoingCltvValue: 800_018, shortChannelId: 2n },
      { amtToForward: 4_999_999n, outgoingCltvValue: 800_018 },
    ]);
  });

  it('computes every hop of a 4-hop route exactly, backwards from the payee', () => {
    const g = new TestGraph();
    g.link('S', 'X1', 11n, 10_000_000n, { base: 9999, ppm: 9999, delta: 999 }, {});
    g.link('X1', 'X2', 12n, 10_000_000n, { base: 1000, ppm: 100, delta: 40 }, {});
    g.link('X2', 'X3', 13n, 10_000_000n, { base: 0, ppm: 2500, delta: 144 }, {});
    g.link('X3', 'T', 14n, 10_000_000n, { base: 500, ppm: 1, delta: 18 }, {});
    const r = route({
      graph: g.g,
      source: id('S'),
      target: id('T'),
      amountMsat: 1_234_567_891n,
      finalCltvDelta: 9,
    });
    // By hand: X3 charges 500 + floor(1234567891 * 1 / 1e6) = 1734;
    // X2: floor(1234569625 * 2500 / 1e6) = 3086424; X1: 1000 + floor(1237656049 * 100 / 1e6) = 124765.
    expect(
      r.hops.map((h) => [toHex(h.nodeId), h.shortChannelId, h.amountMsat, h.relativeExpiry, h.feeMsat]),
    ).toEqual([
      [toHex(id('X1')), 11n, 1_237_780_814n, 211, 0n],
      [toHex(id('X2')), 12n, 1_237_656_049n, 171, 124_765n],
      [toHex(id('X3')), 13n, 1_234_569_625n, 27, 3_086_424n],
      [toHex(id('T')), 14n, 1_234_567_891n, 9, 1_734n],
    ]);
    expect(r.feeMsat).toBe(3_212_923n);
    expect(r.totalCltvDelta).toBe(211);
  });

  // Two paths S-P-T (expensive) and S-Q-T (cheap, long CLTV, limited).
  const two = (q: Pol = {}) => {
    const g = new TestGraph();
    g.link('S', 'P', 1n, 10_000_000n, {}, {});
    g.link('P', 'T', 2n, 10_000_000n, { base: 5000, ppm: 500, delta: 40 }, {});
    g.link('S', 'Q', 3n, 10_000_000n, {}, {});
    g.link('Q', 'T', 4n, 10_000_000n, { base: 10, ppm: 1, delta: 40, ...q }, {});
    return g.g;
  };
  const base = { source: id('S'), target: id('T'), amountMsat: 100_000_000n };

  it('picks the cheapest route by fee', () => {
    expect(names(route({ graph: two(), ...base }))).toEqual(path('Q', 'T'));
    expect(route({ graph: two(), ...base }).feeMsat).toBe(110n);
  });

  it('honours max CLTV', () => {
    const g = two({ delta: 500 });
    expect(names(route({ graph: g, ...base }))).toEqual(path('Q', 'T'));
    expect(names(route({ graph: g, ...base, maxCltv: 300 }))).toEqual(path('P', 'T'));
    expect(findRoute({ graph: g, ...base, finalCltvDelta: 18, maxCltv: 50 })).toEqual({
      ok: false,
      reason: 'NO_ROUTE',
    });
    expect(findRoute({ graph: g, ...base, finalCltvDelta: 60, maxCltv: 50 })).toEqual({
      ok: false,
      reason: 'FINAL_CLTV_TOO_LARGE',
    });
  });

  it('prefers a shorter CLTV at equal fees when CLTV has a cost', () => {
    const g = new TestGraph();
    g.link('S', 'P', 1n, 10_000_000n, {}, {});
    g.link('P', 'T', 2n, 10_000_000n, { base: 100, delta: 40 }, {});
    g.link('S', 'Q', 3n, 10_000_000n, {}, {});
    g.link('Q', 'T', 4n, 10_000_000n, { base: 99, delta: 400 }, {});
    expect(names(route({ graph: g.g, ...base }))).toEqual(path('Q', 'T'));
    const r = findRoute({ graph: g.g, ...base, finalCltvDelta: 18 });
    expect(r.ok && names(r.route)).toEqual(path('P', 'T'));
  });

  it('respects htlc_maximum_msat, htlc_minimum_msat, capacity and disabled directions', () => {
    expect(names(route({ graph: two({ max: 99_999_999n }), ...base }))).toEqual(path('P', 'T'));
    expect(names(route({ graph: two({ min: 100_000_001n }), ...base }))).toEqual(path('P', 'T'));
    expect(names(route({ graph: two({ disabled: true }), ...base }))).toEqual(path('P', 'T'));
    // a direction without an update is unusable
    const g = new TestGraph();
    g.link('S', 'Q', 3n, 10_000_000n, {}, {});
    g.link('Q', 'T', 4n, 10_000_000n, null, {});
    expect(findRoute({ graph: g.g, ...base, finalCltvDelta: 18 })).toEqual({ ok: false, reason: 'NO_ROUTE' });
    // above every capacity
    expect(findRoute({ graph: two(), ...base, amountMsat: 10_000_000_001n, finalCltvDelta: 18 }).ok).toBe(
      false,
    );
  });

  it('honours max fee, exclusions and unroutable nodes', () => {
    expect(findRoute({ graph: two({ base: 6000 }), ...base, finalCltvDelta: 18, maxFeeMsat: 5000n })).toEqual(
      {
        ok: false,
        reason: 'NO_ROUTE',
      },
    );
    expect(names(route({ graph: two(), ...base, excludedChannels: [{ shortChannelId: 4n }] }))).toEqual(
      path('P', 'T'),
    );
    const g = two();
    const dirQT = g.getChannel(4n)!.n1 === g.nodeIndexOf(id('Q')) ? 0 : 1;
    expect(
      names(route({ graph: g, ...base, excludedChannels: [{ shortChannelId: 4n, direction: dirQT }] })),
    ).toEqual(path('P', 'T'));
    expect(
      names(
        route({
          graph: g,
          ...base,
          excludedChannels: [{ shortChannelId: 4n, direction: (1 - dirQT) as 0 | 1 }],
        }),
      ),
    ).toEqual(path('Q', 'T'));
    const feat = new Uint8Array(13);
    feat[0] = 0x10; // bit 100: unknown even
    g.setNodeAnnouncement(id('Q'), { timestamp: 1, features: feat, raw: new Uint8Array(0) });
    expect(names(route({ graph: g, ...base }))).toEqual(path('P', 'T'));
  });

  it('reports unknown endpoints and bad amounts', () => {
    const g = two();
    expect(findRoute({ graph: g, ...base, target: id('nobody'), finalCltvDelta: 18 })).toEqual({
      ok: false,
      reason: 'TARGET_UNKNOWN',
    });
    expect(findRoute({ graph: g, ...base, source: id('nobody'), finalCltvDelta: 18 })).toEqual({
      ok: false,
      reason: 'SOURCE_UNKNOWN',
    });
    expect(findRoute({ graph: g, ...base, target: id('S'), finalCltvDelta: 18 }).ok).toBe(false);
    expect(findRoute({ graph: g, ...base, amountMsat: 0n, finalCltvDelta: 18 })).toEqual({
      ok: false,
      reason: 'INVALID_AMOUNT',
    });
  });
});

describe('findRoute: route hints and first hops', () => {
  const t = new TestGraph();
  t.link('S', 'M', 1n, 10_000_000n, {}, {});
  t.link('M', 'Y', 2n, 10_000_000n, { base: 1000, ppm: 10, delta: 40 }, {});

  it('reaches a private payee through a route hint with an SCID alias', () => {
    const alias = (1n << 63n) | 77n;
    const r = route({
      graph: t.g,
      source: id('S'),
      target: id('Z'),
      amountMsat: 50_000_000n,
      routeHints: [
        [
          {
            pubkey: id('Y'),
            shortChannelId: alias,
            feeBaseMsat: 2000,
            feeProportionalMillionths: 100,
            cltvExpiryDelta: 144,
          },
        ],
      ],
    });
    expect(names(r)).toEqual(path('M', 'Y', 'Z'));
    const y = 50_000_000n + 2000n + (50_000_000n * 100n) / 1_000_000n; // 50_007_000
    const m = y + 1000n + (y * 10n) / 1_000_000n;
    expect(r.hops.map((h) => [h.shortChannelId, h.amountMsat, h.relativeExpiry, h.direction])).toEqual([
      [1n, m, 18 + 144 + 40, r.hops[0]!.direction],
      [2n, y, 18 + 144, r.hops[1]!.direction],
      [alias, 50_000_000n, 18, undefined],
    ]);
  });

  it('follows a multi-hop hint through nodes unknown to the graph', () => {
    const r = route({
      graph: t.g,
      source: id('S'),
      target: id('Z'),
      amountMsat: 1_000_000n,
      routeHints: [
        [
          {
            pubkey: id('Y'),
            shortChannelId: 90n,
            feeBaseMsat: 1,
            feeProportionalMillionths: 0,
            cltvExpiryDelta: 10,
          },
          {
            pubkey: id('W'),
            shortChannelId: 91n,
            feeBaseMsat: 2,
            feeProportionalMillionths: 0,
            cltvExpiryDelta: 20,
          },
        ],
      ],
    });
    expect(names(r)).toEqual(path('M', 'Y', 'W', 'Z'));
    expect(r.hops.map((h) => h.amountMsat)).toEqual([
      1_000_000n + 2n + 1n + 1010n,
      1_000_003n,
      1_000_002n,
      1_000_000n,
    ]);
  });

  it('uses first hops with their exact liquidity instead of graph channels', () => {
    const g = new TestGraph();
    g.link('S', 'P', 1n, 10_000_000n, {}, {});
    g.link('P', 'T', 2n, 10_000_000n, { base: 5000 }, {});
    g.link('S', 'Q', 3n, 10_000_000n, {}, {});
    g.link('Q', 'T', 4n, 10_000_000n, { base: 10 }, {});
    const first = [
      { shortChannelId: 3n, peerNodeId: id('Q'), outboundMsat: 1_000_000n },
      { shortChannelId: 1n, peerNodeId: id('P'), outboundMsat: 500_000_000n },
    ];
    const r = route({
      graph: g.g,
      source: id('S'),
      target: id('T'),
      amountMsat: 2_000_000n,
      firstHops: first,
    });
    expect(names(r)).toEqual(path('P', 'T'));
    const r2 = route({
      graph: g.g,
      source: id('S'),
      target: id('T'),
      amountMsat: 900_000n,
      firstHops: first,
    });
    expect(names(r2)).toEqual(path('Q', 'T'));
  });
});

describe('scorer', () => {
  const g = new TestGraph();
  g.link('S', 'P', 1n, 10_000_000n, {}, {});
  g.link('P', 'T', 2n, 10_000_000n, { base: 1100 }, {});
  g.link('S', 'Q', 3n, 10_000_000n, {}, {});
  g.link('Q', 'T', 4n, 10_000_000n, { base: 1000 }, {});
  const q = { graph: g.g, source: id('S'), target: id('T'), amountMsat: 3_000_000_000n, now: 1000 };

  it('steers away from a channel after a failure, and back after the knowledge decays', () => {
    const scorer = new ProbabilisticScorer({ halfLifeSeconds: 3600 });
    const r1 = route({ ...q, scorer });
    expect(names(r1)).toEqual(path('Q', 'T'));
    // temporary_channel_failure from Q: channel Q->T (hop 1) lacks 3,000,000,000 msat
    scorer.pathFailed(r1.hops, 1, 1000);
    const r2 = route({ ...q, scorer });
    expect(names(r2)).toEqual(path('P', 'T'));
    // a smaller amount still fits under the learned upper bound
    expect(names(route({ ...q, scorer, amountMsat: 1_000_000n }))).toEqual(path('Q', 'T'));
    // after many half-lives the failure is forgotten
    expect(names(route({ ...q, scorer, now: 1000 + 3600 * 40 }))).toEqual(path('Q', 'T'));
  });

  it('learns mirrored bounds per direction, decays them, and persists them', () => {
    const s = new ProbabilisticScorer({ halfLifeSeconds: 100 });
    const cap = 1_000_000;
    expect(s.liquidityBounds(9n, 0, cap, 0)).toEqual([0, cap]);
    s.channelFailed(9n, 0, 400_000, cap, 0);
    expect(s.liquidityBounds(9n, 0, cap, 0)).toEqual([0, 399_999]);
    expect(s.liquidityBounds(9n, 1, cap, 0)).toEqual([600_001, cap]);
    expect(s.successProbability(9n, 0, 400_000, cap, 0)).toBe(0);
    expect(s.penaltyMsat(9n, 0, 400_000, cap, 0)).toBe(Infinity);
    expect(s.successProbability(9n, 1, 600_001, cap, 0)).toBe(1);
    s.channelPassed(9n, 0, 100_000, cap, 0);
    expect(s.liquidityBounds(9n, 0, cap, 0)).toEqual([100_000, 399_999]);
    // one half-life later, the offsets from [0, cap] are halved
    const [lo, hi] = s.liquidityBounds(9n, 0, cap, 100);
    expect(lo).toBeCloseTo(50_000, 6);
    expect(hi).toBeCloseTo(cap - 600_001 / 2, 6);
    // contradicting newer information wins
    s.channelFailed(9n, 0, 50_000, cap, 0);
    expect(s.liquidityBounds(9n, 0, cap, 0)).toEqual([49_999, 49_999]);
    const back = ProbabilisticScorer.deserialize(s.serialize(), { halfLifeSeconds: 100 });
    expect(back.liquidityBounds(9n, 0, cap, 0)).toEqual([49_999, 49_999]);
    expect(back.size).toBe(1);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (b) => {
        try {
          ProbabilisticScorer.deserialize(b);
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
        }
      }),
    );
  });

  it('penalises amounts close to capacity more than small ones', () => {
    const s = new ProbabilisticScorer();
    const small = s.penaltyMsat(1n, 0, 1_000, 1_000_000_000, 0);
    const big = s.penaltyMsat(1n, 0, 900_000_000, 1_000_000_000, 0);
    expect(small).toBeLessThan(big);
    expect(s.penaltyMsat(1n, 0, 1_000_000_001, 1_000_000_000, 0)).toBe(Infinity);
    expect(zeroScorer.penaltyMsat(1n, 0, 1, 1, 0)).toBe(0);
  });
});

describe('splitPayment (MPP)', () => {
  const g = new TestGraph();
  const lim = { max: 600_000_000n };
  g.link('S', 'P', 1n, 1_000_000n, lim, {});
  g.link('P', 'T', 2n, 1_000_000n, { base: 1000, ppm: 100, ...lim }, {});
  g.link('S', 'Q', 3n, 1_000_000n, lim, {});
  g.link('Q', 'T', 4n, 1_000_000n, { base: 1000, ppm: 200, ...lim }, {});
  g.link('S', 'R', 5n, 1_000_000n, lim, {});
  g.link('R', 'T', 6n, 1_000_000n, { base: 1000, ppm: 300, ...lim }, {});
  const p = { graph: g.g, source: id('S'), target: id('T'), finalCltvDelta: 18, costs: pure };

  it('splits an amount larger than any single route, parts summing to the total', () => {
    const amountMsat = 1_500_000_000n;
    expect(findRoute({ ...p, amountMsat }).ok).toBe(false);
    const r = splitPayment({ ...p, amountMsat, minPartMsat: 1_000_000n });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.routes.length).toBeGreaterThan(1);
    expect(r.routes.reduce((s, x) => s + x.amountMsat, 0n)).toBe(amountMsat);
    expect(r.feeMsat).toBe(r.routes.reduce((s, x) => s + x.feeMsat, 0n));
    const perChannel = new Map<bigint, bigint>();
    for (const route of r.routes) {
      expect(route.amountMsat).toBeGreaterThanOrEqual(1_000_000n);
      for (const h of route.hops) {
        expect(h.amountMsat).toBeLessThanOrEqual(600_000_000n);
        perChannel.set(h.shortChannelId, (perChannel.get(h.shortChannelId) ?? 0n) + h.amountMsat);
      }
      checkRoute({ ...p, amountMsat: route.amountMsat }, route);
    }
    for (const v of perChannel.values()) expect(v).toBeLessThanOrEqual(1_000_000_000n);
  });

  it('returns a single route when one suffices, and fails when the total cannot fit', () => {
    const one = splitPayment({ ...p, amountMsat: 1_000_000n });
    expect(one.ok && one.routes.length).toBe(1);
    expect(splitPayment({ ...p, amountMsat: 1_500_000_000n, maxParts: 1 })).toEqual({
      ok: false,
      reason: 'TOO_MANY_PARTS',
    });
    expect(splitPayment({ ...p, amountMsat: 3_100_000_000n }).ok).toBe(false);
  });
});

describe('retry policy', () => {
  const t = new TestGraph();
  t.link('S', 'A', 1n, 10_000_000n, {}, {});
  t.link('A', 'B', 2n, 10_000_000n, {}, {});
  t.link('B', 'T', 3n, 10_000_000n, {}, {});
  const r = route({ graph: t.g, source: id('S'), target: id('T'), amountMsat: 1000n });
  const dir = (i: number) => r.hops[i]!.direction;
  const upd = new Uint8Array([1, 2, 3]);

  it('maps BOLT 4 failures to exclusions and scorer updates', () => {
    const tcf = retryDecision(r, 0, { name: 'temporary_channel_failure', channelUpdate: upd });
    expect(tcf).toMatchObject({
      retry: true,
      excludeChannels: [{ shortChannelId: 2n, direction: dir(1) }],
      liquidityFailedHop: 1,
      passedHops: 1,
      channelUpdate: upd,
    });
    const fee = retryDecision(r, 1, { name: 'fee_insufficient', htlcMsat: 1n, channelUpdate: upd });
    expect(fee).toMatchObject({
      retry: true,
      excludeChannels: [],
      excludeIfUpdateNotAccepted: { shortChannelId: 3n },
    });
    expect(
      retryDecision(r, 1, { name: 'fee_insufficient', htlcMsat: 1n, channelUpdate: new Uint8Array(0) })
        .excludeChannels,
    ).toEqual([{ shortChannelId: 3n, direction: dir(2) }]);
    expect(retryDecision(r, 0, { name: 'unknown_next_peer' })).toMatchObject({
      excludeChannels: [{ shortChannelId: 2n }],
      permanent: true,
    });
    expect(retryDecision(r, 1, { name: 'temporary_node_failure' })).toMatchObject({
      excludeNodes: [id('B')],
      permanent: false,
    });
    expect(retryDecision(r, 0, { name: 'permanent_node_failure' })).toMatchObject({
      excludeNodes: [id('A')],
      permanent: true,
    });
    expect(
      retryDecision(r, 0, { name: 'invalid_onion_hmac', sha256OfOnion: new Uint8Array(32) }).excludeNodes,
    ).toEqual([id('B')]);
    expect(retryDecision(r, 1, { name: 'invalid_onion_hmac', sha256OfOnion: new Uint8Array(32) }).retry).toBe(
      false,
    );
    expect(
      retryDecision(r, 0, { name: 'channel_disabled', disabledFlags: 0, channelUpdate: upd }).excludeChannels,
    ).toEqual([{ shortChannelId: 2n, direction: dir(1) }]);
    expect(retryDecision(r, 0, { name: 'expiry_too_far' }).excludeNodes).toEqual([id('A')]);
    expect(retryDecision(r, 0, undefined).excludeNodes).toEqual([id('A')]);
  });

  it('stops on payee failures, retries MPP timeouts, avoids the path when unattributable', () => {
    const payee = retryDecision(r, 2, {
      name: 'incorrect_or_unknown_payment_details',
      htlcMsat: 1000n,
      height: 1,
    });
    expect(payee).toMatchObject({ retry: false, reachedDestination: true, passedHops: 3 });
    expect(retryDecision(r, 2, { name: 'mpp_timeout' }).retry).toBe(true);
    expect(retryDecision(r, undefined, undefined).excludeChannels.map((x) => x.shortChannelId)).toEqual([
      2n,
      3n,
    ]);
  });
});

/** Independent checks of every route constraint (policies read from the graph). */
function checkRoute(p: FindRouteParams, r: Route, maxCltv = 2016): void {
  const g = p.graph;
  expect(r.hops.length).toBeGreaterThan(0);
  expect(toHex(r.hops[r.hops.length - 1]!.nodeId)).toBe(toHex(p.target));
  expect(r.amountMsat).toBe(p.amountMsat);
  let from = p.source;
  r.hops.forEach((h, i) => {
    const c = g.getChannel(h.shortChannelId)!;
    const [n1, n2] = g.endpoints(c);
    const dir = toHex(n1.nodeId) === toHex(from) ? 0 : 1;
    expect(toHex(dir === 0 ? n1.nodeId : n2.nodeId)).toBe(toHex(from));
    expect(toHex(dir === 0 ? n2.nodeId : n1.nodeId)).toBe(toHex(h.nodeId));
    expect(h.direction).toBe(dir);
    const pol = c.policies[dir]!;
    expect(pol.disabled).toBe(false);
    expect(h.amountMsat).toBeGreaterThanOrEqual(pol.htlcMinimumMsat);
    expect(h.amountMsat).toBeLessThanOrEqual(pol.htlcMaximumMsat);
    expect(h.amountMsat).toBeLessThanOrEqual(c.capacitySat * 1000n);
    const next = r.hops[i + 1];
    if (next) {
      const np = g.getChannel(next.shortChannelId)!.policies[next.direction!]!;
      const fee =
        BigInt(np.feeBaseMsat) + (next.amountMsat * BigInt(np.feeProportionalMillionths)) / 1_000_000n;
      expect(h.amountMsat).toBe(next.amountMsat + fee);
      expect(next.feeMsat).toBe(fee);
      expect(h.relativeExpiry).toBe(next.relativeExpiry + np.cltvExpiryDelta);
      expect(h.amountMsat).toBeGreaterThanOrEqual(next.amountMsat);
    } else {
      expect(h.amountMsat).toBe(p.amountMsat);
      expect(h.relativeExpiry).toBe(p.finalCltvDelta);
    }
    from = h.nodeId;
  });
  expect(r.hops[0]!.feeMsat).toBe(0n);
  expect(r.totalAmountMsat).toBe(r.hops[0]!.amountMsat);
  expect(r.feeMsat).toBe(r.totalAmountMsat - r.amountMsat);
  expect(r.totalCltvDelta).toBeLessThanOrEqual(p.maxCltv ?? maxCltv);
  if (p.maxFeeMsat !== undefined) expect(r.feeMsat).toBeLessThanOrEqual(p.maxFeeMsat);
  expect(new Set(r.hops.map((h) => toHex(h.nodeId))).size).toBe(r.hops.length);
}

describe('findRoute properties on random graphs', () => {
  const arbGraph = fc.record({
    nodes: fc.integer({ min: 3, max: 16 }),
    edges: fc.array(
      fc.record({
        a: fc.nat(24),
        b: fc.nat(24),
        cap: fc.bigInt({ min: 1000n, max: 10_000_000n }),
        pols: fc.tuple(
          ...[0, 1].map(() =>
            fc.option(
              fc.record({
                base: fc.nat(5000),
                ppm: fc.nat(5000),
                delta: fc.integer({ min: 0, max: 200 }),
                min: fc.bigInt({ min: 0n, max: 10_000n }),
                maxFrac: fc.integer({ min: 1, max: 100 }),
                disabled: fc.boolean(),
              }),
              { freq: 5 },
            ),
          ),
        ),
      }),
      { minLength: 10, maxLength: 80 },
    ),
    amount: fc.oneof(fc.bigInt({ min: 1n, max: 50_000_000n }), fc.bigInt({ min: 1n, max: 5_000_000_000n })),
    maxFee: fc.option(fc.bigInt({ min: 0n, max: 1_000_000n }), { freq: 3 }),
    maxCltv: fc.integer({ min: 18, max: 600 }),
    scored: fc.boolean(),
  });

  it('every returned route satisfies all constraints', () => {
    let found = 0;
    let split = 0;
    fc.assert(
      fc.property(arbGraph, fc.nat(24), fc.nat(24), (x, s, t) => {
        const g = new NetworkGraph(new Uint8Array(32));
        x.edges.forEach((e, i) => {
          const a = e.a % x.nodes;
          const b = e.b % x.nodes;
          if (a === b) return;
          const scid = BigInt(i + 1);
          g.addChannel({ scid, nodeId1: id(`n${a}`), nodeId2: id(`n${b}`), capacitySat: e.cap });
          e.pols.forEach((p, dir) => {
            if (!p) return;
            g.setPolicy(scid, dir as 0 | 1, {
              timestamp: 1,
              channelFlags: p.disabled ? 2 : 0,
              cltvExpiryDelta: p.delta,
              htlcMinimumMsat: p.min,
              htlcMaximumMsat: (e.cap * 1000n * BigInt(p.maxFrac)) / 100n,
              feeBaseMsat: p.base,
              feeProportionalMillionths: p.ppm,
            });
          });
        });
        const src = id(`n${s % x.nodes}`);
        const tgt = id(`n${t % x.nodes}`);
        if (g.nodeIndexOf(src) < 0 || g.nodeIndexOf(tgt) < 0 || s % x.nodes === t % x.nodes) return;
        const scorer = new ProbabilisticScorer();
        const params: FindRouteParams = {
          graph: g,
          source: src,
          target: tgt,
          amountMsat: x.amount,
          finalCltvDelta: 18,
          maxCltv: x.maxCltv,
          ...(x.maxFee === null ? {} : { maxFeeMsat: x.maxFee }),
          ...(x.scored ? { scorer } : {}),
        };
        const r = findRoute(params);
        if (r.ok) {
          found++;
          checkRoute(params, r.route);
          // Learning from a failure never breaks the constraints either.
          scorer.pathFailed(r.route.hops, r.route.hops.length - 1, 0);
          const r2 = findRoute({ ...params, scorer });
          if (r2.ok) checkRoute(params, r2.route);
        }
        const m = splitPayment({ ...params, maxParts: 4, minPartMsat: 1000n });
        if (m.ok) {
          if (m.routes.length > 1) split++;
          expect(m.routes.reduce((sum, rt) => sum + rt.amountMsat, 0n)).toBe(x.amount);
          for (const rt of m.routes) checkRoute({ ...params, amountMsat: rt.amountMsat }, rt);
        }
      }),
      { numRuns: 400, seed: 42 },
    );
    // The generator must actually exercise routes and splits.
    expect(found).toBeGreaterThan(50);
    expect(split).toBeGreaterThan(8);
  });
});
