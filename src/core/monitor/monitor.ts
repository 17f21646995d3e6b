/**
 * The per-channel on-chain monitor (BOLT #5, 05-onchain.md), sans-IO:
 * `monitorStep(state, input, ctx) → {state, effects}`.
 *
 * It learns the channel from the {@link MonitorUpdate}s the channel state machine emits, watches
 * the funding output, and once it is spent:
 * - mutual close: done after `antiReorgDelay` confirmations;
 * - our commitment: sweeps `to_local` after `to_self_delay`, publishes HTLC-timeout (after
 *   `cltv_expiry`) and HTLC-success (with the preimage) transactions — with option_anchors as
 *   `FundHtlcTx` requests since they carry no fee — then sweeps their outputs after the delay;
 * - the peer's commitment (current or next): sweeps `to_remote`, claims HTLCs directly (preimage
 *   path for its offered HTLCs, timeout path for its received HTLCs after `cltv_expiry`);
 * - a revoked commitment: one justice transaction takes `to_local` and every HTLC output with
 *   the revocation key, and any second-stage output the cheater gets confirmed is taken too;
 * - an unknown peer commitment (we lost data): sweeps `to_remote` (it pays our static key).
 *
 * Before that, it forces a close when an HTLC deadline approaches, and on `CmdForceClose` it
 * publishes our latest commitment (re-broadcast every block, CPFP-bumped through our anchor when
 * the target feerate exceeds the commitment's).
 *
 * Claims are rebuilt from the chain each block (fee at `ctx.feeratePerKw`) and re-emitted until a
 * spend confirms; a `BlockDisconnected` drops what that block confirmed, which re-arms them.
 * Nothing is forgotten before it is `antiReorgDelay` deep.
 */

import { decodeCommitmentNumber } from '../../protocol/channel/commitment.js';
import { HTLC_SUCCESS_WEIGHT, HTLC_TIMEOUT_WEIGHT } from '../../protocol/channel/fees.js';
import { fundingWitness, signFundingInput, withInputWitness } from '../../protocol/channel/funding.js';
import { anchorScript, hasAnchors } from '../../protocol/channel/scripts.js';
import { sha256 } from '../../protocol/crypto/hash.js';
import { equal, toHex } from '../../protocol/encoding/bytes.js';
import { deriveRevocationPrivkey } from '../../protocol/keys/derivation.js';
import { SHACHAIN_MAX_INDEX, ShachainStore } from '../../protocol/keys/shachain.js';
import { type Transaction, txid as txidOf, weight } from '../../protocol/tx/transaction.js';
import type { ChannelFundedUpdate, LocalCommitmentUpdate, MonitorUpdate } from '../channel/monitor-update.js';
import {
  type Analysis,
  analyze,
  findPreimage,
  outpointKey,
  spentByUs,
  type TrackedOutput,
} from './analyze.js';
import {
  anchorHtlcWeight,
  buildClaimTx,
  type ClaimInput,
  delayedInput,
  dustThreshold,
  feeFor,
  ourDelayedPrivkey,
  ourHtlcPrivkey,
  remoteHtlcInput,
  revokedDelayedInput,
  revokedHtlcInput,
  signedHtlcTx,
  toRemoteInput,
} from './claims.js';
import {
  type ArchivedRevoked,
  DEFAULT_MONITOR_CONFIG,
  type MonitorConfig,
  type MonitorContext,
  type MonitorEffect,
  type MonitorInput,
  type MonitorState,
  type MonitorStepResult,
} from './types.js';

/** A fresh monitor (feed it the channel's `ChannelFunded` update first). */
export function initialMonitorState(): MonitorState {
  return {
    version: 1,
    funded: undefined,
    destinationScript: undefined,
    locals: [],
    remotes: [],
    revoked: [],
    secrets: undefined,
    preimages: [],
    mutualCloseTxids: [],
    broadcastLocal: false,
    height: 0,
    chainTxs: [],
    reported: [],
    resolved: false,
  };
}

function config(ctx: MonitorContext): MonitorConfig {
  return { ...DEFAULT_MONITOR_CONFIG, ...ctx.config };
}

/** An HTLC of an unrevoked commitment, from our point of view. */
interface Candidate {
  direction: 'offered' | 'received';
  id: bigint;
  paymentHash: Uint8Array;
  amountMsat: bigint;
  cltvExpiry: number;
}

const flip = (d: 'offered' | 'received') => (d === 'offered' ? 'received' : 'offered');

/** HTLCs not yet irrevocably removed: in our latest commitments or the peer's unrevoked ones. */
function candidates(s: MonitorState): Candidate[] {
  const out = new Map<string, Candidate>();
  const add = (c: Candidate) => out.set(`${c.direction}:${c.id}`, c);
  const latest = s.locals[s.locals.length - 1];
  if (latest) for (const h of latest.spec.htlcs) add({ ...h });
  for (const r of s.remotes) for (const h of r.spec.htlcs) add({ ...h, direction: flip(h.direction) });
  return [...out.values()];
}

function preimageFor(s: MonitorState, a: Analysis, paymentHash: Uint8Array): Uint8Array | undefined {
  return s.preimages.find((p) => equal(sha256(p), paymentHash)) ?? a.revealed.get(toHex(paymentHash));
}

/** Payment hashes (hex) of an HTLC list, by list identity (stored commitments are immutable). */
const hashSets = new WeakMap<readonly { paymentHash: Uint8Array }[], Set<string>>();
/** Hex payment hash of a preimage, by identity (preimages are never mutated). */
const preimageHashes = new WeakMap<Uint8Array, string>();

function hashSetOf(htlcs: readonly { paymentHash: Uint8Array }[]): Set<string> {
  let set = hashSets.get(htlcs);
  if (!set) {
    set = new Set(htlcs.map((h) => toHex(h.paymentHash)));
    hashSets.set(htlcs, set);
  }
  return set;
}

function preimageHash(p: Uint8Array): string {
  let h = preimageHashes.get(p);
  if (h === undefined) {
    h = toHex(sha256(p));
    preimageHashes.set(p, h);
  }
  return h;
}

/** Keeps the preimages some stored commitment may still need. */
function prunePreimages(s: MonitorState): Uint8Array[] {
  if (s.preimages.length === 0) return s.preimages;
  const sets: Set<string>[] = [];
  for (const l of s.locals) sets.push(hashSetOf(l.spec.htlcs));
  for (const r of s.remotes) sets.push(hashSetOf(r.spec.htlcs));
  const kept = s.preimages.filter((p) => {
    const h = preimageHash(p);
    return sets.some((set) => set.has(h));
  });
  return kept.length === s.preimages.length ? s.preimages : kept;
}

function applyUpdate(s: MonitorState, u: MonitorUpdate, ctx: MonitorContext): MonitorState {
  const closed = analyze(s).closing !== undefined;
  switch (u.type) {
    case 'ChannelFunded':
      return {
        ...s,
        funded: u,
        destinationScript: s.destinationScript ?? ctx.destinationScript ?? u.localShutdownScript,
      };
    case 'LocalCommitment': {
      const locals = [...s.locals.filter((l) => l.commitmentNumber < u.commitmentNumber), u].slice(-2);
      const next = { ...s, locals };
      return closed ? next : { ...next, preimages: prunePreimages(next) };
    }
    case 'RemoteCommitment': {
      const remotes = [...s.remotes.filter((r) => r.commitmentNumber !== u.commitmentNumber), u].sort(
        (a, b) => a.commitmentNumber - b.commitmentNumber,
      );
      return { ...s, remotes };
    }
    case 'RemoteRevocation': {
      if (s.revoked.some((r) => r.commitmentNumber === u.commitmentNumber)) return s;
      const rc = s.remotes.find((r) => r.commitmentNumber === u.commitmentNumber);
      const next: MonitorState = {
        ...s,
        remotes: s.remotes.filter((r) => r.commitmentNumber > u.commitmentNumber),
        revoked: [
          ...s.revoked,
          {
            commitmentNumber: u.commitmentNumber,
            txid: rc?.txid,
            perCommitmentSecret: u.perCommitmentSecret,
            htlcs: rc ? rc.spec.htlcs : [],
          },
        ],
        secrets: insertSecret(s.secrets, u.commitmentNumber, u.perCommitmentSecret),
      };
      return closed ? next : { ...next, preimages: prunePreimages(next) };
    }
    case 'Preimage':
      if (s.preimages.some((p) => equal(p, u.preimage))) return s;
      if (!equal(sha256(u.preimage), u.paymentHash)) return s;
      return { ...s, preimages: [...s.preimages, u.preimage] };
    case 'MutualClose': {
      const t = txidOf(u.tx);
      if (s.mutualCloseTxids.some((x) => equal(x, t))) return s;
      return { ...s, mutualCloseTxids: [...s.mutualCloseTxids, t] };
    }
  }
}

/**
 * The compact secret store with commitment `n`'s secret added; unchanged when `n` is not the
 * next expected one (a replayed revocation) or the store was never started (`n > 0` first).
 */
function insertSecret(
  store: ShachainStore | undefined,
  n: number,
  secret: Uint8Array,
): ShachainStore | undefined {
  const base = store ?? (n === 0 ? ShachainStore.empty() : undefined);
  if (!base || base.nextIndex !== SHACHAIN_MAX_INDEX - n) return store;
  try {
    return base.insert(SHACHAIN_MAX_INDEX - n, secret);
  } catch {
    // The channel checked the secret already; an inconsistent one is simply not stored.
    return store;
  }
}

/**
 * Moves the revoked commitments out of the state so the runtime can keep them in cold storage
 * (they are needed again only if the peer publishes one: see {@link unknownRevokedNumber} and
 * {@link hydrateRevoked}). Returns the entries worth archiving: those with HTLCs, or whose
 * secret the state's compact store cannot derive; the others are fully covered by
 * {@link MonitorState.secrets}. Nothing moves once the funding output is spent (the closing
 * analysis may use them).
 *
 * Obligation: persist `archived` no later than the returned state (the same atomic batch).
 */
export function archiveRevoked(s: MonitorState): { state: MonitorState; archived: ArchivedRevoked[] } {
  if (s.revoked.length === 0 || s.chainTxs.length > 0 || analyze(s).closing)
    return { state: s, archived: [] };
  const archived: ArchivedRevoked[] = [];
  for (const r of s.revoked) {
    const derived = s.secrets?.secretForCommitment(r.commitmentNumber);
    const known = derived !== undefined && equal(derived, r.perCommitmentSecret);
    if (known && r.htlcs.length === 0) continue;
    archived.push({
      commitmentNumber: r.commitmentNumber,
      perCommitmentSecret: known ? undefined : r.perCommitmentSecret,
      htlcs: r.htlcs,
    });
  }
  return { state: { ...s, revoked: [] }, archived };
}

/**
 * If `tx` spends the funding output with a commitment number the peer revoked but whose record
 * is not in the state (archived), that number: the runtime then loads the archived record and
 * calls {@link hydrateRevoked} BEFORE feeding the block (without it only `to_local` and our
 * `to_remote` are claimed).
 */
export function unknownRevokedNumber(s: MonitorState, tx: Transaction): number | undefined {
  const f = s.funded;
  if (!f) return undefined;
  const input = tx.inputs.find((i) => equal(i.txid, f.fundingTxid) && i.vout === f.fundingOutputIndex);
  if (!input) return undefined;
  const t = txidOf(tx);
  if (s.locals.some((l) => equal(l.txid, t)) || s.remotes.some((r) => equal(r.txid, t))) return undefined;
  const n = decodeCommitmentNumber(tx.locktime, input.sequence, f.obscuringFactor);
  if (n === undefined || s.revoked.some((r) => r.commitmentNumber === n)) return undefined;
  const lowestUnrevoked = s.remotes[0]?.commitmentNumber;
  if (lowestUnrevoked !== undefined && n >= lowestUnrevoked) return undefined;
  return n;
}

/**
 * Puts an archived revoked commitment back into the state (see {@link archiveRevoked}). Its
 * secret comes from the record or from {@link MonitorState.secrets}; without either the state
 * is returned unchanged.
 */
export function hydrateRevoked(s: MonitorState, a: ArchivedRevoked): MonitorState {
  if (s.revoked.some((r) => r.commitmentNumber === a.commitmentNumber)) return s;
  const secret = a.perCommitmentSecret ?? s.secrets?.secretForCommitment(a.commitmentNumber);
  if (!secret) return s;
  const entry = {
    commitmentNumber: a.commitmentNumber,
    txid: undefined,
    perCommitmentSecret: secret,
    htlcs: a.htlcs,
  };
  return {
    ...s,
    revoked: [...s.revoked, entry].sort((x, y) => x.commitmentNumber - y.commitmentNumber),
  };
}

/** Drops what blocks at `height` and above confirmed. */
function disconnectFrom(s: MonitorState, height: number): MonitorState {
  return {
    ...s,
    height: Math.min(s.height, height - 1),
    chainTxs: s.chainTxs.filter((c) => c.height < height),
  };
}

/**
 * The claims possible now for unspent tracked outputs: broadcasts, HTLC funding requests.
 * Revoked outputs are aggregated into one justice transaction.
 */
function claimEffects(s: MonitorState, a: Analysis, ctx: MonitorContext): MonitorEffect[] {
  const f = s.funded;
  const dest = s.destinationScript;
  if (!f || !dest) return [];
  const effects: MonitorEffect[] = [];
  const rate = ctx.feeratePerKw;
  const anchors = hasAnchors(f.channelType);
  const h = s.height;
  const justice: ClaimInput[] = [];
  const emit = (
    inputs: ClaimInput[],
    kind: Extract<MonitorEffect, { type: 'Broadcast' }>['kind'],
    lock = 0,
  ) => {
    const tx = buildClaimTx(inputs, dest, rate, lock);
    if (tx) effects.push({ type: 'Broadcast', tx, kind });
  };
  for (const o of a.outputs) {
    if (o.spend) continue;
    const op = { txid: o.txid, vout: o.vout, amountSat: o.amountSat };
    const r = o.role;
    switch (r.kind) {
      case 'local_to_local':
      case 'local_htlc_delayed':
        // BIP68: spendable in a block at height >= createdHeight + delay.
        if (h + 1 - o.createdHeight >= r.delay)
          emit(
            [
              delayedInput(
                op,
                r.witnessScript,
                r.delay,
                ourDelayedPrivkey(ctx.keys, f.local.delayedPaymentBasepoint, r.point),
              ),
            ],
            r.kind === 'local_to_local' ? 'to-local-sweep' : 'htlc-delayed-sweep',
          );
        break;
      case 'local_htlc': {
        const ht = r.htlc;
        let preimage: Uint8Array | undefined;
        if (ht.direction === 'offered') {
          // nLockTime = cltv_expiry: final in the next block once height >= cltv_expiry.
          if (h < ht.cltvExpiry) break;
        } else {
          preimage = preimageFor(s, a, ht.paymentHash);
          if (!preimage) break;
        }
        if (anchors) {
          effects.push({
            type: 'FundHtlcTx',
            request: { htlc: ht, perCommitmentPoint: r.point, preimage, weight: anchorHtlcWeight(ht) },
            targetFeeratePerKw: rate,
          });
        } else {
          effects.push({
            type: 'Broadcast',
            tx: signedHtlcTx(ht, ctx.keys, f.local.htlcBasepoint, r.point, preimage),
            kind: ht.direction === 'offered' ? 'htlc-timeout' : 'htlc-success',
          });
        }
        break;
      }
      case 'remote_to_remote':
        // With anchors: `1 OP_CSV` (the commitment is confirmed, so the next block is fine).
        emit([toRemoteInput(op, ctx.keys.paymentBasepointSecret, r.anchorsScript)], 'to-remote-sweep');
        break;
      case 'remote_htlc': {
        const ht = r.htlc;
        const priv = ourHtlcPrivkey(ctx.keys, f.local.htlcBasepoint, r.point);
        if (ht.direction === 'offered') {
          // BOLT #5: the peer's offered HTLC (our incoming) — MUST spend it with the preimage.
          const preimage = preimageFor(s, a, ht.paymentHash);
          if (preimage)
            emit([remoteHtlcInput(op, ht.witnessScript, priv, preimage, anchors)], 'remote-htlc-success');
        } else if (h >= ht.cltvExpiry) {
          // The peer's received HTLC (our outgoing): the timeout path after cltv_expiry.
          emit(
            [remoteHtlcInput(op, ht.witnessScript, priv, undefined, anchors)],
            'remote-htlc-timeout',
            ht.cltvExpiry,
          );
        }
        break;
      }
      case 'revoked_to_local':
      case 'revoked_htlc_delayed':
        justice.push(
          revokedDelayedInput(
            op,
            r.witnessScript,
            deriveRevocationPrivkey(ctx.keys.revocationBasepointSecret, r.secret),
          ),
        );
        break;
      case 'revoked_htlc':
        justice.push(
          revokedHtlcInput(
            op,
            r.witnessScript,
            deriveRevocationPrivkey(ctx.keys.revocationBasepointSecret, r.secret),
          ),
        );
        break;
    }
  }
  if (justice.length > 0) {
    // BOLT #5: MAY resolve several revoked outputs in one transaction. If the aggregate is below
    // dust (tiny outputs), try each output alone.
    const tx = buildClaimTx(justice, dest, rate);
    if (tx) effects.push({ type: 'Broadcast', tx, kind: 'justice' });
  }
  return effects;
}

/**
 * Our commitment `l` ready to publish: as stored when already signed, else with both funding
 * signatures added now (ours from `fundingPrivkey`, the peer's from `l.remoteSig`).
 */
export function signedLocalCommitment(
  l: LocalCommitmentUpdate,
  f: ChannelFundedUpdate,
  fundingPrivkey: Uint8Array,
): Transaction {
  if (!l.remoteSig) return l.commitTx;
  const sig = signFundingInput(l.commitTx, f.fundingScript, f.fundingAmountSat, fundingPrivkey);
  return withInputWitness(
    l.commitTx,
    fundingWitness(f.local.fundingPubkey, sig, f.remote.fundingPubkey, l.remoteSig),
  );
}

/** Publishing our latest commitment, with a CPFP request when its own feerate is too low. */
function localBroadcastEffects(s: MonitorState, ctx: MonitorContext): MonitorEffect[] {
  const f = s.funded;
  const l = s.locals[s.locals.length - 1];
  if (!f || !l) return [];
  const commitTx = signedLocalCommitment(l, f, ctx.keys.fundingPrivkey);
  const effects: MonitorEffect[] = [{ type: 'Broadcast', tx: commitTx, kind: 'local-commitment' }];
  if (hasAnchors(f.channelType) && l.localAnchorOutputIndex !== undefined) {
    let out = 0n;
    for (const o of commitTx.outputs) out += o.value;
    const fee = f.fundingAmountSat - out;
    const w = weight(commitTx);
    if (feeFor(ctx.feeratePerKw, w) > fee) {
      effects.push({
        type: 'RequestCpfp',
        parentTx: commitTx,
        parentTxid: l.txid,
        parentFeeSat: fee,
        parentWeight: w,
        anchor: {
          txid: l.txid,
          vout: l.localAnchorOutputIndex,
          amountSat: commitTx.outputs[l.localAnchorOutputIndex]!.value,
          witnessScript: anchorScript(f.local.fundingPubkey),
        },
        targetFeeratePerKw: ctx.feeratePerKw,
      });
    }
  }
  return effects;
}

/** Whether an HTLC deadline forces us on chain (BOLT #2 "deadline" for offered / fulfilled HTLCs). */
function deadline(s: MonitorState, cfg: MonitorConfig): Candidate | undefined {
  for (const c of candidates(s)) {
    if (c.direction === 'offered' && s.height >= c.cltvExpiry - cfg.offeredHtlcCloseMargin) return c;
    if (
      c.direction === 'received' &&
      s.preimages.some((p) => equal(sha256(p), c.paymentHash)) &&
      s.height >= c.cltvExpiry - cfg.receivedHtlcCloseMargin
    )
      return c;
  }
  return undefined;
}

function depth(s: MonitorState, height: number): number {
  return s.height - height + 1;
}

/** True when an unspent output is not worth claiming at the current feerate. */
function uneconomical(o: TrackedOutput, s: MonitorState, ctx: MonitorContext): boolean {
  if (o.role.kind === 'local_htlc') return false;
  const dust = s.destinationScript ? dustThreshold(s.destinationScript) : 330n;
  return o.amountSat < dust + feeFor(ctx.feeratePerKw, Math.max(HTLC_SUCCESS_WEIGHT, HTLC_TIMEOUT_WEIGHT));
}

/** One-shot events (HTLC outcomes, confirmations, resolution), each reported once. */
function events(s: MonitorState, a: Analysis, ctx: MonitorContext, cfg: MonitorConfig): MonitorEffect[] {
  const out: MonitorEffect[] = [];
  const c = a.closing;
  if (!c) return out;
  const D = cfg.antiReorgDelay;
  out.push({ type: 'FundingSpent', kind: c.kind, txid: c.txid, height: c.height });
  if (c.kind !== 'mutual' && c.kind !== 'remote-unknown') {
    for (const h of candidates(s)) {
      const pre = a.revealed.get(toHex(h.paymentHash));
      const base = {
        type: 'HtlcResolvedOnChain' as const,
        direction: h.direction,
        htlcId: h.id,
        paymentHash: h.paymentHash,
        amountMsat: h.amountMsat,
      };
      if (pre) {
        out.push({ ...base, outcome: { kind: 'fulfilled', preimage: pre } });
        continue;
      }
      // An outgoing HTLC the peer already fulfilled off-chain is not "timed out" upstream.
      if (h.direction === 'offered' && s.preimages.some((p) => equal(sha256(p), h.paymentHash))) continue;
      const o = a.outputs.find((x) => {
        const r = x.role;
        if (r.kind === 'local_htlc') return r.htlc.htlcId === h.id && r.htlc.direction === h.direction;
        if (r.kind === 'remote_htlc') return r.htlc.htlcId === h.id && flip(r.htlc.direction) === h.direction;
        if (r.kind === 'revoked_htlc') return r.htlc.id === h.id && flip(r.htlc.direction) === h.direction;
        return false;
      });
      const settled = o ? o.spend !== undefined && depth(s, o.spend.height) >= D : depth(s, c.height) >= D;
      if (settled) out.push({ ...base, outcome: { kind: 'timedOut' } });
    }
  }
  for (const o of a.outputs) {
    if (o.spend && depth(s, o.spend.height) >= D && spentByUs(o, s.destinationScript)) {
      const dest = s.destinationScript;
      let amount = 0n;
      for (const x of o.spend.tx.outputs) if (dest && equal(x.scriptPubKey, dest)) amount += x.value;
      out.push({ type: 'ClaimConfirmed', txid: o.spend.txid, amountSat: amount });
    }
  }
  const done =
    depth(s, c.height) >= D &&
    a.outputs.every((o) => (o.spend ? depth(s, o.spend.height) >= D : uneconomical(o, s, ctx)));
  if (done) out.push({ type: 'ChannelFullyResolved', channelId: s.funded?.channelId, closeKind: c.kind });
  return out;
}

function eventKey(e: MonitorEffect): string {
  switch (e.type) {
    case 'FundingSpent':
      return `spent:${toHex(e.txid)}`;
    case 'HtlcResolvedOnChain':
      return `htlc:${e.direction}:${e.htlcId}`;
    case 'ClaimConfirmed':
      return `claim:${toHex(e.txid)}`;
    case 'ChannelFullyResolved':
      return 'resolved';
    case 'WatchOutpoint':
      return `watch:${toHex(e.txid)}:${e.vout}`;
    case 'ForceClose':
      return 'forceclose';
    default:
      return '';
  }
}

/**
 * Steps the monitor: applies `input`, then derives the effects (see the module doc). Pure: the
 * same state, input and context always give the same result.
 */
export function monitorStep(
  state: MonitorState,
  input: MonitorInput,
  ctx: MonitorContext,
): MonitorStepResult {
  const cfg = config(ctx);
  let s = state;
  let claimsNow = true;
  switch (input.type) {
    case 'BlockConnected': {
      if (input.height <= s.height) s = disconnectFrom(s, input.height);
      s = { ...s, height: input.height };
      let a = analyze(s);
      for (const tx of input.txs) {
        if (!tx.inputs.some((i) => a.watched.has(outpointKey(i.txid, i.vout)))) continue;
        s = { ...s, chainTxs: [...s.chainTxs, { height: input.height, txid: txidOf(tx), tx }] };
        a = analyze(s);
      }
      break;
    }
    case 'BlockDisconnected':
      s = disconnectFrom(s, input.height);
      break;
    case 'MempoolTx': {
      // BOLT #5: MUST extract the preimage from a spend seen in the mempool too.
      claimsNow = false;
      const hashes = candidates(s).map((c) => c.paymentHash);
      for (const i of input.tx.inputs) {
        for (const hsh of hashes) {
          const pre = findPreimage(i.witness, hsh);
          if (pre && !s.preimages.some((p) => equal(p, pre))) {
            s = { ...s, preimages: [...s.preimages, pre] };
            claimsNow = true;
          }
        }
      }
      break;
    }
    case 'CmdForceClose':
      s = { ...s, broadcastLocal: true };
      break;
    default:
      s = applyUpdate(s, input, ctx);
      claimsNow = input.type === 'Preimage' || input.type === 'ChannelFunded';
  }
  if (s.destinationScript === undefined && ctx.destinationScript)
    s = { ...s, destinationScript: ctx.destinationScript };

  const a = analyze(s);
  const oneShot: MonitorEffect[] = [];
  const actions: MonitorEffect[] = [];
  if (s.funded) {
    const f = s.funded;
    oneShot.push({ type: 'WatchOutpoint', txid: f.fundingTxid, vout: f.fundingOutputIndex });
    for (const o of a.outputs) oneShot.push({ type: 'WatchOutpoint', txid: o.txid, vout: o.vout });
  }
  if (!a.closing && s.funded && s.locals.length > 0 && input.type === 'BlockConnected') {
    const c = deadline(s, cfg);
    if (c) {
      oneShot.push({
        type: 'ForceClose',
        reason: `${c.direction} HTLC ${c.id} expires at ${c.cltvExpiry}`,
        paymentHash: c.paymentHash,
      });
      s = { ...s, broadcastLocal: true };
    }
  }
  // Preimages we learn from the chain are kept (the peer's on-chain claim of our offered HTLC).
  for (const pre of a.revealed.values())
    if (!s.preimages.some((p) => equal(p, pre))) s = { ...s, preimages: [...s.preimages, pre] };

  if (!s.resolved && claimsNow) {
    if (!a.closing && s.broadcastLocal) actions.push(...localBroadcastEffects(s, ctx));
    if (a.closing) actions.push(...claimEffects(s, a, ctx));
  }
  oneShot.push(...events(s, a, ctx, cfg));

  const reported = new Set(s.reported);
  const fresh: MonitorEffect[] = [];
  for (const e of oneShot) {
    const k = eventKey(e);
    if (reported.has(k)) continue;
    reported.add(k);
    fresh.push(e);
  }
  if (fresh.length > 0) s = { ...s, reported: [...reported] };
  if (fresh.some((e) => e.type === 'ChannelFullyResolved')) s = { ...s, resolved: true };
  const effects: MonitorEffect[] = [];
  if (s !== state) effects.push({ type: 'PersistMonitor', state: s });
  // Watches first, then the transactions, then the notifications.
  effects.push(...fresh.filter((e) => e.type === 'WatchOutpoint'));
  effects.push(...actions);
  effects.push(...fresh.filter((e) => e.type !== 'WatchOutpoint'));
  return { state: s, effects };
}
