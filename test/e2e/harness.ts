/**
 * Harness of the multi-process end-to-end tests (issue 4, "Tests that must exist"): an in-process
 * devnet, Farad nodes as separate `node bin/farad.js node start` processes (over TCP, with their
 * own data dirs), driven through their REST API (fast, for streams of payments) and the CLI (the
 * contract commands), plus fee accounting from the devnet's transactions.
 *
 * The CLI runs from a private snapshot of bin/ + dist/ (test/daemon/helpers.ts): other test files
 * rebuild dist/ concurrently.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { type Devnet, startDevnet } from '../../src/apps/devnet/index.js';
import { toHex } from '../../src/protocol/encoding/bytes.js';
import type { Transaction } from '../../src/protocol/tx/transaction.js';
import {
  bin,
  type DaemonProc,
  farad,
  freePort,
  type Json,
  ok,
  root,
  sleep,
  snapshotCli,
  startDaemon,
} from '../daemon/helpers.js';

export { farad, type Json, ok, sleep };

/** A running (or killed) node process with its REST access. */
export interface E2ENode {
  name: string;
  proc: DaemonProc;
  dataDir: string;
  nodeId: string;
  token: string;
  /** Arguments of `node start` (after `--data-dir`). */
  args: string[];
}

/** A failed REST call. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

/**
 * Compiles src/ into `outDir` (replacing the copied dist/): the shared dist/ may be half-written
 * by a concurrent build when it is copied. tsc still emits when unrelated in-progress parts of
 * the tree have type errors.
 */
function privateBuild(outDir: string): void {
  rmSync(outDir, { recursive: true, force: true });
  try {
    execFileSync(
      join(root, 'node_modules', '.bin', 'tsc'),
      ['-p', 'tsconfig.build.json', '--outDir', outDir],
      {
        cwd: root,
        stdio: 'pipe',
      },
    );
  } catch (e) {
    if (!existsSync(join(outDir, 'apps', 'cli', 'main.js'))) throw e;
  }
}

/** The devnet, a temp dir and the node processes of one test file. */
export class E2E {
  readonly nodes: E2ENode[] = [];
  private constructor(
    readonly d: Devnet,
    readonly dir: string,
    private readonly dropSnapshot: () => void,
  ) {}

  static async start(): Promise<E2E> {
    const drop = snapshotCli();
    privateBuild(join(dirname(bin), '..', 'dist'));
    const d = await startDevnet();
    d.mine(101);
    return new E2E(d, mkdtempSync(join(tmpdir(), 'farad-e2e-')), drop);
  }

  /** Starts a node (bitcoind RPC backend unless `esplora`). */
  async node(name: string, o: { esplora?: boolean; extra?: string[] } = {}): Promise<E2ENode> {
    const args = [
      '--network',
      'regtest',
      '--listen',
      `127.0.0.1:${await freePort()}`,
      '--api',
      `127.0.0.1:${await freePort()}`,
      ...(o.esplora ? ['--esplora', this.d.esploraUrl] : ['--bitcoind', this.d.rpcUrl]),
      '--poll-ms',
      '100',
      '--log-level',
      'warn',
      ...(o.extra ?? []),
    ];
    const dataDir = join(this.dir, name);
    const proc = await startDaemon(name, dataDir, args, 60_000);
    const n: E2ENode = {
      name,
      proc,
      dataDir,
      nodeId: proc.nodeId,
      token: readFileSync(join(dataDir, 'api.token'), 'utf8').trim(),
      args,
    };
    this.nodes.push(n);
    return n;
  }

  /** Starts `n` again on its data dir (after a kill or stop). */
  async restart(n: E2ENode): Promise<void> {
    if (n.proc.child.exitCode === null && n.proc.child.signalCode === null)
      throw new Error(`${n.name} still runs`);
    n.proc = await startDaemon(n.name, n.dataDir, n.args, 60_000);
    n.token = readFileSync(join(n.dataDir, 'api.token'), 'utf8').trim();
  }

  /** SIGKILLs `n` and waits for the exit. */
  async kill(n: E2ENode): Promise<void> {
    n.proc.child.kill('SIGKILL');
    await n.proc.exited;
  }

  /** SIGTERMs `n` (clean shutdown) and waits for exit status 0. */
  async stop(n: E2ENode): Promise<void> {
    n.proc.child.kill('SIGTERM');
    const code = await n.proc.exited;
    if (code !== 0) throw new Error(`${n.name} exited with ${code}: ${n.proc.log.join('').slice(-2000)}`);
  }

  /** Copies a stopped node's data dir (an "old backup"). */
  backup(n: E2ENode, to: string): string {
    const dest = join(this.dir, to);
    cpSync(n.dataDir, dest, { recursive: true });
    return dest;
  }

  /** Replaces a stopped node's data dir with a backup. */
  restore(n: E2ENode, from: string): void {
    rmSync(n.dataDir, { recursive: true, force: true });
    cpSync(from, n.dataDir, { recursive: true });
  }

  async close(): Promise<void> {
    for (const n of this.nodes)
      if (n.proc.child.exitCode === null && n.proc.child.signalCode === null) n.proc.child.kill('SIGKILL');
    await Promise.all(this.nodes.map((n) => n.proc.exited));
    await this.d.stop();
    rmSync(this.dir, { recursive: true, force: true });
    this.dropSnapshot();
  }

  // ---------------------------------------------------------------------------------------------
  // Chain accounting

  /** The confirmed transaction `txid` (throws if it is not confirmed). */
  tx(txid: string): Transaction {
    const c = this.d.chain.getConfirmedTx(txid);
    if (!c) throw new Error(`tx ${txid} not confirmed`);
    return c.tx;
  }

  prevValue(txid: string, vout: number): bigint {
    return this.tx(txid).outputs[vout]!.value;
  }

  /** Inputs minus outputs of a confirmed transaction. */
  feeOf(txid: string): bigint {
    const tx = this.tx(txid);
    let s = 0n;
    for (const i of tx.inputs) s += this.prevValue(toHex(i.txid), i.vout);
    for (const o of tx.outputs) s -= o.value;
    return s;
  }

  /** Mines one block at a time (pausing `pauseMs` so the nodes poll) until `pred` holds. */
  async mineUntil(
    pred: () => Promise<boolean>,
    what: string,
    maxBlocks = 200,
    pauseMs = 250,
  ): Promise<number> {
    let n = 0;
    while (!(await pred())) {
      if (n >= maxBlocks) throw new Error(`${what}: not reached after ${maxBlocks} blocks`);
      this.d.mine(1);
      n++;
      await sleep(pauseMs);
    }
    return n;
  }
}

// -----------------------------------------------------------------------------------------------
// REST access

/** Calls the node's REST API; throws {@link ApiError} on an error reply. */
export async function api(n: E2ENode, method: 'GET' | 'POST', path: string, body?: unknown): Promise<Json> {
  const res = await fetch(`${n.proc.api}/v1/${path}`, {
    method,
    headers: {
      authorization: `Bearer ${n.token}`,
      ...(method === 'POST' ? { 'content-type': 'application/json' } : {}),
    },
    ...(method === 'POST' ? { body: JSON.stringify(body ?? {}) } : {}),
    signal: AbortSignal.timeout(120_000),
  });
  const j = (await res.json()) as Json;
  if (!res.ok)
    throw new ApiError(res.status, j?.error?.code ?? `HTTP_${res.status}`, j?.error?.message ?? '');
  return j;
}

/** `--data-dir` of a node, for CLI calls. */
export const dd = (n: E2ENode) => ['--data-dir', n.dataDir];

export async function channels(n: E2ENode): Promise<Json[]> {
  return (await api(n, 'GET', 'listchannels')).channels;
}

export async function channel(n: E2ENode, id: string): Promise<Json> {
  const c = (await channels(n)).find((x) => x.channel_id === id);
  if (!c) throw new Error(`${n.name} has no channel ${id}`);
  return c;
}

export async function payments(n: E2ENode): Promise<Json[]> {
  return (await api(n, 'GET', 'listpayments')).payments;
}

export async function invoices(n: E2ENode): Promise<Json[]> {
  return (await api(n, 'GET', 'listinvoices')).invoices;
}

/** The wallet's total on-chain balance (confirmed + unconfirmed), sat. */
export async function walletTotal(n: E2ENode): Promise<bigint> {
  return BigInt((await api(n, 'GET', 'balance')).onchain.total_sat);
}

/** Polls `fn` until it returns a truthy value (throws with `what` after `timeoutMs`). */
export async function until<T>(
  fn: () => Promise<T | undefined | false>,
  what: string,
  timeoutMs = 60_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e; // a node restarting: retry
    }
    if (Date.now() > end)
      throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await sleep(100);
  }
}

/** Waits until the wallet balance of `n` equals `want` (then returns it; throws with the last value). */
export async function expectWallet(
  n: E2ENode,
  want: bigint,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  let got: bigint | undefined;
  try {
    await until(
      async () => {
        got = await walletTotal(n);
        return got === want;
      },
      what,
      timeoutMs,
    );
  } catch {
    throw new Error(
      `${what}: ${n.name}'s wallet holds ${got} sat, expected ${want} (diff ${got === undefined ? '?' : got - want})`,
    );
  }
}

/** Funds the nodes' wallets from the devnet and waits until they see it confirmed. */
export async function fund(e: E2E, amounts: Array<[E2ENode, bigint]>): Promise<void> {
  for (const [n, sat] of amounts) e.d.fund((await api(n, 'POST', 'newaddress')).address, sat);
  e.d.mine(1);
  for (const [n, sat] of amounts)
    await until(
      async () => BigInt((await api(n, 'GET', 'balance')).onchain.confirmed_sat) >= sat,
      `${n.name} funded`,
    );
}

/**
 * Waits until every node's chain view is at the devnet's tip: a payer whose view lags more than
 * the 3-block CLTV margin behind the payee's makes HTLCs the payee must refuse as expiring too
 * soon (`incorrect_or_unknown_payment_details`).
 */
export async function synced(e: E2E, nodes: E2ENode[]): Promise<void> {
  const h = e.d.chain.height;
  for (const n of nodes)
    await until(async () => (await api(n, 'GET', 'getinfo')).block_height >= h, `${n.name} at height ${h}`);
}

/** `a` connects to `b` (persistent), both see each other. */
export async function connect(a: E2ENode, b: E2ENode): Promise<void> {
  await api(a, 'POST', 'connect', { peer: `${b.nodeId}@${b.proc.listen}` });
  await until(async () => (await api(b, 'GET', 'getinfo')).num_peers >= 1, `${b.name} sees ${a.name}`);
}

/** Opens a channel from `a` to `b`, mines 6 blocks, waits until both sides are NORMAL and active. */
export async function openChannel(
  e: E2E,
  a: E2ENode,
  b: E2ENode,
  sat: bigint,
  o: { pushMsat?: bigint; type: 'anchors' | 'static_remotekey' },
): Promise<{ id: string; fundingTxid: string }> {
  const r = await api(a, 'POST', 'openchannel', {
    node_id: b.nodeId,
    amount_sat: String(sat),
    channel_type: o.type,
    ...(o.pushMsat !== undefined ? { push_msat: String(o.pushMsat) } : {}),
  });
  e.d.mine(6);
  for (const n of [a, b])
    await until(async () => {
      const c = (await channels(n)).find((x) => x.channel_id === r.channel_id);
      return c?.state === 'NORMAL' && c.active;
    }, `${n.name}: channel ${o.type} ready`);
  await synced(e, [a, b]);
  return { id: r.channel_id, fundingTxid: r.funding_txid };
}

/** Both sides agree on a channel: mirrored balances, no HTLC in flight, balances sum to the capacity. */
export async function settledAgreement(
  a: E2ENode,
  b: E2ENode,
  id: string,
  timeoutMs = 60_000,
): Promise<[Json, Json]> {
  return until(
    async () => {
      const [x, y] = await Promise.all([channel(a, id), channel(b, id)]);
      if (x.pending_htlcs !== 0 || y.pending_htlcs !== 0 || !x.active || !y.active) return false;
      if (x.local_msat !== y.remote_msat || x.remote_msat !== y.local_msat) return false;
      if (x.feerate_per_kw !== y.feerate_per_kw) return false;
      return [x, y] as [Json, Json];
    },
    `${a.name}/${b.name} agree on ${id}`,
    timeoutMs,
  );
}

/** One payment of the stream. */
export interface Job {
  from: E2ENode;
  to: E2ENode;
  bolt11: string;
  hash: string;
  amount: bigint;
}

/** Creates `count` invoices on `to` payable by `from` (amounts from `rand`), 30 at a time. */
export async function makeJobs(
  from: E2ENode,
  to: E2ENode,
  count: number,
  rand: () => number,
): Promise<Job[]> {
  const amounts = Array.from({ length: count }, () => 1_000_000n + BigInt(Math.floor(rand() * 4_000_000)));
  const out: Job[] = [];
  for (let i = 0; i < count; i += 30) {
    const part = await Promise.all(
      amounts
        .slice(i, i + 30)
        .map((m) => api(to, 'POST', 'invoice', { amount_msat: m.toString() }).then((r) => [m, r] as const)),
    );
    for (const [amount, r] of part) out.push({ from, to, bolt11: r.bolt11, hash: r.payment_hash, amount });
  }
  return out;
}

/**
 * Pays every job with `concurrency` workers. A job whose attempt fails (nothing sent while the
 * peer is away, or an HTLC failed by the disconnect) is retried until it succeeds. `hooks[i]`
 * runs (awaited by that worker) when job i starts.
 */
export async function stream(
  jobs: Job[],
  concurrency: number,
  hooks: Record<number, () => Promise<void>> = {},
): Promise<{ retries: number }> {
  let next = 0;
  let retries = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      const j = jobs[i];
      if (!j) return;
      await hooks[i]?.();
      for (let attempt = 0; ; attempt++) {
        if (attempt > 200) throw new Error(`payment ${j.hash} never succeeded`);
        try {
          const r = await api(j.from, 'POST', 'pay', { bolt11: j.bolt11 });
          if (r.status === 'succeeded') break;
        } catch (err) {
          if (err instanceof ApiError && err.code === 'ALREADY_PAID') break;
          if (!(err instanceof ApiError)) throw err;
        }
        retries++;
        await sleep(100);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { retries };
}

/** A small seeded PRNG (mulberry32) so random schedules are reproducible (the seed is logged). */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed of this run: `FARAD_E2E_SEED` or a fresh one (logged by the caller). */
export function runSeed(): number {
  const env = process.env.FARAD_E2E_SEED;
  return env !== undefined ? Number(env) : Math.floor(Math.random() * 2 ** 31);
}
