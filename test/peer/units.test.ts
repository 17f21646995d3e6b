import { describe, expect, it } from 'vitest';
import { regtestGenesis } from '../../src/apps/devnet/chain.js';
import {
  backoffDelay,
  CHAIN_HASHES,
  checkRemoteInit,
  DEFAULT_BACKOFF,
  defaultInitFeatures,
  isNegotiated,
  printable,
} from '../../src/node/peer/index.js';
import { ManualClock } from '../../src/node/ports/clock.js';
import { toHex } from '../../src/protocol/encoding/bytes.js';
import { Feature, validateFeatures } from '../../src/protocol/features.js';
import { blockHash } from '../../src/protocol/tx/block.js';

describe('chain hashes (BOLT 0 chain_hash)', () => {
  it('mainnet matches the BOLT 0 glossary value', () => {
    // BOLT #0: "the `chain_hash` value MUST be (encoded in hex):
    // `6fe28c0ab6f1b372c1a6a246ae63f74f931e8365e15a089c68d6190000000000`."
    expect(toHex(CHAIN_HASHES.mainnet)).toBe(
      '6fe28c0ab6f1b372c1a6a246ae63f74f931e8365e15a089c68d6190000000000',
    );
  });
  it('regtest is the regtest genesis hash in internal byte order', () => {
    const display = blockHash(regtestGenesis().header);
    expect(toHex(CHAIN_HASHES.regtest)).toBe(toHex(display.slice().reverse()));
  });
});

describe('init features', () => {
  it("Farad's init vector is valid in the init context and sets LDK's required bits as required", () => {
    const f = defaultInitFeatures();
    expect(() => validateFeatures(f, 'init', { legacyDependencies: true })).not.toThrow();
    for (const b of [0, 8, 12, 14, 44]) expect(f.has(b)).toBe(true);
    for (const b of [7, 17, 23, 25, 27, 39, 47, 51]) expect(f.has(b)).toBe(true);
    for (const b of f) expect(f.has(b ^ 1)).toBe(false);
  });

  it('checkRemoteInit applies the BOLT 1 rules', () => {
    const ours = defaultInitFeatures();
    const chain = CHAIN_HASHES.regtest;
    expect(checkRemoteInit(ours, ours, chain, undefined)).toEqual({ ok: true });
    expect(checkRemoteInit(ours, ours, chain, [chain])).toEqual({ ok: true });
    // Their optional bits for our required ones are fine; unknown odd bits are ignored.
    const theirs = new Set([1, 9, 13, 15, 45, 999]);
    expect(checkRemoteInit(ours, theirs, chain, undefined)).toEqual({ ok: true });
    // Unknown even bit.
    const r1 = checkRemoteInit(ours, new Set([...ours, 1000]), chain, undefined);
    expect(r1.ok).toBe(false);
    // Known but unsupported required feature (option_dual_fund, 28).
    const r2 = checkRemoteInit(ours, new Set([...ours, 28]), chain, undefined);
    expect(r2).toMatchObject({ ok: false, reason: expect.stringContaining('option_dual_fund') });
    // We require option_static_remotekey; the peer does not offer it.
    const r3 = checkRemoteInit(ours, new Set([0, 8, 14, 44]), chain, undefined);
    expect(r3).toMatchObject({ ok: false, reason: expect.stringContaining('option_static_remotekey') });
    // Missing dependency: option_zeroconf without option_scid_alias.
    const r4 = checkRemoteInit(
      ours,
      new Set([...ours].filter((b) => b !== 47).concat([Feature.option_zeroconf + 1])),
      chain,
      undefined,
    );
    expect(r4).toMatchObject({ ok: false, reason: expect.stringContaining('option_scid_alias') });
    // Networks without our chain.
    expect(checkRemoteInit(ours, ours, chain, [CHAIN_HASHES.mainnet]).ok).toBe(false);
    expect(checkRemoteInit(ours, ours, chain, []).ok).toBe(false);
  });

  it('isNegotiated: both offered, or we offered it as even', () => {
    const ours = new Set([12, 23]);
    expect(isNegotiated(ours, new Set(), Feature.option_static_remotekey)).toBe(true);
    expect(isNegotiated(ours, new Set([22]), Feature.option_anchors)).toBe(true);
    expect(isNegotiated(ours, new Set(), Feature.option_anchors)).toBe(false);
    expect(isNegotiated(ours, new Set([17]), Feature.basic_mpp)).toBe(false);
  });
});

describe('reconnection backoff', () => {
  it('doubles from 1 s to 60 s with jitter in [base/2, base]', () => {
    const lo = [0, 1, 2, 3, 4, 5, 6, 7, 20].map((n) => backoffDelay(n, DEFAULT_BACKOFF, 0));
    const hi = [0, 1, 2, 3, 4, 5, 6, 7, 20].map((n) => backoffDelay(n, DEFAULT_BACKOFF, 0.999999));
    expect(lo).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    expect(hi).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
    expect(backoffDelay(2, DEFAULT_BACKOFF, 0.5)).toBe(3000);
  });
});

describe('ManualClock', () => {
  it('fires timers in deadline order only when advanced, honouring cancel', () => {
    const c = new ManualClock(1000);
    const log: string[] = [];
    c.setTimeout(() => log.push('b'), 20);
    c.setTimeout(() => log.push('a'), 10);
    const t = c.setTimeout(() => log.push('x'), 15);
    c.setTimeout(() => {
      log.push('c');
      c.setTimeout(() => log.push('d'), 5);
    }, 20);
    t.cancel();
    expect(c.pending).toBe(3);
    c.advance(9);
    expect(log).toEqual([]);
    c.advance(1);
    expect(log).toEqual(['a']);
    expect(c.now()).toBe(1010);
    c.advance(100);
    expect(log).toEqual(['a', 'b', 'c', 'd']);
    expect(c.now()).toBe(1110);
    expect(c.nextDeadline()).toBeUndefined();
    expect(() => c.set(5)).toThrow();
  });
});

describe('printable', () => {
  it('escapes non-printable bytes of warning/error data', () => {
    expect(printable(Uint8Array.of(104, 105, 0, 10, 126, 127))).toBe('hi\\x00\\x0a~\\x7f');
  });
});
