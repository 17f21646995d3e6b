/**
 * `farad node start --data-dir DIR --network regtest --listen HOST:PORT --api HOST:PORT
 *  (--bitcoind URL | --esplora URL) [--api-allow-remote] [--trust-peer NODE_ID]... [--poll-ms N]
 *  [--log-level debug|info|warn|error] [--helper-nice N] ...`
 *
 * Runs a node in the foreground: starts the runtime ({@link FaradNode}), the REST API (token in
 * `DIR/api.token`, address in `DIR/api.json`), prints one JSON line on stdout when ready
 * (`{"ready":true,"node_id","network","listen","api","data_dir"}`) and logs JSON lines on stderr.
 * SIGINT/SIGTERM stop the API, the chain poller, the peers and the channel runtime, close the
 * store and remove `api.json`, then exit 0. Bad configuration: one-line JSON error on stderr,
 * exit 2; other start-up failures (chain backend unreachable, port in use): exit 1.
 */
import type { Command } from 'commander';
import { EXIT_FAILURE, EXIT_USAGE, jsonUsageErrors, printError } from '../cli/output.js';
import type { ApiServer } from './api.js';
import {
  ConfigError,
  formatHostPort,
  type NodeConfig,
  parseNodeConfig,
  type RawNodeOptions,
} from './config.js';
import { DataDirError, readOrCreateToken, removeApiFile, writeApiFile } from './datadir.js';
import { createLogger } from './logger.js';
import type { FaradNode } from './node.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** How long a graceful shutdown may take before the process exits anyway. */
const SHUTDOWN_TIMEOUT_MS = 15_000;

function errorText(e: unknown): { code: string; message: string } {
  const fe = e as { code?: unknown; message?: unknown };
  return {
    code: typeof fe.code === 'string' ? fe.code : 'NODE_START_FAILED',
    message: e instanceof Error ? e.message : String(e),
  };
}

/** Runs the daemon until a signal; resolves with the exit status. */
export async function runNode(cfg: NodeConfig): Promise<number> {
  const log = createLogger(cfg.logLevel);
  // Loaded here, not at the top: every other `farad` command stays quick to start.
  const { FaradNode } = await import('./node.js');
  const { startApi } = await import('./api.js');
  let node: FaradNode;
  const { keepHelperThreadsNiced } = await import('../../adapters/os/threads.js');
  const stopNicing = keepHelperThreadsNiced(cfg.helperNice);
  try {
    node = await FaradNode.start(cfg, log);
  } catch (e) {
    const { code, message } = errorText(e);
    printError(code, message);
    stopNicing();
    return e instanceof DataDirError || e instanceof ConfigError ? EXIT_USAGE : EXIT_FAILURE;
  }
  let api: ApiServer;
  try {
    const token = readOrCreateToken(node.paths);
    removeApiFile(node.paths);
    api = await startApi(node, cfg.api, token);
    writeApiFile(node.paths, api.url);
  } catch (e) {
    const { code, message } = errorText(e);
    printError(code === 'NODE_START_FAILED' ? 'API_START_FAILED' : code, message);
    await node.stop().catch(() => undefined);
    stopNicing();
    return EXIT_FAILURE;
  }
  process.stdout.write(
    `${JSON.stringify({
      ready: true,
      node_id: node.keys.nodeId,
      network: cfg.network,
      listen: formatHostPort(node.listenAddress),
      api: api.url,
      data_dir: cfg.dataDir,
    })}\n`,
  );
  let exitCode = 0;
  await new Promise<void>((resolve) => {
    let signalled = false;
    const onSignal = (sig: string) => {
      if (signalled) {
        log.warn('second signal: exiting now', { signal: sig });
        process.exit(EXIT_FAILURE);
      }
      signalled = true;
      log.info('shutting down', { signal: sig });
      setTimeout(() => {
        log.error('shutdown timed out');
        process.exit(EXIT_FAILURE);
      }, SHUTDOWN_TIMEOUT_MS).unref();
      resolve();
    };
    process.on('SIGINT', () => onSignal('SIGINT'));
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    void node.fatal.then((e) => {
      if (signalled) return;
      signalled = true;
      exitCode = EXIT_FAILURE;
      printError('STORE_FAILED', `stopping: ${e.message}`);
      setTimeout(() => process.exit(EXIT_FAILURE), SHUTDOWN_TIMEOUT_MS).unref();
      resolve();
    });
  });
  await api.close().catch((e) => log.warn('API close failed', { error: String(e) }));
  await node.stop().catch((e) => log.warn('node stop failed', { error: String(e) }));
  removeApiFile(node.paths);
  stopNicing();
  return exitCode;
}

/** Registers `farad node start`. */
export function registerNode(program: Command): void {
  const node = program.command('node').description('run a Farad Lightning node');
  jsonUsageErrors(
    node
      .command('start')
      .description('run a node in the foreground with its REST API (until SIGINT/SIGTERM)')
      .requiredOption('--data-dir <dir>', 'data directory (created on first start)')
      .option('--network <network>', 'regtest, testnet, signet or mainnet', 'regtest')
      .option('--listen <host:port>', 'Lightning (BOLT 8) listen address', '127.0.0.1:9735')
      .option('--api <host:port>', 'REST API listen address (loopback)', '127.0.0.1:8080')
      .option('--api-allow-remote', 'allow a non-loopback --api address')
      .option('--bitcoind <url>', 'Bitcoin Core JSON-RPC URL, e.g. http://user:pass@127.0.0.1:18443')
      .option('--esplora <url>', 'Esplora REST API URL (instead of --bitcoind)')
      .option('--trust-peer <node_id>', 'accept zero-conf channels from this peer (repeatable)', collect)
      .option('--poll-ms <ms>', 'chain poll interval in milliseconds', '1000')
      .option('--log-level <level>', 'debug, info, warn or error', 'info')
      .option('--accept-keysend', 'accept keysend payments (bLIP-3)')
      .option('--dev', 'enable the /v1/dev routes (stats, payment load driver for benchmarks)')
      .option('--to-self-delay <blocks>', "CSV delay required on the peer's outputs (default 144)")
      .option('--gossip-flush-ms <ms>', 'gossip rebroadcast period in milliseconds (default 60000)')
      .option('--fee-base-msat <msat>', 'forwarding base fee of our channels (default 1000)')
      .option('--fee-ppm <ppm>', 'forwarding proportional fee, millionths (default 1)')
      .option('--cltv-delta <blocks>', 'forwarding cltv_expiry_delta of our channels (default 80)')
      .option(
        '--helper-nice <n>',
        "raise the nice value of the process's helper threads (GC, thread pool) by n, 0-19 (default 10; Linux)",
      ),
  ).action(async (raw: RawNodeOptions) => {
    let cfg: NodeConfig;
    try {
      cfg = parseNodeConfig(raw);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      printError(e.code, e.message);
      process.exit(EXIT_USAGE);
    }
    process.exit(await runNode(cfg));
  });
}
