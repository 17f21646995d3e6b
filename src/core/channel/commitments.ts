/**
 * BOLT #2 "Normal Operation" as pure functions over {@link Commitments} (Eclair-style): every
 * `send*`/`receive*` returns `{ ok: true, commitments, ... }` with the new value (the input is
 * never mutated) or `{ ok: false, error }` with a typed {@link ChannelError}.
 *
 * Update lifecycle (BOLT #2): an update is first applied to the receiver's commitment; the
 * sender applies it to its own once the receiver revoked. Concretely: `local.proposed` →
 * (sendCommit) `local.signed` → (receiveRevocation) `local.acked` → (receiveCommit) in our
 * commitment; `remote.proposed` → (receiveCommit) `remote.acked` → (sendCommit) `remote.signed`
 * → (receiveRevocation) irrevocably committed.
 *
 * Limits are checked on the same projected commitment by the sender and by the receiver, so an
 * update our own checks accept is never rejected by a peer running the same rules; the sender
 * additionally keeps the opener's fee-spike buffer and the dust-exposure cap.
 */
import {
  type CommitmentTx,
  finalizeCommitmentTx,
  signCommitmentTx,
  verifyCommitmentSig,
} from '../../protocol/channel/commitment.js';
import { isHtlcTrimmed } from '../../protocol/channel/fees.js';
import { buildHtlcTxs, type HtlcTx, signHtlcTx, verifyHtlcSig } from '../../protocol/channel/htlc-tx.js';
import { hasAnchors, paymentHashOf } from '../../protocol/channel/scripts.js';
import { secp } from '../../protocol/crypto/secp256k1.js';
import { equal } from '../../protocol/encoding/bytes.js';
import { perCommitmentPoint } from '../../protocol/keys/derivation.js';
import { SHACHAIN_MAX_INDEX, ShachainError } from '../../protocol/keys/shachain.js';
import { reverse } from '../../protocol/tx/transaction.js';
import type {
  CommitmentSigned,
  RevokeAndAck,
  UpdateAddHtlc,
  UpdateFailHtlc,
  UpdateFailMalformedHtlc,
  UpdateFee,
  UpdateFulfillHtlc,
} from '../../protocol/wire/messages.js';
import { type ChannelError, fail, type Result } from './errors.js';
import {
  buildLocalCommitTx,
  buildRemoteCommitTx,
  htlcPrivkey,
  localCommitmentKeys,
  localPoint,
  localSecret,
  precomputeCommitmentKeys,
  remoteCommitmentKeys,
} from './keys.js';
import type {
  LocalCommitmentUpdate,
  RemoteCommitmentUpdate,
  RemoteRevocationUpdate,
} from './monitor-update.js';
import {
  commitTxTotalCostSat,
  dustExposureMsat,
  findHtlc,
  reduce,
  reduceSummary,
  type SpecSummary,
  summaryFeeSpikeBufferSat,
  summaryTotalCostSat,
} from './spec.js';
import type {
  Changes,
  ChannelKeys,
  CommitmentSpec,
  Commitments,
  FeerateTolerance,
  RemoteCommit,
  SpecHtlc,
  UpdateMessage,
} from './types.js';

/** What the pure operations need from the caller besides the commitments. */
export interface CommitmentsEnv {
  keys: ChannelKeys;
  /** Current block height (expiry checks). */
  blockHeight: number;
  /** The caller's feerate estimate (sat/kw) for `update_fee` sanity checks. */
  feeratePerKw: number;
  feerateTolerance: FeerateTolerance;
  /** Largest `cltv_expiry - blockHeight` we offer. */
  maxExpiryDelta: number;
}

/** Parameters of an outgoing HTLC. */
export interface AddHtlcParams {
  amountMsat: bigint;
  paymentHash: Uint8Array;
  cltvExpiry: number;
  /** The 1366-byte `onion_routing_packet`. */
  onion: Uint8Array;
  /** Route blinding `path_key`, if relaying inside a blinded route. */
  blindingPoint?: Uint8Array;
}

/** BOLT #2: `cltv_expiry` values >= 500000000 would be timestamps. */
const MAX_CLTV_EXPIRY = 500_000_000;
/** BOLT #4 BADONION bit. */
const BADONION = 0x8000;
/** Bitcoin Core's minimum relay feerate, 1 sat/vB. */
export const MIN_FEERATE_PER_KW = 253;

const ZERO32 = new Uint8Array(32);

function withChanges(c: Commitments, ch: Partial<Changes>): Commitments {
  return { ...c, changes: { ...c.changes, ...ch } };
}

/** The peer's latest commitment we signed (pending revocation or not). */
export function latestRemoteCommit(c: Commitments): RemoteCommit {
  return c.waiting?.nextRemoteCommit ?? c.remoteCommit;
}

/** True if we have something to sign into the peer's commitment. */
export function localHasChanges(c: Commitments): boolean {
  return c.changes.remoteAcked.length > 0 || c.changes.localProposed.length > 0;
}

/** True if the peer has something to sign into our commitment. */
export function remoteHasChanges(c: Commitments): boolean {
  return c.changes.localAcked.length > 0 || c.changes.remoteProposed.length > 0;
}

/** True when neither commitment holds an HTLC and nothing is pending on either side. */
export function isQuiescentAndEmpty(c: Commitments): boolean {
  const ch = c.changes;
  return (
    c.localCommit.spec.htlcs.length === 0 &&
    c.remoteCommit.spec.htlcs.length === 0 &&
    c.waiting === undefined &&
    ch.localProposed.length === 0 &&
    ch.localSigned.length === 0 &&
    ch.localAcked.length === 0 &&
    ch.remoteProposed.length === 0 &&
    ch.remoteAcked.length === 0 &&
    ch.remoteSigned.length === 0
  );
}

/** True if any HTLC is pending or proposed on either side. */
export function hasPendingHtlcs(c: Commitments): boolean {
  const ch = c.changes;
  const anyAdd = (l: UpdateMessage[]) => l.some((u) => u.type === 'update_add_htlc');
  return (
    c.localCommit.spec.htlcs.length > 0 ||
    c.remoteCommit.spec.htlcs.length > 0 ||
    (c.waiting?.nextRemoteCommit.spec.htlcs.length ?? 0) > 0 ||
    anyAdd(ch.localProposed) ||
    anyAdd(ch.remoteProposed) ||
    anyAdd(ch.localSigned) ||
    anyAdd(ch.remoteAcked)
  );
}

/**
 * Dust exposure of one side's commitment once every pending add (either direction, any stage)
 * is included and nothing is removed — a conservative projection (msat). `extra` is a
 * hypothetical new HTLC offered by us.
 */
export function projectedDustExposureMsat(
  c: Commitments,
  side: 'local' | 'remote',
  extra?: UpdateAddHtlc,
): { exposureMsat: bigint; spec: CommitmentSpec } {
  const p = c.params;
  const base = side === 'local' ? c.localCommit.spec : latestRemoteCommit(c).spec;
  const seen = new Set(base.htlcs.map((h) => `${h.direction}:${h.id}`));
  const htlcs = base.htlcs.slice();
  const ch = c.changes;
  // Direction relative to the commitment owner.
  const ours: SpecHtlc['direction'] = side === 'local' ? 'offered' : 'received';
  const theirs: SpecHtlc['direction'] = side === 'local' ? 'received' : 'offered';
  let feerate = base.feeratePerKw;
  const visit = (u: UpdateMessage, dir: SpecHtlc['direction']) => {
    if (u.type === 'update_fee') feerate = Math.max(feerate, u.feeratePerKw);
    if (u.type !== 'update_add_htlc') return;
    const k = `${dir}:${u.id}`;
    if (seen.has(k)) return;
    seen.add(k);
    htlcs.push({
      direction: dir,
      id: u.id,
      amountMsat: u.amountMsat,
      paymentHash: u.paymentHash,
      cltvExpiry: u.cltvExpiry,
    });
  };
  for (const u of [...ch.localProposed, ...ch.localSigned, ...ch.localAcked]) visit(u, ours);
  for (const u of [...ch.remoteProposed, ...ch.remoteAcked, ...ch.remoteSigned]) visit(u, theirs);
  if (extra) visit(extra, ours);
  const spec = { ...base, htlcs, feeratePerKw: feerate };
  const dust = side === 'local' ? p.local.dustLimitSat : p.remote.dustLimitSat;
  return { exposureMsat: dustExposureMsat(spec, dust, p.channelType), spec };
}

/**
 * True if accepting the (already added) incoming HTLC `id` keeps both commitments within our
 * `max_dust_htlc_exposure_msat`. BOLT #2: when it does not and the HTLC is dust, we "SHOULD
 * fail this HTLC once it's committed" and "SHOULD NOT reveal a preimage".
 */
export function incomingHtlcWithinDustExposure(c: Commitments, htlc: SpecHtlc): boolean {
  const p = c.params;
  for (const side of ['local', 'remote'] as const) {
    const dust = side === 'local' ? p.local.dustLimitSat : p.remote.dustLimitSat;
    const dir = side === 'local' ? 'received' : 'offered';
    // Only a trimmed HTLC counts: the projection is needed only then.
    if (!isHtlcTrimmed(dir, htlc.amountMsat, projectedFeerate(c, side), dust, p.channelType)) continue;
    if (projectedDustExposureMsat(c, side).exposureMsat > p.maxDustHtlcExposureMsat) return false;
  }
  return true;
}

/**
 * The feerate {@link projectedDustExposureMsat} projects for one side's commitment: the
 * highest of its current feerate and every pending `update_fee`.
 */
function projectedFeerate(c: Commitments, side: 'local' | 'remote'): number {
  const base = side === 'local' ? c.localCommit.spec : latestRemoteCommit(c).spec;
  let feerate = base.feeratePerKw;
  const ch = c.changes;
  for (const l of [
    ch.localProposed,
    ch.localSigned,
    ch.localAcked,
    ch.remoteProposed,
    ch.remoteAcked,
    ch.remoteSigned,
  ])
    for (const u of l) if (u.type === 'update_fee') feerate = Math.max(feerate, u.feeratePerKw);
  return feerate;
}

/**
 * What we can still offer (msat): our balance on the peer's next commitment minus the reserve
 * the peer requires and, as opener, the commitment cost with the fee-spike buffer and one more
 * HTLC output. An approximation for the payment layer; {@link sendAdd} is authoritative.
 */
export function availableBalanceForSendMsat(c: Commitments): bigint {
  const p = c.params;
  const ct = p.channelType;
  const dust = p.remote.dustLimitSat;
  const reduced = reduceSummary(
    latestRemoteCommit(c).spec,
    c.changes.remoteAcked,
    c.changes.localProposed,
    dust,
    ct,
  );
  let avail = reduced.toRemoteMsat - p.remote.channelReserveSat * 1000n;
  if (p.isOpener) {
    // One more (non-dust) HTLC, as if offered by us.
    const d = dummyHtlc();
    const extra = isHtlcTrimmed(d.direction, d.amountMsat, reduced.feeratePerKw, dust, ct) ? 0 : 1;
    const fees = summaryTotalCostSat(reduced, ct, extra);
    const extra2 = isHtlcTrimmed(d.direction, d.amountMsat, reduced.feeratePerKw * 2, dust, ct) ? 0 : 1;
    const buffer = summaryFeeSpikeBufferSat(reduced, ct, extra2);
    avail -= (fees > buffer ? fees : buffer) * 1000n;
  }
  return avail > 0n ? avail : 0n;
}

function dummyHtlc(): SpecHtlc {
  return { direction: 'received', id: -1n, amountMsat: 0xffffffffffn, paymentHash: ZERO32, cltvExpiry: 0 };
}

// ---------------------------------------------------------------------------------------------
// update_add_htlc

/**
 * Offers an HTLC (BOLT #2 "Adding an HTLC", sending node). Checks: amount > 0 and >= the peer's
 * `htlc_minimum_msat`; `cltv_expiry` < 500000000, above the current height and not beyond
 * `maxExpiryDelta`; on the peer's next commitment: our reserve + (as opener) fees and the
 * fee-spike buffer, the opener's ability to pay the fee (as non-opener), the peer's
 * `max_accepted_htlcs` and `max_htlc_value_in_flight_msat`; our dust-exposure cap on both
 * commitments.
 */
export function sendAdd(
  c: Commitments,
  cmd: AddHtlcParams,
  env: CommitmentsEnv,
): Result<{ commitments: Commitments; msg: UpdateAddHtlc }> {
  const p = c.params;
  if (cmd.amountMsat <= 0n || cmd.amountMsat < p.remote.htlcMinimumMsat)
    return fail(
      'HTLC_VALUE_TOO_SMALL',
      'HTLC amount below htlc_minimum_msat',
      `${cmd.amountMsat} < ${p.remote.htlcMinimumMsat}`,
    );
  if (cmd.cltvExpiry >= MAX_CLTV_EXPIRY)
    return fail('INVALID_CLTV_EXPIRY', 'cltv_expiry must be < 500000000');
  if (cmd.cltvExpiry <= env.blockHeight)
    return fail(
      'EXPIRY_TOO_SOON',
      'cltv_expiry is not in the future',
      `${cmd.cltvExpiry} <= ${env.blockHeight}`,
    );
  if (cmd.cltvExpiry > env.blockHeight + env.maxExpiryDelta)
    return fail(
      'EXPIRY_TOO_BIG',
      'cltv_expiry too far in the future',
      `${cmd.cltvExpiry} > ${env.blockHeight} + ${env.maxExpiryDelta}`,
    );
  const msg: UpdateAddHtlc = {
    type: 'update_add_htlc',
    channelId: p.channelId,
    id: c.localNextHtlcId,
    amountMsat: cmd.amountMsat,
    paymentHash: cmd.paymentHash,
    cltvExpiry: cmd.cltvExpiry,
    onionRoutingPacket: cmd.onion,
    ...(cmd.blindingPoint ? { blindingPoint: cmd.blindingPoint } : {}),
  };
  const c1: Commitments = {
    ...withChanges(c, { localProposed: [...c.changes.localProposed, msg] }),
    localNextHtlcId: c.localNextHtlcId + 1n,
  };
  // The peer's next commitment, as the peer will see it when it receives this add.
  const reduced = reduceSummary(
    latestRemoteCommit(c1).spec,
    c1.changes.remoteAcked,
    c1.changes.localProposed,
    p.remote.dustLimitSat,
    p.channelType,
  );
  const err = checkAddOnCommitment(c1, reduced, 'send');
  if (err) return { ok: false, error: err };
  // Dust exposure: our SHOULD NOT on both commitments.
  for (const side of ['local', 'remote'] as const) {
    const dust = side === 'local' ? p.local.dustLimitSat : p.remote.dustLimitSat;
    const dir = side === 'local' ? 'offered' : 'received';
    // Only a trimmed HTLC adds to the exposure: the projection is needed only then.
    if (!isHtlcTrimmed(dir, msg.amountMsat, projectedFeerate(c, side), dust, p.channelType)) continue;
    const { exposureMsat } = projectedDustExposureMsat(c, side, msg);
    if (exposureMsat > p.maxDustHtlcExposureMsat) {
      return fail(
        'DUST_EXPOSURE_EXCEEDED',
        `dust exposure on the ${side} commitment would exceed max_dust_htlc_exposure_msat`,
        `${exposureMsat} > ${p.maxDustHtlcExposureMsat}`,
      );
    }
  }
  return { ok: true, commitments: c1, msg };
}

/**
 * The checks shared by sender and receiver on the receiving side's commitment `spec` (owner =
 * the receiver). `mode` 'send': we are the sender (spec is the peer's commitment, peer POV);
 * 'receive': we are the receiver (spec is ours).
 */
function checkAddOnCommitment(
  c: Commitments,
  spec: SpecSummary,
  mode: 'send' | 'receive',
): ChannelError | undefined {
  const p = c.params;
  const senderIsOpener = mode === 'send' ? p.isOpener : !p.isOpener;
  // The receiver's commitment uses the receiver's dust limit; the reserve the sender keeps is
  // the one the receiver asked for, and vice versa.
  const receiver = mode === 'send' ? p.remote : p.local;
  const sender = mode === 'send' ? p.local : p.remote;
  const feesMsat = summaryTotalCostSat(spec, p.channelType) * 1000n;
  const senderBalance = spec.toRemoteMsat;
  const receiverBalance = spec.toLocalMsat;
  let senderCost = senderIsOpener ? feesMsat : 0n;
  if (mode === 'send' && senderIsOpener) {
    const buffer = summaryFeeSpikeBufferSat(spec, p.channelType) * 1000n;
    if (buffer > senderCost) senderCost = buffer;
  }
  const senderMissing = senderBalance - receiver.channelReserveSat * 1000n - senderCost;
  if (senderMissing < 0n)
    return fail(
      'INSUFFICIENT_FUNDS',
      'HTLC sender cannot afford it while keeping its reserve (and fees)',
      `missing ${-senderMissing} msat, reserve ${receiver.channelReserveSat} sat, fees ${feesMsat} msat`,
    ).error;
  if (!senderIsOpener) {
    const receiverMissing = receiverBalance - sender.channelReserveSat * 1000n - feesMsat;
    if (receiverMissing < 0n)
      return fail(
        'REMOTE_CANNOT_AFFORD_FEES_FOR_NEW_HTLC',
        'the opener cannot pay the commitment fee with this HTLC',
        `missing ${-receiverMissing} msat`,
      ).error;
  }
  const inflight = { count: spec.receivedCount, msat: spec.receivedMsat };
  if (inflight.msat > receiver.maxHtlcValueInFlightMsat)
    return fail(
      'HTLC_VALUE_IN_FLIGHT_EXCEEDED',
      'max_htlc_value_in_flight_msat exceeded',
      `${inflight.msat} > ${receiver.maxHtlcValueInFlightMsat}`,
    ).error;
  if (inflight.count > receiver.maxAcceptedHtlcs)
    return fail(
      'TOO_MANY_ACCEPTED_HTLCS',
      'max_accepted_htlcs exceeded',
      `${inflight.count} > ${receiver.maxAcceptedHtlcs}`,
    ).error;
  return undefined;
}

/**
 * Receives `update_add_htlc` (BOLT #2, receiving node): the `id` must be the next expected one;
 * amount > 0 and >= our `htlc_minimum_msat`; `cltv_expiry` < 500000000; on our next commitment
 * the sender must afford it with its reserve (and fees as opener), the opener must afford the
 * fee, and our `max_accepted_htlcs` / `max_htlc_value_in_flight_msat` hold.
 */
export function receiveAdd(c: Commitments, msg: UpdateAddHtlc): Result<{ commitments: Commitments }> {
  const p = c.params;
  if (msg.id !== c.remoteNextHtlcId)
    return fail('UNEXPECTED_HTLC_ID', 'unexpected HTLC id', `expected ${c.remoteNextHtlcId}, got ${msg.id}`);
  if (msg.amountMsat <= 0n || msg.amountMsat < p.local.htlcMinimumMsat)
    return fail('HTLC_VALUE_TOO_SMALL', 'HTLC amount below our htlc_minimum_msat', `${msg.amountMsat}`);
  if (msg.cltvExpiry >= MAX_CLTV_EXPIRY)
    return fail('INVALID_CLTV_EXPIRY', 'cltv_expiry must be < 500000000');
  const c1: Commitments = {
    ...withChanges(c, { remoteProposed: [...c.changes.remoteProposed, msg] }),
    remoteNextHtlcId: c.remoteNextHtlcId + 1n,
  };
  const reduced = reduceSummary(
    c1.localCommit.spec,
    c1.changes.localAcked,
    c1.changes.remoteProposed,
    p.local.dustLimitSat,
    p.channelType,
  );
  const err = checkAddOnCommitment(c1, reduced, 'receive');
  if (err) return { ok: false, error: err };
  return { ok: true, commitments: c1 };
}

// ---------------------------------------------------------------------------------------------
// update_fulfill_htlc / update_fail_htlc / update_fail_malformed_htlc

/** True if `list` holds a fulfill/fail of HTLC `id`. */
function settles(list: readonly UpdateMessage[], id: bigint): boolean {
  for (const u of list) {
    if (
      (u.type === 'update_fulfill_htlc' ||
        u.type === 'update_fail_htlc' ||
        u.type === 'update_fail_malformed_htlc') &&
      u.id === id
    )
      return true;
  }
  return false;
}

/**
 * An incoming HTLC we may settle: BOLT #2 "until the corresponding HTLC is irrevocably committed
 * in both sides' commitment transactions: MUST NOT send update_fulfill/fail" — it must be in our
 * commitment and in the peer's current (acknowledged) commitment, and not already being settled.
 */
export function incomingCrossSigned(c: Commitments, id: bigint): Result<{ htlc: SpecHtlc }> {
  const ch = c.changes;
  if (settles(ch.localProposed, id) || settles(ch.localSigned, id) || settles(ch.localAcked, id))
    return fail('HTLC_ALREADY_SETTLED', 'HTLC is already being settled', `id ${id}`);
  const inLocal = findHtlc(c.localCommit.spec, 'received', id);
  const inRemote = findHtlc(c.remoteCommit.spec, 'offered', id);
  const inNext = c.waiting ? findHtlc(c.waiting.nextRemoteCommit.spec, 'offered', id) : inRemote;
  if (!inLocal || !inRemote || !inNext)
    return fail('UNKNOWN_HTLC_ID', 'no irrevocably committed incoming HTLC with this id', `id ${id}`);
  return { ok: true, htlc: inLocal };
}

/** An outgoing HTLC the peer may settle: in our commitment and in its latest one. */
function outgoingCrossSigned(c: Commitments, id: bigint): Result<{ htlc: SpecHtlc }> {
  if (settles(c.changes.remoteProposed, id))
    return fail('HTLC_ALREADY_SETTLED', 'HTLC is already being settled', `id ${id}`);
  const inLocal = findHtlc(c.localCommit.spec, 'offered', id);
  const inRemote = findHtlc(latestRemoteCommit(c).spec, 'received', id);
  if (!inLocal || !inRemote)
    return fail('UNKNOWN_HTLC_ID', 'no committed outgoing HTLC with this id', `id ${id}`);
  return { ok: true, htlc: inLocal };
}

/** Fulfills an incoming HTLC with its preimage (`update_fulfill_htlc`, sending node). */
export function sendFulfill(
  c: Commitments,
  id: bigint,
  preimage: Uint8Array,
): Result<{ commitments: Commitments; msg: UpdateFulfillHtlc; htlc: SpecHtlc }> {
  const r = incomingCrossSigned(c, id);
  if (!r.ok) return r;
  if (preimage.length !== 32 || !equal(paymentHashOf(preimage), r.htlc.paymentHash))
    return fail('INVALID_HTLC_PREIMAGE', 'preimage does not match the payment hash', `id ${id}`);
  const msg: UpdateFulfillHtlc = {
    type: 'update_fulfill_htlc',
    channelId: c.params.channelId,
    id,
    paymentPreimage: preimage,
  };
  return {
    ok: true,
    commitments: withChanges(c, { localProposed: [...c.changes.localProposed, msg] }),
    msg,
    htlc: r.htlc,
  };
}

/** Receives `update_fulfill_htlc`: the id must be a committed outgoing HTLC and the preimage must match. */
export function receiveFulfill(
  c: Commitments,
  msg: UpdateFulfillHtlc,
): Result<{ commitments: Commitments; htlc: SpecHtlc }> {
  const r = outgoingCrossSigned(c, msg.id);
  if (!r.ok) return r;
  if (!equal(paymentHashOf(msg.paymentPreimage), r.htlc.paymentHash))
    return fail('INVALID_HTLC_PREIMAGE', 'preimage does not match the payment hash', `id ${msg.id}`);
  return {
    ok: true,
    commitments: withChanges(c, { remoteProposed: [...c.changes.remoteProposed, msg] }),
    htlc: r.htlc,
  };
}

/** Fails an incoming HTLC (`update_fail_htlc` with an encrypted BOLT #4 `reason`). */
export function sendFail(
  c: Commitments,
  id: bigint,
  reason: Uint8Array,
): Result<{ commitments: Commitments; msg: UpdateFailHtlc }> {
  const r = incomingCrossSigned(c, id);
  if (!r.ok) return r;
  const msg: UpdateFailHtlc = { type: 'update_fail_htlc', channelId: c.params.channelId, id, reason };
  return { ok: true, commitments: withChanges(c, { localProposed: [...c.changes.localProposed, msg] }), msg };
}

/** Fails an incoming HTLC whose onion we could not parse; `failureCode` MUST have BADONION. */
export function sendFailMalformed(
  c: Commitments,
  id: bigint,
  sha256OfOnion: Uint8Array,
  failureCode: number,
): Result<{ commitments: Commitments; msg: UpdateFailMalformedHtlc }> {
  if ((failureCode & BADONION) === 0)
    return fail('INVALID_FAILURE_CODE', 'failure_code must have the BADONION bit');
  const r = incomingCrossSigned(c, id);
  if (!r.ok) return r;
  const msg: UpdateFailMalformedHtlc = {
    type: 'update_fail_malformed_htlc',
    channelId: c.params.channelId,
    id,
    sha256OfOnion,
    failureCode,
  };
  return { ok: true, commitments: withChanges(c, { localProposed: [...c.changes.localProposed, msg] }), msg };
}

/** Receives `update_fail_htlc` or `update_fail_malformed_htlc` (BADONION required for the latter). */
export function receiveFail(
  c: Commitments,
  msg: UpdateFailHtlc | UpdateFailMalformedHtlc,
): Result<{ commitments: Commitments; htlc: SpecHtlc }> {
  if (msg.type === 'update_fail_malformed_htlc' && (msg.failureCode & BADONION) === 0)
    return fail('INVALID_FAILURE_CODE', 'update_fail_malformed_htlc without the BADONION bit');
  const r = outgoingCrossSigned(c, msg.id);
  if (!r.ok) return r;
  return {
    ok: true,
    commitments: withChanges(c, { remoteProposed: [...c.changes.remoteProposed, msg] }),
    htlc: r.htlc,
  };
}

// ---------------------------------------------------------------------------------------------
// update_fee

/** Checks a peer/own feerate against the estimate (BOLT #2: "too low for timely processing, OR unreasonably large"). */
export function checkFeerate(
  c: Commitments,
  feeratePerKw: number,
  env: CommitmentsEnv,
): ChannelError | undefined {
  const anchors = hasAnchors(c.params.channelType);
  const low = anchors
    ? MIN_FEERATE_PER_KW
    : Math.max(MIN_FEERATE_PER_KW, Math.floor(env.feeratePerKw * env.feerateTolerance.ratioLow));
  const high = Math.max(MIN_FEERATE_PER_KW, Math.ceil(env.feeratePerKw * env.feerateTolerance.ratioHigh));
  if (feeratePerKw < low)
    return fail('FEERATE_TOO_SMALL', 'feerate too small', `${feeratePerKw} < ${low}`).error;
  if (feeratePerKw > high)
    return fail('FEERATE_TOO_LARGE', 'feerate unreasonably large', `${feeratePerKw} > ${high}`).error;
  return undefined;
}

/** Sends `update_fee` (opener only); replaces an unsigned previous one; the opener must afford it on the peer's commitment. */
export function sendFee(
  c: Commitments,
  feeratePerKw: number,
  env: CommitmentsEnv,
): Result<{ commitments: Commitments; msg: UpdateFee }> {
  const p = c.params;
  if (!p.isOpener) return fail('NON_OPENER_CANNOT_SEND_UPDATE_FEE', 'only the opener sends update_fee');
  const bad = checkFeerate(c, feeratePerKw, env);
  if (bad) return { ok: false, error: bad };
  const msg: UpdateFee = { type: 'update_fee', channelId: p.channelId, feeratePerKw };
  const c1 = withChanges(c, {
    localProposed: [...c.changes.localProposed.filter((u) => u.type !== 'update_fee'), msg],
  });
  const reduced = reduce(latestRemoteCommit(c1).spec, c1.changes.remoteAcked, c1.changes.localProposed);
  const fees = commitTxTotalCostSat(reduced, p.remote.dustLimitSat, p.channelType);
  const missing = reduced.toRemoteMsat / 1000n - p.remote.channelReserveSat - fees;
  if (missing < 0n)
    return fail('CANNOT_AFFORD_FEES', 'opener cannot afford this feerate', `missing ${-missing} sat`);
  return { ok: true, commitments: c1, msg };
}

/** Receives `update_fee`: only from the opener, within feerate bounds, affordable on our commitment. */
export function receiveFee(
  c: Commitments,
  msg: UpdateFee,
  env: CommitmentsEnv,
): Result<{ commitments: Commitments }> {
  const p = c.params;
  if (p.isOpener) return fail('NON_OPENER_CANNOT_SEND_UPDATE_FEE', 'the non-opener sent update_fee');
  const bad = checkFeerate(c, msg.feeratePerKw, env);
  if (bad) return { ok: false, error: bad };
  const c1 = withChanges(c, {
    remoteProposed: [...c.changes.remoteProposed.filter((u) => u.type !== 'update_fee'), msg],
  });
  const reduced = reduce(c1.localCommit.spec, c1.changes.localAcked, c1.changes.remoteProposed);
  const fees = commitTxTotalCostSat(reduced, p.local.dustLimitSat, p.channelType);
  const missing = reduced.toRemoteMsat / 1000n - p.local.channelReserveSat - fees;
  if (missing < 0n)
    return fail('CANNOT_AFFORD_FEES', 'opener cannot afford this feerate', `missing ${-missing} sat`);
  return { ok: true, commitments: c1 };
}

// ---------------------------------------------------------------------------------------------
// commitment_signed / revoke_and_ack

/** The monitor's view of a peer commitment we signed. */
export function remoteCommitmentUpdate(
  c: Commitments,
  rc: RemoteCommit,
  tx: CommitmentTx,
): RemoteCommitmentUpdate {
  const toRemote = tx.toRemoteIndex === undefined ? undefined : tx.outputs[tx.toRemoteIndex];
  const toLocal = tx.toLocalIndex === undefined ? undefined : tx.outputs[tx.toLocalIndex];
  return {
    type: 'RemoteCommitment',
    channelId: c.params.channelId,
    commitmentNumber: rc.index,
    txid: tx.txid,
    perCommitmentPoint: rc.remotePerCommitmentPoint,
    spec: rc.spec,
    keys: tx.params.keys,
    toRemoteOutputIndex: tx.toRemoteIndex,
    toRemoteScriptPubKey: toRemote?.scriptPubKey,
    toLocalOutputIndex: tx.toLocalIndex,
    toLocalWitnessScript: toLocal?.witnessScript,
    remoteAnchorOutputIndex: tx.localAnchorIndex,
    htlcOutputs: tx.htlcOutputs.map((o) => ({
      htlcId: o.htlcId,
      direction: o.htlc.direction,
      paymentHash: o.htlc.paymentHash,
      amountMsat: o.htlc.amountMsat,
      cltvExpiry: o.htlc.cltvExpiry,
      outputIndex: o.outputIndex,
      amountSat: o.amountSat,
      witnessScript: o.witnessScript,
    })),
  };
}

/**
 * The monitor's view of our commitment. `htlcTxs`: `buildHtlcTxs(tx)` when the caller already
 * has it (not rebuilt). With `sign` (default) the commitment transaction is fully signed now;
 * without it, it stays unsigned with the peer's signature beside it and the monitor signs it
 * if it ever publishes it (same bytes: signatures are deterministic, RFC 6979).
 */
export function localCommitmentUpdate(
  c: Commitments,
  index: number,
  point: Uint8Array,
  tx: CommitmentTx,
  remoteSig: Uint8Array,
  htlcRemoteSigs: readonly Uint8Array[],
  keys: ChannelKeys,
  htlcTxs: readonly HtlcTx[] = buildHtlcTxs(tx),
  sign = true,
): LocalCommitmentUpdate {
  const toLocal = tx.toLocalIndex === undefined ? undefined : tx.outputs[tx.toLocalIndex];
  return {
    type: 'LocalCommitment',
    channelId: c.params.channelId,
    commitmentNumber: index,
    perCommitmentPoint: point,
    ...(sign
      ? { commitTx: finalizeCommitmentTx(tx, signCommitmentTx(tx, keys.fundingPrivkey), remoteSig) }
      : { commitTx: tx.tx, remoteSig }),
    txid: tx.txid,
    spec: {
      htlcs: tx.params.htlcs.slice(),
      feeratePerKw: tx.params.feeratePerKw,
      toLocalMsat: tx.params.toLocalMsat,
      toRemoteMsat: tx.params.toRemoteMsat,
    },
    keys: tx.params.keys,
    toLocalOutputIndex: tx.toLocalIndex,
    localAnchorOutputIndex: tx.localAnchorIndex,
    toLocalWitnessScript: toLocal?.witnessScript,
    htlcTxs: htlcTxs.map((h, i) => ({
      htlcId: h.htlc.id,
      direction: h.htlc.direction,
      paymentHash: h.htlc.paymentHash,
      amountMsat: h.htlc.amountMsat,
      cltvExpiry: h.htlc.cltvExpiry,
      htlcTx: h,
      remoteSig: htlcRemoteSigs[i]!,
    })),
  };
}

/** Signs the peer's commitment `rc` (funding signature + one HTLC signature per untrimmed HTLC). */
export function signRemoteCommit(
  c: Commitments,
  rc: RemoteCommit,
  keys: ChannelKeys,
): { tx: CommitmentTx; signature: Uint8Array; htlcSignatures: Uint8Array[] } {
  const tx = buildRemoteCommitTx(c.params, rc.index, rc.spec, rc.remotePerCommitmentPoint, keys);
  const signature = signCommitmentTx(tx, keys.fundingPrivkey);
  const priv = htlcPrivkey(keys, c.params, rc.remotePerCommitmentPoint);
  const htlcSignatures = buildHtlcTxs(tx).map((h) => signHtlcTx(h, priv, 'counterparty'));
  return { tx, signature, htlcSignatures };
}

/**
 * Signs our pending changes into the peer's next commitment (BOLT #2 `commitment_signed`,
 * sending node): MUST NOT be sent without updates; needs the peer's previous revocation.
 */
export function sendCommit(
  c: Commitments,
  keys: ChannelKeys,
): Result<{ commitments: Commitments; msg: CommitmentSigned; monitor: RemoteCommitmentUpdate }> {
  if (c.waiting) return fail('CANNOT_SIGN_BEFORE_REVOCATION', 'waiting for the peer revocation');
  if (!localHasChanges(c)) return fail('CANNOT_SIGN_WITHOUT_CHANGES', 'nothing to sign');
  const point = c.remoteNextPerCommitmentPoint;
  if (!point) return fail('CHANNEL_UNAVAILABLE', "the peer's next per-commitment point is unknown");
  const ch = c.changes;
  const spec = reduce(c.remoteCommit.spec, ch.remoteAcked, ch.localProposed);
  const rc: RemoteCommit = {
    index: c.remoteCommit.index + 1,
    spec,
    txid: ZERO32,
    remotePerCommitmentPoint: point,
  };
  const s = signRemoteCommit(c, rc, keys);
  const next: RemoteCommit = { ...rc, txid: s.tx.txid };
  const msg: CommitmentSigned = {
    type: 'commitment_signed',
    channelId: c.params.channelId,
    signature: s.signature,
    htlcSignatures: s.htlcSignatures,
    fundingTxid: reverse(c.params.fundingTxid),
  };
  const c1: Commitments = {
    ...c,
    changes: {
      ...ch,
      localProposed: [],
      localSigned: ch.localProposed,
      remoteAcked: [],
      remoteSigned: ch.remoteAcked,
    },
    waiting: { nextRemoteCommit: next, sent: msg, sentAfterLocalCommitIndex: c.localCommit.index },
    remoteNextPerCommitmentPoint: undefined,
  };
  return { ok: true, commitments: c1, msg, monitor: remoteCommitmentUpdate(c, next, s.tx) };
}

/** Our `revoke_and_ack` for the current local commitment (revealing the previous secret). */
export function sendRevocation(c: Commitments, keys: ChannelKeys): RevokeAndAck {
  const idx = c.localCommit.index;
  return {
    type: 'revoke_and_ack',
    channelId: c.params.channelId,
    perCommitmentSecret: localSecret(keys, idx - 1),
    nextPerCommitmentPoint: localPoint(keys, idx + 1),
  };
}

/**
 * Receives `commitment_signed` (BOLT #2, receiving node): applies the peer's pending changes to
 * our next commitment, verifies its signature (low-S) and exactly one valid signature per HTLC
 * output, then revokes our previous commitment (the returned `revoke_and_ack`).
 */
export function receiveCommit(
  c: Commitments,
  msg: CommitmentSigned,
  keys: ChannelKeys,
): Result<{ commitments: Commitments; revocation: RevokeAndAck; monitor: LocalCommitmentUpdate }> {
  if (!remoteHasChanges(c))
    return fail('CANNOT_SIGN_WITHOUT_CHANGES', 'commitment_signed without any update');
  const ch = c.changes;
  const p = c.params;
  const spec = reduce(c.localCommit.spec, ch.localAcked, ch.remoteProposed);
  const index = c.localCommit.index + 1;
  const point = localPoint(keys, index);
  const tx = buildLocalCommitTx(p, index, spec, point, keys);
  if (!verifyCommitmentSig(tx, msg.signature, p.remote.fundingPubkey))
    return fail('INVALID_COMMITMENT_SIGNATURE', 'invalid commitment signature', `commitment ${index}`);
  const htlcTxs = buildHtlcTxs(tx);
  if (htlcTxs.length !== msg.htlcSignatures.length)
    return fail(
      'HTLC_SIG_COUNT_MISMATCH',
      'wrong number of HTLC signatures',
      `${msg.htlcSignatures.length} != ${htlcTxs.length}`,
    );
  const remoteHtlcPubkey = tx.params.keys.remoteHtlcPubkey;
  for (let i = 0; i < htlcTxs.length; i++) {
    if (!verifyHtlcSig(htlcTxs[i]!, msg.htlcSignatures[i]!, remoteHtlcPubkey, 'counterparty'))
      return fail('INVALID_HTLC_SIGNATURE', 'invalid HTLC signature', `htlc output ${i}`);
  }
  const c1: Commitments = {
    ...c,
    localCommit: { index, spec, txid: tx.txid, remoteSig: msg.signature, htlcRemoteSigs: msg.htlcSignatures },
    changes: {
      ...ch,
      localAcked: [],
      remoteAcked: [...ch.remoteAcked, ...ch.remoteProposed],
      remoteProposed: [],
    },
  };
  const monitor = localCommitmentUpdate(
    c1,
    index,
    point,
    tx,
    msg.signature,
    msg.htlcSignatures,
    keys,
    htlcTxs,
    false,
  );
  return { ok: true, commitments: c1, revocation: sendRevocation(c1, keys), monitor };
}

/** Updates irrevocably committed by a revocation: the peer's adds (now ours to relay) and settlements. */
export interface IrrevocablyCommitted {
  /** Incoming HTLCs now locked in both commitments. */
  adds: UpdateAddHtlc[];
  /** Our outgoing HTLCs the peer failed, now removed from both commitments. */
  fails: (UpdateFailHtlc | UpdateFailMalformedHtlc)[];
  /** Our outgoing HTLCs the peer fulfilled, now removed from both commitments. */
  fulfills: UpdateFulfillHtlc[];
}

/**
 * Receives `revoke_and_ack`: the secret must be a valid key generating the peer's current
 * per-commitment point and be consistent with the earlier ones (BOLT #3 shachain); the peer's
 * pending commitment becomes current and its signed updates are irrevocably committed.
 */
export function receiveRevocation(
  c: Commitments,
  msg: RevokeAndAck,
): Result<{ commitments: Commitments; monitor: RemoteRevocationUpdate; committed: IrrevocablyCommitted }> {
  const w = c.waiting;
  if (!w) return fail('UNEXPECTED_REVOCATION', 'revoke_and_ack while not waiting for one');
  const secret = msg.perCommitmentSecret;
  if (
    !secp().isPrivateKey(secret) ||
    !equal(perCommitmentPoint(secret), c.remoteCommit.remotePerCommitmentPoint)
  )
    return fail(
      'INVALID_REVOCATION',
      'per_commitment_secret does not match the per-commitment point',
      `commitment ${c.remoteCommit.index}`,
    );
  let remoteSecrets = c.remoteSecrets;
  try {
    remoteSecrets = remoteSecrets.insert(SHACHAIN_MAX_INDEX - c.remoteCommit.index, secret);
  } catch (e) {
    if (e instanceof ShachainError)
      return fail('INVALID_REVOCATION', 'per_commitment_secret not from the BOLT 3 shachain', e.message);
    throw e;
  }
  const ch = c.changes;
  const committed: IrrevocablyCommitted = { adds: [], fails: [], fulfills: [] };
  for (const u of ch.remoteSigned) {
    if (u.type === 'update_add_htlc') committed.adds.push(u);
    else if (u.type === 'update_fail_htlc' || u.type === 'update_fail_malformed_htlc')
      committed.fails.push(u);
    else if (u.type === 'update_fulfill_htlc') committed.fulfills.push(u);
  }
  const c1: Commitments = {
    ...c,
    remoteCommit: w.nextRemoteCommit,
    waiting: undefined,
    remoteNextPerCommitmentPoint: msg.nextPerCommitmentPoint,
    remoteSecrets,
    changes: { ...ch, localSigned: [], localAcked: [...ch.localAcked, ...ch.localSigned], remoteSigned: [] },
  };
  return {
    ok: true,
    commitments: c1,
    monitor: {
      type: 'RemoteRevocation',
      channelId: c.params.channelId,
      commitmentNumber: c.remoteCommit.index,
      perCommitmentSecret: secret,
    },
    committed,
  };
}

/**
 * BOLT #2 "upon disconnection: MUST reverse any uncommitted updates sent by the other side";
 * our own unsigned updates are dropped too (and returned so adds can be failed upstream and
 * settlements replayed). HTLC id counters are rolled back accordingly.
 */
export function discardUnsignedUpdates(c: Commitments): {
  commitments: Commitments;
  discardedLocal: UpdateMessage[];
} {
  const ch = c.changes;
  const localAdds = BigInt(ch.localProposed.filter((u) => u.type === 'update_add_htlc').length);
  const remoteAdds = BigInt(ch.remoteProposed.filter((u) => u.type === 'update_add_htlc').length);
  return {
    commitments: {
      ...c,
      changes: { ...ch, localProposed: [], remoteProposed: [] },
      localNextHtlcId: c.localNextHtlcId - localAdds,
      remoteNextHtlcId: c.remoteNextHtlcId - remoteAdds,
    },
    discardedLocal: ch.localProposed,
  };
}

/** Our current commitment as a fully signed transaction (what a local force close broadcasts). */
export function signedLocalCommitTx(c: Commitments, keys: ChannelKeys): LocalCommitmentUpdate {
  const lc = c.localCommit;
  const point = localPoint(keys, lc.index);
  const tx = buildLocalCommitTx(c.params, lc.index, lc.spec, point, keys);
  return localCommitmentUpdate(c, lc.index, point, tx, lc.remoteSig, lc.htlcRemoteSigs, keys);
}

/**
 * Derives ahead of time the keys (and our per-commitment points) that the channel's next
 * commitment round needs: our next commitment, the point our next `revoke_and_ack` announces,
 * and the peer's next commitment when its point is known and we are not waiting for its
 * revocation. Pure memoisation (see `precomputeCommitmentKeys`): call it while idle, e.g.
 * after sending a batch, so the work leaves the latency path. Returns the key sets derived.
 */
export function precomputeNextKeys(c: Commitments, keys: ChannelKeys): number {
  const next = c.localCommit.index + 1;
  localPoint(keys, next + 1);
  return precomputeCommitmentKeys(
    c.params,
    keys,
    next,
    c.waiting ? undefined : c.remoteNextPerCommitmentPoint,
  );
}

/** Keys of our commitment `index` (for tests and the monitor). */
export function localKeysAt(c: Commitments, keys: ChannelKeys, index: number) {
  return localCommitmentKeys(c.params, localPoint(keys, index), keys, index);
}

/** Keys of the peer's commitment with point `point`. */
export function remoteKeysFor(c: Commitments, point: Uint8Array) {
  return remoteCommitmentKeys(c.params, point);
}
