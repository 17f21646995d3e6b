/**
 * The chain-source port (issue 3 §2): what the node needs from a Bitcoin chain backend.
 *
 * Two levels:
 * - {@link ChainBackend}: the small request/response surface an adapter implements over one
 *   transport (Bitcoin Core JSON-RPC in `adapters/chain/bitcoind.ts`, Esplora REST in
 *   `adapters/chain/esplora.ts`). Adapters are stateless apart from caches.
 * - {@link ChainSource}: what the node uses. Tip tracking by polling, block connected /
 *   disconnected notifications with reorg handling (walking back to the fork point), watched
 *   scripts and outpoints with their confirmations and spends, fee estimates (sat/kw, >= 253)
 *   and broadcasting. `node/chain/tracker.ts` implements it over any ChainBackend, so both
 *   adapters share the same (tested) reorg logic.
 *
 * Hashes and txids are hex strings in display (RPC) byte order.
 */
import { FaradError, type FaradErrorOptions } from '../../protocol/errors.js';
import type { Transaction } from '../../protocol/tx/transaction.js';

/** A block by height and hash. */
export interface BlockRef {
  height: number;
  hash: string;
}

/** A full block as returned by a backend. */
export interface BackendBlock {
  hash: string;
  prevHash: string;
  /** Header timestamp (Unix seconds). */
  time: number;
  txs: Transaction[];
}

/** A transaction outpoint. */
export interface OutPoint {
  txid: string;
  vout: number;
}

/** What a backend is asked to find in its mempool. */
export interface WatchQuery {
  scripts: readonly Uint8Array[];
  outpoints: readonly OutPoint[];
}

/** Where a transaction stands according to the backend. */
export type BackendTxStatus = 'mempool' | 'confirmed' | 'unknown';

/** The adapter surface: one implementation per chain backend protocol. */
export interface ChainBackend {
  /** Short name for logs ('bitcoind', 'esplora'). */
  readonly name: string;
  /** The best block. */
  getTip(): Promise<BlockRef>;
  /** Hash of the best-chain block at `height`, undefined above the tip. */
  getBlockHash(height: number): Promise<string | undefined>;
  /** A full block; throws ChainSourceError `CHAIN_NOT_FOUND` if unknown. */
  getBlock(hash: string): Promise<BackendBlock>;
  /** A transaction (mempool, or confirmed when the backend can find it), undefined when unknown. */
  getTransaction(txid: string): Promise<Transaction | undefined>;
  /** Unconfirmed (mempool) transactions paying to any watched script or spending any watched outpoint. */
  mempoolTransactions(query: WatchQuery): Promise<Transaction[]>;
  /** Whether the backend currently has `txid` in its mempool / chain. */
  txStatus(txid: string): Promise<BackendTxStatus>;
  /** Raw fee estimate for `target` blocks in sat/kw, undefined when the backend has none. */
  estimateFeeRate(target: number): Promise<bigint | undefined>;
  /** Broadcasts a raw transaction; returns its txid. Throws {@link BroadcastError}. */
  broadcast(raw: Uint8Array): Promise<string>;
}

/** Fee estimation per confirmation target. */
export interface FeeEstimator {
  /** Fee rate in sat/kw to confirm within `target` blocks; never below 253. */
  estimateFeeRate(target: number): Promise<bigint>;
}

/** Transaction broadcasting. */
export interface Broadcaster {
  /** Broadcasts `tx`; returns its txid. Throws {@link BroadcastError} with a typed `reason`. */
  broadcast(tx: Transaction): Promise<string>;
}

/** A relevant transaction as tracked by a {@link ChainSource}. */
export interface WatchedTx {
  txid: string;
  tx: Transaction;
  /** Block containing it; undefined while unconfirmed. */
  block: BlockRef | undefined;
  /** tip height - block height + 1, 0 while unconfirmed. */
  confirmations: number;
}

/** The spend of a watched outpoint. */
export interface OutpointSpend {
  txid: string;
  inputIndex: number;
  block: BlockRef | undefined;
  confirmations: number;
}

/** A notification from a {@link ChainSource}, delivered in order. */
export type ChainEvent =
  | { type: 'block_connected'; block: BlockRef; time: number }
  | { type: 'block_disconnected'; block: BlockRef }
  /** A relevant tx was included in a connected block. */
  | { type: 'tx_confirmed'; txid: string; tx: Transaction; block: BlockRef }
  /** A relevant tx's block was disconnected (reorg); it is unconfirmed again. */
  | { type: 'tx_unconfirmed'; txid: string; tx: Transaction; block: BlockRef }
  /** A relevant tx was seen unconfirmed (mempool or our own broadcast). */
  | { type: 'tx_mempool'; txid: string; tx: Transaction }
  /** A relevant unconfirmed tx left the mempool without confirming (replaced, conflicted, evicted). */
  | { type: 'tx_dropped'; txid: string; tx: Transaction; replacedBy?: string }
  /** A watched outpoint was spent (block undefined while the spend is unconfirmed). */
  | {
      type: 'outpoint_spent';
      outpoint: OutPoint;
      txid: string;
      inputIndex: number;
      block: BlockRef | undefined;
    };

/** The chain source the node uses (implemented by `node/chain/tracker.ts`). */
export interface ChainSource extends FeeEstimator, Broadcaster {
  readonly backendName: string;
  /**
   * Brings the view up to date with the backend: connects new blocks, disconnects reorged ones
   * (walking back to the fork point), scans the mempool for watched items, and returns (and
   * emits to subscribers) the resulting events in order.
   */
  poll(): Promise<ChainEvent[]>;
  /** The last processed tip, undefined before the first poll. */
  tip(): BlockRef | undefined;
  /** Adds a listener (called synchronously during poll; it may add watches). Returns an unsubscribe function. */
  subscribe(listener: (e: ChainEvent) => void): () => void;
  /** Watches an output script: transactions paying it become relevant, and their outputs to it are watched. */
  watchScript(script: Uint8Array): void;
  /** Watches an outpoint for spends. */
  watchOutpoint(outpoint: OutPoint): void;
  /** All relevant transactions currently confirmed or unconfirmed-but-live. */
  transactions(): WatchedTx[];
  /** One relevant transaction. */
  transaction(txid: string): WatchedTx | undefined;
  /** The known spend of an outpoint among relevant transactions. */
  spendOf(outpoint: OutPoint): OutpointSpend | undefined;
  /** Fetches any transaction from the backend (not necessarily relevant). */
  fetchTransaction(txid: string): Promise<Transaction | undefined>;
}

/** Failures talking to a chain backend (transport, HTTP status, RPC error, malformed reply). */
export class ChainSourceError extends FaradError {
  override name = 'ChainSourceError';
  /** Bitcoin Core RPC error code or HTTP status, when there was one. */
  readonly rpcCode: number | undefined;
  constructor(code: string, shortMessage: string, opts: FaradErrorOptions & { rpcCode?: number } = {}) {
    super(code, shortMessage, opts);
    this.rpcCode = opts.rpcCode;
  }
}

/** Why a broadcast was rejected. */
export type BroadcastRejectReason =
  /** Below the minimum relay fee or the mempool minimum fee. */
  | 'min-relay-fee'
  /** A replacement that does not pay enough (BIP125 rules 3/4/6). */
  | 'insufficient-fee'
  /** An input does not exist or is already spent in the chain. */
  | 'missing-inputs'
  /** The transaction is already confirmed. */
  | 'already-in-chain'
  /** Already in the mempool. */
  | 'already-in-mempool'
  /** A script or signature check failed. */
  | 'script-verify'
  /** nLockTime / BIP68 sequence locks not yet satisfied. */
  | 'non-final'
  /** Conflicts with a mempool transaction that cannot be replaced. */
  | 'conflict'
  /** An output is below its dust threshold. */
  | 'dust'
  /** Spends a coinbase output before maturity. */
  | 'premature-coinbase'
  /** Any other policy (standardness) or consensus rejection. */
  | 'other';

/** A rejected broadcast. `reason` is typed; `rejectMessage` is the backend's original text. */
export class BroadcastError extends FaradError {
  override name = 'BroadcastError';
  readonly reason: BroadcastRejectReason;
  readonly rpcCode: number | undefined;
  readonly rejectMessage: string;
  constructor(reason: BroadcastRejectReason, rejectMessage: string, rpcCode?: number) {
    super(`BROADCAST_${reason.toUpperCase().replace(/-/g, '_')}`, `transaction rejected: ${reason}`, {
      details: rpcCode === undefined ? rejectMessage : `${rpcCode}: ${rejectMessage}`,
    });
    this.reason = reason;
    this.rpcCode = rpcCode;
    this.rejectMessage = rejectMessage;
  }
}

/**
 * Maps a Bitcoin Core rejection (RPC code and message, also what Esplora relays on HTTP 400) to a
 * {@link BroadcastError}. Codes: -25 RPC_TRANSACTION_ERROR (missing inputs), -26
 * RPC_TRANSACTION_REJECTED (policy/consensus, reason in the message), -27 already in chain
 * (RPC_VERIFY_ALREADY_IN_UTXO_SET).
 */
export function broadcastErrorFrom(rpcCode: number | undefined, message: string): BroadcastError {
  return new BroadcastError(classifyReject(rpcCode, message), message, rpcCode);
}

function classifyReject(code: number | undefined, message: string): BroadcastRejectReason {
  const m = message.toLowerCase();
  if (code === -27 || m.includes('already in block chain') || m.includes('already in utxo set')) {
    return 'already-in-chain';
  }
  if (
    m.includes('missing inputs') ||
    m.includes('missingorspent') ||
    m.includes('inputs missing or spent') ||
    m.includes('missing-inputs')
  ) {
    return 'missing-inputs';
  }
  if (m.includes('txn-already-in-mempool') || m.includes('txn-already-known')) return 'already-in-mempool';
  if (m.includes('min relay fee not met') || m.includes('mempool min fee not met')) {
    return 'min-relay-fee';
  }
  if (m.includes('insufficient fee')) return 'insufficient-fee';
  if (m.includes('script-verify')) return 'script-verify';
  if (m.includes('non-bip68-final') || m.includes('non-final') || m.includes('bad-txns-nonfinal')) {
    return 'non-final';
  }
  if (m.includes('premature-spend-of-coinbase')) return 'premature-coinbase';
  if (m.includes('txn-mempool-conflict') || m.includes('conflict')) return 'conflict';
  if (/\bdust\b/.test(m)) return 'dust';
  if (code === -25) return 'missing-inputs';
  return 'other';
}
