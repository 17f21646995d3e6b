/**
 * Fee and size maths for P2WPKH wallets (BIP141 weight, Bitcoin Core relay policy).
 *
 * Fee rates are bigint sat per 1000 weight units (sat/kw, as in BOLT 3); 1 sat/vB = 250 sat/kw.
 * The floor of 253 sat/kw is the smallest rate that always meets Core's 1 sat/vB minimum relay
 * fee after vsize rounding (BOLT 3 "fee calculation" and LDK's `FEERATE_FLOOR_SATS_PER_KW`).
 */
import { InvalidArgumentError } from '../../protocol/errors.js';
import { classifyScript } from '../../protocol/tx/script.js';

/** Minimum relay fee rate usable everywhere (sat/kw). */
export const MIN_FEERATE_SAT_PER_KW = 253n;
/** Bitcoin Core's default `-minrelaytxfee` (sat/kvB). */
export const MIN_RELAY_FEE_SAT_PER_KVB = 1000n;
/** Bitcoin Core's default `-incrementalrelayfee` (sat/kvB), used by BIP125 rule 4. */
export const INCREMENTAL_RELAY_FEE_SAT_PER_KVB = 1000n;
/** Bitcoin Core's default `-dustrelayfee` (sat/kvB). */
export const DUST_RELAY_FEE_SAT_PER_KVB = 3000n;

/** Non-witness bytes of one input with an empty scriptSig: outpoint 36 + script length 1 + sequence 4. */
export const INPUT_BASE_SIZE = 41;
/**
 * Worst-case P2WPKH witness size in bytes: item count 1, signature push 1 + 72 (DER <= 71 with
 * low-S, plus the sighash byte), pubkey push 1 + 33.
 */
export const P2WPKH_WITNESS_SIZE = 108;
/** Weight of one P2WPKH input at its worst-case witness size (272 WU = 68 vB). */
export const P2WPKH_INPUT_WEIGHT = INPUT_BASE_SIZE * 4 + P2WPKH_WITNESS_SIZE;
/** Size of a P2WPKH output script (OP_0 <20 bytes>). */
export const P2WPKH_SCRIPT_SIZE = 22;

/** Byte length of a CompactSize encoding `n`. */
export function compactSizeLen(n: number): number {
  return n < 0xfd ? 1 : n <= 0xffff ? 3 : 5;
}

/** Serialized size of an output with a script of `scriptLen` bytes (value 8 + length + script). */
export function outputSize(scriptLen: number): number {
  return 8 + compactSizeLen(scriptLen) + scriptLen;
}

/** Weight of an output with a script of `scriptLen` bytes. */
export function outputWeight(scriptLen: number): number {
  return outputSize(scriptLen) * 4;
}

/**
 * Weight of a segwit transaction without its inputs: version 4, marker+flag (2 WU), input and
 * output counts, outputs, locktime 4. Inputs are added separately (their weight includes the witness).
 */
export function txBaseWeight(nInputs: number, outputScriptLens: readonly number[]): number {
  let size = 4 + compactSizeLen(nInputs) + compactSizeLen(outputScriptLens.length) + 4;
  for (const l of outputScriptLens) size += outputSize(l);
  return size * 4 + 2;
}

/** Estimated weight of a transaction spending `nInputs` P2WPKH inputs (worst-case signatures). */
export function estimateP2wpkhTxWeight(nInputs: number, outputScriptLens: readonly number[]): number {
  return txBaseWeight(nInputs, outputScriptLens) + nInputs * P2WPKH_INPUT_WEIGHT;
}

/** Virtual size: ceil(weight / 4). */
export function weightToVsize(weight: number): number {
  return Math.ceil(weight / 4);
}

/** Fee in sats for `weight` at `satPerKw`, rounded up. */
export function feeForWeight(weight: number, satPerKw: bigint): bigint {
  if (weight < 0 || satPerKw < 0n) throw new InvalidArgumentError('negative weight or fee rate');
  return (BigInt(weight) * satPerKw + 999n) / 1000n;
}

/** Fee in sats for `vsize` at a sat/kvB rate, rounded up (Bitcoin Core's `CFeeRate::GetFee`). */
export function feeForVsize(vsize: number, satPerKvB: bigint): bigint {
  return (BigInt(vsize) * satPerKvB + 999n) / 1000n;
}

/** Minimum relay fee of a transaction of `weight` (Core default 1 sat/vB on the vsize). */
export function minRelayFee(weight: number): bigint {
  return feeForVsize(weightToVsize(weight), MIN_RELAY_FEE_SAT_PER_KVB);
}

/** sat/vB (bigint) to sat/kw. */
export function satPerVbToSatPerKw(satPerVb: bigint): bigint {
  return satPerVb * 250n;
}

/** Effective fee rate of a transaction in sat/kw (floor). */
export function feeRateOf(fee: bigint, weight: number): bigint {
  if (weight <= 0) throw new InvalidArgumentError('weight must be positive');
  return (fee * 1000n) / BigInt(weight);
}

/** Clamps a fee rate to {@link MIN_FEERATE_SAT_PER_KW}. */
export function clampFeeRate(satPerKw: bigint): bigint {
  return satPerKw < MIN_FEERATE_SAT_PER_KW ? MIN_FEERATE_SAT_PER_KW : satPerKw;
}

/**
 * Dust threshold of an output script as Bitcoin Core computes it (`GetDustThreshold` with the
 * default dust relay fee of 3 sat/vB): the cost of the output plus the cost of spending it.
 * Witness programs are spent with a 67-vbyte input (32+4+1+107/4+4), others with 148 bytes.
 * OP_RETURN outputs are unspendable and have no threshold (0).
 */
export function dustLimit(scriptPubKey: Uint8Array): bigint {
  const type = classifyScript(scriptPubKey);
  if (type === 'op_return') return 0n;
  let size = outputSize(scriptPubKey.length);
  const witness = type === 'p2wpkh' || type === 'p2wsh' || type === 'p2tr' || type === 'witness_unknown';
  size += witness ? 32 + 4 + 1 + Math.floor(107 / 4) + 4 : 32 + 4 + 1 + 107 + 4;
  return feeForVsize(size, DUST_RELAY_FEE_SAT_PER_KVB);
}
