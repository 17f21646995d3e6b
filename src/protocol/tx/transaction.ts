/**
 * Bitcoin transactions: the consensus serialization (BIP144 segwit), txid/wtxid, weight,
 * and the signature hashes (legacy and BIP143 segwit v0). Pure; bytes in, bytes out.
 */
import { sha256d } from '../crypto/hash.js';
import { concat, toHex } from '../encoding/bytes.js';
import { Reader } from '../encoding/reader.js';
import type { Writer } from '../encoding/writer.js';
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

const U64_MASK = 0xffffffffffffffffn;

function compactSizeLen(n: number): number {
  if (n < 0xfd) return 1;
  if (n <= 0xffff) return 3;
  if (n <= 0xffffffff) return 5;
  throw new InvalidArgumentError('CompactSize too large');
}

/**
 * A fixed-size little-endian output buffer for the serializations below (sizes are computed
 * up front: no growth, no per-field allocations). Same bytes as the Writer-based helpers.
 */
class LeBuf {
  readonly buf: Uint8Array;
  pos = 0;
  constructor(size: number) {
    this.buf = new Uint8Array(size);
  }
  u8(v: number): void {
    this.buf[this.pos++] = v;
  }
  /** Low 32 bits of `v`, little-endian (like {@link le}(v, 4)). */
  u32(v: number): void {
    const b = this.buf;
    let p = this.pos;
    const x = v >>> 0;
    b[p++] = x & 0xff;
    b[p++] = (x >>> 8) & 0xff;
    b[p++] = (x >>> 16) & 0xff;
    b[p++] = x >>> 24;
    this.pos = p;
  }
  /** `v` mod 2^64, little-endian (like `setBigUint64(.., true)`). */
  u64(v: bigint): void {
    const x = v & U64_MASK;
    this.u32(Number(x & 0xffffffffn));
    this.u32(Number(x >> 32n));
  }
  bytes(b: Uint8Array): void {
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  /** `b` reversed (display-order txid → wire order). */
  reversed(b: Uint8Array): void {
    const out = this.buf;
    let p = this.pos;
    for (let i = b.length - 1; i >= 0; i--) out[p++] = b[i]!;
    this.pos = p;
  }
  compactSize(n: number): void {
    if (n < 0xfd) this.u8(n);
    else if (n <= 0xffff) {
      this.u8(0xfd);
      this.u8(n & 0xff);
      this.u8(n >>> 8);
    } else {
      this.u8(0xfe);
      this.u32(n);
    }
  }
  varBytes(b: Uint8Array): void {
    this.compactSize(b.length);
    this.bytes(b);
  }
}

function outputsSize(outputs: readonly TxOut[]): number {
  let n = 0;
  for (const o of outputs) n += 8 + compactSizeLen(o.scriptPubKey.length) + o.scriptPubKey.length;
  return n;
}

function writeOutput(w: LeBuf, o: TxOut): void {
  w.u64(o.value);
  w.varBytes(o.scriptPubKey);
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
  let size = 4 + (withWitness ? 2 : 0) + compactSizeLen(tx.inputs.length);
  for (const i of tx.inputs) {
    if (i.txid.length !== 32) throw new InvalidArgumentError('txid must be 32 bytes');
    size += 40 + compactSizeLen(i.scriptSig.length) + i.scriptSig.length;
  }
  size += compactSizeLen(tx.outputs.length) + outputsSize(tx.outputs);
  if (withWitness) {
    for (const i of tx.inputs) {
      size += compactSizeLen(i.witness.length);
      for (const item of i.witness) size += compactSizeLen(item.length) + item.length;
    }
  }
  size += 4;
  const w = new LeBuf(size);
  w.u32(tx.version);
  if (withWitness) {
    w.u8(0);
    w.u8(1);
  }
  w.compactSize(tx.inputs.length);
  for (const i of tx.inputs) {
    w.reversed(i.txid);
    w.u32(i.vout);
    w.varBytes(i.scriptSig);
    w.u32(i.sequence);
  }
  w.compactSize(tx.outputs.length);
  for (const o of tx.outputs) writeOutput(w, o);
  if (withWitness) {
    for (const i of tx.inputs) {
      w.compactSize(i.witness.length);
      for (const item of i.witness) w.varBytes(item);
    }
  }
  w.u32(tx.locktime);
  return w.buf;
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
  for (const i of tx.inputs)
    if (i.txid.length !== 32) throw new InvalidArgumentError('txid must be 32 bytes');
  if (!anyone) {
    const w = new LeBuf(36 * tx.inputs.length);
    for (const i of tx.inputs) {
      w.reversed(i.txid);
      w.u32(i.vout);
    }
    hashPrevouts = sha256d(w.buf);
  }
  if (!anyone && base !== SIGHASH_SINGLE && base !== SIGHASH_NONE) {
    const w = new LeBuf(4 * tx.inputs.length);
    for (const i of tx.inputs) w.u32(i.sequence);
    hashSequence = sha256d(w.buf);
  }
  if (base !== SIGHASH_SINGLE && base !== SIGHASH_NONE) {
    const w = new LeBuf(outputsSize(tx.outputs));
    for (const o of tx.outputs) writeOutput(w, o);
    hashOutputs = sha256d(w.buf);
  } else if (base === SIGHASH_SINGLE && index < tx.outputs.length) {
    hashOutputs = sha256d(encodeOutput(tx.outputs[index]!));
  }
  const w = new LeBuf(
    4 + 32 + 32 + 36 + compactSizeLen(scriptCode.length) + scriptCode.length + 8 + 4 + 32 + 8,
  );
  w.u32(tx.version);
  w.bytes(hashPrevouts);
  w.bytes(hashSequence);
  w.reversed(input.txid);
  w.u32(input.vout);
  w.varBytes(scriptCode);
  w.u64(amount);
  w.u32(input.sequence);
  w.bytes(hashOutputs);
  w.u32(tx.locktime);
  w.u32(hashType);
  return sha256d(w.buf);
}

function encodeOutput(o: TxOut): Uint8Array {
  const w = new LeBuf(outputsSize([o]));
  writeOutput(w, o);
  return w.buf;
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
