/**
 * Esplora REST chain backend (Blockstream/esplora API.md; also mempool.space's API).
 *
 * Endpoints used: GET /blocks/tip/height, /block-height/:height, /block/:hash/raw,
 * /tx/:txid/hex, /tx/:txid/status, /tx/:txid/outspend/:vout, /address/:address/txs/mempool (or
 * /scripthash/:hash/txs/mempool for scripts without an address; Esplora's scripthash is SHA256(script)
 * in natural byte order), /fee-estimates (sat/vB per target) and POST /tx (hex body; a rejection
 * is HTTP 400 relaying bitcoind's `{"code":..,"message":..}`).
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
import { sha256 } from '../../protocol/crypto/hash.js';
import { fromHex, toHex } from '../../protocol/encoding/bytes.js';
import { type Network, scriptToAddress } from '../../protocol/tx/address.js';
import { decodeTx, type Transaction } from '../../protocol/tx/transaction.js';
import { type HttpResponse, httpRequest, mapLimit, parseFrom, splitCredentials } from './http.js';

/** Options of {@link EsploraBackend}. */
export interface EsploraOptions {
  /** API base URL, e.g. `http://127.0.0.1:3002` or `https://blockstream.info/testnet/api`. */
  url: string;
  /** Network of the addresses used in /address queries. */
  network: Network;
  /** Per-request timeout, ms. Default 30,000. */
  timeoutMs?: number;
  /** Parallel requests for per-script / per-outpoint queries. Default 8. */
  concurrency?: number;
}

interface EsploraStatus {
  confirmed?: boolean;
}

/** {@link ChainBackend} over Esplora's REST API. */
export class EsploraBackend implements ChainBackend {
  readonly name = 'esplora';
  readonly #base: string;
  readonly #auth: string | undefined;
  readonly #network: Network;
  readonly #timeout: number;
  readonly #concurrency: number;
  readonly #txCache = new Map<string, Transaction>();

  constructor(opts: EsploraOptions) {
    const { url, authorization } = splitCredentials(opts.url);
    this.#base = url;
    this.#auth = authorization;
    this.#network = opts.network;
    this.#timeout = opts.timeoutMs ?? 30_000;
    this.#concurrency = opts.concurrency ?? 8;
  }

  async #get(path: string): Promise<HttpResponse> {
    const headers: Record<string, string> = {};
    if (this.#auth) headers.authorization = this.#auth;
    return httpRequest(`${this.#base}${path}`, { method: 'GET', headers }, this.#timeout);
  }

  /** GET returning the response, or undefined on 404. Other non-200 statuses throw. */
  async #getOk(path: string): Promise<HttpResponse | undefined> {
    const res = await this.#get(path);
    if (res.status === 404) return undefined;
    if (res.status !== 200) {
      throw new ChainSourceError('CHAIN_HTTP_ERROR', `esplora GET ${path}: HTTP ${res.status}`, {
        details: res.text().slice(0, 200),
        rpcCode: res.status,
      });
    }
    return res;
  }

  async #getJson<T>(path: string): Promise<T | undefined> {
    const res = await this.#getOk(path);
    if (!res) return undefined;
    try {
      return JSON.parse(res.text()) as T;
    } catch (e) {
      throw new ChainSourceError('CHAIN_BAD_RESPONSE', `esplora GET ${path}: not JSON`, { cause: e });
    }
  }

  async #getText(path: string): Promise<string | undefined> {
    return (await this.#getOk(path))?.text().trim();
  }

  async getTip(): Promise<BlockRef> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const h = await this.#getText('/blocks/tip/height');
      const height = Number(h);
      if (h === undefined || !/^\d+$/.test(h) || !Number.isSafeInteger(height)) {
        throw new ChainSourceError('CHAIN_BAD_RESPONSE', 'bad /blocks/tip/height reply');
      }
      const hash = await this.getBlockHash(height);
      if (hash) return { height, hash }; // undefined only if the chain shrank meanwhile
    }
    throw new ChainSourceError('CHAIN_UNSTABLE', 'tip kept changing');
  }

  async getBlockHash(height: number): Promise<string | undefined> {
    const hash = await this.#getText(`/block-height/${height}`);
    if (hash === undefined) return undefined;
    if (!/^[0-9a-f]{64}$/.test(hash))
      throw new ChainSourceError('CHAIN_BAD_RESPONSE', 'bad block hash reply');
    return hash;
  }

  async getBlock(hash: string): Promise<BackendBlock> {
    const res = await this.#getOk(`/block/${hash}/raw`);
    if (!res) throw new ChainSourceError('CHAIN_NOT_FOUND', 'block not found', { details: hash });
    const block = parseFrom('esplora', () => decodeBlock(res.body));
    if (block.hash !== hash) throw new ChainSourceError('CHAIN_BAD_RESPONSE', 'block hash mismatch');
    return block;
  }

  async getTransaction(txid: string): Promise<Transaction | undefined> {
    const cached = this.#txCache.get(txid);
    if (cached) return cached;
    const hex = await this.#getText(`/tx/${txid}/hex`);
    if (hex === undefined) return undefined;
    return parseFrom('esplora', () => decodeTx(fromHex(hex)));
  }

  async mempoolTransactions(query: WatchQuery): Promise<Transaction[]> {
    const ids = new Set<string>();
    await mapLimit(query.scripts, this.#concurrency, async (script) => {
      const addr = scriptToAddress(script, this.#network);
      const path = addr ? `/address/${addr}/txs/mempool` : `/scripthash/${toHex(sha256(script))}/txs/mempool`;
      const txs = (await this.#getJson<{ txid?: unknown; status?: EsploraStatus }[]>(path)) ?? [];
      if (!Array.isArray(txs)) throw new ChainSourceError('CHAIN_BAD_RESPONSE', `bad ${path} reply`);
      for (const t of txs) if (typeof t.txid === 'string' && t.status?.confirmed === false) ids.add(t.txid);
    });
    await mapLimit(query.outpoints, this.#concurrency, async (o) => {
      const s = await this.#getJson<{ spent?: boolean; txid?: string; status?: EsploraStatus }>(
        `/tx/${o.txid}/outspend/${o.vout}`,
      );
      if (s?.spent && typeof s.txid === 'string' && s.status?.confirmed === false) ids.add(s.txid);
    });
    for (const k of this.#txCache.keys()) if (!ids.has(k)) this.#txCache.delete(k);
    const txs = await mapLimit([...ids], this.#concurrency, async (txid) => {
      const tx = await this.getTransaction(txid);
      if (tx) this.#txCache.set(txid, tx);
      return tx;
    });
    return txs.filter((t): t is Transaction => t !== undefined);
  }

  async txStatus(txid: string): Promise<BackendTxStatus> {
    const s = await this.#getJson<EsploraStatus>(`/tx/${txid}/status`);
    if (!s) return 'unknown';
    return s.confirmed ? 'confirmed' : 'mempool';
  }

  async estimateFeeRate(target: number): Promise<bigint | undefined> {
    const est = await this.#getJson<Record<string, number>>('/fee-estimates');
    if (!est || typeof est !== 'object') return undefined;
    const entries = Object.entries(est)
      .map(([k, v]) => [Number(k), v] as const)
      .filter(([k, v]) => Number.isInteger(k) && k > 0 && typeof v === 'number' && v > 0)
      .sort((a, b) => a[0] - b[0]);
    if (entries.length === 0) return undefined;
    // The estimate for the largest target not above the requested one (confirming sooner is fine).
    let pick = entries[0]!;
    for (const e of entries) if (e[0] <= target) pick = e;
    return satPerVbToSatPerKw(pick[1]);
  }

  async broadcast(raw: Uint8Array): Promise<string> {
    const headers: Record<string, string> = { 'content-type': 'text/plain' };
    if (this.#auth) headers.authorization = this.#auth;
    const res = await httpRequest(
      `${this.#base}/tx`,
      { method: 'POST', headers, body: toHex(raw) },
      this.#timeout,
    );
    const body = res.text().trim();
    if (res.status === 200) {
      if (!/^[0-9a-f]{64}$/.test(body))
        throw new ChainSourceError('CHAIN_BAD_RESPONSE', 'bad POST /tx reply');
      return body;
    }
    if (res.status >= 400 && res.status < 500) {
      const m = /"code"\s*:\s*(-?\d+)\s*,\s*"message"\s*:\s*"((?:[^"\\]|\\.)*)"/.exec(body);
      if (m) {
        let message = m[2]!;
        try {
          message = JSON.parse(`"${m[2]}"`);
        } catch {}
        throw broadcastErrorFrom(Number(m[1]), message);
      }
      throw broadcastErrorFrom(undefined, body);
    }
    throw new ChainSourceError('CHAIN_HTTP_ERROR', `esplora POST /tx: HTTP ${res.status}`, {
      details: body.slice(0, 200),
      rpcCode: res.status,
    });
  }
}

/** Esplora's sat/vB (float) to sat/kw, rounded up. */
export function satPerVbToSatPerKw(satPerVb: number): bigint {
  return BigInt(Math.ceil(Math.round(satPerVb * 1e6) / 4000));
}

/** A {@link ChainTracker} over Esplora. */
export function esploraChainSource(opts: EsploraOptions & ChainTrackerOptions): ChainTracker {
  return new ChainTracker(new EsploraBackend(opts), opts);
}
