/**
 * Development routes of the REST API, registered only with `farad node start --dev` (for the
 * channel benchmark, bench/channel.bench.ts). Same bearer token as every other route.
 *
 * - `GET /v1/dev/stats` → process CPU time (µs) and memory (bytes), the store's write counters
 *   (SQLite commits = fsyncs of the WAL), the channel manager's message counters
 *   (`commitment_signed`, HTLC signatures, `update_*`, `revoke_and_ack` sent), the payments
 *   in memory, garbage-collection pauses (count and ms, minor/major/other) and, on Linux, the
 *   CPU time of the main thread and of the process's other threads.
 * - `GET /v1/dev/storage` → bytes and keys stored per namespace, database size.
 * - `POST /v1/dev/paybatch {node_id, amount_msat, concurrency, count?, seconds?}` → keysend
 *   payments to `node_id`, at most `concurrency` in flight, until `count` were made or `seconds`
 *   passed; each one is a full payment (route, onion, `update_add_htlc`, commitment rounds both
 *   ways, fulfill, records persisted) started from inside the node, so no HTTP round trip per
 *   payment is measured. Returns successes, failures (total and per reason), elapsed time and
 *   latency percentiles.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { SqliteStore } from '../../adapters/store/sqlite.js';
import { FaradError } from '../../protocol/errors.js';
import type { FaradNode } from './node.js';

/** A refused dev request (code `INVALID_REQUEST`). */
class DevRequestError extends FaradError {
  override name = 'RequestError';
}

const paybatch = z
  .object({
    node_id: z.string().regex(/^0[23][0-9a-fA-F]{64}$/),
    amount_msat: z.union([z.string().regex(/^\d{1,19}$/), z.number().int().positive()]),
    concurrency: z.number().int().min(1).max(1000),
    count: z.number().int().min(1).optional(),
    seconds: z.number().positive().max(3600).optional(),
  })
  .strict();

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * The key a failure is counted under: its error code (the first `UPPER_SNAKE` word, e.g.
 * `INSUFFICIENT_FUNDS`) when it has one, else the message up to its first `:` or `(`.
 */
function failureKey(reason: string): string {
  const code = /\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b/.exec(reason);
  if (code) return code[0];
  return reason.split(/[:(]/)[0]!.trim().slice(0, 80) || 'failed';
}

/** Runs a payment load (see the module documentation). */
export async function payBatch(
  node: FaradNode,
  o: { nodeId: string; amountMsat: bigint; concurrency: number; count?: number; seconds?: number },
): Promise<{
  succeeded: number;
  failed: number;
  elapsedMs: number;
  latencyMs: { p50: number; p99: number; max: number; mean: number };
  firstError: string | undefined;
  /** Failed payments per reason (payment failure reason, or the thrown error's message). */
  failures: Record<string, number>;
}> {
  const lat: number[] = [];
  let succeeded = 0;
  let failed = 0;
  let firstError: string | undefined;
  const failures: Record<string, number> = {};
  const fail = (reason: string) => {
    failed++;
    firstError ??= reason;
    const k = failureKey(reason);
    failures[k] = (failures[k] ?? 0) + 1;
  };
  let started = 0;
  const t0 = performance.now();
  const end = o.seconds === undefined ? Number.POSITIVE_INFINITY : t0 + o.seconds * 1000;
  // After a refused payment (e.g. the channel's 483 HTLC slots are full, some of them held by
  // HTLCs being removed) a worker waits for the next success (at most 1 s) before trying again.
  const sleepers: Array<() => void> = [];
  const backOff = () =>
    new Promise<void>((r) => {
      const t = setTimeout(r, 1000);
      sleepers.push(() => {
        clearTimeout(t);
        r();
      });
    });
  const more = () => (o.count === undefined || started < o.count) && performance.now() < end;
  const worker = async () => {
    while (more()) {
      started++;
      const s = performance.now();
      try {
        const r = await node.payments.keysend(o.nodeId, o.amountMsat);
        if (r.status === 'succeeded') {
          succeeded++;
          lat.push(performance.now() - s);
          sleepers.shift()?.();
        } else {
          fail(r.failureReason ?? r.status);
          await backOff();
        }
      } catch (e) {
        fail(e instanceof Error ? e.message : String(e));
        if (failed > 50 && succeeded === 0) return;
        await backOff();
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  const elapsedMs = performance.now() - t0;
  lat.sort((a, b) => a - b);
  return {
    succeeded,
    failed,
    elapsedMs,
    latencyMs: {
      p50: percentile(lat, 50),
      p99: percentile(lat, 99),
      max: lat[lat.length - 1] ?? 0,
      mean: lat.length ? lat.reduce((a, b) => a + b, 0) / lat.length : 0,
    },
    firstError,
    failures,
  };
}

/** Garbage-collection pauses of the main thread since the dev routes were registered. */
interface GcStats {
  minor: { count: number; ms: number };
  major: { count: number; ms: number };
  other: { count: number; ms: number };
}

function watchGc(): GcStats {
  const gc: GcStats = { minor: { count: 0, ms: 0 }, major: { count: 0, ms: 0 }, other: { count: 0, ms: 0 } };
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as { detail?: { kind?: number } }).detail?.kind;
      const slot =
        kind === constants.NODE_PERFORMANCE_GC_MINOR
          ? gc.minor
          : kind === constants.NODE_PERFORMANCE_GC_MAJOR
            ? gc.major
            : gc.other;
      slot.count++;
      slot.ms += e.duration;
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  return gc;
}

/**
 * CPU time (ms) of this process's main thread and of its other threads (V8's GC and compiler
 * helpers, libuv's pool), from /proc on Linux; undefined elsewhere.
 */
function threadCpuMs(): { main: number; others: number } | undefined {
  try {
    const tick = 10; // USER_HZ = 100 on Linux
    let main = 0;
    let others = 0;
    for (const t of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ms = (Number(f[11]) + Number(f[12])) * tick;
      if (Number(t) === process.pid) main += ms;
      else others += ms;
    }
    return { main, others };
  } catch {
    return undefined;
  }
}

/** Registers the `/v1/dev` routes on the API server. */
export function registerDevRoutes(app: FastifyInstance, node: FaradNode): void {
  const gc = watchGc();
  app.get('/v1/dev/stats', async () => {
    const cpu = process.cpuUsage();
    const mem = process.memoryUsage();
    const store = node.store instanceof SqliteStore ? node.store.stats : undefined;
    return {
      pid: process.pid,
      cpu_user_us: cpu.user,
      cpu_system_us: cpu.system,
      rss: mem.rss,
      heap_used: mem.heapUsed,
      external: mem.external,
      store: store ?? null,
      channels: node.channels.stats,
      payments: node.payments.listPayments().length,
      gc,
      threads_cpu_ms: threadCpuMs() ?? null,
    };
  });

  app.get('/v1/dev/storage', async () => {
    if (!(node.store instanceof SqliteStore)) return { namespaces: {}, page_bytes: 0 };
    const u = node.store.usage();
    return { namespaces: u.namespaces, page_bytes: u.pageBytes };
  });

  app.post('/v1/dev/paybatch', async (req) => {
    const r = paybatch.safeParse(req.body ?? {});
    if (!r.success)
      throw new DevRequestError('INVALID_REQUEST', r.error.issues[0]?.message ?? 'invalid request');
    const b = r.data;
    const out = await payBatch(node, {
      nodeId: b.node_id.toLowerCase(),
      amountMsat: BigInt(b.amount_msat),
      concurrency: b.concurrency,
      ...(b.count !== undefined ? { count: b.count } : {}),
      ...(b.seconds !== undefined ? { seconds: b.seconds } : {}),
    });
    return {
      succeeded: out.succeeded,
      failed: out.failed,
      elapsed_ms: out.elapsedMs,
      latency_ms: out.latencyMs,
      first_error: out.firstError ?? null,
      failures: out.failures,
    };
  });
}
