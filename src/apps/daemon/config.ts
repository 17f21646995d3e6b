/**
 * `farad node start` options, validated into a typed {@link NodeConfig}. Bad input throws
 * {@link ConfigError} with a one-line message (the command prints it and exits with status 2).
 */
import { isIP } from 'node:net';
import { FaradError } from '../../protocol/errors.js';
import type { Network } from '../../protocol/tx/address.js';

/** A bad `farad node start` option (code `CONFIG_INVALID`). */
export class ConfigError extends FaradError {
  override name = 'ConfigError';
  constructor(shortMessage: string, details?: string) {
    super('CONFIG_INVALID', shortMessage, details === undefined ? {} : { details });
  }
}

/** A listen or connect address. */
export interface HostPort {
  host: string;
  port: number;
}

/** Log levels of the daemon's stderr logger, most verbose first. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Default `--helper-nice`: helper threads yield to the event loop on a busy core. */
export const DEFAULT_HELPER_NICE = 10;

/** The validated configuration of a node daemon. */
export interface NodeConfig {
  dataDir: string;
  network: Network;
  /** Lightning (BOLT 8) listen address. */
  listen: HostPort;
  /** REST API listen address (loopback unless {@link apiAllowRemote}). */
  api: HostPort;
  /** The API may bind a non-loopback address (`--api-allow-remote`). */
  apiAllowRemote: boolean;
  chain: { kind: 'bitcoind'; url: string } | { kind: 'esplora'; url: string };
  /** Peers whose zero-conf channels we accept (node ids). */
  trustedPeers: string[];
  /** Chain poll interval, ms. */
  pollMs: number;
  logLevel: LogLevel;
  /**
   * CSV delay (blocks) we require on the peer's outputs in its commitments (`--to-self-delay`,
   * BOLT 2 `to_self_delay`; default: the channel policy's 144).
   */
  toSelfDelay?: number;
  /** Accept bLIP-3 keysend payments (`--accept-keysend`). */
  acceptKeysend?: boolean;
  /** Development routes under `/v1/dev` (`--dev`: stats and a payment load driver for benchmarks). */
  dev?: boolean;
  /** Gossip rebroadcast/maintenance period, ms (`--gossip-flush-ms`; default 60000). */
  gossipFlushMs?: number;
  /** Default forwarding `fee_base_msat` of our channels (`--fee-base-msat`; default 1000). */
  feeBaseMsat?: number;
  /** Default forwarding `fee_proportional_millionths` (`--fee-ppm`; default 1). */
  feePpm?: number;
  /** Default forwarding `cltv_expiry_delta` (`--cltv-delta`; default 80). */
  cltvDelta?: number;
  /**
   * Nice increment for the process's helper threads (`--helper-nice`, 0-19, default 10; 0 keeps
   * them at the event loop's priority). Linux only: see `adapters/os/threads.ts`.
   */
  helperNice: number;
}

/** The raw command-line options (commander's camel-cased names). */
export interface RawNodeOptions {
  dataDir?: string;
  network?: string;
  listen?: string;
  api?: string;
  apiAllowRemote?: boolean;
  bitcoind?: string;
  esplora?: string;
  trustPeer?: string[];
  pollMs?: string;
  logLevel?: string;
  acceptKeysend?: boolean;
  dev?: boolean;
  toSelfDelay?: string;
  gossipFlushMs?: string;
  feeBaseMsat?: string;
  feePpm?: string;
  cltvDelta?: string;
  helperNice?: string;
}

/** Parses `HOST:PORT` (port 0..65535; IPv6 as `[::1]:9735`). */
export function parseHostPort(s: string, what: string): HostPort {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535) throw new ConfigError(`--${what} must be HOST:PORT`, s);
  return { host: (m[1] ?? m[2])!, port };
}

/** True for `localhost`, 127.0.0.0/8, `::1` and IPv4-mapped loopback. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h);
  return false;
}

/** `host:port` with IPv6 hosts bracketed. */
export function formatHostPort(a: HostPort): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

function parseUrl(s: string, what: string): string {
  try {
    const u = new URL(s);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
    return s;
  } catch {
    throw new ConfigError(`--${what} must be an http(s) URL`, s);
  }
}

/** Validates the raw options; throws {@link ConfigError} on the first problem. */
export function parseNodeConfig(o: RawNodeOptions): NodeConfig {
  if (!o.dataDir) throw new ConfigError('--data-dir is required');
  const network = o.network ?? 'regtest';
  if (network !== 'regtest' && network !== 'testnet' && network !== 'signet' && network !== 'mainnet') {
    throw new ConfigError('--network must be regtest, testnet, signet or mainnet', network);
  }
  if (!!o.bitcoind === !!o.esplora)
    throw new ConfigError('give exactly one of --bitcoind URL or --esplora URL');
  const chain = o.bitcoind
    ? ({ kind: 'bitcoind', url: parseUrl(o.bitcoind, 'bitcoind') } as const)
    : ({ kind: 'esplora', url: parseUrl(o.esplora!, 'esplora') } as const);
  for (const id of o.trustPeer ?? []) {
    if (!/^0[23][0-9a-f]{64}$/.test(id))
      throw new ConfigError('--trust-peer must be a 33-byte hex node id', id);
  }
  const pollMs = o.pollMs === undefined ? 1000 : Number(o.pollMs);
  if (!Number.isInteger(pollMs) || pollMs < 50)
    throw new ConfigError('--poll-ms must be an integer >= 50', o.pollMs);
  const logLevel = (o.logLevel ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel))
    throw new ConfigError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`, o.logLevel);
  const toSelfDelay = o.toSelfDelay === undefined ? undefined : Number(o.toSelfDelay);
  if (toSelfDelay !== undefined && (!Number.isInteger(toSelfDelay) || toSelfDelay < 1 || toSelfDelay > 2016))
    throw new ConfigError('--to-self-delay must be an integer from 1 to 2016', o.toSelfDelay);
  const intOpt = (v: string | undefined, name: string, min: number, max: number): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new ConfigError(`--${name} must be an integer from ${min} to ${max}`, v);
    return n;
  };
  const gossipFlushMs = intOpt(o.gossipFlushMs, 'gossip-flush-ms', 100, 3_600_000);
  const feeBaseMsat = intOpt(o.feeBaseMsat, 'fee-base-msat', 0, 0xffffffff);
  const feePpm = intOpt(o.feePpm, 'fee-ppm', 0, 0xffffffff);
  const cltvDelta = intOpt(o.cltvDelta, 'cltv-delta', 18, 2016);
  const helperNice = intOpt(o.helperNice, 'helper-nice', 0, 19) ?? DEFAULT_HELPER_NICE;
  const api = parseHostPort(o.api ?? '127.0.0.1:8080', 'api');
  const apiAllowRemote = o.apiAllowRemote === true;
  if (!apiAllowRemote && !isLoopbackHost(api.host))
    throw new ConfigError('--api must be a loopback address (or pass --api-allow-remote)', api.host);
  return {
    dataDir: o.dataDir,
    network,
    listen: parseHostPort(o.listen ?? '127.0.0.1:9735', 'listen'),
    api,
    apiAllowRemote,
    chain,
    trustedPeers: (o.trustPeer ?? []).map((p) => p.toLowerCase()),
    pollMs,
    logLevel,
    helperNice,
    ...(o.acceptKeysend ? { acceptKeysend: true } : {}),
    ...(o.dev ? { dev: true } : {}),
    ...(toSelfDelay !== undefined ? { toSelfDelay } : {}),
    ...(gossipFlushMs !== undefined ? { gossipFlushMs } : {}),
    ...(feeBaseMsat !== undefined ? { feeBaseMsat } : {}),
    ...(feePpm !== undefined ? { feePpm } : {}),
    ...(cltvDelta !== undefined ? { cltvDelta } : {}),
  };
}
