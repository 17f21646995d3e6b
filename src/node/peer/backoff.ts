/**
 * Reconnection backoff for persistent peers: exponential (initial delay doubling per consecutive
 * failure, capped) with "equal jitter" so that many nodes restarted together do not reconnect in
 * lockstep.
 */

/** Backoff settings. */
export interface BackoffOptions {
  /** Delay after the first failure or disconnect (default 1000 ms). */
  initialDelayMs: number;
  /** Upper bound of the un-jittered delay (default 60000 ms). */
  maxDelayMs: number;
}

/** The defaults: 1 s doubling to 60 s. */
export const DEFAULT_BACKOFF: BackoffOptions = { initialDelayMs: 1_000, maxDelayMs: 60_000 };

/**
 * Delay before the next attempt after `failures` consecutive failures (0 after a connection that
 * was up): `base = min(max, initial * 2^failures)`, result uniformly in `[base/2, base]` using
 * `rand01` in [0, 1).
 */
export function backoffDelay(failures: number, opts: BackoffOptions, rand01: number): number {
  const exp = Math.min(Math.max(0, Math.floor(failures)), 40);
  const base = Math.min(opts.maxDelayMs, opts.initialDelayMs * 2 ** exp);
  const r = Math.min(Math.max(rand01, 0), 1);
  return Math.round(base / 2 + (base / 2) * r);
}
