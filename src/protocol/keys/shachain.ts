/**
 * BOLT #3 "Per-commitment Secret Requirements" and "Efficient Per-commitment Secret Storage":
 * `generate_from_seed` (the sender side) and the compact 49-bucket store of received secrets
 * (`insert_secret` with the spec's consistency check, `derive_old_secret`).
 *
 * Indices are 48-bit numbers (safe JS integers). The first secret is index 2^48-1 and indices
 * then decrease by one per commitment: commitment number `n` uses index `2^48 - 1 - n`.
 * Test vectors: BOLT #3 Appendix D.
 */
import { sha256 } from '../crypto/hash.js';
import { equal } from '../encoding/bytes.js';
import { Reader } from '../encoding/reader.js';
import { Writer } from '../encoding/writer.js';
import { asDecodeError, DecodeError, FaradError, InvalidArgumentError } from '../errors.js';

/** The first (highest) per-commitment secret index, 2^48 - 1. */
export const SHACHAIN_MAX_INDEX = 2 ** 48 - 1;

/** Number of buckets in the compact store (one per count of trailing zeros, 0..48). */
export const SHACHAIN_BUCKETS = 49;

/** Raised by {@link ShachainStore.insert} when a received secret is not acceptable. */
export class ShachainError extends FaradError {
  override name = 'ShachainError';
}

function checkIndex(index: number): void {
  if (!Number.isSafeInteger(index) || index < 0 || index > SHACHAIN_MAX_INDEX)
    throw new InvalidArgumentError('per-commitment index must be an integer in [0, 2^48-1]');
}

function checkSecret(s: Uint8Array): void {
  if (s.length !== 32) throw new InvalidArgumentError('per-commitment secret must be 32 bytes');
}

function bitSet(index: number, bit: number): boolean {
  return Math.floor(index / 2 ** bit) % 2 === 1;
}

/**
 * `derive_secret(base, bits, I)`: flips and hashes for every bit `bits-1 .. 0` set in `index`.
 * With `bits = 48` and `base = seed` this is `generate_from_seed`.
 */
export function deriveSecret(base: Uint8Array, bits: number, index: number): Uint8Array {
  checkSecret(base);
  checkIndex(index);
  let p = base;
  for (let b = bits - 1; b >= 0; b--) {
    if (bitSet(index, b)) {
      p = Uint8Array.from(p);
      // BOLT #3: "flip(B)" alternates the (B mod 8) bit of the (B div 8) byte of the value.
      p[b >> 3]! ^= 1 << (b & 7);
      p = sha256(p);
    }
  }
  return p === base ? Uint8Array.from(base) : p;
}

/** BOLT #3 `generate_from_seed(seed, I)`: the I'th per-commitment secret. */
export function generateFromSeed(seed: Uint8Array, index: number): Uint8Array {
  return deriveSecret(seed, 48, index);
}

/**
 * `generate_from_seed` with memory, for the sender side of one seed: keeps the intermediate
 * values of the last derivation (the value after each of the 48 flip-and-hash steps), so the
 * next index only re-hashes from the highest bit where it differs from the previous one.
 * Consecutive commitments (indices decreasing by one) then cost ~2 SHA256 instead of up to 48.
 * Results are byte-identical to {@link generateFromSeed}; every call returns a fresh copy.
 */
export class ShachainGenerator {
  readonly #seed: Uint8Array;
  /** The index of {@link #steps}, or -1 before the first derivation. */
  #index = -1;
  /** `#steps[b]`: the value after processing bits 47..b of `#index`; `#steps[48]` is the seed. */
  readonly #steps: Uint8Array[];

  /** `seed`: the 32-byte per-commitment seed (copied). */
  constructor(seed: Uint8Array) {
    checkSecret(seed);
    this.#seed = Uint8Array.from(seed);
    this.#steps = new Array<Uint8Array>(49).fill(this.#seed);
  }

  /** `generate_from_seed(seed, index)`. */
  secret(index: number): Uint8Array {
    checkIndex(index);
    let b = 47;
    if (this.#index >= 0) {
      const prev = this.#index;
      if (prev === index) return Uint8Array.from(this.#steps[0]!);
      // The highest bit where the two indices differ: the steps above it are shared.
      const hi = (Math.floor(prev / 2 ** 24) ^ Math.floor(index / 2 ** 24)) >>> 0;
      const lo = ((prev % 2 ** 24) ^ (index % 2 ** 24)) >>> 0;
      b = hi !== 0 ? 24 + (31 - Math.clz32(hi)) : 31 - Math.clz32(lo);
    }
    const steps = this.#steps;
    for (; b >= 0; b--) {
      let p = steps[b + 1]!;
      if (bitSet(index, b)) {
        p = Uint8Array.from(p);
        p[b >> 3]! ^= 1 << (b & 7);
        p = sha256(p);
      }
      steps[b] = p;
    }
    this.#index = index;
    return Uint8Array.from(steps[0]!);
  }

  /** The per-commitment secret of commitment number `n` (index `2^48 - 1 - n`). */
  forCommitment(commitmentNumber: number): Uint8Array {
    checkIndex(commitmentNumber);
    return this.secret(SHACHAIN_MAX_INDEX - commitmentNumber);
  }
}

/** The per-commitment secret of commitment number `n` (index `2^48 - 1 - n`). */
export function perCommitmentSecret(seed: Uint8Array, commitmentNumber: number): Uint8Array {
  checkIndex(commitmentNumber);
  return generateFromSeed(seed, SHACHAIN_MAX_INDEX - commitmentNumber);
}

/** BOLT #3 `where_to_put_secret(I)`: number of trailing zero bits (48 for index 0). */
export function whereToPutSecret(index: number): number {
  for (let b = 0; b < 48; b++) if (bitSet(index, b)) return b;
  return 48;
}

/** One filled bucket of the compact store. */
export interface ShachainEntry {
  readonly index: number;
  readonly secret: Uint8Array;
}

/**
 * The smallest index >= `min` with exactly `bucket` trailing zeros, or undefined. In a store
 * filled from 2^48-1 downwards to `min`, that is the index held by the bucket.
 */
function expectedIndex(min: number, bucket: number): number | undefined {
  if (bucket === 48) return min === 0 ? 0 : undefined;
  const step = 2 ** bucket;
  let c = Math.ceil(min / step) * step;
  if (whereToPutSecret(c) !== bucket) c += step;
  return c <= SHACHAIN_MAX_INDEX ? c : undefined;
}

/**
 * The compact store of per-commitment secrets received from the peer (immutable: every
 * {@link insert} returns a new store). Secrets must be inserted in order, starting at index
 * 2^48-1 and decreasing by one; each insert checks the new secret against every stored one.
 * Serialises with {@link encode} / {@link ShachainStore.decode} for persistence.
 */
export class ShachainStore {
  private constructor(
    private readonly buckets: readonly (ShachainEntry | undefined)[],
    /** The index the next {@link insert} must use (-1 once index 0 was received). */
    readonly nextIndex: number,
  ) {}

  /** An empty store (expects index 2^48-1 first). */
  static empty(): ShachainStore {
    return new ShachainStore(new Array(SHACHAIN_BUCKETS).fill(undefined), SHACHAIN_MAX_INDEX);
  }

  /** Number of secrets received so far. */
  get count(): number {
    return SHACHAIN_MAX_INDEX - this.nextIndex;
  }

  /** The filled buckets, by bucket number. */
  entries(): { bucket: number; index: number; secret: Uint8Array }[] {
    const out: { bucket: number; index: number; secret: Uint8Array }[] = [];
    this.buckets.forEach((e, bucket) => {
      if (e) out.push({ bucket, index: e.index, secret: Uint8Array.from(e.secret) });
    });
    return out;
  }

  /**
   * BOLT #3 `insert_secret(secret, I)`. Returns the new store. Throws {@link ShachainError}
   * `SHACHAIN_UNEXPECTED_INDEX` if `index` is not {@link nextIndex}, or
   * `SHACHAIN_INCONSISTENT_SECRET` if a stored secret does not derive from `secret`
   * ("the secrets were not generated from the same seed").
   */
  insert(index: number, secret: Uint8Array): ShachainStore {
    checkIndex(index);
    checkSecret(secret);
    if (index !== this.nextIndex)
      throw new ShachainError('SHACHAIN_UNEXPECTED_INDEX', 'per-commitment secret index out of order', {
        details: `expected ${this.nextIndex}, got ${index}`,
      });
    const bucket = whereToPutSecret(index);
    for (let b = 0; b < bucket; b++) {
      const known = this.buckets[b];
      if (known && !equal(deriveSecret(secret, bucket, known.index), known.secret)) {
        throw new ShachainError('SHACHAIN_INCONSISTENT_SECRET', `the secret for ${index} is incorrect`, {
          details: `does not derive the stored secret ${known.index}`,
        });
      }
    }
    const next = this.buckets.slice();
    next[bucket] = { index, secret: Uint8Array.from(secret) };
    return new ShachainStore(next, index - 1);
  }

  /**
   * BOLT #3 `derive_old_secret(I)`: the secret for a received index, or undefined if `index`
   * has not been received yet.
   */
  secretAt(index: number): Uint8Array | undefined {
    checkIndex(index);
    for (let b = 0; b < SHACHAIN_BUCKETS; b++) {
      const known = this.buckets[b];
      if (!known) continue;
      // Mask off the non-zero prefix of the index.
      const prefix = b === 48 ? 0 : index - (index % 2 ** b);
      if (prefix === known.index) return deriveSecret(known.secret, b, index);
    }
    return undefined;
  }

  /** The secret the peer revealed for commitment number `n`, if received. */
  secretForCommitment(commitmentNumber: number): Uint8Array | undefined {
    checkIndex(commitmentNumber);
    return this.secretAt(SHACHAIN_MAX_INDEX - commitmentNumber);
  }

  /**
   * Serialises the store: `u8 version (1) || u8 count || count * (u8 bucket || u48 index ||
   * 32-byte secret)`, buckets ascending (all big-endian).
   */
  encode(): Uint8Array {
    const filled = this.entries();
    const w = new Writer(2 + filled.length * 39);
    w.u8(1).u8(filled.length);
    for (const e of filled) {
      w.u8(e.bucket)
        .u16(Math.floor(e.index / 2 ** 32))
        .u32(e.index % 2 ** 32)
        .bytes(e.secret);
    }
    return w.finish();
  }

  /**
   * Parses {@link encode}'s output. Checks the structure exactly (every bucket holds the index
   * implied by the lowest stored index); throws only DecodeError `SHACHAIN_INVALID`.
   */
  static decode(bytes: Uint8Array): ShachainStore {
    return asDecodeError('SHACHAIN_INVALID', 'invalid per-commitment secret store', () => {
      const fail = (m: string) => new DecodeError('SHACHAIN_INVALID', m);
      const r = new Reader(bytes);
      if (r.u8() !== 1) throw fail('unknown shachain store version');
      const n = r.u8();
      if (n > SHACHAIN_BUCKETS) throw fail('too many shachain entries');
      const buckets: (ShachainEntry | undefined)[] = new Array(SHACHAIN_BUCKETS).fill(undefined);
      let min = SHACHAIN_MAX_INDEX + 1;
      let prev = -1;
      for (let k = 0; k < n; k++) {
        const bucket = r.u8();
        const index = r.u16() * 2 ** 32 + r.u32();
        const secret = r.bytes(32).slice();
        if (bucket <= prev || bucket >= SHACHAIN_BUCKETS) throw fail('shachain buckets not ascending');
        if (index > SHACHAIN_MAX_INDEX || whereToPutSecret(index) !== bucket)
          throw fail('shachain index does not match its bucket');
        prev = bucket;
        buckets[bucket] = { index, secret };
        min = Math.min(min, index);
      }
      if (!r.done) throw fail('trailing bytes after shachain store');
      if (n === 0) return ShachainStore.empty();
      for (let b = 0; b < SHACHAIN_BUCKETS; b++) {
        if (buckets[b]?.index !== expectedIndex(min, b)) throw fail('shachain buckets are inconsistent');
      }
      return new ShachainStore(buckets, min - 1);
    });
  }
}
