/**
 * Commitment specs (BOLT #2 "Normal Operation"): applying pending updates to a commitment's
 * content (`reduce`), and the BOLT #3 fee/trim arithmetic the limits are checked against
 * (total commitment cost incl. anchors, trimmed-HTLC "dust exposure").
 */
import {
  ANCHOR_OUTPUT_VALUE,
  commitmentFee,
  feeForWeight,
  HTLC_OUTPUT_WEIGHT,
  htlcTxFee,
} from '../../protocol/channel/fees.js';
import { type ChannelType, hasAnchors } from '../../protocol/channel/scripts.js';
import { InvalidArgumentError } from '../../protocol/errors.js';
import type { CommitmentSpec, SpecHtlc, UpdateMessage } from './types.js';

/**
 * Applies updates to a commitment spec: `ownerChanges` were proposed by the spec's owner (its
 * adds are 'offered', its fulfills/fails remove 'received' HTLCs), `otherChanges` by the
 * counterparty. Adds first, then removals, then the last `update_fee` (Eclair's order; the
 * result does not depend on interleaving because removals only target already-known HTLCs).
 * Linear in the number of HTLCs and updates (removals go through an index, not a search each).
 * Throws InvalidArgumentError when a removal targets an HTLC the spec does not hold.
 */
export function reduce(
  spec: CommitmentSpec,
  ownerChanges: readonly UpdateMessage[],
  otherChanges: readonly UpdateMessage[],
): CommitmentSpec {
  if (ownerChanges.length === 0 && otherChanges.length === 0) return spec;
  const htlcs = spec.htlcs.slice();
  let toLocalMsat = spec.toLocalMsat;
  let toRemoteMsat = spec.toRemoteMsat;
  const add = (u: UpdateMessage, direction: SpecHtlc['direction']) => {
    if (u.type !== 'update_add_htlc') return;
    htlcs.push({
      direction,
      id: u.id,
      amountMsat: u.amountMsat,
      paymentHash: u.paymentHash,
      cltvExpiry: u.cltvExpiry,
    });
    if (direction === 'offered') toLocalMsat -= u.amountMsat;
    else toRemoteMsat -= u.amountMsat;
  };
  for (const u of ownerChanges) add(u, 'offered');
  for (const u of otherChanges) add(u, 'received');
  // Index of the HTLCs by direction and id, built on the first removal.
  let index: { offered: Map<bigint, number>; received: Map<bigint, number> } | undefined;
  const removed = new Set<number>();
  const remove = (direction: SpecHtlc['direction'], id: bigint): SpecHtlc => {
    if (!index) {
      index = { offered: new Map(), received: new Map() };
      for (let i = 0; i < htlcs.length; i++) {
        const h = htlcs[i]!;
        const m = index[h.direction];
        if (!m.has(h.id)) m.set(h.id, i);
      }
    }
    const i = index[direction].get(id);
    if (i === undefined || removed.has(i))
      throw new InvalidArgumentError(`reduce: no ${direction} HTLC ${id} in the spec`);
    removed.add(i);
    return htlcs[i]!;
  };
  // The owner removes HTLCs it received; the other side removes HTLCs the owner offered.
  for (const u of ownerChanges) {
    if (u.type === 'update_fulfill_htlc') toLocalMsat += remove('received', u.id).amountMsat;
    else if (u.type === 'update_fail_htlc' || u.type === 'update_fail_malformed_htlc')
      toRemoteMsat += remove('received', u.id).amountMsat;
  }
  for (const u of otherChanges) {
    if (u.type === 'update_fulfill_htlc') toRemoteMsat += remove('offered', u.id).amountMsat;
    else if (u.type === 'update_fail_htlc' || u.type === 'update_fail_malformed_htlc')
      toLocalMsat += remove('offered', u.id).amountMsat;
  }
  let feeratePerKw = spec.feeratePerKw;
  for (const u of ownerChanges) if (u.type === 'update_fee') feeratePerKw = u.feeratePerKw;
  for (const u of otherChanges) if (u.type === 'update_fee') feeratePerKw = u.feeratePerKw;
  return {
    ...spec,
    htlcs: removed.size === 0 ? htlcs : htlcs.filter((_, i) => !removed.has(i)),
    toLocalMsat,
    toRemoteMsat,
    feeratePerKw,
  };
}

/**
 * The trim thresholds of {@link isHtlcTrimmed} at one feerate (sat): an HTLC is trimmed when
 * `amountMsat / 1000 < threshold` of its direction (computed once instead of per HTLC).
 */
interface TrimThresholds {
  offered: bigint;
  received: bigint;
}

function trimThresholds(feeratePerKw: number, dustLimitSat: bigint, ct: ChannelType): TrimThresholds {
  return {
    offered: dustLimitSat + htlcTxFee('offered', feeratePerKw, ct),
    received: dustLimitSat + htlcTxFee('received', feeratePerKw, ct),
  };
}

const isTrimmedAt = (t: TrimThresholds, h: SpecHtlc): boolean =>
  h.amountMsat / 1000n < (h.direction === 'offered' ? t.offered : t.received);

/** Number of HTLCs of the spec that get an output on the owner's commitment. */
export function untrimmedCount(spec: CommitmentSpec, dustLimitSat: bigint, ct: ChannelType): number {
  if (spec.htlcs.length === 0) return 0;
  const t = trimThresholds(spec.feeratePerKw, dustLimitSat, ct);
  let n = 0;
  for (const h of spec.htlcs) if (!isTrimmedAt(t, h)) n++;
  return n;
}

// ---------------------------------------------------------------------------------------------
// Incremental summaries of reduced specs (the per-add limit checks)

/**
 * What the BOLT #2 limit checks need from `reduce(spec, ownerChanges, otherChanges)` on the
 * owner's commitment with dust limit `dustLimitSat`: balances, feerate, the untrimmed HTLC
 * counts at the feerate and at twice it (fee-spike buffer), and the totals per direction.
 */
export interface SpecSummary {
  readonly toLocalMsat: bigint;
  readonly toRemoteMsat: bigint;
  readonly feeratePerKw: number;
  /** HTLCs with an output at `feeratePerKw`. */
  readonly untrimmed: number;
  /** HTLCs with an output at `2 * feeratePerKw`; undefined when that is not a valid u32 feerate. */
  readonly untrimmedAt2x: number | undefined;
  readonly offeredCount: number;
  readonly offeredMsat: bigint;
  readonly receivedCount: number;
  readonly receivedMsat: bigint;
}

interface MutableSummary {
  toLocalMsat: bigint;
  toRemoteMsat: bigint;
  feeratePerKw: number;
  untrimmed: number;
  untrimmedAt2x: number | undefined;
  offeredCount: number;
  offeredMsat: bigint;
  receivedCount: number;
  receivedMsat: bigint;
}

/** The last summary computed for one base spec, extended in place when the lists only grew. */
interface SummaryEntry {
  owner: readonly UpdateMessage[];
  other: readonly UpdateMessage[];
  dustLimitSat: bigint;
  ct: ChannelType;
  t: TrimThresholds;
  t2: TrimThresholds | undefined;
  sum: MutableSummary;
  /** The reduced spec's HTLCs by direction and id (undefined: duplicates, not extendable). */
  live: { offered: Map<bigint, SpecHtlc>; received: Map<bigint, SpecHtlc> } | undefined;
}

/** By base spec identity (specs are immutable values). */
const SUMMARIES = new WeakMap<CommitmentSpec, SummaryEntry>();

const MAX_FEERATE = 0xffffffff;

function account(e: SummaryEntry, h: SpecHtlc, sign: 1 | -1): void {
  const s = e.sum;
  const amt = sign === 1 ? h.amountMsat : -h.amountMsat;
  if (h.direction === 'offered') {
    s.offeredCount += sign;
    s.offeredMsat += amt;
  } else {
    s.receivedCount += sign;
    s.receivedMsat += amt;
  }
  if (!isTrimmedAt(e.t, h)) s.untrimmed += sign;
  if (e.t2 && s.untrimmedAt2x !== undefined && !isTrimmedAt(e.t2, h)) s.untrimmedAt2x += sign;
}

function fullEntry(
  spec: CommitmentSpec,
  owner: readonly UpdateMessage[],
  other: readonly UpdateMessage[],
  dustLimitSat: bigint,
  ct: ChannelType,
): SummaryEntry {
  const r = reduce(spec, owner, other);
  const f = r.feeratePerKw;
  // An invalid feerate makes every fee computation of the caller throw (commitmentFee): the
  // counts are then never used.
  const fok = Number.isInteger(f) && f >= 0 && f <= MAX_FEERATE;
  const f2ok = fok && f * 2 <= MAX_FEERATE;
  const e: SummaryEntry = {
    owner,
    other,
    dustLimitSat,
    ct,
    t: fok ? trimThresholds(f, dustLimitSat, ct) : { offered: 0n, received: 0n },
    t2: f2ok ? trimThresholds(f * 2, dustLimitSat, ct) : undefined,
    sum: {
      toLocalMsat: r.toLocalMsat,
      toRemoteMsat: r.toRemoteMsat,
      feeratePerKw: f,
      untrimmed: 0,
      untrimmedAt2x: f2ok ? 0 : undefined,
      offeredCount: 0,
      offeredMsat: 0n,
      receivedCount: 0,
      receivedMsat: 0n,
    },
    live: { offered: new Map(), received: new Map() },
  };
  for (const h of r.htlcs) {
    account(e, h, 1);
    const m = e.live?.[h.direction];
    if (m?.has(h.id)) e.live = undefined;
    else m?.set(h.id, h);
  }
  return e;
}

function isPrefix(a: readonly UpdateMessage[], b: readonly UpdateMessage[]): boolean {
  if (a === b) return true;
  if (b.length < a.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const isRemoval = (u: UpdateMessage): boolean =>
  u.type === 'update_fulfill_htlc' ||
  u.type === 'update_fail_htlc' ||
  u.type === 'update_fail_malformed_htlc';

/**
 * Extends `e` in place with the updates appended to its lists (adds, then removals, as
 * {@link reduce} does); false (and `e` untouched) when that is not possible exactly: a list was
 * not extended, an `update_fee` was appended, or a removal/add does not fit the live HTLC set.
 */
function extendEntry(
  e: SummaryEntry,
  owner: readonly UpdateMessage[],
  other: readonly UpdateMessage[],
): boolean {
  const live = e.live;
  if (!live || !isPrefix(e.owner, owner) || !isPrefix(e.other, other)) return false;
  const adds: SpecHtlc[] = [];
  const newKeys = { offered: new Map<bigint, SpecHtlc>(), received: new Map<bigint, SpecHtlc>() };
  const removals: Array<{ h: SpecHtlc; byOwner: boolean; fulfill: boolean }> = [];
  const gone = { offered: new Set<bigint>(), received: new Set<bigint>() };
  const scanAdds = (list: readonly UpdateMessage[], from: number, dir: SpecHtlc['direction']): boolean => {
    for (let i = from; i < list.length; i++) {
      const u = list[i]!;
      if (u.type === 'update_fee') return false;
      if (u.type !== 'update_add_htlc') continue;
      if (live[dir].has(u.id) || newKeys[dir].has(u.id)) return false;
      const h: SpecHtlc = {
        direction: dir,
        id: u.id,
        amountMsat: u.amountMsat,
        paymentHash: u.paymentHash,
        cltvExpiry: u.cltvExpiry,
      };
      newKeys[dir].set(u.id, h);
      adds.push(h);
    }
    return true;
  };
  // The owner removes HTLCs it received; the other side removes HTLCs the owner offered.
  const scanRemovals = (list: readonly UpdateMessage[], from: number, byOwner: boolean): boolean => {
    const dir: SpecHtlc['direction'] = byOwner ? 'received' : 'offered';
    for (let i = from; i < list.length; i++) {
      const u = list[i]!;
      if (!isRemoval(u)) continue;
      const id = (u as { id: bigint }).id;
      const h = live[dir].get(id) ?? newKeys[dir].get(id);
      if (!h || gone[dir].has(id)) return false;
      gone[dir].add(id);
      removals.push({ h, byOwner, fulfill: u.type === 'update_fulfill_htlc' });
    }
    return true;
  };
  const o0 = e.owner.length;
  const t0 = e.other.length;
  if (!scanAdds(owner, o0, 'offered') || !scanAdds(other, t0, 'received')) return false;
  if (!scanRemovals(owner, o0, true) || !scanRemovals(other, t0, false)) return false;
  const s = e.sum;
  for (const h of adds) {
    if (h.direction === 'offered') s.toLocalMsat -= h.amountMsat;
    else s.toRemoteMsat -= h.amountMsat;
    live[h.direction].set(h.id, h);
    account(e, h, 1);
  }
  for (const { h, byOwner, fulfill } of removals) {
    // Owner fulfills a received HTLC: to the owner; fails it: back to the other side (and
    // symmetrically for the other side's removals of offered HTLCs).
    if (byOwner === fulfill) s.toLocalMsat += h.amountMsat;
    else s.toRemoteMsat += h.amountMsat;
    live[h.direction].delete(h.id);
    account(e, h, -1);
  }
  e.owner = owner;
  e.other = other;
  return true;
}

/**
 * {@link SpecSummary} of `reduce(spec, ownerChanges, otherChanges)` on the owner's commitment
 * (dust limit `dustLimitSat`). Incremental: the last result per base `spec` object is cached,
 * and a call whose change lists only extend the cached ones (new arrays, same leading
 * elements, no `update_fee`) costs the appended updates, not the pending HTLCs — what makes a
 * round of N adds linear instead of quadratic. Obligations: `spec` and the lists are immutable
 * values (never mutated after a call). Throws like {@link reduce}.
 */
export function reduceSummary(
  spec: CommitmentSpec,
  ownerChanges: readonly UpdateMessage[],
  otherChanges: readonly UpdateMessage[],
  dustLimitSat: bigint,
  ct: ChannelType,
): SpecSummary {
  let e = SUMMARIES.get(spec);
  if (
    !e ||
    e.dustLimitSat !== dustLimitSat ||
    e.ct !== ct ||
    !((e.owner === ownerChanges && e.other === otherChanges) || extendEntry(e, ownerChanges, otherChanges))
  ) {
    e = fullEntry(spec, ownerChanges, otherChanges, dustLimitSat, ct);
    SUMMARIES.set(spec, e);
  }
  return { ...e.sum };
}

/** {@link commitTxTotalCostSat} of a summarised spec, with `extraUntrimmed` more HTLC outputs. */
export function summaryTotalCostSat(s: SpecSummary, ct: ChannelType, extraUntrimmed = 0): bigint {
  const fee = commitmentFee(s.feeratePerKw, s.untrimmed + extraUntrimmed, ct);
  return fee + (hasAnchors(ct) ? 2n * ANCHOR_OUTPUT_VALUE : 0n);
}

/** {@link feeSpikeBufferSat} of a summarised spec, with `extraUntrimmed` more HTLC outputs at twice the feerate. */
export function summaryFeeSpikeBufferSat(s: SpecSummary, ct: ChannelType, extraUntrimmed = 0): bigint {
  const f2 = s.feeratePerKw * 2;
  // An invalid doubled feerate throws here, as feeSpikeBufferSat does.
  const fee = commitmentFee(f2, (s.untrimmedAt2x ?? 0) + extraUntrimmed, ct);
  return fee + (hasAnchors(ct) ? 2n * ANCHOR_OUTPUT_VALUE : 0n) + htlcOutputFeeSat(f2);
}

/**
 * What the opener pays for the owner's commitment (sat): the BOLT #3 base fee for the untrimmed
 * HTLCs plus, with anchors, the two 330-sat anchor outputs.
 */
export function commitTxTotalCostSat(spec: CommitmentSpec, dustLimitSat: bigint, ct: ChannelType): bigint {
  const fee = commitmentFee(spec.feeratePerKw, untrimmedCount(spec, dustLimitSat, ct), ct);
  return fee + (hasAnchors(ct) ? 2n * ANCHOR_OUTPUT_VALUE : 0n);
}

/** Fee of one extra HTLC output at `feeratePerKw` (sat). */
export function htlcOutputFeeSat(feeratePerKw: number): bigint {
  return feeForWeight(feeratePerKw, HTLC_OUTPUT_WEIGHT);
}

/**
 * The opener's "fee spike buffer" (BOLT 2 SHOULD): the commitment cost at twice the feerate plus
 * one more HTLC output at that feerate (sat).
 */
export function feeSpikeBufferSat(spec: CommitmentSpec, dustLimitSat: bigint, ct: ChannelType): bigint {
  const doubled = { ...spec, feeratePerKw: spec.feeratePerKw * 2 };
  return commitTxTotalCostSat(doubled, dustLimitSat, ct) + htlcOutputFeeSat(doubled.feeratePerKw);
}

/**
 * BOLT #2 `max_dust_htlc_exposure_msat`: the total of trimmed HTLCs (both directions) on the
 * owner's commitment, i.e. what would go to miners on a force close (msat).
 */
export function dustExposureMsat(spec: CommitmentSpec, dustLimitSat: bigint, ct: ChannelType): bigint {
  if (spec.htlcs.length === 0) return 0n;
  const t = trimThresholds(spec.feeratePerKw, dustLimitSat, ct);
  let sum = 0n;
  for (const h of spec.htlcs) if (isTrimmedAt(t, h)) sum += h.amountMsat;
  return sum;
}

/** Sum of the HTLCs of `direction` in the spec (msat) and their count. */
export function htlcTotals(
  spec: CommitmentSpec,
  direction: SpecHtlc['direction'],
): { count: number; msat: bigint } {
  let count = 0;
  let msat = 0n;
  for (const h of spec.htlcs) {
    if (h.direction === direction) {
      count++;
      msat += h.amountMsat;
    }
  }
  return { count, msat };
}

/** The spec as seen by the counterparty (directions and balances swapped). */
export function mirrorSpec(spec: CommitmentSpec): CommitmentSpec {
  return {
    htlcs: spec.htlcs.map((h) => ({ ...h, direction: h.direction === 'offered' ? 'received' : 'offered' })),
    feeratePerKw: spec.feeratePerKw,
    toLocalMsat: spec.toRemoteMsat,
    toRemoteMsat: spec.toLocalMsat,
  };
}

/** Index of a spec's HTLC list (first occurrence per direction and id), by list identity. */
const HTLC_INDEX = new WeakMap<
  readonly SpecHtlc[],
  { n: number; offered: Map<bigint, SpecHtlc>; received: Map<bigint, SpecHtlc> }
>();

/**
 * Finds an HTLC by direction and id (the first match). Long lists are indexed once per list
 * object (specs are immutable values), so settling N HTLCs is not O(N^2).
 */
export function findHtlc(
  spec: CommitmentSpec,
  direction: SpecHtlc['direction'],
  id: bigint,
): SpecHtlc | undefined {
  const l = spec.htlcs;
  if (l.length < 16) return l.find((h) => h.direction === direction && h.id === id);
  let ix = HTLC_INDEX.get(l);
  if (!ix || ix.n !== l.length) {
    ix = { n: l.length, offered: new Map(), received: new Map() };
    for (const h of l) {
      const m = ix[h.direction];
      if (!m.has(h.id)) m.set(h.id, h);
    }
    HTLC_INDEX.set(l, ix);
  }
  return ix[direction].get(id);
}
