/**
 * Test wiring of routing Farad nodes in-process on the devnet (real TCP, SQLite): NodeKeys +
 * ChainTracker + OnchainWallet + ChannelManager + ChainMonitorManager + PaymentManager (with a
 * network graph) + ForwardingManager + PeerManager, short channel delays; a graph builder that
 * mirrors the public channels opened in a test with every node's forwarding policy.
 */
import { SqliteStore } from '../../src/adapters/store/sqlite.js';
import type { Devnet } from '../../src/apps/devnet/index.js';
import type { ChannelConfig, HtlcFailure } from '../../src/core/channel/index.js';
import { NetworkGraph } from '../../src/core/gossip/graph.js';
import type { ChainTracker } from '../../src/node/chain/tracker.js';
import { ChannelManager, fundedData } from '../../src/node/channels/manager.js';
import { ForwardingManager, type ForwardingPolicy } from '../../src/node/forwarding/index.js';
import { NodeKeys } from '../../src/node/keys/index.js';
import { ChainMonitorManager, type MonitorEvent } from '../../src/node/monitor/index.js';
import { PaymentManager, type PaymentManagerOptions } from '../../src/node/payments/index.js';
import type { PeerManager } from '../../src/node/peer/index.js';
import { CHAIN_HASHES } from '../../src/node/peer/init.js';
import type { Clock } from '../../src/node/ports/clock.js';
import type { OnchainWallet } from '../../src/node/wallet/wallet.js';
import { compare } from '../../src/protocol/encoding/bytes.js';

export interface HNode {
  name: string;
  seedByte: number;
  keys: NodeKeys;
  store: SqliteStore;
  chain: ChainTracker;
  wallet: OnchainWallet;
  cm: ChannelManager;
  pay: PaymentManager;
  fwd: ForwardingManager;
  pm: PeerManager;
  mon: ChainMonitorManager;
  port: number;
  dbPath: string;
  events: MonitorEvent[];
  /** While true, the node's channel messages are dropped (the peers never see them). */
  drop: boolean;
  /** Every outgoing HTLC failure the channel runtime reported (before the payment layer). */
  failures: Array<{ channelId: string; htlcId: bigint; paymentHash: Uint8Array; failure: HtlcFailure }>;
}

export const CHANNEL_CONFIG: Partial<ChannelConfig> = { toSelfDelay: 6, minimumDepth: 1 };

export interface HNodeOpts {
  seedByte: number;
  dbPath: string;
  reuse?: Pick<HNode, 'chain' | 'wallet'>;
  graph?: NetworkGraph;
  payments?: Partial<Omit<PaymentManagerOptions, 'channels' | 'keys' | 'graph'>>;
  policy?: Partial<ForwardingPolicy>;
  clock?: Clock;
  port?: number;
}

/** Builds and starts a routing node. */
export async function startHNode(d: Devnet, name: string, o: HNodeOpts): Promise<HNode> {
  const keys = new NodeKeys(new Uint8Array(32).fill(o.seedByte));
  const store = new SqliteStore(o.dbPath);
  const { chain, wallet } = await chainAndWallet(d, o.seedByte, o.reuse);
  const mon = new ChainMonitorManager({ keys, store, chain, wallet, config: { antiReorgDelay: 3 } });
  const cm = new ChannelManager({
    keys,
    store,
    chain,
    wallet,
    closeConfirmations: 3,
    channelConfig: CHANNEL_CONFIG,
    monitorSink: mon,
    ...(o.clock ? { clock: o.clock } : {}),
  });
  const node = { drop: false, failures: [] } as unknown as HNode;
  const setHooks = cm.setHtlcHooks.bind(cm);
  cm.setHtlcHooks = (h) =>
    setHooks({
      ...h,
      htlcFailed: (cid, id, hash, failure) => {
        node.failures.push({ channelId: cid, htlcId: id, paymentHash: hash, failure });
        return h.htlcFailed(cid, id, hash, failure);
      },
    });
  const pay = new PaymentManager({
    channels: cm,
    keys,
    ...(o.graph ? { graph: o.graph } : {}),
    ...o.payments,
  });
  const fwd = new ForwardingManager({
    channels: cm,
    keys,
    payments: pay,
    ...(o.policy ? { defaultPolicy: o.policy } : {}),
  });
  mon.attach({ channels: cm, payments: pay });
  const { pm, events, port } = await wireAndStart(node, { keys, cm, mon, pay }, o.port ?? 0);
  return Object.assign(node, {
    name,
    seedByte: o.seedByte,
    keys,
    store,
    chain,
    wallet,
    cm,
    pay,
    fwd,
    pm,
    mon,
    port,
    dbPath: o.dbPath,
    events,
  });
}

/** Stops the node and starts it again from its SQLite file (same chain view and wallet). */
export async function restartHNode(d: Devnet, n: HNode, o: Partial<HNodeOpts> = {}): Promise<HNode> {
  await stopHNode(n);
  return startHNode(d, n.name, {
    seedByte: n.seedByte,
    dbPath: n.dbPath,
    reuse: { chain: n.chain, wallet: n.wallet },
    ...o,
  });
}

export async function stopHNode(n: HNode): Promise<void> {
  n.fwd.close();
  await n.pm.stop();
  await n.cm.stop();
  await n.mon.stop();
  await n.store.close();
}

import { chainAndWallet, wireAndStart } from './monitor-helpers.js';

export { connectNodes, mineUntil, settle, sleep, waitFor } from './monitor-helpers.js';

/** A fresh graph for this devnet's chain. */
export function newGraph(): NetworkGraph {
  return new NetworkGraph(CHAIN_HASHES.regtest);
}

/**
 * Adds a public channel between `a` and `b` to `graph` with each side's forwarding policy (what
 * their `channel_update`s would announce).
 */
export function addToGraph(graph: NetworkGraph, a: HNode, b: HNode, channelId: string): void {
  const c = a.cm.channel(channelId)!;
  if (c.shortChannelId === undefined) throw new Error('channel has no scid yet');
  graph.addChannel({
    scid: c.shortChannelId,
    nodeId1: a.keys.nodePublicKey,
    nodeId2: b.keys.nodePublicKey,
    capacitySat: c.capacitySat,
  });
  for (const n of [a, b]) {
    const other = n === a ? b : a;
    const dir: 0 | 1 = compare(n.keys.nodePublicKey, other.keys.nodePublicKey) < 0 ? 0 : 1;
    const pol = n.fwd.channelPolicy(channelId);
    const st = n.cm.channelState(channelId)!;
    const peerMin = fundedData(st)!.commitments.params.remote.htlcMinimumMsat;
    graph.setPolicy(c.shortChannelId, dir, {
      timestamp: 1,
      cltvExpiryDelta: pol.cltvExpiryDelta,
      htlcMinimumMsat: pol.htlcMinimumMsat > peerMin ? pol.htlcMinimumMsat : peerMin,
      htlcMaximumMsat: pol.htlcMaximumMsat ?? c.capacitySat * 1000n,
      feeBaseMsat: pol.feeBaseMsat,
      feeProportionalMillionths: pol.feeProportionalMillionths,
    });
  }
}
