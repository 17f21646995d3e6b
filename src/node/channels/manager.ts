/**
 * The channel runtime: runs the sans-IO BOLT #2 state machine (core/channel `step`) of every
 * channel of the node against the real ports — peers (BOLT 8 connections), the store, the chain
 * and the on-chain wallet.
 *
 * Rules implemented:
 * - One state per channel and one input queue per channel: inputs (peer messages, commands,
 *   chain and link events) are processed strictly one at a time, in arrival order.
 * - Effects run in the order the state machine lists them. `MonitorUpdate`s and the
 *   `PersistChannel` of a step go to the store in ONE atomic, durable batch (namespaces
 *   `monitor` and `channels`), awaited BEFORE any `SendMessage`/broadcast of that step
 *   (BOLT 2 retransmission and BOLT 5 punishment depend on it); the {@link MonitorSink} is told
 *   after the write.
 * - Funding: `BuildFundingTx` asks the wallet for a signed, unbroadcast transaction and feeds
 *   `FundingTxBuilt`; `BroadcastFundingTx` broadcasts it (only after `funding_signed`);
 *   `WatchFunding` watches the funding output and, once the funding transaction has the
 *   required depth and pays the agreed amount to the 2-of-2 script, feeds `FundingConfirmed`
 *   with the real short_channel_id. Every new block is fed to every channel as `BlockConnected`.
 * - Peer messages are routed by `temporary_channel_id` / `channel_id` (and must come from the
 *   channel's peer); an `open_channel` creates a new acceptor channel (zero-conf only from
 *   trusted peers). A connected peer gives each of its channels `Connected` (which sends
 *   `channel_reestablish`) before any of its messages is dispatched; a disconnect gives
 *   `Disconnected`.
 * - Start-up: every stored channel is loaded; funded ones start `Offline` and reestablish when
 *   their peer connects; funding watches and closing watches are re-armed; unbroadcast funding
 *   transactions are rebroadcast.
 * - A closing channel (mutual or force) is `Closed` once the funding output's spend has
 *   `closeConfirmations` confirmations (the BOLT 5 monitor takes over the outputs).
 * - Node events (channel pending/ready/closed, payments) go through a durable {@link EventQueue}.
 *
 * Store layout: `channels/<id hex>` (record: JSON header line + encoded channel state),
 * `monitor/<id hex>/<seq>`, `node/channel-key-index`, `events/*`, and the payment namespaces of
 * src/node/payments.
 */
import {
  type ChannelCommand,
  type ChannelConfig,
  type ChannelEffect,
  type ChannelInput,
  type ChannelKeys,
  type ChannelState,
  type ChannelTypeName,
  type CmdOpen,
  decodeChannelState,
  defaultChannelConfig,
  encodeChannelState,
  type FundedData,
  fundingScriptPubKey,
  incomingCrossSigned,
  type MonitorUpdate,
  precomputeNextKeys,
  type SpecHtlc,
  type StepContext,
  step,
} from '../../core/channel/index.js';
import { concat, equal, fromHex, fromUtf8, toHex, utf8 } from '../../protocol/encoding/bytes.js';
import { addressToScript } from '../../protocol/tx/address.js';
import { type Transaction, txidHex } from '../../protocol/tx/transaction.js';
import type { AnnouncementSignatures, KnownMessage, UpdateAddHtlc } from '../../protocol/wire/messages.js';
import { CHAIN_HASHES } from '../peer/init.js';
import type { ChannelMessage, ChannelMessageHandler, PeerId, PeerLogger } from '../peer/types.js';
import { silentLogger } from '../peer/types.js';
import type { ChainEvent } from '../ports/chain.js';
import { type Clock, systemClock } from '../ports/clock.js';
import type { KVStore, StoreOp } from '../ports/store.js';
import { decodeRecord, encodeRecord } from './codec.js';
import { EventQueue, type NodeEventBody } from './events.js';
import {
  type ChannelChain,
  type ChannelInfo,
  ChannelManagerError,
  type ChannelManagerOptions,
  type ChannelPeers,
  type FundingWallet,
  type MonitorSink,
  type OpenChannelOptions,
  type StoredMonitorUpdate,
} from './types.js';

/** Store namespaces used by the channel manager. */
export const NS = { channels: 'channels', monitor: 'monitor', node: 'node' } as const;

const ZERO32 = new Uint8Array(32);
/** Channels a peer may have in establishment (not yet funded) at once. */
const MAX_UNFUNDED_PER_PEER = 4;

/** Header stored in front of each channel state. */
interface ChannelHeader {
  v: 1;
  peer: string;
  keyIndex: number;
  monitorSeq: number;
}

/** Hooks the payment layer installs to learn about HTLCs (see src/node/payments). */
export interface HtlcHooks {
  htlcReceived(channelId: string, add: UpdateAddHtlc, mustFail: boolean): void | Promise<void>;
  /**
   * Optional: an `update_add_htlc` arrived and is not committed yet; called while the channel
   * waits for the peer, so work that {@link HtlcHooks.htlcReceived} will need for this HTLC
   * (peeling its onion) can be done ahead, off the payment path. Must not act on the HTLC.
   */
  htlcOffered?(channelId: string, add: UpdateAddHtlc): void;
  htlcFulfilled(
    channelId: string,
    id: bigint,
    paymentHash: Uint8Array,
    preimage: Uint8Array,
  ): void | Promise<void>;
  htlcFailed(
    channelId: string,
    id: bigint,
    paymentHash: Uint8Array,
    failure: Extract<ChannelEffect, { type: 'HtlcFailed' }>['failure'],
  ): void | Promise<void>;
}

/**
 * Hooks the gossip layer installs (see src/node/gossip): the state machine does not process
 * BOLT 7 `announcement_signatures`, so the manager hands them over; and it reports channels
 * whose state kind, short_channel_id or aliases changed (announcements and `channel_update`s
 * depend on them).
 */
export interface GossipHooks {
  announcementSignatures(peer: string, msg: AnnouncementSignatures): void | Promise<void>;
  channelChanged?(channelId: string): void;
}

interface Waiter<T> {
  resolve: (v: T) => void;
  reject: (e: Error) => void;
}

/** One channel in memory. */
interface Chan {
  /** Current routing id (temporary id before funding, channel id after). */
  id: string;
  peer: string;
  keyIndex: number;
  keys: ChannelKeys;
  state: ChannelState;
  monitorSeq: number;
  queue: Promise<unknown>;
  /**
   * Messages of pipelined steps (see {@link ChannelManager.#drain}) leave in this chain, each
   * group after its store batch is durable; settles when everything queued so far was sent.
   */
  outbox: Promise<void>;
  /** Set when a store write of this channel failed: nothing more is sent for it. */
  halted: boolean;
  /** A `CmdSign` scheduled for deferred removals (see `SignDeferred`). */
  signTimer: boolean;
  /** Idle-time preparation is scheduled (see {@link ChannelManager.#idleWork}). */
  precompute: boolean;
  /** HTLCs offered to us since the last idle-time preparation. */
  offered: UpdateAddHtlc[] | undefined;
  /** Writes of message steps that sent nothing, waiting for the channel's next batch (see #pipeline). */
  deferred:
    | {
        ops: StoreOp[];
        mons: StoredMonitorUpdate[];
        items: ReadonlyArray<{ item: QueuedInput; effects: ChannelEffect[] }>;
      }
    | undefined;
  /** Inputs waiting for the next drain of {@link ChannelManager.#drain} (in arrival order). */
  inbox: QueuedInput[];
  builtFundingTx: Transaction | undefined;
  openWaiter: Waiter<{ channelId: string; fundingTxid: string; fundingOutputIndex: number }> | undefined;
  closeWaiters: Waiter<{ closingTxid: string | undefined }>[];
}

interface FundingWatch {
  chan: Chan;
  txid: string;
  outputIndex: number;
  minDepth: number;
  scriptPubKey: Uint8Array;
  amountSat: bigint;
}

/** Funded data of a state, if any. */
export function fundedData(s: ChannelState): FundedData | undefined {
  if (s.kind === 'Offline') return s.inner.data;
  if ('data' in s) return s.data;
  return undefined;
}

function stateId(s: ChannelState): string | undefined {
  switch (s.kind) {
    case 'WaitForOpenChannel':
      return undefined;
    case 'WaitForAcceptChannel':
    case 'WaitForFundingTx':
    case 'WaitForFundingCreated':
      return toHex(s.open.temporaryChannelId);
    case 'WaitForFundingSigned':
      return toHex(s.commitments.params.channelId);
    case 'Closed':
      return s.channelId ? toHex(s.channelId) : undefined;
    default:
      return toHex(fundedData(s)!.commitments.params.channelId);
  }
}

function msgChannelId(msg: ChannelMessage): Uint8Array | undefined {
  const m = msg as { temporaryChannelId?: Uint8Array; channelId?: Uint8Array };
  if (
    msg.type === 'open_channel' ||
    msg.type === 'accept_channel' ||
    msg.type === 'funding_created' ||
    msg.type === 'open_channel2' ||
    msg.type === 'accept_channel2'
  )
    return m.temporaryChannelId;
  return m.channelId;
}

/** Incoming HTLCs irrevocably committed and not yet settled (resolution pending). */
export function unresolvedIncomingHtlcs(s: ChannelState): SpecHtlc[] {
  const d = fundedData(s);
  if (!d || s.kind === 'Closing' || s.kind === 'Closed') return [];
  const c = d.commitments;
  const queued = new Set(d.pendingSettlements.map((p) => p.id));
  return c.localCommit.spec.htlcs.filter(
    (h) => h.direction === 'received' && !queued.has(h.id) && incomingCrossSigned(c, h.id).ok,
  );
}

/** Whether an outgoing HTLC (`id`) is still anywhere in the channel's commitments or changes. */
export function outgoingHtlcPresent(s: ChannelState, id: bigint): boolean {
  const d = fundedData(s);
  if (!d) return false;
  const c = d.commitments;
  const specs = [c.localCommit.spec, c.remoteCommit.spec, c.waiting?.nextRemoteCommit.spec];
  if (
    specs.some((sp) =>
      sp?.htlcs.some(
        (h) => h.id === id && h.direction === (sp === c.localCommit.spec ? 'offered' : 'received'),
      ),
    )
  )
    return true;
  const ch = c.changes;
  return [...ch.localProposed, ...ch.localSigned, ...ch.localAcked].some(
    (u) => u.type === 'update_add_htlc' && u.id === id,
  );
}

/** One queued channel input and its caller's promise. */
interface QueuedInput {
  input: ChannelInput;
  resolve: (effects: ChannelEffect[]) => void;
  reject: (e: unknown) => void;
  /** Called with the step's effects as soon as the step is applied (before they are durable). */
  applied?: ((effects: ChannelEffect[]) => void) | undefined;
}

/** Peer messages whose processing the peer's next message does not wait for (see #drain). */
const NONBLOCKING = new Set<string>([
  'update_add_htlc',
  'update_fulfill_htlc',
  'update_fail_htlc',
  'update_fail_malformed_htlc',
  'update_fee',
  'commitment_signed',
  'revoke_and_ack',
]);
/** Queued inputs of a channel above which the peer's messages wait again (back-pressure). */
const MAX_QUEUED_INPUTS = 1024;
/** Longest a deferred write (a step that sent nothing) waits for the channel's next batch. */
const DEFERRED_WRITE_MS = 20;
/** Effect types a batched step may have (no I/O other than messages, no events). */
const GROUPABLE = new Set<string>([
  'SendMessage',
  'MonitorUpdate',
  'PersistChannel',
  'HtlcReceived',
  'HtlcFulfilled',
  'HtlcFailed',
  'CommandRejected',
  'SignDeferred',
]);

/** Whether a step may share its store batch with its neighbours (see ChannelManager #drain). */
function groupable(
  before: ChannelState,
  beforeData: FundedData | undefined,
  after: ChannelState,
  effects: readonly ChannelEffect[],
): boolean {
  if (before.kind !== after.kind || (after.kind !== 'Normal' && after.kind !== 'Shutdown')) return false;
  const a = fundedData(after);
  if (!a || !beforeData) return false;
  if (
    a.shortChannelId !== beforeData.shortChannelId ||
    a.remoteAlias !== beforeData.remoteAlias ||
    a.localShutdown !== beforeData.localShutdown
  )
    return false;
  return effects.every((e) => GROUPABLE.has(e.type));
}

/** Message counters of a {@link ChannelManager}. */
export interface ChannelStats {
  /** `commitment_signed` sent. */
  commitmentSigned: number;
  /** HTLC signatures carried by them (non-trimmed HTLCs of the signed commitments). */
  htlcSignatures: number;
  /** `update_*` messages sent (HTLC adds, fulfills, fails, fee updates). */
  updates: number;
  /** `revoke_and_ack` sent. */
  revocations: number;
}

function countSent(s: ChannelStats, m: KnownMessage): void {
  if (m.type === 'commitment_signed') {
    s.commitmentSigned++;
    s.htlcSignatures += m.htlcSignatures.length;
  } else if (m.type === 'revoke_and_ack') s.revocations++;
  else if (m.type.startsWith('update_')) s.updates++;
}

function defaultRandom(n: number): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}

/** See the module documentation. */
export class ChannelManager implements ChannelMessageHandler {
  readonly nodeId: string;
  readonly events: EventQueue;
  readonly store: KVStore;
  readonly chain: ChannelChain;
  readonly wallet: FundingWallet;
  readonly clock: Clock;
  readonly random: (n: number) => Uint8Array;
  readonly log: PeerLogger;
  /** Counters of the messages sent (diagnostics and benchmarks). */
  readonly stats: ChannelStats = { commitmentSigned: 0, htlcSignatures: 0, updates: 0, revocations: 0 };
  readonly #opts: ChannelManagerOptions;
  readonly #chainHash: Uint8Array;
  readonly #trusted: Set<string>;
  readonly #sink: MonitorSink | undefined;
  readonly #closeConfs: number;
  readonly #chans = new Map<string, Chan>();
  /** Every channel ever loaded or created (including ones not routable yet). */
  readonly #all = new Set<Chan>();
  readonly #watches = new Map<Chan, FundingWatch>();
  #peers: ChannelPeers | undefined;
  #unsubs: Array<() => void> = [];
  #height = 0;
  #feerate = 253;
  readonly #commitDelayMs: number;
  #chainQueue: Promise<unknown> = Promise.resolve();
  #keyIndex = 0;
  #keyLock: Promise<unknown> = Promise.resolve();
  #hooks: HtlcHooks | undefined;
  #gossipHooks: GossipHooks | undefined;
  #started = false;
  #stopped = false;

  constructor(opts: ChannelManagerOptions) {
    this.#opts = opts;
    this.nodeId = opts.keys.nodeId;
    this.store = opts.store;
    this.chain = opts.chain;
    this.wallet = opts.wallet;
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? defaultRandom;
    this.log = opts.logger ?? silentLogger;
    const net = opts.wallet.network === 'mainnet' ? 'mainnet' : opts.wallet.network;
    this.#chainHash = opts.chainHash ?? CHAIN_HASHES[net];
    this.#trusted = new Set([...(opts.trustedPeers ?? [])].map((p) => p.toLowerCase()));
    this.#sink = opts.monitorSink;
    this.#closeConfs = opts.closeConfirmations ?? 6;
    this.#commitDelayMs = opts.commitDelayMs ?? 5;
    this.events = new EventQueue(opts.store, () => this.clock.now(), {
      schedule: (fn, ms) => void this.clock.setTimeout(fn, ms),
    });
  }

  /** Current chain height as seen by the channels. */
  get blockHeight(): number {
    return this.#height;
  }

  /** Current commitment fee rate estimate (sat/kw). */
  get feeratePerKw(): number {
    return this.#feerate;
  }

  /** Installs the payment layer's HTLC hooks (one set). */
  setHtlcHooks(hooks: HtlcHooks): void {
    this.#hooks = hooks;
  }

  /** Installs the gossip layer's hooks (one set). */
  setGossipHooks(hooks: GossipHooks): void {
    this.#gossipHooks = hooks;
  }

  /** Adds a peer whose zero-conf channels we accept. */
  trustPeer(nodeId: string): void {
    this.#trusted.add(nodeId.toLowerCase());
  }

  /**
   * The lowest height the chain tracker must scan from on start-up so that no funding
   * confirmation or close is missed: the funding height of unconfirmed channels, else undefined.
   */
  static async rescanHeight(store: KVStore): Promise<number | undefined> {
    let h: number | undefined;
    for (const k of await store.list(NS.channels)) {
      const v = await store.read(NS.channels, k);
      if (!v) continue;
      const { state } = decodeChannelRecord(v);
      const d = fundedData(state);
      if (!d || state.kind === 'Closed') continue;
      if (d.shortChannelId === undefined || state.kind === 'Closing')
        h = Math.min(h ?? d.createdAtHeight, d.createdAtHeight);
    }
    return h;
  }

  /**
   * Loads every stored channel, subscribes to the peers and the chain, and resumes: funded
   * channels are `Offline` until their peer connects. Call once, before the peer manager
   * connects or listens (or with its peers connected: they are reestablished at once).
   */
  async start(peers: ChannelPeers): Promise<void> {
    if (this.#started) throw new ChannelManagerError('NODE_STARTED', 'already started');
    this.#started = true;
    this.#peers = peers;
    await this.events.load();
    const idx = await this.store.read(NS.node, 'channel-key-index');
    this.#keyIndex = idx ? Number(fromUtf8(idx)) : 0;
    for (const k of await this.store.list(NS.channels)) {
      const v = await this.store.read(NS.channels, k);
      if (!v) continue;
      const { header, state } = decodeChannelRecord(v);
      const chan = this.#newChan(header.peer, header.keyIndex, state);
      chan.monitorSeq = header.monitorSeq;
      chan.id = k;
      this.#chans.set(k, chan);
      // Watch the funding output (and script) BEFORE the first scan, so a confirmation or spend
      // that happened while the node was down is seen by the scan that catches up.
      this.#armWatches(chan);
    }
    if (!this.chain.tip()) await this.chain.poll();
    this.#height = this.chain.tip()?.height ?? 0;
    await this.#refreshFeerate();
    this.#unsubs.push(this.chain.subscribe((e) => this.#onChainEvent(e)));
    this.#unsubs.push(peers.onPeerConnected((p) => this.#peerConnected(p)));
    this.#unsubs.push(peers.onPeerDisconnected((p) => this.#peerDisconnected(p)));
    for (const chan of [...this.#all]) {
      const s = chan.state;
      const d = fundedData(s);
      if (!d || s.kind === 'Closed') continue;
      // Everything restarts offline (a stored online state is taken offline like a disconnect).
      if (s.kind !== 'Closing') await this.#enqueue(chan, { type: 'Disconnected' });
      this.#armWatches(chan);
      if (d.fundingTx && d.commitments.params.isOpener && d.shortChannelId === undefined) {
        this.chain.broadcast(d.fundingTx).catch(() => undefined);
      }
      const st = chan.state;
      if (st.kind === 'Closing' && st.tx) this.chain.broadcast(st.tx).catch(() => undefined);
    }
    for (const chan of [...this.#all]) {
      if (peers.isConnected(chan.peer)) await this.#enqueue(chan, { type: 'Connected' });
    }
    this.#runChain(() => this.#checkWatches());
  }

  /** Stops processing (waits for queued work); the store is left open for the caller to close. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const u of this.#unsubs) u();
    this.#unsubs = [];
    await this.whenIdle();
    await this.events.flushAcks();
  }

  /** Resolves once every queued input and chain event has been processed. */
  async whenIdle(): Promise<void> {
    for (let i = 0; i < 100; i++) {
      for (const c of this.#all) this.#flushDeferred(c);
      const qs = [this.#chainQueue, ...[...this.#all].flatMap((c) => [c.queue, c.outbox])];
      await Promise.allSettled(qs);
      const again = [this.#chainQueue, ...[...this.#all].flatMap((c) => [c.queue, c.outbox])];
      if (again.length === qs.length && again.every((q, j) => q === qs[j])) return;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Public API

  /**
   * Opens a channel to a connected peer, funded from the wallet. Resolves once the funding
   * transaction is broadcast (after `funding_signed`), with the channel id and funding outpoint.
   */
  async openChannel(
    peer: string,
    fundingSats: bigint,
    opts: OpenChannelOptions = {},
  ): Promise<{ channelId: string; fundingTxid: string; fundingOutputIndex: number }> {
    this.#checkRunning();
    const p = peer.toLowerCase();
    if (!this.#peers!.isConnected(p))
      throw new ChannelManagerError('PEER_NOT_CONNECTED', 'peer is not connected', { details: p });
    const keyIndex = await this.#allocKeyIndex();
    const chan = this.#newChan(p, keyIndex, { kind: 'WaitForOpenChannel', config: this.#config(p) });
    const done = new Promise<{ channelId: string; fundingTxid: string; fundingOutputIndex: number }>(
      (resolve, reject) => {
        chan.openWaiter = { resolve, reject };
      },
    );
    const channelType: ChannelTypeName =
      (opts.channelType ?? 'anchors') === 'anchors' ? 'anchors_zero_fee_htlc_tx' : 'static_remotekey';
    const cmd: CmdOpen = {
      type: 'CmdOpen',
      fundingSats,
      pushMsat: opts.pushMsat ?? 0n,
      channelType,
      zeroConf: opts.zeroConf ?? false,
      announce: opts.announce ?? false,
    };
    done.catch(() => undefined); // observed below or by the caller
    const effects = await this.#enqueue(chan, cmd);
    const rej = effects.find((e) => e.type === 'CommandRejected');
    if (rej && rej.type === 'CommandRejected') {
      this.#all.delete(chan);
      throw new ChannelManagerError('CHANNEL_OPEN_FAILED', rej.error.message, { details: rej.error.code });
    }
    return done;
  }

  /**
   * Sends a command to a channel and returns the effects of its step (inspect `CommandRejected`).
   * Commands of one channel are serialised with its messages.
   */
  async command(channelId: string, cmd: ChannelCommand): Promise<ChannelEffect[]> {
    this.#checkRunning();
    const chan = this.#chans.get(channelId.toLowerCase());
    if (!chan) throw new ChannelManagerError('CHANNEL_NOT_FOUND', 'unknown channel', { details: channelId });
    return this.#enqueue(chan, cmd);
  }

  /**
   * Like {@link command}, but resolves as soon as the step is APPLIED: its state is current in
   * memory and its writes are queued, while its messages wait (in order) until those writes and
   * every write queued before them are durable. For callers that queue more work on the same
   * channel right away (so both share one durable commit); never use the result to tell anyone
   * outside the node that something happened.
   */
  commandApplied(channelId: string, cmd: ChannelCommand): Promise<ChannelEffect[]> {
    this.#checkRunning();
    const chan = this.#chans.get(channelId.toLowerCase());
    if (!chan) throw new ChannelManagerError('CHANNEL_NOT_FOUND', 'unknown channel', { details: channelId });
    return new Promise<ChannelEffect[]>((applied, reject) => {
      this.#enqueue(chan, cmd, applied).catch(reject);
    });
  }

  /**
   * Closes a channel: cooperatively (`shutdown` + `closing_signed`; the peer must be online),
   * or by publishing our latest commitment (`force`). Resolves with the closing transaction id
   * once the close is decided (mutual: both signatures; force: commitment broadcast).
   */
  async closeChannel(
    channelId: string,
    opts: { force?: boolean } = {},
  ): Promise<{ closingTxid: string | undefined }> {
    this.#checkRunning();
    const chan = this.#chans.get(channelId.toLowerCase());
    if (!chan) throw new ChannelManagerError('CHANNEL_NOT_FOUND', 'unknown channel', { details: channelId });
    if (chan.state.kind === 'Closing' || chan.state.kind === 'Closed')
      return { closingTxid: closingTxid(chan.state) };
    const done = new Promise<{ closingTxid: string | undefined }>((resolve, reject) => {
      chan.closeWaiters.push({ resolve, reject });
    });
    const effects = await this.#enqueue(chan, opts.force ? { type: 'CmdForceClose' } : { type: 'CmdClose' });
    const rej = effects.find((e) => e.type === 'CommandRejected');
    if (rej && rej.type === 'CommandRejected') {
      chan.closeWaiters = [];
      throw new ChannelManagerError('CHANNEL_COMMAND_REJECTED', rej.error.message, {
        details: rej.error.code,
      });
    }
    return done;
  }

  /** Snapshots of every channel (closed ones included). */
  listChannels(): ChannelInfo[] {
    return [...this.#all].filter((c) => c.state.kind !== 'WaitForOpenChannel').map((c) => info(c));
  }

  /** One channel's snapshot. */
  channel(channelId: string): ChannelInfo | undefined {
    const c = this.#chans.get(channelId.toLowerCase());
    return c ? info(c) : undefined;
  }

  /** The raw state of a channel (read-only use). */
  channelState(channelId: string): ChannelState | undefined {
    return this.#chans.get(channelId.toLowerCase())?.state;
  }

  /** Channels with `peer` in `Normal` state (usable for payments), most local balance first. */
  usableChannels(peer: string): ChannelInfo[] {
    return this.listChannels()
      .filter((c) => c.peer === peer.toLowerCase() && c.state === 'Normal')
      .sort((a, b) => (a.localMsat > b.localMsat ? -1 : a.localMsat < b.localMsat ? 1 : 0));
  }

  /**
   * The key index of a channel (its {@link ChannelKeys} are `keys.channelKeys(index)`), for the
   * BOLT 5 monitor; undefined for an unknown channel.
   */
  channelKeyIndex(channelId: string): number | undefined {
    return this.#chans.get(channelId.toLowerCase())?.keyIndex;
  }

  /** Every stored monitor update of a channel, in order (for the BOLT 5 monitor). */
  async monitorUpdates(channelId: string): Promise<StoredMonitorUpdate[]> {
    return loadMonitorUpdates(this.store, channelId);
  }

  /**
   * Hands a payment preimage to the BOLT 5 monitor of a channel whose state machine can no
   * longer fulfill (a `Closing` channel: `CmdFulfill` is refused there) so the incoming HTLC is
   * claimed on chain. Writes a `Preimage` monitor update durably (same sequence as the
   * channel's own updates, serialised with the channel's inputs), then tells the sink.
   * Returns false for an unknown or unfunded channel.
   */
  async providePreimage(channelId: string, paymentHash: Uint8Array, preimage: Uint8Array): Promise<boolean> {
    const chan = this.#chans.get(channelId.toLowerCase());
    if (!chan) return false;
    const run = chan.queue.then(async () => {
      const d = fundedData(chan.state);
      if (!d) return false;
      const update: MonitorUpdate = {
        type: 'Preimage',
        channelId: d.commitments.params.channelId,
        paymentHash,
        preimage,
      };
      const seq = ++chan.monitorSeq;
      const cid = toHex(update.channelId);
      await this.#persistState(chan, [
        { op: 'put', namespace: NS.monitor, key: monitorKey(cid, seq), value: encodeRecord(update) },
      ]);
      try {
        this.#sink?.monitorUpdates(cid, [{ seq, update }]);
      } catch (e) {
        this.log.error('monitor sink failed', { error: String(e) });
      }
      return true;
    });
    chan.queue = run.catch((e: unknown) =>
      this.log.error('preimage hand-over failed', { channel: chan.id, error: String(e) }),
    );
    return run;
  }

  // ---------------------------------------------------------------------------------------------
  // Peer messages

  /**
   * {@link ChannelMessageHandler}: routes a channel message to its channel (see module doc).
   * Normal-operation messages return synchronously (no promise) once queued, so the peer
   * dispatches every message of a received chunk before the channel processes them: a
   * `revoke_and_ack` and the `commitment_signed` behind it are handled in one batch.
   */
  handleChannelMessage(peer: PeerId, msg: ChannelMessage): void | Promise<void> {
    if (this.#stopped || !this.#started) return;
    if (NONBLOCKING.has(msg.type)) {
      const cid = msgChannelId(msg);
      if (!cid) return;
      const chan = this.#chans.get(toHex(cid));
      if (!chan || chan.peer !== peer.toLowerCase()) {
        this.log.debug('message for an unknown channel', { peer, type: msg.type });
        return;
      }
      const done = this.#enqueue(chan, msg as ChannelInput);
      // The channel's queue keeps their order; failures are logged by #drain.
      if (chan.inbox.length < MAX_QUEUED_INPUTS) {
        done.catch(() => undefined);
        return;
      }
      return done.then(() => undefined);
    }
    return this.#handleOtherMessage(peer, msg);
  }

  async #handleOtherMessage(peer: PeerId, msg: ChannelMessage): Promise<void> {
    const p = peer.toLowerCase();
    const cid = msgChannelId(msg);
    if (msg.type === 'open_channel') {
      const id = toHex(msg.temporaryChannelId);
      if (this.#chans.has(id)) return; // duplicate temporary id: ignore
      const unfunded = [...this.#all].filter((c) => c.peer === p && fundedData(c.state) === undefined);
      if (unfunded.length >= MAX_UNFUNDED_PER_PEER) {
        this.#peers?.sendMessage(p, {
          type: 'error',
          channelId: msg.temporaryChannelId,
          data: utf8('too many channels being opened'),
        });
        return;
      }
      const keyIndex = await this.#allocKeyIndex();
      const chan = this.#newChan(p, keyIndex, { kind: 'WaitForOpenChannel', config: this.#config(p) });
      chan.id = id;
      this.#chans.set(id, chan);
      await this.#enqueue(chan, msg as ChannelInput);
      return;
    }
    if ((msg.type === 'error' || msg.type === 'warning') && cid && equal(cid, ZERO32)) {
      // BOLT 1: an all-zero channel_id refers to all channels with the sender.
      if (msg.type === 'warning') return;
      await Promise.all(
        [...this.#all].filter((c) => c.peer === p).map((c) => this.#enqueue(c, msg as ChannelInput)),
      );
      return;
    }
    if (msg.type === 'announcement_signatures') {
      // BOLT 7: handled by the gossip layer (the channel state machine ignores it).
      await this.#gossipHooks?.announcementSignatures(p, msg);
      return;
    }
    if (!cid) return;
    const chan = this.#chans.get(toHex(cid));
    if (!chan || chan.peer !== p) {
      this.log.debug('message for an unknown channel', { peer: p, type: msg.type });
      return;
    }
    await this.#enqueue(chan, msg as ChannelInput);
  }

  // ---------------------------------------------------------------------------------------------
  // Internals: channels and effects

  #checkRunning(): void {
    if (!this.#started || this.#stopped)
      throw new ChannelManagerError('NODE_STOPPED', 'channel manager is not running');
  }

  #newChan(peer: string, keyIndex: number, state: ChannelState): Chan {
    const chan: Chan = {
      id: '',
      peer,
      keyIndex,
      keys: this.#opts.keys.channelKeys(keyIndex),
      state,
      monitorSeq: 0,
      queue: Promise.resolve(),
      outbox: Promise.resolve(),
      halted: false,
      signTimer: false,
      precompute: false,
      offered: undefined,
      deferred: undefined,
      inbox: [],
      builtFundingTx: undefined,
      openWaiter: undefined,
      closeWaiters: [],
    };
    this.#all.add(chan);
    return chan;
  }

  #config(peer: string): ChannelConfig {
    const shutdownScript = addressToScript(this.wallet.newAddress(), this.wallet.network);
    const r = this.random(8);
    let alias = 0n;
    for (const b of r) alias = (alias << 8n) | BigInt(b);
    // An alias whose "block height" is far above any real one (BOLT 2 option_scid_alias).
    const localAlias = ((0x800000n | ((alias >> 40n) & 0x7fffffn)) << 40n) | (alias & 0xffffffffffn);
    return {
      ...defaultChannelConfig(this.#chainHash, shutdownScript),
      localAlias,
      ...this.#opts.channelConfig,
      trustZeroConf: this.#trusted.has(peer),
    };
  }

  async #allocKeyIndex(): Promise<number> {
    const run = this.#keyLock.then(async () => {
      const i = this.#keyIndex;
      await this.store.write(NS.node, 'channel-key-index', utf8(String(i + 1)));
      this.#keyIndex = i + 1;
      return i;
    });
    this.#keyLock = run.catch(() => undefined);
    return run;
  }

  #ctx(chan: Chan): StepContext {
    return {
      blockHeight: this.#height,
      keys: chan.keys,
      feeratePerKw: this.#feerate,
      randomBytes: this.random,
      deferRemovalSigning: this.#commitDelayMs > 0,
    };
  }

  /** Queues `input` on the channel; resolves with the step's effects once they were executed. */
  #enqueue(
    chan: Chan,
    input: ChannelInput,
    applied?: (effects: ChannelEffect[]) => void,
  ): Promise<ChannelEffect[]> {
    return new Promise<ChannelEffect[]>((resolve, reject) => {
      chan.inbox.push({ input, resolve, reject, applied });
      if (chan.inbox.length === 1) chan.queue = chan.queue.then(() => this.#drain(chan));
    });
  }

  /**
   * Processes every queued input of a channel, in order.
   *
   * Pipelined steps (a `Normal`/`Shutdown` channel whose effects are only messages, monitor
   * updates, state persistence, HTLC notifications and rejections: see `groupable`) do not wait
   * for the disk. Consecutive ones form a group whose monitor updates and latest state are
   * queued as ONE store batch; the group's messages leave only once that batch, and therefore
   * every write queued before it, is durable, after the previous groups' messages
   * (`chan.outbox`). The group's HTLC notifications run at once: what they write (a payment
   * record, the fulfill of a claimed HTLC, a forwarded HTLC on another channel) is queued behind
   * this batch and joins the same group commit, and what they send is held behind their own
   * writes in turn. Persist-before-send holds for every message; a whole payment round costs a
   * few commits instead of one per step.
   *
   * Any other step first waits until the outbox is empty, then runs alone with its writes
   * awaited before its messages ({@link ChannelManager.#execute}).
   */
  async #drain(chan: Chan): Promise<void> {
    const items = chan.inbox;
    chan.inbox = [];
    let group: Array<{ item: QueuedInput; effects: ChannelEffect[] }> = [];
    for (const item of items) {
      const before = chan.state;
      const beforeData = fundedData(before);
      let r: ReturnType<typeof step>;
      try {
        r = step(before, item.input, this.#ctx(chan));
      } catch (e) {
        this.#pipeline(chan, group);
        group = [];
        this.#inputFailed(chan, item, e);
        continue;
      }
      chan.state = r.state;
      this.#route(chan);
      if (groupable(before, beforeData, r.state, r.effects)) {
        group.push({ item, effects: r.effects });
        item.applied?.(r.effects);
        continue;
      }
      this.#pipeline(chan, group);
      group = [];
      this.#flushDeferred(chan);
      await chan.outbox;
      try {
        const fx = await this.#afterStep(chan, before.kind, beforeData, r);
        item.applied?.(fx);
        item.resolve(fx);
      } catch (e) {
        this.#inputFailed(chan, item, e);
      }
    }
    this.#pipeline(chan, group);
  }

  #inputFailed(chan: Chan, item: QueuedInput, e: unknown): void {
    this.log.error('channel input failed', { channel: chan.id, input: item.input.type, error: String(e) });
    item.reject(e);
  }

  /**
   * Queues the writes of a group of pipelined steps, schedules its messages behind them and runs
   * its notifications (see {@link ChannelManager.#drain}).
   */
  #pipeline(chan: Chan, g: ReadonlyArray<{ item: QueuedInput; effects: ChannelEffect[] }>): void {
    if (g.length === 0) return;
    let ops: StoreOp[] = [];
    let mons: StoredMonitorUpdate[] = [];
    const msgs: KnownMessage[] = [];
    const notes: Array<() => void> = [];
    let state: ChannelState | undefined;
    for (const x of g)
      for (const e of x.effects) {
        if (e.type === 'MonitorUpdate') {
          const seq = ++chan.monitorSeq;
          mons.push({ seq, update: e.update });
          ops.push({
            op: 'put',
            namespace: NS.monitor,
            key: monitorKey(toHex(e.update.channelId), seq),
            value: encodeRecord(e.update),
          });
        } else if (e.type === 'PersistChannel') state = e.state;
        else if (e.type === 'SendMessage') msgs.push(e.msg as KnownMessage);
        // HTLC notifications and rejections: synchronous bookkeeping, notifications collected.
        else void this.#effect(chan, e, notes, []);
      }
    if (state) ops.push(this.#stateOp(chan, state));
    let items = g;
    const held = chan.deferred;
    if (held) {
      chan.deferred = undefined;
      // Only the newest channel record matters; monitor updates keep their order.
      const newest = state !== undefined;
      ops = [...held.ops.filter((o) => !(newest && o.namespace === NS.channels)), ...ops];
      mons = [...held.mons, ...mons];
      items = [...held.items, ...g];
    }
    // Peer messages whose step sends nothing and tells nobody (e.g. a revoke_and_ack that only
    // completes a removal) need not be durable now: no message depends on them yet, and a peer
    // retransmits what we did not persist (BOLT 2 channel_reestablish). Their writes wait for the
    // channel's next batch (or DEFERRED_WRITE_MS), saving a commit and an fsync.
    if (
      msgs.length === 0 &&
      notes.length === 0 &&
      ops.length > 0 &&
      this.#commitDelayMs > 0 &&
      items.every((x) => NONBLOCKING.has(x.item.input.type))
    ) {
      chan.deferred = { ops, mons, items };
      systemClock.setTimeout(() => this.#flushDeferred(chan), DEFERRED_WRITE_MS);
      return;
    }
    this.#commit(chan, ops, mons, msgs, items);
    for (const n of notes) n();
  }

  /** Writes a channel's deferred batch now (before anything else of the channel runs alone). */
  #flushDeferred(chan: Chan): void {
    const held = chan.deferred;
    if (!held) return;
    chan.deferred = undefined;
    this.#commit(chan, held.ops, held.mons, [], held.items);
  }

  /** Queues `ops`, then (once durable) tells the monitor and sends `msgs`, in outbox order. */
  #commit(
    chan: Chan,
    ops: StoreOp[],
    mons: StoredMonitorUpdate[],
    msgs: KnownMessage[],
    items: ReadonlyArray<{ item: QueuedInput; effects: ChannelEffect[] }>,
  ): void {
    let durable: Promise<void>;
    try {
      durable = ops.length > 0 ? this.store.batch(ops) : this.store.barrier();
    } catch (e) {
      durable = Promise.reject(e);
    }
    const cid = stateId(chan.state) ?? chan.id;
    const sent = chan.outbox
      .then(() => durable)
      .then(() => {
        if (chan.halted)
          throw new ChannelManagerError('CHANNEL_HALTED', 'a store write of this channel failed');
        if (mons.length > 0 && this.#sink) {
          try {
            this.#sink.monitorUpdates(cid, mons);
          } catch (e) {
            this.log.error('monitor sink failed', { error: String(e) });
          }
        }
        for (const m of msgs) {
          countSent(this.stats, m);
          this.#peers?.sendMessage(chan.peer, m);
        }
        if (msgs.length > 0) this.#idleWork(chan, items);
      });
    chan.outbox = sent.catch((e: unknown) => this.#halt(chan, e));
    sent.then(
      () => {
        for (const x of items) x.item.resolve(x.effects);
      },
      (e: unknown) => {
        for (const x of items) x.item.reject(e);
      },
    );
  }

  /**
   * Once the current turn's I/O is done (the messages just sent are written to the socket),
   * prepares what the channel's next steps will need while we wait for the peer: the keys of
   * the next commitment round (`precomputeNextKeys`: memoisation, same results) and, through
   * {@link HtlcHooks.htlcOffered}, the onions of HTLCs just offered to us. Both leave the latency
   * path of the next `commitment_signed` / of the HTLC's settlement.
   */
  #idleWork(chan: Chan, items: ReadonlyArray<{ item: QueuedInput }>): void {
    for (const x of items) {
      if (x.item.input.type !== 'update_add_htlc') continue;
      if (chan.offered) chan.offered.push(x.item.input);
      else chan.offered = [x.item.input];
    }
    if (chan.precompute) return;
    chan.precompute = true;
    setImmediate(() => {
      chan.precompute = false;
      const offered = chan.offered;
      chan.offered = undefined;
      if (this.#stopped || chan.halted) return;
      const d = chan.state.kind === 'Normal' ? fundedData(chan.state) : undefined;
      if (!d) return;
      try {
        precomputeNextKeys(d.commitments, chan.keys);
        if (offered && this.#hooks?.htlcOffered)
          for (const add of offered) this.#hooks.htlcOffered(chan.id, add);
      } catch (e) {
        this.log.debug('idle-time preparation failed', { channel: chan.id, error: String(e) });
      }
    });
  }

  /**
   * A write of this channel failed: its state in memory is ahead of the store, so nothing more
   * may leave for it. The channel stops sending; the peer is disconnected; a restart recovers
   * from the store (the store refuses every write after a failed one).
   */
  #halt(chan: Chan, e: unknown): void {
    if (chan.halted) return;
    chan.halted = true;
    this.log.error('store write failed: channel halted until restart', {
      channel: chan.id,
      error: String(e),
    });
    try {
      this.#opts.onStoreFailure?.(e instanceof Error ? e : new Error(String(e)));
    } catch {
      // the hook's own failure changes nothing here
    }
  }

  async #process(chan: Chan, input: ChannelInput): Promise<ChannelEffect[]> {
    const before: string = chan.state.kind;
    const beforeData = fundedData(chan.state);
    const r = step(chan.state, input, this.#ctx(chan));
    chan.state = r.state;
    this.#route(chan);
    return this.#afterStep(chan, before, beforeData, r);
  }

  /** Executes a step's effects and its follow-ups (see {@link ChannelManager.#process}). */
  async #afterStep(
    chan: Chan,
    before: string,
    beforeData: FundedData | undefined,
    r: ReturnType<typeof step>,
  ): Promise<ChannelEffect[]> {
    const notes = await this.#execute(chan, r.effects);
    // Closing → Closed: the state machine does not persist this transition; we do.
    if (before === 'Closing' && r.state.kind === 'Closed') await this.#persistState(chan, []);
    // Notifications run after the step (they may queue further inputs on this channel).
    for (const n of notes) n();
    const afterData = fundedData(r.state);
    if (
      this.#gossipHooks?.channelChanged &&
      (before !== r.state.kind ||
        beforeData?.shortChannelId !== afterData?.shortChannelId ||
        beforeData?.remoteAlias !== afterData?.remoteAlias ||
        beforeData?.localShutdown !== afterData?.localShutdown)
    ) {
      try {
        this.#gossipHooks.channelChanged(chan.id);
      } catch (e) {
        this.log.error('gossip hook failed', { error: String(e) });
      }
    }
    return r.effects;
  }

  /** Keeps the routing map in line with the state's id. */
  #route(chan: Chan): void {
    const id = stateId(chan.state);
    if (id === undefined || id === chan.id) return;
    if (chan.id && this.#chans.get(chan.id) === chan) this.#chans.delete(chan.id);
    chan.id = id;
    this.#chans.set(id, chan);
  }

  async #persistState(chan: Chan, extra: StoreOp[]): Promise<void> {
    this.#flushDeferred(chan); // its monitor updates precede this record's monitorSeq
    await this.store.batch([...extra, this.#stateOp(chan, chan.state)]);
  }

  /** The store write of `state` as the channel's record (header with the current monitorSeq). */
  #stateOp(chan: Chan, state: ChannelState): StoreOp {
    const header: ChannelHeader = {
      v: 1,
      peer: chan.peer,
      keyIndex: chan.keyIndex,
      monitorSeq: chan.monitorSeq,
    };
    return {
      op: 'put',
      namespace: NS.channels,
      key: stateId(state) ?? chan.id,
      value: encodeChannelRecord(header, state),
    };
  }

  /**
   * Executes a step's effects in order; returns the notifications to run after it. Monitor
   * updates and the channel state are written in one durable batch before the first effect
   * that leaves the node.
   */
  async #execute(chan: Chan, effects: ChannelEffect[]): Promise<Array<() => void>> {
    this.#flushDeferred(chan);
    const notes: Array<() => void> = [];
    let pendingOps: StoreOp[] = [];
    let pendingMonitor: StoredMonitorUpdate[] = [];
    let persistState: ChannelState | undefined;
    let fenced = false;
    const events: NodeEventBody[] = [];
    const flush = async () => {
      if (pendingOps.length === 0 && !persistState && events.length === 0) return;
      const ops = pendingOps;
      const mons = pendingMonitor;
      pendingOps = [];
      pendingMonitor = [];
      const prepared = events.splice(0).map((e) => this.events.prepare(e));
      ops.push(...prepared.map((p) => p.op));
      if (persistState) {
        ops.push(this.#stateOp(chan, persistState));
        persistState = undefined;
      }
      await this.store.batch(ops);
      for (const p of prepared) p.deliver();
      if (mons.length > 0 && this.#sink) {
        try {
          this.#sink.monitorUpdates(stateId(chan.state) ?? chan.id, mons);
        } catch (e) {
          this.log.error('monitor sink failed', { error: String(e) });
        }
      }
    };
    for (const e of effects) {
      switch (e.type) {
        case 'MonitorUpdate': {
          const seq = ++chan.monitorSeq;
          const cid = toHex(e.update.channelId);
          pendingMonitor.push({ seq, update: e.update });
          pendingOps.push({
            op: 'put',
            namespace: NS.monitor,
            key: monitorKey(cid, seq),
            value: encodeRecord(e.update),
          });
          continue;
        }
        case 'PersistChannel':
          persistState = e.state;
          continue;
        case 'ChannelReady':
          events.push({
            type: 'ChannelReady',
            channelId: toHex(e.channelId),
            peer: chan.peer,
            shortChannelId: e.shortChannelId?.toString(),
            localAlias: e.localAlias?.toString(),
          });
          continue;
        case 'ChannelClosed': {
          events.push({
            type: 'ChannelClosed',
            channelId: e.channelId ? toHex(e.channelId) : undefined,
            peer: chan.peer,
            closeType: e.closeType,
            reason: e.reason,
          });
          notes.push(() => this.#closed(chan, e));
          continue;
        }
        default:
          break;
      }
      if (pendingOps.length > 0 || persistState || events.length > 0) {
        await flush();
        fenced = true;
      }
      if (e.type === 'SendMessage') {
        if (chan.halted)
          throw new ChannelManagerError('CHANNEL_HALTED', 'a store write of this channel failed');
        // Writes other components queued before this message must be durable first.
        if (!fenced) {
          await this.store.barrier();
          fenced = true;
        }
        countSent(this.stats, e.msg as KnownMessage);
        this.#peers?.sendMessage(chan.peer, e.msg as KnownMessage);
        continue;
      }
      await this.#effect(chan, e, notes, events);
    }
    await flush();
    return notes;
  }

  async #effect(
    chan: Chan,
    e: ChannelEffect,
    notes: Array<() => void>,
    events: NodeEventBody[],
  ): Promise<void> {
    switch (e.type) {
      case 'SendMessage':
        countSent(this.stats, e.msg as KnownMessage);
        this.#peers?.sendMessage(chan.peer, e.msg as KnownMessage);
        return;
      case 'BuildFundingTx': {
        let built: { tx: Transaction; outputIndex: number };
        try {
          built = await this.wallet.buildTx({
            scriptPubKey: e.scriptPubKey,
            amount: e.amountSat,
            feeRate: BigInt(Math.max(253, e.feeratePerKw)),
          });
        } catch (err) {
          this.log.warn('cannot fund the channel', { error: String(err) });
          chan.openWaiter?.reject(
            new ChannelManagerError('CHANNEL_OPEN_FAILED', 'the wallet cannot fund the channel', {
              details: err instanceof Error ? err.message : String(err),
              cause: err,
            }),
          );
          chan.openWaiter = undefined;
          // Abort the open (sends `error` to the peer).
          notes.push(() => void this.#enqueue(chan, { type: 'CmdForceClose' }).catch(() => undefined));
          return;
        }
        chan.builtFundingTx = built.tx;
        // Same task: feed the funding transaction before anything else reaches the channel.
        const fx = await this.#process(chan, {
          type: 'FundingTxBuilt',
          tx: built.tx,
          outputIndex: built.outputIndex,
        });
        const rej = fx.find((x) => x.type === 'CommandRejected');
        if (rej) {
          this.wallet.unlockCoins(built.tx);
          chan.builtFundingTx = undefined;
        }
        return;
      }
      case 'BroadcastFundingTx': {
        const txid = txidHex(e.tx);
        try {
          await this.chain.broadcast(e.tx);
        } catch (err) {
          this.log.warn('funding broadcast failed', { txid, error: String(err) });
        }
        this.wallet.unlockCoins(e.tx);
        chan.builtFundingTx = undefined;
        const d = fundedData(chan.state);
        const vout = d?.commitments.params.fundingOutputIndex ?? 0;
        events.push({
          type: 'ChannelPending',
          channelId: chan.id,
          peer: chan.peer,
          fundingTxid: txid,
          fundingOutputIndex: vout,
        });
        const w = chan.openWaiter;
        chan.openWaiter = undefined;
        if (w)
          notes.push(() => w.resolve({ channelId: chan.id, fundingTxid: txid, fundingOutputIndex: vout }));
        return;
      }
      case 'WatchFunding': {
        const w: FundingWatch = {
          chan,
          txid: toHex(e.txid),
          outputIndex: e.outputIndex,
          minDepth: e.minDepth,
          scriptPubKey: e.scriptPubKey,
          amountSat: e.amountSat,
        };
        this.#watches.set(chan, w);
        this.chain.watchScript(e.scriptPubKey);
        this.chain.watchOutpoint({ txid: w.txid, vout: w.outputIndex });
        this.#runChain(() => this.#checkWatches());
        return;
      }
      case 'BroadcastTx': {
        try {
          await this.chain.broadcast(e.tx);
        } catch (err) {
          this.log.warn('broadcast failed', { txid: txidHex(e.tx), error: String(err) });
        }
        return;
      }
      case 'ForceClose': {
        const cid = toHex(e.commitment.channelId);
        try {
          this.#sink?.forceClose?.(cid, e.commitment, e.reason.message);
        } catch (err) {
          this.log.error('monitor sink failed', { error: String(err) });
        }
        try {
          await this.chain.broadcast(e.commitment.commitTx);
        } catch (err) {
          this.log.warn('commitment broadcast failed', { channel: cid, error: String(err) });
        }
        return;
      }
      case 'ChannelIdAssigned':
        this.#route(chan);
        return;
      case 'HtlcReceived': {
        const hooks = this.#hooks;
        const add = e.add;
        const cid = chan.id;
        if (hooks)
          notes.push(
            () =>
              void Promise.resolve(hooks.htlcReceived(cid, add, e.mustFail !== undefined)).catch((err) =>
                this.log.error('htlc hook failed', { error: String(err) }),
              ),
          );
        return;
      }
      case 'HtlcFulfilled': {
        const hooks = this.#hooks;
        const cid = chan.id;
        if (hooks)
          notes.push(
            () =>
              void Promise.resolve(hooks.htlcFulfilled(cid, e.id, e.paymentHash, e.preimage)).catch((err) =>
                this.log.error('htlc hook failed', { error: String(err) }),
              ),
          );
        return;
      }
      case 'HtlcFailed': {
        const hooks = this.#hooks;
        const cid = chan.id;
        if (hooks)
          notes.push(
            () =>
              void Promise.resolve(hooks.htlcFailed(cid, e.id, e.paymentHash, e.failure)).catch((err) =>
                this.log.error('htlc hook failed', { error: String(err) }),
              ),
          );
        return;
      }
      case 'SignDeferred': {
        if (chan.signTimer) return;
        chan.signTimer = true;
        // Batching delays are wall-clock I/O scheduling, not protocol time: the system clock,
        // even when a logical clock is injected (tests that freeze time still make progress).
        systemClock.setTimeout(() => {
          chan.signTimer = false;
          if (this.#stopped || !this.#chans.has(chan.id)) return;
          void this.#enqueue(chan, { type: 'CmdSign' }).catch(() => undefined);
        }, this.#commitDelayMs);
        return;
      }
      case 'ProtocolViolation':
        this.log.warn('peer protocol violation', {
          channel: chan.id,
          code: e.error.code,
          message: e.error.message,
        });
        return;
      case 'CommandRejected':
        this.log.debug('command rejected', { channel: chan.id, command: e.command, code: e.error.code });
        if (e.command === 'CmdOpen' || e.command === 'FundingTxBuilt') {
          chan.openWaiter?.reject(
            new ChannelManagerError('CHANNEL_OPEN_FAILED', e.error.message, { details: e.error.code }),
          );
          chan.openWaiter = undefined;
        }
        return;
      case 'DataLossDetected':
        this.log.error('data loss detected: waiting for the peer to close', { channel: toHex(e.channelId) });
        return;
      default:
        return;
    }
  }

  #closed(chan: Chan, e: Extract<ChannelEffect, { type: 'ChannelClosed' }>): void {
    if (chan.builtFundingTx && fundedData(chan.state) === undefined) {
      this.wallet.unlockCoins(chan.builtFundingTx);
      chan.builtFundingTx = undefined;
    }
    if (chan.openWaiter) {
      chan.openWaiter.reject(
        new ChannelManagerError('CHANNEL_OPEN_FAILED', e.reason, { details: e.closeType }),
      );
      chan.openWaiter = undefined;
    }
    const txid = closingTxid(chan.state);
    for (const w of chan.closeWaiters.splice(0)) w.resolve({ closingTxid: txid });
    if (chan.state.kind === 'Closed' && fundedData(chan.state) === undefined && e.closeType === 'aborted') {
      // Nothing was funded: forget the channel.
      if (this.#chans.get(chan.id) === chan) this.#chans.delete(chan.id);
      this.#all.delete(chan);
      this.#watches.delete(chan);
    } else this.#armWatches(chan);
  }

  // ---------------------------------------------------------------------------------------------
  // Peers

  #peerConnected(peer: string): Promise<void> {
    const chans = [...this.#all].filter((c) => c.peer === peer && fundedData(c.state) !== undefined);
    return Promise.all(chans.map((c) => this.#enqueue(c, { type: 'Connected' }).catch(() => []))).then(
      () => undefined,
    );
  }

  #peerDisconnected(peer: string): void {
    for (const c of [...this.#all]) {
      if (c.peer === peer) void this.#enqueue(c, { type: 'Disconnected' }).catch(() => undefined);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Chain

  #runChain(task: () => Promise<void>): void {
    const run = this.#chainQueue.then(task);
    this.#chainQueue = run.catch((e: unknown) => this.log.error('chain task failed', { error: String(e) }));
  }

  #onChainEvent(e: ChainEvent): void {
    if (this.#stopped) return;
    if (e.type === 'block_connected' || e.type === 'block_disconnected') {
      this.#runChain(async () => {
        const tip = this.chain.tip();
        if (!tip || tip.height === this.#height) return;
        this.#height = tip.height;
        await this.#refreshFeerate();
        const height = this.#height;
        for (const c of [...this.#all]) {
          if (fundedData(c.state) !== undefined && c.state.kind !== 'Closed')
            void this.#enqueue(c, { type: 'BlockConnected', height }).catch(() => undefined);
        }
        await this.#checkWatches();
      });
    } else if (e.type === 'tx_confirmed' || e.type === 'outpoint_spent') {
      this.#runChain(() => this.#checkWatches());
    }
  }

  async #refreshFeerate(): Promise<void> {
    try {
      this.#feerate = Number(await this.chain.estimateFeeRate(this.#opts.feeTarget ?? 6));
    } catch (e) {
      this.log.warn('fee estimate failed', { error: String(e) });
    }
  }

  /** Re-arms the chain watches of a loaded or changed channel. */
  #armWatches(chan: Chan): void {
    const s = chan.state;
    const d = fundedData(s);
    if (!d || s.kind === 'Closed') {
      this.#watches.delete(chan);
      return;
    }
    const p = d.commitments.params;
    const txid = toHex(p.fundingTxid);
    this.chain.watchOutpoint({ txid, vout: p.fundingOutputIndex });
    const inner = s.kind === 'Offline' ? s.inner : s;
    const needsConf =
      d.shortChannelId === undefined || (inner.kind === 'WaitForFundingConfirmed' && !d.localReady);
    if (needsConf && s.kind !== 'Closing') {
      const spk = fundingScriptPubKey(p.local.fundingPubkey, p.remote.fundingPubkey);
      this.chain.watchScript(spk);
      this.#watches.set(chan, {
        chan,
        txid,
        outputIndex: p.fundingOutputIndex,
        minDepth: Math.max(1, d.minDepth),
        scriptPubKey: spk,
        amountSat: p.fundingAmountSat,
      });
    }
  }

  async #checkWatches(): Promise<void> {
    const tip = this.chain.tip();
    if (!tip) return;
    for (const [chan, w] of [...this.#watches]) {
      const t = this.chain.transaction(w.txid);
      if (!t?.block) continue;
      const depth = tip.height - t.block.height + 1;
      if (depth < w.minDepth) continue;
      const out = t.tx.outputs[w.outputIndex];
      if (!out || out.value !== w.amountSat || !equal(out.scriptPubKey, w.scriptPubKey)) {
        this.log.error('funding transaction does not pay the agreed output', {
          channel: chan.id,
          txid: w.txid,
        });
        this.#watches.delete(chan);
        continue;
      }
      const block = await this.chain.backend.getBlock(t.block.hash);
      const index = block.txs.findIndex((x) => txidHex(x) === w.txid);
      if (index < 0) continue;
      const scid = (BigInt(t.block.height) << 40n) | (BigInt(index) << 16n) | BigInt(w.outputIndex);
      this.#watches.delete(chan);
      void this.#enqueue(chan, { type: 'FundingConfirmed', depth, scid }).catch(() => undefined);
    }
    // Closing channels: forgotten once the funding spend is deep enough.
    for (const chan of [...this.#all]) {
      const s = chan.state;
      if (s.kind !== 'Closing') continue;
      const p = s.data.commitments.params;
      const spend = this.chain.spendOf({ txid: toHex(p.fundingTxid), vout: p.fundingOutputIndex });
      if (spend && spend.confirmations >= this.#closeConfs)
        void this.#enqueue(chan, { type: 'ClosingTxConfirmed', txid: fromHex(spend.txid) }).catch(
          () => undefined,
        );
    }
  }
}

function closingTxid(s: ChannelState): string | undefined {
  return s.kind === 'Closing' && s.tx ? txidHex(s.tx) : undefined;
}

function info(c: Chan): ChannelInfo {
  const s = c.state;
  const d = fundedData(s);
  const inner = s.kind === 'Offline' ? s.inner.kind : s.kind;
  const p = d?.commitments.params;
  const spec = d?.commitments.localCommit.spec;
  let capacity = 0n;
  if (p) capacity = p.fundingAmountSat;
  else if ('open' in s) capacity = s.open.fundingSatoshis;
  return {
    channelId: c.id,
    peer: c.peer,
    state: s.kind,
    innerState: inner,
    online: s.kind !== 'Offline' && s.kind !== 'Closing' && s.kind !== 'Closed',
    isOpener: p ? p.isOpener : s.kind === 'WaitForAcceptChannel' || s.kind === 'WaitForFundingTx',
    channelType: p
      ? p.channelType === 'anchors_zero_fee_htlc_tx'
        ? 'anchors'
        : 'static_remotekey'
      : undefined,
    capacitySat: capacity,
    localMsat: spec?.toLocalMsat ?? 0n,
    remoteMsat: spec?.toRemoteMsat ?? 0n,
    pendingHtlcs: spec?.htlcs.length ?? 0,
    shortChannelId: d?.shortChannelId,
    localAlias: d?.localAlias,
    remoteAlias: d?.remoteAlias,
    fundingTxid: p ? toHex(p.fundingTxid) : undefined,
    fundingOutputIndex: p?.fundingOutputIndex,
    closingTxid: closingTxid(s),
  };
}

function monitorKey(channelId: string, seq: number): string {
  return `${channelId}/${seq.toString().padStart(12, '0')}`;
}

function encodeChannelRecord(header: ChannelHeader, state: ChannelState): Uint8Array {
  return concat(utf8(`${JSON.stringify(header)}\n`), encodeChannelState(state));
}

/**
 * Decodes a stored `channels/<id>` record: its header (peer, key index, monitor sequence) and
 * the channel state (for diagnostics and tests; the manager loads its own records).
 */
export function decodeChannelRecord(bytes: Uint8Array): {
  header: { peer: string; keyIndex: number; monitorSeq: number };
  state: ChannelState;
} {
  const nl = bytes.indexOf(10);
  const header = JSON.parse(fromUtf8(bytes.subarray(0, nl))) as ChannelHeader;
  return { header, state: decodeChannelState(bytes.subarray(nl + 1)) };
}

/** Every stored monitor update of a channel (namespace `monitor`), in sequence order. */
export async function loadMonitorUpdates(store: KVStore, channelId: string): Promise<StoredMonitorUpdate[]> {
  const prefix = `${channelId.toLowerCase()}/`;
  const out: StoredMonitorUpdate[] = [];
  for (const k of await store.list(NS.monitor)) {
    if (!k.startsWith(prefix)) continue;
    const v = await store.read(NS.monitor, k);
    if (v) out.push({ seq: Number(k.slice(prefix.length)), update: decodeRecord<MonitorUpdate>(v) });
  }
  return out;
}
