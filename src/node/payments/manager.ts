/**
 * Payments across the network (BOLT 11 invoices, BOLT 4 onions and failures, BOLT 2 HTLCs,
 * BOLT 7 pathfinding through src/core/router), and the entry point of every incoming HTLC.
 *
 * Incoming HTLCs: when an HTLC is irrevocably committed to us (`HtlcReceived`) its onion is
 * peeled with the node key. A malformed packet gets `update_fail_malformed_htlc`, a bad payload
 * `invalid_onion_payload`. A packet for a next hop goes to the attached forwarder
 * ({@link HtlcForwarder}, src/node/forwarding; without one: `unknown_next_peer`). For us, the
 * BOLT 4 final-node checks run: `amt_to_forward` not above the HTLC amount
 * (`final_incorrect_htlc_amount`), `outgoing_cltv_value` not above its expiry
 * (`final_incorrect_cltv_expiry`), then — answered with `incorrect_or_unknown_payment_details` —
 * a known payment hash, the matching `payment_secret`, `total_msat` at least the invoice amount,
 * expiry at least `height + min_final_cltv_expiry_delta`, invoice neither expired nor paid.
 *
 * Multi-part (basic_mpp): HTLCs of one payment hash form a set; the set must agree on
 * `total_msat`; it is held until its amounts reach `total_msat`, then claimed as a whole — or
 * failed as a whole with `mpp_timeout` after {@link PaymentManagerOptions.mppTimeoutMs} (60 s,
 * timers from the injected clock). A claim (invoice paid, incoming payment, `PaymentReceived`
 * event) is durably stored BEFORE any `update_fulfill_htlc`.
 *
 * Hold invoices ({@link PaymentManager.createHoldInvoice}): the complete set is accepted and
 * kept (invoice `accepted`, the HTLCs and their onion secrets stored) until
 * {@link PaymentManager.settleInvoice} (the preimage) or {@link PaymentManager.cancelInvoice}.
 *
 * Keysend (bLIP-3, when `acceptKeysend`): an HTLC without invoice whose final payload carries the
 * preimage (record 5482373484) with `sha256(preimage) = payment_hash` is claimed.
 *
 * Sending ({@link PaymentManager.pay}, {@link PaymentManager.keysend}): routes come from
 * `findRoute` over the graph with our channels as first hops (their exact sendable balance) and
 * the invoice's route hints, within max fee and max CLTV. When no single route can carry the
 * amount and the payee supports basic_mpp, `splitPayment` splits it; every part carries the
 * same hash, secret and `total_msat`. Each part (route, session key, first HTLC) is stored
 * before its `update_add_htlc` leaves. A failed part is attributed (`decryptErrorPacket`), the
 * scorer learns from it (liquidity bounds), the graph applies a returned `channel_update`,
 * `retryDecision` says what to avoid, and the missing amount is routed again — until success,
 * a final failure, or the attempt/time limits (then the payment fails once no part is in flight).
 * The first preimage settles the payment. {@link PaymentManager.probe} sends an HTLC with a
 * random hash and reports whether it reached the destination.
 *
 * Restart ({@link PaymentManager.recover}): forwards first (the forwarder), then incoming HTLCs
 * still unresolved are fulfilled when their claim is recorded, kept when they belong to an
 * accepted hold invoice, claimed again by hash when the invoice matches, otherwise failed;
 * pending outgoing parts are found again in their channel (by HTLC id, or by hash/amount/expiry),
 * settled from a stored preimage, or failed. Retries do not resume after a restart.
 */
import type { HtlcFailure } from '../../core/channel/index.js';
import { NetworkGraph } from '../../core/gossip/graph.js';
import { findRoute } from '../../core/router/find-route.js';
import { splitPayment } from '../../core/router/mpp.js';
import { retryDecision } from '../../core/router/retry.js';
import { ProbabilisticScorer } from '../../core/router/scorer.js';
import type { ChannelExclusion, FindRouteParams, Route } from '../../core/router/types.js';
import { sha256 } from '../../protocol/crypto/hash.js';
import { secp } from '../../protocol/crypto/secp256k1.js';
import { equal, fromHex, toHex } from '../../protocol/encoding/bytes.js';
import { DecodeError, FaradError } from '../../protocol/errors.js';
import { Feature } from '../../protocol/features.js';
import {
  type Bolt11Field,
  type Bolt11Invoice,
  type Bolt11Network,
  DEFAULT_MIN_FINAL_CLTV_EXPIRY_DELTA,
  decodeInvoice,
  encodeInvoice,
  isInvoiceExpired,
  type RouteHintHop,
} from '../../protocol/invoice/index.js';
import {
  createErrorPacket,
  type FailureMessage,
  OnionBlindingError,
  OnionPayloadError,
  OnionPeelError,
  type PeeledOnion,
  peelOnion,
} from '../../protocol/onion/index.js';
import type { UpdateAddHtlc } from '../../protocol/wire/messages.js';
import { decodeRecord, encodeRecord } from '../channels/codec.js';
import {
  type ChannelManager,
  fundedData,
  outgoingHtlcPresent,
  unresolvedIncomingHtlcs,
} from '../channels/manager.js';
import { DEFAULT_FORWARDING_POLICY } from '../forwarding/types.js';
import type { NodeKeys } from '../keys/index.js';
import { CHAIN_HASHES } from '../peer/init.js';
import type { TimerHandle } from '../ports/clock.js';
import type { StoreOp } from '../ports/store.js';
import type { HtlcForwarder, OnChainHtlcOutcome } from './forwarder.js';
import { attributeFailure, buildRouteOnion, firstHops } from './routing.js';

/** Store namespaces of the payment layer. */
export const PAYMENT_NS = {
  invoices: 'invoices',
  outgoing: 'payments-out',
  incoming: 'payments-in',
} as const;

/** An HTLC that paid (part of) an invoice. */
export interface HtlcRef {
  channelId: string;
  htlcId: bigint;
  amountMsat: bigint;
}

/** An HTLC held for an accepted hold invoice (with what is needed to fail it later). */
export interface HeldHtlcRef extends HtlcRef {
  cltvExpiry: number;
  /** Hex onion shared secret (encrypts the failure if the invoice is cancelled). */
  sharedSecret: string;
}

/** A stored invoice. */
export interface InvoiceRecord {
  paymentHash: string;
  /** Hex preimage; empty for a hold invoice until it is settled. */
  preimage: string;
  paymentSecret: string;
  /** null: any amount. */
  amountMsat: bigint | null;
  description: string;
  /** Unix seconds. */
  createdAt: number;
  expiry: number;
  minFinalCltvExpiryDelta: number;
  /** Empty for keysend receipts. */
  bolt11: string;
  /** `accepted`: a hold invoice whose HTLCs arrived and wait for settle/cancel. */
  status: 'open' | 'accepted' | 'paid' | 'canceled';
  paidMsat?: bigint;
  /** The first HTLC that paid it. */
  claim?: { channelId: string; htlcId: bigint };
  /** Every HTLC that paid it (multi-part). */
  claims?: HtlcRef[];
  /** A hold invoice (the preimage comes with {@link PaymentManager.settleInvoice}). */
  hold?: boolean;
  /** The HTLCs an accepted hold invoice holds. */
  htlcs?: HeldHtlcRef[];
  /** A keysend payment (no invoice was issued). */
  keysend?: boolean;
}

/** One part (HTLC) of an outgoing payment. */
export interface PaymentPart {
  partId: number;
  status: 'pending' | 'succeeded' | 'failed';
  /** Our channel it left on. */
  channelId: string;
  htlcId?: bigint;
  /** Delivered to the payee by this part. */
  amountMsat: bigint;
  /** The first HTLC's amount (fees included). */
  sentMsat: bigint;
  feeMsat: bigint;
  /** The first HTLC's `cltv_expiry`. */
  cltvExpiry: number;
  route: Route;
  /** Hex onion session key (to decrypt a returned failure). */
  sessionKey: string;
  failureReason?: string;
  /** Hex node id of the hop that reported the failure, when attributed. */
  erringNode?: string;
}

/** A payment (either direction). */
export interface PaymentRecord {
  paymentHash: string;
  direction: 'outgoing' | 'incoming';
  status: 'pending' | 'succeeded' | 'failed';
  amountMsat: bigint;
  /** Outgoing: fees paid by the parts that were not failed. */
  feeMsat: bigint;
  preimage?: string;
  bolt11?: string;
  /** The other node (payee for outgoing). */
  peer?: string;
  /** Outgoing: the first part's channel and HTLC; incoming: the (first) HTLC that paid. */
  channelId?: string;
  htlcId?: bigint;
  /** Milliseconds since the epoch. */
  createdAt: number;
  settledAt?: number;
  failureReason?: string;
  /** Incoming: how the HTLC ended on chain after a force close (set by the chain monitor). */
  resolvedOnChain?: 'claimed' | 'timedOut';
  /** Outgoing (legacy single-hop records): onion session key (hex). */
  sessionKey?: string;
  /** Outgoing: `invoice` (default) or `keysend`. */
  kind?: 'invoice' | 'keysend';
  /** Outgoing: every HTLC sent (attempts and MPP parts). */
  parts?: PaymentPart[];
}

/** Options of {@link PaymentManager}. */
export interface PaymentManagerOptions {
  channels: ChannelManager;
  keys: NodeKeys;
  /** The network graph to route over (kept up to date by the gossip layer); default: empty. */
  graph?: NetworkGraph;
  /** Liquidity scorer (default: a fresh {@link ProbabilisticScorer}). */
  scorer?: ProbabilisticScorer;
  /** Default `min_final_cltv_expiry_delta` of our invoices (default 18, the BOLT 11 default; at least 18). */
  minFinalCltvExpiryDelta?: number;
  /** Default invoice expiry in seconds (3600). */
  defaultExpiry?: number;
  /** Blocks added to the payee's `min_final_cltv_expiry_delta` when paying (default 3). */
  cltvSafetyMargin?: number;
  /** Accept keysend payments (default false). */
  acceptKeysend?: boolean;
  /** Receive side: an incomplete multi-part set fails with `mpp_timeout` after this (default 60,000 ms). */
  mppTimeoutMs?: number;
  /** Send side: attempts (HTLCs) per payment (default 24). */
  maxAttempts?: number;
  /** Send side: no new attempt after this long (default 60,000 ms). */
  retryTimeoutMs?: number;
}

/** Options of {@link PaymentManager.pay} and {@link PaymentManager.keysend}. */
export interface PayOptions {
  /** Amount for an any-amount invoice (at least the invoice amount otherwise). */
  amountMsat?: bigint;
  /** Total fee limit, msat (default 5% + 1,000 msat). */
  maxFeeMsat?: bigint;
  /** Largest first-HTLC `cltv_expiry - height` (default 2016). */
  maxCltv?: number;
  /** Attempts limit (default the manager's). */
  maxAttempts?: number;
}

/** Result of {@link PaymentManager.probe}. */
export interface ProbeResult {
  /** The HTLC reached the destination (it failed there with `incorrect_or_unknown_payment_details`). */
  reached: boolean;
  /** The route tried (undefined when none was found). */
  route: Route | undefined;
  /** Failure name (or why no route). */
  failure: string | undefined;
  /** Hex node id of the hop that reported the failure. */
  erringNode: string | undefined;
}

/**
 * Payment errors thrown before an HTLC is sent: `INVOICE_INVALID`, `INVOICE_WRONG_NETWORK`,
 * `INVOICE_EXPIRED`, `AMOUNT_REQUIRED`, `AMOUNT_TOO_LOW`, `PAYMENT_IN_PROGRESS`,
 * `ALREADY_PAID`, `NO_ROUTE`, `SELF_PAYMENT`, `NOT_LOADED`; invoice management:
 * `INVOICE_NOT_FOUND`, `INVOICE_NOT_HOLD`, `INVOICE_NOT_ACCEPTED`, `INVOICE_EXISTS`.
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

/** An incoming HTLC of a set, in memory. */
interface SetHtlc {
  channelId: string;
  htlcId: bigint;
  amountMsat: bigint;
  cltvExpiry: number;
  /** Undefined after a restart (then failures are unreadable random bytes). */
  sharedSecret: Uint8Array | undefined;
}

/** The HTLCs of one payment hash being collected (receive side). */
interface HtlcSet {
  totalMsat: bigint;
  htlcs: SetHtlc[];
  timer: TimerHandle | undefined;
  /** Complete (claimed, accepted or failed): later HTLCs do not join it. */
  closed: boolean;
}

/** What a pending outgoing payment needs to retry (in memory only). */
interface SendCtx {
  hash: Uint8Array;
  target: Uint8Array;
  amountMsat: bigint;
  finalCltvDelta: number;
  secret: Uint8Array | undefined;
  hints: RouteHintHop[][];
  mpp: boolean;
  keysendPreimage: Uint8Array | undefined;
  maxFeeMsat: bigint;
  maxCltv: number;
  excludedChannels: ChannelExclusion[];
  excludedNodes: Uint8Array[];
  maxAttempts: number;
  deadline: number;
  abandoned: boolean;
  lastError: string;
}

interface ProbeCtx {
  route: Route;
  sessionKey: Uint8Array;
  resolve: (r: ProbeResult) => void;
}

const partKey = (cid: string, id: bigint) => `${cid}/${id}`;

/** See the module documentation. */
export class PaymentManager {
  readonly #cm: ChannelManager;
  readonly #keys: NodeKeys;
  readonly #network: Bolt11Network;
  readonly #minFinal: number;
  readonly #expiry: number;
  readonly #margin: number;
  readonly #acceptKeysend: boolean;
  readonly #mppTimeout: number;
  readonly #maxAttempts: number;
  readonly #retryTimeout: number;
  readonly #invoices = new Map<string, InvoiceRecord>();
  readonly #out = new Map<string, PaymentRecord>();
  readonly #in = new Map<string, PaymentRecord>();
  readonly #waiters = new Map<string, Waiter[]>();
  readonly #sets = new Map<string, HtlcSet>();
  readonly #ctx = new Map<string, SendCtx>();
  /** `<channel>/<htlc id>` → payment hash of an outgoing part. */
  readonly #partIdx = new Map<string, string>();
  readonly #probes = new Map<string, ProbeCtx>();
  readonly #locks = new Map<string, Promise<unknown>>();
  /**
   * Onions of offered HTLCs peeled ahead of time ({@link HtlcHooks.htlcOffered}), by the onion
   * bytes object of their `update_add_htlc` (the same object reaches `htlcReceived` unless the
   * channel was reloaded meanwhile: then it is peeled again). Entries die with the HTLC.
   */
  /**
   * Incoming HTLC onions peeled ahead of time (`ahead`: ready when the HTLC was committed) or
   * when the HTLC was committed (`onCommit`: reloaded channels, hooks without `htlcOffered`).
   */
  readonly onionPeels = { ahead: 0, onCommit: 0 };
  readonly #prepeeled = new WeakMap<Uint8Array, { add: UpdateAddHtlc; peeled: PeeledOnion | Error }>();
  /** The graph routes are computed on. */
  readonly graph: NetworkGraph;
  /** What the router learned about channel liquidity. */
  readonly scorer: ProbabilisticScorer;
  #forwarder: HtlcForwarder | undefined;
  #loaded = false;

  /** Installs itself as the channel manager's HTLC hooks. Call {@link load} before the manager starts. */
  constructor(opts: PaymentManagerOptions) {
    this.#cm = opts.channels;
    this.#keys = opts.keys;
    this.#network = bolt11Network(opts.channels.wallet.network);
    this.#minFinal = Math.max(DEFAULT_MIN_FINAL_CLTV_EXPIRY_DELTA, opts.minFinalCltvExpiryDelta ?? 18);
    this.#expiry = opts.defaultExpiry ?? 3600;
    this.#margin = opts.cltvSafetyMargin ?? 3;
    this.#acceptKeysend = opts.acceptKeysend ?? false;
    this.#mppTimeout = opts.mppTimeoutMs ?? 60_000;
    this.#maxAttempts = opts.maxAttempts ?? 24;
    this.#retryTimeout = opts.retryTimeoutMs ?? 60_000;
    this.scorer = opts.scorer ?? new ProbabilisticScorer();
    this.graph = opts.graph ?? new NetworkGraph(CHAIN_HASHES[opts.channels.wallet.network]);
    this.#cm.setHtlcHooks({
      htlcReceived: (cid, add, mustFail) => this.#onHtlcReceived(cid, add, mustFail),
      htlcOffered: (_cid, add) => this.#prepeel(add),
      htlcFulfilled: (cid, id, hash, preimage) => this.#onFulfilled(cid, id, hash, preimage),
      htlcFailed: (cid, id, hash, failure) => this.#onFailed(cid, id, hash, failure),
    });
  }

  /** Attaches the forwarding module (incoming HTLCs for a next hop go to it). */
  attachForwarder(f: HtlcForwarder): void {
    this.#forwarder = f;
  }

  /** Loads invoices, payments (and the forwarder's records) from the store. */
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
    await this.#forwarder?.load();
    this.#loaded = true;
  }

  /** After the channel manager started: see the module documentation (restart). */
  async recover(): Promise<void> {
    await this.#forwarder?.recover();
    for (const ch of this.#cm.listChannels()) {
      const st = this.#cm.channelState(ch.channelId);
      if (!st) continue;
      for (const h of unresolvedIncomingHtlcs(st)) {
        if (this.#forwarder?.ownsIncoming(ch.channelId, h.id)) continue;
        await this.#recoverIncoming(ch.channelId, h);
      }
    }
    for (const p of [...this.#out.values()]) {
      if (p.status !== 'pending') continue;
      await this.#lock(p.paymentHash, () => this.#recoverOutgoing(p));
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Invoices

  /**
   * Creates and stores an invoice; `amountMsat` undefined/null for "any amount". With
   * `privateRouteHints`, every unannounced channel that can receive adds a route hint (the
   * peer's alias for it, and `hintPolicy`, default 1000 msat + 1 ppm, 80 blocks, as the peer's
   * policy); `routeHints` adds given ones.
   */
  async createInvoice(
    opts: {
      amountMsat?: bigint | null;
      description?: string;
      expiry?: number;
      minFinalCltvExpiryDelta?: number;
      routeHints?: RouteHintHop[][];
      privateRouteHints?: boolean;
      hintPolicy?: { feeBaseMsat: number; feeProportionalMillionths: number; cltvExpiryDelta: number };
    } = {},
  ): Promise<InvoiceRecord> {
    this.#checkLoaded();
    const preimage = this.#cm.random(32);
    return this.#newInvoice(sha256(preimage), toHex(preimage), false, opts);
  }

  /**
   * Creates a hold invoice for a hash whose preimage we do not know (yet): its HTLCs are
   * accepted and held (status `accepted`) until {@link settleInvoice} or {@link cancelInvoice}.
   */
  async createHoldInvoice(
    paymentHash: Uint8Array | string,
    amountMsat: bigint | null,
    opts: {
      description?: string;
      expiry?: number;
      minFinalCltvExpiryDelta?: number;
      routeHints?: RouteHintHop[][];
      privateRouteHints?: boolean;
    } = {},
  ): Promise<InvoiceRecord> {
    this.#checkLoaded();
    const hash = typeof paymentHash === 'string' ? fromHex(paymentHash) : paymentHash;
    if (hash.length !== 32) throw new PaymentError('INVOICE_INVALID', 'payment hash must be 32 bytes');
    if (this.#invoices.has(toHex(hash)))
      throw new PaymentError('INVOICE_EXISTS', 'invoice exists for that hash');
    return this.#newInvoice(hash, '', true, { ...opts, amountMsat });
  }

  /** Settles an accepted hold invoice with its preimage (fulfills every held HTLC). */
  async settleInvoice(preimage: Uint8Array | string): Promise<InvoiceRecord> {
    const pre = typeof preimage === 'string' ? fromHex(preimage) : preimage;
    const hash = toHex(sha256(pre));
    const inv = this.#invoices.get(hash);
    if (!inv) throw new PaymentError('INVOICE_NOT_FOUND', 'no invoice for that preimage');
    if (!inv.hold) throw new PaymentError('INVOICE_NOT_HOLD', 'not a hold invoice');
    await this.#lock(`in:${hash}`, async () => {
      const cur = this.#invoices.get(hash)!;
      if (cur.status === 'paid') return;
      if (cur.status !== 'accepted')
        throw new PaymentError('INVOICE_NOT_ACCEPTED', `hold invoice is ${cur.status}`);
      const htlcs: SetHtlc[] = (cur.htlcs ?? []).map((h) => ({
        ...h,
        sharedSecret: h.sharedSecret ? fromHex(h.sharedSecret) : undefined,
      }));
      await this.#claimSet({ ...cur, preimage: toHex(pre) }, htlcs);
    });
    return this.#invoices.get(hash)!;
  }

  /** Cancels an open or accepted invoice: held HTLCs fail with `incorrect_or_unknown_payment_details`. */
  async cancelInvoice(paymentHash: Uint8Array | string): Promise<InvoiceRecord> {
    const hash = typeof paymentHash === 'string' ? paymentHash.toLowerCase() : toHex(paymentHash);
    const inv = this.#invoices.get(hash);
    if (!inv) throw new PaymentError('INVOICE_NOT_FOUND', 'unknown invoice');
    await this.#lock(`in:${hash}`, async () => {
      const cur = this.#invoices.get(hash)!;
      if (cur.status === 'paid') throw new PaymentError('ALREADY_PAID', 'invoice already paid');
      if (cur.status === 'canceled') return;
      const next: InvoiceRecord = { ...cur, status: 'canceled' };
      delete next.htlcs;
      this.#invoices.set(hash, next);
      await this.#cm.store.write(PAYMENT_NS.invoices, hash, encodeRecord(next));
      const set = this.#sets.get(hash);
      const held: SetHtlc[] = set
        ? set.htlcs
        : (cur.htlcs ?? []).map((h) => ({ ...h, sharedSecret: fromHex(h.sharedSecret) }));
      if (set) {
        set.timer?.cancel();
        set.closed = true;
      }
      this.#sets.delete(hash);
      const height = this.#cm.blockHeight;
      for (const h of held)
        await this.#failHtlc(h.channelId, h.htlcId, h.sharedSecret, {
          name: 'incorrect_or_unknown_payment_details',
          htlcMsat: h.amountMsat,
          height,
        });
    });
    return this.#invoices.get(hash)!;
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
   * Pays a BOLT 11 invoice over any route (see the module documentation). Throws
   * {@link PaymentError} when nothing was sent; otherwise resolves with the final record
   * (`succeeded` with the preimage and fee, or `failed` with the last failure's name).
   */
  async pay(bolt11: string, opts: PayOptions = {}): Promise<PaymentRecord> {
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
    const mpp = inv.features.includes(Feature.basic_mpp) || inv.features.includes(Feature.basic_mpp + 1);
    return this.#start(
      {
        hash: inv.paymentHash,
        target: inv.payee,
        amountMsat: amount,
        finalCltvDelta: inv.minFinalCltvExpiryDelta + this.#margin,
        secret: inv.paymentSecret,
        hints: inv.routeHints,
        mpp,
        keysendPreimage: undefined,
      },
      opts,
      { bolt11, kind: 'invoice' },
    );
  }

  /**
   * Sends `amountMsat` to `nodeId` without an invoice (bLIP-3 keysend: a random preimage in
   * payload record 5482373484). Resolves like {@link pay}.
   */
  async keysend(
    nodeId: string | Uint8Array,
    amountMsat: bigint,
    opts: PayOptions = {},
  ): Promise<PaymentRecord> {
    this.#checkLoaded();
    const target = typeof nodeId === 'string' ? fromHex(nodeId) : nodeId;
    if (amountMsat <= 0n) throw new PaymentError('AMOUNT_TOO_LOW', 'amount must be positive');
    const preimage = this.#cm.random(32);
    return this.#start(
      {
        hash: sha256(preimage),
        target,
        amountMsat,
        finalCltvDelta: DEFAULT_MIN_FINAL_CLTV_EXPIRY_DELTA + this.#margin,
        secret: undefined,
        hints: [],
        mpp: false,
        keysendPreimage: preimage,
      },
      opts,
      { kind: 'keysend' },
    );
  }

  /**
   * Probes a route to `nodeId` for `amountMsat`: an HTLC with a random payment hash that can only
   * fail. `reached` is true when it failed at the destination with
   * `incorrect_or_unknown_payment_details`; the scorer learns from the outcome either way.
   */
  async probe(
    nodeId: string | Uint8Array,
    amountMsat: bigint,
    opts: { maxCltv?: number } = {},
  ): Promise<ProbeResult> {
    this.#checkLoaded();
    const target = typeof nodeId === 'string' ? fromHex(nodeId) : nodeId;
    const fh = firstHops(this.#cm);
    const r = findRoute({
      graph: this.graph,
      source: this.#keys.nodePublicKey,
      target,
      amountMsat,
      finalCltvDelta: DEFAULT_MIN_FINAL_CLTV_EXPIRY_DELTA + this.#margin,
      firstHops: fh.hops,
      scorer: this.scorer,
      now: this.#nowSec(),
      ...(opts.maxCltv !== undefined ? { maxCltv: opts.maxCltv } : {}),
    });
    if (!r.ok)
      return { reached: false, route: undefined, failure: `no route: ${r.reason}`, erringNode: undefined };
    const route = r.route;
    const cid = fh.channelOf.get(route.hops[0]!.shortChannelId);
    const hash = this.#cm.random(32);
    const sessionKey = this.#sessionKey();
    const onion = buildRouteOnion({ route, height: this.#cm.blockHeight, sessionKey, paymentHash: hash });
    const done = new Promise<ProbeResult>((resolve) => {
      this.#probes.set(toHex(hash), { route, sessionKey, resolve });
    });
    const fx = cid
      ? await this.#cm.command(cid, {
          type: 'CmdAddHtlc',
          amountMsat: onion.amountMsat,
          paymentHash: hash,
          cltvExpiry: onion.cltvExpiry,
          onion: onion.packet,
        })
      : [];
    const rej = fx.find((e) => e.type === 'CommandRejected');
    if (!cid || rej?.type === 'CommandRejected') {
      this.#probes.delete(toHex(hash));
      return {
        reached: false,
        route,
        failure: rej?.type === 'CommandRejected' ? rej.error.code : 'no channel',
        erringNode: undefined,
      };
    }
    await this.#cm.command(cid, { type: 'CmdSign' });
    return done;
  }

  /**
   * BOLT 5: an HTLC of `channelId` was resolved on chain (called by the chain monitor, see
   * src/node/monitor). A forward's HTLC goes to the forwarder; an outgoing part is settled with
   * the preimage the chain revealed, or failed once its timeout is final (the payment fails when
   * no part is left); an incoming one (`received`) is marked as claimed on chain
   * (`resolvedOnChain`), or failed when it timed out before we could claim it. Idempotent.
   */
  async htlcResolvedOnChain(channelId: string, r: OnChainHtlcOutcome): Promise<void> {
    const cid = channelId.toLowerCase();
    if (this.#forwarder && (await this.#forwarder.htlcResolvedOnChain(cid, r))) return;
    const hash = toHex(r.paymentHash);
    const matches = (p: PaymentRecord) =>
      (p.channelId === undefined || p.channelId === cid) && (p.htlcId === undefined || p.htlcId === r.htlcId);
    if (r.direction === 'offered') {
      const rec = this.#out.get(hash);
      if (rec?.status !== 'pending') return;
      if (rec.parts) {
        const part = this.#findPart(rec, cid, r.htlcId);
        if (!part) return;
        if (r.preimage && equal(sha256(r.preimage), r.paymentHash))
          await this.#partSucceeded(hash, part.partId, r.preimage);
        else await this.#partDone(hash, part.partId, 'HTLC timed out on chain', true);
        return;
      }
      if (!matches(rec)) return;
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
    const p = this.#out.get(h) ?? this.#in.get(h);
    return p ? publicRecord(p) : undefined;
  }

  /** Every payment, oldest first. */
  listPayments(): PaymentRecord[] {
    return [...this.#out.values(), ...this.#in.values()]
      .map((r) => publicRecord(r))
      .sort((a, b) => a.createdAt - b.createdAt);
  }

  // ---------------------------------------------------------------------------------------------
  // Internals: invoices

  async #newInvoice(
    hash: Uint8Array,
    preimageHex: string,
    hold: boolean,
    opts: {
      amountMsat?: bigint | null;
      description?: string;
      expiry?: number;
      minFinalCltvExpiryDelta?: number;
      routeHints?: RouteHintHop[][];
      privateRouteHints?: boolean;
      hintPolicy?: { feeBaseMsat: number; feeProportionalMillionths: number; cltvExpiryDelta: number };
    },
  ): Promise<InvoiceRecord> {
    const secret = this.#cm.random(32);
    const now = Math.floor(this.#cm.clock.now() / 1000);
    const expiry = opts.expiry ?? this.#expiry;
    const minFinal = Math.max(18, opts.minFinalCltvExpiryDelta ?? this.#minFinal);
    const description = opts.description ?? '';
    const hints = [...(opts.routeHints ?? [])];
    if (opts.privateRouteHints) hints.push(...this.#privateHints(opts.hintPolicy));
    const fields: Bolt11Field[] = [
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
    ];
    for (const h of hints) fields.push({ kind: 'route_hint', value: h });
    const bolt11 = encodeInvoice(
      { network: this.#network, amountMsat: opts.amountMsat ?? null, timestamp: now, fields },
      this.#keys.nodeSecretKey,
    );
    const rec: InvoiceRecord = {
      paymentHash: toHex(hash),
      preimage: preimageHex,
      paymentSecret: toHex(secret),
      amountMsat: opts.amountMsat ?? null,
      description,
      createdAt: now,
      expiry,
      minFinalCltvExpiryDelta: minFinal,
      bolt11,
      status: 'open',
      ...(hold ? { hold: true } : {}),
    };
    await this.#cm.store.write(PAYMENT_NS.invoices, rec.paymentHash, encodeRecord(rec));
    this.#invoices.set(rec.paymentHash, rec);
    return rec;
  }

  /** Route hints through our unannounced channels that can receive (BOLT 11 `r`). */
  #privateHints(policy?: {
    feeBaseMsat: number;
    feeProportionalMillionths: number;
    cltvExpiryDelta: number;
  }): RouteHintHop[][] {
    const pol = policy ?? DEFAULT_FORWARDING_POLICY;
    const out: RouteHintHop[][] = [];
    for (const c of this.#cm.listChannels()) {
      if (c.state !== 'Normal' || c.remoteMsat <= 0n) continue;
      const st = this.#cm.channelState(c.channelId);
      const d = st ? fundedData(st) : undefined;
      if (!d || d.commitments.params.announce) continue;
      // The alias the peer gave us for this channel (BOLT 2 option_scid_alias), else the real scid.
      const scid = c.remoteAlias ?? c.shortChannelId;
      if (scid === undefined) continue;
      out.push([
        {
          pubkey: fromHex(c.peer),
          shortChannelId: scid,
          feeBaseMsat: pol.feeBaseMsat,
          feeProportionalMillionths: pol.feeProportionalMillionths,
          cltvExpiryDelta: pol.cltvExpiryDelta,
        },
      ]);
    }
    return out;
  }

  // ---------------------------------------------------------------------------------------------
  // Internals: sending

  #checkLoaded(): void {
    if (!this.#loaded) throw new PaymentError('NOT_LOADED', 'payment manager not loaded');
  }

  #nowSec(): number {
    return Math.floor(this.#cm.clock.now() / 1000);
  }

  #sessionKey(): Uint8Array {
    let k: Uint8Array;
    do k = this.#cm.random(32);
    while (!secp().isPrivateKey(k));
    return k;
  }

  #lock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#locks.get(key) ?? Promise.resolve();
    const run = prev.then(fn);
    const tail = run.catch(() => undefined);
    this.#locks.set(key, tail);
    void tail.then(() => {
      if (this.#locks.get(key) === tail) this.#locks.delete(key);
    });
    return run;
  }

  async #start(
    c: Omit<
      SendCtx,
      | 'maxFeeMsat'
      | 'maxCltv'
      | 'excludedChannels'
      | 'excludedNodes'
      | 'maxAttempts'
      | 'deadline'
      | 'abandoned'
      | 'lastError'
    >,
    opts: PayOptions,
    meta: { bolt11?: string; kind: 'invoice' | 'keysend' },
  ): Promise<PaymentRecord> {
    const payee = toHex(c.target);
    if (payee === this.#keys.nodeId) throw new PaymentError('SELF_PAYMENT', 'cannot pay our own invoice');
    const hash = toHex(c.hash);
    const prev = this.#out.get(hash);
    if (prev?.status === 'pending')
      throw new PaymentError('PAYMENT_IN_PROGRESS', 'a payment of this invoice is in flight');
    if (prev?.status === 'succeeded') throw new PaymentError('ALREADY_PAID', 'invoice already paid');
    const ctx: SendCtx = {
      ...c,
      maxFeeMsat: opts.maxFeeMsat ?? c.amountMsat / 20n + 1000n,
      maxCltv: opts.maxCltv ?? 2016,
      excludedChannels: [],
      excludedNodes: [],
      maxAttempts: opts.maxAttempts ?? this.#maxAttempts,
      deadline: this.#cm.clock.now() + this.#retryTimeout,
      abandoned: false,
      lastError: 'no route',
    };
    // Nothing is recorded when no route exists at all.
    const first = this.#routes(ctx, c.amountMsat, ctx.maxFeeMsat, 16);
    if (!first.ok)
      throw new PaymentError('NO_ROUTE', `no route to the payee (${first.reason})`, { details: payee });
    const rec: PaymentRecord = {
      paymentHash: hash,
      direction: 'outgoing',
      status: 'pending',
      amountMsat: c.amountMsat,
      feeMsat: 0n,
      ...(meta.bolt11 !== undefined ? { bolt11: meta.bolt11 } : {}),
      peer: payee,
      createdAt: this.#cm.clock.now(),
      kind: meta.kind,
      parts: [],
    };
    this.#out.set(hash, rec);
    this.#ctx.set(hash, ctx);
    const done = new Promise<PaymentRecord>((resolve) => {
      const list = this.#waiters.get(hash) ?? [];
      list.push({ resolve });
      this.#waiters.set(hash, list);
    });
    // Stored by #sendPart before the first HTLC leaves (with its part).
    await this.#drive(hash, first.routes);
    return done;
  }

  /** Routes for `amountMsat` (split when MPP is allowed and needed). */
  #routes(
    ctx: SendCtx,
    amountMsat: bigint,
    feeBudget: bigint,
    maxParts: number,
  ): { ok: true; routes: Route[] } | { ok: false; reason: string } {
    const fh = firstHops(this.#cm);
    const p: FindRouteParams = {
      graph: this.graph,
      source: this.#keys.nodePublicKey,
      target: ctx.target,
      amountMsat,
      finalCltvDelta: ctx.finalCltvDelta,
      routeHints: ctx.hints,
      firstHops: fh.hops,
      maxFeeMsat: feeBudget < 0n ? 0n : feeBudget,
      maxCltv: ctx.maxCltv,
      excludedChannels: ctx.excludedChannels,
      excludedNodes: ctx.excludedNodes,
      scorer: this.scorer,
      now: this.#nowSec(),
    };
    if (ctx.mpp && maxParts > 1) {
      const s = splitPayment({ ...p, maxParts });
      return s.ok ? { ok: true, routes: s.routes } : { ok: false, reason: s.reason };
    }
    const r = findRoute(p);
    return r.ok ? { ok: true, routes: [r.route] } : { ok: false, reason: r.reason };
  }

  /**
   * Sends what is missing of a payment (given routes, or new ones), or settles it as failed
   * when nothing can be sent and nothing is in flight.
   */
  async #drive(hash: string, given?: Route[]): Promise<void> {
    let again = false;
    await this.#lock(hash, async () => {
      const rec = this.#out.get(hash);
      const ctx = this.#ctx.get(hash);
      if (rec?.status !== 'pending') return;
      const parts = rec.parts ?? [];
      const pending = parts.filter((p) => p.status === 'pending');
      const inflight = pending.reduce((s, p) => s + p.amountMsat, 0n);
      const missing = ctx ? ctx.amountMsat - inflight : 0n;
      const giveUp = (reason: string | undefined) => {
        if (ctx) {
          ctx.abandoned = true;
          if (reason) ctx.lastError = reason;
        }
      };
      if (ctx && !ctx.abandoned && missing > 0n) {
        if (parts.length >= ctx.maxAttempts || this.#cm.clock.now() > ctx.deadline) giveUp(undefined);
      }
      if (!ctx || ctx.abandoned || missing <= 0n) {
        if (pending.length === 0) await this.#settleOut(hash, { reason: ctx?.lastError ?? 'failed' });
        return;
      }
      let routes = given;
      if (!routes) {
        const fees = pending.reduce((s, p) => s + p.feeMsat, 0n);
        const r = this.#routes(ctx, missing, ctx.maxFeeMsat - fees, Math.max(1, 16 - pending.length));
        if (!r.ok) {
          giveUp(parts.length === 0 ? `no route (${r.reason})` : undefined);
          if (pending.length === 0) await this.#settleOut(hash, { reason: ctx.lastError });
          return;
        }
        routes = r.routes;
      }
      for (const route of routes) {
        if (!(await this.#sendPart(rec, ctx, route))) again = true;
      }
    });
    if (again) await this.#drive(hash);
  }

  /** Sends one part; false when our channel refused the HTLC (the part is failed, retry). */
  async #sendPart(rec: PaymentRecord, ctx: SendCtx, route: Route): Promise<boolean> {
    const fh = firstHops(this.#cm);
    const first = route.hops[0]!;
    const cid = fh.channelOf.get(first.shortChannelId);
    const sessionKey = this.#sessionKey();
    const onion = buildRouteOnion({
      route,
      height: this.#cm.blockHeight,
      sessionKey,
      paymentHash: ctx.hash,
      paymentData: ctx.secret ? { paymentSecret: ctx.secret, totalMsat: ctx.amountMsat } : undefined,
      keysendPreimage: ctx.keysendPreimage,
    });
    const parts = rec.parts ?? [];
    rec.parts = parts;
    const part: PaymentPart = {
      partId: parts.length,
      status: 'pending',
      channelId: cid ?? '',
      amountMsat: route.amountMsat,
      sentMsat: onion.amountMsat,
      feeMsat: route.feeMsat,
      cltvExpiry: onion.cltvExpiry,
      route,
      sessionKey: toHex(sessionKey),
    };
    parts.push(part);
    rec.channelId ??= part.channelId;
    const refuse = async (reason: string) => {
      part.status = 'failed';
      part.failureReason = reason;
      ctx.excludedChannels.push({ shortChannelId: first.shortChannelId });
      ctx.lastError = reason;
      await this.#putOut(rec);
      return false;
    };
    if (!cid) return refuse('first hop channel gone');
    // Durable before the HTLC leaves (a restart or the chain monitor must find the part): the
    // channel sends the add only once every write queued before it is durable, so the record is
    // queued, not awaited, and shares one commit with the HTLC's commitment.
    const recorded = this.#putOut(rec);
    recorded.catch(() => undefined); // awaited below
    let fx: Awaited<ReturnType<ChannelManager['command']>>;
    try {
      fx = await this.#cm.commandApplied(cid, {
        type: 'CmdAddHtlc',
        amountMsat: onion.amountMsat,
        paymentHash: ctx.hash,
        cltvExpiry: onion.cltvExpiry,
        onion: onion.packet,
      });
    } catch (e) {
      await recorded;
      return refuse(e instanceof Error ? e.message : String(e));
    }
    const rej = fx.find((e) => e.type === 'CommandRejected');
    if (rej?.type === 'CommandRejected') {
      await recorded;
      return refuse(`${rej.error.code}: ${rej.error.message}`);
    }
    const sent = fx.find((e) => e.type === 'SendMessage' && e.msg.type === 'update_add_htlc');
    if (sent?.type === 'SendMessage' && sent.msg.type === 'update_add_htlc') {
      part.htlcId = sent.msg.id;
      this.#partIdx.set(partKey(cid, sent.msg.id), rec.paymentHash);
      if (rec.htlcId === undefined && part.partId === 0) rec.htlcId = sent.msg.id;
    }
    // The HTLC id is stored with (or before) the commitment that carries the HTLC.
    const stored = this.#putOut(rec);
    stored.catch(() => undefined); // awaited below
    await this.#cm.command(cid, { type: 'CmdSign' });
    await recorded;
    await stored;
    return true;
  }

  #findPart(rec: PaymentRecord, cid: string, htlcId: bigint): PaymentPart | undefined {
    const parts = rec.parts ?? [];
    return (
      parts.find((p) => p.channelId === cid && p.htlcId === htlcId) ??
      parts.find((p) => p.status === 'pending' && p.channelId === cid && p.htlcId === undefined)
    );
  }

  /** The outgoing payment and part an HTLC outcome is about. */
  #locate(
    cid: string,
    id: bigint,
    hash: Uint8Array,
  ): { rec: PaymentRecord; part: PaymentPart | undefined } | undefined {
    const h = this.#partIdx.get(partKey(cid, id)) ?? toHex(hash);
    const rec = this.#out.get(h);
    if (!rec) return undefined;
    if (!rec.parts) return { rec, part: undefined };
    const part = this.#findPart(rec, cid, id);
    if (!part) return undefined;
    if (part.htlcId === undefined) {
      part.htlcId = id;
      this.#partIdx.set(partKey(cid, id), h);
    }
    return { rec, part };
  }

  async #partSucceeded(hash: string, partId: number, preimage: Uint8Array): Promise<void> {
    await this.#lock(hash, async () => {
      const rec = this.#out.get(hash);
      const part = rec?.parts?.[partId];
      if (!rec || !part || part.status === 'succeeded') return;
      part.status = 'succeeded';
      this.scorer.pathSucceeded(part.route.hops, this.#nowSec());
      if (rec.status === 'pending') await this.#settleOut(hash, { preimage });
      else {
        rec.feeMsat = feesOf(rec);
        await this.#putOut(rec);
      }
    });
  }

  /** A part failed with `reason`; `final`: no retry (e.g. timed out on chain). */
  async #partDone(hash: string, partId: number, reason: string, final: boolean): Promise<void> {
    await this.#lock(hash, async () => {
      const rec = this.#out.get(hash);
      const part = rec?.parts?.[partId];
      if (!rec || !part || part.status !== 'pending') return;
      part.status = 'failed';
      part.failureReason = reason;
      const ctx = this.#ctx.get(hash);
      if (ctx) {
        ctx.lastError = reason;
        if (final) ctx.abandoned = true;
      } else if (rec.status === 'pending') rec.failureReason = reason;
      await this.#putOut(rec);
    });
    await this.#driveOrFail(hash, reason);
  }

  async #driveOrFail(hash: string, reason: string): Promise<void> {
    if (this.#ctx.has(hash)) return this.#drive(hash);
    await this.#lock(hash, async () => {
      const rec = this.#out.get(hash);
      if (rec?.status === 'pending' && !(rec.parts ?? []).some((p) => p.status === 'pending'))
        await this.#settleOut(hash, { reason });
    });
  }

  /** A part failed off chain: attribute, learn, decide, retry. */
  async #partFailed(hash: string, partId: number, failure: HtlcFailure): Promise<void> {
    let reason = 'failed';
    await this.#lock(hash, async () => {
      const rec = this.#out.get(hash);
      const part = rec?.parts?.[partId];
      if (!rec || !part || part.status !== 'pending') return;
      const route = part.route;
      const a = attributeFailure(route, fromHex(part.sessionKey), failure);
      reason = a.reason;
      part.status = 'failed';
      part.failureReason = a.reason;
      const ctx = this.#ctx.get(hash);
      if (a.local) {
        ctx?.excludedChannels.push({ shortChannelId: route.hops[0]!.shortChannelId });
      } else if (ctx) {
        const hop = a.hopIndex === -1 ? undefined : a.hopIndex;
        if (a.hopIndex === -1) {
          // The first node could not read its layer: avoid it (or stop if it is the payee).
          if (route.hops.length === 1) ctx.abandoned = true;
          else ctx.excludedNodes.push(route.hops[0]!.nodeId);
        } else {
          if (hop !== undefined) part.erringNode = toHex(route.hops[hop]!.nodeId);
          const d = retryDecision(route, hop, a.failure);
          ctx.excludedChannels.push(...d.excludeChannels);
          ctx.excludedNodes.push(...d.excludeNodes);
          const now = this.#nowSec();
          if (d.liquidityFailedHop !== undefined)
            this.scorer.pathFailed(route.hops, d.liquidityFailedHop, now);
          else if (d.passedHops > 0)
            this.scorer.pathFailed(route.hops.slice(0, d.passedHops), d.passedHops, now);
          if (d.channelUpdate) {
            const applied = this.graph.apply(d.channelUpdate, { now });
            if (applied.status !== 'accepted' && d.excludeIfUpdateNotAccepted)
              ctx.excludedChannels.push(d.excludeIfUpdateNotAccepted);
          } else if (d.excludeIfUpdateNotAccepted) ctx.excludedChannels.push(d.excludeIfUpdateNotAccepted);
          if (!d.retry) ctx.abandoned = true;
        }
      }
      if (ctx) ctx.lastError = a.reason;
      else if (rec.status === 'pending') rec.failureReason = a.reason;
      await this.#putOut(rec);
    });
    await this.#driveOrFail(hash, reason);
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
      next.feeMsat = feesOf(next);
    } else next = { ...rec, status: 'failed', failureReason: r.reason, settledAt: now };
    this.#out.set(hash, next);
    this.#ctx.delete(hash);
    ops.push({ op: 'put', namespace: PAYMENT_NS.outgoing, key: hash, value: encodeRecord(next) });
    const ev = this.#cm.events.prepare(
      next.status === 'succeeded'
        ? {
            type: 'PaymentSent',
            paymentHash: hash,
            preimage: next.preimage!,
            amountMsat: next.amountMsat,
            feeMsat: next.feeMsat,
          }
        : { type: 'PaymentFailed', paymentHash: hash, reason: next.failureReason ?? 'failed' },
    );
    ops.push(ev.op);
    const written = this.#cm.store.batch(ops);
    const pub = publicRecord(next);
    const answer = () => {
      for (const w of this.#waiters.get(hash) ?? []) w.resolve(pub);
      this.#waiters.delete(hash);
    };
    // A success is answered at once: the preimage itself proves the payment, and the peer cannot
    // take its update_fulfill_htlc back. If we crash before the record is durable, the channel
    // still holds the HTLC, the peer retransmits the fulfill on reestablish (or claims on chain,
    // where our monitor learns the preimage), and the record becomes `succeeded` again. The
    // durable event queue still waits for the write. A failure is answered once it is durable.
    if (next.status === 'succeeded') answer();
    await written;
    ev.deliver();
    if (next.status !== 'succeeded') answer();
  }

  async #onFulfilled(cid: string, id: bigint, hash: Uint8Array, preimage: Uint8Array): Promise<void> {
    if (this.#forwarder && (await this.#forwarder.outgoingFulfilled(cid, id, hash, preimage))) return;
    if (!equal(sha256(preimage), hash)) return;
    const loc = this.#locate(cid, id, hash);
    if (!loc) return;
    if (loc.part) return this.#partSucceeded(loc.rec.paymentHash, loc.part.partId, preimage);
    await this.#settleOut(toHex(hash), { preimage });
  }

  async #onFailed(cid: string, id: bigint, hash: Uint8Array, failure: HtlcFailure): Promise<void> {
    if (this.#forwarder && (await this.#forwarder.outgoingFailed(cid, id, hash, failure))) return;
    const probe = this.#probes.get(toHex(hash));
    if (probe) {
      this.#probes.delete(toHex(hash));
      const a = attributeFailure(probe.route, probe.sessionKey, failure);
      const hop = a.hopIndex !== undefined && a.hopIndex >= 0 ? a.hopIndex : undefined;
      const d = retryDecision(probe.route, hop, a.failure);
      const now = this.#nowSec();
      const reached = d.reachedDestination && a.failure?.name === 'incorrect_or_unknown_payment_details';
      if (reached) this.scorer.pathSucceeded(probe.route.hops, now);
      else if (d.liquidityFailedHop !== undefined)
        this.scorer.pathFailed(probe.route.hops, d.liquidityFailedHop, now);
      probe.resolve({
        reached,
        route: probe.route,
        failure: a.reason,
        erringNode: hop !== undefined ? toHex(probe.route.hops[hop]!.nodeId) : undefined,
      });
      return;
    }
    const loc = this.#locate(cid, id, hash);
    if (!loc) return;
    const rec = loc.rec;
    if (rec.status !== 'pending') return;
    if (loc.part) return this.#partFailed(rec.paymentHash, loc.part.partId, failure);
    // A legacy single-hop record (no parts).
    if (
      rec.channelId !== undefined &&
      (rec.channelId !== cid || (rec.htlcId !== undefined && rec.htlcId !== id))
    )
      return;
    await this.#settleOut(rec.paymentHash, { reason: 'failed' });
  }

  // ---------------------------------------------------------------------------------------------
  // Internals: receiving

  async #failHtlc(
    cid: string,
    htlcId: bigint,
    ss: Uint8Array | undefined,
    failure: FailureMessage,
  ): Promise<void> {
    // Without the onion shared secret (restart recovery) the reason cannot be encrypted for the
    // payer; an unreadable 292-byte reason still removes the HTLC.
    const reason = ss ? createErrorPacket(ss, failure) : this.#cm.random(292);
    await this.#cm.command(cid, { type: 'CmdFail', id: htlcId, reason });
    await this.#cm.command(cid, { type: 'CmdSign' });
  }

  /** BOLT 4 peel of an incoming HTLC's onion with our node key (throws the peel errors). */
  #peel(add: UpdateAddHtlc): PeeledOnion {
    return peelOnion(
      add.onionRoutingPacket,
      this.#keys.nodeSecretKey,
      add.paymentHash,
      add.blindingPoint !== undefined ? { blindingPoint: add.blindingPoint } : {},
    );
  }

  /** Peels an offered (not yet committed) HTLC's onion ahead of time; see {@link #prepeeled}. */
  #prepeel(add: UpdateAddHtlc): void {
    if (this.#prepeeled.has(add.onionRoutingPacket)) return;
    let peeled: PeeledOnion | Error;
    try {
      peeled = this.#peel(add);
    } catch (e) {
      peeled = e instanceof Error ? e : new Error(String(e));
    }
    this.#prepeeled.set(add.onionRoutingPacket, { add, peeled });
  }

  async #onHtlcReceived(cid: string, add: UpdateAddHtlc, mustFail: boolean): Promise<void> {
    const fail = (ss: Uint8Array | undefined, f: FailureMessage) => this.#failHtlc(cid, add.id, ss, f);
    let peeled: PeeledOnion;
    try {
      const pre = this.#prepeeled.get(add.onionRoutingPacket);
      // Reused only for the very same add (same hash and blinding point); else peeled now.
      if (pre && pre.add === add) {
        this.#prepeeled.delete(add.onionRoutingPacket);
        this.onionPeels.ahead++;
        if (pre.peeled instanceof Error) throw pre.peeled;
        peeled = pre.peeled;
      } else {
        this.onionPeels.onCommit++;
        peeled = this.#peel(add);
      }
    } catch (e) {
      if (e instanceof OnionPayloadError)
        return fail(e.sharedSecret, {
          name: 'invalid_onion_payload',
          tlvType: e.tlvType ?? 0n,
          offset: e.offset ?? 0,
        });
      if (e instanceof OnionBlindingError && e.sharedSecret)
        return fail(e.sharedSecret, { name: 'invalid_onion_blinding', sha256OfOnion: e.sha256OfOnion });
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
    if (!peeled.final) {
      if (this.#forwarder) return this.#forwarder.forward(cid, add, peeled, mustFail);
      return fail(ss, { name: 'unknown_next_peer' });
    }
    if (mustFail) return fail(ss, { name: 'temporary_node_failure' });
    await this.#receiveFinal(cid, add, peeled);
  }

  /** BOLT 4 final node (see the module documentation). */
  async #receiveFinal(cid: string, add: UpdateAddHtlc, peeled: PeeledOnion): Promise<void> {
    const height = this.#cm.blockHeight;
    const ss = peeled.sharedSecret;
    const fail = (f: FailureMessage) => this.#failHtlc(cid, add.id, ss, f);
    const unknown: FailureMessage = {
      name: 'incorrect_or_unknown_payment_details',
      htlcMsat: add.amountMsat,
      height,
    };
    const p = peeled.payload;
    if (p.amtToForward === undefined || p.outgoingCltvValue === undefined)
      return fail({ name: 'invalid_onion_payload', tlvType: 2n, offset: 0 });
    // BOLT 4 final node: "if amount_msat ... is below amt_to_forward: final_incorrect_htlc_amount".
    if (p.amtToForward > add.amountMsat)
      return fail({ name: 'final_incorrect_htlc_amount', incomingHtlcAmt: add.amountMsat });
    // "if the cltv_expiry ... is below outgoing_cltv_value: final_incorrect_cltv_expiry".
    if (p.outgoingCltvValue > add.cltvExpiry)
      return fail({ name: 'final_incorrect_cltv_expiry', cltvExpiry: add.cltvExpiry });
    const hash = toHex(add.paymentHash);
    await this.#lock(`in:${hash}`, async () => {
      let inv = this.#invoices.get(hash);
      if (
        !inv &&
        this.#acceptKeysend &&
        p.keysendPreimage &&
        equal(sha256(p.keysendPreimage), add.paymentHash)
      ) {
        // bLIP-3 keysend: an "invoice" made on the fly (stored with the claim).
        inv = {
          paymentHash: hash,
          preimage: toHex(p.keysendPreimage),
          paymentSecret: p.paymentData ? toHex(p.paymentData.paymentSecret) : '',
          amountMsat: null,
          description: 'keysend',
          createdAt: this.#nowSec(),
          expiry: this.#expiry,
          minFinalCltvExpiryDelta: this.#minFinal,
          bolt11: '',
          status: 'open',
          keysend: true,
        };
      }
      if (!inv || inv.status === 'canceled') return fail(unknown);
      if (inv.status === 'paid') {
        if (
          inv.claims?.some((c) => c.channelId === cid && c.htlcId === add.id) ||
          (inv.claim?.channelId === cid && inv.claim.htlcId === add.id)
        )
          return this.#fulfill(cid, add.id, fromHex(inv.preimage));
        return fail(unknown);
      }
      if (inv.status === 'accepted') {
        if (inv.htlcs?.some((h) => h.channelId === cid && h.htlcId === add.id)) return;
        return fail(unknown);
      }
      // "MUST fail the HTLC if ... payment_secret doesn't match" (keysend without secret: none).
      if (!inv.keysend && (!p.paymentData || toHex(p.paymentData.paymentSecret) !== inv.paymentSecret))
        return fail(unknown);
      const total = p.paymentData?.totalMsat ?? add.amountMsat;
      if (inv.amountMsat !== null && total < inv.amountMsat) return fail(unknown);
      // "if the amount paid is more than twice the amount expected: SHOULD fail".
      if (inv.amountMsat !== null && total > inv.amountMsat * 2n) return fail(unknown);
      // "if the cltv_expiry value is unreasonably near the present: incorrect_or_unknown_payment_details".
      if (add.cltvExpiry < height + inv.minFinalCltvExpiryDelta) return fail(unknown);
      if (!inv.keysend && isInvoiceExpired({ timestamp: inv.createdAt, expiry: inv.expiry }, this.#nowSec()))
        return fail(unknown);
      let set = this.#sets.get(hash);
      if (set?.closed) return fail(unknown);
      if (set && set.totalMsat !== total) {
        // BOLT 4: total_msat must be the same for every part.
        return fail(unknown);
      }
      if (!set) {
        set = { totalMsat: total, htlcs: [], timer: undefined, closed: false };
        this.#sets.set(hash, set);
      }
      const s = set;
      s.htlcs.push({
        channelId: cid,
        htlcId: add.id,
        amountMsat: add.amountMsat,
        cltvExpiry: add.cltvExpiry,
        sharedSecret: ss,
      });
      const sum = s.htlcs.reduce((a, h) => a + h.amountMsat, 0n);
      if (sum < total) {
        // basic_mpp: wait for the rest, at most mpp_timeout.
        s.timer ??= this.#cm.clock.setTimeout(() => void this.#mppTimeout_(hash, s), this.#mppTimeout);
        return;
      }
      s.timer?.cancel();
      s.closed = true;
      const invoice = inv;
      if (invoice.hold) return this.#accept(invoice, s);
      this.#sets.delete(hash);
      await this.#claimSet(invoice, s.htlcs);
    });
  }

  async #mppTimeout_(hash: string, set: HtlcSet): Promise<void> {
    await this.#lock(`in:${hash}`, async () => {
      if (set.closed) return;
      set.closed = true;
      if (this.#sets.get(hash) === set) this.#sets.delete(hash);
      for (const h of set.htlcs)
        await this.#failHtlc(h.channelId, h.htlcId, h.sharedSecret, { name: 'mpp_timeout' });
    });
  }

  /** A hold invoice's set is complete: store it (HTLCs and secrets) and wait. */
  async #accept(inv: InvoiceRecord, set: HtlcSet): Promise<void> {
    const next: InvoiceRecord = {
      ...inv,
      status: 'accepted',
      htlcs: set.htlcs.map((h) => ({
        channelId: h.channelId,
        htlcId: h.htlcId,
        amountMsat: h.amountMsat,
        cltvExpiry: h.cltvExpiry,
        sharedSecret: h.sharedSecret ? toHex(h.sharedSecret) : '',
      })),
    };
    this.#invoices.set(inv.paymentHash, next);
    await this.#cm.store.write(PAYMENT_NS.invoices, inv.paymentHash, encodeRecord(next));
  }

  /** Durably records the claim (invoice paid + incoming payment + event), then fulfills every HTLC. */
  async #claimSet(inv: InvoiceRecord, htlcs: readonly SetHtlc[]): Promise<void> {
    const now = this.#cm.clock.now();
    const first = htlcs[0]!;
    const amount = htlcs.reduce((a, h) => a + h.amountMsat, 0n);
    const claims: HtlcRef[] = htlcs.map((h) => ({
      channelId: h.channelId,
      htlcId: h.htlcId,
      amountMsat: h.amountMsat,
    }));
    const paid: InvoiceRecord = {
      ...inv,
      status: 'paid',
      paidMsat: amount,
      claim: { channelId: first.channelId, htlcId: first.htlcId },
      claims,
    };
    delete paid.htlcs;
    const rec: PaymentRecord = {
      paymentHash: inv.paymentHash,
      direction: 'incoming',
      status: 'succeeded',
      amountMsat: amount,
      feeMsat: 0n,
      preimage: inv.preimage,
      ...(inv.bolt11 ? { bolt11: inv.bolt11 } : {}),
      channelId: first.channelId,
      htlcId: first.htlcId,
      createdAt: now,
      settledAt: now,
      ...(inv.keysend ? { kind: 'keysend' as const } : {}),
    };
    const ev = this.#cm.events.prepare({
      type: 'PaymentReceived',
      paymentHash: inv.paymentHash,
      amountMsat: amount,
      channelId: first.channelId,
    });
    this.#invoices.set(inv.paymentHash, paid);
    this.#in.set(inv.paymentHash, rec);
    this.#sets.delete(inv.paymentHash);
    // The claim record is queued, not awaited: the fulfills below leave only once every write
    // queued before them is durable (the store commits in order), so it shares their commit.
    const recorded = this.#cm.store.batch([
      { op: 'put', namespace: PAYMENT_NS.invoices, key: inv.paymentHash, value: encodeRecord(paid) },
      { op: 'put', namespace: PAYMENT_NS.incoming, key: inv.paymentHash, value: encodeRecord(rec) },
      ev.op,
    ]);
    recorded.catch(() => undefined); // awaited below
    const preimage = fromHex(inv.preimage);
    const fulfilled = htlcs.map((h) => this.#fulfill(h.channelId, h.htlcId, preimage));
    await recorded;
    ev.deliver();
    await Promise.all(fulfilled);
  }

  async #fulfill(cid: string, htlcId: bigint, preimage: Uint8Array): Promise<void> {
    const hash = sha256(preimage);
    // A closing channel cannot fulfill off-chain any more: its monitor claims the HTLC on chain.
    if (this.#cm.channelState(cid)?.kind === 'Closing') {
      await this.#cm.providePreimage(cid, hash, preimage);
      return;
    }
    // Queued together (the channel runs them in order): one durable write for both steps.
    const fulfilled = this.#cm.command(cid, { type: 'CmdFulfill', id: htlcId, preimage });
    fulfilled.catch(() => undefined); // awaited below
    const signed = this.#cm.command(cid, { type: 'CmdSign' });
    signed.catch(() => undefined); // awaited below
    const fx = await fulfilled;
    await signed;
    // Refused because the channel started closing meanwhile: same as above.
    if (fx.some((e) => e.type === 'CommandRejected') && this.#cm.channelState(cid)?.kind === 'Closing')
      await this.#cm.providePreimage(cid, hash, preimage);
  }

  async #recoverIncoming(
    cid: string,
    h: { id: bigint; paymentHash: Uint8Array; amountMsat: bigint; cltvExpiry: number },
  ): Promise<void> {
    const inv = this.#invoices.get(toHex(h.paymentHash));
    const temp: FailureMessage = { name: 'temporary_node_failure' };
    if (!inv) return this.#failHtlc(cid, h.id, undefined, temp);
    if (inv.status === 'paid') {
      const claimed =
        inv.claims?.some((c) => c.channelId === cid && c.htlcId === h.id) ||
        (inv.claim?.channelId === cid && inv.claim.htlcId === h.id);
      if (claimed) return this.#fulfill(cid, h.id, fromHex(inv.preimage));
      return this.#failHtlc(cid, h.id, undefined, temp);
    }
    if (inv.status === 'accepted' && inv.htlcs?.some((x) => x.channelId === cid && x.htlcId === h.id)) {
      // Still held for settle/cancel.
      return;
    }
    if (inv.status !== 'open' || inv.hold || (inv.amountMsat !== null && h.amountMsat < inv.amountMsat))
      return this.#failHtlc(cid, h.id, undefined, temp);
    await this.#claimSet(inv, [
      {
        channelId: cid,
        htlcId: h.id,
        amountMsat: h.amountMsat,
        cltvExpiry: h.cltvExpiry,
        sharedSecret: undefined,
      },
    ]);
  }

  async #recoverOutgoing(p: PaymentRecord): Promise<void> {
    if (!p.parts) {
      // A record of the single-hop era.
      const st = p.channelId ? this.#cm.channelState(p.channelId) : undefined;
      if (st && p.htlcId !== undefined && outgoingHtlcPresent(st, p.htlcId)) return;
      const preimage = p.channelId ? await this.#storedPreimage(p.channelId, p.paymentHash) : undefined;
      if (preimage) await this.#settleOut(p.paymentHash, { preimage });
      else await this.#settleOut(p.paymentHash, { reason: 'HTLC not committed before a restart' });
      return;
    }
    let preimage: Uint8Array | undefined;
    for (const part of p.parts) {
      if (part.status !== 'pending') continue;
      const st = part.channelId ? this.#cm.channelState(part.channelId) : undefined;
      if (st && part.htlcId === undefined) {
        const taken = new Set(
          p.parts.filter((x) => x !== part && x.channelId === part.channelId).map((x) => x.htlcId),
        );
        const d = fundedData(st);
        const found = d
          ? [
              ...d.commitments.localCommit.spec.htlcs.filter((x) => x.direction === 'offered'),
              ...d.commitments.remoteCommit.spec.htlcs.filter((x) => x.direction === 'received'),
              ...[
                ...d.commitments.changes.localProposed,
                ...d.commitments.changes.localSigned,
                ...d.commitments.changes.localAcked,
              ].filter((u) => u.type === 'update_add_htlc'),
            ].find(
              (x) =>
                !taken.has(x.id) &&
                toHex(x.paymentHash) === p.paymentHash &&
                x.amountMsat === part.sentMsat &&
                x.cltvExpiry === part.cltvExpiry,
            )
          : undefined;
        if (found) part.htlcId = found.id;
      }
      if (st && part.htlcId !== undefined && outgoingHtlcPresent(st, part.htlcId)) {
        this.#partIdx.set(partKey(part.channelId, part.htlcId), p.paymentHash);
        continue;
      }
      const pre = part.channelId ? await this.#storedPreimage(part.channelId, p.paymentHash) : undefined;
      if (pre) {
        part.status = 'succeeded';
        preimage = pre;
      } else {
        part.status = 'failed';
        part.failureReason = 'HTLC not committed before a restart';
      }
    }
    await this.#putOut(p);
    if (preimage) await this.#settleOut(p.paymentHash, { preimage });
    else if (!p.parts.some((x) => x.status === 'pending'))
      await this.#settleOut(p.paymentHash, {
        reason: p.failureReason ?? 'HTLC not committed before a restart',
      });
  }

  async #storedPreimage(cid: string, hash: string): Promise<Uint8Array | undefined> {
    for (const u of await this.#cm.monitorUpdates(cid)) {
      if (u.update.type === 'Preimage' && toHex(u.update.paymentHash) === hash) return u.update.preimage;
    }
    return undefined;
  }
}

/** Fees of the parts of an outgoing payment that did not fail. */
function feesOf(rec: PaymentRecord): bigint {
  return (rec.parts ?? []).filter((p) => p.status !== 'failed').reduce((s, p) => s + p.feeMsat, 0n);
}

/** A record without its secrets (session keys). */
function publicRecord(r: PaymentRecord): PaymentRecord {
  const { sessionKey: _s, ...rest } = r;
  if (rest.parts) rest.parts = rest.parts.map(({ sessionKey: _k, ...p }) => ({ ...p, sessionKey: '' }));
  return rest;
}
