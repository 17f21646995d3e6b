/**
 * Payments over direct channels (BOLT 11 invoices, BOLT 4 single-hop onions, BOLT 2 HTLCs).
 *
 * Receiving: {@link PaymentManager.createInvoice} draws a random preimage and payment secret,
 * stores them (namespace `invoices`) and returns a BOLT 11 invoice signed by the node key
 * (features: var_onion_optin and payment_secret required, basic_mpp optional). When an HTLC is
 * irrevocably committed to us (`HtlcReceived`), its onion is peeled with the node key and the
 * BOLT 4 final-node checks run: known payment hash, matching `payment_secret`, amount at least
 * the invoice's, `amt_to_forward` not above the HTLC amount, `outgoing_cltv_value` not above the
 * HTLC expiry, expiry at least `height + min_final_cltv_expiry_delta`, invoice not expired or
 * already paid by another HTLC. A good HTLC is claimed: the claim (invoice paid, incoming
 * payment record, `PaymentReceived` event) is durably stored, THEN `CmdFulfill` + `CmdSign`. A
 * bad one gets `CmdFail` with `incorrect_or_unknown_payment_details` (or the onion error).
 * Multi-part payments are not collected yet: an HTLC that is only a part of its total fails.
 *
 * Sending: {@link PaymentManager.pay} decodes and checks the invoice (signature, network,
 * expiry), picks a `Normal` channel with the payee, builds a one-hop onion (final payload:
 * `amt_to_forward`, `outgoing_cltv_value`, `payment_data{secret, total}`), stores the pending
 * payment and sends `CmdAddHtlc` + `CmdSign`; it resolves when the HTLC is fulfilled (preimage)
 * or failed. Records live in `payments-out` / `payments-in`; fee is 0 on direct channels.
 *
 * Restart: incoming HTLCs still unresolved in a channel are claimed again if their invoice
 * records the claim (the onion is not stored: an unclaimed one is claimed by its payment hash
 * alone when the invoice matches, otherwise failed); pending outgoing payments whose HTLC is
 * gone from the channel are settled from the stored preimage, or marked failed.
 */

import type { HtlcFailure } from '../../core/channel/index.js';
import { sha256 } from '../../protocol/crypto/hash.js';
import { secp } from '../../protocol/crypto/secp256k1.js';
import { equal, fromHex, toHex } from '../../protocol/encoding/bytes.js';
import { DecodeError, FaradError } from '../../protocol/errors.js';
import { Feature } from '../../protocol/features.js';
import {
  type Bolt11Invoice,
  type Bolt11Network,
  DEFAULT_MIN_FINAL_CLTV_EXPIRY_DELTA,
  decodeInvoice,
  encodeInvoice,
  isInvoiceExpired,
} from '../../protocol/invoice/index.js';
import {
  computeHopKeys,
  createErrorPacket,
  createOnionPacket,
  decryptErrorPacket,
  encodePaymentPayload,
  type FailureMessage,
  OnionBlindingError,
  OnionPayloadError,
  OnionPeelError,
  peelOnion,
} from '../../protocol/onion/index.js';
import type { UpdateAddHtlc } from '../../protocol/wire/messages.js';
import { decodeRecord, encodeRecord } from '../channels/codec.js';
import { type ChannelManager, outgoingHtlcPresent, unresolvedIncomingHtlcs } from '../channels/manager.js';
import type { NodeKeys } from '../keys/index.js';
import type { StoreOp } from '../ports/store.js';

/** Store namespaces of the payment layer. */
export const PAYMENT_NS = {
  invoices: 'invoices',
  outgoing: 'payments-out',
  incoming: 'payments-in',
} as const;

/** A stored invoice. */
export interface InvoiceRecord {
  paymentHash: string;
  preimage: string;
  paymentSecret: string;
  /** null: any amount. */
  amountMsat: bigint | null;
  description: string;
  /** Unix seconds. */
  createdAt: number;
  expiry: number;
  minFinalCltvExpiryDelta: number;
  bolt11: string;
  status: 'open' | 'paid';
  paidMsat?: bigint;
  /** The HTLC that paid it. */
  claim?: { channelId: string; htlcId: bigint };
}

/** A payment (either direction). */
export interface PaymentRecord {
  paymentHash: string;
  direction: 'outgoing' | 'incoming';
  status: 'pending' | 'succeeded' | 'failed';
  amountMsat: bigint;
  feeMsat: bigint;
  preimage?: string;
  bolt11?: string;
  /** The other node (payee for outgoing). */
  peer?: string;
  channelId?: string;
  htlcId?: bigint;
  /** Milliseconds since the epoch. */
  createdAt: number;
  settledAt?: number;
  failureReason?: string;
  /** Incoming: how the HTLC ended on chain after a force close (set by the chain monitor). */
  resolvedOnChain?: 'claimed' | 'timedOut';
  /** Outgoing: onion session key (hex), to decrypt a returned error. */
  sessionKey?: string;
}

/** Options of {@link PaymentManager}. */
export interface PaymentManagerOptions {
  channels: ChannelManager;
  keys: NodeKeys;
  /** Default `min_final_cltv_expiry_delta` of our invoices (default 18, the BOLT 11 default; at least 18). */
  minFinalCltvExpiryDelta?: number;
  /** Default invoice expiry in seconds (3600). */
  defaultExpiry?: number;
  /** Blocks added to the payee's `min_final_cltv_expiry_delta` when paying (default 3). */
  cltvSafetyMargin?: number;
}

/**
 * Payment errors thrown before an HTLC is sent: `INVOICE_INVALID`, `INVOICE_WRONG_NETWORK`,
 * `INVOICE_EXPIRED`, `AMOUNT_REQUIRED`, `AMOUNT_TOO_LOW`, `PAYMENT_IN_PROGRESS`,
 * `ALREADY_PAID`, `NO_ROUTE` (no usable channel with the payee), `SELF_PAYMENT`.
 */
export class PaymentError extends FaradError {
  override name = 'PaymentError';
}

function bolt11Network(n: string): Bolt11Network {
  return n === 'mainnet' ? 'bitcoin' : (n as Bolt11Network);
}

interface Waiter {
  resolve: (p: PaymentRecord) => void;
}

/** See the module documentation. */
export class PaymentManager {
  readonly #cm: ChannelManager;
  readonly #keys: NodeKeys;
  readonly #network: Bolt11Network;
  readonly #minFinal: number;
  readonly #expiry: number;
  readonly #margin: number;
  readonly #invoices = new Map<string, InvoiceRecord>();
  readonly #out = new Map<string, PaymentRecord>();
  readonly #in = new Map<string, PaymentRecord>();
  readonly #waiters = new Map<string, Waiter[]>();
  #loaded = false;

  /** Installs itself as the channel manager's HTLC hooks. Call {@link load} before the manager starts. */
  constructor(opts: PaymentManagerOptions) {
    this.#cm = opts.channels;
    this.#keys = opts.keys;
    this.#network = bolt11Network(opts.channels.wallet.network);
    this.#minFinal = Math.max(DEFAULT_MIN_FINAL_CLTV_EXPIRY_DELTA, opts.minFinalCltvExpiryDelta ?? 18);
    this.#expiry = opts.defaultExpiry ?? 3600;
    this.#margin = opts.cltvSafetyMargin ?? 3;
    this.#cm.setHtlcHooks({
      htlcReceived: (cid, add, mustFail) => this.#onHtlcReceived(cid, add, mustFail),
      htlcFulfilled: (cid, id, hash, preimage) => this.#onFulfilled(cid, id, hash, preimage),
      htlcFailed: (cid, id, hash, failure) => this.#onFailed(cid, id, hash, failure),
    });
  }

  /** Loads invoices and payments from the store. */
  async load(): Promise<void> {
    const store = this.#cm.store;
    for (const [ns, map] of [
      [PAYMENT_NS.invoices, this.#invoices],
      [PAYMENT_NS.outgoing, this.#out],
      [PAYMENT_NS.incoming, this.#in],
    ] as const) {
      for (const k of await store.list(ns)) {
        const v = await store.read(ns, k);
        if (v) (map as Map<string, unknown>).set(k, decodeRecord(v));
      }
    }
    this.#loaded = true;
  }

  /**
   * After the channel manager started: claims incoming HTLCs left unresolved by a restart and
   * settles outgoing payments whose HTLC disappeared.
   */
  async recover(): Promise<void> {
    for (const ch of this.#cm.listChannels()) {
      const st = this.#cm.channelState(ch.channelId);
      if (!st) continue;
      for (const h of unresolvedIncomingHtlcs(st)) await this.#recoverIncoming(ch.channelId, h);
    }
    for (const p of [...this.#out.values()]) {
      if (p.status !== 'pending') continue;
      const st = p.channelId ? this.#cm.channelState(p.channelId) : undefined;
      if (st && p.htlcId !== undefined && outgoingHtlcPresent(st, p.htlcId)) continue;
      const preimage = p.channelId ? await this.#storedPreimage(p.channelId, p.paymentHash) : undefined;
      if (preimage) await this.#settleOut(p.paymentHash, { preimage });
      else await this.#settleOut(p.paymentHash, { reason: 'HTLC not committed before a restart' });
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Invoices

  /** Creates and stores an invoice; `amountMsat` undefined/null for "any amount". */
  async createInvoice(
    opts: {
      amountMsat?: bigint | null;
      description?: string;
      expiry?: number;
      minFinalCltvExpiryDelta?: number;
    } = {},
  ): Promise<InvoiceRecord> {
    this.#checkLoaded();
    const preimage = this.#cm.random(32);
    const secret = this.#cm.random(32);
    const hash = sha256(preimage);
    const now = Math.floor(this.#cm.clock.now() / 1000);
    const expiry = opts.expiry ?? this.#expiry;
    const minFinal = Math.max(18, opts.minFinalCltvExpiryDelta ?? this.#minFinal);
    const description = opts.description ?? '';
    const bolt11 = encodeInvoice(
      {
        network: this.#network,
        amountMsat: opts.amountMsat ?? null,
        timestamp: now,
        fields: [
          { kind: 'payment_hash', value: hash },
          { kind: 'payment_secret', value: secret },
          { kind: 'description', value: description },
          { kind: 'expiry', value: expiry },
          { kind: 'min_final_cltv_expiry_delta', value: minFinal },
          // BOLT 11: var_onion_optin and payment_secret required (even bits), basic_mpp optional.
          {
            kind: 'features',
            value: [Feature.var_onion_optin, Feature.payment_secret, Feature.basic_mpp + 1],
          },
          { kind: 'payee', value: this.#keys.nodePublicKey },
        ],
      },
      this.#keys.nodeSecretKey,
    );
    const rec: InvoiceRecord = {
      paymentHash: toHex(hash),
      preimage: toHex(preimage),
      paymentSecret: toHex(secret),
      amountMsat: opts.amountMsat ?? null,
      description,
      createdAt: now,
      expiry,
      minFinalCltvExpiryDelta: minFinal,
      bolt11,
      status: 'open',
    };
    await this.#cm.store.write(PAYMENT_NS.invoices, rec.paymentHash, encodeRecord(rec));
    this.#invoices.set(rec.paymentHash, rec);
    return rec;
  }

  /** One invoice by payment hash (hex). */
  invoice(paymentHash: string): InvoiceRecord | undefined {
    return this.#invoices.get(paymentHash.toLowerCase());
  }

  /** Every invoice. */
  listInvoices(): InvoiceRecord[] {
    return [...this.#invoices.values()].sort((a, b) => a.createdAt - b.createdAt);
  }

  // ---------------------------------------------------------------------------------------------
  // Sending

  /**
   * Pays a BOLT 11 invoice over a direct channel with its payee. Throws {@link PaymentError}
   * when nothing was sent; otherwise resolves with the final record (`succeeded` with the
   * preimage, or `failed` with a reason).
   */
  async pay(bolt11: string, opts: { amountMsat?: bigint } = {}): Promise<PaymentRecord> {
    this.#checkLoaded();
    let inv: Bolt11Invoice;
    try {
      inv = decodeInvoice(bolt11.trim());
    } catch (e) {
      if (e instanceof DecodeError)
        throw new PaymentError('INVOICE_INVALID', 'invalid invoice', { details: e.message, cause: e });
      throw e;
    }
    if (inv.network !== this.#network)
      throw new PaymentError(
        'INVOICE_WRONG_NETWORK',
        `invoice is for ${inv.network}, node is on ${this.#network}`,
      );
    if (isInvoiceExpired(inv, Math.floor(this.#cm.clock.now() / 1000)))
      throw new PaymentError('INVOICE_EXPIRED', 'invoice expired');
    if (!inv.paymentSecret) throw new PaymentError('INVOICE_INVALID', 'invoice has no payment secret');
    const amount = opts.amountMsat ?? inv.amountMsat;
    if (amount === null || amount === undefined)
      throw new PaymentError('AMOUNT_REQUIRED', 'the invoice has no amount: give one');
    if (amount <= 0n) throw new PaymentError('AMOUNT_TOO_LOW', 'amount must be positive');
    if (inv.amountMsat !== null && amount < inv.amountMsat)
      throw new PaymentError('AMOUNT_TOO_LOW', 'amount below the invoice amount');
    const payee = toHex(inv.payee);
    if (payee === this.#keys.nodeId) throw new PaymentError('SELF_PAYMENT', 'cannot pay our own invoice');
    const hash = toHex(inv.paymentHash);
    const prev = this.#out.get(hash);
    if (prev?.status === 'pending')
      throw new PaymentError('PAYMENT_IN_PROGRESS', 'a payment of this invoice is in flight');
    if (prev?.status === 'succeeded') throw new PaymentError('ALREADY_PAID', 'invoice already paid');
    const channels = this.#cm.usableChannels(payee);
    if (channels.length === 0)
      throw new PaymentError('NO_ROUTE', 'no usable channel with the payee', { details: payee });

    let sessionKey: Uint8Array;
    do sessionKey = this.#cm.random(32);
    while (!secp().isPrivateKey(sessionKey));
    const cltv = this.#cm.blockHeight + inv.minFinalCltvExpiryDelta + this.#margin;
    const payload = encodePaymentPayload({
      amtToForward: amount,
      outgoingCltvValue: cltv,
      paymentData: { paymentSecret: inv.paymentSecret, totalMsat: amount },
    });
    const onion = createOnionPacket({
      sessionKey,
      hops: [{ pubkey: inv.payee, payload }],
      associatedData: inv.paymentHash,
    }).packet;
    const rec: PaymentRecord = {
      paymentHash: hash,
      direction: 'outgoing',
      status: 'pending',
      amountMsat: amount,
      feeMsat: 0n,
      bolt11,
      peer: payee,
      createdAt: this.#cm.clock.now(),
      sessionKey: toHex(sessionKey),
    };
    this.#out.set(hash, rec);
    const done = new Promise<PaymentRecord>((resolve) => {
      const list = this.#waiters.get(hash) ?? [];
      list.push({ resolve });
      this.#waiters.set(hash, list);
    });
    let lastError = 'no channel accepted the HTLC';
    try {
      await this.#putOut(rec);
      for (const ch of channels) {
        const fx = await this.#cm.command(ch.channelId, {
          type: 'CmdAddHtlc',
          amountMsat: amount,
          paymentHash: inv.paymentHash,
          cltvExpiry: cltv,
          onion,
        });
        const rej = fx.find((e) => e.type === 'CommandRejected');
        if (rej?.type === 'CommandRejected') {
          lastError = `${rej.error.code}: ${rej.error.message}`;
          continue;
        }
        const sent = fx.find((e) => e.type === 'SendMessage' && e.msg.type === 'update_add_htlc');
        const id =
          sent?.type === 'SendMessage' && sent.msg.type === 'update_add_htlc' ? sent.msg.id : undefined;
        const cur = this.#out.get(hash);
        if (cur && cur.status === 'pending') {
          cur.channelId = ch.channelId;
          if (id !== undefined) cur.htlcId = id;
          // Durable before the HTLC is committed: a restart (or the chain monitor) must find
          // the payment by its channel and HTLC id.
          await this.#putOut(cur);
        }
        await this.#cm.command(ch.channelId, { type: 'CmdSign' });
        return done;
      }
    } catch (e) {
      lastError = e instanceof Error ? e.message : String(e);
    }
    await this.#settleOut(hash, { reason: lastError });
    return done;
  }

  /**
   * BOLT 5: an HTLC of `channelId` was resolved on chain (called by the chain monitor, see
   * src/node/monitor). An outgoing payment (`offered`) is settled with the preimage the chain
   * revealed, or failed once its timeout is final; an incoming one (`received`) is marked as
   * claimed on chain (`resolvedOnChain`), or failed when it timed out before we could claim it.
   * Idempotent.
   */
  async htlcResolvedOnChain(
    channelId: string,
    r: {
      direction: 'offered' | 'received';
      htlcId: bigint;
      paymentHash: Uint8Array;
      preimage: Uint8Array | undefined;
    },
  ): Promise<void> {
    const cid = channelId.toLowerCase();
    const hash = toHex(r.paymentHash);
    const matches = (p: PaymentRecord) =>
      (p.channelId === undefined || p.channelId === cid) && (p.htlcId === undefined || p.htlcId === r.htlcId);
    if (r.direction === 'offered') {
      const rec = this.#out.get(hash);
      if (rec?.status !== 'pending' || !matches(rec)) return;
      if (r.preimage && equal(sha256(r.preimage), r.paymentHash))
        await this.#settleOut(hash, { preimage: r.preimage });
      else await this.#settleOut(hash, { reason: 'HTLC timed out on chain' });
      return;
    }
    const rec = this.#in.get(hash);
    if (!rec || !matches(rec) || rec.resolvedOnChain !== undefined) return;
    const next: PaymentRecord =
      r.preimage !== undefined
        ? { ...rec, resolvedOnChain: 'claimed' }
        : {
            ...rec,
            resolvedOnChain: 'timedOut',
            status: 'failed',
            failureReason: 'HTLC timed out on chain before it was claimed',
          };
    this.#in.set(hash, next);
    await this.#cm.store.write(PAYMENT_NS.incoming, hash, encodeRecord(next));
  }

  /** One payment by hash (outgoing first). */
  payment(paymentHash: string): PaymentRecord | undefined {
    const h = paymentHash.toLowerCase();
    return this.#out.get(h) ?? this.#in.get(h);
  }

  /** Every payment, oldest first. */
  listPayments(): PaymentRecord[] {
    return [...this.#out.values(), ...this.#in.values()]
      .map(({ sessionKey: _s, ...r }) => r as PaymentRecord)
      .sort((a, b) => a.createdAt - b.createdAt);
  }

  // ---------------------------------------------------------------------------------------------
  // Internals

  #checkLoaded(): void {
    if (!this.#loaded) throw new PaymentError('NOT_LOADED', 'payment manager not loaded');
  }

  async #putOut(rec: PaymentRecord): Promise<void> {
    await this.#cm.store.write(PAYMENT_NS.outgoing, rec.paymentHash, encodeRecord(rec));
  }

  async #settleOut(hash: string, r: { preimage: Uint8Array } | { reason: string }): Promise<void> {
    const rec = this.#out.get(hash);
    if (rec?.status !== 'pending') return;
    const now = this.#cm.clock.now();
    let next: PaymentRecord;
    const ops: StoreOp[] = [];
    if ('preimage' in r) {
      next = { ...rec, status: 'succeeded', preimage: toHex(r.preimage), settledAt: now };
    } else next = { ...rec, status: 'failed', failureReason: r.reason, settledAt: now };
    this.#out.set(hash, next);
    ops.push({ op: 'put', namespace: PAYMENT_NS.outgoing, key: hash, value: encodeRecord(next) });
    const ev = this.#cm.events.prepare(
      next.status === 'succeeded'
        ? {
            type: 'PaymentSent',
            paymentHash: hash,
            preimage: next.preimage!,
            amountMsat: next.amountMsat,
            feeMsat: 0n,
          }
        : { type: 'PaymentFailed', paymentHash: hash, reason: next.failureReason ?? 'failed' },
    );
    ops.push(ev.op);
    await this.#cm.store.batch(ops);
    ev.deliver();
    const { sessionKey: _s, ...pub } = next;
    for (const w of this.#waiters.get(hash) ?? []) w.resolve(pub as PaymentRecord);
    this.#waiters.delete(hash);
  }

  async #onFulfilled(_cid: string, _id: bigint, hash: Uint8Array, preimage: Uint8Array): Promise<void> {
    if (!equal(sha256(preimage), hash)) return;
    await this.#settleOut(toHex(hash), { preimage });
  }

  async #onFailed(cid: string, id: bigint, hash: Uint8Array, failure: HtlcFailure): Promise<void> {
    const h = toHex(hash);
    const rec = this.#out.get(h);
    if (rec?.status !== 'pending') return;
    if (
      rec.channelId !== undefined &&
      (rec.channelId !== cid || (rec.htlcId !== undefined && rec.htlcId !== id))
    )
      return;
    let reason: string;
    if (failure.kind === 'local') reason = `${failure.error.code}: ${failure.error.message}`;
    else if (failure.kind === 'malformed') reason = `malformed onion (code ${failure.failureCode})`;
    else {
      reason = 'failed at the payee (unreadable error)';
      if (rec.sessionKey && rec.peer) {
        const keys = computeHopKeys(fromHex(rec.sessionKey), [fromHex(rec.peer)]);
        const d = decryptErrorPacket(
          failure.reason,
          keys.map((k) => k.sharedSecret),
        );
        if (d.attributed) reason = d.failure ? d.failure.name : 'failed at the payee';
      }
    }
    await this.#settleOut(h, { reason });
  }

  async #fail(
    cid: string,
    add: UpdateAddHtlc,
    ss: Uint8Array | undefined,
    failure: FailureMessage,
  ): Promise<void> {
    // Without the onion shared secret (restart recovery) the reason cannot be encrypted for the
    // payer; an unreadable 292-byte reason still removes the HTLC.
    const reason = ss ? createErrorPacket(ss, failure) : this.#cm.random(292);
    await this.#cm.command(cid, { type: 'CmdFail', id: add.id, reason });
    await this.#cm.command(cid, { type: 'CmdSign' });
  }

  async #onHtlcReceived(cid: string, add: UpdateAddHtlc, mustFail: boolean): Promise<void> {
    const height = this.#cm.blockHeight;
    const unknown: FailureMessage = {
      name: 'incorrect_or_unknown_payment_details',
      htlcMsat: add.amountMsat,
      height,
    };
    let peeled: ReturnType<typeof peelOnion>;
    try {
      peeled = peelOnion(
        add.onionRoutingPacket,
        this.#keys.nodeSecretKey,
        add.paymentHash,
        add.blindingPoint !== undefined ? { blindingPoint: add.blindingPoint } : {},
      );
    } catch (e) {
      if (e instanceof OnionPayloadError)
        return this.#fail(cid, add, e.sharedSecret, {
          name: 'invalid_onion_payload',
          tlvType: e.tlvType ?? 0n,
          offset: e.offset ?? 0,
        });
      if (e instanceof OnionBlindingError && e.sharedSecret)
        return this.#fail(cid, add, e.sharedSecret, {
          name: 'invalid_onion_blinding',
          sha256OfOnion: e.sha256OfOnion,
        });
      if (e instanceof OnionPeelError) {
        await this.#cm.command(cid, {
          type: 'CmdFailMalformed',
          id: add.id,
          sha256OfOnion: e.sha256OfOnion,
          failureCode: e.failureCode,
        });
        await this.#cm.command(cid, { type: 'CmdSign' });
        return;
      }
      throw e;
    }
    const ss = peeled.sharedSecret;
    if (mustFail) return this.#fail(cid, add, ss, { name: 'temporary_node_failure' });
    // No forwarding yet: only payments to us.
    if (!peeled.final) return this.#fail(cid, add, ss, { name: 'unknown_next_peer' });
    const p = peeled.payload;
    // BOLT 4 final node: "if the amt_to_forward is greater than the incoming htlc amount: final_incorrect_htlc_amount".
    if (p.amtToForward === undefined || p.outgoingCltvValue === undefined)
      return this.#fail(cid, add, ss, { name: 'invalid_onion_payload', tlvType: 2n, offset: 0 });
    if (p.amtToForward > add.amountMsat)
      return this.#fail(cid, add, ss, {
        name: 'final_incorrect_htlc_amount',
        incomingHtlcAmt: add.amountMsat,
      });
    // "if the outgoing_cltv_value ... is greater than cltv_expiry: final_incorrect_cltv_expiry".
    if (p.outgoingCltvValue > add.cltvExpiry)
      return this.#fail(cid, add, ss, { name: 'final_incorrect_cltv_expiry', cltvExpiry: add.cltvExpiry });
    const hash = toHex(add.paymentHash);
    const inv = this.#invoices.get(hash);
    if (!inv) return this.#fail(cid, add, ss, unknown);
    if (inv.status === 'paid') {
      if (inv.claim && inv.claim.channelId === cid && inv.claim.htlcId === add.id)
        return this.#fulfill(cid, add.id, inv);
      return this.#fail(cid, add, ss, unknown);
    }
    // "MUST fail the HTLC if ... payment_secret doesn't match".
    if (!p.paymentData || toHex(p.paymentData.paymentSecret) !== inv.paymentSecret)
      return this.#fail(cid, add, ss, unknown);
    // No multi-part collection: the HTLC must carry the whole total.
    if (p.paymentData.totalMsat > add.amountMsat) return this.#fail(cid, add, ss, { name: 'mpp_timeout' });
    if (inv.amountMsat !== null && add.amountMsat < inv.amountMsat) return this.#fail(cid, add, ss, unknown);
    // "if the cltv_expiry value is unreasonably near the present: incorrect_or_unknown_payment_details".
    if (add.cltvExpiry < height + inv.minFinalCltvExpiryDelta) return this.#fail(cid, add, ss, unknown);
    const nowSec = Math.floor(this.#cm.clock.now() / 1000);
    if (isInvoiceExpired({ timestamp: inv.createdAt, expiry: inv.expiry }, nowSec))
      return this.#fail(cid, add, ss, unknown);
    await this.#claim(cid, add.id, add.amountMsat, inv);
  }

  /** Durably records the claim (invoice paid + incoming payment + event), then fulfills. */
  async #claim(cid: string, htlcId: bigint, amountMsat: bigint, inv: InvoiceRecord): Promise<void> {
    const now = this.#cm.clock.now();
    const paid: InvoiceRecord = {
      ...inv,
      status: 'paid',
      paidMsat: amountMsat,
      claim: { channelId: cid, htlcId },
    };
    const rec: PaymentRecord = {
      paymentHash: inv.paymentHash,
      direction: 'incoming',
      status: 'succeeded',
      amountMsat,
      feeMsat: 0n,
      preimage: inv.preimage,
      bolt11: inv.bolt11,
      channelId: cid,
      htlcId,
      createdAt: now,
      settledAt: now,
    };
    const ev = this.#cm.events.prepare({
      type: 'PaymentReceived',
      paymentHash: inv.paymentHash,
      amountMsat,
      channelId: cid,
    });
    this.#invoices.set(inv.paymentHash, paid);
    this.#in.set(inv.paymentHash, rec);
    await this.#cm.store.batch([
      { op: 'put', namespace: PAYMENT_NS.invoices, key: inv.paymentHash, value: encodeRecord(paid) },
      { op: 'put', namespace: PAYMENT_NS.incoming, key: inv.paymentHash, value: encodeRecord(rec) },
      ev.op,
    ]);
    ev.deliver();
    await this.#fulfill(cid, htlcId, paid);
  }

  async #fulfill(cid: string, htlcId: bigint, inv: InvoiceRecord): Promise<void> {
    await this.#cm.command(cid, { type: 'CmdFulfill', id: htlcId, preimage: fromHex(inv.preimage) });
    await this.#cm.command(cid, { type: 'CmdSign' });
  }

  async #recoverIncoming(
    cid: string,
    h: { id: bigint; paymentHash: Uint8Array; amountMsat: bigint; cltvExpiry: number },
  ): Promise<void> {
    const inv = this.#invoices.get(toHex(h.paymentHash));
    const add = { id: h.id, amountMsat: h.amountMsat } as UpdateAddHtlc;
    if (!inv) return this.#fail(cid, add, undefined, { name: 'temporary_node_failure' });
    if (inv.status === 'paid') {
      if (inv.claim?.channelId === cid && inv.claim.htlcId === h.id) return this.#fulfill(cid, h.id, inv);
      return this.#fail(cid, add, undefined, { name: 'temporary_node_failure' });
    }
    if (inv.amountMsat !== null && h.amountMsat < inv.amountMsat)
      return this.#fail(cid, add, undefined, { name: 'temporary_node_failure' });
    await this.#claim(cid, h.id, h.amountMsat, inv);
  }

  async #storedPreimage(cid: string, hash: string): Promise<Uint8Array | undefined> {
    for (const u of await this.#cm.monitorUpdates(cid)) {
      if (u.update.type === 'Preimage' && toHex(u.update.paymentHash) === hash) return u.update.preimage;
    }
    return undefined;
  }
}
