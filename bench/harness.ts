/**
 * Tiny benchmark harness. A bench file `bench/<area>.bench.ts` default-exports `BenchCase[]`;
 * `npm run bench` runs them all and writes docs/benchmarks.md. Cases measure ops/s by running
 * `fn` repeatedly for about `seconds` (after a short warm-up). Targets are reported, never asserted.
 */
export interface BenchCase {
  /** Section in the report, e.g. "BOLT 8". */
  group: string;
  /** What one op is, e.g. "encrypt+decrypt 1 KiB". */
  name: string;
  /** One operation. May return a promise. */
  fn: () => unknown;
  /** Optional target text shown next to the figure, e.g. ">= 5,000/s". */
  target?: string;
  /** Numeric target in ops/s, to print met/not met. */
  targetOps?: number;
  /** Measurement time (default 1.5 s). */
  seconds?: number;
}

/** A pre-computed result row (for benches that measure something other than ops/s). */
export interface BenchRow {
  group: string;
  name: string;
  value: string;
  target?: string;
  met?: boolean;
}

export interface BenchResult extends BenchRow {
  opsPerSec: number;
}

export async function runCase(c: BenchCase): Promise<BenchResult> {
  const seconds = c.seconds ?? 1.5;
  const warmEnd = performance.now() + 200;
  while (performance.now() < warmEnd) await c.fn();
  let n = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  let now = start;
  while (now < end) {
    await c.fn();
    n++;
    now = performance.now();
  }
  const opsPerSec = n / ((now - start) / 1000);
  return {
    group: c.group,
    name: c.name,
    opsPerSec,
    value: `${formatOps(opsPerSec)} ops/s`,
    ...(c.target ? { target: c.target } : {}),
    ...(c.targetOps !== undefined ? { met: opsPerSec >= c.targetOps } : {}),
  };
}

export function formatOps(v: number): string {
  if (v >= 100) return Math.round(v).toLocaleString('en-US');
  return v.toFixed(1);
}
