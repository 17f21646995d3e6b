/**
 * `farad devnet ...` commands (issue 3 contract):
 * - `farad devnet chain start [--rpc 127.0.0.1:18443] [--rpc-user USER] [--rpc-password PASS]
 *    [--esplora 127.0.0.1:3002] [--data-dir DIR]`: prints one JSON line with the settings and
 *   URLs, runs in the foreground until SIGINT/SIGTERM (or the `stop` RPC), then exits cleanly.
 * - `farad devnet mine <n> [--to ADDRESS] [--rpc URL]`: prints the block hashes (JSON array).
 * - `farad devnet fund <ADDRESS> <sats> [--rpc URL]`: prints `{"txid": ...}`.
 */
import type { Command } from 'commander';
import {
  DEFAULT_CLI_ESPLORA,
  DEFAULT_CLI_RPC,
  DEFAULT_RPC_PASSWORD,
  DEFAULT_RPC_USER,
  onRpcStop,
  startDevnet,
} from './index.js';

/** Default `--rpc` URL of the client commands. */
export const DEFAULT_RPC_URL = `http://${DEFAULT_RPC_USER}:${DEFAULT_RPC_PASSWORD}@${DEFAULT_CLI_RPC}`;

/** Calls a JSON-RPC method at `url` (credentials in the URL become a basic-auth header). */
export async function rpcCall(url: string, method: string, params: unknown[]): Promise<unknown> {
  const u = new URL(url);
  const auth = Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString(
    'base64',
  );
  u.username = '';
  u.password = '';
  const res = await fetch(u, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Basic ${auth}` },
    body: JSON.stringify({ jsonrpc: '1.0', id: 'farad', method, params }),
  });
  if (res.status === 401) throw new Error(`RPC authentication failed at ${u.host}`);
  const body = (await res.json()) as { result?: unknown; error?: { code: number; message: string } | null };
  if (body.error) throw new Error(`RPC error ${body.error.code}: ${body.error.message}`);
  return body.result;
}

/** Registers `farad devnet ...` on the program. */
export function registerDevnet(program: Command): void {
  const devnet = program
    .command('devnet')
    .description('embedded regtest devnet (bitcoind-compatible RPC + Esplora)');
  const chain = devnet.command('chain').description('run the devnet chain');
  chain
    .command('start')
    .description('start the devnet in the foreground until SIGINT/SIGTERM')
    .option('--rpc <host:port>', 'JSON-RPC listen address', DEFAULT_CLI_RPC)
    .option('--rpc-user <user>', 'JSON-RPC basic-auth user', DEFAULT_RPC_USER)
    .option('--rpc-password <pass>', 'JSON-RPC basic-auth password', DEFAULT_RPC_PASSWORD)
    .option('--esplora <host:port>', 'Esplora REST listen address', DEFAULT_CLI_ESPLORA)
    .option('--data-dir <dir>', 'persist blocks and mempool in this directory')
    .action(
      async (o: { rpc: string; rpcUser: string; rpcPassword: string; esplora: string; dataDir?: string }) => {
        const d = await startDevnet({
          rpc: o.rpc,
          esplora: o.esplora,
          rpcUser: o.rpcUser,
          rpcPassword: o.rpcPassword,
          ...(o.dataDir ? { dataDir: o.dataDir } : {}),
        });
        const done = new Promise<void>((resolve) => {
          const shutdown = () => {
            void d.stop().then(resolve);
          };
          process.once('SIGINT', shutdown);
          process.once('SIGTERM', shutdown);
          onRpcStop(d, resolve);
        });
        process.stdout.write(
          `${JSON.stringify({
            rpc: d.rpcUrl,
            esplora: d.esploraUrl,
            rpcListen: o.rpc,
            esploraListen: o.esplora,
            rpcUser: o.rpcUser,
            dataDir: o.dataDir ?? null,
            network: 'regtest',
            height: d.chain.height,
            tip: d.chain.tip.hash,
            minerAddress: d.minerAddress,
          })}\n`,
        );
        await done;
        process.stdout.write(`${JSON.stringify({ stopped: true, height: d.chain.height })}\n`);
      },
    );
  devnet
    .command('mine <n>')
    .description('mine n blocks (to --to, or to the devnet miner)')
    .option('--to <address>', 'payout address')
    .option('--rpc <url>', 'devnet JSON-RPC URL with credentials', DEFAULT_RPC_URL)
    .action(async (n: string, o: { to?: string; rpc: string }) => {
      const count = Number(n);
      if (!Number.isInteger(count) || count < 0) throw new Error(`invalid block count '${n}'`);
      const hashes = o.to
        ? await rpcCall(o.rpc, 'generatetoaddress', [count, o.to])
        : await rpcCall(o.rpc, 'devnet_mine', [count]);
      process.stdout.write(`${JSON.stringify(hashes)}\n`);
    });
  devnet
    .command('fund <address> <sats>')
    .description('send sats to address from the devnet miner (left in the mempool)')
    .option('--rpc <url>', 'devnet JSON-RPC URL with credentials', DEFAULT_RPC_URL)
    .action(async (address: string, sats: string, o: { rpc: string }) => {
      if (!/^\d+$/.test(sats)) throw new Error(`invalid amount '${sats}' (satoshis)`);
      const r = await rpcCall(o.rpc, 'devnet_fund', [address, sats]);
      process.stdout.write(`${JSON.stringify(r)}\n`);
    });
}
