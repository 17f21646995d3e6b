/**
 * Scheduling priority of this process's helper threads (Linux).
 *
 * A Node process runs every protocol step on its event-loop thread, beside helper threads: V8's
 * garbage-collection and compiler workers and libuv's thread pool. When the process has a single
 * core (a small VPS, or a node pinned to one core), the kernel shares it fairly between them, so
 * a helper that happens to be running delays the event loop's wake-up after a disk flush or a
 * network message by up to a scheduler slice. Raising the helpers' nice value lets the event loop
 * run first and moves their work into idle time; their work is not lost (V8 finishes any GC work
 * the helpers did not get to on the main thread). Linux applies nice values per thread, through
 * `setpriority` on a thread id, which is what `os.setPriority` calls.
 */
import { readdirSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/** The highest nice value (lowest priority) on Linux. */
const MAX_NICE = 19;

/**
 * Raises by `increment` the nice value of each helper thread of this process (every thread but
 * the main one) that is not in `done`, and adds it to `done`. Returns how many were changed.
 * A no-op (0) where threads cannot be listed (not Linux) or for `increment` <= 0; a thread that
 * exits meanwhile is skipped.
 */
export function niceHelperThreads(increment: number, done: Set<number> = new Set()): number {
  if (increment <= 0 || process.platform !== 'linux') return 0;
  let tids: number[];
  try {
    tids = readdirSync('/proc/self/task').map(Number);
  } catch {
    return 0;
  }
  let changed = 0;
  for (const tid of tids) {
    if (tid === process.pid || !Number.isInteger(tid) || done.has(tid)) continue;
    done.add(tid);
    try {
      setPriority(tid, Math.min(MAX_NICE, getPriority(tid) + increment));
      changed++;
    } catch {
      // the thread exited, or the system refuses: leave it as it is
    }
  }
  return changed;
}

/**
 * Keeps helper threads deprioritised: adjusts the current ones now and, every `everyMs`, the
 * ones started since (libuv starts its pool on first use). Returns a function that stops it.
 */
export function keepHelperThreadsNiced(increment: number, everyMs = 30_000): () => void {
  if (increment <= 0 || process.platform !== 'linux') return () => undefined;
  const done = new Set<number>();
  niceHelperThreads(increment, done);
  const timer = setInterval(() => niceHelperThreads(increment, done), everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
