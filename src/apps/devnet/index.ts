/**
 * The devnet: an embedded, consensus-strict regtest chain with a bitcoind-compatible JSON-RPC
 * server and an Esplora REST server (issue 3, section 1). This module is the programmatic
 * contract other code and tests use:
 *
 * ```ts
 * const devnet = await startDevnet();          // random free ports on 127.0.0.1
 * devnet.fund(address, 100_000n);              // txid, left in the mempool
 * devnet.mine(1);                              // block hashes
 * await devnet.stop();
 * ```
 */
import type { Server } from 'node:http';
import { addressToScript } from '../../protocol/tx/address.js';
import { DevnetChain } from './chain.js';
import { EsploraApi, startEsploraServer } from './esplora.js';
import { fundScript, MINER_ADDRESS, MINER_SCRIPT } from './miner.js';
import { DevnetRpc, startRpcServer } from './rpc.js';
import { openStore } from './store.js';

export { type BlockEntry, type Coin, DevnetChain, type MempoolEntry } from './chain.js';
export { MINER_ADDRESS, MINER_SCRIPT } from './miner.js';
export { BlockRejected, TxRejected } from './policy.js';

/** Default RPC credentials (CLI and embedded). */
export const DEFAULT_RPC_USER = 'farad';
export const DEFAULT_RPC_PASSWORD = 'farad';
/** CLI default listen addresses (bitcoind regtest RPC port, a common Esplora port). */
export const DEFAULT_CLI_RPC = '127.0.0.1:18443';
export const DEFAULT_CLI_ESPLORA = '127.0.0.1:3002';

export interface StartDevnetOptions {
  /** 'host:port' for JSON-RPC; port 0 picks a free port. Default '127.0.0.1:0'. */
  rpc?: string;
  /** 'host:port' for Esplora REST; port 0 picks a free port. Default '127.0.0.1:0'. */
  esplora?: string;
  /** RPC basic-auth user (default 'farad'). */
  rpcUser?: string;
  /** RPC basic-auth password (default 'farad'). */
  rpcPassword?: string;
  /** Persist blocks and the mempool here; replayed on start. */
  dataDir?: string;
  /** Full-RBF policy (default true, Core 28). */
  fullRbf?: boolean;
  /** Base feerate of estimatesmartfee / fee-estimates, sat/kvB (default 2000). */
  feeRate?: bigint;
}

/** A running devnet. */
export interface Devnet {
  /** 'http://user:pass@127.0.0.1:PORT' */
  rpcUrl: string;
  /** 'http://127.0.0.1:PORT' */
  esploraUrl: string;
  chain: DevnetChain;
  rpc: DevnetRpc;
  /** The internal miner's address (block rewards without `address`, source of `fund`). */
  minerAddress: string;
  /** Mines `n` blocks (with the mempool) to `address` or the miner; returns the block hashes. */
  mine(n: number, address?: string): string[];
  /**
   * Sends `sats` to `address` from the internal miner wallet and leaves the transaction in the
   * mempool; returns its txid. Mines coinbase-only blocks to the miner first when it has no
   * mature coins (101 on a fresh chain).
   */
  fund(address: string, sats: bigint): string;
  /** Stops both servers (and saves the mempool with a data dir). */
  stop(): Promise<void>;
}

/** Parses 'host:port' (or just 'port'). */
export function parseHostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  const host = i >= 0 ? s.slice(0, i) || '127.0.0.1' : '127.0.0.1';
  const port = Number(i >= 0 ? s.slice(i + 1) : s);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid host:port '${s}'`);
  return { host: host.replace(/^\[|\]$/g, ''), port };
}

function closeServer(s: Server): Promise<void> {
  return new Promise((resolve) => {
    s.close(() => resolve());
    s.closeAllConnections();
  });
}

/** Starts a devnet (chain, JSON-RPC server, Esplora server). */
export async function startDevnet(opts: StartDevnetOptions = {}): Promise<Devnet> {
  const chain = new DevnetChain({
    ...(opts.fullRbf !== undefined ? { fullRbf: opts.fullRbf } : {}),
    ...(opts.feeRate !== undefined ? { feeRate: opts.feeRate } : {}),
  });
  const store = opts.dataDir ? openStore(chain, opts.dataDir) : undefined;
  const user = opts.rpcUser ?? DEFAULT_RPC_USER;
  const password = opts.rpcPassword ?? DEFAULT_RPC_PASSWORD;
  let stopping: Promise<void> | undefined;
  let onStop: (() => void) | undefined;
  const rpc = new DevnetRpc(chain, () => onStop?.());
  const r = parseHostPort(opts.rpc ?? '127.0.0.1:0');
  const e = parseHostPort(opts.esplora ?? '127.0.0.1:0');
  const rpcSrv = await startRpcServer(rpc, { host: r.host, port: r.port, user, password });
  let espSrv: Awaited<ReturnType<typeof startEsploraServer>>;
  try {
    espSrv = await startEsploraServer(new EsploraApi(chain, rpc), e.host, e.port);
  } catch (err) {
    await closeServer(rpcSrv.server);
    throw err;
  }
  const hostOf = (h: string) => (h.includes(':') ? `[${h}]` : h);
  const devnet: Devnet = {
    rpcUrl: `http://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${hostOf(r.host)}:${rpcSrv.port}`,
    esploraUrl: `http://${hostOf(e.host)}:${espSrv.port}`,
    chain,
    rpc,
    minerAddress: MINER_ADDRESS,
    mine: (n, address) => chain.generate(n, address ? addressToScript(address, 'regtest') : MINER_SCRIPT),
    fund: (address, sats) => fundScript(chain, addressToScript(address, 'regtest'), sats),
    stop() {
      stopping ??= (async () => {
        await Promise.all([closeServer(rpcSrv.server), closeServer(espSrv.server)]);
        store?.saveMempool();
      })();
      return stopping;
    },
  };
  onStop = () => void devnet.stop();
  return devnet;
}

/** Sets a callback for the RPC `stop` method (used by the CLI to exit). */
export function onRpcStop(devnet: Devnet, fn: () => void): void {
  const prev = devnet.stop.bind(devnet);
  devnet.stop = async () => {
    await prev();
    fn();
  };
}
