/**
 * Raw block parsing for chain backends: the 80-byte header (version, prev hash, merkle root,
 * time, bits, nonce) followed by a CompactSize transaction count and the transactions
 * (BIP144 serialization). Throws only DecodeError.
 */
import { sha256d } from '../../protocol/crypto/hash.js';
import { toHex } from '../../protocol/encoding/bytes.js';
import { Reader } from '../../protocol/encoding/reader.js';
import { asDecodeError, DecodeError } from '../../protocol/errors.js';
import { readCompactSize, readTx, reverse, type Transaction } from '../../protocol/tx/transaction.js';
import type { BackendBlock } from '../ports/chain.js';

/** Block hash (display hex) of an 80-byte header. */
export function blockHashOf(header: Uint8Array): string {
  return toHex(reverse(sha256d(header)));
}

/** Parses an 80-byte header: hash, previous hash (display hex) and time. */
export function decodeHeader(header: Uint8Array): { hash: string; prevHash: string; time: number } {
  if (header.length !== 80) throw new DecodeError('BLOCK_BAD_HEADER', 'block header must be 80 bytes');
  const dv = new DataView(header.buffer, header.byteOffset, 80);
  return {
    hash: blockHashOf(header),
    prevHash: toHex(reverse(header.subarray(4, 36))),
    time: dv.getUint32(68, true),
  };
}

/** Parses a serialized block. */
export function decodeBlock(raw: Uint8Array): BackendBlock {
  return asDecodeError('BLOCK_INVALID', 'invalid block', () => {
    if (raw.length < 81) throw new DecodeError('BLOCK_TRUNCATED', 'block too short');
    const head = decodeHeader(raw.subarray(0, 80));
    const r = new Reader(raw.subarray(80));
    const n = readCompactSize(r);
    if (n > r.remaining / 60)
      throw new DecodeError('BLOCK_TOO_MANY_TXS', 'transaction count exceeds the data');
    const txs: Transaction[] = [];
    for (let i = 0; i < n; i++) txs.push(readTx(r));
    if (!r.done) throw new DecodeError('BLOCK_TRAILING_BYTES', 'trailing bytes after block');
    return { ...head, txs };
  });
}
