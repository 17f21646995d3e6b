/**
 * Router benchmark: a synthetic scale-free-ish graph of 10,000 nodes and 50,000 channels
 * (preferential attachment, deterministic PRNG), then route computations between random
 * (source, target, amount) pairs with the probabilistic scorer: median and p99 latency, and the
 * heap used by the graph (after `global.gc` when exposed; `npm run bench` passes --expose-gc).
 *
 * Every channel carries realistic-sized signed-message buffers (430-byte announcement, two
 * 138-byte updates) so the memory figure reflects a graph built from gossip.
 */
import { NetworkGraph } from '../src/core/gossip/graph.js';
import { findRoute } from '../src/core/router/find-route.js';
import { ProbabilisticScorer } from '../src/core/router/scorer.js';
import type { BenchRow } from './harness.js';

/** mulberry32: small deterministic PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Builds the synthetic graph (also used by the router tests at a smaller size). */
export function syntheticGraph(
  nodes: number,
  channels: number,
  seed: number,
  withRaw = true,
): { graph: NetworkGraph; ids: Uint8Array[] } {
  const rnd = prng(seed);
  const ids: Uint8Array[] = [];
  for (let i = 0; i < nodes; i++) {
    const id = new Uint8Array(33);
    id[0] = 2 + (i & 1);
    for (let k = 1; k < 33; k++) id[k] = Math.floor(rnd() * 256);
    ids.push(id);
  }
  const g = new NetworkGraph(new Uint8Array(32));
  // Preferential attachment: endpoints drawn from a list where each node appears once per
  // channel it has (plus once), so degrees follow a heavy-tailed distribution.
  const pool: number[] = [];
  for (let i = 0; i < nodes; i++) pool.push(i);
  let scidCounter = 0;
  const seen = new Set<string>();
  for (let c = 0; c < channels; c++) {
    let a: number;
    let b: number;
    if (c < nodes - 1) {
      // a spanning chain first so the graph is connected
      a = c + 1;
      b = pool[Math.floor(rnd() * pool.length)]! % (c + 1);
    } else {
      a = pool[Math.floor(rnd() * pool.length)]!;
      b = pool[Math.floor(rnd() * pool.length)]!;
    }
    if (a === b || seen.has(a < b ? `${a}:${b}` : `${b}:${a}`)) {
      c--;
      continue;
    }
    seen.add(a < b ? `${a}:${b}` : `${b}:${a}`);
    pool.push(a, b);
    const scid =
      (BigInt(500_000 + Math.floor(scidCounter / 1000)) << 40n) | (BigInt(scidCounter % 1000) << 16n);
    scidCounter++;
    // capacity log-uniform in [100k, 20M] sat
    const capacitySat = BigInt(Math.floor(100_000 * 200 ** rnd()));
    g.addChannel({
      scid,
      nodeId1: ids[a]!,
      nodeId2: ids[b]!,
      capacitySat,
      ...(withRaw ? { announcement: new Uint8Array(430) } : {}),
    });
    for (const dir of [0, 1] as const) {
      if (rnd() < 0.05) continue; // some directions never sent an update
      g.setPolicy(scid, dir, {
        timestamp: 1_700_000_000 + Math.floor(rnd() * 1_000_000),
        channelFlags: rnd() < 0.03 ? 2 : 0,
        cltvExpiryDelta: [40, 80, 144][Math.floor(rnd() * 3)]!,
        htlcMinimumMsat: 1000n,
        htlcMaximumMsat: (capacitySat * 1000n * 9n) / 10n,
        feeBaseMsat: Math.floor(rnd() * 1000),
        feeProportionalMillionths: Math.floor(rnd() * 2000),
        ...(withRaw ? { raw: new Uint8Array(138) } : {}),
      });
    }
  }
  return { graph: g, ids };
}

function percentile(sorted: number[], q: number): number {
  const i = Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1);
  return sorted[Math.max(0, i)]!;
}

const gc = (globalThis as { gc?: () => void }).gc;

export default async function routerBench(): Promise<BenchRow[]> {
  const group = 'Router (10,000 nodes / 50,000 channels)';
  gc?.();
  const before = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const { graph, ids } = syntheticGraph(10_000, 50_000, 42);
  const buildMs = performance.now() - t0;
  gc?.();
  const heapMb = (process.memoryUsage().heapUsed - before) / 2 ** 20;

  const rnd = prng(7);
  const scorer = new ProbabilisticScorer();
  const times: number[] = [];
  let found = 0;
  const queries = 200;
  // warm-up
  for (let i = 0; i < 10; i++) {
    findRoute({
      graph,
      source: ids[i]!,
      target: ids[i + 100]!,
      amountMsat: 10_000_000n,
      finalCltvDelta: 18,
      scorer,
    });
  }
  for (let q = 0; q < queries; q++) {
    const s = Math.floor(rnd() * ids.length);
    let t = Math.floor(rnd() * ids.length);
    if (t === s) t = (t + 1) % ids.length;
    // amount log-uniform in [1k, 1M] sat
    const amountMsat = BigInt(Math.floor(1_000_000 * 1000 ** rnd()));
    const t1 = performance.now();
    const r = findRoute({
      graph,
      source: ids[s]!,
      target: ids[t]!,
      amountMsat,
      finalCltvDelta: 18,
      scorer,
      now: 1_700_500_000,
    });
    times.push(performance.now() - t1);
    if (r.ok) found++;
  }
  times.sort((a, b) => a - b);
  const median = percentile(times, 0.5);
  const p99 = percentile(times, 0.99);
  return [
    { group, name: 'graph build (addChannel + 2 × setPolicy)', value: `${buildMs.toFixed(0)} ms` },
    {
      group,
      name: 'graph heap (with signed-message buffers)',
      value: `${heapMb.toFixed(1)} MB${gc ? '' : ' (no --expose-gc: approximate)'}`,
      target: '< 300 MB',
      met: heapMb < 300,
    },
    {
      group,
      name: `findRoute median (${queries} random queries, 1k–1M sat, ${found} routes found)`,
      value: `${median.toFixed(1)} ms`,
      target: '< 50 ms',
      met: median < 50,
    },
    { group, name: 'findRoute p99', value: `${p99.toFixed(1)} ms`, target: '< 200 ms', met: p99 < 200 },
  ];
}
