/**
 * Bitcoin Core JSON-RPC chain backend.
 *
 * Speaks the documented JSON-RPC 1.0 dialect of `bitcoind` (POST, HTTP basic auth from the URL's
 * userinfo, `{"jsonrpc":"1.0","id","method","params"}`; errors come back as `{"error":{"code",
 * "message"}}` with HTTP 500/404, or 200 under JSON-RPC 2.0 servers). Methods used:
 * getblockchaininfo, getblockhash, getblock (verbosity 0, raw hex), getrawtransaction (verbose
 * false/true), getrawmempool, getmempoolentry, estimatesmartfee, sendrawtransaction. Works
 * without `-txindex` (confirmed transactions are found by block scanning, not by txid).
 */

import { decodeBlock } from '../../node/chain/block.js';
import { ChainTracker, type ChainTrackerOptions } from '../../node/chain/tracker.js';
import {
  type BackendBlock,
  type BackendTxStatus,
  type BlockRef,
  broadcastErrorFrom,
  type ChainBackend,
  ChainSourceError,
  type WatchQuery,
} from '../../node/ports/chain.js';
import { fromHex, toHex } from '../../protocol/encoding/bytes.js';
import { decodeTx, type Transaction } from '../../protocol/tx/transaction.js';
import { httpRequest, mapLimit, parseFrom, splitCredentials } from './http.js';

/** Options of {@link BitcoindBackend}. */
export interface BitcoindOptions {
  /** RPC URL with credentials, e.g. `http://user:pass@127.0.0.1:18443`. */
  url: string;
  /** Per-request timeout, ms. Default 30,000. */
  timeoutMs?: number;
  /** Parallel requests when fetching mempool transactions. Default 8. */
  concurrency?: number;
}

/** Bitcoin Core RPC error codes used here (src/rpc/protocol.h). */
export const RPC_INVALID_ADDRESS_OR_KEY = -5;
export const RPC_INVALID_PARAMETER = -8;
export const RPC_TRANSACTION_ERROR = -25;
export const RPC_TRANSACTION_REJECTED = -26;
export const RPC_TRANSACTION_ALREADY_IN_CHAIN = -27;

/** A JSON-RPC error reply from bitcoind. */
export class RpcError extends ChainSourceError {
  override name = 'RpcError';
  readonly method: string;
  readonly rpcMessage: string;
  constructor(method: string, code: number, message: string) {
    super('CHAIN_RPC_ERROR', `bitcoind ${method} failed`, { details: `${code}: ${message}`, rpcCode: code });
    this.method = method;
    this.rpcMessage = message;
  }
}

/** {@link ChainBackend} over Bitcoin Core JSON-RPC. */
export class BitcoindBackend implements ChainBackend {
  readonly name = 'bitcoind';
  readonly #url: string;
  readonly #auth: string | undefined;
  readonly #timeout: number;
  readonly #concurrency: number;
  #id = 0;
  /** Mempool txs already fetched: the tx if relevant at fetch time, null if not. */
  readonly #mempool = new Map<string, Transaction | null>();
  #lastWatch = new Set<string>();

  constructor(opts: BitcoindOptions) {
    const { url, authorization } = splitCredentials(opts.url);
    this.#url = url;
    this.#auth = authorization;
    this.#timeout = opts.timeoutMs ?? 30_000;
    this.#concurrency = opts.concurrency ?? 8;
  }

  /** Calls one RPC method. Throws {@link RpcError} on an RPC error, ChainSourceError otherwise. */
  async call<T>(method: string, params: unknown[] = []): Promise<T> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.#auth) headers.authorization = this.#auth;
    const id = ++this.#id;
    const res = await httpRequest(
      this.#url,
      { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '1.0', id, method, params }) },
      this.#timeout,
    );
    if (res.status === 401 || res.status === 403) {
      throw new ChainSourceError('CHAIN_AUTH', 'bitcoind rejected the RPC credentials', {
        rpcCode: res.status,
      });
    }
    let reply: { result?: unknown; error?: { code?: unknown; message?: unknown } | null };
    try {
      reply = JSON.parse(res.text());
    } catch (e) {
      throw new ChainSourceError('CHAIN_BAD_RESPONSE', `bitcoind ${method}: HTTP ${res.status}, not JSON`, {
        cause: e,
        rpcCode: res.status,
      });
    }
    if (reply.error) {
      const code = typeof reply.error.code === 'number' ? reply.error.code : res.status;
      throw new RpcError(method, code, String(reply.error.message ?? ''));
    }
    if (res.status !== 200) {
      throw new ChainSourceError('CHAIN_BAD_RESPONSE', `bitcoind ${method}: HTTP ${res.status}`, {
        rpcCode: res.status,
      });
    }
    return reply.result as T;
  }

  async getTip(): Promise<BlockRef> {
    const info = await this.call<{ blocks: number; bestblockhash: string }>('getblockchaininfo');
    if (typeof info?.blocks !== 'number' || typeof info.bestblockhash !== 'string') {
      throw new ChainSourceError('CHAIN_BAD_RESPONSE', 'bad getblockchaininfo reply');
    }
    return { height: info.blocks, hash: info.bestblockhash };
  }

  async getBlockHash(height: number): Promise<string | undefined> {
    try {
      return await this.call<string>('getblockhash', [height]);
    } catch (e) {
      if (e instanceof RpcError && e.rpcCode === RPC_INVALID_PARAMETER) return undefined;
      throw e;
    }
  }

  async getBlock(hash: string): Promise<BackendBlock> {
    let hex: string;
    try {
      hex = await this.call<string>('getblock', [hash, 0]);
    } catch (e) {
      if (e instanceof RpcError && e.rpcCode === RPC_INVALID_ADDRESS_OR_KEY) {
        throw new ChainSourceError('CHAIN_NOT_FOUND', 'block not found', { details: hash, cause: e });
      }
      throw e;
    }
    const block = parseFrom('bitcoind', () => decodeBlock(fromHex(hex)));
    if (block.hash !== hash) throw new ChainSourceError('CHAIN_BAD_RESPONSE', 'block hash mismatch');
    return block;
  }

  async getTransaction(txid: string): Promise<Transaction | undefined> {
    try {
      const hex = await this.call<string>('getrawtransaction', [txid, false]);
      return parseFrom('bitcoind', () => decodeTx(fromHex(hex)));
    } catch (e) {
      if (e instanceof RpcError && e.rpcCode === RPC_INVALID_ADDRESS_OR_KEY) return undefined;
      throw e;
    }
  }

  async mempoolTransactions(query: WatchQuery): Promise<Transaction[]> {
    const scripts = new Set(query.scripts.map((s) => toHex(s)));
    const outpoints = new Set(query.outpoints.map((o) => `${o.txid}:${o.vout}`));
    const watch = new Set([...scripts, ...outpoints]);
    // A grown watch set may make earlier-irrelevant mempool txs relevant: forget those verdicts.
    if ([...watch].some((k) => !this.#lastWatch.has(k))) {
      for (const [k, v] of this.#mempool) if (v === null) this.#mempool.delete(k);
    }
    this.#lastWatch = watch;
    const txids = await this.call<string[]>('getrawmempool', [false]);
    const live = new Set(txids);
    for (const k of this.#mempool.keys()) if (!live.has(k)) this.#mempool.delete(k);
    const fresh = txids.filter((t) => !this.#mempool.has(t));
    await mapLimit(fresh, this.#concurrency, async (txid) => {
      const tx = await this.getTransaction(txid); // may have left the mempool meanwhile
      if (!tx) return;
      const relevant =
        tx.outputs.some((o) => scripts.has(toHex(o.scriptPubKey))) ||
        tx.inputs.some((i) => outpoints.has(`${toHex(i.txid)}:${i.vout}`));
      this.#mempool.set(txid, relevant ? tx : null);
    });
    const out: Transaction[] = [];
    for (const t of txids) {
      const tx = this.#mempool.get(t);
      if (tx) out.push(tx);
    }
    return out;
  }

  async txStatus(txid: string): Promise<BackendTxStatus> {
    try {
      await this.call('getmempoolentry', [txid]);
      return 'mempool';
    } catch (e) {
      if (!(e instanceof RpcError && e.rpcCode === RPC_INVALID_ADDRESS_OR_KEY)) throw e;
    }
    try {
      const v = await this.call<{ confirmations?: number }>('getrawtransaction', [txid, true]);
      return (v?.confirmations ?? 0) > 0 ? 'confirmed' : 'mempool';
    } catch (e) {
      if (e instanceof RpcError && e.rpcCode === RPC_INVALID_ADDRESS_OR_KEY) return 'unknown';
      throw e;
    }
  }

  async estimateFeeRate(target: number): Promise<bigint | undefined> {
    const r = await this.call<{ feerate?: number; errors?: string[] }>('estimatesmartfee', [target]);
    if (typeof r?.feerate !== 'number' || !(r.feerate > 0)) return undefined;
    return btcPerKvbToSatPerKw(r.feerate);
  }

  async broadcast(raw: Uint8Array): Promise<string> {
    try {
      return await this.call<string>('sendrawtransaction', [toHex(raw)]);
    } catch (e) {
      if (e instanceof RpcError) throw broadcastErrorFrom(e.rpcCode, e.rpcMessage);
      throw e;
    }
  }
}

/** BTC/kvB (a JSON number as estimatesmartfee returns it) to sat/kw, rounded up. */
export function btcPerKvbToSatPerKw(btcPerKvb: number): bigint {
  const satPerKvb = BigInt(Math.round(btcPerKvb * 1e8));
  return (satPerKvb + 3n) / 4n;
}

/** A {@link ChainTracker} over bitcoind JSON-RPC. */
export function bitcoindChainSource(opts: BitcoindOptions & ChainTrackerOptions): ChainTracker {
  return new ChainTracker(new BitcoindBackend(opts), opts);
}
