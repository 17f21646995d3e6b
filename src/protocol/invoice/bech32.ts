/**
 * BIP-173 bech32 as BOLT #11 § "Encoding Overview" uses it: no 90-character limit, uppercase or
 * lowercase (never mixed), checksum constant 1 (bech32, not bech32m). Also the 5-bit/8-bit
 * regrouping helpers the invoice fields need.
 *
 * Decoding errors are {@link DecodeError}s with codes `BOLT11_NO_SEPARATOR`, `BOLT11_MIXED_CASE`,
 * `BOLT11_INVALID_CHARACTER`, `BOLT11_BAD_CHECKSUM`.
 */
import { DecodeError, InvalidArgumentError } from '../errors.js';

const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const CHARSET_REV = new Int8Array(128).fill(-1);
for (let i = 0; i < CHARSET.length; i++) {
  CHARSET_REV[CHARSET.charCodeAt(i)] = i;
  CHARSET_REV[CHARSET.toUpperCase().charCodeAt(i)] = i;
}
const GEN = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];

function polymodStep(pre: number): number {
  const b = pre >> 25;
  return (
    ((pre & 0x1ffffff) << 5) ^
    (-((b >> 0) & 1) & GEN[0]!) ^
    (-((b >> 1) & 1) & GEN[1]!) ^
    (-((b >> 2) & 1) & GEN[2]!) ^
    (-((b >> 3) & 1) & GEN[3]!) ^
    (-((b >> 4) & 1) & GEN[4]!)
  );
}

/** Checksum state after the expanded (lowercase) human-readable part. */
function hrpPolymod(hrp: string): number {
  let chk = 1;
  for (let i = 0; i < hrp.length; i++) chk = polymodStep(chk) ^ (hrp.charCodeAt(i) >> 5);
  chk = polymodStep(chk);
  for (let i = 0; i < hrp.length; i++) chk = polymodStep(chk) ^ (hrp.charCodeAt(i) & 0x1f);
  return chk;
}

/** A decoded bech32 string: lowercase human-readable part and the 5-bit data words (without checksum). */
export interface Bech32Decoded {
  hrp: string;
  words: Uint8Array;
}

/**
 * Decodes a bech32 string of any length (BOLT 11: "MUST parse the address as Bech32 ... also
 * without the character limit"). Returns the lowercase hrp and the data words without the
 * 6-word checksum.
 */
export function bech32DecodeUnlimited(str: string): Bech32Decoded {
  let lower = false;
  let upper = false;
  for (let i = 0; i < str.length; i++) {
    const c = str.charCodeAt(i);
    if (c < 33 || c > 126)
      throw new DecodeError('BOLT11_INVALID_CHARACTER', 'bech32: character out of range', {
        details: `position ${i}`,
      });
    if (c >= 97 && c <= 122) lower = true;
    else if (c >= 65 && c <= 90) upper = true;
  }
  // BIP-173: "Decoders MUST NOT accept strings where some characters are uppercase and some are lowercase"
  if (lower && upper) throw new DecodeError('BOLT11_MIXED_CASE', 'bech32: mixed-case string');
  const sep = str.lastIndexOf('1');
  if (sep < 1)
    throw new DecodeError('BOLT11_NO_SEPARATOR', 'bech32: no separator "1" after a non-empty prefix');
  if (str.length - sep - 1 < 6)
    throw new DecodeError('BOLT11_BAD_CHECKSUM', 'bech32: data part shorter than the checksum');
  const hrp = str.slice(0, sep).toLowerCase();
  const n = str.length - sep - 1;
  const words = new Uint8Array(n);
  let chk = hrpPolymod(hrp);
  for (let i = 0; i < n; i++) {
    const c = str.charCodeAt(sep + 1 + i);
    const v = c < 128 ? CHARSET_REV[c]! : -1;
    if (v < 0)
      throw new DecodeError('BOLT11_INVALID_CHARACTER', 'bech32: character not in the bech32 alphabet', {
        details: `position ${sep + 1 + i}`,
      });
    words[i] = v;
    chk = polymodStep(chk) ^ v;
  }
  if (chk !== 1) throw new DecodeError('BOLT11_BAD_CHECKSUM', 'bech32: checksum mismatch');
  return { hrp, words: words.subarray(0, n - 6) };
}

/** Encodes `hrp` (lowercase) and 5-bit `words` as lowercase bech32 with no length limit. */
export function bech32EncodeUnlimited(hrp: string, words: Uint8Array): string {
  if (hrp.length === 0 || hrp !== hrp.toLowerCase())
    throw new InvalidArgumentError('bech32: hrp must be lowercase');
  let chk = hrpPolymod(hrp);
  let out = `${hrp}1`;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w > 31) throw new InvalidArgumentError('bech32: word out of range');
    chk = polymodStep(chk) ^ w;
    out += CHARSET[w];
  }
  for (let i = 0; i < 6; i++) chk = polymodStep(chk);
  chk ^= 1;
  for (let i = 0; i < 6; i++) out += CHARSET[(chk >> (5 * (5 - i))) & 31];
  return out;
}

/** The bech32 character for a 5-bit value. */
export function bech32Char(word: number): string {
  return CHARSET[word & 31]!;
}

/**
 * Regroups 5-bit words `[start, end)` into bytes, dropping the trailing bits that do not fill a
 * byte (BOLT 11 pads field data with zero bits up to a multiple of 5).
 */
export function wordsToBytes(words: Uint8Array, start = 0, end = words.length): Uint8Array {
  const out = new Uint8Array(((end - start) * 5) >> 3);
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = start; i < end; i++) {
    acc = ((acc << 5) | words[i]!) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

/** Regroups bytes into 5-bit words, zero-padding the last word (BOLT 11: "MUST pad field data to a multiple of 5 bits, using 0s"). */
export function bytesToWords(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil((bytes.length * 8) / 5));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < bytes.length; i++) {
    acc = ((acc << 8) | bytes[i]!) & 0xfff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out[o++] = (acc >> bits) & 31;
    }
  }
  if (bits > 0) out[o++] = (acc << (5 - bits)) & 31;
  return out;
}

/** Big-endian unsigned value of words `[start, end)` (at most 10 words = 50 bits, so it is exact). */
export function wordsToNumber(words: Uint8Array, start: number, end: number): number {
  if (end - start > 10) throw new InvalidArgumentError('wordsToNumber: more than 50 bits');
  let v = 0;
  for (let i = start; i < end; i++) v = v * 32 + words[i]!;
  return v;
}

/** Minimal big-endian 5-bit words of a non-negative safe integer (0 → no words). */
export function numberToWords(v: number): Uint8Array {
  if (!Number.isSafeInteger(v) || v < 0) throw new InvalidArgumentError(`cannot encode ${v} as 5-bit words`);
  const tmp: number[] = [];
  while (v > 0) {
    tmp.push(v % 32);
    v = Math.floor(v / 32);
  }
  return Uint8Array.from(tmp.reverse());
}
