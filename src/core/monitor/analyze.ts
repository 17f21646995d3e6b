/**
 * BOLT #5 recognition (05-onchain.md "Commitment Transaction", "Unilateral Close Handling",
 * "Revoked Transaction Close Handling"): from the monitor's static data, known commitments and
 * the relevant confirmed transactions, derive how the funding output was spent, which outputs
 * are ours to resolve (`TrackedOutput`), who spent them, and which preimages the chain revealed.
 *
 * The analysis is a pure function of the state and is recomputed after every change, so a
 * reorg (dropping confirmed transactions) re-arms every claim automatically.
 */

import { decodeCommitmentNumber } from '../../protocol/channel/commitment.js';
import {
  hasAnchors,
  offeredHtlcScript,
  receivedHtlcScript,
  toLocalScript,
  toRemoteAnchorsScript,
  toRemoteOutput,
} from '../../protocol/channel/scripts.js';
import { sha256 } from '../../protocol/crypto/hash.js';
import { secp } from '../../protocol/crypto/secp256k1.js';
import { equal, toHex } from '../../protocol/encoding/bytes.js';
import { derivePubkey, deriveRevocationPubkey } from '../../protocol/keys/derivation.js';
import { p2wsh } from '../../protocol/tx/script.js';
import type { Transaction } from '../../protocol/tx/transaction.js';
import type {
  ChannelFundedUpdate,
  LocalCommitmentUpdate,
  MonitorHtlcTx,
  MonitorRemoteHtlc,
  RemoteCommitmentUpdate,
} from '../channel/monitor-update.js';
import type { SpecHtlc } from '../channel/types.js';
import type { ChainTx, CloseKind, MonitorState, RevokedCommitment } from './types.js';

/** Map key of an outpoint. */
export function outpointKey(txid: Uint8Array, vout: number): string {
  return `${toHex(txid)}:${vout}`;
}

/** What a tracked output is and how we may spend it. */
export type OutputRole =
  /** Our `to_local` on our commitment: delayed key after `delay` blocks. */
  | { kind: 'local_to_local'; witnessScript: Uint8Array; point: Uint8Array; delay: number }
  /** An HTLC output of our commitment: resolved by its second-stage transaction. */
  | { kind: 'local_htlc'; htlc: MonitorHtlcTx; point: Uint8Array }
  /** The output of our HTLC-success/timeout transaction: delayed key after `delay` blocks. */
  | { kind: 'local_htlc_delayed'; witnessScript: Uint8Array; point: Uint8Array; delay: number }
  /** Our output on the peer's commitment (P2WPKH, or P2WSH `1 OP_CSV` with anchors). */
  | { kind: 'remote_to_remote'; anchorsScript: Uint8Array | undefined }
  /** An HTLC output of the peer's (unrevoked) commitment; `htlc.direction` is the peer's view. */
  | { kind: 'remote_htlc'; htlc: MonitorRemoteHtlc; point: Uint8Array }
  /** The cheater's `to_local` on a revoked commitment. */
  | { kind: 'revoked_to_local'; witnessScript: Uint8Array; secret: Uint8Array }
  /** An HTLC output of a revoked commitment (`htlc.direction` is the cheater's view). */
  | { kind: 'revoked_htlc'; witnessScript: Uint8Array; secret: Uint8Array; htlc: SpecHtlc }
  /** The output of the cheater's second-stage HTLC transaction. */
  | { kind: 'revoked_htlc_delayed'; witnessScript: Uint8Array; secret: Uint8Array };

/** A confirmed spend of a tracked output. */
export interface Spend {
  txid: Uint8Array;
  height: number;
  tx: Transaction;
  inputIndex: number;
}

/** An output the monitor resolves. */
export interface TrackedOutput {
  key: string;
  txid: Uint8Array;
  vout: number;
  amountSat: bigint;
  /** Height of the block that confirmed the transaction creating it. */
  createdHeight: number;
  role: OutputRole;
  spend: Spend | undefined;
}

/** How the funding output was spent. */
export interface Closing {
  kind: CloseKind;
  txid: Uint8Array;
  tx: Transaction;
  height: number;
  local: LocalCommitmentUpdate | undefined;
  remote: RemoteCommitmentUpdate | undefined;
  revoked: RevokedCommitment | undefined;
}

/** The chain seen through this channel. */
export interface Analysis {
  closing: Closing | undefined;
  outputs: TrackedOutput[];
  byKey: Map<string, TrackedOutput>;
  /** Preimages revealed by spends of HTLC outputs (hex payment hash → preimage). */
  revealed: Map<string, Uint8Array>;
  /** Outpoints whose spends are relevant (funding + tracked outputs). */
  watched: Set<string>;
}

/** The keys and scripts of a revoked peer commitment, from its per-commitment secret. */
export function revokedScripts(
  f: ChannelFundedUpdate,
  secret: Uint8Array,
): {
  revocationPubkey: Uint8Array;
  toLocalWitnessScript: Uint8Array;
  htlcScript: (h: SpecHtlc) => Uint8Array;
} {
  const point = secp().publicKey(secret);
  const revocationPubkey = deriveRevocationPubkey(f.local.revocationBasepoint, point);
  const delayed = derivePubkey(f.remote.delayedPaymentBasepoint, point);
  const keys = {
    revocationPubkey,
    localHtlcPubkey: derivePubkey(f.remote.htlcBasepoint, point),
    remoteHtlcPubkey: derivePubkey(f.local.htlcBasepoint, point),
  };
  return {
    revocationPubkey,
    // Also the script of the cheater's second-stage HTLC outputs (same keys and delay).
    toLocalWitnessScript: toLocalScript(revocationPubkey, f.remote.ownOutputsDelay, delayed),
    htlcScript: (h) =>
      h.direction === 'offered'
        ? offeredHtlcScript(keys, h.paymentHash, f.channelType)
        : receivedHtlcScript(keys, h.paymentHash, h.cltvExpiry, f.channelType),
  };
}

function classify(s: MonitorState, f: ChannelFundedUpdate, ct: ChainTx): Closing {
  const base = {
    txid: ct.txid,
    tx: ct.tx,
    height: ct.height,
    local: undefined,
    remote: undefined,
    revoked: undefined,
  };
  if (s.mutualCloseTxids.some((t) => equal(t, ct.txid))) return { ...base, kind: 'mutual' };
  const local = s.locals.find((l) => equal(l.txid, ct.txid));
  if (local) return { ...base, kind: 'local', local };
  const remote = s.remotes.find((r) => equal(r.txid, ct.txid));
  if (remote) return { ...base, kind: 'remote', remote };
  const byTxid = s.revoked.find((r) => r.txid !== undefined && equal(r.txid, ct.txid));
  if (byTxid) return { ...base, kind: 'revoked', revoked: byTxid };
  const input = ct.tx.inputs.find((i) => equal(i.txid, f.fundingTxid) && i.vout === f.fundingOutputIndex)!;
  const n = decodeCommitmentNumber(ct.tx.locktime, input.sequence, f.obscuringFactor);
  if (n === undefined) return { ...base, kind: 'mutual' };
  // Both sides' commitments share the obscuring factor: a number match alone may be one of our
  // own commitments. The revocable to_local (or an HTLC output) derived from the secret decides.
  // An archived revoked commitment (not hydrated back): its secret from the compact store, so
  // its to_local is still punished (its HTLC outputs need the archived record).
  const fromSecrets = (): RevokedCommitment | undefined => {
    const secret = s.secrets?.secretForCommitment(n);
    return secret
      ? { commitmentNumber: n, txid: undefined, perCommitmentSecret: secret, htlcs: [] }
      : undefined;
  };
  const byNumber = s.revoked.find((r) => r.commitmentNumber === n) ?? fromSecrets();
  if (byNumber) {
    const sc = revokedScripts(f, byNumber.perCommitmentSecret);
    const spks = [p2wsh(sc.toLocalWitnessScript), ...byNumber.htlcs.map((h) => p2wsh(sc.htlcScript(h)))];
    if (ct.tx.outputs.some((o) => spks.some((x) => equal(x, o.scriptPubKey))))
      return { ...base, kind: 'revoked', revoked: byNumber };
  }
  return { ...base, kind: 'remote-unknown' };
}

function ourToRemote(f: ChannelFundedUpdate): { spk: Uint8Array; anchorsScript: Uint8Array | undefined } {
  const o = toRemoteOutput(f.local.paymentBasepoint, f.channelType);
  return {
    spk: o.scriptPubKey,
    anchorsScript: hasAnchors(f.channelType) ? toRemoteAnchorsScript(f.local.paymentBasepoint) : undefined,
  };
}

function commitmentOutputs(f: ChannelFundedUpdate, c: Closing): Omit<TrackedOutput, 'key' | 'spend'>[] {
  const out: Omit<TrackedOutput, 'key' | 'spend'>[] = [];
  const tx = c.tx;
  const add = (vout: number, role: OutputRole) => {
    const o = tx.outputs[vout];
    if (o) out.push({ txid: c.txid, vout, amountSat: o.value, createdHeight: c.height, role });
  };
  if (c.kind === 'local' && c.local) {
    const l = c.local;
    if (l.toLocalOutputIndex !== undefined && l.toLocalWitnessScript)
      add(l.toLocalOutputIndex, {
        kind: 'local_to_local',
        witnessScript: l.toLocalWitnessScript,
        point: l.perCommitmentPoint,
        delay: f.local.ownOutputsDelay,
      });
    for (const h of l.htlcTxs)
      add(h.htlcTx.commitmentOutputIndex, { kind: 'local_htlc', htlc: h, point: l.perCommitmentPoint });
  } else if (c.kind === 'remote' && c.remote) {
    const r = c.remote;
    if (r.toRemoteOutputIndex !== undefined)
      add(r.toRemoteOutputIndex, { kind: 'remote_to_remote', anchorsScript: ourToRemote(f).anchorsScript });
    for (const h of r.htlcOutputs)
      add(h.outputIndex, { kind: 'remote_htlc', htlc: h, point: r.perCommitmentPoint });
  } else if (c.kind === 'revoked' && c.revoked) {
    const rv = c.revoked;
    const sc = revokedScripts(f, rv.perCommitmentSecret);
    const toLocalSpk = p2wsh(sc.toLocalWitnessScript);
    const toRemote = ourToRemote(f);
    const htlcSpks = rv.htlcs.map((h) => {
      const ws = sc.htlcScript(h);
      return { h, ws, spk: p2wsh(ws) };
    });
    tx.outputs.forEach((o, vout) => {
      if (equal(o.scriptPubKey, toLocalSpk))
        add(vout, {
          kind: 'revoked_to_local',
          witnessScript: sc.toLocalWitnessScript,
          secret: rv.perCommitmentSecret,
        });
      else if (equal(o.scriptPubKey, toRemote.spk))
        add(vout, { kind: 'remote_to_remote', anchorsScript: toRemote.anchorsScript });
      else {
        const m = htlcSpks.find((x) => equal(x.spk, o.scriptPubKey));
        if (m)
          add(vout, {
            kind: 'revoked_htlc',
            witnessScript: m.ws,
            secret: rv.perCommitmentSecret,
            htlc: m.h,
          });
      }
    });
  } else if (c.kind === 'remote-unknown') {
    // A commitment we do not know (we lost data, or a future state): only to_remote is ours.
    const toRemote = ourToRemote(f);
    tx.outputs.forEach((o, vout) => {
      if (equal(o.scriptPubKey, toRemote.spk))
        add(vout, { kind: 'remote_to_remote', anchorsScript: toRemote.anchorsScript });
    });
  }
  return out;
}

function htlcOf(role: OutputRole): { paymentHash: Uint8Array } | undefined {
  if (role.kind === 'local_htlc' || role.kind === 'remote_htlc' || role.kind === 'revoked_htlc')
    return { paymentHash: role.htlc.paymentHash };
  return undefined;
}

/** Any 32-byte witness item of `witness` hashing to `paymentHash`. */
export function findPreimage(
  witness: readonly Uint8Array[],
  paymentHash: Uint8Array,
): Uint8Array | undefined {
  for (const item of witness) if (item.length === 32 && equal(sha256(item), paymentHash)) return item;
  return undefined;
}

/** Recomputes the {@link Analysis} from the state. */
export function analyze(s: MonitorState): Analysis {
  const outputs: TrackedOutput[] = [];
  const byKey = new Map<string, TrackedOutput>();
  const revealed = new Map<string, Uint8Array>();
  const watched = new Set<string>();
  const f = s.funded;
  if (!f) return { closing: undefined, outputs, byKey, revealed, watched };
  const fundingKey = outpointKey(f.fundingTxid, f.fundingOutputIndex);
  watched.add(fundingKey);
  const track = (o: Omit<TrackedOutput, 'key' | 'spend'>) => {
    const key = outpointKey(o.txid, o.vout);
    if (byKey.has(key)) return;
    const t: TrackedOutput = { ...o, key, spend: undefined };
    outputs.push(t);
    byKey.set(key, t);
    watched.add(key);
  };
  let closing: Closing | undefined;
  for (const ct of s.chainTxs) {
    if (!closing) {
      if (ct.tx.inputs.some((i) => outpointKey(i.txid, i.vout) === fundingKey)) {
        closing = classify(s, f, ct);
        for (const o of commitmentOutputs(f, closing)) track(o);
      }
      continue;
    }
    ct.tx.inputs.forEach((input, inputIndex) => {
      const o = byKey.get(outpointKey(input.txid, input.vout));
      if (!o || o.spend) return;
      o.spend = { txid: ct.txid, height: ct.height, tx: ct.tx, inputIndex };
      const h = htlcOf(o.role);
      if (h) {
        const pre = findPreimage(input.witness, h.paymentHash);
        if (pre) revealed.set(toHex(h.paymentHash), pre);
      }
      // Second-stage outputs: the output paired with the input (SIGHASH_SINGLE pairing).
      const paired = ct.tx.outputs[inputIndex];
      if (!paired) return;
      const base = { txid: ct.txid, vout: inputIndex, amountSat: paired.value, createdHeight: ct.height };
      if (o.role.kind === 'local_htlc') {
        const ws = o.role.htlc.htlcTx.outputWitnessScript;
        if (equal(paired.scriptPubKey, p2wsh(ws)))
          track({
            ...base,
            role: {
              kind: 'local_htlc_delayed',
              witnessScript: ws,
              point: o.role.point,
              delay: f.local.ownOutputsDelay,
            },
          });
      } else if (o.role.kind === 'revoked_htlc') {
        const ws = revokedScripts(f, o.role.secret).toLocalWitnessScript;
        if (equal(paired.scriptPubKey, p2wsh(ws)))
          track({
            ...base,
            role: { kind: 'revoked_htlc_delayed', witnessScript: ws, secret: o.role.secret },
          });
      }
    });
  }
  return { closing, outputs, byKey, revealed, watched };
}

/** True if `o`'s spend went to us (pays our destination, or is our own second-stage HTLC tx). */
export function spentByUs(o: TrackedOutput, destination: Uint8Array | undefined): boolean {
  const sp = o.spend;
  if (!sp) return false;
  if (destination && sp.tx.outputs.some((x) => equal(x.scriptPubKey, destination))) return true;
  if (o.role.kind === 'local_htlc') {
    const paired = sp.tx.outputs[sp.inputIndex];
    return paired !== undefined && equal(paired.scriptPubKey, p2wsh(o.role.htlc.htlcTx.outputWitnessScript));
  }
  return false;
}
