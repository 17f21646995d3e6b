/** ECDSA signature encodings for Bitcoin scripts: compact (64 bytes) <-> strict DER (BIP66). */
import { DecodeError } from '../errors.js';

function derInt(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0 && b[i + 1]! < 0x80) i++;
  const v = b.subarray(i);
  return v[0]! >= 0x80 ? Uint8Array.of(0, ...v) : v;
}

/** Strict DER encoding of a 64-byte compact signature (no sighash byte). */
export function compactToDer(sig: Uint8Array): Uint8Array {
  const r = derInt(sig.subarray(0, 32));
  const s = derInt(sig.subarray(32, 64));
  return Uint8Array.of(0x30, 4 + r.length + s.length, 0x02, r.length, ...r, 0x02, s.length, ...s);
}

/** DER signature plus a sighash type byte, as pushed in a witness. */
export function derWithHashType(sig: Uint8Array, hashType: number): Uint8Array {
  return Uint8Array.of(...compactToDer(sig), hashType);
}

/** Parses a strict DER signature (without sighash byte) into 64-byte compact form. */
export function derToCompact(der: Uint8Array): Uint8Array {
  const fail = (m: string) => new DecodeError('SIG_DER_INVALID', m);
  if (der.length < 8 || der.length > 72 || der[0] !== 0x30 || der[1] !== der.length - 2)
    throw fail('bad DER header');
  const rLen = der[3]!;
  if (der[2] !== 0x02 || 5 + rLen >= der.length) throw fail('bad DER r');
  const sLen = der[5 + rLen]!;
  if (der[4 + rLen] !== 0x02 || 6 + rLen + sLen !== der.length) throw fail('bad DER s');
  const out = new Uint8Array(64);
  const put = (v: Uint8Array, off: number) => {
    let x = v;
    while (x.length > 1 && x[0] === 0) x = x.subarray(1);
    if (x.length > 32) throw fail('DER integer too long');
    out.set(x, off + 32 - x.length);
  };
  put(der.subarray(4, 4 + rLen), 0);
  put(der.subarray(6 + rLen, 6 + rLen + sLen), 32);
  return out;
}
