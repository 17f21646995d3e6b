/**
 * Test wiring of a whole Farad node in-process: NodeKeys + store (memory or SQLite) +
 * ChainTracker over the devnet's bitcoind RPC + OnchainWallet + ChannelManager + PaymentManager
 * + PeerManager over real TCP (127.0.0.1).
 */

import { bitcoindChainSource } from '../../src/adapters/chain/bitcoind.js';
import { TcpTransport } from '../../src/adapters/net/tcp.js';
import { SqliteStore } from '../../src/adapters/store/sqlite.js';
import type { Devnet } from '../../src/apps/devnet/index.js';
import { mnemonicFromEntropy } from '../../src/core/wallet/keys.js';
import type { ChainTracker } from '../../src/node/chain/tracker.js';
import { ChannelManager, type ChannelPeers, type MonitorSink } from '../../src/node/channels/index.js';
import { NodeKeys } from '../../src/node/keys/index.js';
import { PaymentManager } from '../../src/node/payments/index.js';
import { PeerManager } from '../../src/node/peer/index.js';
import type { KVStore } from '../../src/node/ports/store.js';
import { MemoryStore } from '../../src/node/store/memory.js';
import { OnchainWallet } from '../../src/node/wallet/wallet.js';

export interface TestNode {
  name: string;
  keys: NodeKeys;
  store: KVStore;
  chain: ChainTracker;
  wallet: OnchainWallet;
  cm: ChannelManager;
  pay: PaymentManager;
  pm: PeerManager;
  port: number;
  dbPath: string | undefined;
}

export interface NodeOpts {
  seedByte: number;
  dbPath?: string;
  trustedPeers?: string[];
  /** Reuse the chain view and wallet of a previous incarnation (restart of the channel runtime only). */
  reuse?: Pick<TestNode, 'chain' | 'wallet'>;
  port?: number;
  monitorSink?: MonitorSink;
  /** Wraps the store / the peer port given to the channel manager (to observe ordering). */
  wrapStore?: (s: KVStore) => KVStore;
  wrapPeers?: (p: ChannelPeers) => ChannelPeers;
}

/** Builds and starts a node. */
export async function startNode(d: Devnet, name: string, o: NodeOpts): Promise<TestNode> {
  const keys = new NodeKeys(new Uint8Array(32).fill(o.seedByte));
  const raw: KVStore = o.dbPath ? new SqliteStore(o.dbPath) : new MemoryStore();
  const store = o.wrapStore ? o.wrapStore(raw) : raw;
  let chain: ChainTracker;
  let wallet: OnchainWallet;
  if (o.reuse) {
    chain = o.reuse.chain;
    wallet = o.reuse.wallet;
  } else {
    const tip = d.chain.height;
    chain = bitcoindChainSource({ url: d.rpcUrl, startHeight: tip });
    wallet = new OnchainWallet({
      mnemonic: mnemonicFromEntropy(new Uint8Array(16).fill(o.seedByte)),
      network: 'regtest',
      chain,
    });
    await wallet.sync();
  }
  const cm = new ChannelManager({
    keys,
    store,
    chain,
    wallet,
    ...(o.trustedPeers ? { trustedPeers: o.trustedPeers } : {}),
    closeConfirmations: 3,
    ...(o.monitorSink ? { monitorSink: o.monitorSink } : {}),
  });
  const pay = new PaymentManager({ channels: cm, keys });
  const pm = new PeerManager({
    nodeSecretKey: keys.nodeSecretKey,
    transport: new TcpTransport(),
    channelHandler: cm,
  });
  await pay.load();
  await cm.start(o.wrapPeers ? o.wrapPeers(pm) : pm);
  await pay.recover();
  const addr = await pm.listen('127.0.0.1', o.port ?? 0);
  return { name, keys, store, chain, wallet, cm, pay, pm, port: addr.port, dbPath: o.dbPath };
}

/** Stops the node's peers and channel runtime and closes its store. */
export async function stopNode(n: TestNode): Promise<void> {
  await n.pm.stop();
  await n.cm.stop();
  await n.store.close();
}

/** Polls every node's chain view, then waits until every channel runtime is idle. */
export async function sync(...nodes: TestNode[]): Promise<void> {
  for (const n of nodes) await n.chain.poll();
  for (const n of nodes) await n.cm.whenIdle();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `cond` until true (throws after `timeoutMs`). */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Connects `a` to `b` and waits until both see each other. */
export async function connect(a: TestNode, b: TestNode): Promise<void> {
  await a.pm.connect(b.keys.nodeId, '127.0.0.1', b.port);
  await waitFor(() => b.pm.isConnected(a.keys.nodeId), 5000, 'connection');
}
