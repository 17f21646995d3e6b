/**
 * HTLC forwarding (BOLT #4 "Onion Decryption" / "Returning Errors" / "Failure Messages",
 * BOLT #2 "Forwarding HTLCs", BOLT #7 "HTLC Fees"): an incoming HTLC whose onion names a next
 * hop becomes an outgoing HTLC on the channel its `short_channel_id` (real or alias) designates.
 *
 * Rules implemented:
 * - Checks, in BOLT 4's order, against our policy of the OUTGOING channel
 *   ({@link ForwardingPolicy}, per channel, persisted): `amount_below_minimum`,
 *   `fee_insufficient`, `incorrect_cltv_expiry` (incoming `cltv_expiry` minus
 *   `outgoing_cltv_value` below `cltv_expiry_delta`), `expiry_too_soon`, `expiry_too_far`,
 *   `channel_disabled` (peer offline / channel not `Normal`), `temporary_channel_failure`
 *   (above `htlc_maximum`, not enough outbound liquidity, add refused), `unknown_next_peer`.
 *   Failures that carry a `channel_update` get one signed by us for the outgoing channel, with the
 *   `short_channel_id` the onion used (BOLT 4: "MUST set short_channel_id to the
 *   short_channel_id used by the incoming onion").
 * - Non-strict forwarding: another `Normal` channel with the same peer may carry the HTLC.
 * - Crash safety: the forward record (incoming HTLC ↔ outgoing channel) is written BEFORE the
 *   outgoing `update_add_htlc` is sent, and again with the outgoing HTLC id before it is signed.
 *   On restart the outgoing HTLC is found again (by id, or by hash/amount/expiry when the id was
 *   not written yet); a forward whose outgoing HTLC never got committed is failed upstream.
 * - Fulfill: the preimage is written to the forward record first, then `update_fulfill_htlc`
 *   goes upstream at once (the channel's own `Preimage` monitor update is written with it). If
 *   the upstream channel is already closing, the preimage goes to its BOLT 5 monitor
 *   ({@link ChannelManager.providePreimage}) which claims the HTLC on chain.
 * - Fail: a downstream `update_fail_htlc` reason is wrapped with our `ammag` stream
 *   (`obfuscateErrorPacket`); a downstream `update_fail_malformed_htlc` becomes an
 *   `update_fail_htlc` upstream whose failure is the given BADONION code with the
 *   `sha256_of_onion` (BOLT 2); our own failures are created with our shared secret. The
 *   upstream failure is stored so a restart re-sends it when needed.
 * - On chain: the chain monitor's outcome of an outgoing HTLC (timed out, or fulfilled with the
 *   preimage learned on chain) is relayed upstream at once, so the incoming HTLC is resolved long
 *   before its own expiry (`cltv_expiry_delta` later).
 * - Interception ({@link setInterceptor}): every forward that passed the onion checks is shown
 *   to the interceptor, which may hold it; a held forward is later resumed (optionally over
 *   another channel and amount: JIT channels), failed or settled. Held forwards are persisted
 *   (with the next onion), shown again to the interceptor after a restart, and failed
 *   automatically `heldExpiryMarginBlocks` before their incoming HTLC expires.
 *
 * Store: namespace `forwards` (one record per incoming HTLC, key `<channel id>/<htlc id>`) and
 * `forward-policy` (per channel policy overrides).
 */
import {
  availableBalanceForSendMsat,
  type ChannelState,
  type HtlcFailure,
} from '../../core/channel/index.js';
import { createChannelUpdate } from '../../core/gossip/signatures.js';
import { forwardingFeeMsat } from '../../core/router/find-route.js';
import { sha256 } from '../../protocol/crypto/hash.js';
import { compare, equal, fromHex, toHex } from '../../protocol/encoding/bytes.js';
import { Writer } from '../../protocol/encoding/writer.js';
import {
  checkPaymentPayload,
  createErrorPacket,
  FailureCode,
  type FailureMessage,
  obfuscateErrorPacket,
  type PeeledOnion,
} from '../../protocol/onion/index.js';
import { encodeMessage, type UpdateAddHtlc } from '../../protocol/wire/index.js';
import { decodeRecord, encodeRecord } from '../channels/codec.js';
import {
  type ChannelManager,
  fundedData,
  outgoingHtlcPresent,
  unresolvedIncomingHtlcs,
} from '../channels/manager.js';
import type { ChannelInfo } from '../channels/types.js';
import type { NodeKeys } from '../keys/index.js';
import type { HtlcForwarder, OnChainHtlcOutcome } from '../payments/forwarder.js';
import { CHAIN_HASHES } from '../peer/init.js';
import { type PeerLogger, silentLogger } from '../peer/types.js';
import {
  DEFAULT_FORWARDING_POLICY,
  type ForwardInfo,
  type ForwardInterceptor,
  ForwardingError,
  type ForwardingPolicy,
  type ForwardRecord,
  type InterceptedForward,
  type InterceptFailure,
  type ResumeOptions,
} from './types.js';

/** Store namespaces of the forwarding module. */
export const FORWARD_NS = { forwards: 'forwards', policy: 'forward-policy' } as const;

/** Options of {@link ForwardingManager}. */
export interface ForwardingManagerOptions {
  channels: ChannelManager;
  keys: NodeKeys;
  /** The payment layer that owns the HTLC hooks; the forwarder attaches itself to it. */
  payments: { attachForwarder(f: HtlcForwarder): void };
  /** Overrides of {@link DEFAULT_FORWARDING_POLICY} for every channel. */
  defaultPolicy?: Partial<ForwardingPolicy>;
  /** `expiry_too_soon` when the outgoing HTLC expires within this many blocks (default 12). */
  minOutgoingExpiryBlocks?: number;
  /** `expiry_too_far` beyond this many blocks (default 2016, BOLT 4 `max_htlc_cltv`). */
  maxOutgoingExpiryBlocks?: number;
  /** A held forward is failed this many blocks before its incoming HTLC expires (default 24). */
  heldExpiryMarginBlocks?: number;
  logger?: PeerLogger;
}

/** A channel usable to forward over: online and `Normal`. */
function usable(c: ChannelInfo): boolean {
  return c.state === 'Normal';
}

function info(r: ForwardRecord): ForwardInfo {
  const { sharedSecret: _s, nextOnion: _o, upstreamFailure: _u, ...rest } = r;
  return { ...rest };
}

const fwdId = (cid: string, htlcId: bigint) => `${cid}/${htlcId}`;

/** Builds a BOLT 4 failure message with its data from a name (see {@link InterceptFailure}). */
function failureFrom(
  f: InterceptFailure,
  rec: ForwardRecord,
  height: number,
  update: Uint8Array,
): FailureMessage {
  if (typeof f !== 'string') return f;
  switch (f) {
    case 'temporary_channel_failure':
    case 'expiry_too_soon':
      return { name: f, channelUpdate: update };
    case 'amount_below_minimum':
      return { name: f, htlcMsat: rec.outAmountMsat, channelUpdate: update };
    case 'fee_insufficient':
      return { name: f, htlcMsat: rec.inAmountMsat, channelUpdate: update };
    case 'incorrect_cltv_expiry':
      return { name: f, cltvExpiry: rec.outCltvExpiry, channelUpdate: update };
    case 'channel_disabled':
      return { name: f, disabledFlags: 0, channelUpdate: update };
    case 'incorrect_or_unknown_payment_details':
      return { name: f, htlcMsat: rec.inAmountMsat, height };
    case 'final_incorrect_cltv_expiry':
      return { name: f, cltvExpiry: rec.inCltvExpiry };
    case 'final_incorrect_htlc_amount':
      return { name: f, incomingHtlcAmt: rec.inAmountMsat };
    case 'invalid_onion_payload':
      return { name: f, tlvType: 0n, offset: 0 };
    case 'invalid_onion_version':
    case 'invalid_onion_hmac':
    case 'invalid_onion_key':
    case 'invalid_onion_blinding':
      return { name: f, sha256OfOnion: new Uint8Array(32) };
    default:
      return { name: f };
  }
}

/** An offered HTLC of a channel (any commitment or pending change). */
function offeredHtlcs(
  s: ChannelState,
): Array<{ id: bigint; paymentHash: Uint8Array; amountMsat: bigint; cltvExpiry: number }> {
  const d = fundedData(s);
  if (!d) return [];
  const c = d.commitments;
  const out = new Map<
    bigint,
    { id: bigint; paymentHash: Uint8Array; amountMsat: bigint; cltvExpiry: number }
  >();
  for (const h of c.localCommit.spec.htlcs) if (h.direction === 'offered') out.set(h.id, h);
  for (const sp of [c.remoteCommit.spec, c.waiting?.nextRemoteCommit.spec])
    for (const h of sp?.htlcs ?? []) if (h.direction === 'received') out.set(h.id, h);
  for (const u of [...c.changes.localProposed, ...c.changes.localSigned, ...c.changes.localAcked])
    if (u.type === 'update_add_htlc') out.set(u.id, u);
  return [...out.values()];
}

/** See the module documentation. */
export class ForwardingManager implements HtlcForwarder {
  readonly #cm: ChannelManager;
  readonly #keys: NodeKeys;
  readonly #log: PeerLogger;
  readonly #default: ForwardingPolicy;
  readonly #minOut: number;
  readonly #maxOut: number;
  readonly #heldMargin: number;
  readonly #chainHash: Uint8Array;
  readonly #policies = new Map<string, Partial<ForwardingPolicy>>();
  readonly #recs = new Map<string, ForwardRecord>();
  /** `<out channel>/<out htlc id>` → record id. */
  readonly #byOut = new Map<string, string>();
  readonly #locks = new Map<string, Promise<unknown>>();
  #interceptor: ForwardInterceptor | undefined;
  #unsub: (() => void) | undefined;
  #lastUpdateTs = 0;

  /** Attaches itself to the payment layer (call before `PaymentManager.load`). */
  constructor(opts: ForwardingManagerOptions) {
    this.#cm = opts.channels;
    this.#keys = opts.keys;
    this.#log = opts.logger ?? silentLogger;
    this.#default = { ...DEFAULT_FORWARDING_POLICY, ...opts.defaultPolicy };
    this.#minOut = opts.minOutgoingExpiryBlocks ?? 12;
    this.#maxOut = opts.maxOutgoingExpiryBlocks ?? 2016;
    this.#heldMargin = opts.heldExpiryMarginBlocks ?? 24;
    const net = this.#cm.wallet.network;
    this.#chainHash = CHAIN_HASHES[net];
    opts.payments.attachForwarder(this);
  }

  // ---------------------------------------------------------------------------------------------
  // Policy

  /** Our forwarding policy of a channel (its override merged over the default). */
  channelPolicy(channelId: string): ForwardingPolicy {
    return { ...this.#default, ...this.#policies.get(channelId.toLowerCase()) };
  }

  /** Sets (persistently) a channel's policy overrides; `undefined` fields keep their value. */
  async setChannelPolicy(channelId: string, policy: Partial<ForwardingPolicy>): Promise<ForwardingPolicy> {
    const id = channelId.toLowerCase();
    const next = { ...this.#policies.get(id) };
    for (const [k, v] of Object.entries(policy))
      if (v !== undefined) (next as Record<string, unknown>)[k] = v;
    await this.#cm.store.write(FORWARD_NS.policy, id, encodeRecord(next));
    this.#policies.set(id, next);
    return this.channelPolicy(id);
  }

  /**
   * A `channel_update` (encoded, with its type) for our side of a channel: our policy, the
   * disable bit when the channel cannot forward, `dont_forward` for an unannounced channel,
   * `short_channel_id` = `scid` (default: the real one, else our alias). Signed with the node key.
   */
  channelUpdateFor(channelId: string, scid?: bigint): Uint8Array | undefined {
    const c = this.#cm.channel(channelId);
    if (!c) return undefined;
    const sc = scid ?? c.shortChannelId ?? c.localAlias;
    if (sc === undefined) return undefined;
    const pol = this.channelPolicy(c.channelId);
    const st = this.#cm.channelState(c.channelId);
    const d = st ? fundedData(st) : undefined;
    const announce = d?.commitments.params.announce ?? false;
    const peerMin = d?.commitments.params.remote.htlcMinimumMsat ?? 1n;
    const min = pol.htlcMinimumMsat > peerMin ? pol.htlcMinimumMsat : peerMin;
    let max = pol.htlcMaximumMsat ?? c.capacitySat * 1000n;
    if (max < min) max = min;
    // Timestamps must increase (BOLT 7); seconds of the injected clock.
    const ts = Math.max(this.#lastUpdateTs + 1, Math.floor(this.#cm.clock.now() / 1000));
    this.#lastUpdateTs = ts;
    const u = createChannelUpdate(
      {
        chainHash: this.#chainHash,
        shortChannelId: sc,
        timestamp: ts,
        direction: compare(this.#keys.nodePublicKey, fromHex(c.peer)) < 0 ? 0 : 1,
        disabled: !usable(c),
        dontForward: !announce,
        cltvExpiryDelta: pol.cltvExpiryDelta,
        htlcMinimumMsat: min,
        htlcMaximumMsat: max,
        feeBaseMsat: pol.feeBaseMsat,
        feeProportionalMillionths: pol.feeProportionalMillionths,
      },
      this.#keys.nodeSecretKey,
    );
    return encodeMessage(u);
  }

  // ---------------------------------------------------------------------------------------------
  // Interception

  /**
   * Installs (or removes, with undefined) the interceptor: it sees every forward that passed the
   * onion checks and returns `'hold'` to keep it (act later through the handle or
   * {@link resume}/{@link fail}/{@link settle}) or `'forward'`. A throwing interceptor forwards.
   */
  setInterceptor(fn: ForwardInterceptor | undefined): void {
    this.#interceptor = fn;
  }

  /** Held forwards, oldest first. */
  heldForwards(): InterceptedForward[] {
    return [...this.#recs.values()].filter((r) => r.status === 'held').map((r) => this.#handle(r));
  }

  /** Forwards a held forward now. */
  async resume(id: string, opts: ResumeOptions = {}): Promise<void> {
    const rec = this.#heldRec(id);
    await this.#lock(rec.id, async () => {
      if (rec.status !== 'held') throw new ForwardingError('FORWARD_NOT_HELD', 'forward is not held');
      await this.#dispatch(rec, opts);
    });
  }

  /** Fails a held forward upstream (default `temporary_channel_failure`). */
  async fail(id: string, failure: InterceptFailure = 'temporary_channel_failure'): Promise<void> {
    const rec = this.#heldRec(id);
    await this.#lock(rec.id, async () => {
      if (rec.status !== 'held') throw new ForwardingError('FORWARD_NOT_HELD', 'forward is not held');
      const out = this.#outChannel(rec);
      const upd = (out && this.channelUpdateFor(out.channelId, rec.requestedScid)) ?? new Uint8Array(0);
      const f = failureFrom(failure, rec, this.#cm.blockHeight, upd);
      await this.#failUpstream(rec, createErrorPacket(fromHex(rec.sharedSecret), f), f.name);
    });
  }

  /** Settles a held forward with a preimage (the interceptor learned it elsewhere). */
  async settle(id: string, preimage: Uint8Array): Promise<void> {
    const rec = this.#heldRec(id);
    if (toHex(sha256(preimage)) !== rec.paymentHash)
      throw new ForwardingError('PREIMAGE_MISMATCH', 'preimage does not match the payment hash');
    await this.#lock(rec.id, async () => {
      if (rec.status !== 'held') throw new ForwardingError('FORWARD_NOT_HELD', 'forward is not held');
      rec.feeMsat = rec.inAmountMsat;
      await this.#settleUpstream(rec, preimage);
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Records

  /** Every forward, oldest first (held, in flight, settled, failed). */
  listForwards(): ForwardInfo[] {
    return [...this.#recs.values()].map(info).sort((a, b) => a.createdAt - b.createdAt);
  }

  /** One forward by id (`<incoming channel id>/<incoming htlc id>`). */
  forwardInfo(id: string): ForwardInfo | undefined {
    const r = this.#recs.get(id.toLowerCase());
    return r ? info(r) : undefined;
  }

  /** Fees earned by settled forwards, msat. */
  feesEarnedMsat(): bigint {
    let s = 0n;
    for (const r of this.#recs.values()) if (r.status === 'settled') s += r.feeMsat;
    return s;
  }

  /** Stops the held-forward expiry watch. */
  close(): void {
    this.#unsub?.();
    this.#unsub = undefined;
  }

  // ---------------------------------------------------------------------------------------------
  // HtlcForwarder

  /** {@link HtlcForwarder.load}. */
  async load(): Promise<void> {
    const store = this.#cm.store;
    for (const k of await store.list(FORWARD_NS.policy)) {
      const v = await store.read(FORWARD_NS.policy, k);
      if (v) this.#policies.set(k, decodeRecord<Partial<ForwardingPolicy>>(v));
    }
    for (const k of await store.list(FORWARD_NS.forwards)) {
      const v = await store.read(FORWARD_NS.forwards, k);
      if (!v) continue;
      const r = decodeRecord<ForwardRecord>(v);
      this.#recs.set(r.id, r);
      if (r.outChannelId !== undefined && r.outHtlcId !== undefined)
        this.#byOut.set(fwdId(r.outChannelId, r.outHtlcId), r.id);
    }
  }

  /** {@link HtlcForwarder.recover}: see the module documentation. */
  async recover(): Promise<void> {
    this.#unsub ??= this.#cm.chain.subscribe((e) => {
      if (e.type === 'block_connected') void this.#expireHeld(e.block.height);
    });
    for (const rec of [...this.#recs.values()]) {
      await this.#lock(rec.id, () => this.#recoverOne(rec)).catch((e: unknown) =>
        this.#log.error('forward recovery failed', { forward: rec.id, error: String(e) }),
      );
    }
    for (const rec of [...this.#recs.values()]) if (rec.status === 'held') void this.#intercept(rec);
  }

  /** {@link HtlcForwarder.ownsIncoming}. */
  ownsIncoming(channelId: string, htlcId: bigint): boolean {
    return this.#recs.has(fwdId(channelId.toLowerCase(), htlcId));
  }

  /** {@link HtlcForwarder.ownsOutgoing}. */
  ownsOutgoing(channelId: string, htlcId: bigint): boolean {
    return this.#byOut.has(fwdId(channelId.toLowerCase(), htlcId));
  }

  /** {@link HtlcForwarder.forward}: checks the onion, shows it to the interceptor, forwards. */
  async forward(cid: string, add: UpdateAddHtlc, peeled: PeeledOnion, mustFail: boolean): Promise<void> {
    const id = fwdId(cid, add.id);
    if (this.#recs.has(id)) return;
    const ss = peeled.sharedSecret;
    const failNow = async (f: FailureMessage) => {
      await this.#cm.command(cid, { type: 'CmdFail', id: add.id, reason: createErrorPacket(ss, f) });
      await this.#cm.command(cid, { type: 'CmdSign' });
    };
    if (add.blindingPoint !== undefined || peeled.blinded) {
      // Blinded routes are not relayed (yet): inside a route the error goes back malformed.
      const sha = sha256(add.onionRoutingPacket);
      if (add.blindingPoint !== undefined) {
        await this.#cm.command(cid, {
          type: 'CmdFailMalformed',
          id: add.id,
          sha256OfOnion: sha,
          failureCode: FailureCode.invalid_onion_blinding,
        });
        await this.#cm.command(cid, { type: 'CmdSign' });
        return;
      }
      return failNow({ name: 'invalid_onion_blinding', sha256OfOnion: sha });
    }
    const chk = checkPaymentPayload(peeled.payload, { isFinal: false, hasPathKey: false });
    const p = peeled.payload;
    if (
      !chk.ok ||
      p.shortChannelId === undefined ||
      p.amtToForward === undefined ||
      p.outgoingCltvValue === undefined ||
      !peeled.nextPacket
    )
      return failNow({
        name: 'invalid_onion_payload',
        tlvType: (!chk.ok ? chk.tlvType : undefined) ?? 6n,
        offset: 0,
      });
    const rec: ForwardRecord = {
      id,
      paymentHash: toHex(add.paymentHash),
      inChannelId: cid,
      inHtlcId: add.id,
      inAmountMsat: add.amountMsat,
      inCltvExpiry: add.cltvExpiry,
      requestedScid: p.shortChannelId,
      outAmountMsat: p.amtToForward,
      outCltvExpiry: p.outgoingCltvValue,
      feeMsat: add.amountMsat - p.amtToForward,
      status: 'held',
      sharedSecret: toHex(ss),
      nextOnion: peeled.nextPacket,
      createdAt: this.#cm.clock.now(),
    };
    this.#recs.set(id, rec);
    if (mustFail) {
      // Dust exposure exceeded on the incoming channel: MUST fail it.
      return this.#lock(id, () => this.#failWith(rec, 'temporary_channel_failure'));
    }
    await this.#intercept(rec);
  }

  /** {@link HtlcForwarder.outgoingFulfilled}. */
  async outgoingFulfilled(
    cid: string,
    htlcId: bigint,
    paymentHash: Uint8Array,
    preimage: Uint8Array,
  ): Promise<boolean> {
    const rec = this.#findOut(cid, htlcId, paymentHash);
    if (!rec) return false;
    if (!equal(sha256(preimage), paymentHash)) return true;
    await this.#lock(rec.id, async () => {
      if (rec.status === 'offered') await this.#settleUpstream(rec, preimage);
    });
    return true;
  }

  /** {@link HtlcForwarder.outgoingFailed}. */
  async outgoingFailed(
    cid: string,
    htlcId: bigint,
    paymentHash: Uint8Array,
    failure: HtlcFailure,
  ): Promise<boolean> {
    const rec = this.#findOut(cid, htlcId, paymentHash);
    if (!rec) return false;
    await this.#lock(rec.id, async () => {
      if (rec.status !== 'offered') return;
      const ss = fromHex(rec.sharedSecret);
      if (failure.kind === 'remote') {
        // BOLT 4: an intermediate hop obfuscates the returned packet with its own ammag key.
        return this.#failUpstream(rec, obfuscateErrorPacket(ss, failure.reason), 'downstream');
      }
      if (failure.kind === 'malformed') {
        // BOLT 2: "MUST return an error in the update_fail_htlc sent to the link which originally
        // sent the HTLC, using the failure_code given and setting the data to sha256_of_onion."
        const msg = new Writer(34).u16(failure.failureCode).bytes(failure.sha256OfOnion).finish();
        return this.#failUpstream(rec, createErrorPacket(ss, msg), `malformed ${failure.failureCode}`);
      }
      return this.#failWith(rec, 'temporary_channel_failure');
    });
    return true;
  }

  /** {@link HtlcForwarder.htlcResolvedOnChain}. */
  async htlcResolvedOnChain(cid: string, r: OnChainHtlcOutcome): Promise<boolean> {
    const id = cid.toLowerCase();
    if (r.direction === 'received') {
      const rec = this.#recs.get(fwdId(id, r.htlcId));
      return rec !== undefined;
    }
    const rec = this.#findOut(id, r.htlcId, r.paymentHash);
    if (!rec) return false;
    await this.#lock(rec.id, async () => {
      if (rec.status !== 'offered') return;
      if (r.preimage && equal(sha256(r.preimage), r.paymentHash)) {
        rec.outResolvedOnChain = 'fulfilled';
        return this.#settleUpstream(rec, r.preimage);
      }
      rec.outResolvedOnChain = 'timedOut';
      return this.#failWith(rec, 'permanent_channel_failure');
    });
    return true;
  }

  // ---------------------------------------------------------------------------------------------
  // Internals

  #lock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#locks.get(id) ?? Promise.resolve();
    const run = prev.then(fn);
    const tail = run.catch(() => undefined);
    this.#locks.set(id, tail);
    void tail.then(() => {
      if (this.#locks.get(id) === tail) this.#locks.delete(id);
    });
    return run;
  }

  #heldRec(id: string): ForwardRecord {
    const rec = this.#recs.get(id.toLowerCase());
    if (!rec) throw new ForwardingError('FORWARD_NOT_FOUND', 'unknown forward', { details: id });
    return rec;
  }

  async #put(rec: ForwardRecord): Promise<void> {
    await this.#cm.store.write(FORWARD_NS.forwards, rec.id, encodeRecord(rec));
  }

  #handle(rec: ForwardRecord): InterceptedForward {
    return {
      id: rec.id,
      paymentHash: rec.paymentHash,
      inChannelId: rec.inChannelId,
      inHtlcId: rec.inHtlcId,
      inAmountMsat: rec.inAmountMsat,
      inCltvExpiry: rec.inCltvExpiry,
      requestedScid: rec.requestedScid,
      outChannelId: this.#channelByScid(rec.requestedScid)?.channelId,
      outAmountMsat: rec.outAmountMsat,
      outCltvExpiry: rec.outCltvExpiry,
      nextOnion: rec.nextOnion ?? new Uint8Array(0),
      resume: (opts) => this.resume(rec.id, opts),
      fail: (f) => this.fail(rec.id, f),
      settle: (pre) => this.settle(rec.id, pre),
    };
  }

  /** Shows a (held) forward to the interceptor, then forwards or keeps it held. */
  async #intercept(rec: ForwardRecord): Promise<void> {
    const icpt = this.#interceptor;
    let decision: 'forward' | 'hold' = 'forward';
    if (icpt) {
      try {
        decision = await icpt(this.#handle(rec));
      } catch (e) {
        this.#log.warn('forward interceptor failed', { forward: rec.id, error: String(e) });
      }
    }
    await this.#lock(rec.id, async () => {
      if (rec.status !== 'held') return; // the interceptor already acted
      if (decision === 'hold') return this.#put(rec);
      return this.#dispatch(rec, {});
    });
  }

  #expireHeld(height: number): Promise<void> {
    const due = [...this.#recs.values()].filter(
      (r) => r.status === 'held' && height >= r.inCltvExpiry - this.#heldMargin,
    );
    return Promise.all(
      due.map((r) =>
        this.#lock(r.id, async () => {
          if (r.status === 'held') await this.#failWith(r, 'expiry_too_soon');
        }).catch(() => undefined),
      ),
    ).then(() => undefined);
  }

  /** Our channel a scid designates: its real scid or the alias we gave the peer. */
  #channelByScid(scid: bigint): ChannelInfo | undefined {
    let alias: ChannelInfo | undefined;
    for (const c of this.#cm.listChannels()) {
      if (c.state === 'Closed') continue;
      if (c.shortChannelId === scid) return c;
      if (c.localAlias === scid) alias = c;
    }
    return alias;
  }

  #outChannel(rec: ForwardRecord): ChannelInfo | undefined {
    return rec.outChannelId ? this.#cm.channel(rec.outChannelId) : this.#channelByScid(rec.requestedScid);
  }

  #available(c: ChannelInfo): bigint {
    const st = this.#cm.channelState(c.channelId);
    const d = st ? fundedData(st) : undefined;
    return d ? availableBalanceForSendMsat(d.commitments) : 0n;
  }

  /** Fails upstream with one of our own failures (channel_update of the outgoing channel). */
  async #failWith(rec: ForwardRecord, failure: InterceptFailure): Promise<void> {
    const out = this.#outChannel(rec);
    const upd = (out && this.channelUpdateFor(out.channelId, rec.requestedScid)) ?? new Uint8Array(0);
    const f = failureFrom(failure, rec, this.#cm.blockHeight, upd);
    await this.#failUpstream(rec, createErrorPacket(fromHex(rec.sharedSecret), f), f.name);
  }

  /** Runs the forwarding checks and offers the outgoing HTLC (status `held` → `offered`). */
  async #dispatch(rec: ForwardRecord, opts: ResumeOptions): Promise<void> {
    const height = this.#cm.blockHeight;
    const requested = opts.channelId
      ? this.#cm.channel(opts.channelId)
      : this.#channelByScid(rec.requestedScid);
    if (!requested) return this.#failWith(rec, 'unknown_next_peer');
    const policy = this.channelPolicy(requested.channelId);
    const st = this.#cm.channelState(requested.channelId);
    const d = st ? fundedData(st) : undefined;
    const peerMin = d?.commitments.params.remote.htlcMinimumMsat ?? 1n;
    if (opts.amountMsat !== undefined) {
      if (opts.amountMsat <= 0n || opts.amountMsat > rec.inAmountMsat)
        return this.#failWith(rec, 'temporary_channel_failure');
      rec.outAmountMsat = opts.amountMsat;
      rec.feeMsat = rec.inAmountMsat - opts.amountMsat;
    } else {
      const min = policy.htlcMinimumMsat > peerMin ? policy.htlcMinimumMsat : peerMin;
      if (rec.outAmountMsat < min) return this.#failWith(rec, 'amount_below_minimum');
      // BOLT 7: fee_base_msat + amount_to_forward * fee_proportional_millionths / 1,000,000.
      const fee = forwardingFeeMsat(policy, rec.outAmountMsat);
      if (rec.inAmountMsat < rec.outAmountMsat + fee) return this.#failWith(rec, 'fee_insufficient');
    }
    // BOLT 4: "cltv_expiry - cltv_expiry_delta >= outgoing_cltv_value".
    if (rec.inCltvExpiry - rec.outCltvExpiry < policy.cltvExpiryDelta)
      return this.#failWith(rec, 'incorrect_cltv_expiry');
    if (rec.outCltvExpiry < height + this.#minOut) return this.#failWith(rec, 'expiry_too_soon');
    if (rec.outCltvExpiry > height + this.#maxOut) return this.#failWith(rec, 'expiry_too_far');
    const max = policy.htlcMaximumMsat ?? requested.capacitySat * 1000n;
    if (rec.outAmountMsat > max) return this.#failWith(rec, 'temporary_channel_failure');
    // Non-strict forwarding: the requested channel first, then others with the same peer.
    const candidates = [
      requested,
      ...this.#cm.usableChannels(requested.peer).filter((c) => c.channelId !== requested.channelId),
    ].filter(usable);
    if (candidates.length === 0) return this.#failWith(rec, 'channel_disabled');
    const onion = rec.nextOnion;
    if (!onion) return this.#failWith(rec, 'temporary_node_failure');
    for (const c of candidates) {
      if (this.#available(c) < rec.outAmountMsat) continue;
      rec.status = 'offered';
      rec.outChannelId = c.channelId;
      delete rec.outHtlcId;
      // Durable before the update_add_htlc leaves.
      await this.#put(rec);
      const fx = await this.#cm.command(c.channelId, {
        type: 'CmdAddHtlc',
        amountMsat: rec.outAmountMsat,
        paymentHash: fromHex(rec.paymentHash),
        cltvExpiry: rec.outCltvExpiry,
        onion,
      });
      const rej = fx.find((e) => e.type === 'CommandRejected');
      if (rej) {
        this.#log.debug('outgoing add refused', { forward: rec.id, channel: c.channelId });
        continue;
      }
      const sent = fx.find((e) => e.type === 'SendMessage' && e.msg.type === 'update_add_htlc');
      if (sent?.type === 'SendMessage' && sent.msg.type === 'update_add_htlc') {
        rec.outHtlcId = sent.msg.id;
        this.#byOut.set(fwdId(c.channelId, sent.msg.id), rec.id);
      }
      delete rec.nextOnion;
      await this.#put(rec);
      await this.#cm.command(c.channelId, { type: 'CmdSign' });
      return;
    }
    rec.status = 'held';
    return this.#failWith(rec, 'temporary_channel_failure');
  }

  /** Records the failure durably, then sends it upstream (unless that channel is closing). */
  async #failUpstream(rec: ForwardRecord, packet: Uint8Array, reason: string): Promise<void> {
    rec.status = 'failed';
    rec.failureReason = reason;
    rec.upstreamFailure = packet;
    rec.resolvedAt = this.#cm.clock.now();
    delete rec.nextOnion;
    await this.#put(rec);
    await this.#sendFail(rec);
  }

  async #sendFail(rec: ForwardRecord): Promise<void> {
    const st = this.#cm.channelState(rec.inChannelId);
    if (!st || st.kind === 'Closing' || st.kind === 'Closed' || !rec.upstreamFailure) return;
    const fx = await this.#cm.command(rec.inChannelId, {
      type: 'CmdFail',
      id: rec.inHtlcId,
      reason: rec.upstreamFailure,
    });
    const rej = fx.find((e) => e.type === 'CommandRejected');
    if (rej?.type === 'CommandRejected')
      this.#log.debug('upstream fail refused', { forward: rec.id, code: rej.error.code });
    await this.#cm.command(rec.inChannelId, { type: 'CmdSign' });
  }

  /** Records the preimage durably, then fulfills upstream at once (or hands it to the monitor). */
  async #settleUpstream(rec: ForwardRecord, preimage: Uint8Array): Promise<void> {
    rec.status = 'settled';
    rec.preimage = toHex(preimage);
    rec.resolvedAt = this.#cm.clock.now();
    delete rec.nextOnion;
    await this.#put(rec);
    await this.#sendFulfill(rec);
  }

  async #sendFulfill(rec: ForwardRecord): Promise<void> {
    if (!rec.preimage) return;
    const preimage = fromHex(rec.preimage);
    const hash = fromHex(rec.paymentHash);
    const st = this.#cm.channelState(rec.inChannelId);
    if (!st || st.kind === 'Closed') return;
    if (st.kind === 'Closing') {
      await this.#cm.providePreimage(rec.inChannelId, hash, preimage);
      return;
    }
    const fx = await this.#cm.command(rec.inChannelId, { type: 'CmdFulfill', id: rec.inHtlcId, preimage });
    const rej = fx.find((e) => e.type === 'CommandRejected');
    if (rej?.type === 'CommandRejected') {
      this.#log.debug('upstream fulfill refused', { forward: rec.id, code: rej.error.code });
      const now = this.#cm.channelState(rec.inChannelId);
      if (now?.kind === 'Closing') await this.#cm.providePreimage(rec.inChannelId, hash, preimage);
      return;
    }
    await this.#cm.command(rec.inChannelId, { type: 'CmdSign' });
  }

  /** The forward owning an outgoing HTLC (adopting it by hash when its id was not recorded yet). */
  #findOut(cid: string, htlcId: bigint, hash: Uint8Array): ForwardRecord | undefined {
    const key = fwdId(cid.toLowerCase(), htlcId);
    const id = this.#byOut.get(key);
    if (id) return this.#recs.get(id);
    const h = toHex(hash);
    for (const r of this.#recs.values()) {
      if (
        r.status === 'offered' &&
        r.outChannelId === cid &&
        r.outHtlcId === undefined &&
        r.paymentHash === h
      ) {
        r.outHtlcId = htlcId;
        this.#byOut.set(key, r.id);
        return r;
      }
    }
    return undefined;
  }

  #incomingUnresolved(rec: ForwardRecord): boolean {
    const st = this.#cm.channelState(rec.inChannelId);
    return st ? unresolvedIncomingHtlcs(st).some((h) => h.id === rec.inHtlcId) : false;
  }

  async #recoverOne(rec: ForwardRecord): Promise<void> {
    switch (rec.status) {
      case 'settled':
        if (this.#incomingUnresolved(rec)) await this.#sendFulfill(rec);
        else {
          const st = this.#cm.channelState(rec.inChannelId);
          if (st?.kind === 'Closing') await this.#sendFulfill(rec);
        }
        return;
      case 'failed':
        if (this.#incomingUnresolved(rec)) await this.#sendFail(rec);
        return;
      case 'held':
        return;
      case 'offered': {
        const outId = rec.outChannelId;
        const st = outId ? this.#cm.channelState(outId) : undefined;
        if (!outId || !st) return this.#failWith(rec, 'temporary_channel_failure');
        if (rec.outHtlcId === undefined) {
          const taken = new Set(
            [...this.#recs.values()]
              .filter((r) => r !== rec && r.outChannelId === outId && r.outHtlcId !== undefined)
              .map((r) => r.outHtlcId),
          );
          const found = offeredHtlcs(st).find(
            (h) =>
              !taken.has(h.id) &&
              toHex(h.paymentHash) === rec.paymentHash &&
              h.amountMsat === rec.outAmountMsat &&
              h.cltvExpiry === rec.outCltvExpiry,
          );
          if (!found) return this.#failWith(rec, 'temporary_channel_failure');
          rec.outHtlcId = found.id;
          delete rec.nextOnion;
          await this.#put(rec);
        }
        this.#byOut.set(fwdId(outId, rec.outHtlcId), rec.id);
        if (outgoingHtlcPresent(st, rec.outHtlcId)) return;
        // Gone while we were down: fulfilled (its preimage is in the channel's monitor updates)
        // or failed (the reason is lost: a temporary failure of ours goes upstream).
        for (const u of await this.#cm.monitorUpdates(outId)) {
          if (u.update.type === 'Preimage' && toHex(u.update.paymentHash) === rec.paymentHash)
            return this.#settleUpstream(rec, u.update.preimage);
        }
        return this.#failWith(rec, 'temporary_channel_failure');
      }
    }
  }
}
