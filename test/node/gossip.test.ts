/**
 * Gossip end to end on the devnet, in-process nodes over real TCP (memory stores): a line of
 * public channels A–B–C–D plus a private channel B–D. After 6 confirmations every graph holds
 * every public channel with both directions' policies and every node announcement, and never the
 * private channel (whose alias shows up only in D's invoice route hints); a late node E syncs the
 * whole graph through gossip_queries; forged announcements (bad signature, funding output with
 * the wrong script, missing output) are rejected; a cooperatively closed channel leaves every
 * graph 12 blocks after its close confirms.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bitcoindChainSource } from '../../src/adapters/chain/bitcoind.js';
import { TcpTransport } from '../../src/adapters/net/tcp.js';
import { type Devnet, startDevnet } from '../../src/apps/devnet/index.js';
import {
  assembleChannelAnnouncement,
  buildChannelAnnouncement,
  createAnnouncementSignatures,
} from '../../src/core/gossip/index.js';
import { mnemonicFromEntropy } from '../../src/core/wallet/keys.js';
import type { ChainTracker } from '../../src/node/chain/tracker.js';
import { ChannelManager } from '../../src/node/channels/index.js';
import { DEFAULT_FORWARDING_POLICY } from '../../src/node/forwarding/types.js';
import { GossipManager } from '../../src/node/gossip/index.js';
import { NodeKeys } from '../../src/node/keys/index.js';
import { PaymentManager } from '../../src/node/payments/index.js';
import { PeerManager } from '../../src/node/peer/index.js';
import { MemoryStore } from '../../src/node/store/memory.js';
import { OnchainWallet } from '../../src/node/wallet/wallet.js';
import { secp } from '../../src/protocol/crypto/secp256k1.js';
import { compare, fromHex, toHex } from '../../src/protocol/encoding/bytes.js';
import { decodeInvoice } from '../../src/protocol/invoice/index.js';
import { type ChannelAnnouncement, scidFromParts, scidToParts } from '../../src/protocol/wire/index.js';
import { useFastCrypto } from '../core/channel/harness.js';
import { sleep, waitFor } from './helpers.js';

interface GNode {
  name: string;
  keys: NodeKeys;
  chain: ChainTracker;
  wallet: OnchainWallet;
  cm: ChannelManager;
  pay: PaymentManager;
  pm: PeerManager;
  gossip: GossipManager;
  port: number;
}

let d: Devnet;
const nodes: GNode[] = [];
let A: GNode;
let B: GNode;
let C: GNode;
let D: GNode;
let E: GNode;
const pub: Record<string, string> = {}; // name → channel id
let privId: string;

async function startGossipNode(
  name: string,
  seedByte: number,
  extra: { filterBacklogSeconds?: number } = {},
): Promise<GNode> {
  const keys = new NodeKeys(new Uint8Array(32).fill(seedByte));
  const store = new MemoryStore();
  const chain = bitcoindChainSource({ url: d.rpcUrl, startHeight: d.chain.height });
  const wallet = new OnchainWallet({
    mnemonic: mnemonicFromEntropy(new Uint8Array(16).fill(seedByte)),
    network: 'regtest',
    chain,
  });
  await wallet.sync();
  const cm = new ChannelManager({ keys, store, chain, wallet, closeConfirmations: 3 });
  const pay = new PaymentManager({ channels: cm, keys });
  const gossip = new GossipManager({
    keys,
    store,
    chain,
    channels: cm,
    flushIntervalMs: 100,
    disableAfterMs: 300,
    node: {
      alias: `farad-${name}`,
      color: 'ff8800',
      addresses: [{ type: 'ipv4', addr: new Uint8Array([127, 0, 0, 1]), port: 9735 }],
    },
    ...extra,
  });
  const pm = new PeerManager({
    nodeSecretKey: keys.nodeSecretKey,
    transport: new TcpTransport(),
    channelHandler: cm,
    gossipHandler: gossip,
  });
  await pay.load();
  await cm.start(pm);
  await gossip.start(pm);
  await pay.recover();
  const addr = await pm.listen('127.0.0.1', 0);
  const n = { name, keys, chain, wallet, cm, pay, pm, gossip, port: addr.port };
  nodes.push(n);
  return n;
}

async function syncAll(): Promise<void> {
  for (const n of nodes) await n.chain.poll();
  for (const n of nodes) await n.cm.whenIdle();
  for (const n of nodes) await n.gossip.whenIdle();
}

async function mine(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    d.mine(1);
    await syncAll();
  }
}

async function connect(a: GNode, b: GNode): Promise<void> {
  await a.pm.connect(b.keys.nodeId, '127.0.0.1', b.port);
  await waitFor(() => b.pm.isConnected(a.keys.nodeId), 5000, 'connection');
}

function scidOf(n: GNode, channelId: string): bigint {
  const s = n.cm.channel(channelId)?.shortChannelId;
  if (s === undefined) throw new Error(`${n.name}: no scid for ${channelId}`);
  return s;
}

/** Every public channel with both policies and every node announcement, in `n`'s graph. */
function complete(n: GNode, scids: bigint[], nodeIds: string[]): boolean {
  const g = n.gossip.graph;
  for (const s of scids) {
    const c = g.getChannel(s);
    if (!c?.policies[0] || !c.policies[1]) return false;
  }
  return nodeIds.every((id) => g.getNode(fromHex(id))?.announcement !== undefined);
}

/** A graph description in a canonical order (graphs list in insertion order). */
function sorted(g: ReturnType<GossipManager['describeGraph']>) {
  return {
    nodes: [...g.nodes].sort((x, y) => x.nodeId.localeCompare(y.nodeId)),
    channels: [...g.channels].sort((x, y) => x.scid.localeCompare(y.scid)),
  };
}

beforeAll(async () => {
  useFastCrypto();
  d = await startDevnet();
  d.mine(101);
  A = await startGossipNode('a', 31);
  B = await startGossipNode('b', 32);
  C = await startGossipNode('c', 33);
  D = await startGossipNode('d', 34);
  for (const n of [A, B, C, D]) d.fund(n.wallet.newAddress(), 3_000_000n);
  d.mine(1);
  await syncAll();
  await connect(A, B);
  await connect(B, C);
  await connect(C, D);
  await connect(B, D);
}, 30_000);

afterAll(async () => {
  for (const n of nodes) {
    await n.pm.stop().catch(() => undefined);
    await n.gossip.stop().catch(() => undefined);
    await n.cm.stop().catch(() => undefined);
  }
  await d?.stop();
});

describe('gossip over the devnet', () => {
  it('announces public channels after 6 confirmations to every node; the private one stays private', async () => {
    pub.ab = (
      await A.cm.openChannel(B.keys.nodeId, 400_000n, { announce: true, pushMsat: 50_000_000n })
    ).channelId;
    pub.bc = (
      await B.cm.openChannel(C.keys.nodeId, 400_000n, { announce: true, pushMsat: 50_000_000n })
    ).channelId;
    pub.cd = (
      await C.cm.openChannel(D.keys.nodeId, 300_000n, { announce: true, pushMsat: 50_000_000n })
    ).channelId;
    privId = (await B.cm.openChannel(D.keys.nodeId, 200_000n, { pushMsat: 20_000_000n })).channelId;
    await syncAll();
    await mine(3);
    await waitFor(
      () => [A, B, C, D].every((n) => n.cm.listChannels().every((c) => c.state === 'Normal')),
      10_000,
      'channels Normal',
    );
    // Below 6 confirmations nothing is announced.
    await sleep(300);
    for (const n of [A, B, C, D]) expect(n.gossip.graph.channelCount).toBe(0);
    await mine(3);
    const scids = [scidOf(A, pub.ab!), scidOf(B, pub.bc!), scidOf(C, pub.cd!)];
    const ids = [A, B, C, D].map((n) => n.keys.nodeId);
    await waitFor(() => [A, B, C, D].every((n) => complete(n, scids, ids)), 15_000, 'complete graphs');
    const privScid = scidOf(B, privId);
    const privAliases = [B.cm.channel(privId)!.localAlias, B.cm.channel(privId)!.remoteAlias];
    for (const n of [A, B, C, D]) {
      const g = n.gossip.graph;
      expect(g.channelCount).toBe(3);
      expect(g.getChannel(privScid)).toBeUndefined();
      for (const al of privAliases) if (al !== undefined) expect(g.getChannel(al)).toBeUndefined();
      // Capacities come from the funding outputs; policies from each end's channel_update.
      expect(g.getChannel(scids[0]!)!.capacitySat).toBe(400_000n);
      expect(g.getChannel(scids[2]!)!.capacitySat).toBe(300_000n);
      const desc = n.gossip.describeGraph();
      expect(desc.nodes.map((x) => x.alias).sort()).toEqual(['farad-a', 'farad-b', 'farad-c', 'farad-d']);
      expect(desc.nodes[0]!.addresses).toEqual(['127.0.0.1:9735']);
      for (const c of desc.channels) {
        expect(c.policies[0]).toMatchObject({
          feeBaseMsat: 1000,
          feeProportionalMillionths: 1,
          cltvExpiryDelta: DEFAULT_FORWARDING_POLICY.cltvExpiryDelta,
          disabled: false,
        });
      }
    }
    // Our own update is what forwarding failures need; for the private channel, by its alias.
    const own = C.gossip.ourChannelUpdate(scids[1]!)!;
    expect(own.shortChannelId).toBe(scids[1]);
    expect(own.channelFlags & 1).toBe(compare(C.keys.nodePublicKey, B.keys.nodePublicKey) < 0 ? 0 : 1);
    const dAlias = D.cm.channel(privId)!.localAlias!;
    const privUpd = D.gossip.ourChannelUpdate(dAlias)!;
    expect(privUpd.messageFlags & 2).toBe(2); // dont_forward
    // D's invoices reach it through B over the alias B gave D, with B's fees from its private update.
    await waitFor(() => D.gossip.peerChannelUpdate(privId) !== undefined, 5000, "B's private update");
    const inv = decodeInvoice(
      (await D.pay.createInvoice({ amountMsat: 10_000n, routeHints: D.gossip.privateRouteHints() })).bolt11,
    );
    expect(inv.routeHints).toHaveLength(1);
    expect(inv.routeHints[0]![0]).toMatchObject({
      shortChannelId: D.cm.channel(privId)!.remoteAlias,
      feeBaseMsat: 1000,
      cltvExpiryDelta: DEFAULT_FORWARDING_POLICY.cltvExpiryDelta,
    });
    expect(toHex(inv.routeHints[0]![0]!.pubkey)).toBe(B.keys.nodeId);
    // A has no private channel, so no hint.
    expect(A.gossip.privateRouteHints()).toEqual([]);
  }, 40_000);

  it('a node connecting late syncs the whole graph with gossip_queries', async () => {
    E = await startGossipNode('e', 35, { filterBacklogSeconds: 0 });
    await connect(E, C);
    const scids = [scidOf(A, pub.ab!), scidOf(B, pub.bc!), scidOf(C, pub.cd!)];
    const ids = [A, B, C, D].map((n) => n.keys.nodeId);
    await waitFor(() => complete(E, scids, ids), 10_000, 'late node graph');
    await E.gossip.whenIdle();
    expect(E.gossip.stats().syncsCompleted).toBe(1);
    expect(C.gossip.stats().queriesAnswered).toBeGreaterThanOrEqual(1);
    expect(E.gossip.graph.channelCount).toBe(3);
    expect(sorted(E.gossip.describeGraph())).toEqual(sorted(A.gossip.describeGraph()));
  }, 20_000);

  it("disables a channel in everyone's graph while its peer is offline, and re-enables it", async () => {
    const scid = scidOf(A, pub.ab!);
    const bDir = compare(B.keys.nodePublicKey, A.keys.nodePublicKey) < 0 ? 0 : 1;
    const disabled = (n: GNode) => n.gossip.graph.getChannel(scid)?.policies[bDir]?.disabled;
    A.pm.disconnect(B.keys.nodeId);
    await waitFor(() => [B, C, D, E].every((n) => disabled(n) === true), 5000, 'disabled everywhere');
    await connect(A, B);
    await waitFor(() => [A, B, C, D, E].every((n) => disabled(n) === false), 5000, 're-enabled everywhere');
  }, 15_000);

  it('rejects forged announcements: bad signature, wrong funding script, missing funding output', async () => {
    const before = B.gossip.stats().rejected;
    const forge = (scid: bigint, badSig: boolean): ChannelAnnouncement => {
      const sk = (i: number) => new Uint8Array(32).fill(0x40 + i);
      const [n1, n2] = [secp().publicKey(sk(1)), secp().publicKey(sk(2))];
      const swap = compare(n1, n2) > 0;
      const unsigned = buildChannelAnnouncement({
        chainHash: B.gossip.chainHash,
        shortChannelId: scid,
        localNodeId: swap ? n2 : n1,
        remoteNodeId: swap ? n1 : n2,
        localBitcoinKey: secp().publicKey(sk(3)),
        remoteBitcoinKey: secp().publicKey(sk(4)),
      });
      const cid = new Uint8Array(32);
      const s1 = createAnnouncementSignatures({
        channelId: cid,
        announcement: unsigned.announcement,
        nodeSecret: swap ? sk(2) : sk(1),
        bitcoinSecret: sk(3),
      });
      const s2 = createAnnouncementSignatures({
        channelId: cid,
        announcement: unsigned.announcement,
        nodeSecret: swap ? sk(1) : sk(2),
        bitcoinSecret: sk(4),
      });
      // A bad signature: the first node's signatures in the second node's slots.
      return assembleChannelAnnouncement(unsigned, s1, badSig ? s1 : s2);
    };
    const privScid = scidOf(B, privId);
    const p = scidToParts(privScid);
    const forged = [
      forge(scidFromParts(p.block, p.txIndex, p.outputIndex + 7), true), // bad signature
      forge(privScid, false), // the private channel's real P2WSH output, other keys: wrong script
      forge(scidFromParts(p.block, 500, 0), false), // no such transaction in that block
    ];
    for (const f of forged) A.pm.sendMessage(B.keys.nodeId, f);
    await waitFor(
      () => {
        const r = B.gossip.stats().rejected;
        return (
          (r.BAD_SIGNATURE ?? 0) > (before.BAD_SIGNATURE ?? 0) &&
          (r.FUNDING_SCRIPT_MISMATCH ?? 0) > (before.FUNDING_SCRIPT_MISMATCH ?? 0) &&
          (r.FUNDING_OUTPUT_MISSING ?? 0) > (before.FUNDING_OUTPUT_MISSING ?? 0)
        );
      },
      5000,
      'rejections',
    );
    for (const f of forged) expect(B.gossip.graph.getChannel(f.shortChannelId)).toBeUndefined();
    expect(B.gossip.graph.channelCount).toBe(3);
    // Nothing of it was relayed.
    await sleep(250);
    for (const n of [A, C, D, E]) expect(n.gossip.graph.channelCount).toBe(3);
  });

  it('a cooperatively closed channel leaves every graph 12 blocks after its close confirms', async () => {
    const scid = scidOf(C, pub.cd!);
    const { closingTxid } = await C.cm.closeChannel(pub.cd!);
    expect(closingTxid).toBeDefined();
    await syncAll();
    await mine(1);
    await mine(10); // 11 confirmations: still there
    for (const n of nodes) expect(n.gossip.graph.getChannel(scid)).toBeDefined();
    await mine(1);
    await waitFor(() => nodes.every((n) => n.gossip.graph.getChannel(scid) === undefined), 5000, 'pruned');
    for (const n of nodes) {
      expect(n.gossip.graph.channelCount).toBe(2);
      // D has no public channel left: it leaves the graph too.
      expect(n.gossip.graph.getNode(D.keys.nodePublicKey)).toBeUndefined();
    }
  }, 30_000);
});
