import { describe, expect, it } from 'vitest';
import { runDemo } from '../src/apps/demo/main.js';

describe('farad demo (the main job)', () => {
  it('runs every step on an embedded devnet and reports real outcomes', { timeout: 180_000 }, async () => {
    const lines: string[] = [];
    await runDemo((l) => lines.push(l));
    const text = lines.join('\n');
    expect(text).toMatch(/Alice after one block: {2}\{"confirmed":"1000000"/);
    expect(text).toMatch(/Bob: +250,000 sat \(confirmed 250,000 sat\)/);
    expect(text).toContain('tampered signature: transaction rejected: script-verify');
    expect(text).toMatch(/correct signature: accepted as [0-9a-f]{64}/);
    expect(text).toContain('(matches: true)');
    expect(text).toContain('hop 3: forward 1000 msat (final hop)');
    expect(text).toMatch(/channel: Alice 780,000 sat, Bob 220,000 sat \(Bob's view agrees: true\)/);
    expect(text).toMatch(/Bob's wallet \+220,000 sat \(his channel balance 220,000 sat\)/);
    // Force close with HTLCs in flight: the preimage claim and the timeout, wallets to the satoshi.
    expect(text).toMatch(/Bob's monitor: .*remote-htlc-success.*/);
    expect(text).toMatch(/Bob's monitor: .*remote-htlc-timeout.*/);
    expect(text).toContain("Alice's payment: succeeded, preimage learnt on chain");
    const w = text.match(
      /wallets: Alice \+([\d,]+) sat \(expected ([\d,]+) sat\), Bob \+([\d,]+) sat \(expected ([\d,]+) sat/,
    );
    expect(w).not.toBeNull();
    expect(w![1]).toBe(w![2]);
    expect(w![3]).toBe(w![4]);
    expect(text).toMatch(/broadcasts justice tx [0-9a-f]{64}/);
    expect(lines.at(-1)).toBe('Demo complete.');
  });
});
