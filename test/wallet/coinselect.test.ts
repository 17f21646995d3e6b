import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Coin, selectCoins } from '../../src/core/wallet/coinselect.js';
import { InsufficientFundsError } from '../../src/core/wallet/errors.js';
import { feeForWeight, outputWeight, P2WPKH_INPUT_WEIGHT, txBaseWeight } from '../../src/core/wallet/fees.js';

const coin = (id: string, value: bigint): Coin => ({ id, value, inputWeight: P2WPKH_INPUT_WEIGHT });
const base = txBaseWeight(1, [22]);
const changeWeight = outputWeight(22);
const params = { baseWeight: base, changeWeight, changeDustLimit: 294n };

function check(sel: ReturnType<typeof selectCoins>, target: bigint, rate: bigint, extraFee = 0n) {
  let inSum = 0n;
  for (const c of sel.coins) inSum += c.value;
  expect(inSum).toBe(target + sel.fee + sel.change);
  const w = base + sel.coins.length * P2WPKH_INPUT_WEIGHT + (sel.change > 0n ? changeWeight : 0);
  expect(sel.weight).toBe(w);
  expect(sel.fee).toBeGreaterThanOrEqual(feeForWeight(w, rate) + extraFee);
  expect(sel.change === 0n || sel.change >= 294n).toBe(true);
  if (sel.change > 0n) expect(sel.fee).toBe(feeForWeight(w, rate) + extraFee);
}

describe('coin selection', () => {
  it('finds a changeless exact match with branch-and-bound', () => {
    const rate = 1000n;
    // effective value of a coin = value - 272 sat at 1000 sat/kw; target + base fee = 50_000 + feeForWeight(base)
    const need = 50_000n + feeForWeight(base, rate);
    const coins = [
      coin('a', 100_000n),
      coin('b', need - 30_000n + 272n),
      coin('c', 30_000n + 272n),
      coin('d', 7_000n),
    ];
    const sel = selectCoins({ ...params, coins, target: 50_000n, feeRate: rate });
    expect(sel.algorithm).toBe('bnb');
    expect(sel.change).toBe(0n);
    expect(sel.coins.map((c) => c.id).sort()).toEqual(['b', 'c']);
    check(sel, 50_000n, rate);
  });

  it('falls back to largest-first with change', () => {
    const coins = [coin('a', 10_000n), coin('b', 200_000n), coin('c', 50_000n)];
    const sel = selectCoins({ ...params, coins, target: 120_000n, feeRate: 2500n });
    expect(sel.algorithm).toBe('largest-first');
    expect(sel.coins.map((c) => c.id)).toEqual(['b']);
    expect(sel.change).toBeGreaterThan(0n);
    check(sel, 120_000n, 2500n);
  });

  it('folds change below the dust limit into the fee', () => {
    const rate = 253n;
    const wNoChange = base + P2WPKH_INPUT_WEIGHT;
    const value = 10_000n + feeForWeight(wNoChange, rate) + 200n; // 200 sat left: dust once change costs are paid
    const sel = selectCoins({ ...params, coins: [coin('a', value)], target: 10_000n, feeRate: rate });
    expect(sel.change).toBe(0n);
    expect(sel.fee).toBe(value - 10_000n);
    check(sel, 10_000n, rate);
  });

  it('throws InsufficientFunds with needed and available', () => {
    const coins = [coin('a', 10_000n), coin('b', 20_000n)];
    try {
      selectCoins({ ...params, coins, target: 40_000n, feeRate: 253n });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(InsufficientFundsError);
      const err = e as InsufficientFundsError;
      expect(err.available).toBe(30_000n);
      expect(err.needed).toBe(40_000n + feeForWeight(base + 2 * P2WPKH_INPUT_WEIGHT, 253n));
    }
  });

  it('always spends required coins and honours requireChange and extraFee', () => {
    const req = [coin('r', 5_000n)];
    const sel = selectCoins({
      ...params,
      coins: [coin('x', 100_000n)],
      required: req,
      target: 0n,
      extraFee: 3_000n,
      feeRate: 2_000n,
      requireChange: true,
    });
    expect(sel.coins[0]!.id).toBe('r');
    expect(sel.change).toBeGreaterThanOrEqual(294n);
    check(sel, 0n, 2_000n, 3_000n);
  });

  it('skips coins whose effective value is not positive', () => {
    const coins = [coin('tiny', 100n), coin('big', 50_000n)];
    const sel = selectCoins({ ...params, coins, target: 20_000n, feeRate: 1000n });
    expect(sel.coins.map((c) => c.id)).toEqual(['big']);
  });

  it('keeps the accounting invariants for random coin sets', () => {
    fc.assert(
      fc.property(
        fc.array(fc.bigInt({ min: 1n, max: 2_000_000n }), { minLength: 1, maxLength: 12 }),
        fc.bigInt({ min: 0n, max: 3_000_000n }),
        fc.bigInt({ min: 253n, max: 50_000n }),
        (values, target, rate) => {
          const coins = values.map((v, i) => coin(`c${i}`, v));
          try {
            const sel = selectCoins({ ...params, coins, target, feeRate: rate });
            check(sel, target, rate);
          } catch (e) {
            expect(e).toBeInstanceOf(InsufficientFundsError);
            const err = e as InsufficientFundsError;
            expect(err.available).toBe(values.reduce((a, b) => a + b, 0n));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
