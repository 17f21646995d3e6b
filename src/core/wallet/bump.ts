/**
 * Fee bumping plans: BIP125 replace-by-fee and child-pays-for-parent.
 *
 * RBF follows Bitcoin Core's replacement rules (doc/policy/mempool-replacements.md): the
 * replacement pays an absolute fee of at least the sum of the fees of every transaction it
 * evicts (rule 3) plus the incremental relay fee (1 sat/vB) times its own vsize (rule 4), and a
 * higher fee rate than the transactions it directly replaces (rule 6). New inputs must be
 * confirmed (rule 2), so callers pass only confirmed extra coins.
 *
 * CPFP: the child's fee lifts the package fee rate `(parentFee + childFee) / (parentWeight +
 * childWeight)` to the target; the child has exactly one output (change back to the wallet).
 */
import { InvalidArgumentError } from '../../protocol/errors.js';
import { type Coin, type Selection, selectCoins } from './coinselect.js';
import { FeeTooLowError } from './errors.js';
import {
  feeForVsize,
  feeForWeight,
  feeRateOf,
  INCREMENTAL_RELAY_FEE_SAT_PER_KVB,
  MIN_FEERATE_SAT_PER_KW,
  outputWeight,
  txBaseWeight,
  weightToVsize,
} from './fees.js';

/** Input to {@link planRbf}. */
export interface RbfParams {
  /** The original transaction's inputs (all kept). */
  inputs: readonly Coin[];
  /** The original's payment outputs (change excluded), kept unchanged. */
  payments: readonly { scriptLen: number; value: bigint }[];
  /** Length of the change script to use. */
  changeScriptLen: number;
  changeDustLimit: bigint;
  /** Fee and weight of the original (for rule 6). */
  originalFee: bigint;
  originalWeight: number;
  /** Sum of the fees of the original and all its in-mempool descendants (rule 3). */
  replacedFees: bigint;
  /** Requested fee rate (sat/kw). */
  feeRate: bigint;
  /** Additional confirmed coins that may be added if the change cannot absorb the bump. */
  extraCoins?: readonly Coin[];
}

/** The plan of a replacement: selection (required inputs first) and the final fee rate used. */
export interface RbfPlan extends Selection {
  feeRate: bigint;
}

/**
 * Plans a replacement of a wallet transaction. Throws FeeTooLowError when `feeRate` is under
 * the floor, InsufficientFundsError when the inputs (plus extra coins) cannot pay the fee.
 */
export function planRbf(p: RbfParams): RbfPlan {
  if (p.feeRate < MIN_FEERATE_SAT_PER_KW) throw new FeeTooLowError(p.feeRate, MIN_FEERATE_SAT_PER_KW);
  let target = 0n;
  for (const o of p.payments) target += o.value;
  const origRate = feeRateOf(p.originalFee, p.originalWeight);
  let rate = p.feeRate > origRate ? p.feeRate : origRate + 1n;
  const nInputs = p.inputs.length + (p.extraCoins?.length ?? 0);
  const baseWeight = txBaseWeight(
    nInputs,
    p.payments.map((o) => o.scriptLen),
  );
  for (let round = 0; round < 8; round++) {
    const sel = selectCoins({
      coins: p.extraCoins ?? [],
      required: p.inputs,
      target,
      baseWeight,
      feeRate: rate,
      changeWeight: outputWeight(p.changeScriptLen),
      changeDustLimit: p.changeDustLimit,
    });
    // Rule 3 + 4: absolute fee >= replaced fees + incremental relay fee * own vsize.
    const floor = p.replacedFees + feeForVsize(weightToVsize(sel.weight), INCREMENTAL_RELAY_FEE_SAT_PER_KVB);
    const selRate = feeRateOf(sel.fee, sel.weight);
    if (sel.fee >= floor && selRate > origRate) return { ...sel, feeRate: rate };
    // Raise the rate so the fee clears the floor at this weight and retry.
    const needed = (floor * 1000n + BigInt(sel.weight) - 1n) / BigInt(sel.weight) + 1n;
    rate = needed > rate ? needed : rate + 1n;
  }
  throw new InvalidArgumentError('could not plan a replacement');
}

/** Input to {@link planCpfp}. */
export interface CpfpParams {
  /**
   * Unconfirmed parent package: the sum of the vsizes (ceil(weight / 4) each, as Bitcoin Core
   * counts them) and of the fees of the parent and its unconfirmed ancestors.
   */
  parentVsize: number;
  parentFee: bigint;
  /** The parent's outputs the wallet owns and will spend (at least one). */
  parentOutputs: readonly Coin[];
  /** Extra confirmed coins, used only when the parent outputs cannot pay the child fee. */
  extraCoins?: readonly Coin[];
  /** Target package fee rate (sat/kw). */
  feeRate: bigint;
  changeScriptLen: number;
  changeDustLimit: bigint;
}

/** A CPFP child plan: the selection (its single output is the change) and the package figures. */
export interface CpfpPlan extends Selection {
  packageFee: bigint;
  /** Sum of the vsizes of the package (parent side + the child's estimated vsize). */
  packageVsize: number;
  /** Resulting package fee rate (sat/kw, floor) on `packageVsize`. */
  packageFeeRate: bigint;
}

/**
 * Plans a CPFP child whose fee lifts the package to `feeRate` as Bitcoin Core measures it
 * (ancestor fees over the sum of ancestor vsizes). Throws FeeTooLowError / InsufficientFundsError.
 */
export function planCpfp(p: CpfpParams): CpfpPlan {
  if (p.feeRate < MIN_FEERATE_SAT_PER_KW) throw new FeeTooLowError(p.feeRate, MIN_FEERATE_SAT_PER_KW);
  if (p.parentOutputs.length === 0) throw new InvalidArgumentError('CPFP needs a parent output to spend');
  const n = p.parentOutputs.length + (p.extraCoins?.length ?? 0);
  const parentNeeds = feeForWeight(4 * p.parentVsize, p.feeRate);
  let extraFee = parentNeeds > p.parentFee ? parentNeeds - p.parentFee : 0n;
  for (let round = 0; round < 8; round++) {
    const sel = selectCoins({
      coins: p.extraCoins ?? [],
      required: p.parentOutputs,
      target: 0n,
      extraFee,
      baseWeight: txBaseWeight(n, []),
      feeRate: p.feeRate,
      changeWeight: outputWeight(p.changeScriptLen),
      changeDustLimit: p.changeDustLimit,
      requireChange: true,
    });
    const packageVsize = p.parentVsize + weightToVsize(sel.weight);
    const packageFee = p.parentFee + sel.fee;
    const required = feeForWeight(4 * packageVsize, p.feeRate);
    if (packageFee >= required) {
      return { ...sel, packageFee, packageVsize, packageFeeRate: feeRateOf(packageFee, 4 * packageVsize) };
    }
    extraFee += required - packageFee;
  }
  throw new InvalidArgumentError('could not plan a CPFP child');
}
