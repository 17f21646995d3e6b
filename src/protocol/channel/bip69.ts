/**
 * BOLT #3 "Transaction Output Ordering" (BIP69, plus the CLTV tie-break for HTLC outputs) and
 * BIP69 input ordering (used for single-funded funding transactions).
 */
import { compare } from '../encoding/bytes.js';
import type { TxIn, TxOut } from '../tx/transaction.js';

/**
 * Output order: value ascending (whole satoshis), then `scriptpubkey` by common-prefix memcmp
 * with the shorter first. Returns <0, 0, >0. Ties (identical outputs) are left to the caller.
 */
export function compareOutputs(a: TxOut, b: TxOut): number {
  if (a.value !== b.value) return a.value < b.value ? -1 : 1;
  return compare(a.scriptPubKey, b.scriptPubKey);
}

/**
 * BIP69 input order: previous txid ascending (as displayed, i.e. reversed wire order), then
 * output index ascending.
 */
export function compareInputs(a: Pick<TxIn, 'txid' | 'vout'>, b: Pick<TxIn, 'txid' | 'vout'>): number {
  const c = compare(a.txid, b.txid);
  return c !== 0 ? c : a.vout - b.vout;
}

/**
 * Sorts items carrying an output into BOLT #3 order; `tieBreak` (e.g. HTLC `cltv_expiry`) orders
 * identical outputs. Stable; returns a new array.
 */
export function sortByOutput<T>(
  items: readonly T[],
  out: (t: T) => TxOut,
  tieBreak?: (a: T, b: T) => number,
): T[] {
  return items
    .map((t, i) => ({ t, i }))
    .sort((x, y) => compareOutputs(out(x.t), out(y.t)) || (tieBreak ? tieBreak(x.t, y.t) : 0) || x.i - y.i)
    .map((x) => x.t);
}
