/**
 * BOLT #7 funding-output checks for `channel_announcement`s ("The `channel_announcement`
 * Message", receiving node: "if the `short_channel_id`'s output does NOT correspond to a P2WSH
 * ... OR the output is spent: MUST ignore the message"): finds the output a short_channel_id
 * points at (block at its height → transaction at its index → output at its index) through the
 * chain backend, with a small cache of recently fetched blocks and of located outputs, and a
 * concurrency limit on backend requests.
 *
 * Spends are detected through the chain view ({@link GossipChain.spendOf}): outputs the node
 * watches (every channel in the graph is watched once accepted) are known spent once a spending
 * transaction confirms; a spend that happened before the node watched the output is not seen
 * (the backend port has no UTXO query) — such channels leave the graph through stale pruning.
 */
import type { FundingCheckRequest, FundingOutput } from '../../core/gossip/index.js';
import { txidHex } from '../../protocol/tx/transaction.js';
import type { BackendBlock, ChainBackend, ChainSource, OutPoint } from '../ports/chain.js';

/** The chain view the gossip layer needs; `ChainTracker` implements it. */
export interface GossipChain extends Pick<ChainSource, 'tip' | 'subscribe' | 'watchOutpoint' | 'spendOf'> {
  readonly backend: Pick<ChainBackend, 'getBlockHash' | 'getBlock'>;
}

/** A located funding output: its value and script, and its outpoint (watched for spends). */
export interface LocatedOutput extends FundingOutput {
  readonly outpoint: OutPoint;
}

/**
 * Result of {@link FundingLookup.lookup}: the unspent output; `undefined` when it does not exist
 * or is spent; `'not_yet'` when the scid's block is above the backend's tip (retry later).
 */
export type LookupResult = LocatedOutput | undefined | 'not_yet';

/** Options of {@link FundingLookup}. */
export interface FundingLookupOptions {
  /** Blocks kept in memory (default 8). */
  blockCacheSize?: number;
  /** Located outputs kept in memory (default 4096). */
  outputCacheSize?: number;
  /** Backend requests in flight at once (default 4). */
  concurrency?: number;
}

/** See the module documentation. */
export class FundingLookup {
  readonly #chain: GossipChain;
  readonly #blockCacheSize: number;
  readonly #outputCacheSize: number;
  readonly #concurrency: number;
  readonly #blocks = new Map<number, Promise<BackendBlock | undefined>>();
  readonly #outputs = new Map<bigint, LocatedOutput | null>();
  #active = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(chain: GossipChain, opts: FundingLookupOptions = {}) {
    this.#chain = chain;
    this.#blockCacheSize = opts.blockCacheSize ?? 8;
    this.#outputCacheSize = opts.outputCacheSize ?? 4096;
    this.#concurrency = Math.max(1, opts.concurrency ?? 4);
  }

  /** Looks up the output a funding check refers to (see {@link LookupResult}). Never throws. */
  async lookup(check: FundingCheckRequest): Promise<LookupResult> {
    let found = this.#outputs.get(check.shortChannelId);
    if (found === undefined) {
      let block: BackendBlock | undefined;
      try {
        block = await this.#block(check.block);
      } catch {
        return undefined; // backend failure: treated as missing (the channel can be re-synced)
      }
      if (!block) return 'not_yet';
      const tx = block.txs[check.txIndex];
      const out = tx?.outputs[check.outputIndex];
      found =
        tx && out
          ? {
              valueSat: out.value,
              scriptPubKey: out.scriptPubKey,
              outpoint: { txid: txidHex(tx), vout: check.outputIndex },
            }
          : null;
      this.#outputs.set(check.shortChannelId, found);
      if (this.#outputs.size > this.#outputCacheSize) {
        this.#outputs.delete(this.#outputs.keys().next().value as bigint);
      }
    }
    if (found === null) return undefined;
    // BOLT #7: "OR the output is spent: MUST ignore the message."
    if (this.#chain.spendOf(found.outpoint)?.block) return undefined;
    return found;
  }

  /** Drops cached blocks and outputs (after a reorg). */
  clear(): void {
    this.#blocks.clear();
    this.#outputs.clear();
  }

  /** Forgets what is cached about a scid (after its channel was pruned). */
  forget(scid: bigint): void {
    this.#outputs.delete(scid);
  }

  #block(height: number): Promise<BackendBlock | undefined> {
    const cached = this.#blocks.get(height);
    if (cached) return cached;
    const p = this.#limited(async () => {
      const hash = await this.#chain.backend.getBlockHash(height);
      if (hash === undefined) return undefined;
      return this.#chain.backend.getBlock(hash);
    });
    this.#blocks.set(height, p);
    // Failures and "not yet" answers are not cached.
    p.then(
      (b) => {
        if (!b) this.#blocks.delete(height);
      },
      () => this.#blocks.delete(height),
    );
    while (this.#blocks.size > this.#blockCacheSize) {
      this.#blocks.delete(this.#blocks.keys().next().value as number);
    }
    return p;
  }

  async #limited<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#active >= this.#concurrency) await new Promise<void>((r) => this.#waiting.push(r));
    this.#active++;
    try {
      return await fn();
    } finally {
      this.#active--;
      this.#waiting.shift()?.();
    }
  }
}
