/**
 * Test wiring of a Farad node with its BOLT 5 chain monitor, in-process on the devnet (real TCP,
 * SQLite): like ./helpers.ts plus a {@link ChainMonitorManager}, short channel delays, a switch
 * that holds incoming HTLCs away from the payment layer and one that drops the node's channel
 * messages (so fulfills never reach the peer), and fee accounting from the devnet's transactions.
 */
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { bitcoindChainSource } from '../../src/adapters/chain/bitcoind.js';
import { TcpTransport } from '../../src/adapters/net/tcp.js';
import { SqliteStore } from '../../src/adapters/store/sqlite.js';
import { type Devnet, startDevnet } from '../../src/apps/devnet/index.js';
import type { ChannelConfig } from '../../src/core/channel/index.js';
import { mnemonicFromEntropy } from '../../src/core/wallet/keys.js';
import type { ChainTracker } from '../../src/node/chain/tracker.js';
import { ChannelManager, type HtlcHooks } from '../../src/node/channels/manager.js';
import { NodeKeys } from '../../src/node/keys/index.js';
import {
  ChainMonitorManager,
  type ChainMonitorOptions,
  type MonitorEvent,
} from '../../src/node/monitor/index.js';
import { PaymentManager } from '../../src/node/payments/index.js';
import { PeerManager } from '../../src/node/peer/index.js';
import { OnchainWallet } from '../../src/node/wallet/wallet.js';
import { toHex } from '../../src/protocol/encoding/bytes.js';
import type { Transaction } from '../../src/protocol/tx/transaction.js';
import type { UpdateAddHtlc } from '../../src/protocol/wire/messages.js';
import { useFastCrypto } from '../core/channel/harness.js';

/**
 * Registers the suite set-up of a monitor test file: a devnet with 101 blocks and a temporary
 * directory (prefix `prefix`), handed to `set`; afterwards every node in `running` is stopped,
 * the devnet too, and the directory removed.
 */
export function useMonitorSuite(
  prefix: string,
  set: (d: Devnet, dir: string) => void,
  running: MNode[],
): void {
  let d: Devnet | undefined;
  let dir: string | undefined;
  beforeAll(async () => {
    useFastCrypto();
    d = await startDevnet();
    d.mine(101);
    dir = mkdtempSync(join(tmpdir(), prefix));
    set(d, dir);
  });
  afterAll(async () => {
    for (const n of running) await stopMNode(n).catch(() => undefined);
    await d?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
}

/** The files of a SQLite store: database, WAL and shared memory. */
const DB_SUFFIXES = ['', '-wal', '-shm'];

/** Copies the SQLite store at `db` (with its WAL) to `to` (an old copy, for breach tests). */
export function snapshotDb(db: string, to: string): void {
  for (const s of DB_SUFFIXES) if (existsSync(db + s)) copyFileSync(db + s, to + s);
}

/** Puts the copy at `from` back as the store at `db` (files absent from the copy are removed). */
export function restoreDb(from: string, db: string): void {
  for (const s of DB_SUFFIXES) {
    if (existsSync(from + s)) copyFileSync(from + s, db + s);
    else rmSync(db + s, { force: true });
  }
}

export interface MNode {
  name: string;
  seedByte: number;
  keys: NodeKeys;
  store: SqliteStore;
  chain: ChainTracker;
  wallet: OnchainWallet;
  cm: ChannelManager;
  pay: PaymentManager;
  pm: PeerManager;
  mon: ChainMonitorManager;
  port: number;
  dbPath: string;
  events: MonitorEvent[];
  /** While true, incoming HTLCs are kept in `held` instead of reaching the payment layer. */
  hold: boolean;
  held: Array<{ channelId: string; add: UpdateAddHtlc }>;
  /** While true, the node's channel messages are dropped (the peer never sees them). */
  drop: boolean;
  /** The payment layer's hooks (to release held HTLCs). */
  payHooks: HtlcHooks;
  /** What the monitors of previous incarnations published. */
  pastPublished: Array<{ channelId: string; txid: string; kind: string }>;
  /** Monitor compaction options (kept across restarts). */
  monitorOpts: MonitorOpts;
}

/** Monitor compaction options of a test node. */
export type MonitorOpts = Pick<ChainMonitorOptions, 'compactEvery' | 'keepUpdates'>;

export const CHANNEL_CONFIG: Partial<ChannelConfig> = { toSelfDelay: 6, minimumDepth: 1 };

/** Builds and starts a node with its chain monitor. */
export async function startMNode(
  d: Devnet,
  name: string,
  o: {
    seedByte: number;
    dbPath: string;
    reuse?: Pick<MNode, 'chain' | 'wallet'>;
    monitor?: MonitorOpts;
  },
): Promise<MNode> {
  const keys = new NodeKeys(new Uint8Array(32).fill(o.seedByte));
  const store = new SqliteStore(o.dbPath);
  const { chain, wallet } = await chainAndWallet(d, o.seedByte, o.reuse);
  const monitorOpts = o.monitor ?? {};
  const mon = new ChainMonitorManager({
    keys,
    store,
    chain,
    wallet,
    config: { antiReorgDelay: 3 },
    ...monitorOpts,
  });
  const cm = new ChannelManager({
    keys,
    store,
    chain,
    wallet,
    closeConfirmations: 3,
    channelConfig: CHANNEL_CONFIG,
    monitorSink: mon,
  });
  const node = {
    name,
    seedByte: o.seedByte,
    hold: false,
    held: [],
    drop: false,
    pastPublished: [],
    monitorOpts,
  } as unknown as MNode;
  const setHooks = cm.setHtlcHooks.bind(cm);
  cm.setHtlcHooks = (h: HtlcHooks) => {
    node.payHooks = h;
    setHooks({
      htlcReceived: (cid, add, mustFail) => {
        if (node.hold && !mustFail) {
          node.held.push({ channelId: cid, add });
          return;
        }
        return h.htlcReceived(cid, add, mustFail);
      },
      htlcFulfilled: (...a) => h.htlcFulfilled(...a),
      htlcFailed: (...a) => h.htlcFailed(...a),
    });
  };
  const pay = new PaymentManager({ channels: cm, keys });
  mon.attach({ channels: cm, payments: pay });
  const { pm, events, port } = await wireAndStart(node, { keys, cm, mon, pay }, 0);
  return Object.assign(node, {
    keys,
    store,
    chain,
    wallet,
    cm,
    pay,
    pm,
    mon,
    port,
    dbPath: o.dbPath,
    events,
  });
}

/** The chain view and wallet of a test node (`reuse`d across a restart, else new and synced). */
export async function chainAndWallet(
  d: Devnet,
  seedByte: number,
  reuse?: { chain: ChainTracker; wallet: OnchainWallet },
): Promise<{ chain: ChainTracker; wallet: OnchainWallet }> {
  if (reuse) return reuse;
  const chain = bitcoindChainSource({ url: d.rpcUrl, startHeight: d.chain.height });
  const wallet = new OnchainWallet({
    mnemonic: mnemonicFromEntropy(new Uint8Array(16).fill(seedByte)),
    network: 'regtest',
    chain,
  });
  await wallet.sync();
  return { chain, wallet };
}

/**
 * Connects a test node's channel manager to a TCP {@link PeerManager} (its messages dropped while
 * `node.drop`), starts payments, channels and monitor in the runtime's order, and listens.
 */
export async function wireAndStart(
  node: { drop: boolean },
  parts: { keys: NodeKeys; cm: ChannelManager; mon: ChainMonitorManager; pay: PaymentManager },
  port: number,
): Promise<{ pm: PeerManager; events: MonitorEvent[]; port: number }> {
  const { keys, cm, mon, pay } = parts;
  const pm = new PeerManager({
    nodeSecretKey: keys.nodeSecretKey,
    transport: new TcpTransport(),
    channelHandler: cm,
  });
  await pay.load();
  await cm.start({
    sendMessage: (id, msg) => (node.drop ? true : pm.sendMessage(id, msg)),
    isConnected: (id) => pm.isConnected(id),
    onPeerConnected: (l) => pm.onPeerConnected(l),
    onPeerDisconnected: (l) => pm.onPeerDisconnected(l),
  });
  await mon.start();
  await pay.recover();
  const events: MonitorEvent[] = [];
  mon.subscribe((e) => events.push(e));
  const addr = await pm.listen('127.0.0.1', port);
  return { pm, events, port: addr.port };
}

export async function stopMNode(n: MNode): Promise<void> {
  await n.pm.stop();
  await n.cm.stop();
  await n.mon.stop();
  await n.store.close();
}

/**
 * Stops the node, mines `blocksWhileDown` blocks, and starts it again from its SQLite file (same
 * chain view and wallet); events and published transactions carry over.
 */
export async function restartMNode(
  d: Devnet,
  n: MNode,
  blocksWhileDown: number,
  monitor: MonitorOpts = n.monitorOpts,
): Promise<MNode> {
  const past = [...n.pastPublished, ...n.mon.published()];
  await stopMNode(n);
  d.mine(blocksWhileDown);
  const m = await startMNode(d, n.name, {
    seedByte: n.seedByte,
    dbPath: n.dbPath,
    reuse: { chain: n.chain, wallet: n.wallet },
    monitor,
  });
  m.pastPublished = past;
  m.events.unshift(...n.events);
  return m;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = 'condition',
) {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Polls the nodes' chain views and waits until channel runtimes and monitors are idle (twice). */
export async function settle(...nodes: Pick<MNode, 'chain' | 'cm' | 'mon'>[]): Promise<void> {
  for (let k = 0; k < 2; k++) {
    for (const n of nodes) await n.chain.poll();
    for (const n of nodes) {
      await n.cm.whenIdle();
      await n.mon.whenIdle();
    }
  }
}

export async function connectNodes(
  a: Pick<MNode, 'pm' | 'keys' | 'port'>,
  b: Pick<MNode, 'pm' | 'keys' | 'port'>,
): Promise<void> {
  await a.pm.connect(b.keys.nodeId, '127.0.0.1', b.port);
  await waitFor(() => b.pm.isConnected(a.keys.nodeId), 5000, 'connection');
}

/** Mines one block at a time (nodes settle in between) until `pred` holds. Returns the blocks mined. */
export async function mineUntil(
  d: Devnet,
  nodes: Pick<MNode, 'chain' | 'cm' | 'mon'>[],
  pred: () => boolean,
  max = 80,
): Promise<number> {
  let n = 0;
  while (!pred()) {
    if (n >= max) throw new Error(`condition not reached after ${max} blocks`);
    d.mine(1);
    n++;
    await settle(...nodes);
  }
  return n;
}

/** Inputs minus outputs of a confirmed devnet transaction. */
export function feeOf(d: Devnet, txid: string): bigint {
  const c = d.chain.getConfirmedTx(txid);
  if (!c) throw new Error(`tx ${txid} not confirmed`);
  return feeOfTx(d, c.tx);
}

export function feeOfTx(d: Devnet, tx: Transaction): bigint {
  let inSum = 0n;
  for (const i of tx.inputs) inSum += prevValue(d, toHex(i.txid), i.vout);
  let out = 0n;
  for (const o of tx.outputs) out += o.value;
  return inSum - out;
}

export function prevValue(d: Devnet, txid: string, vout: number): bigint {
  const p = d.chain.getConfirmedTx(txid);
  if (!p) throw new Error(`prevout ${txid} not confirmed`);
  return p.tx.outputs[vout]!.value;
}

/** Confirmed transactions the node's monitor published (optionally excluding some kinds). */
export function confirmedPublished(
  d: Devnet,
  n: MNode,
  exclude: string[] = [],
): Array<{ txid: string; kind: string; tx: Transaction }> {
  const out: Array<{ txid: string; kind: string; tx: Transaction }> = [];
  for (const p of [...n.pastPublished, ...n.mon.published()]) {
    if (exclude.includes(p.kind)) continue;
    const c = d.chain.getConfirmedTx(p.txid);
    if (c) out.push({ txid: p.txid, kind: p.kind, tx: c.tx });
  }
  return out;
}

export function total(n: MNode): bigint {
  return n.wallet.balances().total;
}
