/**
 * The clock port: wall-clock time and one-shot timers, injected into every node-layer component
 * that needs time (peer liveness, reconnection backoff, handshake timeouts) so tests can drive
 * time by hand.
 *
 * Obligations of every implementation:
 * - `now()` is milliseconds since the Unix epoch and never decreases across calls by the same
 *   component (a manual clock only moves forward);
 * - a timer fires at most once, never before `now()` has advanced by `ms`, and never after its
 *   handle's `cancel()` returned; timer callbacks run outside the caller's stack (never
 *   synchronously inside `setTimeout`).
 */

/** A pending one-shot timer. */
export interface TimerHandle {
  /** Cancels the timer (no effect if it already fired or was cancelled). */
  cancel(): void;
}

/** Time source and timer scheduler (the clock port). */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Runs `fn` once after `ms` milliseconds (`ms <= 0` means "as soon as possible"). */
  setTimeout(fn: () => void, ms: number): TimerHandle;
}

/**
 * The system clock: `Date.now()` and the runtime's `setTimeout`. Timers keep the process alive
 * (like plain `setTimeout`); owners cancel them on shutdown.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, Math.max(0, ms));
    return { cancel: () => clearTimeout(t) };
  },
};

interface ManualTimer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * A manual clock for tests: time only moves when {@link ManualClock.advance} (or
 * {@link ManualClock.set}) is called, which runs every due timer in deadline order (ties in
 * scheduling order), including timers scheduled by the callbacks themselves while they are due.
 */
export class ManualClock implements Clock {
  private t: number;
  private seq = 0;
  private timers: ManualTimer[] = [];

  /** Starts at `startMs` (default 0). */
  constructor(startMs = 0) {
    this.t = startMs;
  }

  /** Current manual time in ms. */
  now(): number {
    return this.t;
  }

  /** Schedules `fn` at `now() + max(0, ms)`. */
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: ManualTimer = { at: this.t + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  /** Number of timers neither fired nor cancelled. */
  get pending(): number {
    return this.timers.filter((x) => !x.cancelled).length;
  }

  /** Deadline of the earliest live timer, or undefined. */
  nextDeadline(): number | undefined {
    const live = this.timers.filter((x) => !x.cancelled);
    if (live.length === 0) return undefined;
    return Math.min(...live.map((x) => x.at));
  }

  /** Moves time forward by `ms` (>= 0), firing due timers. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError('ManualClock.advance: ms must be >= 0');
    this.set(this.t + ms);
  }

  /** Moves time forward to `to` (never backwards), firing due timers in order. */
  set(to: number): void {
    if (to < this.t) throw new RangeError('ManualClock.set: time cannot go backwards');
    for (;;) {
      this.timers = this.timers.filter((x) => !x.cancelled);
      let next: ManualTimer | undefined;
      for (const x of this.timers) {
        if (x.at <= to && (!next || x.at < next.at || (x.at === next.at && x.seq < next.seq))) next = x;
      }
      if (!next) break;
      this.t = Math.max(this.t, next.at);
      next.cancelled = true;
      next.fn();
    }
    this.t = to;
  }
}
