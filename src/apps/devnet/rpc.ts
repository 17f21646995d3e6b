/**
 * A bitcoind-compatible JSON-RPC server for the devnet: JSON-RPC 1.0 and 2.0 over HTTP POST,
 * HTTP basic auth (401 without), batches, positional or named parameters, and Bitcoin Core
 * 28's result shapes, error codes and messages for the methods Lightning software uses.
 * Devnet-only extensions are namespaced `devnet_*`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fromHex, toHex } from '../../protocol/encoding/bytes.js';
import { addressToScript } from '../../protocol/tx/address.js';
import { difficulty, encodeBlock, encodeHeader } from '../../protocol/tx/block.js';
import { decodeTx, type Transaction } from '../../protocol/tx/transaction.js';
import { type BlockEntry, type DevnetChain, isCoinbase, signalsRbf } from './chain.js';
import {
  amount,
  blockJson,
  chainworkHex,
  headerJson,
  JsonNumber,
  scriptPubKeyJson,
  toJson,
  txToJson,
} from './format.js';
import { fundScript, MINER_ADDRESS, MINER_SCRIPT } from './miner.js';
import {
  BlockRejected,
  COIN,
  DEFAULT_MAX_RAW_TX_FEE_RATE,
  feeForVsize,
  feeRateOf,
  isUnspendable,
  RPC,
  TxRejected,
} from './policy.js';

/** A JSON-RPC error with Core's code. */
export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

type Params = unknown[];

/** Method table: parameter names (for named params) and the handler. */
interface Method {
  params: string[];
  run(p: Params): unknown;
}

function parseAmountSats(v: unknown, what: string): bigint {
  let s: string;
  if (typeof v === 'number') s = v.toFixed(8);
  else if (typeof v === 'string') s = v;
  else throw new RpcError(RPC.TYPE_ERROR, `Amount is not a number or string`);
  const m = /^(\d+)(?:\.(\d{0,8}))?$/.exec(s.trim());
  if (!m) throw new RpcError(RPC.TYPE_ERROR, `Invalid amount for ${what}`);
  return BigInt(m[1]!) * COIN + BigInt((m[2] ?? '').padEnd(8, '0'));
}

function hashParam(v: unknown, name: string): string {
  if (typeof v !== 'string')
    throw new RpcError(RPC.TYPE_ERROR, `JSON value of type ${typeof v} is not of expected type string`);
  if (v.length !== 64)
    throw new RpcError(RPC.INVALID_PARAMETER, `${name} must be of length 64 (not ${v.length}, for '${v}')`);
  if (!/^[0-9a-fA-F]{64}$/.test(v))
    throw new RpcError(RPC.INVALID_PARAMETER, `${name} must be hexadecimal string (not '${v}')`);
  return v.toLowerCase();
}

function intParam(v: unknown, name: string, def?: number): number {
  if (v === undefined || v === null) {
    if (def !== undefined) return def;
    throw new RpcError(RPC.MISC_ERROR, `Missing required parameter ${name}`);
  }
  if (typeof v !== 'number' || !Number.isInteger(v))
    throw new RpcError(RPC.TYPE_ERROR, `JSON value of type ${typeof v} is not of expected type number`);
  return v;
}

function boolish(v: unknown, def: boolean): boolean {
  if (v === undefined || v === null) return def;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  throw new RpcError(RPC.TYPE_ERROR, `JSON value of type ${typeof v} is not of expected type bool`);
}

function decodeRawTx(v: unknown): Transaction {
  if (typeof v !== 'string') throw new RpcError(RPC.TYPE_ERROR, 'JSON value is not of expected type string');
  try {
    return decodeTx(fromHex(v));
  } catch {
    throw new RpcError(
      RPC.DESERIALIZATION_ERROR,
      'TX decode failed. Make sure the tx has at least one input.',
    );
  }
}

function addressParam(v: unknown): Uint8Array {
  if (typeof v !== 'string') throw new RpcError(RPC.TYPE_ERROR, 'JSON value is not of expected type string');
  try {
    return addressToScript(v, 'regtest');
  } catch {
    throw new RpcError(RPC.INVALID_ADDRESS_OR_KEY, 'Error: Invalid address');
  }
}

/** The RPC method implementations over a {@link DevnetChain}. */
export class DevnetRpc {
  private readonly started = Date.now();
  readonly methods: Record<string, Method>;

  constructor(
    readonly chain: DevnetChain,
    private readonly onStop?: () => void,
  ) {
    const c = chain;
    this.methods = {
      getblockchaininfo: {
        params: [],
        run: () => ({
          chain: 'regtest',
          blocks: c.height,
          headers: c.height,
          bestblockhash: c.tip.hash,
          difficulty: new JsonNumber(String(difficulty(c.tip.header.bits))),
          time: c.tip.header.time,
          mediantime: c.tip.mtp,
          verificationprogress: 1,
          initialblockdownload: false,
          chainwork: chainworkHex(c.tip.chainwork),
          size_on_disk: 0,
          pruned: false,
          warnings: [],
        }),
      },
      getblockcount: { params: [], run: () => c.height },
      getbestblockhash: { params: [], run: () => c.tip.hash },
      getblockhash: {
        params: ['height'],
        run: ([h]) => {
          const e = c.blockAt(intParam(h, 'height'));
          if (!e) throw new RpcError(RPC.INVALID_PARAMETER, 'Block height out of range');
          return e.hash;
        },
      },
      getblockheader: {
        params: ['blockhash', 'verbose'],
        run: ([h, v]) => {
          const e = this.block(h);
          return boolish(v, true) ? headerJson(c, e) : toHex(encodeHeader(e.header));
        },
      },
      getblock: {
        params: ['blockhash', 'verbosity'],
        run: ([h, v]) => {
          const e = this.block(h);
          const verbosity = typeof v === 'boolean' ? (v ? 1 : 0) : intParam(v, 'verbosity', 1);
          if (verbosity <= 0) return toHex(encodeBlock(e.block));
          return blockJson(c, e, verbosity);
        },
      },
      getrawtransaction: {
        params: ['txid', 'verbose', 'blockhash'],
        run: ([t, v, bh]) => this.getRawTransaction(hashParam(t, 'parameter 1'), v, bh),
      },
      decoderawtransaction: {
        params: ['hexstring', 'iswitness'],
        run: ([h]) => txToJson(decodeRawTx(h), { hex: false }),
      },
      sendrawtransaction: {
        params: ['hexstring', 'maxfeerate', 'maxburnamount'],
        run: ([h, mf, mb]) => this.sendRawTransaction(decodeRawTx(h), mf, mb),
      },
      testmempoolaccept: {
        params: ['rawtxs', 'maxfeerate'],
        run: ([txs, mf]) => this.testMempoolAccept(txs, mf),
      },
      submitpackage: {
        params: ['package', 'maxfeerate', 'maxburnamount'],
        run: ([txs]) => this.submitPackage(txs),
      },
      getrawmempool: {
        params: ['verbose', 'mempool_sequence'],
        run: ([v]) => {
          if (!boolish(v, false)) return [...c.mempool.keys()];
          const out: Record<string, unknown> = {};
          for (const id of c.mempool.keys()) out[id] = this.mempoolEntry(id);
          return out;
        },
      },
      getmempoolentry: {
        params: ['txid'],
        run: ([t]) => {
          const id = hashParam(t, 'parameter 1');
          if (!c.mempool.has(id))
            throw new RpcError(RPC.INVALID_ADDRESS_OR_KEY, 'Transaction not in mempool');
          return this.mempoolEntry(id);
        },
      },
      getmempoolinfo: {
        params: [],
        run: () => {
          let bytes = 0;
          let fees = 0n;
          for (const e of c.mempool.values()) {
            bytes += e.vsize;
            fees += e.fee;
          }
          return {
            loaded: true,
            size: c.mempool.size,
            bytes,
            usage: bytes * 4,
            total_fee: amount(fees),
            maxmempool: 300_000_000,
            mempoolminfee: amount(c.minRelayFee),
            minrelaytxfee: amount(c.minRelayFee),
            incrementalrelayfee: amount(c.incrementalRelayFee),
            unbroadcastcount: 0,
            fullrbf: c.fullRbf,
          };
        },
      },
      gettxout: {
        params: ['txid', 'n', 'include_mempool'],
        run: ([t, n, im]) => this.getTxOut(hashParam(t, 'txid'), intParam(n, 'n'), boolish(im, true)),
      },
      estimatesmartfee: {
        params: ['conf_target', 'estimate_mode'],
        run: ([t]) => {
          const target = intParam(t, 'conf_target');
          if (target < 1 || target > 1008)
            throw new RpcError(RPC.INVALID_PARAMETER, 'Invalid conf_target, must be between 1 and 1008');
          const blocks = Math.max(2, target);
          return { feerate: amount(c.estimateFeeRate(blocks)), blocks };
        },
      },
      generatetoaddress: {
        params: ['nblocks', 'address', 'maxtries'],
        run: ([n, a]) => c.generate(intParam(n, 'nblocks'), addressParam(a)),
      },
      invalidateblock: {
        params: ['blockhash'],
        run: ([h]) => {
          c.invalidateBlock(this.block(h).hash);
          return null;
        },
      },
      reconsiderblock: {
        params: ['blockhash'],
        run: ([h]) => {
          c.reconsiderBlock(this.block(h).hash);
          return null;
        },
      },
      getchaintips: {
        params: [],
        run: () =>
          c.chainTips().map((t) => ({
            height: t.entry.height,
            hash: t.entry.hash,
            branchlen: t.branchlen,
            status: t.status,
          })),
      },
      getnetworkinfo: {
        params: [],
        run: () => ({
          version: 280000,
          subversion: '/Satoshi:28.0.0(farad-devnet)/',
          protocolversion: 70016,
          localservices: '0000000000000c09',
          localservicesnames: ['NETWORK', 'WITNESS', 'NETWORK_LIMITED', 'P2P_V2'],
          localrelay: true,
          timeoffset: 0,
          networkactive: true,
          connections: 0,
          connections_in: 0,
          connections_out: 0,
          networks: [],
          relayfee: amount(c.minRelayFee),
          incrementalfee: amount(c.incrementalRelayFee),
          localaddresses: [],
          warnings: [],
        }),
      },
      getmininginfo: {
        params: [],
        run: () => ({
          blocks: c.height,
          difficulty: new JsonNumber(String(difficulty(c.tip.header.bits))),
          networkhashps: 0,
          pooledtx: c.mempool.size,
          chain: 'regtest',
          warnings: [],
        }),
      },
      setmocktime: {
        params: ['timestamp'],
        run: ([t]) => {
          c.mockTime = intParam(t, 'timestamp');
          return null;
        },
      },
      uptime: { params: [], run: () => Math.floor((Date.now() - this.started) / 1000) },
      ping: { params: [], run: () => null },
      stop: {
        params: [],
        run: () => {
          setTimeout(() => this.onStop?.(), 50);
          return 'Bitcoin Core stopping';
        },
      },
      devnet_info: {
        params: [],
        run: () => ({
          mineraddress: MINER_ADDRESS,
          height: c.height,
          fullrbf: c.fullRbf,
          feerate: amount(c.feeRate),
          clockoffset: c.clockOffset,
        }),
      },
      devnet_mine: {
        params: ['nblocks', 'address'],
        run: ([n, a]) =>
          c.generate(intParam(n, 'nblocks'), a === undefined || a === null ? MINER_SCRIPT : addressParam(a)),
      },
      devnet_fund: {
        params: ['address', 'sats'],
        run: ([a, s]) => {
          const script = addressParam(a);
          let sats: bigint;
          try {
            sats = BigInt(s as string | number);
          } catch {
            throw new RpcError(RPC.TYPE_ERROR, 'sats must be an integer');
          }
          if (sats <= 0n) throw new RpcError(RPC.INVALID_PARAMETER, 'sats must be positive');
          return { txid: fundScript(c, script, sats) };
        },
      },
      devnet_setfeerate: {
        params: ['sat_per_kvb'],
        run: ([r]) => {
          c.feeRate = BigInt(intParam(r, 'sat_per_kvb'));
          return null;
        },
      },
      devnet_advancetime: {
        params: ['seconds'],
        run: ([s]) => {
          c.clockOffset += intParam(s, 'seconds');
          return c.now();
        },
      },
    };
  }

  private block(h: unknown): BlockEntry {
    const e = this.chain.getBlock(hashParam(h, 'blockhash'));
    if (!e) throw new RpcError(RPC.INVALID_ADDRESS_OR_KEY, 'Block not found');
    return e;
  }

  private getRawTransaction(id: string, verboseArg: unknown, bh: unknown): unknown {
    const verbosity =
      typeof verboseArg === 'boolean' ? (verboseArg ? 1 : 0) : intParam(verboseArg, 'verbose', 0);
    const c = this.chain;
    let tx: Transaction | undefined;
    let block: BlockEntry | undefined;
    let pos = -1;
    if (bh !== undefined && bh !== null) {
      block = c.getBlock(hashParam(bh, 'parameter 3'));
      if (!block) throw new RpcError(RPC.INVALID_ADDRESS_OR_KEY, 'Block hash not found');
      pos = block.txids.indexOf(id);
      if (pos < 0)
        throw new RpcError(
          RPC.INVALID_ADDRESS_OR_KEY,
          'No such transaction found in the provided block. Use gettransaction for wallet transactions.',
        );
      tx = block.block.txs[pos];
    } else {
      const m = c.mempool.get(id);
      if (m) tx = m.tx;
      else {
        const f = c.getConfirmedTx(id);
        if (f) {
          tx = f.tx;
          block = f.entry;
          pos = f.pos;
        }
      }
    }
    if (!tx)
      throw new RpcError(
        RPC.INVALID_ADDRESS_OR_KEY,
        'No such mempool or blockchain transaction. Use gettransaction for wallet transactions.',
      );
    const j = txToJson(tx, {
      spent: verbosity >= 2 ? (block ? c.spentCoinsOf(block, pos) : c.mempool.get(id)?.spent) : undefined,
      prevouts: verbosity >= 2,
    });
    if (verbosity <= 0) return j.hex;
    if (isCoinbase(tx) || verbosity < 2) delete j.fee;
    if (block) {
      const active = c.isActive(block);
      Object.assign(j, {
        blockhash: block.hash,
        confirmations: active ? c.height - block.height + 1 : 0,
        time: block.header.time,
        blocktime: block.header.time,
      });
      if (bh !== undefined && bh !== null) Object.assign(j, { in_active_chain: active });
    }
    return j;
  }

  private maxFeeRate(v: unknown): bigint {
    return v === undefined || v === null ? DEFAULT_MAX_RAW_TX_FEE_RATE : parseAmountSats(v, 'maxfeerate');
  }

  private sendRawTransaction(tx: Transaction, mf: unknown, mb: unknown): string {
    const maxRate = this.maxFeeRate(mf);
    const maxBurn = mb === undefined || mb === null ? 0n : parseAmountSats(mb, 'maxburnamount');
    for (const o of tx.outputs) {
      if (isUnspendable(o.scriptPubKey) && o.value > maxBurn)
        throw new RpcError(
          RPC.VERIFY_ERROR,
          'Unspendable output exceeds maximum configured by user (maxburnamount)',
        );
    }
    return this.broadcast(tx, maxRate);
  }

  /** Core's BroadcastTransaction order: already-in-utxo-set, in-mempool, test, max fee, submit. */
  broadcast(tx: Transaction, maxRate: bigint): string {
    const c = this.chain;
    const probe = txToJson(tx, { hex: false }).txid as string;
    if (c.hasUnspentOutputs(probe))
      throw new RpcError(RPC.VERIFY_ALREADY_IN_CHAIN, 'Transaction outputs already in utxo set');
    if (c.mempool.has(probe)) return probe;
    try {
      const r = c.acceptTx(tx, { testOnly: true });
      if (maxRate > 0n && r.fee > feeForVsize(maxRate, r.vsize))
        throw new RpcError(
          RPC.VERIFY_ERROR,
          'Fee exceeds maximum configured by user (e.g. -maxtxfee, maxfeerate)',
        );
      return c.acceptTx(tx).txid;
    } catch (e) {
      if (e instanceof TxRejected) throw new RpcError(e.rpcCode, e.message);
      throw e;
    }
  }

  private testMempoolAccept(txsArg: unknown, mf: unknown): unknown {
    if (!Array.isArray(txsArg))
      throw new RpcError(RPC.TYPE_ERROR, 'JSON value is not of expected type array');
    if (txsArg.length < 1 || txsArg.length > 25)
      throw new RpcError(RPC.INVALID_PARAMETER, 'Array must contain between 1 and 25 transactions.');
    const maxRate = this.maxFeeRate(mf);
    const txs = txsArg.map(decodeRawTx);
    const results = this.chain.testAcceptMany(txs);
    return txs.map((tx, i) => {
      const ids = txToJson(tx, { hex: false });
      const base = { txid: ids.txid, wtxid: ids.hash };
      const r = results[i];
      if (r === undefined) return { ...base };
      if (r instanceof TxRejected) {
        const reason = r.reason === 'bad-txns-inputs-missingorspent' ? 'missing-inputs' : r.reason;
        return { ...base, allowed: false, 'reject-reason': reason, 'reject-details': r.message };
      }
      if (maxRate > 0n && r.fee > feeForVsize(maxRate, r.vsize))
        return { ...base, allowed: false, 'reject-reason': 'max-fee-exceeded' };
      return {
        ...base,
        allowed: true,
        vsize: r.vsize,
        fees: {
          base: amount(r.fee),
          'effective-feerate': amount(feeRateOf(r.fee, r.vsize)),
          'effective-includes': [r.wtxid],
        },
      };
    });
  }

  private submitPackage(txsArg: unknown): unknown {
    if (!Array.isArray(txsArg))
      throw new RpcError(RPC.TYPE_ERROR, 'JSON value is not of expected type array');
    if (txsArg.length < 1 || txsArg.length > 25)
      throw new RpcError(RPC.INVALID_PARAMETER, 'Array must contain between 1 and 25 transactions.');
    const txs = txsArg.map(decodeRawTx);
    let res: ReturnType<DevnetChain['acceptPackage']>;
    try {
      res = this.chain.acceptPackage(txs);
    } catch (e) {
      if (e instanceof TxRejected) throw new RpcError(e.rpcCode, e.message);
      throw e;
    }
    const txResults: Record<string, unknown> = {};
    for (const r of res.results) {
      txResults[r.wtxid] = {
        txid: r.txid,
        'other-wtxid': r.otherWtxid,
        vsize: r.vsize,
        fees:
          r.fee !== undefined && !r.error
            ? {
                base: amount(r.fee),
                'effective-feerate':
                  r.effectiveFeeRate !== undefined
                    ? amount(r.effectiveFeeRate)
                    : amount(feeRateOf(r.fee, r.vsize ?? 1)),
                'effective-includes': r.effectiveIncludes ?? [r.wtxid],
              }
            : undefined,
        error: r.error,
      };
    }
    return { package_msg: res.message, 'tx-results': txResults, 'replaced-transactions': res.replaced };
  }

  private mempoolEntry(id: string): Record<string, unknown> {
    const c = this.chain;
    const e = c.mempool.get(id)!;
    const anc = new Set<string>();
    const stack = [id];
    while (stack.length) {
      const t = stack.pop()!;
      for (const i of c.mempool.get(t)!.tx.inputs) {
        const p = toHex(i.txid);
        if (c.mempool.has(p) && !anc.has(p)) {
          anc.add(p);
          stack.push(p);
        }
      }
    }
    const desc = c.descendants(id);
    const sum = (ids: Iterable<string>, f: 'fee' | 'vsize') => {
      let a = 0n;
      for (const t of ids) a += BigInt(c.mempool.get(t)![f]);
      return a;
    };
    const depends = [...new Set(e.tx.inputs.map((i) => toHex(i.txid)).filter((p) => c.mempool.has(p)))];
    const spentby = [...desc].filter((d) => c.mempool.get(d)!.tx.inputs.some((i) => toHex(i.txid) === id));
    const replaceable = signalsRbf(e.tx) || [...anc].some((a) => signalsRbf(c.mempool.get(a)!.tx));
    return {
      vsize: e.vsize,
      weight: e.weight,
      time: e.time,
      height: e.height,
      descendantcount: desc.size + 1,
      descendantsize: Number(sum(desc, 'vsize')) + e.vsize,
      ancestorcount: anc.size + 1,
      ancestorsize: Number(sum(anc, 'vsize')) + e.vsize,
      wtxid: e.wtxid,
      fees: {
        base: amount(e.fee),
        modified: amount(e.fee),
        ancestor: amount(sum(anc, 'fee') + e.fee),
        descendant: amount(sum(desc, 'fee') + e.fee),
      },
      depends,
      spentby,
      'bip125-replaceable': replaceable,
      unbroadcast: false,
    };
  }

  private getTxOut(id: string, n: number, includeMempool: boolean): unknown {
    const c = this.chain;
    if (includeMempool) {
      if (c.spentInMempool(id, n)) return null;
      const m = c.mempool.get(id);
      const o = m?.tx.outputs[n];
      if (o) {
        return {
          bestblock: c.tip.hash,
          confirmations: 0,
          value: amount(o.value),
          scriptPubKey: scriptPubKeyJson(o.scriptPubKey),
          coinbase: false,
        };
      }
    }
    const coin = c.getCoin(id, n);
    if (!coin) return null;
    return {
      bestblock: c.tip.hash,
      confirmations: c.height - coin.height + 1,
      value: amount(coin.value),
      scriptPubKey: scriptPubKeyJson(coin.scriptPubKey),
      coinbase: coin.coinbase,
    };
  }

  /** Runs one call. Throws {@link RpcError}. */
  call(method: string, params: unknown): unknown {
    const m = Object.hasOwn(this.methods, method) ? this.methods[method] : undefined;
    if (!m) throw new RpcError(RPC.METHOD_NOT_FOUND, 'Method not found');
    let p: Params;
    if (params === undefined || params === null) p = [];
    else if (Array.isArray(params)) p = params;
    else if (typeof params === 'object') {
      const obj = params as Record<string, unknown>;
      for (const k of Object.keys(obj)) {
        if (!m.params.includes(k)) throw new RpcError(RPC.MISC_ERROR, `Unknown named parameter ${k}`);
      }
      p = m.params.map((k) => obj[k]);
    } else throw new RpcError(RPC.INVALID_REQUEST, 'Params must be an array or object');
    if (p.length > m.params.length) {
      throw new RpcError(RPC.MISC_ERROR, `${method}: too many parameters (${p.length} > ${m.params.length})`);
    }
    try {
      return m.run(p);
    } catch (e) {
      if (e instanceof RpcError) throw e;
      if (e instanceof TxRejected) throw new RpcError(e.rpcCode, e.message);
      if (e instanceof BlockRejected) {
        if (e.reason === 'block-not-found') throw new RpcError(RPC.INVALID_ADDRESS_OR_KEY, 'Block not found');
        throw new RpcError(RPC.VERIFY_ERROR, e.message);
      }
      throw new RpcError(RPC.MISC_ERROR, e instanceof Error ? e.message : String(e));
    }
  }
}

/** Options of {@link startRpcServer}. */
export interface RpcServerOptions {
  host: string;
  port: number;
  user: string;
  password: string;
}

function readBody(req: IncomingMessage, limit = 64 * 1024 * 1024): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > limit) {
        reject(new Error('body too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function statusFor(code: number): number {
  if (code === RPC.INVALID_REQUEST) return 400;
  if (code === RPC.METHOD_NOT_FOUND) return 404;
  return 500;
}

/** Handles one JSON-RPC request object; returns the response object (undefined for a 2.0 notification). */
function handleOne(
  rpc: DevnetRpc,
  req: unknown,
): { body: Record<string, unknown> | undefined; status: number } {
  if (typeof req !== 'object' || req === null || Array.isArray(req)) {
    return {
      body: {
        result: null,
        error: { code: RPC.INVALID_REQUEST, message: 'Invalid Request object' },
        id: null,
      },
      status: 400,
    };
  }
  const r = req as { jsonrpc?: unknown; method?: unknown; params?: unknown; id?: unknown };
  const v2 = r.jsonrpc === '2.0';
  const id = r.id ?? null;
  const isNotification = v2 && !('id' in r);
  try {
    if (typeof r.method !== 'string') throw new RpcError(RPC.INVALID_REQUEST, 'Method must be a string');
    const result = rpc.call(r.method, r.params);
    if (isNotification) return { body: undefined, status: 204 };
    return { body: v2 ? { jsonrpc: '2.0', result, id } : { result, error: null, id }, status: 200 };
  } catch (e) {
    const err = e instanceof RpcError ? e : new RpcError(RPC.MISC_ERROR, String(e));
    if (isNotification) return { body: undefined, status: 204 };
    const error = { code: err.code, message: err.message };
    return v2
      ? { body: { jsonrpc: '2.0', error, id }, status: 200 }
      : { body: { result: null, error, id }, status: statusFor(err.code) };
  }
}

/** Starts the JSON-RPC HTTP server; resolves with the server and its bound port. */
export async function startRpcServer(
  rpc: DevnetRpc,
  opts: RpcServerOptions,
): Promise<{ server: Server; port: number }> {
  const expected = `Basic ${Buffer.from(`${opts.user}:${opts.password}`).toString('base64')}`;
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const send = (status: number, body?: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
      res.end(body === undefined ? undefined : `${body}\n`);
    };
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="jsonrpc"', 'Content-Type': 'text/html' });
      res.end();
      return;
    }
    if (req.method !== 'POST')
      return send(
        405,
        toJson({
          result: null,
          error: { code: RPC.INVALID_REQUEST, message: 'JSONRPC server handles only POST requests' },
          id: null,
        }),
      );
    let text: string;
    try {
      text = await readBody(req);
    } catch {
      return send(413);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return send(
        500,
        toJson({ result: null, error: { code: RPC.PARSE_ERROR, message: 'Parse error' }, id: null }),
      );
    }
    if (Array.isArray(parsed)) {
      const out = parsed.map((r) => handleOne(rpc, r).body).filter((b) => b !== undefined);
      return send(200, toJson(out));
    }
    const { body, status } = handleOne(rpc, parsed);
    if (body === undefined) {
      res.writeHead(204);
      res.end();
      return;
    }
    send(status, toJson(body));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}
