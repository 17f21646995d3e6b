/**
 * ChainTracker: the {@link ChainSource} implementation shared by every chain backend.
 *
 * Each {@link ChainTracker.poll}:
 * 1. Block sync. Reads the backend tip; if it differs from ours, walks back from
 *    min(our height, tip height) comparing our stored hash at each height with the backend's
 *    until they agree (the fork point), disconnects our blocks above it (newest first) and
 *    connects the backend's blocks up to the tip, checking every block's `prevHash` against the
 *    block below (a reorg racing the sync restarts the walk).
 * 2. Block scan. Every connected block's transactions are matched against the watched scripts
 *    (outputs) and outpoints (inputs). A matching transaction is recorded with its block; its
 *    outputs to watched scripts become watched outpoints. Listeners run synchronously, so a
 *    wallet may extend its gap limit while the block is scanned; the block is re-scanned until
 *    the watch set is stable.
 * 3. Mempool. Unconfirmed relevant transactions are fetched from the backend; a recorded
 *    unconfirmed transaction that the backend no longer knows (replaced, conflicted, evicted)
 *    is dropped — but only when the tip did not move meanwhile, and after asking the backend
 *    about that txid directly.
 *
 * Relevant transactions spending the same outpoint as a newly recorded one are dropped at once
 * (an RBF replacement or a confirmed conflict), with their unconfirmed descendants.
 */
import { fromHex, toHex } from '../../protocol/encoding/bytes.js';
import { encodeTx, type Transaction, txidHex } from '../../protocol/tx/transaction.js';
import {
  type BackendBlock,
  type BlockRef,
  type ChainBackend,
  type ChainEvent,
  type ChainSource,
  ChainSourceError,
  type OutPoint,
  type OutpointSpend,
  type WatchedTx,
} from '../ports/chain.js';

/** Options of a {@link ChainTracker}. */
export interface ChainTrackerOptions {
  /**
   * First block height to scan (a wallet birthday). Default: the tip at the first poll, i.e.
   * only blocks found after start-up are scanned.
   */
  startHeight?: number;
  /** Fee rate (sat/kw) used when the backend has no estimate. Default 253. */
  fallbackFeeRate?: bigint;
  /** Number of recent block hashes kept for reorg detection. Default 1000. */
  maxReorgDepth?: number;
}

const ZERO_HASH = '00'.repeat(32);
const FEERATE_FLOOR = 253n;

interface Entry {
  txid: string;
  tx: Transaction;
  block: BlockRef | undefined;
}

/** Key of an outpoint (`txid:vout`). */
export function outpointKey(o: OutPoint): string {
  return `${o.txid}:${o.vout}`;
}

function inputKey(tx: Transaction, i: number): string {
  const inp = tx.inputs[i]!;
  return `${toHex(inp.txid)}:${inp.vout}`;
}

/** The shared chain-source logic over any {@link ChainBackend}. */
export class ChainTracker implements ChainSource {
  readonly backend: ChainBackend;
  readonly #opts: ChainTrackerOptions;
  readonly #hashes = new Map<number, string>();
  #base = 0;
  #best: BlockRef | undefined;
  readonly #scripts = new Set<string>();
  readonly #outpoints = new Set<string>();
  #watchVersion = 0;
  readonly #txs = new Map<string, Entry>();
  readonly #listeners = new Set<(e: ChainEvent) => void>();
  #queue: Promise<unknown> = Promise.resolve();

  constructor(backend: ChainBackend, opts: ChainTrackerOptions = {}) {
    this.backend = backend;
    this.#opts = opts;
  }

  get backendName(): string {
    return this.backend.name;
  }

  tip(): BlockRef | undefined {
    return this.#best ? { ...this.#best } : undefined;
  }

  subscribe(listener: (e: ChainEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  watchScript(script: Uint8Array): void {
    const k = toHex(script);
    if (!this.#scripts.has(k)) {
      this.#scripts.add(k);
      this.#watchVersion++;
    }
  }

  watchOutpoint(outpoint: OutPoint): void {
    const k = outpointKey(outpoint);
    if (!this.#outpoints.has(k)) {
      this.#outpoints.add(k);
      this.#watchVersion++;
    }
  }

  transactions(): WatchedTx[] {
    return [...this.#txs.values()].map((e) => this.#view(e));
  }

  transaction(txid: string): WatchedTx | undefined {
    const e = this.#txs.get(txid);
    return e ? this.#view(e) : undefined;
  }

  spendOf(outpoint: OutPoint): OutpointSpend | undefined {
    const key = outpointKey(outpoint);
    let best: OutpointSpend | undefined;
    for (const e of this.#txs.values()) {
      for (let i = 0; i < e.tx.inputs.length; i++) {
        if (inputKey(e.tx, i) !== key) continue;
        const s = { txid: e.txid, inputIndex: i, block: e.block, confirmations: this.#confs(e.block) };
        if (!best || s.confirmations > best.confirmations) best = s;
      }
    }
    return best;
  }

  async fetchTransaction(txid: string): Promise<Transaction | undefined> {
    return this.#txs.get(txid)?.tx ?? (await this.backend.getTransaction(txid));
  }

  async estimateFeeRate(target: number): Promise<bigint> {
    if (!Number.isInteger(target) || target < 1) throw new ChainSourceError('CHAIN_BAD_TARGET', 'bad target');
    const raw = await this.backend.estimateFeeRate(target);
    const rate = raw ?? this.#opts.fallbackFeeRate ?? FEERATE_FLOOR;
    return rate < FEERATE_FLOOR ? FEERATE_FLOOR : rate;
  }

  async broadcast(tx: Transaction): Promise<string> {
    const txid = await this.backend.broadcast(encodeTx(tx));
    const own = txidHex(tx);
    if (txid !== own) {
      throw new ChainSourceError('CHAIN_BAD_RESPONSE', 'backend returned a different txid', {
        details: txid,
      });
    }
    if (this.#isRelevant(tx) && !this.#txs.get(txid)?.block) {
      this.#record(txid, tx, undefined, (e) => this.#emitTo(e));
    }
    return txid;
  }

  poll(): Promise<ChainEvent[]> {
    const run = this.#queue.then(() => this.#poll());
    this.#queue = run.catch(() => undefined);
    return run;
  }

  // --- internals ---

  #emitTo(e: ChainEvent): void {
    for (const l of this.#listeners) l(e);
  }

  #view(e: Entry): WatchedTx {
    return { txid: e.txid, tx: e.tx, block: e.block, confirmations: this.#confs(e.block) };
  }

  #confs(block: BlockRef | undefined): number {
    return block && this.#best ? this.#best.height - block.height + 1 : 0;
  }

  async #poll(): Promise<ChainEvent[]> {
    const events: ChainEvent[] = [];
    const emit = (e: ChainEvent) => {
      events.push(e);
      this.#emitTo(e);
    };
    await this.#syncBlocks(emit);
    await this.#syncMempool(emit);
    return events;
  }

  async #init(tip: BlockRef): Promise<void> {
    const start = this.#opts.startHeight;
    if (start === undefined || start > tip.height) {
      this.#base = tip.height;
      this.#hashes.set(tip.height, tip.hash);
      this.#best = { ...tip };
      return;
    }
    if (start < 0 || !Number.isInteger(start))
      throw new ChainSourceError('CHAIN_BAD_START', 'bad start height');
    const base = start - 1;
    const hash = base < 0 ? ZERO_HASH : await this.backend.getBlockHash(base);
    if (hash === undefined) throw new ChainSourceError('CHAIN_NOT_FOUND', 'start block not found');
    this.#base = base;
    this.#hashes.set(base, hash);
    this.#best = { height: base, hash };
  }

  async #syncBlocks(emit: (e: ChainEvent) => void): Promise<void> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const tip = await this.backend.getTip();
      if (!this.#best) {
        await this.#init(tip);
        continue;
      }
      const best = this.#best;
      if (tip.hash === best.hash) return;
      // Walk back to the fork point.
      let h = Math.min(best.height, tip.height);
      while (h > this.#base) {
        if ((await this.backend.getBlockHash(h)) === this.#hashes.get(h)) break;
        h--;
      }
      if (h === this.#base && h >= 0 && (await this.backend.getBlockHash(h)) !== this.#hashes.get(h)) {
        throw new ChainSourceError('CHAIN_REORG_TOO_DEEP', 'reorg deeper than the kept block history', {
          details: `fork below height ${h}`,
        });
      }
      for (let k = best.height; k > h; k--) this.#disconnect(k, emit);
      let restarted = false;
      for (let k = h + 1; k <= tip.height; k++) {
        const hash = await this.backend.getBlockHash(k);
        if (hash === undefined) {
          restarted = true;
          break;
        }
        const block = await this.backend.getBlock(hash);
        if (block.hash !== hash || block.prevHash !== this.#hashes.get(k - 1)) {
          restarted = true; // the chain moved under us: walk again
          break;
        }
        this.#connect(k, block, emit);
      }
      if (!restarted && this.#best?.hash === tip.hash) return;
    }
    throw new ChainSourceError('CHAIN_UNSTABLE', 'chain kept changing during sync');
  }

  #connect(height: number, block: BackendBlock, emit: (e: ChainEvent) => void): void {
    const ref: BlockRef = { height, hash: block.hash };
    this.#hashes.set(height, block.hash);
    this.#best = ref;
    const keep = this.#opts.maxReorgDepth ?? 1000;
    while (this.#best.height - this.#base > keep) {
      this.#hashes.delete(this.#base);
      this.#base++;
    }
    emit({ type: 'block_connected', block: { ...ref }, time: block.time });
    const ids = new Map<Transaction, string>();
    let version: number;
    do {
      version = this.#watchVersion;
      for (const tx of block.txs) {
        if (!this.#isRelevant(tx)) continue;
        let txid = ids.get(tx);
        if (txid === undefined) {
          txid = txidHex(tx);
          ids.set(tx, txid);
        }
        if (this.#txs.get(txid)?.block?.hash === block.hash) continue;
        this.#record(txid, tx, ref, emit);
      }
    } while (version !== this.#watchVersion);
  }

  #disconnect(height: number, emit: (e: ChainEvent) => void): void {
    const hash = this.#hashes.get(height)!;
    const ref: BlockRef = { height, hash };
    for (const e of this.#txs.values()) {
      if (e.block?.hash === hash) {
        e.block = undefined;
        emit({ type: 'tx_unconfirmed', txid: e.txid, tx: e.tx, block: { ...ref } });
      }
    }
    this.#hashes.delete(height);
    this.#best = { height: height - 1, hash: this.#hashes.get(height - 1) ?? ZERO_HASH };
    emit({ type: 'block_disconnected', block: ref });
  }

  #isRelevant(tx: Transaction): boolean {
    for (const o of tx.outputs) if (this.#scripts.has(toHex(o.scriptPubKey))) return true;
    for (let i = 0; i < tx.inputs.length; i++) if (this.#outpoints.has(inputKey(tx, i))) return true;
    return false;
  }

  #record(txid: string, tx: Transaction, block: BlockRef | undefined, emit: (e: ChainEvent) => void): void {
    const prev = this.#txs.get(txid);
    if (prev && prev.block?.hash === block?.hash) return;
    this.#txs.set(txid, { txid, tx, block: block ? { ...block } : undefined });
    tx.outputs.forEach((o, vout) => {
      if (this.#scripts.has(toHex(o.scriptPubKey))) this.watchOutpoint({ txid, vout });
    });
    if (block) emit({ type: 'tx_confirmed', txid, tx, block: { ...block } });
    else emit({ type: 'tx_mempool', txid, tx });
    this.#dropConflicts(txid, tx, emit);
    tx.inputs.forEach((inp, i) => {
      const key = inputKey(tx, i);
      if (this.#outpoints.has(key)) {
        emit({
          type: 'outpoint_spent',
          outpoint: { txid: toHex(inp.txid), vout: inp.vout },
          txid,
          inputIndex: i,
          block: block ? { ...block } : undefined,
        });
      }
    });
  }

  /** Drops unconfirmed relevant txs that spend an outpoint `tx` spends, and their descendants. */
  #dropConflicts(txid: string, tx: Transaction, emit: (e: ChainEvent) => void): void {
    const spent = new Set(tx.inputs.map((_, i) => inputKey(tx, i)));
    for (const e of [...this.#txs.values()]) {
      if (e.txid === txid || e.block) continue;
      if (e.tx.inputs.some((_, i) => spent.has(inputKey(e.tx, i)))) this.#drop(e, emit, txid);
    }
  }

  #drop(e: Entry, emit: (e: ChainEvent) => void, replacedBy?: string): void {
    if (!this.#txs.delete(e.txid)) return;
    emit(
      replacedBy === undefined
        ? { type: 'tx_dropped', txid: e.txid, tx: e.tx }
        : { type: 'tx_dropped', txid: e.txid, tx: e.tx, replacedBy },
    );
    for (const d of [...this.#txs.values()]) {
      if (!d.block && d.tx.inputs.some((inp) => toHex(inp.txid) === e.txid)) this.#drop(d, emit);
    }
  }

  async #syncMempool(emit: (e: ChainEvent) => void): Promise<void> {
    const confirmedSpent = new Set<string>();
    for (const e of this.#txs.values()) {
      if (e.block) for (let i = 0; i < e.tx.inputs.length; i++) confirmedSpent.add(inputKey(e.tx, i));
    }
    const outpoints: OutPoint[] = [];
    for (const k of this.#outpoints) {
      if (confirmedSpent.has(k)) continue;
      const [txid, vout] = k.split(':') as [string, string];
      outpoints.push({ txid, vout: Number(vout) });
    }
    const txs = await this.backend.mempoolTransactions({
      scripts: [...this.#scripts].map((s) => fromHex(s)),
      outpoints,
    });
    const seen = new Set<string>();
    const ids = new Map<Transaction, string>();
    let version: number;
    do {
      version = this.#watchVersion;
      for (const tx of txs) {
        if (!this.#isRelevant(tx)) continue;
        let txid = ids.get(tx);
        if (txid === undefined) {
          txid = txidHex(tx);
          ids.set(tx, txid);
        }
        seen.add(txid);
        if (!this.#txs.has(txid)) this.#record(txid, tx, undefined, emit);
      }
    } while (version !== this.#watchVersion);
    // Drop detection, only against a stable tip (a tx may have confirmed since the block sync).
    const missing = [...this.#txs.values()].filter((e) => !e.block && !seen.has(e.txid));
    if (missing.length === 0) return;
    const tip = await this.backend.getTip();
    if (tip.hash !== this.#best?.hash) return;
    for (const e of missing) {
      if (!this.#txs.has(e.txid)) continue;
      if ((await this.backend.txStatus(e.txid)) === 'unknown') this.#drop(e, emit);
    }
  }
}
