/**
 * Runtime driver for a {@link ChainSource}: calls `poll()` on a timer (never overlapping) and
 * reports failures to a callback instead of throwing. Node layer only (uses timers).
 */
import type { ChainEvent, ChainSource } from '../ports/chain.js';

/** Options of {@link startPolling}. */
export interface PollerOptions {
  /** Interval between the end of one poll and the start of the next, ms. Default 5000. */
  intervalMs?: number;
  /** Called with each poll's events. */
  onEvents?: (events: ChainEvent[]) => void;
  /** Called when a poll fails (the poller keeps going). */
  onError?: (err: unknown) => void;
}

/** A running poller. */
export interface Poller {
  /** Stops the timer and waits for an in-flight poll to finish. */
  stop(): Promise<void>;
}

/** Polls `source` until stopped. The first poll starts immediately. */
export function startPolling(source: ChainSource, opts: PollerOptions = {}): Poller {
  const interval = opts.intervalMs ?? 5000;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let inflight: Promise<void> = Promise.resolve();
  const tick = () => {
    inflight = source
      .poll()
      .then((ev) => opts.onEvents?.(ev))
      .catch((e) => opts.onError?.(e))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, interval);
      });
  };
  tick();
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await inflight;
    },
  };
}
