/**
 * Bitcoin blocks: the 80-byte header, the block serialization (header + CompactSize count +
 * transactions, BIP144 witness serialization), the block hash, the merkle root, and the
 * BIP141 witness commitment. Pure: bytes in, bytes out.
 *
 * Byte order: like {@link txid} in transaction.ts, every hash in this module (`prevBlock`,
 * `merkleRoot`, block hashes, txids) is a 32-byte array in *display* (RPC) order; the wire
 * format stores them reversed.
 */
import { sha256d } from '../crypto/hash.js';
import { concat, equal } from '../encoding/bytes.js';
import { Reader } from '../encoding/reader.js';
import { Writer } from '../encoding/writer.js';
import { asDecodeError, DecodeError, InvalidArgumentError } from '../errors.js';
import {
  encodeTx,
  le,
  readCompactSize,
  readTx,
  reverse,
  type Transaction,
  txid,
  writeCompactSize,
  wtxid,
} from './transaction.js';

/** The 80-byte block header. */
export interface BlockHeader {
  /** Signed 32-bit version (e.g. 0x20000000 for BIP9 signalling blocks). */
  version: number;
  /** Hash of the previous block, display order, 32 bytes. */
  prevBlock: Uint8Array;
  /** Merkle root of the txids, display order, 32 bytes. */
  merkleRoot: Uint8Array;
  /** Block timestamp (unix seconds, u32). */
  time: number;
  /** Compact target ("nBits"). */
  bits: number;
  /** u32 nonce. */
  nonce: number;
}

/** A block: header plus transactions (the first one is the coinbase). */
export interface Block {
  header: BlockHeader;
  txs: Transaction[];
}

/** Size of a serialized header. */
export const HEADER_SIZE = 80;
/** BIP141 consensus limit on block weight. */
export const MAX_BLOCK_WEIGHT = 4_000_000;
/** BIP141: the 4-byte tag after `OP_RETURN 0x24` in the witness commitment output. */
export const WITNESS_COMMITMENT_TAG = Uint8Array.of(0xaa, 0x21, 0xa9, 0xed);

function u32le(r: Reader): number {
  const b = r.bytes(4);
  return (b[0]! | (b[1]! << 8) | (b[2]! << 16)) + b[3]! * 0x1000000;
}

function checkU32(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new InvalidArgumentError(`${what} out of range`);
}

/** Serializes a header to its 80 bytes. */
export function encodeHeader(h: BlockHeader): Uint8Array {
  if (h.prevBlock.length !== 32 || h.merkleRoot.length !== 32)
    throw new InvalidArgumentError('header hashes must be 32 bytes');
  if (!Number.isInteger(h.version) || h.version < -0x80000000 || h.version > 0x7fffffff)
    throw new InvalidArgumentError('version out of range');
  checkU32(h.time, 'time');
  checkU32(h.bits, 'bits');
  checkU32(h.nonce, 'nonce');
  const w = new Writer(HEADER_SIZE);
  w.bytes(le(h.version >>> 0, 4))
    .bytes(reverse(h.prevBlock))
    .bytes(reverse(h.merkleRoot))
    .bytes(le(h.time, 4))
    .bytes(le(h.bits, 4))
    .bytes(le(h.nonce, 4));
  return w.finish();
}

/** Reads an 80-byte header from `r`. */
export function readHeader(r: Reader): BlockHeader {
  const version = u32le(r) | 0;
  const prevBlock = reverse(r.bytes(32));
  const merkleRoot = reverse(r.bytes(32));
  const time = u32le(r);
  const bits = u32le(r);
  const nonce = u32le(r);
  return { version, prevBlock, merkleRoot, time, bits, nonce };
}

/** Parses exactly 80 bytes into a header. Throws only DecodeError (`BLOCK_HEADER_INVALID`). */
export function decodeHeader(bytes: Uint8Array): BlockHeader {
  return asDecodeError('BLOCK_HEADER_INVALID', 'invalid block header', () => {
    if (bytes.length !== HEADER_SIZE)
      throw new DecodeError('BLOCK_HEADER_LENGTH', `block header must be ${HEADER_SIZE} bytes`);
    return readHeader(new Reader(bytes));
  });
}

/** Block hash (double SHA-256 of the header) in display order. */
export function blockHash(h: BlockHeader): Uint8Array {
  return reverse(sha256d(encodeHeader(h)));
}

/**
 * Serializes a block. With `witness` (default) transactions use the BIP144 format when they
 * carry witness data; `witness: false` gives the stripped (pre-segwit) serialization.
 */
export function encodeBlock(b: Block, opts: { witness?: boolean } = {}): Uint8Array {
  const w = new Writer(HEADER_SIZE + 256 * b.txs.length);
  w.bytes(encodeHeader(b.header));
  writeCompactSize(w, b.txs.length);
  for (const tx of b.txs) w.bytes(encodeTx(tx, opts));
  return w.finish();
}

/** Parses a whole serialized block (trailing bytes are an error). Throws only DecodeError. */
export function decodeBlock(bytes: Uint8Array): Block {
  return asDecodeError('BLOCK_INVALID', 'invalid block', () => {
    const r = new Reader(bytes);
    const header = readHeader(r);
    const n = readCompactSize(r);
    // A transaction takes at least 60 bytes; reject counts that cannot fit before allocating.
    if (n > r.remaining / 60)
      throw new DecodeError('BLOCK_TOO_MANY_TXS', 'transaction count exceeds the data');
    const txs: Transaction[] = [];
    for (let i = 0; i < n; i++) txs.push(readTx(r));
    if (!r.done) throw new DecodeError('BLOCK_TRAILING_BYTES', 'trailing bytes after block');
    return { header, txs };
  });
}

/** BIP141 block weight: stripped size * 3 + total size. */
export function blockWeight(b: Block): number {
  return encodeBlock(b, { witness: false }).length * 3 + encodeBlock(b).length;
}

/**
 * Merkle root of `hashes` (each 32 bytes, display order) as Bitcoin computes it: pairs are
 * hashed with double SHA-256 in internal order and an odd last element is paired with itself.
 * Returns the root in display order. `mutated` reports the CVE-2012-2459 pattern (two equal
 * adjacent hashes at some level), which block validation rejects.
 */
export function merkleRootWithMutation(hashes: Uint8Array[]): { root: Uint8Array; mutated: boolean } {
  if (hashes.length === 0) return { root: new Uint8Array(32), mutated: false };
  let level = hashes.map((h) => {
    if (h.length !== 32) throw new InvalidArgumentError('merkle leaves must be 32 bytes');
    return reverse(h);
  });
  let mutated = false;
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const a = level[i]!;
      const b = level[i + 1] ?? a;
      if (i + 1 < level.length && equal(a, b)) mutated = true;
      next.push(sha256d(concat(a, b)));
    }
    level = next;
  }
  return { root: reverse(level[0]!), mutated };
}

/** Merkle root (display order) of display-order hashes. See {@link merkleRootWithMutation}. */
export function merkleRoot(hashes: Uint8Array[]): Uint8Array {
  return merkleRootWithMutation(hashes).root;
}

/**
 * Merkle branch for leaf `index` (display-order siblings from the leaf up), as Esplora's
 * `merkle-proof` and `gettxoutproof` carry it.
 */
export function merkleBranch(hashes: Uint8Array[], index: number): Uint8Array[] {
  if (index < 0 || index >= hashes.length) throw new InvalidArgumentError('merkle index out of range');
  let level = hashes.map(reverse);
  let pos = index;
  const branch: Uint8Array[] = [];
  while (level.length > 1) {
    branch.push(reverse(level[pos ^ 1] ?? level[pos]!));
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2)
      next.push(sha256d(concat(level[i]!, level[i + 1] ?? level[i]!)));
    level = next;
    pos >>= 1;
  }
  return branch;
}

/** The txid merkle root of a block's transactions. */
export function blockMerkleRoot(txs: Transaction[]): Uint8Array {
  return merkleRoot(txs.map(txid));
}

/** BIP141 witness root: merkle root of the wtxids with the coinbase's wtxid replaced by zero. */
export function witnessMerkleRoot(txs: Transaction[]): Uint8Array {
  return merkleRoot(txs.map((tx, i) => (i === 0 ? new Uint8Array(32) : wtxid(tx))));
}

/**
 * BIP141 commitment hash: double-SHA256(witness root || witness reserved value), both in
 * internal byte order. Returned in internal order (as it appears in the output script).
 */
export function witnessCommitmentHash(witnessRoot: Uint8Array, reserved: Uint8Array): Uint8Array {
  if (reserved.length !== 32) throw new InvalidArgumentError('witness reserved value must be 32 bytes');
  return sha256d(concat(reverse(witnessRoot), reserved));
}

/** The commitment output script: `OP_RETURN PUSH36(aa21a9ed || commitment)`. */
export function witnessCommitmentScript(commitment: Uint8Array): Uint8Array {
  if (commitment.length !== 32) throw new InvalidArgumentError('commitment must be 32 bytes');
  return concat(Uint8Array.of(0x6a, 0x24), WITNESS_COMMITMENT_TAG, commitment);
}

/**
 * BIP141: index of the coinbase output holding the witness commitment (the *last* output whose
 * script starts with `6a24aa21a9ed` and is at least 38 bytes), or -1.
 */
export function findWitnessCommitment(coinbase: Transaction): number {
  let found = -1;
  coinbase.outputs.forEach((o, i) => {
    const s = o.scriptPubKey;
    if (s.length >= 38 && s[0] === 0x6a && s[1] === 0x24 && equal(s.subarray(2, 6), WITNESS_COMMITMENT_TAG))
      found = i;
  });
  return found;
}

/** Expands compact bits into the 256-bit target. Negative or overflowing encodings give 0n. */
export function bitsToTarget(bits: number): bigint {
  const exp = bits >>> 24;
  const mant = bits & 0x007fffff;
  if (bits & 0x00800000) return 0n;
  const t = exp <= 3 ? BigInt(mant >>> (8 * (3 - exp))) : BigInt(mant) << BigInt(8 * (exp - 3));
  return t >= 1n << 256n ? 0n : t;
}

/** Work represented by a block with `bits`: floor(2^256 / (target + 1)). */
export function blockWork(bits: number): bigint {
  const t = bitsToTarget(bits);
  if (t === 0n) return 0n;
  return (1n << 256n) / (t + 1n);
}

/** True when the (display-order) hash, read as a big-endian number, is <= the target. */
export function hashMeetsTarget(hash: Uint8Array, bits: number): boolean {
  const t = bitsToTarget(bits);
  if (t === 0n) return false;
  let v = 0n;
  for (const x of hash) v = (v << 8n) | BigInt(x);
  return v <= t;
}

/** Core's GetDifficulty: max target (0x1d00ffff) divided by this target, as a float. */
export function difficulty(bits: number): number {
  let shift = (bits >>> 24) & 0xff;
  let diff = 0x0000ffff / (bits & 0x00ffffff);
  while (shift < 29) {
    diff *= 256;
    shift++;
  }
  while (shift > 29) {
    diff /= 256;
    shift--;
  }
  return diff;
}
