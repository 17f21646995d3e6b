/**
 * An Esplora REST server (Blockstream electrs API shapes) over the devnet chain: tip,
 * blocks, transactions with status/merkle proofs/outspends, address and scripthash
 * (sha256 of the script, hex, not reversed) histories and UTXOs, fee estimates, and POST /tx.
 * Amounts are satoshis. Errors are plain-text bodies with HTTP 400/404 like electrs.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fromHex, toHex } from '../../protocol/encoding/bytes.js';
import { addressToScript } from '../../protocol/tx/address.js';
import { difficulty, encodeBlock, encodeHeader, merkleBranch } from '../../protocol/tx/block.js';
import { decodeTx, encodeTx, type Transaction } from '../../protocol/tx/transaction.js';
import type { BlockEntry, Coin, DevnetChain } from './chain.js';
import { esploraStatus, esploraTx, toJson } from './format.js';
import { DEFAULT_MAX_RAW_TX_FEE_RATE } from './policy.js';
import { type DevnetRpc, RpcError } from './rpc.js';

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface Found {
  tx: Transaction;
  spent: Coin[] | undefined;
  block: BlockEntry | undefined;
  pos: number;
}

function isHash(s: string | undefined): s is string {
  return s !== undefined && /^[0-9a-fA-F]{64}$/.test(s);
}

/** Request handling over the chain (exported for tests that skip HTTP). */
export class EsploraApi {
  constructor(
    readonly chain: DevnetChain,
    private readonly rpc: DevnetRpc,
  ) {}

  private findTx(id: string): Found {
    const c = this.chain;
    const m = c.mempool.get(id.toLowerCase());
    if (m) return { tx: m.tx, spent: m.spent, block: undefined, pos: -1 };
    const f = c.getConfirmedTx(id.toLowerCase());
    if (!f) throw new HttpError(404, 'Transaction not found');
    return { tx: f.tx, spent: c.spentCoinsOf(f.entry, f.pos), block: f.entry, pos: f.pos };
  }

  private block(hash: string | undefined): BlockEntry {
    const e = isHash(hash) ? this.chain.getBlock(hash.toLowerCase()) : undefined;
    if (!e) throw new HttpError(404, 'Block not found');
    return e;
  }

  private blockSummary(e: BlockEntry): Record<string, unknown> {
    return {
      id: e.hash,
      height: e.height,
      version: e.header.version,
      timestamp: e.header.time,
      tx_count: e.block.txs.length,
      size: e.size,
      weight: e.weight,
      merkle_root: toHex(e.header.merkleRoot),
      previousblockhash: e.parent?.hash ?? null,
      mediantime: e.mtp,
      nonce: e.header.nonce,
      bits: e.header.bits,
      difficulty: difficulty(e.header.bits),
    };
  }

  private txJson(id: string): Record<string, unknown> {
    const f = this.findTx(id);
    return esploraTx(this.chain, f.tx, f.spent, f.block);
  }

  private scriptParam(kind: string, v: string | undefined): Uint8Array {
    if (v === undefined) throw new HttpError(400, 'Invalid request');
    if (kind === 'address') {
      try {
        return addressToScript(v, 'regtest');
      } catch {
        throw new HttpError(400, 'Invalid Bitcoin address');
      }
    }
    if (!isHash(v)) throw new HttpError(400, 'Invalid scripthash');
    return this.chain.scriptForHash(v) ?? new Uint8Array([0xff, 0xff]); // unknown: matches nothing
  }

  private mempoolTxsFor(script: Uint8Array): string[] {
    const hex = toHex(script);
    const out: string[] = [];
    for (const e of this.chain.mempool.values()) {
      if (
        e.tx.outputs.some((o) => toHex(o.scriptPubKey) === hex) ||
        e.spent.some((c) => toHex(c.scriptPubKey) === hex)
      )
        out.push(e.txid);
    }
    return out.reverse();
  }

  private utxosFor(script: Uint8Array): Record<string, unknown>[] {
    const c = this.chain;
    const out: Record<string, unknown>[] = [];
    for (const u of c.utxosForScript(script)) {
      if (c.spentInMempool(u.txid, u.vout)) continue;
      const f = c.getConfirmedTx(u.txid);
      out.push({ txid: u.txid, vout: u.vout, status: esploraStatus(c, f?.entry), value: u.coin.value });
    }
    const hex = toHex(script);
    for (const e of c.mempool.values()) {
      e.tx.outputs.forEach((o, vout) => {
        if (toHex(o.scriptPubKey) === hex && !c.spentInMempool(e.txid, vout))
          out.push({ txid: e.txid, vout, status: { confirmed: false }, value: o.value });
      });
    }
    return out;
  }

  private stats(script: Uint8Array, addr: string | undefined, kind: string): Record<string, unknown> {
    const c = this.chain;
    const hex = toHex(script);
    const chainStats = {
      funded_txo_count: 0,
      funded_txo_sum: 0n,
      spent_txo_count: 0,
      spent_txo_sum: 0n,
      tx_count: 0,
    };
    for (const id of c.historyForScript(script)) {
      const f = c.getConfirmedTx(id)!;
      chainStats.tx_count++;
      for (const o of f.tx.outputs) {
        if (toHex(o.scriptPubKey) === hex) {
          chainStats.funded_txo_count++;
          chainStats.funded_txo_sum += o.value;
        }
      }
      for (const s of c.spentCoinsOf(f.entry, f.pos) ?? []) {
        if (f.pos > 0 && toHex(s.scriptPubKey) === hex) {
          chainStats.spent_txo_count++;
          chainStats.spent_txo_sum += s.value;
        }
      }
    }
    const memStats = {
      funded_txo_count: 0,
      funded_txo_sum: 0n,
      spent_txo_count: 0,
      spent_txo_sum: 0n,
      tx_count: 0,
    };
    for (const id of this.mempoolTxsFor(script)) {
      const e = c.mempool.get(id)!;
      memStats.tx_count++;
      for (const o of e.tx.outputs)
        if (toHex(o.scriptPubKey) === hex) {
          memStats.funded_txo_count++;
          memStats.funded_txo_sum += o.value;
        }
      for (const s of e.spent)
        if (toHex(s.scriptPubKey) === hex) {
          memStats.spent_txo_count++;
          memStats.spent_txo_sum += s.value;
        }
    }
    return {
      [kind === 'address' ? 'address' : 'scripthash']: addr,
      chain_stats: chainStats,
      mempool_stats: memStats,
    };
  }

  /** Handles a GET; returns [content-type, body]. Throws HttpError. */
  get(path: string): [string, string | Uint8Array] {
    const c = this.chain;
    const parts = path
      .split('?')[0]!
      .split('/')
      .filter((x) => x.length > 0);
    const [a, b, d, e] = parts;
    const text = (s: string | number): [string, string] => ['text/plain', String(s)];
    const json = (v: unknown): [string, string] => ['application/json', toJson(v)];
    if (a === 'blocks' && b === 'tip' && d === 'height' && parts.length === 3) return text(c.height);
    if (a === 'blocks' && b === 'tip' && d === 'hash' && parts.length === 3) return text(c.tip.hash);
    if (a === 'blocks' && parts.length <= 2) {
      const start = b === undefined ? c.height : Number(b);
      if (!Number.isInteger(start) || start < 0) throw new HttpError(400, 'Invalid height');
      const out = [];
      for (let h = Math.min(start, c.height); h >= 0 && out.length < 10; h--)
        out.push(this.blockSummary(c.blockAt(h)!));
      return json(out);
    }
    if (a === 'block-height' && parts.length === 2) {
      const h = Number(b);
      const blk = Number.isInteger(h) ? c.blockAt(h) : undefined;
      if (!blk) throw new HttpError(404, 'Block not found');
      return text(blk.hash);
    }
    if (a === 'block') {
      const blk = this.block(b);
      if (parts.length === 2) return json(this.blockSummary(blk));
      if (d === 'header' && parts.length === 3) return text(toHex(encodeHeader(blk.header)));
      if (d === 'raw' && parts.length === 3) return ['application/octet-stream', encodeBlock(blk.block)];
      if (d === 'txids' && parts.length === 3) return json(blk.txids);
      if (d === 'txid' && parts.length === 4) {
        const id = blk.txids[Number(e)];
        if (id === undefined) throw new HttpError(404, 'Transaction index out of range');
        return text(id);
      }
      if (d === 'txs' && parts.length <= 4) {
        const start = e === undefined ? 0 : Number(e);
        if (!Number.isInteger(start) || start < 0 || start % 25 !== 0)
          throw new HttpError(400, 'Invalid start index');
        return json(
          blk.block.txs
            .slice(start, start + 25)
            .map((t, i) =>
              esploraTx(
                c,
                t,
                start + i === 0 ? undefined : blk.undo?.[start + i],
                c.isActive(blk) ? blk : undefined,
              ),
            ),
        );
      }
      if (d === 'status' && parts.length === 3) {
        const inBest = c.isActive(blk);
        return json({
          in_best_chain: inBest,
          height: blk.height,
          next_best: inBest ? (c.blockAt(blk.height + 1)?.hash ?? null) : null,
        });
      }
    }
    if (a === 'tx' && isHash(b)) {
      if (parts.length === 2) return json(this.txJson(b));
      const f = this.findTx(b);
      if (d === 'hex' && parts.length === 3) return text(toHex(encodeTx(f.tx)));
      if (d === 'raw' && parts.length === 3) return ['application/octet-stream', encodeTx(f.tx)];
      if (d === 'status' && parts.length === 3) return json(esploraStatus(c, f.block));
      if (d === 'merkle-proof' && parts.length === 3) {
        if (!f.block) throw new HttpError(404, 'Transaction not found');
        const hashes = f.block.txids.map((t) => fromHex(t));
        return json({
          block_height: f.block.height,
          merkle: merkleBranch(hashes, f.pos).map(toHex),
          pos: f.pos,
        });
      }
      if (d === 'outspend' && parts.length === 4)
        return json(this.outspend(b.toLowerCase(), f.tx, Number(e)));
      if (d === 'outspends' && parts.length === 3)
        return json(f.tx.outputs.map((_, i) => this.outspend(b.toLowerCase(), f.tx, i)));
    }
    if ((a === 'address' || a === 'scripthash') && b !== undefined) {
      const script = this.scriptParam(a, b);
      if (parts.length === 2) return json(this.stats(script, b, a));
      if (d === 'utxo' && parts.length === 3) return json(this.utxosFor(script));
      if (d === 'txs') {
        const confirmed = [...c.historyForScript(script)].reverse();
        if (parts.length === 3) {
          const mem = this.mempoolTxsFor(script).slice(0, 50);
          return json([...mem, ...confirmed.slice(0, 25)].map((id) => this.txJson(id)));
        }
        if (e === 'mempool' && parts.length === 4)
          return json(
            this.mempoolTxsFor(script)
              .slice(0, 50)
              .map((id) => this.txJson(id)),
          );
        if (e === 'chain' && parts.length <= 5) {
          const last = parts[4];
          const start = last === undefined ? 0 : confirmed.indexOf(last.toLowerCase()) + 1;
          return json(confirmed.slice(start, start + 25).map((id) => this.txJson(id)));
        }
      }
    }
    if (a === 'fee-estimates' && parts.length === 1) {
      const out: Record<string, number> = {};
      for (const t of [...Array.from({ length: 25 }, (_, i) => i + 1), 144, 504, 1008]) {
        out[String(t)] = Number(c.estimateFeeRate(t)) / 1000;
      }
      return json(out);
    }
    if (a === 'mempool' && parts.length === 1) {
      let vsize = 0;
      let fee = 0n;
      for (const m of c.mempool.values()) {
        vsize += m.vsize;
        fee += m.fee;
      }
      return json({ count: c.mempool.size, vsize, total_fee: fee, fee_histogram: [] });
    }
    if (a === 'mempool' && b === 'txids' && parts.length === 2) return json([...c.mempool.keys()]);
    throw new HttpError(404, 'Not found');
  }

  private outspend(id: string, tx: Transaction, vout: number): Record<string, unknown> {
    if (!Number.isInteger(vout) || vout < 0 || vout >= tx.outputs.length)
      throw new HttpError(404, 'Output not found');
    const s = this.chain.spenderOf(id, vout);
    if (!s) return { spent: false };
    const f = this.findTx(s.txid);
    return { spent: true, txid: s.txid, vin: s.vin, status: esploraStatus(this.chain, f.block) };
  }

  /** POST /tx: broadcast; returns the txid or throws HttpError(400, electrs-style message). */
  postTx(body: string): string {
    let tx: Transaction;
    try {
      tx = decodeTx(fromHex(body.trim()));
    } catch {
      throw new HttpError(400, 'sendrawtransaction RPC error: {"code":-22,"message":"TX decode failed"}');
    }
    try {
      return this.rpc.broadcast(tx, DEFAULT_MAX_RAW_TX_FEE_RATE);
    } catch (e) {
      if (e instanceof RpcError) {
        throw new HttpError(
          400,
          `sendrawtransaction RPC error: ${JSON.stringify({ code: e.code, message: e.message })}`,
        );
      }
      throw e;
    }
  }
}

/** Starts the Esplora HTTP server; resolves with the server and its bound port. */
export async function startEsploraServer(
  api: EsploraApi,
  host: string,
  port: number,
): Promise<{ server: Server; port: number }> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const cors = { 'Access-Control-Allow-Origin': '*' };
    const fail = (err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      res.writeHead(status, { 'Content-Type': 'text/plain', ...cors });
      res.end(err instanceof Error ? err.message : String(err));
    };
    const path = (req.url ?? '/').replace(/^\/api(?=\/)/, '');
    if (req.method === 'POST' && path === '/tx') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        try {
          const id = api.postTx(Buffer.concat(chunks).toString('utf8'));
          res.writeHead(200, { 'Content-Type': 'text/plain', ...cors });
          res.end(id);
        } catch (e) {
          fail(e);
        }
      });
      return;
    }
    if (req.method !== 'GET') return fail(new HttpError(405, 'Method not allowed'));
    try {
      const [type, body] = api.get(path);
      res.writeHead(200, { 'Content-Type': type, ...cors });
      res.end(typeof body === 'string' ? body : Buffer.from(body));
    } catch (e) {
      fail(e);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}
