/**
 * Stub HTTP servers speaking Bitcoin Core's JSON-RPC and Esplora's REST formats as documented
 * (reply shapes only; no validation). Used to test the adapters' parsing and error mapping
 * without a devnet.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { blockHashOf } from '../../src/node/chain/block.js';
import { sha256 } from '../../src/protocol/crypto/hash.js';
import { concat, fromHex, toHex } from '../../src/protocol/encoding/bytes.js';
import { decodeTx, encodeTx, reverse, type Transaction, txidHex } from '../../src/protocol/tx/transaction.js';

export interface StubBlock {
  hash: string;
  raw: Uint8Array;
  txs: Transaction[];
}

/** Serializes a block (no PoW, no real merkle root: nobody checks them here). */
export function makeBlock(prevHash: string, time: number, txs: Transaction[]): StubBlock {
  const header = new Uint8Array(80);
  header[0] = 0x20;
  header.set(reverse(fromHex(prevHash)), 4);
  const body = concat(Uint8Array.of(txs.length), ...txs.map((t) => encodeTx(t)));
  header.set(sha256(body), 36); // stands in for the merkle root: distinct contents, distinct hash
  new DataView(header.buffer).setUint32(68, time, true);
  const raw = concat(header, body);
  return { hash: blockHashOf(header), raw, txs };
}

export interface StubChain {
  blocks: StubBlock[];
  mempool: Transaction[];
  /** Next broadcast reply: undefined = accept. */
  reject?: { code: number; message: string } | undefined;
  feeBtcPerKvb?: number;
  feeSatPerVb?: Record<string, number>;
}

async function body(req: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const p of req) parts.push(p as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

function listen(
  handler: (req: IncomingMessage, res: ServerResponse) => Promise<unknown>,
): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    handler(req, res).catch((e) => {
      res.statusCode = 500;
      res.end(String(e));
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port })),
  );
}

function findTx(chain: StubChain, txid: string): { tx: Transaction; height?: number } | undefined {
  const m = chain.mempool.find((t) => txidHex(t) === txid);
  if (m) return { tx: m };
  for (let h = 0; h < chain.blocks.length; h++) {
    const t = chain.blocks[h]!.txs.find((x) => txidHex(x) === txid);
    if (t) return { tx: t, height: h };
  }
  return undefined;
}

/** A bitcoind-like JSON-RPC server (JSON-RPC 1.0 semantics: errors with HTTP 500, 404 for unknown methods). */
export async function startBitcoindStub(chain: StubChain, user = 'u', pass = 'p w') {
  const expected = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
  const { server, port } = await listen(async (req, res) => {
    if (req.headers.authorization !== expected) {
      res.statusCode = 401;
      res.end();
      return;
    }
    const { id, method, params } = JSON.parse(await body(req));
    const ok = (result: unknown) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ result, error: null, id }));
    };
    const fail = (code: number, message: string, status = 500) => {
      res.statusCode = status;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ result: null, error: { code, message }, id }));
    };
    const tip = chain.blocks.length - 1;
    switch (method) {
      case 'getblockchaininfo':
        return ok({ chain: 'regtest', blocks: tip, headers: tip, bestblockhash: chain.blocks[tip]!.hash });
      case 'getblockhash': {
        const b = chain.blocks[params[0]];
        return b ? ok(b.hash) : fail(-8, 'Block height out of range');
      }
      case 'getblock': {
        const b = chain.blocks.find((x) => x.hash === params[0]);
        if (!b) return fail(-5, 'Block not found');
        return ok(toHex(b.raw));
      }
      case 'getrawmempool':
        return ok(chain.mempool.map(txidHex));
      case 'getrawtransaction': {
        const f = findTx(chain, params[0]);
        if (!f)
          return fail(
            -5,
            'No such mempool or blockchain transaction. Use gettransaction for wallet transactions.',
          );
        if (params[1])
          return ok({
            txid: params[0],
            hex: toHex(encodeTx(f.tx)),
            confirmations: f.height === undefined ? undefined : tip - f.height + 1,
          });
        return ok(toHex(encodeTx(f.tx)));
      }
      case 'getmempoolentry': {
        const m = chain.mempool.find((t) => txidHex(t) === params[0]);
        return m ? ok({ vsize: 100 }) : fail(-5, 'Transaction not in mempool');
      }
      case 'estimatesmartfee':
        return chain.feeBtcPerKvb === undefined
          ? ok({ errors: ['Insufficient data or no feerate found'], blocks: 0 })
          : ok({ feerate: chain.feeBtcPerKvb, blocks: params[0] });
      case 'sendrawtransaction':
        if (chain.reject) return fail(chain.reject.code, chain.reject.message);
        return ok(txidHex(decodeRaw(params[0])));
      default:
        return fail(-32601, 'Method not found', 404);
    }
  });
  return { url: `http://${user}:${encodeURIComponent(pass)}@127.0.0.1:${port}`, stop: () => close(server) };
}

/** An Esplora-like REST server. */
export async function startEsploraStub(
  chain: StubChain,
  addressOf: (script: Uint8Array) => string | undefined,
) {
  const { server, port } = await listen(async (req, res) => {
    const url = new URL(req.url!, 'http://x');
    const p = url.pathname;
    const text = (s: string, status = 200) => {
      res.statusCode = status;
      res.setHeader('content-type', 'text/plain');
      res.end(s);
    };
    const json = (v: unknown) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(v));
    };
    const tip = chain.blocks.length - 1;
    if (req.method === 'POST' && p === '/tx') {
      const hex = await body(req);
      if (chain.reject) return text(`sendrawtransaction RPC error: ${JSON.stringify(chain.reject)}`, 400);
      return text(txidHex(decodeRaw(hex)));
    }
    if (p === '/blocks/tip/height') return text(String(tip));
    if (p === '/blocks/tip/hash') return text(chain.blocks[tip]!.hash);
    const m1 = /^\/block-height\/(\d+)$/.exec(p);
    if (m1) {
      const b = chain.blocks[Number(m1[1])];
      return b ? text(b.hash) : text('Block not found', 404);
    }
    const m2 = /^\/block\/([0-9a-f]{64})\/raw$/.exec(p);
    if (m2) {
      const b = chain.blocks.find((x) => x.hash === m2![1]);
      if (!b) return text('Block not found', 404);
      res.setHeader('content-type', 'application/octet-stream');
      return res.end(Buffer.from(b.raw));
    }
    const m3 = /^\/tx\/([0-9a-f]{64})\/hex$/.exec(p);
    if (m3) {
      const f = findTx(chain, m3[1]!);
      return f ? text(toHex(encodeTx(f.tx))) : text('Transaction not found', 404);
    }
    const m4 = /^\/tx\/([0-9a-f]{64})\/status$/.exec(p);
    if (m4) {
      const f = findTx(chain, m4[1]!);
      if (!f) return text('Transaction not found', 404);
      return json(
        f.height === undefined
          ? { confirmed: false }
          : { confirmed: true, block_height: f.height, block_hash: chain.blocks[f.height]!.hash },
      );
    }
    const m5 = /^\/tx\/([0-9a-f]{64})\/outspend\/(\d+)$/.exec(p);
    if (m5) {
      const [txid, vout] = [m5[1]!, Number(m5[2])];
      for (const t of chain.mempool) {
        const vin = t.inputs.findIndex((i) => toHex(i.txid) === txid && i.vout === vout);
        if (vin >= 0) return json({ spent: true, txid: txidHex(t), vin, status: { confirmed: false } });
      }
      return json({ spent: false });
    }
    const m6 = /^\/address\/([^/]+)\/txs\/mempool$/.exec(p);
    if (m6) {
      const addr = m6[1]!;
      const list = chain.mempool
        .filter((t) => t.outputs.some((o) => addressOf(o.scriptPubKey) === addr))
        .map((t) => ({ txid: txidHex(t), status: { confirmed: false } }));
      return json(list);
    }
    if (p === '/fee-estimates') return json(chain.feeSatPerVb ?? {});
    return text('Not found', 404);
  });
  return { url: `http://127.0.0.1:${port}`, stop: () => close(server) };
}

function decodeRaw(hex: string): Transaction {
  return decodeTx(fromHex(hex));
}

function close(server: Server): Promise<void> {
  return new Promise((r) => server.close(() => r()));
}
