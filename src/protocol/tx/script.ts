/** Bitcoin Script: opcodes, a builder with minimal pushes, a parser, and standard templates. */
import { hash160, sha256 } from '../crypto/hash.js';
import { concat } from '../encoding/bytes.js';
import { DecodeError, InvalidArgumentError } from '../errors.js';

export const OP = {
  OP_0: 0x00,
  OP_PUSHDATA1: 0x4c,
  OP_PUSHDATA2: 0x4d,
  OP_PUSHDATA4: 0x4e,
  OP_1NEGATE: 0x4f,
  OP_1: 0x51,
  OP_2: 0x52,
  OP_3: 0x53,
  OP_16: 0x60,
  OP_NOP: 0x61,
  OP_IF: 0x63,
  OP_NOTIF: 0x64,
  OP_ELSE: 0x67,
  OP_ENDIF: 0x68,
  OP_VERIFY: 0x69,
  OP_RETURN: 0x6a,
  OP_TOALTSTACK: 0x6b,
  OP_FROMALTSTACK: 0x6c,
  OP_IFDUP: 0x73,
  OP_DROP: 0x75,
  OP_DUP: 0x76,
  OP_NIP: 0x77,
  OP_OVER: 0x78,
  OP_SWAP: 0x7c,
  OP_SIZE: 0x82,
  OP_EQUAL: 0x87,
  OP_EQUALVERIFY: 0x88,
  OP_1ADD: 0x8b,
  OP_ADD: 0x93,
  OP_RIPEMD160: 0xa6,
  OP_SHA256: 0xa8,
  OP_HASH160: 0xa9,
  OP_HASH256: 0xaa,
  OP_CHECKSIG: 0xac,
  OP_CHECKSIGVERIFY: 0xad,
  OP_CHECKMULTISIG: 0xae,
  OP_CHECKMULTISIGVERIFY: 0xaf,
  OP_CHECKLOCKTIMEVERIFY: 0xb1,
  OP_CHECKSEQUENCEVERIFY: 0xb2,
} as const;

/** A script element: an opcode (number) or data to push (bytes), or a small integer via {@link num}. */
export type ScriptChunk = number | Uint8Array;

/** Minimal push of `data` (BIP62 minimal push rules, OP_n for single bytes 1..16). */
export function pushData(data: Uint8Array): Uint8Array {
  const n = data.length;
  if (n === 0) return Uint8Array.of(OP.OP_0);
  if (n === 1 && data[0]! >= 1 && data[0]! <= 16) return Uint8Array.of(OP.OP_1 + data[0]! - 1);
  if (n === 1 && data[0] === 0x81) return Uint8Array.of(OP.OP_1NEGATE);
  if (n < OP.OP_PUSHDATA1) return concat(Uint8Array.of(n), data);
  if (n <= 0xff) return concat(Uint8Array.of(OP.OP_PUSHDATA1, n), data);
  if (n <= 0xffff) return concat(Uint8Array.of(OP.OP_PUSHDATA2, n & 0xff, n >> 8), data);
  throw new InvalidArgumentError('push too large');
}

/** Script number encoding (minimal, little-endian, sign bit). */
export function scriptNum(v: number | bigint): Uint8Array {
  let n = BigInt(v);
  if (n === 0n) return new Uint8Array(0);
  const neg = n < 0n;
  if (neg) n = -n;
  const out: number[] = [];
  while (n > 0n) {
    out.push(Number(n & 0xffn));
    n >>= 8n;
  }
  if (out[out.length - 1]! & 0x80) out.push(neg ? 0x80 : 0);
  else if (neg) out[out.length - 1]! |= 0x80;
  return Uint8Array.from(out);
}

/** Pushes a number: OP_0 / OP_1..OP_16 / OP_1NEGATE when possible, otherwise a script-number push. */
export function num(v: number | bigint): Uint8Array {
  const n = Number(v);
  if (n === 0) return Uint8Array.of(OP.OP_0);
  if (n === -1) return Uint8Array.of(OP.OP_1NEGATE);
  if (n >= 1 && n <= 16) return Uint8Array.of(OP.OP_1 + n - 1);
  return pushData(scriptNum(v));
}

/**
 * Builds a script. Numbers are opcodes; byte arrays are pushed minimally. Use {@link num}
 * and spread the result (`...[num(144)]`) — or pass its bytes through {@link raw}.
 */
export function script(...chunks: (ScriptChunk | RawScript)[]): Uint8Array {
  return concat(
    ...chunks.map((c) =>
      c instanceof RawScript ? c.bytes : typeof c === 'number' ? Uint8Array.of(c) : pushData(c),
    ),
  );
}

/** Wraps already-encoded script bytes so {@link script} inserts them as they are. */
export class RawScript {
  constructor(readonly bytes: Uint8Array) {}
}

export function raw(bytes: Uint8Array): RawScript {
  return new RawScript(bytes);
}

/** A parsed script element. */
export type ParsedChunk = { op: number; data?: Uint8Array };

/** Parses a script into opcodes and pushes. Throws DecodeError on a truncated push. */
export function parseScript(s: Uint8Array): ParsedChunk[] {
  const out: ParsedChunk[] = [];
  let i = 0;
  while (i < s.length) {
    const op = s[i++]!;
    let len = -1;
    if (op > 0 && op < OP.OP_PUSHDATA1) len = op;
    else if (op === OP.OP_PUSHDATA1) len = s[i++] ?? -2;
    else if (op === OP.OP_PUSHDATA2) {
      len = i + 2 <= s.length ? s[i]! | (s[i + 1]! << 8) : -2;
      i += 2;
    } else if (op === OP.OP_PUSHDATA4) {
      len = i + 4 <= s.length ? (s[i]! | (s[i + 1]! << 8) | (s[i + 2]! << 16)) + s[i + 3]! * 0x1000000 : -2;
      i += 4;
    }
    if (len === -2 || len > s.length - i) throw new DecodeError('SCRIPT_TRUNCATED', 'truncated script push');
    if (len >= 0) {
      out.push({ op, data: s.subarray(i, i + len) });
      i += len;
    } else out.push({ op });
  }
  return out;
}

/** P2WPKH output script for a 33-byte compressed key. */
export function p2wpkh(pubkey: Uint8Array): Uint8Array {
  return script(OP.OP_0, hash160(pubkey));
}

/** P2WSH output script for a witness script. */
export function p2wsh(witnessScript: Uint8Array): Uint8Array {
  return script(OP.OP_0, sha256(witnessScript));
}

/** P2PKH output script for a public key. */
export function p2pkh(pubkey: Uint8Array): Uint8Array {
  return p2pkhFromHash(hash160(pubkey));
}

export function p2pkhFromHash(h: Uint8Array): Uint8Array {
  return script(OP.OP_DUP, OP.OP_HASH160, h, OP.OP_EQUALVERIFY, OP.OP_CHECKSIG);
}

/** P2SH output script for a redeem script hash. */
export function p2shFromHash(h: Uint8Array): Uint8Array {
  return script(OP.OP_HASH160, h, OP.OP_EQUAL);
}

/** The BIP143 scriptCode for a P2WPKH input. */
export function p2wpkhScriptCode(pubkey: Uint8Array): Uint8Array {
  return p2pkh(pubkey);
}

/** Classifies an output script (standardness). */
export type ScriptType =
  | 'p2pkh'
  | 'p2sh'
  | 'p2wpkh'
  | 'p2wsh'
  | 'p2tr'
  | 'witness_unknown'
  | 'op_return'
  | 'nonstandard';

export function classifyScript(s: Uint8Array): ScriptType {
  if (s.length === 25 && s[0] === 0x76 && s[1] === 0xa9 && s[2] === 20 && s[23] === 0x88 && s[24] === 0xac)
    return 'p2pkh';
  if (s.length === 23 && s[0] === 0xa9 && s[1] === 20 && s[22] === 0x87) return 'p2sh';
  if (s.length === 22 && s[0] === 0 && s[1] === 20) return 'p2wpkh';
  if (s.length === 34 && s[0] === 0 && s[1] === 32) return 'p2wsh';
  if (s.length === 34 && s[0] === 0x51 && s[1] === 32) return 'p2tr';
  if (
    s.length >= 4 &&
    s.length <= 42 &&
    (s[0] === 0 || (s[0]! >= 0x51 && s[0]! <= 0x60)) &&
    s[1] === s.length - 2
  ) {
    return 'witness_unknown';
  }
  if (s.length >= 1 && s[0] === OP.OP_RETURN) return 'op_return';
  return 'nonstandard';
}
