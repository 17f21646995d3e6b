/**
 * Liquidity learning for pathfinding (design after LDK's ProbabilisticScorer; our own code):
 * for each channel we keep bounds on how much can flow in direction 0 (node1 → node2); the
 * other direction's bounds mirror them (`capacity - x`). With no knowledge the liquidity is
 * uniform in [0, capacity]. A failure of `a` msat at a channel caps its liquidity below `a`;
 * an HTLC of `a` that made it through raises the lower bound to `a`. Learned bounds decay back
 * towards [0, capacity] with a half-life. Time (seconds) is always an argument.
 *
 * The success probability of sending `a` given bounds [lo, hi] is 1 for a <= lo, 0 for a > hi,
 * else (hi - a) / (hi - lo); the penalty is `-log10(p)` times a per-hop and a per-amount
 * multiplier (msat).
 */
import { Reader } from '../../protocol/encoding/reader.js';
import { Writer } from '../../protocol/encoding/writer.js';
import { asDecodeError, DecodeError } from '../../protocol/errors.js';

/**
 * What the router asks a scorer. Amounts are numbers (msat) on this hot path; precision loss
 * above 2^53 msat (90,000 BTC) does not matter for an estimate.
 */
export interface Scorer {
  /**
   * Extra cost (msat) of sending `amountMsat` over `scid` in `direction` (0: node1 → node2);
   * `Infinity` to avoid the channel. `capacityMsat` is `Infinity` when unknown (route hints).
   */
  penaltyMsat(scid: bigint, direction: 0 | 1, amountMsat: number, capacityMsat: number, now: number): number;
}

/** A scorer that adds nothing (pure fee/CLTV routing). */
export const zeroScorer: Scorer = { penaltyMsat: () => 0 };

/** Parameters of {@link ProbabilisticScorer}. */
export interface ScorerParams {
  /** Penalty per unit of -log10(success probability), msat (default 30,000). */
  liquidityPenaltyMultiplierMsat?: number;
  /** Additional penalty per unit of -log10(p) per 2^20 msat sent (default 192). */
  liquidityPenaltyAmountMultiplierMsat?: number;
  /** Half-life of learned bounds, seconds (default 6 hours). */
  halfLifeSeconds?: number;
  /** Cap on -log10(p) for non-zero p (default 4, i.e. p floored at 0.0001). */
  maxLog10Penalty?: number;
}

interface Bounds {
  /** Lower bound of direction-0 liquidity, msat. */
  min0: number;
  /** Upper bound of direction-0 liquidity, msat (Infinity = capacity). */
  max0: number;
  /** When the bounds were last set (seconds). */
  at: number;
}

/** One hop as the scorer sees it (a subset of the router's RouteHop). */
export interface ScoredHop {
  shortChannelId: bigint;
  /** Undefined for channels not in the graph (route hints): not scored. */
  direction: 0 | 1 | undefined;
  /** The HTLC amount over this channel, msat. */
  amountMsat: bigint;
  /** Channel capacity in msat, or undefined when unknown. */
  capacityMsat: bigint | undefined;
}

/** The liquidity-learning scorer. */
export class ProbabilisticScorer implements Scorer {
  private readonly bounds = new Map<bigint, Bounds>();
  private readonly mult: number;
  private readonly amountMult: number;
  private readonly halfLife: number;
  private readonly maxLog: number;

  constructor(params: ScorerParams = {}) {
    this.mult = params.liquidityPenaltyMultiplierMsat ?? 30_000;
    this.amountMult = params.liquidityPenaltyAmountMultiplierMsat ?? 192;
    this.halfLife = params.halfLifeSeconds ?? 6 * 3600;
    this.maxLog = params.maxLog10Penalty ?? 4;
  }

  /** Number of channels with learned bounds. */
  get size(): number {
    return this.bounds.size;
  }

  /** Current (decayed) liquidity bounds of `direction`, msat: [lo, hi] (capacity must be finite). */
  liquidityBounds(scid: bigint, direction: 0 | 1, capacityMsat: number, now: number): [number, number] {
    const b = this.bounds.get(scid);
    let lo0 = 0;
    let hi0 = capacityMsat;
    if (b) {
      const k = this.decay(b, now);
      lo0 = Math.min(b.min0, capacityMsat) * k;
      hi0 = capacityMsat - (capacityMsat - Math.min(b.max0, capacityMsat)) * k;
    }
    return direction === 0 ? [lo0, hi0] : [capacityMsat - hi0, capacityMsat - lo0];
  }

  private decay(b: Bounds, now: number): number {
    const dt = now - b.at;
    if (dt <= 0) return 1;
    return 2 ** (-dt / this.halfLife);
  }

  /** Success probability of sending `amountMsat` over the channel in `direction`. */
  successProbability(
    scid: bigint,
    direction: 0 | 1,
    amountMsat: number,
    capacityMsat: number,
    now: number,
  ): number {
    const [lo, hi] = this.liquidityBounds(scid, direction, capacityMsat, now);
    if (amountMsat <= lo) return 1;
    if (amountMsat > hi) return 0;
    return (hi - amountMsat) / (hi - lo);
  }

  penaltyMsat(scid: bigint, direction: 0 | 1, amountMsat: number, capacityMsat: number, now: number): number {
    // Unknown capacity (route hints): nothing to estimate; the retry policy excludes failures.
    if (!Number.isFinite(capacityMsat)) return 0;
    if (amountMsat > capacityMsat) return Infinity;
    let p: number;
    if (this.bounds.size === 0 || !this.bounds.has(scid)) {
      // No knowledge: uniform on [0, capacity].
      p = (capacityMsat - amountMsat) / capacityMsat;
    } else {
      p = this.successProbability(scid, direction, amountMsat, capacityMsat, now);
    }
    if (p <= 0) return Infinity;
    if (p >= 1) return 0;
    const log = Math.min(-Math.log10(p), this.maxLog);
    return log * (this.mult + (this.amountMult * amountMsat) / 1_048_576);
  }

  private set(
    scid: bigint,
    capacityMsat: number,
    now: number,
    f: (lo0: number, hi0: number) => [number, number],
  ) {
    const [lo, hi] = this.liquidityBounds(scid, 0, capacityMsat, now);
    let [nlo, nhi] = f(lo, hi);
    // Newer information wins when it contradicts older (decayed) bounds.
    if (nlo > nhi) {
      if (nhi !== hi) nlo = Math.min(nlo, nhi);
      else nhi = nlo;
    }
    this.bounds.set(scid, { min0: Math.max(0, nlo), max0: nhi, at: now });
  }

  /** An HTLC of `amountMsat` could not pass `direction`: its liquidity is below the amount. */
  channelFailed(scid: bigint, direction: 0 | 1, amountMsat: number, capacityMsat: number, now: number): void {
    const cap = capacityMsat;
    this.set(scid, cap, now, (lo, hi) =>
      direction === 0 ? [lo, Math.min(hi, amountMsat - 1)] : [Math.max(lo, cap - amountMsat + 1), hi],
    );
  }

  /** An HTLC of `amountMsat` passed `direction`: its liquidity was at least the amount. */
  channelPassed(scid: bigint, direction: 0 | 1, amountMsat: number, capacityMsat: number, now: number): void {
    const cap = capacityMsat;
    this.set(scid, cap, now, (lo, hi) =>
      direction === 0 ? [Math.max(lo, amountMsat), hi] : [lo, Math.min(hi, cap - amountMsat)],
    );
  }

  /**
   * A payment along `path` failed at hop `failedHop` for lack of liquidity (e.g.
   * `temporary_channel_failure` from that hop's sending node): earlier hops passed the
   * amount, the failed hop could not. `failedHop = path.length` means only passes (the
   * failure was at the destination).
   */
  pathFailed(path: readonly ScoredHop[], failedHop: number, now: number): void {
    path.forEach((h, i) => {
      if (h.direction === undefined || h.capacityMsat === undefined || i > failedHop) return;
      const amt = Number(h.amountMsat);
      const cap = Number(h.capacityMsat);
      if (i < failedHop) this.channelPassed(h.shortChannelId, h.direction, amt, cap, now);
      else this.channelFailed(h.shortChannelId, h.direction, amt, cap, now);
    });
  }

  /** Every hop of `path` carried its amount (payment or probe succeeded). */
  pathSucceeded(path: readonly ScoredHop[], now: number): void {
    this.pathFailed(path, path.length, now);
  }

  /** Forgets everything learned about `scid`. */
  forget(scid: bigint): void {
    this.bounds.delete(scid);
  }

  /**
   * Serializes the learned bounds: `u8 version=1 | u32 n | n × (u64 scid | u64 min0 | u64 max0
   * (2^64-1 = unbounded) | u32 at)`; amounts rounded to whole msat.
   */
  serialize(): Uint8Array {
    const w = new Writer(8 + this.bounds.size * 28);
    w.u8(1).u32(this.bounds.size);
    const MAXU = 0xffffffffffffffffn;
    for (const [scid, b] of this.bounds) {
      const max = Number.isFinite(b.max0) ? BigInt(Math.max(0, Math.round(b.max0))) : MAXU;
      w.u64(scid)
        .u64(BigInt(Math.round(b.min0)))
        .u64(max > MAXU ? MAXU : max)
        .u32(Math.max(0, Math.floor(b.at)) >>> 0);
    }
    return w.finish();
  }

  /** Restores a scorer written by {@link serialize}; throws only {@link DecodeError}. */
  static deserialize(bytes: Uint8Array, params: ScorerParams = {}): ProbabilisticScorer {
    return asDecodeError('SCORER_CORRUPT', 'serialized scorer is invalid', () => {
      const r = new Reader(bytes);
      if (r.u8() !== 1) throw new DecodeError('SCORER_VERSION', 'unknown scorer format version');
      const s = new ProbabilisticScorer(params);
      const n = r.u32();
      for (let i = 0; i < n; i++) {
        const scid = r.u64();
        const min0 = Number(r.u64());
        const maxRaw = r.u64();
        const at = r.u32();
        s.bounds.set(scid, { min0, max0: maxRaw === 0xffffffffffffffffn ? Infinity : Number(maxRaw), at });
      }
      if (!r.done) throw new DecodeError('SCORER_CORRUPT', 'trailing bytes');
      return s;
    });
  }
}
