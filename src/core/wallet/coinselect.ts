/**
 * Coin selection: branch-and-bound for a changeless match (Erhardt, "An Evaluation of Coin
 * Selection Strategies", as used by Bitcoin Core), falling back to largest-first with a change
 * output. Change below its dust limit is never created: it is folded into the fee.
 *
 * All fee maths use the target fee rate in sat/kw on weights (see fees.ts). Pure and deterministic.
 */
import { InvalidArgumentError } from '../../protocol/errors.js';
import { InsufficientFundsError } from './errors.js';
import { feeForWeight } from './fees.js';

/** A spendable coin as seen by the selector. */
export interface Coin {
  /** Unique id, conventionally `txid:vout`. */
  id: string;
  value: bigint;
  /** Weight this input adds to the transaction (non-witness * 4 + witness). */
  inputWeight: number;
}

/** Parameters of one selection. */
export interface SelectionParams {
  /** Optional coins (candidates). */
  coins: readonly Coin[];
  /** Coins that must be spent (RBF originals, the CPFP parent output). */
  required?: readonly Coin[];
  /** Sum of the payment outputs (may be 0, e.g. CPFP). */
  target: bigint;
  /** Extra fee the transaction must carry on top of its own (e.g. a CPFP parent's deficit). */
  extraFee?: bigint;
  /** Weight of the transaction without inputs and without change (see `txBaseWeight`). */
  baseWeight: number;
  /** Target fee rate, sat/kw. */
  feeRate: bigint;
  /** Weight the change output adds. */
  changeWeight: number;
  /** Dust limit of the change script; smaller change is folded into the fee. */
  changeDustLimit: bigint;
  /** Weight of later spending the change (for BnB's cost of change). Default 272 (P2WPKH). */
  changeSpendWeight?: number;
  /** Long-term fee rate for the cost of change (sat/kw). Default = feeRate. */
  longTermFeeRate?: bigint;
  /** Never return a changeless selection (e.g. CPFP children, which have no other output). */
  requireChange?: boolean;
  /** Upper bound on BnB search steps. Default 100,000 (as Core). */
  maxTries?: number;
}

/** The result of a selection. */
export interface Selection {
  /** Coins to spend: required ones first, then the selected ones. */
  coins: Coin[];
  /** Change value, 0n when there is no change output. */
  change: bigint;
  /** Fee paid (inputs - target - change), including any extra fee. */
  fee: bigint;
  /** Estimated weight of the final transaction. */
  weight: number;
  algorithm: 'bnb' | 'largest-first';
}

function sum(coins: readonly Coin[]): bigint {
  let s = 0n;
  for (const c of coins) s += c.value;
  return s;
}

function weightOf(coins: readonly Coin[]): number {
  let w = 0;
  for (const c of coins) w += c.inputWeight;
  return w;
}

/**
 * Selects coins paying `target` plus fees at `feeRate`. Throws {@link InsufficientFundsError}
 * (needed, available) when even all coins are not enough.
 */
export function selectCoins(p: SelectionParams): Selection {
  if (p.target < 0n) throw new InvalidArgumentError('negative target');
  const required = p.required ?? [];
  const extraFee = p.extraFee ?? 0n;
  const seen = new Set(required.map((c) => c.id));
  const pool = p.coins.filter((c) => !seen.has(c.id));

  if (!p.requireChange) {
    const bnb = branchAndBound(p, required, pool, extraFee);
    if (bnb) return finish(p, required, bnb);
  }
  // Largest-first by effective value; coins that cost more than they bring are skipped.
  const eff = (c: Coin) => c.value - feeForWeight(c.inputWeight, p.feeRate);
  const sorted = pool.filter((c) => eff(c) > 0n).sort((a, b) => cmpDesc(eff(a), eff(b)) || cmpId(a, b));
  const chosen: Coin[] = [];
  for (let i = 0; i <= sorted.length; i++) {
    const sel = tryFinish(p, required, chosen, extraFee);
    if (sel && (!p.requireChange || sel.change > 0n)) return sel;
    const next = sorted[i];
    if (next) chosen.push(next);
  }
  const all = [...required, ...pool];
  const needChange = p.requireChange ? p.changeDustLimit + feeForWeight(p.changeWeight, p.feeRate) : 0n;
  const needed =
    p.target +
    extraFee +
    needChange +
    feeForWeight(p.baseWeight + weightOf([...required, ...sorted]), p.feeRate);
  throw new InsufficientFundsError(needed, sum(all));
}

function cmpDesc(a: bigint, b: bigint): number {
  return a > b ? -1 : a < b ? 1 : 0;
}

function cmpId(a: Coin, b: Coin): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Builds the result for `chosen`, with change when it clears the dust limit; undefined if unaffordable. */
function tryFinish(
  p: SelectionParams,
  required: readonly Coin[],
  chosen: readonly Coin[],
  extraFee: bigint,
): Selection | undefined {
  const coins = [...required, ...chosen];
  const total = sum(coins);
  const w = p.baseWeight + weightOf(coins);
  const wChange = w + p.changeWeight;
  const feeChange = feeForWeight(wChange, p.feeRate) + extraFee;
  const change = total - p.target - feeChange;
  if (change >= p.changeDustLimit && change > 0n) {
    return { coins, change, fee: feeChange, weight: wChange, algorithm: 'largest-first' };
  }
  const fee = feeForWeight(w, p.feeRate) + extraFee;
  if (total - p.target < fee) return undefined;
  // No change: everything above target is fee (the excess is below the cost of a change output).
  return { coins, change: 0n, fee: total - p.target, weight: w, algorithm: 'largest-first' };
}

/** A changeless BnB result: the whole excess is fee (it includes any extra fee by construction). */
function finish(p: SelectionParams, required: readonly Coin[], chosen: readonly Coin[]): Selection {
  const coins = [...required, ...chosen];
  const w = p.baseWeight + weightOf(coins);
  return { coins, change: 0n, fee: sum(coins) - p.target, weight: w, algorithm: 'bnb' };
}

/**
 * Depth-first branch-and-bound over coins sorted by descending effective value, looking for a
 * changeless input set whose effective value lies in [need, need + costOfChange]. Among the
 * matches found within `maxTries` steps it keeps the one with the least waste (excess +
 * input weight * (feeRate - longTermFeeRate)).
 */
function branchAndBound(
  p: SelectionParams,
  required: readonly Coin[],
  pool: readonly Coin[],
  extraFee: bigint,
): Coin[] | undefined {
  const fee = (w: number) => feeForWeight(w, p.feeRate);
  const eff = (c: Coin) => c.value - fee(c.inputWeight);
  const coins = pool.filter((c) => eff(c) > 0n).sort((a, b) => cmpDesc(eff(a), eff(b)) || cmpId(a, b));
  const values = coins.map(eff);
  let reqEff = 0n;
  for (const c of required) reqEff += eff(c);
  const need = p.target + extraFee + fee(p.baseWeight) - reqEff;
  const ltRate = p.longTermFeeRate ?? p.feeRate;
  const costOfChange = fee(p.changeWeight) + feeForWeight(p.changeSpendWeight ?? 272, ltRate);
  if (need <= 0n) return required.length > 0 && -need <= costOfChange ? [] : undefined;
  const upper = need + costOfChange;
  let remaining = 0n;
  for (const v of values) remaining += v;
  if (remaining < need) return undefined;

  const maxTries = p.maxTries ?? 100_000;
  const picked: boolean[] = [];
  let best: boolean[] | undefined;
  let bestWaste: bigint | undefined;
  let value = 0n;
  let waste = 0n;
  const inputWaste = (c: Coin) =>
    feeForWeight(c.inputWeight, p.feeRate) - feeForWeight(c.inputWeight, ltRate);
  let depth = 0;
  /** Undoes decisions up to the last included coin and excludes it; false when the tree is exhausted. */
  const backtrack = (): boolean => {
    while (depth > 0 && !picked[depth - 1]) {
      depth--;
      remaining += values[depth]!;
    }
    if (depth === 0) return false;
    depth--;
    picked[depth] = false;
    value -= values[depth]!;
    waste -= inputWaste(coins[depth]!);
    depth++;
    return true;
  };
  for (let tries = 0; tries < maxTries; tries++) {
    let back = false;
    if (
      value + remaining < need ||
      value > upper ||
      (bestWaste !== undefined && waste > bestWaste && p.feeRate > ltRate)
    ) {
      back = true;
    } else if (value >= need) {
      const total = waste + (value - need);
      if (bestWaste === undefined || total <= bestWaste) {
        best = picked.slice(0, depth);
        bestWaste = total;
      }
      back = true;
    }
    if (back || depth >= coins.length) {
      if (!backtrack()) break;
      continue;
    }
    // Include the next coin.
    const c = coins[depth]!;
    remaining -= values[depth]!;
    picked[depth] = true;
    value += values[depth]!;
    waste += inputWaste(c);
    depth++;
  }
  if (!best) return undefined;
  return coins.filter((_, i) => best![i] === true);
}
