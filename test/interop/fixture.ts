/**
 * Shared set-up of the interop scenarios: one devnet, Farad nodes (test/node/helpers.ts: TCP +
 * SQLite) and LDK node processes (ldk.ts), plus helpers to mine and wait on both sides.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bitcoindChainSource } from '../../src/adapters/chain/bitcoind.js';
import { TcpTransport } from '../../src/adapters/net/tcp.js';
import { SqliteStore } from '../../src/adapters/store/sqlite.js';
import { type Devnet, startDevnet } from '../../src/apps/devnet/index.js';
import type { ChannelConfig } from '../../src/core/channel/index.js';
import { mnemonicFromEntropy } from '../../src/core/wallet/keys.js';
import { ChannelManager, type HtlcHooks } from '../../src/node/channels/manager.js';
import { NodeKeys } from '../../src/node/keys/index.js';
import { ChainMonitorManager, type MonitorEvent } from '../../src/node/monitor/index.js';
import { PaymentManager } from '../../src/node/payments/index.js';
import { PeerManager } from '../../src/node/peer/index.js';
import { OnchainWallet } from '../../src/node/wallet/wallet.js';
import { fromHex, toHex } from '../../src/protocol/encoding/bytes.js';
import { scriptToAddress } from '../../src/protocol/tx/address.js';
import type { UpdateAddHtlc } from '../../src/protocol/wire/messages.js';
import { useFastCrypto } from '../core/channel/harness.js';
import { type NodeOpts, startNode, stopNode, sync, type TestNode, waitFor } from '../node/helpers.js';
import { type HNode, type HNodeOpts, startHNode, stopHNode } from '../node/multihop-helpers.js';
import { LdkNode } from './ldk.js';
import type { LdkEvent } from './ldk-protocol.js';

export { sleep, waitFor } from '../node/helpers.js';

/** A Farad node with its BOLT 5 chain monitor and a switch holding incoming HTLCs. */
export interface MonitoredNode extends TestNode {
  mon: ChainMonitorManager;
  /** While true, incoming HTLCs are kept in `held` instead of reaching the payment layer. */
  hold: boolean;
  held: Array<{ channelId: string; add: UpdateAddHtlc }>;
  monitorEvents: MonitorEvent[];
}

/**
 * A Farad node like test/node/helpers.ts `startNode` (TCP + SQLite + chain tracker + wallet),
 * plus a {@link ChainMonitorManager} as the channel manager's monitor sink.
 */
async function startMonitoredNode(
  d: Devnet,
  name: string,
  dbPath: string,
  seedByte: number,
  channelConfig: Partial<ChannelConfig>,
): Promise<MonitoredNode> {
  const keys = new NodeKeys(new Uint8Array(32).fill(seedByte));
  const store = new SqliteStore(dbPath);
  const chain = bitcoindChainSource({ url: d.rpcUrl, startHeight: d.chain.height });
  const wallet = new OnchainWallet({
    mnemonic: mnemonicFromEntropy(new Uint8Array(16).fill(seedByte)),
    network: 'regtest',
    chain,
  });
  await wallet.sync();
  const mon = new ChainMonitorManager({ keys, store, chain, wallet, config: { antiReorgDelay: 3 } });
  const cm = new ChannelManager({
    keys,
    store,
    chain,
    wallet,
    closeConfirmations: 3,
    channelConfig,
    monitorSink: mon,
  });
  const node = { name, hold: false, held: [], monitorEvents: [] } as unknown as MonitoredNode;
  const setHooks = cm.setHtlcHooks.bind(cm);
  cm.setHtlcHooks = (h: HtlcHooks) => {
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
  const pm = new PeerManager({
    nodeSecretKey: keys.nodeSecretKey,
    transport: new TcpTransport(),
    channelHandler: cm,
  });
  await pay.load();
  await cm.start(pm);
  await mon.start();
  await pay.recover();
  mon.subscribe((e) => node.monitorEvents.push(e));
  const addr = await pm.listen('127.0.0.1', 0);
  return Object.assign(node, { keys, store, chain, wallet, cm, pay, pm, mon, port: addr.port, dbPath });
}

/** A devnet with Farad and LDK nodes on it. */
export class Interop {
  readonly dir: string;
  readonly d: Devnet;
  readonly faradNodes: TestNode[] = [];
  readonly ldkNodes: LdkNode[] = [];
  /** The Farad nodes started with {@link routingNode} (stopped with their forwarding manager). */
  readonly routing = new Set<TestNode>();

  private constructor(d: Devnet, dir: string) {
    this.d = d;
    this.dir = dir;
  }

  /** A devnet with 101 blocks (mature miner coins). */
  static async start(): Promise<Interop> {
    useFastCrypto();
    const d = await startDevnet();
    d.mine(101);
    return new Interop(d, mkdtempSync(join(tmpdir(), 'farad-interop-')));
  }

  /** Starts a Farad node on SQLite (`<dir>/<name>.db`) and funds its wallet with `fundSats`. */
  async faradNode(
    name: string,
    o: Partial<NodeOpts> & { seedByte: number },
    fundSats = 0n,
  ): Promise<TestNode> {
    const n = await startNode(this.d, name, { dbPath: join(this.dir, `${name}.db`), ...o });
    if (fundSats > 0n) {
      this.d.fund(n.wallet.newAddress(), fundSats);
      this.d.mine(1);
      await sync(n);
    }
    this.faradNodes.push(n);
    return n;
  }

  /** Starts a Farad node with a BOLT 5 chain monitor (see {@link MonitoredNode}). */
  async monitoredNode(
    name: string,
    seedByte: number,
    fundSats: bigint,
    channelConfig: Partial<ChannelConfig> = {},
  ): Promise<MonitoredNode> {
    const n = await startMonitoredNode(this.d, name, join(this.dir, `${name}.db`), seedByte, channelConfig);
    this.faradNodes.push(n);
    if (fundSats > 0n) {
      this.d.fund(n.wallet.newAddress(), fundSats);
      this.d.mine(1);
      await this.syncAll();
    }
    return n;
  }

  /**
   * Starts a routing Farad node (test/node/multihop-helpers.ts: payments over a network graph
   * plus a ForwardingManager) and funds its wallet with `fundSats`.
   */
  async routingNode(name: string, o: Omit<HNodeOpts, 'dbPath'>, fundSats = 0n): Promise<HNode> {
    const n = await startHNode(this.d, name, { dbPath: join(this.dir, `${name}.db`), ...o });
    this.faradNodes.push(n);
    this.routing.add(n);
    if (fundSats > 0n) {
      this.d.fund(n.wallet.newAddress(), fundSats);
      this.d.mine(1);
      await this.syncAll();
    }
    return n;
  }

  /** Restarts a Farad node from its SQLite file (the chain view and wallet are reused). */
  async restartFarad(n: TestNode, o: Partial<NodeOpts> & { seedByte: number }): Promise<TestNode> {
    await stopNode(n);
    const m = await startNode(this.d, n.name, {
      dbPath: n.dbPath!,
      reuse: { chain: n.chain, wallet: n.wallet },
      port: n.port,
      ...o,
    });
    this.faradNodes[this.faradNodes.indexOf(n)] = m;
    return m;
  }

  /** Starts an LDK node process; its harness wallet gets `fundSats` (confirmed). */
  async ldkNode(
    name: string,
    seedByte: number,
    o: { trustedPeers?: string[]; fundSats?: bigint } = {},
  ): Promise<LdkNode> {
    const dataDir = join(this.dir, name);
    mkdirSync(dataDir, { recursive: true });
    const n = await LdkNode.start({
      seed: toHex(new Uint8Array(32).fill(seedByte)),
      dataDir,
      rpcUrl: this.d.rpcUrl,
      trustedPeers: o.trustedPeers ?? [],
      minimumDepth: 3,
    });
    this.ldkNodes.push(n);
    if (o.fundSats) {
      const w = await n.wallet();
      const addr = scriptToAddress(fromHex(w.scripts[0]!), 'regtest')!;
      this.d.fund(addr, o.fundSats);
      this.d.mine(1);
      await n.sync();
    }
    return n;
  }

  /** Mines `n` blocks; every node processes them. */
  async mine(n: number): Promise<void> {
    this.d.mine(n);
    await this.syncAll();
  }

  /** Every node processes the chain up to the devnet tip (Farad: channels and monitors idle, twice). */
  async syncAll(): Promise<void> {
    for (let k = 0; k < 2; k++) {
      await sync(...this.faradNodes);
      for (const n of this.faradNodes) if ('mon' in n) await (n as MonitoredNode).mon.whenIdle();
    }
    await Promise.all(this.ldkNodes.map((l) => l.sync()));
  }

  async stop(): Promise<void> {
    for (const l of this.ldkNodes) await l.stop().catch(() => undefined);
    for (const n of this.faradNodes) {
      if (this.routing.has(n)) {
        await stopHNode(n as HNode).catch(() => undefined);
        continue;
      }
      await stopNode(n).catch(() => undefined);
      if ('mon' in n) await (n as MonitoredNode).mon.stop().catch(() => undefined);
    }
    await this.d.stop();
    if (!process.env.KEEP_INTEROP) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Waits until LDK reports an event matching `pred` (returns it). */
export async function ldkEvent<T extends LdkEvent['type']>(
  n: LdkNode,
  type: T,
  pred: (e: Extract<LdkEvent, { type: T }>) => boolean = () => true,
  timeoutMs = 20_000,
): Promise<Extract<LdkEvent, { type: T }>> {
  let found: Extract<LdkEvent, { type: T }> | undefined;
  await waitFor(
    async () => {
      const evs = await n.events();
      found = evs.find((e): e is Extract<LdkEvent, { type: T }> => e.type === type && pred(e as never));
      return found !== undefined;
    },
    timeoutMs,
    `LDK event ${type}`,
  );
  return found!;
}
