/**
 * The chain monitor runtime (BOLT #5, 05-onchain.md): runs one sans-IO monitor
 * (`core/monitor` `monitorStep`) per channel against the node's ports — the store, the chain
 * tracker, the on-chain wallet, the channel manager and the payment manager.
 *
 * Rules implemented:
 * - It is the channel manager's {@link MonitorSink}: every durable MonitorUpdate is applied to
 *   the channel's monitor; `forceClose` becomes `CmdForceClose` (publish our latest commitment).
 * - Every block the chain tracker connects is fed to every unresolved monitor with ALL its
 *   transactions (fetched from the backend), in height order; every disconnected block is fed
 *   as `BlockDisconnected` (highest first, as the tracker reports them).
 * - One serial work queue: sink calls, blocks and mempool transactions are processed one at a
 *   time, in arrival order.
 * - Persist before acting: a monitor state is written (namespace `monitor_state`, with the
 *   sequence number of the last applied channel update) BEFORE any of the effects of the step
 *   that produced it is executed. Steps whose only effects are watches are persisted lazily
 *   (with the next block): the channel updates they applied are durable in the channel
 *   manager's `monitor` namespace and are replayed on start (every update with a sequence
 *   number above the stored one).
 * - Effects: `Broadcast` through the chain source (each claim is re-emitted every block until
 *   it confirms; duplicates and premature/conflicting broadcasts are ignored); `RequestCpfp`
 *   and `FundHtlcTx` through the wallet (`fundForeignTx`, reserve coins allowed), the monitor's
 *   helpers sign the channel input (`signAnchorSpend`, `signFundedHtlcTx`) — a funded
 *   transaction is built once and re-broadcast while it is live; `WatchOutpoint` on the chain
 *   source (mempool spends reveal preimages early); `ForceClose` (an HTLC deadline) and a
 *   funding spend by the peer stop the channel through `ChannelManager.closeChannel(id,
 *   {force: true})`; `HtlcResolvedOnChain` settles payments (`PaymentManager
 *   .htlcResolvedOnChain`); every notification is also delivered to subscribers as a
 *   {@link MonitorEvent}.
 * - Sweeps go to a fresh wallet address per channel, fixed in the monitor state.
 * - Compaction: the state record is a snapshot covering every channel update up to its sequence
 *   number. Once `compactEvery` updates of a channel are covered beyond the newest
 *   `keepUpdates` ones, ONE atomic batch writes the snapshot, moves the revoked commitments out
 *   of it into an append-only archive record (namespace `monitor_revoked`, key `<channel
 *   id>/<first commitment number>/<seq>`: their HTLCs, needed only if the peer publishes one)
 *   and deletes the covered `monitor/<channel id>/<seq>` records (never one above the snapshot's
 *   sequence: the channel manager writes newer ones concurrently). A crash at any point leaves
 *   either the old snapshot with its updates or the new one. When a funding spend is an
 *   archived revoked commitment, its record is put back into the state before the block is fed.
 *   The newest `keepUpdates` records stay (other layers look preimages up there after a
 *   restart). Data directories without snapshots load as before and are compacted at start-up.
 * - Start-up: stored monitor states are loaded, channel updates they missed are replayed,
 *   watches re-armed, and every unresolved monitor is re-fed from `antiReorgDelay` blocks
 *   below its last height (a reorg while the node was down is thereby handled) up to the tip.
 */
import type { LocalCommitmentUpdate, MonitorUpdate } from '../../core/channel/index.js';
import {
  type ArchivedRevoked,
  analyze,
  archiveRevoked,
  DEFAULT_MONITOR_CONFIG,
  decodeMonitorState,
  decodeRevokedArchive,
  encodeMonitorState,
  encodeRevokedArchive,
  feeFor,
  hydrateRevoked,
  initialMonitorState,
  type MonitorConfig,
  type MonitorContext,
  type MonitorEffect,
  type MonitorInput,
  type MonitorState,
  monitorStep,
  signAnchorSpend,
  signFundedHtlcTx,
  unknownRevokedNumber,
} from '../../core/monitor/index.js';
import { sha256 } from '../../protocol/crypto/hash.js';
import { fromUtf8, toHex, utf8 } from '../../protocol/encoding/bytes.js';
import { addressToScript, type Network } from '../../protocol/tx/address.js';
import { type Transaction, txidHex } from '../../protocol/tx/transaction.js';
import { decodeRecord as decodeChannelRecord } from '../channels/codec.js';
import { NS as CHANNEL_NS } from '../channels/manager.js';
import { type MonitorSink, monitorUpdateKey, type StoredMonitorUpdate } from '../channels/types.js';
import type { NodeKeys } from '../keys/index.js';
import type { PeerLogger } from '../peer/types.js';
import { silentLogger } from '../peer/types.js';
import { BroadcastError, type ChainBackend, type ChainEvent, type ChainSource } from '../ports/chain.js';
import type { KVStore, StoreOp } from '../ports/store.js';

/** Store namespace of the monitor states. */
export const MONITOR_NS = 'monitor_state';

/** Store namespace of the archived revoked commitments (see the module documentation). */
export const MONITOR_ARCHIVE_NS = 'monitor_revoked';

/** Default {@link ChainMonitorOptions.compactEvery}. */
export const DEFAULT_COMPACT_EVERY = 256;

/** Default {@link ChainMonitorOptions.keepUpdates}. */
export const DEFAULT_KEEP_UPDATES = 256;

/** Non-witness size of an input (outpoint 36, empty script 1, sequence 4). */
const INPUT_BASE_WEIGHT = 41 * 4;

/** The chain view the monitor needs: the tracker plus block access. `ChainTracker` implements it. */
export interface MonitorChain extends ChainSource {
  readonly backend: Pick<ChainBackend, 'getBlock' | 'getBlockHash'>;
}

/** What the monitor needs from the wallet ({@link OnchainWallet} implements it). */
export interface MonitorWallet {
  readonly network: Network;
  newAddress(): string;
  fundForeignTx(req: {
    tx: Transaction;
    foreignInputs: readonly { amountSat: bigint; weight: number }[];
    feeRate: bigint;
    extraFee?: bigint;
    allowReserve?: boolean;
  }): Promise<{ tx: Transaction; txid: string; fee: bigint }>;
}

/** What the monitor needs from the channel manager ({@link ChannelManager} implements it). */
export interface MonitorChannels {
  channelKeyIndex(channelId: string): number | undefined;
  channel(channelId: string): { state: string } | undefined;
  closeChannel(channelId: string, opts: { force?: boolean }): Promise<unknown>;
}

/** What the monitor needs from the payment manager ({@link PaymentManager} implements it). */
export interface MonitorPayments {
  htlcResolvedOnChain(
    channelId: string,
    r: {
      direction: 'offered' | 'received';
      htlcId: bigint;
      paymentHash: Uint8Array;
      preimage: Uint8Array | undefined;
    },
  ): Promise<void>;
}

/** Options of {@link ChainMonitorManager}. */
export interface ChainMonitorOptions {
  /** The node's keys (channel secrets are `keys.channelKeys(index)`). */
  keys: NodeKeys;
  store: KVStore;
  chain: MonitorChain;
  wallet: MonitorWallet;
  /** Monitor policy overrides (reorg depth, HTLC deadline margins). */
  config?: Partial<MonitorConfig>;
  /** Confirmation target of claims, sweeps and CPFP (default 2: they are time-sensitive). */
  feeTarget?: number;
  logger?: PeerLogger;
  /** Compact a channel once this many of its update records are deletable (default 256). */
  compactEvery?: number;
  /** Newest update records of a channel never deleted (default 256). */
  keepUpdates?: number;
}

/** A notification of the monitors (ids and hashes in hex). */
export type MonitorEvent =
  | { type: 'FundingSpent'; channelId: string; kind: string; txid: string; height: number }
  | {
      type: 'HtlcResolvedOnChain';
      channelId: string;
      direction: 'offered' | 'received';
      htlcId: bigint;
      paymentHash: string;
      amountMsat: bigint;
      outcome: 'fulfilled' | 'timedOut';
      preimage: string | undefined;
    }
  | { type: 'ClaimConfirmed'; channelId: string; txid: string; amountSat: bigint }
  | { type: 'ForceClose'; channelId: string; reason: string }
  | { type: 'ChannelFullyResolved'; channelId: string; closeKind: string }
  /** A transaction of ours the backend accepted (claims, commitment, CPFP child, funded HTLC tx). */
  | { type: 'Published'; channelId: string; txid: string; kind: string };

/** A monitor as reported by {@link ChainMonitorManager.list}. */
export interface MonitorInfo {
  channelId: string;
  height: number;
  /** How the funding output was spent, once it was. */
  closeKind: string | undefined;
  resolved: boolean;
}

/** One channel's monitor in memory. */
interface Mon {
  channelId: string;
  keyIndex: number;
  state: MonitorState;
  /** Last channel update sequence number applied. */
  appliedSeq: number;
  /** Every update record with a sequence number up to this one is deleted. */
  prunedSeq: number;
  /** Archive record keys of this channel (`<channel id>/<first number>/<seq>`), ascending. */
  archive: string[];
  /** Fresh sweep destination until the state fixes one. */
  dest: Uint8Array | undefined;
  /** Changed since the last write. */
  dirty: boolean;
  /** Re-feed from this height (start-up rewind). */
  refeedFrom: number | undefined;
}

interface Header {
  v: 1;
  keyIndex: number;
  appliedSeq: number;
  /** Absent in records written before compaction existed. */
  prunedSeq?: number;
}

function encodeRecord(m: Mon, state: MonitorState = m.state, prunedSeq = m.prunedSeq): Uint8Array {
  const h: Header = { v: 1, keyIndex: m.keyIndex, appliedSeq: m.appliedSeq, prunedSeq };
  const head = utf8(`${JSON.stringify(h)}\n`);
  const body = encodeMonitorState(state);
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}

function decodeRecord(bytes: Uint8Array): { header: Header; state: MonitorState } {
  const nl = bytes.indexOf(10);
  const header = JSON.parse(fromUtf8(bytes.subarray(0, nl))) as Header;
  return { header, state: decodeMonitorState(bytes.subarray(nl + 1)) };
}

function archiveKey(channelId: string, firstNumber: number, seq: number): string {
  return `${channelId}/${firstNumber.toString().padStart(12, '0')}/${seq.toString().padStart(12, '0')}`;
}

/** The first commitment number of an archive record key. */
function archiveFirst(key: string): number {
  const parts = key.split('/');
  return Number(parts[1]);
}

const IGNORED_REJECTS = new Set(['already-in-chain', 'already-in-mempool']);

/** See the module documentation. */
export class ChainMonitorManager implements MonitorSink {
  readonly #opts: ChainMonitorOptions;
  readonly #store: KVStore;
  readonly #chain: MonitorChain;
  readonly #wallet: MonitorWallet;
  readonly #log: PeerLogger;
  readonly #cfg: MonitorConfig;
  readonly #compactEvery: number;
  readonly #keepUpdates: number;
  readonly #mons = new Map<string, Mon>();
  readonly #listeners = new Set<(e: MonitorEvent) => void>();
  /** Funded CPFP children / HTLC transactions by `txid:vout` of the channel input. */
  readonly #funded = new Map<string, Transaction>();
  readonly #published: Array<{ channelId: string; txid: string; kind: string }> = [];
  #channels: MonitorChannels | undefined;
  #payments: MonitorPayments | undefined;
  #queue: Promise<unknown>;
  #open: () => void = () => undefined;
  #unsub: (() => void) | undefined;
  #feerate = 253;
  /** Height of the last block fed (new monitors start here). */
  #fedHeight = 0;
  #started = false;
  #stopped = false;

  constructor(opts: ChainMonitorOptions) {
    this.#opts = opts;
    this.#store = opts.store;
    this.#chain = opts.chain;
    this.#wallet = opts.wallet;
    this.#log = opts.logger ?? silentLogger;
    this.#cfg = { ...DEFAULT_MONITOR_CONFIG, ...opts.config };
    this.#compactEvery = Math.max(1, opts.compactEvery ?? DEFAULT_COMPACT_EVERY);
    this.#keepUpdates = Math.max(0, opts.keepUpdates ?? DEFAULT_KEEP_UPDATES);
    // Work queued before start() (sink calls during the channel manager's start) waits for it.
    this.#queue = new Promise<void>((resolve) => {
      this.#open = resolve;
    });
  }

  /**
   * Connects the channel and payment managers (the channel manager takes this object as its
   * `monitorSink`, so it is created first). Call before {@link start}.
   */
  attach(deps: { channels?: MonitorChannels; payments?: MonitorPayments }): void {
    if (deps.channels) this.#channels = deps.channels;
    if (deps.payments) this.#payments = deps.payments;
  }

  /**
   * Loads the stored monitors, replays the channel updates they missed, re-arms the watches,
   * subscribes to the chain and catches up to its tip. Call after the channel manager started.
   */
  async start(): Promise<void> {
    if (this.#started) throw new Error('chain monitor already started');
    this.#started = true;
    if (!this.#chain.tip()) await this.#chain.poll();
    const tip = this.#chain.tip()?.height ?? 0;
    this.#fedHeight = tip;
    await this.#refreshFeerate();
    // Update records by channel (sequence numbers ascending), archive records by channel.
    const seqs = new Map<string, number[]>();
    for (const k of await this.#store.list(CHANNEL_NS.monitor)) {
      const slash = k.indexOf('/');
      const id = k.slice(0, slash);
      const list = seqs.get(id) ?? [];
      list.push(Number(k.slice(slash + 1)));
      seqs.set(id, list);
    }
    const archives = new Map<string, string[]>();
    for (const k of await this.#store.list(MONITOR_ARCHIVE_NS)) {
      const id = k.slice(0, k.indexOf('/'));
      archives.set(id, [...(archives.get(id) ?? []), k]);
    }
    for (const k of await this.#store.list(MONITOR_NS)) {
      const v = await this.#store.read(MONITOR_NS, k);
      if (!v) continue;
      const { header, state } = decodeRecord(v);
      // Records written before compaction: everything below the first stored update is gone.
      const first = seqs.get(k)?.[0];
      const prunedSeq =
        header.prunedSeq ??
        (first === undefined ? header.appliedSeq : Math.min(first - 1, header.appliedSeq));
      this.#mons.set(k, {
        channelId: k,
        keyIndex: header.keyIndex,
        state,
        appliedSeq: header.appliedSeq,
        prunedSeq,
        archive: archives.get(k) ?? [],
        dest: undefined,
        dirty: false,
        refeedFrom: state.resolved ? undefined : Math.max(1, state.height - this.#cfg.antiReorgDelay + 1),
      });
    }
    // Channel updates not applied yet (crash between the channel's write and ours).
    const effects: Array<[Mon, MonitorEffect[]]> = [];
    for (const [id, list] of seqs) {
      const known = this.#mons.get(id);
      const updates: StoredMonitorUpdate[] = [];
      for (const seq of list) {
        if (seq <= (known?.appliedSeq ?? 0)) continue;
        const v = await this.#store.read(CHANNEL_NS.monitor, monitorUpdateKey(id, seq));
        if (v) updates.push({ seq, update: decodeChannelRecord<MonitorUpdate>(v) });
      }
      if (updates.length === 0) continue;
      const m = known ?? this.#create(id, tip - this.#cfg.antiReorgDelay);
      if (!m) continue;
      effects.push([m, this.#applyUpdates(m, updates)]);
    }
    // Old data directories (and monitors due) are compacted now.
    for (const m of this.#mons.values()) if (this.#due(m)) m.dirty = true;
    await this.#persistDirty(true);
    for (const m of this.#mons.values()) this.#rewatch(m);
    this.#unsub = this.#chain.subscribe((e) => this.#onChainEvent(e));
    this.#open();
    await this.#run(async () => {
      // HTLC outcomes reported before a crash may not have reached the payment layer (the
      // monitor state is written before its effects run): tell it again (it is idempotent).
      for (const m of this.#mons.values()) await this.#replayResolutions(m);
      for (const [m, fx] of effects) await this.#execute(m, fx);
      await this.#sync();
    });
  }

  /** Stops listening to the chain and waits for queued work. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#unsub?.();
    this.#unsub = undefined;
    this.#open();
    await this.whenIdle();
  }

  /** Resolves once every queued task has run. */
  async whenIdle(): Promise<void> {
    for (let i = 0; i < 100; i++) {
      const q = this.#queue;
      await q.catch(() => undefined);
      if (q === this.#queue) return;
    }
  }

  /** Adds a listener of {@link MonitorEvent}s; returns an unsubscribe function. */
  subscribe(listener: (e: MonitorEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The current monitor state of a channel (read-only use). */
  monitorState(channelId: string): MonitorState | undefined {
    return this.#mons.get(channelId.toLowerCase())?.state;
  }

  /** Every monitor. */
  list(): MonitorInfo[] {
    return [...this.#mons.values()].map((m) => ({
      channelId: m.channelId,
      height: m.state.height,
      closeKind: analyze(m.state).closing?.kind,
      resolved: m.state.resolved,
    }));
  }

  /** Transactions of ours the backend accepted since start, in order (this process only). */
  published(channelId?: string): Array<{ channelId: string; txid: string; kind: string }> {
    return this.#published.filter((p) => channelId === undefined || p.channelId === channelId);
  }

  // ---------------------------------------------------------------------------------------------
  // MonitorSink

  /** {@link MonitorSink}: the channel's durable updates of one step. */
  monitorUpdates(channelId: string, updates: readonly StoredMonitorUpdate[]): void {
    const id = channelId.toLowerCase();
    const list = [...updates];
    void this.#run(async () => {
      let m = this.#mons.get(id);
      if (!m) {
        m = this.#create(id, this.#fedHeight);
        if (!m) return;
      }
      const fx = this.#applyUpdates(m, list);
      if (fx.some((e) => e.type !== 'WatchOutpoint' && e.type !== 'PersistMonitor') || this.#due(m))
        await this.#persist([m]);
      await this.#execute(m, fx);
    });
  }

  /** {@link MonitorSink}: our latest commitment must go on chain. */
  forceClose(channelId: string, _commitment: LocalCommitmentUpdate, reason: string): void {
    const id = channelId.toLowerCase();
    void this.#run(async () => {
      const m = this.#mons.get(id);
      if (!m) {
        this.#log.warn('force close of a channel without a monitor', { channel: id, reason });
        return;
      }
      await this.#stepNow(m, { type: 'CmdForceClose' });
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Internals

  #run(task: () => Promise<void>): Promise<void> {
    const run = this.#queue.then(() => (this.#stopped ? undefined : task()));
    this.#queue = run.catch((e: unknown) => this.#log.error('monitor task failed', { error: String(e) }));
    return run;
  }

  #create(channelId: string, height: number): Mon | undefined {
    const keyIndex = this.#channels?.channelKeyIndex(channelId);
    if (keyIndex === undefined) {
      this.#log.error('no channel keys for a monitored channel', { channel: channelId });
      return undefined;
    }
    const m: Mon = {
      channelId,
      keyIndex,
      state: { ...initialMonitorState(), height: Math.max(0, height) },
      appliedSeq: 0,
      prunedSeq: 0,
      archive: [],
      dest: addressToScript(this.#wallet.newAddress(), this.#wallet.network),
      dirty: true,
      refeedFrom: undefined,
    };
    this.#mons.set(channelId, m);
    return m;
  }

  #ctx(m: Mon): MonitorContext {
    const dest = m.state.destinationScript ?? m.dest;
    return {
      keys: this.#opts.keys.channelKeys(m.keyIndex),
      feeratePerKw: this.#feerate,
      ...(dest ? { destinationScript: dest } : {}),
      config: this.#cfg,
    };
  }

  /** Steps `m` (in memory only); returns the effects. */
  #step(m: Mon, input: MonitorInput): MonitorEffect[] {
    const r = monitorStep(m.state, input, this.#ctx(m));
    if (r.state !== m.state) {
      m.state = r.state;
      m.dirty = true;
    }
    return r.effects;
  }

  /** Steps, persists, executes. */
  async #stepNow(m: Mon, input: MonitorInput): Promise<void> {
    const fx = this.#step(m, input);
    await this.#persist([m]);
    await this.#execute(m, fx);
  }

  #applyUpdates(m: Mon, updates: readonly StoredMonitorUpdate[]): MonitorEffect[] {
    const fx: MonitorEffect[] = [];
    for (const u of updates) {
      if (u.seq <= m.appliedSeq) continue;
      fx.push(...this.#step(m, u.update as MonitorUpdate));
      m.appliedSeq = u.seq;
      m.dirty = true;
    }
    return fx;
  }

  /** Whether `m` has at least `compactEvery` deletable update records. */
  #due(m: Mon): boolean {
    return m.appliedSeq - this.#keepUpdates - m.prunedSeq >= this.#compactEvery;
  }

  /**
   * Writes the dirty states in one atomic batch; a monitor due for compaction also archives its
   * revoked commitments and deletes the update records its snapshot covers (same batch).
   */
  async #persist(ms: Mon[]): Promise<void> {
    const ops: StoreOp[] = [];
    const after: Array<() => void> = [];
    for (const m of ms) {
      if (!m.dirty) continue;
      if (!this.#due(m)) {
        ops.push({ op: 'put', namespace: MONITOR_NS, key: m.channelId, value: encodeRecord(m) });
        continue;
      }
      const { state, archived } = archiveRevoked(m.state);
      const upTo = m.appliedSeq - this.#keepUpdates;
      const key =
        archived.length > 0 ? archiveKey(m.channelId, archived[0]!.commitmentNumber, m.appliedSeq) : '';
      ops.push({ op: 'put', namespace: MONITOR_NS, key: m.channelId, value: encodeRecord(m, state, upTo) });
      if (key)
        ops.push({ op: 'put', namespace: MONITOR_ARCHIVE_NS, key, value: encodeRevokedArchive(archived) });
      // Never above the snapshot's sequence number (newer records are being written).
      for (let seq = m.prunedSeq + 1; seq <= upTo; seq++)
        ops.push({ op: 'del', namespace: CHANNEL_NS.monitor, key: monitorUpdateKey(m.channelId, seq) });
      after.push(() => {
        m.state = state;
        m.prunedSeq = upTo;
        if (key) m.archive = [...m.archive, key].sort();
      });
    }
    if (ops.length === 0) return;
    await this.#store.batch(ops);
    for (const f of after) f();
    for (const m of ms) m.dirty = false;
  }

  /** The archived record of revoked commitment `n` of `m`, if any (newest archive first). */
  async #archived(m: Mon, n: number): Promise<ArchivedRevoked | undefined> {
    const keys = m.archive
      .filter((k) => archiveFirst(k) <= n)
      .sort((a, b) => archiveFirst(b) - archiveFirst(a));
    for (const k of keys) {
      const v = await this.#store.read(MONITOR_ARCHIVE_NS, k);
      if (!v) continue;
      try {
        const hit = decodeRevokedArchive(v).find((e) => e.commitmentNumber === n);
        if (hit) return hit;
      } catch (e) {
        this.#log.error('unreadable revoked archive', { channel: m.channelId, key: k, error: String(e) });
      }
    }
    return undefined;
  }

  /** Puts back the archived revoked commitments `txs` publish before they are fed to `m`. */
  async #hydrate(m: Mon, txs: readonly Transaction[]): Promise<void> {
    for (const tx of txs) {
      const n = unknownRevokedNumber(m.state, tx);
      if (n === undefined) continue;
      const a = await this.#archived(m, n);
      if (!a) continue;
      const next = hydrateRevoked(m.state, a);
      if (next !== m.state) {
        this.#log.info('revoked commitment on chain: archived record restored', {
          channel: m.channelId,
          commitmentNumber: n,
        });
        m.state = next;
        m.dirty = true;
      }
    }
  }

  async #persistDirty(all = false): Promise<void> {
    await this.#persist([...this.#mons.values()].filter((m) => all || m.dirty));
  }

  /** Re-arms the chain watches of a loaded monitor. */
  #rewatch(m: Mon): void {
    const f = m.state.funded;
    if (!f || m.state.resolved) return;
    this.#chain.watchOutpoint({ txid: toHex(f.fundingTxid), vout: f.fundingOutputIndex });
    for (const o of analyze(m.state).outputs)
      this.#chain.watchOutpoint({ txid: toHex(o.txid), vout: o.vout });
  }

  async #refreshFeerate(): Promise<void> {
    try {
      this.#feerate = Number(await this.#chain.estimateFeeRate(this.#opts.feeTarget ?? 2));
    } catch (e) {
      this.#log.warn('fee estimate failed', { error: String(e) });
    }
  }

  #onChainEvent(e: ChainEvent): void {
    if (this.#stopped) return;
    switch (e.type) {
      case 'block_connected':
        void this.#run(() => this.#sync());
        return;
      case 'block_disconnected': {
        const h = e.block.height;
        void this.#run(async () => {
          const fx: Array<[Mon, MonitorEffect[]]> = [];
          for (const m of this.#mons.values()) {
            if (m.state.resolved || !m.state.funded || m.state.height < h) continue;
            fx.push([m, this.#step(m, { type: 'BlockDisconnected', height: h })]);
          }
          if (this.#fedHeight >= h) this.#fedHeight = h - 1;
          await this.#persistDirty();
          for (const [m, x] of fx) await this.#execute(m, x);
        });
        return;
      }
      case 'tx_mempool': {
        const tx = e.tx;
        void this.#run(async () => {
          for (const m of this.#mons.values()) {
            if (m.state.resolved || !m.state.funded) continue;
            const fx = this.#step(m, { type: 'MempoolTx', tx });
            if (fx.some((x) => x.type !== 'PersistMonitor')) {
              await this.#persist([m]);
              await this.#execute(m, fx);
            }
          }
        });
        return;
      }
      default:
        return;
    }
  }

  /** Feeds every unresolved monitor the blocks it has not seen, up to the chain tip. */
  async #sync(): Promise<void> {
    const tip = this.#chain.tip();
    if (!tip) return;
    await this.#refreshFeerate();
    const active = [...this.#mons.values()].filter((m) => m.state.funded && !m.state.resolved);
    const from = (m: Mon) => m.refeedFrom ?? m.state.height + 1;
    let low = tip.height + 1;
    for (const m of active) low = Math.min(low, from(m));
    for (let h = Math.max(1, low); h <= tip.height; h++) {
      const due = active.filter((m) => from(m) <= h && !m.state.resolved);
      if (due.length === 0) continue;
      const hash = await this.#chain.backend.getBlockHash(h);
      if (hash === undefined) break;
      const block = await this.#chain.backend.getBlock(hash);
      const fx: Array<[Mon, MonitorEffect[]]> = [];
      for (const m of due) await this.#hydrate(m, block.txs);
      for (const m of due) {
        m.refeedFrom = undefined;
        fx.push([m, this.#step(m, { type: 'BlockConnected', height: h, txs: block.txs })]);
      }
      // Persist every state of this block before acting on any effect.
      await this.#persistDirty();
      for (const [m, x] of fx) await this.#execute(m, x);
    }
    this.#fedHeight = Math.max(this.#fedHeight, tip.height);
  }

  #emit(e: MonitorEvent): void {
    for (const l of this.#listeners) {
      try {
        l(e);
      } catch (err) {
        this.#log.error('monitor listener failed', { error: String(err) });
      }
    }
  }

  async #broadcast(m: Mon, tx: Transaction, kind: string): Promise<boolean> {
    const txid = txidHex(tx);
    const known = this.#chain.transaction(txid);
    if (known?.block) return true;
    try {
      await this.#chain.broadcast(tx);
      if (!this.#published.some((p) => p.txid === txid)) {
        this.#published.push({ channelId: m.channelId, txid, kind });
        this.#emit({ type: 'Published', channelId: m.channelId, txid, kind });
      }
      return true;
    } catch (e) {
      if (e instanceof BroadcastError) {
        if (IGNORED_REJECTS.has(e.reason)) return true;
        this.#log.debug('claim not accepted (yet)', { channel: m.channelId, kind, txid, reason: e.reason });
        return false;
      }
      this.#log.warn('broadcast failed', { channel: m.channelId, kind, txid, error: String(e) });
      return false;
    }
  }

  /** A funded transaction still live (unconfirmed in the mempool view, or confirmed). */
  #live(key: string): Transaction | undefined {
    const tx = this.#funded.get(key);
    if (!tx) return undefined;
    if (this.#chain.transaction(txidHex(tx))) return tx;
    this.#funded.delete(key);
    return undefined;
  }

  async #execute(m: Mon, effects: readonly MonitorEffect[]): Promise<void> {
    const cid = m.channelId;
    for (const e of effects) {
      switch (e.type) {
        case 'PersistMonitor':
          break;
        case 'WatchOutpoint':
          this.#chain.watchOutpoint({ txid: toHex(e.txid), vout: e.vout });
          break;
        case 'Broadcast':
          await this.#broadcast(m, e.tx, e.kind);
          break;
        case 'RequestCpfp':
          await this.#cpfp(m, e);
          break;
        case 'FundHtlcTx':
          await this.#fundHtlc(m, e);
          break;
        case 'FundingSpent':
          this.#emit({
            type: 'FundingSpent',
            channelId: cid,
            kind: e.kind,
            txid: toHex(e.txid),
            height: e.height,
          });
          // The channel must not be used any more: stop it (its commitment is moot now).
          if (e.kind !== 'mutual') this.#stopChannel(cid, `funding spent (${e.kind})`);
          break;
        case 'HtlcResolvedOnChain': {
          const preimage = e.outcome.kind === 'fulfilled' ? e.outcome.preimage : undefined;
          this.#emit({
            type: 'HtlcResolvedOnChain',
            channelId: cid,
            direction: e.direction,
            htlcId: e.htlcId,
            paymentHash: toHex(e.paymentHash),
            amountMsat: e.amountMsat,
            outcome: e.outcome.kind,
            preimage: preimage ? toHex(preimage) : undefined,
          });
          if (this.#payments) {
            try {
              await this.#payments.htlcResolvedOnChain(cid, {
                direction: e.direction,
                htlcId: e.htlcId,
                paymentHash: e.paymentHash,
                preimage,
              });
            } catch (err) {
              this.#log.error('payment update failed', { channel: cid, error: String(err) });
            }
          }
          break;
        }
        case 'ClaimConfirmed':
          this.#emit({ type: 'ClaimConfirmed', channelId: cid, txid: toHex(e.txid), amountSat: e.amountSat });
          break;
        case 'ForceClose':
          this.#log.warn('HTLC deadline: going on chain', { channel: cid, reason: e.reason });
          this.#emit({ type: 'ForceClose', channelId: cid, reason: e.reason });
          this.#stopChannel(cid, e.reason);
          break;
        case 'ChannelFullyResolved':
          this.#emit({ type: 'ChannelFullyResolved', channelId: cid, closeKind: e.closeKind });
          break;
      }
    }
  }

  /** Re-delivers the HTLC outcomes this monitor already reported to the payment layer. */
  async #replayResolutions(m: Mon): Promise<void> {
    const pay = this.#payments;
    const s = m.state;
    if (!pay || !s.reported.some((k) => k.startsWith('htlc:'))) return;
    const htlcs = new Map<string, { paymentHash: Uint8Array }>();
    for (const l of s.locals) for (const h of l.spec.htlcs) htlcs.set(`htlc:${h.direction}:${h.id}`, h);
    for (const r of s.remotes)
      for (const h of r.spec.htlcs)
        htlcs.set(`htlc:${h.direction === 'offered' ? 'received' : 'offered'}:${h.id}`, h);
    for (const k of s.reported) {
      const h = htlcs.get(k);
      if (!h) continue;
      const [, direction, id] = k.split(':') as [string, 'offered' | 'received', string];
      const hash = toHex(h.paymentHash);
      const preimage = s.preimages.find((p) => toHex(sha256(p)) === hash);
      try {
        await pay.htlcResolvedOnChain(m.channelId, {
          direction,
          htlcId: BigInt(id),
          paymentHash: h.paymentHash,
          preimage,
        });
      } catch (err) {
        this.#log.error('payment update failed', { channel: m.channelId, error: String(err) });
      }
    }
  }

  /** Stops the channel (force close) unless it is already closing. Not awaited (no re-entrancy). */
  #stopChannel(channelId: string, reason: string): void {
    const cm = this.#channels;
    const st = cm?.channel(channelId)?.state;
    if (!cm || st === undefined || st === 'Closing' || st === 'Closed') return;
    cm.closeChannel(channelId, { force: true }).catch((err: unknown) =>
      this.#log.warn('cannot stop the channel', { channel: channelId, reason, error: String(err) }),
    );
  }

  async #cpfp(m: Mon, e: Extract<MonitorEffect, { type: 'RequestCpfp' }>): Promise<void> {
    const parentId = toHex(e.parentTxid);
    if (this.#chain.transaction(parentId)?.block) return;
    const key = `${toHex(e.anchor.txid)}:${e.anchor.vout}`;
    let child = this.#live(key);
    if (!child) {
      const template: Transaction = {
        version: 2,
        locktime: 0,
        inputs: [
          {
            txid: e.anchor.txid,
            vout: e.anchor.vout,
            scriptSig: new Uint8Array(0),
            sequence: 0xfffffffd,
            witness: [],
          },
        ],
        outputs: [],
      };
      // Witness: count, <sig> (<= 73), <anchor script>.
      const witness = 1 + 1 + 73 + 1 + e.anchor.witnessScript.length;
      const deficit = feeFor(e.targetFeeratePerKw, e.parentWeight) - e.parentFeeSat;
      try {
        const funded = await this.#wallet.fundForeignTx({
          tx: template,
          foreignInputs: [{ amountSat: e.anchor.amountSat, weight: INPUT_BASE_WEIGHT + witness }],
          feeRate: BigInt(Math.max(253, e.targetFeeratePerKw)),
          extraFee: deficit > 0n ? deficit : 0n,
          allowReserve: true,
        });
        const tx = funded.tx;
        tx.inputs[0]!.witness = signAnchorSpend(tx, 0, e.anchor, this.#opts.keys.channelKeys(m.keyIndex));
        child = tx;
        this.#funded.set(key, tx);
      } catch (err) {
        this.#log.warn('cannot fund the CPFP child', { channel: m.channelId, error: String(err) });
        await this.#broadcast(m, e.parentTx, 'local-commitment');
        return;
      }
    }
    await this.#broadcast(m, e.parentTx, 'local-commitment');
    if (!(await this.#broadcast(m, child, 'cpfp'))) this.#funded.delete(key);
  }

  async #fundHtlc(m: Mon, e: Extract<MonitorEffect, { type: 'FundHtlcTx' }>): Promise<void> {
    const r = e.request;
    const t = r.htlc.htlcTx.tx;
    const in0 = t.inputs[0]!;
    const key = `${toHex(in0.txid)}:${in0.vout}`;
    const kind = r.htlc.direction === 'offered' ? 'htlc-timeout' : 'htlc-success';
    let tx = this.#live(key);
    if (!tx) {
      const f = m.state.funded;
      if (!f) return;
      // The template's own weight minus its overhead and output: what input 0 weighs signed.
      const out0 = t.outputs[0]!;
      const overhead = (4 + 1 + 1 + 4) * 4 + 2 + (8 + 1 + out0.scriptPubKey.length) * 4;
      try {
        const funded = await this.#wallet.fundForeignTx({
          tx: { ...t, inputs: [{ ...in0, witness: [] }], outputs: [{ ...out0 }] },
          foreignInputs: [{ amountSat: r.htlc.htlcTx.inputAmountSat, weight: r.weight - overhead }],
          feeRate: BigInt(Math.max(253, e.targetFeeratePerKw)),
          allowReserve: true,
        });
        tx = signFundedHtlcTx(funded.tx, r, this.#opts.keys.channelKeys(m.keyIndex), f.local.htlcBasepoint);
        this.#funded.set(key, tx);
      } catch (err) {
        this.#log.warn('cannot fund the HTLC transaction', {
          channel: m.channelId,
          kind,
          error: String(err),
        });
        return;
      }
    }
    if (!(await this.#broadcast(m, tx, kind))) this.#funded.delete(key);
  }
}
