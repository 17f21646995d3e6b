/**
 * Helper-thread priority (src/adapters/os/threads.ts): on Linux every thread of the process but
 * the event loop's gets a higher nice value; elsewhere nothing changes.
 */
import { readdirSync } from 'node:fs';
import { getPriority } from 'node:os';
import { describe, expect, it } from 'vitest';
import { niceHelperThreads } from '../../src/adapters/os/threads.js';

const linux = process.platform === 'linux';

describe('helper threads yield to the event loop', () => {
  it.runIf(linux)('raises the nice value of every helper thread once, never the main thread', () => {
    const helpers = readdirSync('/proc/self/task')
      .map(Number)
      .filter((t) => t !== process.pid);
    expect(helpers.length).toBeGreaterThan(0);
    const mainBefore = getPriority(process.pid);
    const before = new Map(helpers.map((t) => [t, getPriority(t)]));
    const done = new Set<number>();
    const changed = niceHelperThreads(3, done);
    expect(changed).toBeGreaterThan(0);
    expect(getPriority(process.pid)).toBe(mainBefore);
    for (const [t, p] of before) {
      if (!done.has(t)) continue;
      let now: number;
      try {
        now = getPriority(t);
      } catch {
        continue; // exited meanwhile
      }
      expect(now).toBe(Math.min(19, p + 3));
    }
    // Threads already adjusted are left alone on the next pass.
    expect(niceHelperThreads(3, done)).toBe(0);
  });

  it('does nothing for a zero increment', () => {
    expect(niceHelperThreads(0)).toBe(0);
  });
});
