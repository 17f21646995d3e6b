/**
 * Hash primitives used across the protocol layer (pure, browser-safe).
 *
 * SHA-256 (FIPS 180-4) is a one-shot implementation tuned for the many small inputs of the
 * channel hot path (txids, sighashes, key tweaks, shachain steps, P2WSH scripts): no object or
 * view per call, scratch buffers reused and wiped after each call. It is checked byte for byte
 * against @noble/hashes in the tests, and so is HMAC-SHA256 built on it; RIPEMD-160 uses
 * @noble/hashes.
 */
import { ripemd160 } from '@noble/hashes/legacy.js';

// FIPS 180-4 section 4.2.2: the first 32 bits of the fractional parts of the cube roots of the
// first 64 primes.
const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);
// FIPS 180-4 section 5.3.3: the initial hash value.
const IV = new Int32Array([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);
/** Scratch: message schedule, chaining state, and the padded final block(s). Wiped after use. */
const W = new Int32Array(64);
const S = new Int32Array(8);
const PAD = new Uint8Array(128);

/** One compression of the 64-byte block at `buf[off..]` into {@link S}. */
function compress(buf: Uint8Array, off: number): void {
  for (let i = 0; i < 16; i++, off += 4)
    W[i] = (buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!;
  for (let i = 16; i < 64; i++) {
    const w15 = W[i - 15]!;
    const w2 = W[i - 2]!;
    const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
    const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
    W[i] = (W[i - 16]! + s0 + W[i - 7]! + s1) | 0;
  }
  let a = S[0]!;
  let b = S[1]!;
  let c = S[2]!;
  let d = S[3]!;
  let e = S[4]!;
  let f = S[5]!;
  let g = S[6]!;
  let h = S[7]!;
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[i]! + W[i]!) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  S[0] = (S[0]! + a) | 0;
  S[1] = (S[1]! + b) | 0;
  S[2] = (S[2]! + c) | 0;
  S[3] = (S[3]! + d) | 0;
  S[4] = (S[4]! + e) | 0;
  S[5] = (S[5]! + f) | 0;
  S[6] = (S[6]! + g) | 0;
  S[7] = (S[7]! + h) | 0;
}

/** SHA-256 of `data` (32 bytes). */
export function sha256(data: Uint8Array): Uint8Array {
  const len = data.length;
  S.set(IV);
  const full = len - (len % 64);
  for (let off = 0; off < full; off += 64) compress(data, off);
  // Final block(s): the tail, 0x80, zeros, then the bit length as a 64-bit big-endian number.
  const rest = len - full;
  PAD.set(data.subarray(full), 0);
  PAD[rest] = 0x80;
  const blocks = rest < 56 ? 1 : 2;
  const end = blocks * 64;
  const hi = Math.floor(len / 0x20000000);
  const lo = (len << 3) >>> 0;
  PAD[end - 8] = hi >>> 24;
  PAD[end - 7] = hi >>> 16;
  PAD[end - 6] = hi >>> 8;
  PAD[end - 5] = hi;
  PAD[end - 4] = lo >>> 24;
  PAD[end - 3] = lo >>> 16;
  PAD[end - 2] = lo >>> 8;
  PAD[end - 1] = lo;
  compress(PAD, 0);
  if (blocks === 2) compress(PAD, 64);
  const out = new Uint8Array(32);
  for (let i = 0, o = 0; i < 8; i++, o += 4) {
    const v = S[i]!;
    out[o] = v >>> 24;
    out[o + 1] = v >>> 16;
    out[o + 2] = v >>> 8;
    out[o + 3] = v;
  }
  // Secrets are hashed here too (shachain, key tweaks): leave nothing behind.
  PAD.fill(0);
  W.fill(0);
  S.fill(0);
  return out;
}

/** SHA256(SHA256(x)) — Bitcoin txids and block hashes. */
export function sha256d(data: Uint8Array): Uint8Array {
  return sha256(sha256(data));
}

/** RIPEMD160(SHA256(x)). */
export function hash160(data: Uint8Array): Uint8Array {
  return ripemd160(sha256(data));
}

export function ripemd(data: Uint8Array): Uint8Array {
  return ripemd160(data);
}

/**
 * HMAC-SHA256 (RFC 2104) over the SHA-256 above: `H((K ^ opad) || H((K ^ ipad) || data))`, the
 * key hashed first when longer than the 64-byte block. Two buffers per call, wiped after use
 * (keys are secrets: onion shared secrets, seeds).
 */
export function hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
  const k = key.length > 64 ? sha256(key) : key;
  const inner = new Uint8Array(64 + data.length);
  for (let i = 0; i < 64; i++) inner[i] = (k[i] ?? 0) ^ 0x36;
  inner.set(data, 64);
  const ih = sha256(inner);
  const outer = new Uint8Array(96);
  for (let i = 0; i < 64; i++) outer[i] = (k[i] ?? 0) ^ 0x5c;
  outer.set(ih, 64);
  const out = sha256(outer);
  inner.fill(0, 0, 64);
  outer.fill(0);
  ih.fill(0);
  if (k !== key) k.fill(0);
  return out;
}
