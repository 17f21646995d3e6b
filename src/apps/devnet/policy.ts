/**
 * Bitcoin Core's consensus constants and default relay policy as the devnet applies them
 * (Core 28 defaults: policy/policy.h, consensus/consensus.h, policy/feerate.cpp,
 * util/moneystr.cpp), plus the reject-error type with Core's RPC error codes.
 */
import { FaradError } from '../../protocol/errors.js';
import { classifyScript, OP, parseScript } from '../../protocol/tx/script.js';
import type { Transaction, TxOut } from '../../protocol/tx/transaction.js';

/** Satoshis per bitcoin. */
export const COIN = 100_000_000n;
/** Consensus: no amount may exceed 21 million BTC. */
export const MAX_MONEY = 21_000_000n * COIN;
/** Consensus: coinbase outputs are spendable 100 blocks later. */
export const COINBASE_MATURITY = 100;
/** Regtest: the subsidy halves every 150 blocks. */
export const REGTEST_HALVING_INTERVAL = 150;
/** Regtest compact target (powLimit, no retargeting). */
export const REGTEST_BITS = 0x207fffff;
/** BIP9 version Core puts in regtest blocks. */
export const BLOCK_VERSION = 0x20000000;
/** Locktime values below this are heights, others unix times. */
export const LOCKTIME_THRESHOLD = 500_000_000;
/** Policy: max standard transaction weight. */
export const MAX_STANDARD_TX_WEIGHT = 400_000;
/** Policy: min non-witness size (CVE-2017-12842). */
export const MIN_STANDARD_TX_NONWITNESS_SIZE = 65;
/** Policy: max scriptSig size of a standard input. */
export const MAX_STANDARD_SCRIPTSIG_SIZE = 1650;
/** Policy: max OP_RETURN output script size (-datacarriersize default 83). */
export const MAX_OP_RETURN_RELAY = 83;
/** Policy: default min relay fee, sat/kvB. */
export const DEFAULT_MIN_RELAY_FEE = 1000n;
/** Policy: default incremental relay fee (RBF bandwidth), sat/kvB. */
export const DEFAULT_INCREMENTAL_RELAY_FEE = 1000n;
/** Policy: dust relay fee, sat/kvB. */
export const DUST_RELAY_FEE = 3000n;
/** Policy: ancestor / descendant count limits. */
export const MAX_ANCESTORS = 25;
export const MAX_DESCENDANTS = 25;
/** Policy: max transactions a replacement may evict. */
export const MAX_REPLACEMENT_CANDIDATES = 100;
/** Policy: max package size (transactions). */
export const MAX_PACKAGE_COUNT = 25;
/** RPC default maxfeerate for sendrawtransaction / testmempoolaccept, sat/kvB (0.10 BTC/kvB). */
export const DEFAULT_MAX_RAW_TX_FEE_RATE = 10_000_000n;
/** BIP68 constants. */
export const SEQUENCE_FINAL = 0xffffffff;
export const SEQUENCE_LOCKTIME_DISABLE_FLAG = 0x80000000;
export const SEQUENCE_LOCKTIME_TYPE_FLAG = 1 << 22;
export const SEQUENCE_LOCKTIME_MASK = 0x0000ffff;
export const SEQUENCE_LOCKTIME_GRANULARITY = 9;

/** Bitcoin Core RPC error codes used by the devnet. */
export const RPC = {
  MISC_ERROR: -1,
  TYPE_ERROR: -3,
  INVALID_ADDRESS_OR_KEY: -5,
  INVALID_PARAMETER: -8,
  DESERIALIZATION_ERROR: -22,
  VERIFY_ERROR: -25,
  VERIFY_REJECTED: -26,
  VERIFY_ALREADY_IN_CHAIN: -27,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  PARSE_ERROR: -32700,
} as const;

/**
 * A transaction rejected by validation, carrying Core's reject reason, debug message and RPC
 * error code (-26 RPC_VERIFY_REJECTED, or -25 for missing inputs). `message` is exactly Core's
 * `TxValidationState::ToString()`: `reason` or `reason, debug`.
 */
export class TxRejected extends FaradError {
  override name = 'TxRejected';
  readonly reason: string;
  readonly debug: string | undefined;
  readonly rpcCode: number;
  /** True for fee-only failures a package (CPFP) may fix (Core's TX_RECONSIDERABLE). */
  readonly reconsiderable: boolean;
  constructor(reason: string, debug?: string, opts: { rpcCode?: number; reconsiderable?: boolean } = {}) {
    super('DEVNET_TX_REJECTED', debug ? `${reason}, ${debug}` : reason);
    this.reason = reason;
    this.debug = debug;
    this.rpcCode = opts.rpcCode ?? RPC.VERIFY_REJECTED;
    this.reconsiderable = opts.reconsiderable ?? false;
  }
}

/** A block rejected by validation (`reason` is Core's BIP22-style reject string). */
export class BlockRejected extends FaradError {
  override name = 'BlockRejected';
  readonly reason: string;
  constructor(reason: string, debug?: string) {
    super('DEVNET_BLOCK_REJECTED', debug ? `${reason}, ${debug}` : reason);
    this.reason = reason;
  }
}

/** Core's FormatMoney: at least two decimals, trailing zeros trimmed ("0.01", "50.00"). */
export function formatMoney(sats: bigint): string {
  const neg = sats < 0n;
  const a = neg ? -sats : sats;
  let s = `${a / COIN}.${(a % COIN).toString().padStart(8, '0')}`;
  while (s.endsWith('0') && s[s.length - 3] !== '.') s = s.slice(0, -1);
  return neg ? `-${s}` : s;
}

/** BTC amount with exactly 8 decimals ("50.00000000"), as Core's RPC prints amounts. */
export function btc8(sats: bigint): string {
  const neg = sats < 0n;
  const a = neg ? -sats : sats;
  return `${neg ? '-' : ''}${a / COIN}.${(a % COIN).toString().padStart(8, '0')}`;
}

/** Core's CFeeRate::GetFee: ceil(rate * vsize / 1000), at least 1 sat for a positive rate. */
export function feeForVsize(ratePerKvB: bigint, vsize: number): bigint {
  const v = BigInt(vsize);
  let fee = (ratePerKvB * v + 999n) / 1000n;
  if (fee === 0n && v !== 0n && ratePerKvB > 0n) fee = 1n;
  return fee;
}

/** Core's CFeeRate(fee, vsize): sat/kvB, truncating. */
export function feeRateOf(fee: bigint, vsize: number): bigint {
  return vsize > 0 ? (fee * 1000n) / BigInt(vsize) : 0n;
}

/** Core's CFeeRate::ToString: "0.00001000 BTC/kvB". */
export function feeRateString(ratePerKvB: bigint): string {
  return `${btc8(ratePerKvB)} BTC/kvB`;
}

/** Serialized size of an output (8-byte value + CompactSize + script). */
function outputSize(o: TxOut): number {
  const n = o.scriptPubKey.length;
  return 8 + (n < 0xfd ? 1 : n <= 0xffff ? 3 : 5) + n;
}

function isWitnessProgram(s: Uint8Array): boolean {
  const v = s[0];
  return s.length >= 4 && s.length <= 42 && (v === 0 || (v! >= 0x51 && v! <= 0x60)) && s[1] === s.length - 2;
}

/** True for outputs no one can spend (OP_RETURN or oversized scripts): never dust. */
export function isUnspendable(s: Uint8Array): boolean {
  return (s.length > 0 && s[0] === OP.OP_RETURN) || s.length > 10_000;
}

/**
 * Core's GetDustThreshold at the 3 sat/vB dust relay fee: the cost of spending the output
 * (546 for P2PKH, 540 P2SH, 294 P2WPKH, 330 P2WSH/P2TR).
 */
export function dustThreshold(o: TxOut): bigint {
  if (isUnspendable(o.scriptPubKey)) return 0n;
  let size = outputSize(o);
  // Input spending it: witness programs get the witness discount (32+4+1+107/4+4), others 32+4+1+107+4.
  size += isWitnessProgram(o.scriptPubKey) ? 32 + 4 + 1 + Math.floor(107 / 4) + 4 : 32 + 4 + 1 + 107 + 4;
  return (DUST_RELAY_FEE * BigInt(size)) / 1000n;
}

/** True when the script is a standard OP_RETURN (push-only after OP_RETURN, <= 83 bytes). */
function isStandardNullData(s: Uint8Array): boolean {
  if (s.length > MAX_OP_RETURN_RELAY || s[0] !== OP.OP_RETURN) return false;
  try {
    return parseScript(s.subarray(1)).every((c) => c.op <= OP.OP_16);
  } catch {
    return false;
  }
}

/**
 * Standard output check (Core's IsStandard for outputs): p2pkh, p2sh, p2wpkh, p2wsh, p2tr,
 * future witness versions, or one OP_RETURN of at most 83 bytes. Returns the policy reject
 * reason or undefined.
 */
export function outputPolicy(tx: Transaction): string | undefined {
  let dataOut = 0;
  for (const o of tx.outputs) {
    const t = classifyScript(o.scriptPubKey);
    if (t === 'op_return') {
      if (!isStandardNullData(o.scriptPubKey)) return 'scriptpubkey';
      dataOut++;
    } else if (t === 'nonstandard') {
      return 'scriptpubkey';
    } else if (o.value < dustThreshold(o)) {
      return 'dust';
    }
  }
  if (dataOut > 1) return 'multi-op-return';
  return undefined;
}

/** True when every opcode of `s` is a push (scriptSig standardness). */
export function isPushOnly(s: Uint8Array): boolean {
  try {
    return parseScript(s).every((c) => c.op <= OP.OP_16);
  } catch {
    return false;
  }
}

/** Block subsidy at `height` on regtest. */
export function blockSubsidy(height: number): bigint {
  const halvings = Math.floor(height / REGTEST_HALVING_INTERVAL);
  if (halvings >= 64) return 0n;
  return (50n * COIN) >> BigInt(halvings);
}
