/**
 * BOLT 7 `short_channel_id`: a u64 made of the funding transaction's block height (3 bytes),
 * its index in the block (3 bytes) and the funding output index (2 bytes). The human form is
 * `BLOCKxTXxOUT` (e.g. `539268x845x1`).
 */
import { DecodeError, InvalidArgumentError } from '../errors.js';

/** The three components of a short_channel_id. */
export interface ScidParts {
  block: number;
  txIndex: number;
  outputIndex: number;
}

/** Builds a short_channel_id from its parts (InvalidArgumentError if a part is out of range). */
export function scidFromParts(block: number, txIndex: number, outputIndex: number): bigint {
  check(block, 0xffffff, 'block');
  check(txIndex, 0xffffff, 'txIndex');
  check(outputIndex, 0xffff, 'outputIndex');
  return (BigInt(block) << 40n) | (BigInt(txIndex) << 16n) | BigInt(outputIndex);
}

function check(v: number, max: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new InvalidArgumentError(`scid ${what} out of range`);
}

/** Splits a short_channel_id (any u64) into its parts. */
export function scidToParts(scid: bigint): ScidParts {
  if (scid < 0n || scid > 0xffffffffffffffffn) throw new InvalidArgumentError('scid out of u64 range');
  return {
    block: Number(scid >> 40n),
    txIndex: Number((scid >> 16n) & 0xffffffn),
    outputIndex: Number(scid & 0xffffn),
  };
}

/** Formats as `BLOCKxTXxOUT`. */
export function scidToString(scid: bigint): string {
  const p = scidToParts(scid);
  return `${p.block}x${p.txIndex}x${p.outputIndex}`;
}

/** Parses `BLOCKxTXxOUT` (decimal, no leading `+`/spaces); DecodeError `SCID_INVALID` otherwise. */
export function scidFromString(s: string): bigint {
  const m = /^(\d{1,8})x(\d{1,8})x(\d{1,5})$/.exec(s);
  if (!m) throw new DecodeError('SCID_INVALID', 'short_channel_id must look like BLOCKxTXxOUT');
  const [block, tx, out] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (block > 0xffffff || tx > 0xffffff || out > 0xffff) {
    throw new DecodeError('SCID_INVALID', 'short_channel_id component out of range', { details: s });
  }
  return scidFromParts(block, tx, out);
}
