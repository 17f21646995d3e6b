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
  isHtlcTrimmed,
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

/** Number of HTLCs of the spec that get an output on the owner's commitment. */
export function untrimmedCount(spec: CommitmentSpec, dustLimitSat: bigint, ct: ChannelType): number {
  let n = 0;
  for (const h of spec.htlcs) {
    if (!isHtlcTrimmed(h.direction, h.amountMsat, spec.feeratePerKw, dustLimitSat, ct)) n++;
  }
  return n;
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
  let sum = 0n;
  for (const h of spec.htlcs) {
    if (isHtlcTrimmed(h.direction, h.amountMsat, spec.feeratePerKw, dustLimitSat, ct)) sum += h.amountMsat;
  }
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

/** Finds an HTLC by direction and id. */
export function findHtlc(
  spec: CommitmentSpec,
  direction: SpecHtlc['direction'],
  id: bigint,
): SpecHtlc | undefined {
  return spec.htlcs.find((h) => h.direction === direction && h.id === id);
}
