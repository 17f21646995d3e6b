/**
 * Bitcoin transactions: the consensus serialization (BIP144 segwit), txid/wtxid, weight,
 * and the signature hashes (legacy and BIP143 segwit v0). Pure; bytes in, bytes out.
 */
import { sha256d } from '../crypto/hash.js';
import { concat, toHex } from '../encoding/bytes.js';
import { Reader } from '../encoding/reader.js';
import { Writer } from '../encoding/writer.js';
import { asDecodeError, DecodeError, InvalidArgumentError } from '../errors.js';

/** A transaction input. */
export interface TxIn {
  /** Previous transaction id in display (RPC) byte order, 32 bytes; reversed on the wire. */
  txid: Uint8Array;
  vout: number;
  scriptSig: Uint8Array;
  sequence: number;
  /** Witness stack items (empty for non-witness inputs). */
  witness: Uint8Array[];
}

/** A transaction output. */
export interface TxOut {
  /** Amount in satoshis. */
  value: bigint;
  scriptPubKey: Uint8Array;
}

export interface Transaction {
  version: number;
  inputs: TxIn[];
  outputs: TxOut[];
  locktime: number;
}

export const SIGHASH_ALL = 0x01;
export const SIGHASH_NONE = 0x02;
export const SIGHASH_SINGLE = 0x03;
export const SIGHASH_ANYONECANPAY = 0x80;

/** Reverses a byte array (display <-> internal hash order). */
export function reverse(b: Uint8Array): Uint8Array {
  return Uint8Array.from(b).reverse();
}

function writeVarBytes(w: Writer, b: Uint8Array): void {
  writeCompactSize(w, b.length);
  w.bytes(b);
}

/** Bitcoin CompactSize (little-endian varint). */
export function writeCompactSize(w: Writer, n: number): void {
  if (n < 0xfd) w.u8(n);
  else if (n <= 0xffff) w.u8(0xfd).bytes(le(n, 2));
  else if (n <= 0xffffffff) w.u8(0xfe).bytes(le(n, 4));
  else throw new InvalidArgumentError('CompactSize too large');
}

/** Reads a canonical CompactSize. */
export function readCompactSize(r: Reader): number {
  const first = r.u8();
  if (first < 0xfd) return first;
  if (first === 0xfd) {
    const v = readLe(r, 2);
    if (v < 0xfd) throw new DecodeError('TX_NONCANONICAL_SIZE', 'non-canonical CompactSize');
    return v;
  }
  if (first === 0xfe) {
    const v = readLe(r, 4);
    if (v < 0x10000) throw new DecodeError('TX_NONCANONICAL_SIZE', 'non-canonical CompactSize');
    return v;
  }
  throw new DecodeError('TX_SIZE_TOO_LARGE', 'CompactSize too large');
}

/** Little-endian encoding of an unsigned number in `len` bytes (len <= 6). */
export function le(n: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) {
    out[i] = n % 256;
    n = Math.floor(n / 256);
  }
  return out;
}

function le64(v: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, v, true);
  return out;
}

function readLe(r: Reader, len: number): number {
  const b = r.bytes(len);
  let v = 0;
  for (let i = len - 1; i >= 0; i--) v = v * 256 + b[i]!;
  return v;
}

function readLe64(r: Reader): bigint {
  const b = r.bytes(8);
  return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
}

function writeI32le(w: Writer, v: number): void {
  w.bytes(le(v >>> 0, 4));
}

/** True if any input carries a witness. */
export function hasWitness(tx: Transaction): boolean {
  return tx.inputs.some((i) => i.witness.length > 0);
}

/**
 * Serializes `tx`. With `witness` (default) and at least one witness item, uses the BIP144
 * format (marker 0x00, flag 0x01); otherwise the legacy format.
 */
export function encodeTx(tx: Transaction, opts: { witness?: boolean } = {}): Uint8Array {
  const withWitness = (opts.witness ?? true) && hasWitness(tx);
  const w = new Writer(256);
  writeI32le(w, tx.version);
  if (withWitness) w.u8(0).u8(1);
  writeCompactSize(w, tx.inputs.length);
  for (const i of tx.inputs) {
    if (i.txid.length !== 32) throw new InvalidArgumentError('txid must be 32 bytes');
    w.bytes(reverse(i.txid)).bytes(le(i.vout, 4));
    writeVarBytes(w, i.scriptSig);
    w.bytes(le(i.sequence, 4));
  }
  writeCompactSize(w, tx.outputs.length);
  for (const o of tx.outputs) {
    w.bytes(le64(o.value));
    writeVarBytes(w, o.scriptPubKey);
  }
  if (withWitness) {
    for (const i of tx.inputs) {
      writeCompactSize(w, i.witness.length);
      for (const item of i.witness) writeVarBytes(w, item);
    }
  }
  w.bytes(le(tx.locktime, 4));
  return w.finish();
}

/** Parses one transaction from `r` (used for blocks too). */
export function readTx(r: Reader): Transaction {
  const version = new DataView(r.bytes(4).slice().buffer).getInt32(0, true);
  let nIn = readCompactSize(r);
  let segwit = false;
  if (nIn === 0) {
    const flag = r.u8();
    if (flag !== 1) throw new DecodeError('TX_BAD_FLAG', 'bad segwit flag');
    segwit = true;
    nIn = readCompactSize(r);
  }
  if (nIn > r.remaining / 41) throw new DecodeError('TX_TOO_MANY_INPUTS', 'input count exceeds the data');
  const inputs: TxIn[] = [];
  for (let k = 0; k < nIn; k++) {
    const txid = reverse(r.bytes(32));
    const vout = readLe(r, 4);
    const scriptSig = r.bytes(readCompactSize(r)).slice();
    const sequence = readLe(r, 4);
    inputs.push({ txid, vout, scriptSig, sequence, witness: [] });
  }
  const nOut = readCompactSize(r);
  if (nOut > r.remaining / 9) throw new DecodeError('TX_TOO_MANY_OUTPUTS', 'output count exceeds the data');
  const outputs: TxOut[] = [];
  for (let k = 0; k < nOut; k++) {
    const value = readLe64(r);
    const scriptPubKey = r.bytes(readCompactSize(r)).slice();
    outputs.push({ value, scriptPubKey });
  }
  if (segwit) {
    let any = false;
    for (const i of inputs) {
      const n = readCompactSize(r);
      if (n > r.remaining) throw new DecodeError('TX_BAD_WITNESS', 'witness count exceeds the data');
      for (let k = 0; k < n; k++) i.witness.push(r.bytes(readCompactSize(r)).slice());
      if (n > 0) any = true;
    }
    if (!any) throw new DecodeError('TX_EMPTY_WITNESS', 'segwit marker with no witness data');
  }
  const locktime = readLe(r, 4);
  return { version, inputs, outputs, locktime };
}

/** Parses a whole serialized transaction; trailing bytes are an error. Throws only DecodeError. */
export function decodeTx(bytes: Uint8Array): Transaction {
  return asDecodeError('TX_INVALID', 'invalid transaction', () => {
    const r = new Reader(bytes);
    const tx = readTx(r);
    if (!r.done) throw new DecodeError('TX_TRAILING_BYTES', 'trailing bytes after transaction');
    return tx;
  });
}

/** Transaction id in display order (32 bytes). */
export function txid(tx: Transaction): Uint8Array {
  return reverse(sha256d(encodeTx(tx, { witness: false })));
}

/** Transaction id as the usual hex string. */
export function txidHex(tx: Transaction): string {
  return toHex(txid(tx));
}

/** Witness transaction id in display order. */
export function wtxid(tx: Transaction): Uint8Array {
  return reverse(sha256d(encodeTx(tx)));
}

/** BIP141 weight: base size * 3 + total size. */
export function weight(tx: Transaction): number {
  return encodeTx(tx, { witness: false }).length * 3 + encodeTx(tx).length;
}

/** Virtual size: ceil(weight / 4). */
export function vsize(tx: Transaction): number {
  return Math.ceil(weight(tx) / 4);
}

/**
 * BIP143 signature hash for a segwit v0 input. `scriptCode` is the witness script (P2WSH)
 * or the P2PKH-style script (P2WPKH); `amount` is the spent output's value.
 */
export function sighashSegwitV0(
  tx: Transaction,
  index: number,
  scriptCode: Uint8Array,
  amount: bigint,
  hashType: number,
): Uint8Array {
  const input = tx.inputs[index];
  if (!input) throw new InvalidArgumentError(`no input ${index}`);
  const base = hashType & 0x1f;
  const anyone = (hashType & SIGHASH_ANYONECANPAY) !== 0;
  const zero = new Uint8Array(32);
  let hashPrevouts: Uint8Array = zero;
  let hashSequence: Uint8Array = zero;
  let hashOutputs: Uint8Array = zero;
  if (!anyone) {
    hashPrevouts = sha256d(concat(...tx.inputs.map((i) => concat(reverse(i.txid), le(i.vout, 4)))));
  }
  if (!anyone && base !== SIGHASH_SINGLE && base !== SIGHASH_NONE) {
    hashSequence = sha256d(concat(...tx.inputs.map((i) => le(i.sequence, 4))));
  }
  if (base !== SIGHASH_SINGLE && base !== SIGHASH_NONE) {
    hashOutputs = sha256d(concat(...tx.outputs.map(encodeOutput)));
  } else if (base === SIGHASH_SINGLE && index < tx.outputs.length) {
    hashOutputs = sha256d(encodeOutput(tx.outputs[index]!));
  }
  const w = new Writer(256);
  writeI32le(w, tx.version);
  w.bytes(hashPrevouts).bytes(hashSequence);
  w.bytes(reverse(input.txid)).bytes(le(input.vout, 4));
  writeVarBytes(w, scriptCode);
  w.bytes(le64(amount)).bytes(le(input.sequence, 4));
  w.bytes(hashOutputs)
    .bytes(le(tx.locktime, 4))
    .bytes(le(hashType >>> 0, 4));
  return sha256d(w.finish());
}

function encodeOutput(o: TxOut): Uint8Array {
  const w = new Writer(48);
  w.bytes(le64(o.value));
  writeVarBytes(w, o.scriptPubKey);
  return w.finish();
}

/**
 * Legacy (pre-segwit) signature hash with `scriptCode` as the subscript (OP_CODESEPARATOR is
 * not handled). Supports ALL/NONE/SINGLE and ANYONECANPAY.
 */
export function sighashLegacy(
  tx: Transaction,
  index: number,
  scriptCode: Uint8Array,
  hashType: number,
): Uint8Array {
  if (index >= tx.inputs.length) throw new InvalidArgumentError(`no input ${index}`);
  const base = hashType & 0x1f;
  if (base === SIGHASH_SINGLE && index >= tx.outputs.length) {
    const one = new Uint8Array(32);
    one[31] = 1;
    return reverse(one);
  }
  const anyone = (hashType & SIGHASH_ANYONECANPAY) !== 0;
  const inputs = (anyone ? [tx.inputs[index]!] : tx.inputs).map((i) => {
    const own = i === tx.inputs[index];
    return {
      ...i,
      scriptSig: own ? scriptCode : new Uint8Array(0),
      sequence: !own && (base === SIGHASH_NONE || base === SIGHASH_SINGLE) ? 0 : i.sequence,
      witness: [],
    };
  });
  let outputs = tx.outputs;
  if (base === SIGHASH_NONE) outputs = [];
  else if (base === SIGHASH_SINGLE) {
    outputs = tx.outputs
      .slice(0, index + 1)
      .map((o, k) => (k === index ? o : { value: 0xffffffffffffffffn, scriptPubKey: new Uint8Array(0) }));
  }
  const ser = encodeTx({ ...tx, inputs, outputs }, { witness: false });
  return sha256d(concat(ser, le(hashType >>> 0, 4)));
}
