/**
 * The crypto port: every secp256k1 operation Farad needs, behind one small interface.
 *
 * `protocol` and `core` call {@link secp} (pure-JS noble by default, browser-safe). The Node
 * runtime may install a native backend with {@link setSecp256k1Backend} at start-up; a backend
 * MUST produce byte-identical results (the vector tests run against whichever is installed).
 *
 * Conventions: private keys are 32 bytes, public keys 33 bytes compressed, messages are
 * 32-byte digests (never hashed again here), signatures are 64-byte compact `r || s`, low-S.
 */
import { secp256k1 as noble, schnorr as nobleSchnorr } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { InvalidArgumentError } from '../errors.js';

export interface RecoverableSignature {
  /** 64-byte compact signature. */
  signature: Uint8Array;
  /** Recovery id 0..3. */
  recovery: number;
}

/** The secp256k1 backend interface (the crypto port). */
export interface Secp256k1Backend {
  readonly name: string;
  /** 33-byte compressed public key of `priv`. */
  publicKey(priv: Uint8Array): Uint8Array;
  /** ECDSA over a 32-byte digest, RFC 6979 deterministic nonce, low-S, compact 64 bytes. */
  sign(digest: Uint8Array, priv: Uint8Array): Uint8Array;
  /** ECDSA with recovery id (BOLT 11). */
  signRecoverable(digest: Uint8Array, priv: Uint8Array): RecoverableSignature;
  /** Verifies a compact signature. High-S signatures are rejected unless `allowHighS`. */
  verify(sig: Uint8Array, digest: Uint8Array, pub: Uint8Array, allowHighS?: boolean): boolean;
  /** Recovers the compressed public key; throws InvalidArgumentError on failure. */
  recover(sig: Uint8Array, recovery: number, digest: Uint8Array): Uint8Array;
  /** BOLT 8 / BOLT 4 ECDH: sha256 of the compressed shared point `priv * pub`. */
  ecdh(priv: Uint8Array, pub: Uint8Array): Uint8Array;
  /** `pub * scalar` (compressed). */
  pointMul(pub: Uint8Array, scalar: Uint8Array): Uint8Array;
  /** `a + b` (compressed). */
  pointAdd(a: Uint8Array, b: Uint8Array): Uint8Array;
  /**
   * `pub + tweak * G` (compressed), `tweak` a 32-byte scalar below the group order (public
   * data: not constant-time). One operation for what `pointAdd(pub, publicKey(tweak))` does in
   * two (BOLT 3 key derivation). Throws InvalidArgumentError for an invalid point or tweak, or
   * a result at infinity.
   */
  pointAddTweak(pub: Uint8Array, tweak: Uint8Array): Uint8Array;
  /** `(a + b) mod n` as 32 bytes. */
  privAdd(a: Uint8Array, b: Uint8Array): Uint8Array;
  /** `(a * b) mod n` as 32 bytes. */
  privMul(a: Uint8Array, b: Uint8Array): Uint8Array;
  /** True if `pub` is a valid compressed or uncompressed point. */
  isPoint(pub: Uint8Array): boolean;
  /** True if `priv` is in [1, n-1]. */
  isPrivateKey(priv: Uint8Array): boolean;
  /** BIP340 Schnorr sign (BOLT 12). `aux` defaults to 32 zero bytes for determinism. */
  schnorrSign(msg: Uint8Array, priv: Uint8Array, aux?: Uint8Array): Uint8Array;
  /** BIP340 Schnorr verify against a 32-byte x-only key. */
  schnorrVerify(sig: Uint8Array, msg: Uint8Array, xonly: Uint8Array): boolean;
}

const { Point } = noble;
const N = Point.Fn.ORDER;

function scalar(b: Uint8Array, what: string): bigint {
  if (b.length !== 32) throw new InvalidArgumentError(`${what} must be 32 bytes`);
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
}

function toScalarBytes(v: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 31; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

function point(pub: Uint8Array) {
  try {
    return Point.fromBytes(pub);
  } catch (e) {
    throw new InvalidArgumentError('invalid public key', { cause: e });
  }
}

function digest32(d: Uint8Array): Uint8Array {
  if (d.length !== 32) throw new InvalidArgumentError('digest must be 32 bytes');
  return d;
}

/** The pure-JS noble backend (default everywhere). */
export const nobleBackend: Secp256k1Backend = {
  name: 'noble',
  publicKey: (priv) => noble.getPublicKey(priv, true),
  sign: (digest, priv) => noble.sign(digest32(digest), priv, { prehash: false, lowS: true }),
  signRecoverable(digest, priv) {
    const r = noble.sign(digest32(digest), priv, { prehash: false, lowS: true, format: 'recovered' });
    return { signature: r.subarray(1), recovery: r[0]! };
  },
  verify(sig, digest, pub, allowHighS = false) {
    if (sig.length !== 64 || digest.length !== 32) return false;
    try {
      return noble.verify(sig, digest, pub, { prehash: false, lowS: !allowHighS });
    } catch {
      return false;
    }
  },
  recover(sig, recovery, digest) {
    if (sig.length !== 64 || recovery < 0 || recovery > 3)
      throw new InvalidArgumentError('bad recoverable signature');
    try {
      const full = new Uint8Array(65);
      full[0] = recovery;
      full.set(sig, 1);
      return noble.recoverPublicKey(full, digest32(digest), { prehash: false });
    } catch (e) {
      throw new InvalidArgumentError('public key recovery failed', { cause: e });
    }
  },
  ecdh(priv, pub) {
    const shared = point(pub).multiply(scalarNonZero(priv, 'private key')).toBytes(true);
    return sha256(shared);
  },
  pointMul: (pub, s) => point(pub).multiply(scalarNonZero(s, 'scalar')).toBytes(true),
  pointAdd(a, b) {
    const p = point(a).add(point(b));
    if (p.equals(Point.ZERO)) throw new InvalidArgumentError('point addition gave infinity');
    return p.toBytes(true);
  },
  pointAddTweak(pub, tweak) {
    const t = scalar(tweak, 'tweak');
    if (t >= N) throw new InvalidArgumentError('tweak is not below the group order');
    const a = point(pub);
    const p = t === 0n ? a : a.add(Point.BASE.multiplyUnsafe(t));
    if (p.equals(Point.ZERO)) throw new InvalidArgumentError('point addition gave infinity');
    return p.toBytes(true);
  },
  privAdd(a, b) {
    const v = (scalar(a, 'a') + scalar(b, 'b')) % N;
    if (v === 0n) throw new InvalidArgumentError('private key addition gave zero');
    return toScalarBytes(v);
  },
  privMul(a, b) {
    const v = (scalar(a, 'a') * scalar(b, 'b')) % N;
    if (v === 0n) throw new InvalidArgumentError('private key multiplication gave zero');
    return toScalarBytes(v);
  },
  isPoint(pub) {
    try {
      Point.fromBytes(pub);
      return true;
    } catch {
      return false;
    }
  },
  isPrivateKey(priv) {
    if (priv.length !== 32) return false;
    const v = scalar(priv, 'priv');
    return v > 0n && v < N;
  },
  schnorrSign: (msg, priv, aux = new Uint8Array(32)) => nobleSchnorr.sign(msg, priv, aux),
  schnorrVerify(sig, msg, xonly) {
    try {
      return nobleSchnorr.verify(sig, msg, xonly);
    } catch {
      return false;
    }
  },
};

function scalarNonZero(b: Uint8Array, what: string): bigint {
  const v = scalar(b, what);
  if (v === 0n || v >= N) throw new InvalidArgumentError(`${what} out of range`);
  return v;
}

let backend: Secp256k1Backend = nobleBackend;

/**
 * The active backend. Read it at call time (`secp().sign(...)`), never cache it across a
 * {@link setSecp256k1Backend} call.
 */
export function secp(): Secp256k1Backend {
  return backend;
}

/** Installs a backend (e.g. native libsecp256k1 in the Node runtime). Returns the previous one. */
export function setSecp256k1Backend(next: Secp256k1Backend): Secp256k1Backend {
  const prev = backend;
  backend = next;
  return prev;
}

/** The curve order n. */
export const CURVE_ORDER = N;
