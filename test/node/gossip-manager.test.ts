/**
 * GossipManager without a network: an in-memory chain (blocks built here), recording peers and
 * a manual clock. Covers the funding-output checks (match, wrong script, missing output, block
 * not yet known), staggered rebroadcast with per-peer filters and one update per channel
 * direction per flush, answers to gossip queries, stale pruning driven by the injected clock,
 * pruning after a funding spend, and persistence across a restart.
 */
import { describe, expect, it } from 'vitest';
import {
  assembleChannelAnnouncement,
  buildChannelAnnouncement,
  createAnnouncementSignatures,
  createChannelUpdate,
  STALE_CHANNEL_AGE_SECONDS,
  signNodeAnnouncement,
} from '../../src/core/gossip/index.js';
import {
  GOSSIP_NAMESPACE,
  type GossipChain,
  GossipManager,
  type GossipPeers,
} from '../../src/node/gossip/index.js';
import { NodeKeys } from '../../src/node/keys/index.js';
import { CHAIN_HASHES } from '../../src/node/peer/init.js';
import type { PeerInfo } from '../../src/node/peer/types.js';
import type { BackendBlock, ChainEvent, OutPoint, OutpointSpend } from '../../src/node/ports/chain.js';
import { ManualClock } from '../../src/node/ports/clock.js';
import { MemoryStore } from '../../src/node/store/memory.js';
import { fundingScript } from '../../src/protocol/channel/scripts.js';
import { secp } from '../../src/protocol/crypto/secp256k1.js';
import { toHex } from '../../src/protocol/encoding/bytes.js';
import { p2wsh } from '../../src/protocol/tx/script.js';
import type { Transaction } from '../../src/protocol/tx/transaction.js';
import { txidHex } from '../../src/protocol/tx/transaction.js';
import {
  type ChannelAnnouncement,
  type ChannelUpdate,
  decodeMessage,
  encodeMessage,
  type Message,
  scidFromParts,
} from '../../src/protocol/wire/index.js';

const CHAIN = CHAIN_HASHES.regtest;
const T0 = 1_750_000_000_000; // ms

function key(i: number): { sk: Uint8Array; pk: Uint8Array } {
  const sk = new Uint8Array(32);
  sk[31] = i;
  sk[0] = 0x11;
  return { sk, pk: secp().publicKey(sk) };
}

/** An in-memory chain: blocks by height, spends of outpoints. */
class FakeChain implements GossipChain {
  blocks: BackendBlock[] = [];
  spends = new Map<string, OutpointSpend>();
  listeners = new Set<(e: ChainEvent) => void>();
  watched = new Set<string>();
  backend = {
    getBlockHash: async (h: number) => (this.blocks[h] ? `hash${h}` : undefined),
    getBlock: async (hash: string) => this.blocks[Number(hash.slice(4))]!,
  };
  tip() {
    return { height: this.blocks.length - 1, hash: `hash${this.blocks.length - 1}` };
  }
  subscribe(l: (e: ChainEvent) => void) {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  watchOutpoint(o: OutPoint) {
    this.watched.add(`${o.txid}:${o.vout}`);
  }
  spendOf(o: OutPoint) {
    const s = this.spends.get(`${o.txid}:${o.vout}`);
    return s ? { ...s, confirmations: s.block ? this.tip().height - s.block.height + 1 : 0 } : undefined;
  }
  /** Appends a block with `txs` (after a dummy coinbase) and announces it. */
  mine(txs: Transaction[] = []): number {
    const h = this.blocks.length;
    const coinbase: Transaction = {
      version: 2,
      inputs: [],
      outputs: [{ value: 1n, scriptPubKey: new Uint8Array([0x51]) }],
      locktime: h,
    };
    this.blocks.push({ hash: `hash${h}`, prevHash: `hash${h - 1}`, time: 0, txs: [coinbase, ...txs] });
    for (const l of this.listeners)
      l({ type: 'block_connected', block: { height: h, hash: `hash${h}` }, time: 0 });
    return h;
  }
  spend(o: OutPoint, height: number) {
    this.spends.set(`${o.txid}:${o.vout}`, {
      txid: 'ff'.repeat(32),
      inputIndex: 0,
      block: { height, hash: `hash${height}` },
      confirmations: 0,
    });
    for (const l of this.listeners)
      l({
        type: 'outpoint_spent',
        outpoint: o,
        txid: 'ff'.repeat(32),
        inputIndex: 0,
        block: { height, hash: `hash${height}` },
      });
  }
}

/** Peers that record what is sent to them. */
class FakePeers implements GossipPeers {
  sent: Array<{ to: string; msg: Message }> = [];
  connected = new Map<string, PeerInfo>();
  onConn = new Set<(p: string, i: PeerInfo) => void>();
  sendMessage(to: string, msg: Message) {
    this.sent.push({ to, msg });
    return true;
  }
  isConnected(id: string) {
    return this.connected.has(id);
  }
  peers() {
    return [...this.connected.values()];
  }
  onPeerConnected(l: (p: string, i: PeerInfo) => void) {
    this.onConn.add(l);
    return () => this.onConn.delete(l);
  }
  onPeerDisconnected() {
    return () => true;
  }
  connect(id: string, features: number[] = [7]) {
    const info = { nodeId: id, features: new Set(features) } as unknown as PeerInfo;
    this.connected.set(id, info);
    for (const l of this.onConn) l(id, info);
  }
  /** Raw gossip bytes sent to `to` (unknown-wrapped or typed). */
  rawTo(to: string): Uint8Array[] {
    return this.sent
      .filter((s) => s.to === to)
      .map((s) =>
        s.msg.type === 'unknown'
          ? new Uint8Array([s.msg.typeNum >> 8, s.msg.typeNum & 0xff, ...s.msg.payload])
          : encodeMessage(s.msg),
      );
  }
}

interface Chan {
  ann: ChannelAnnouncement;
  n1: { sk: Uint8Array; pk: Uint8Array };
  n2: { sk: Uint8Array; pk: Uint8Array };
  tx: Transaction;
}

/** A signed announcement between two fresh node keys, its funding tx paying `value`. */
function makeChannel(seed: number, height: number, value: bigint, opts: { script?: Uint8Array } = {}): Chan {
  let a = key(seed);
  let b = key(seed + 1);
  if (toHex(a.pk) > toHex(b.pk)) [a, b] = [b, a];
  const ba = key(seed + 100);
  const bb = key(seed + 101);
  const tx: Transaction = {
    version: 2,
    inputs: [
      {
        txid: new Uint8Array(32).fill(seed),
        vout: 0,
        scriptSig: new Uint8Array(0),
        sequence: 0,
        witness: [],
      },
    ],
    outputs: [{ value, scriptPubKey: opts.script ?? p2wsh(fundingScript(ba.pk, bb.pk)) }],
    locktime: 0,
  };
  const unsigned = buildChannelAnnouncement({
    chainHash: CHAIN,
    shortChannelId: scidFromParts(height, 1, 0),
    localNodeId: a.pk,
    remoteNodeId: b.pk,
    localBitcoinKey: ba.pk,
    remoteBitcoinKey: bb.pk,
  });
  const cid = new Uint8Array(32);
  const sa = createAnnouncementSignatures({
    channelId: cid,
    announcement: unsigned.announcement,
    nodeSecret: a.sk,
    bitcoinSecret: ba.sk,
  });
  const sb = createAnnouncementSignatures({
    channelId: cid,
    announcement: unsigned.announcement,
    nodeSecret: b.sk,
    bitcoinSecret: bb.sk,
  });
  return { ann: assembleChannelAnnouncement(unsigned, sa, sb), n1: a, n2: b, tx };
}

function update(c: Chan, dir: 0 | 1, ts: number, fee = 1000): ChannelUpdate {
  return createChannelUpdate(
    {
      chainHash: CHAIN,
      shortChannelId: c.ann.shortChannelId,
      timestamp: ts,
      direction: dir,
      cltvExpiryDelta: 40,
      htlcMinimumMsat: 1n,
      htlcMaximumMsat: 100_000_000n,
      feeBaseMsat: fee,
      feeProportionalMillionths: 10,
    },
    dir === 0 ? c.n1.sk : c.n2.sk,
  );
}

function setup(store = new MemoryStore(), flushIntervalMs = 1000) {
  const chain = new FakeChain();
  for (let i = 0; i < 10; i++) chain.mine();
  const clock = new ManualClock(T0);
  const peers = new FakePeers();
  const gm = new GossipManager({
    keys: new NodeKeys(new Uint8Array(32).fill(7)),
    store,
    chain,
    clock,
    flushIntervalMs,
    persistIntervalMs: 10_000,
  });
  return { chain, clock, peers, gm, store };
}

const PEER_A = `02${'aa'.repeat(32)}`;
const PEER_B = `03${'bb'.repeat(32)}`;
const nowS = (clock: ManualClock) => Math.floor(clock.now() / 1000);

describe('gossip manager: funding checks', () => {
  it('accepts a channel whose funding output matches, rejects a wrong script and a missing output', async () => {
    const { chain, peers, gm, clock } = setup();
    await gm.start(peers);
    // Height 10: the good channel's funding tx (index 1); height 11: a tx paying another script.
    const good = makeChannel(1, 10, 250_000n);
    chain.mine([good.tx]);
    const badScript = makeChannel(3, 11, 250_000n, { script: p2wsh(new Uint8Array([0x51])) });
    chain.mine([badScript.tx]);
    gm.handleGossipMessage(PEER_A, good.ann);
    gm.handleGossipMessage(PEER_A, update(good, 0, nowS(clock)));
    gm.handleGossipMessage(PEER_A, badScript.ann);
    // A validly signed announcement for an output index past the end of the funding tx.
    const other = makeChannel(5, 10, 250_000n);
    const gone = makeSignedCopy(other, scidFromParts(10, 1, 5));
    gm.handleGossipMessage(PEER_A, gone);
    await gm.whenIdle();
    const g = gm.graph;
    expect(g.getChannel(good.ann.shortChannelId)?.capacitySat).toBe(250_000n);
    expect(g.getChannel(good.ann.shortChannelId)?.policies[0]?.feeBaseMsat).toBe(1000);
    expect(g.getChannel(badScript.ann.shortChannelId)).toBeUndefined();
    expect(g.getChannel(gone.shortChannelId)).toBeUndefined();
    expect(gm.stats().rejected).toEqual({ FUNDING_SCRIPT_MISMATCH: 1, FUNDING_OUTPUT_MISSING: 1 });
    // The funding outpoint is watched for the spend.
    expect(chain.watched.has(`${txidHex(good.tx)}:0`)).toBe(true);
  });

  it('keeps an announcement for a block it has not seen and checks it when the block arrives', async () => {
    const { chain, peers, gm } = setup();
    await gm.start(peers);
    const c = makeChannel(7, 10, 100_000n);
    gm.handleGossipMessage(PEER_A, c.ann);
    await gm.whenIdle();
    expect(gm.graph.getChannel(c.ann.shortChannelId)).toBeUndefined();
    chain.mine([c.tx]);
    await gm.whenIdle();
    expect(gm.graph.getChannel(c.ann.shortChannelId)?.capacitySat).toBe(100_000n);
  });

  it('rejects a forged signature with a warning to the sender', async () => {
    const { chain, peers, gm } = setup();
    await gm.start(peers);
    const c = makeChannel(9, 10, 100_000n);
    chain.mine([c.tx]);
    gm.handleGossipMessage(PEER_A, { ...c.ann, nodeSignature2: c.ann.nodeSignature1 });
    await gm.whenIdle();
    expect(gm.graph.getChannel(c.ann.shortChannelId)).toBeUndefined();
    expect(gm.stats().rejected).toEqual({ BAD_SIGNATURE: 1 });
    expect(peers.sent.some((s) => s.to === PEER_A && s.msg.type === 'warning')).toBe(true);
  });
});

function makeSignedCopy(c: Chan, scid: bigint): ChannelAnnouncement {
  const ba = key(Number(c.n1.sk[31]) + 100);
  const bb = key(Number(c.n1.sk[31]) + 101);
  const unsigned = buildChannelAnnouncement({
    chainHash: CHAIN,
    shortChannelId: scid,
    localNodeId: c.n1.pk,
    remoteNodeId: c.n2.pk,
    localBitcoinKey: ba.pk,
    remoteBitcoinKey: bb.pk,
  });
  const cid = new Uint8Array(32);
  const s1 = createAnnouncementSignatures({
    channelId: cid,
    announcement: unsigned.announcement,
    nodeSecret: c.n1.sk,
    bitcoinSecret: ba.sk,
  });
  const s2 = createAnnouncementSignatures({
    channelId: cid,
    announcement: unsigned.announcement,
    nodeSecret: c.n2.sk,
    bitcoinSecret: bb.sk,
  });
  return assembleChannelAnnouncement(unsigned, s1, s2);
}

describe('gossip manager: rebroadcast, queries, pruning, persistence', () => {
  it('flushes accepted gossip every interval to filtered peers, one update per direction, never back to the sender', async () => {
    const { chain, peers, gm, clock } = setup();
    await gm.start(peers);
    peers.connect(PEER_A);
    peers.connect(PEER_B);
    // Both peers get our filter and (first two peers) a range query.
    expect(peers.sent.filter((s) => s.msg.type === 'gossip_timestamp_filter')).toHaveLength(2);
    expect(peers.sent.filter((s) => s.msg.type === 'query_channel_range')).toHaveLength(2);
    const c = makeChannel(11, 10, 500_000n);
    chain.mine([c.tx]);
    const t = nowS(clock);
    // Only peer B asks for gossip (from t - 10).
    gm.handleGossipMessage(PEER_B, {
      type: 'gossip_timestamp_filter',
      chainHash: CHAIN,
      firstTimestamp: t - 10,
      timestampRange: 0xffffffff,
    });
    gm.handleGossipMessage(PEER_A, c.ann);
    gm.handleGossipMessage(PEER_A, update(c, 0, t - 2, 1));
    gm.handleGossipMessage(PEER_A, update(c, 0, t - 1, 2)); // replaces the queued one
    gm.handleGossipMessage(PEER_A, update(c, 1, t, 3));
    const na = signNodeAnnouncement(
      {
        features: new Uint8Array(0),
        timestamp: t,
        nodeId: c.n1.pk,
        rgbColor: new Uint8Array(3),
        alias: new Uint8Array(32),
        addresses: [],
      },
      c.n1.sk,
    );
    gm.handleGossipMessage(PEER_A, na);
    await gm.whenIdle();
    const before = peers.sent.length;
    clock.advance(999);
    expect(peers.sent.length).toBe(before); // not yet
    clock.advance(1);
    const toB = peers.sent.slice(before).filter((s) => s.to === PEER_B);
    const toA = peers.sent.slice(before).filter((s) => s.to === PEER_A);
    expect(toA).toHaveLength(0);
    const types = toB.map((s) => (s.msg.type === 'unknown' ? s.msg.typeNum : -1));
    expect(types).toEqual([256, 258, 258, 257]);
    const raws = peers.rawTo(PEER_B).slice(-4);
    expect(toHex(raws[0]!)).toBe(toHex(encodeMessage(c.ann)));
    const u0 = decodeMessage(raws[1]!) as ChannelUpdate;
    expect(u0.feeBaseMsat).toBe(2);
    expect(gm.stats().relayed).toBe(4);
    // Next flush: nothing new.
    clock.advance(1000);
    expect(peers.sent.length).toBe(before + 4);
  });

  it('answers query_channel_range and query_short_channel_ids from the graph', async () => {
    const { chain, peers, gm, clock } = setup();
    await gm.start(peers);
    const c = makeChannel(13, 10, 500_000n);
    chain.mine([c.tx]);
    gm.handleGossipMessage(PEER_A, c.ann);
    gm.handleGossipMessage(PEER_A, update(c, 0, nowS(clock)));
    await gm.whenIdle();
    gm.handleGossipMessage(PEER_B, {
      type: 'query_channel_range',
      chainHash: CHAIN,
      firstBlocknum: 0,
      numberOfBlocks: 100,
    });
    const reply = peers.sent.find((s) => s.to === PEER_B && s.msg.type === 'reply_channel_range')!.msg;
    expect(reply).toMatchObject({ syncComplete: 1, shortChannelIds: [c.ann.shortChannelId] });
    gm.handleGossipMessage(PEER_B, {
      type: 'query_short_channel_ids',
      chainHash: CHAIN,
      shortChannelIds: [c.ann.shortChannelId],
    });
    const raws = peers.rawTo(PEER_B).slice(-3);
    expect(toHex(raws[0]!)).toBe(toHex(encodeMessage(c.ann)));
    expect(raws[2]![1]).toBe(262 & 0xff); // reply_short_channel_ids_end
    expect(gm.stats().queriesAnswered).toBe(1);
  });

  it('syncs from a peer: reply_channel_range → query_short_channel_ids for the unknown channels', async () => {
    const { chain, peers, gm } = setup();
    await gm.start(peers);
    peers.connect(PEER_A);
    const known = makeChannel(15, 10, 100_000n);
    chain.mine([known.tx]);
    gm.handleGossipMessage(PEER_A, known.ann);
    await gm.whenIdle();
    const unknown = scidFromParts(10, 7, 1);
    gm.handleGossipMessage(PEER_A, {
      type: 'reply_channel_range',
      chainHash: CHAIN,
      firstBlocknum: 0,
      numberOfBlocks: 0xffffffff,
      syncComplete: 1,
      shortChannelIds: [known.ann.shortChannelId, unknown],
    });
    const q = peers.sent.filter((s) => s.msg.type === 'query_short_channel_ids');
    expect(q).toHaveLength(1);
    expect(q[0]!.msg).toMatchObject({ shortChannelIds: [unknown] });
    gm.handleGossipMessage(PEER_A, {
      type: 'reply_short_channel_ids_end',
      chainHash: CHAIN,
      fullInformation: 1,
    });
    expect(gm.stats().syncsCompleted).toBe(1);
  });

  it('prunes stale channels with the injected clock, and spent ones after 12 blocks', async () => {
    // The maintenance tick runs hourly here; stale pruning once a day.
    const { chain, peers, gm, clock } = setup(new MemoryStore(), 3_600_000);
    await gm.start(peers);
    const c1 = makeChannel(17, 10, 100_000n);
    const c2 = makeChannel(19, 11, 100_000n);
    chain.mine([c1.tx]);
    chain.mine([c2.tx]);
    for (const c of [c1, c2]) {
      gm.handleGossipMessage(PEER_A, c.ann);
      gm.handleGossipMessage(PEER_A, update(c, 0, nowS(clock)));
      gm.handleGossipMessage(PEER_A, update(c, 1, nowS(clock)));
    }
    await gm.whenIdle();
    expect(gm.graph.channelCount).toBe(2);
    // c2 keeps receiving updates; c1 goes silent.
    for (let day = 1; day <= 15; day++) {
      clock.advance(86_400_000);
      gm.handleGossipMessage(PEER_A, update(c2, 0, nowS(clock)));
      gm.handleGossipMessage(PEER_A, update(c2, 1, nowS(clock)));
      const age = day * 86_400;
      expect(gm.graph.getChannel(c1.ann.shortChannelId) !== undefined).toBe(age <= STALE_CHANNEL_AGE_SECONDS);
    }
    expect(gm.graph.getChannel(c2.ann.shortChannelId)).toBeDefined();
    // c2's funding output is spent: forgotten once the spend has 12 confirmations.
    const spendHeight = chain.mine();
    chain.spend({ txid: txidHex(c2.tx), vout: 0 }, spendHeight);
    for (let i = 0; i < 10; i++) chain.mine();
    await gm.whenIdle();
    expect(gm.graph.getChannel(c2.ann.shortChannelId)).toBeDefined(); // 11 confirmations
    chain.mine();
    await gm.whenIdle();
    expect(gm.graph.getChannel(c2.ann.shortChannelId)).toBeUndefined();
    expect(gm.graph.nodeCount).toBe(0);
  });

  it('persists the graph on stop and loads it on start', async () => {
    const store = new MemoryStore();
    const s1 = setup(store);
    await s1.gm.start(s1.peers);
    const c = makeChannel(21, 10, 100_000n);
    s1.chain.mine([c.tx]);
    s1.gm.handleGossipMessage(PEER_A, c.ann);
    s1.gm.handleGossipMessage(PEER_A, update(c, 1, nowS(s1.clock)));
    await s1.gm.whenIdle();
    await s1.gm.stop();
    expect(await store.read(GOSSIP_NAMESPACE, 'graph')).toBeDefined();
    const s2 = setup(store);
    await s2.gm.start(s2.peers);
    const ch = s2.gm.graph.getChannel(c.ann.shortChannelId);
    expect(ch?.policies[1]?.timestamp).toBe(nowS(s1.clock));
    expect(toHex(ch!.announcement!)).toBe(toHex(encodeMessage(c.ann)));
    // The funding outpoint is watched again after the restart.
    expect(s2.chain.watched.has(`${txidHex(c.tx)}:0`)).toBe(true);
    const d = s2.gm.describeGraph();
    expect(d.channels).toHaveLength(1);
    expect(d.channels[0]!.capacitySat).toBe('100000');
    expect(d.channels[0]!.policies[0]).toBeNull();
    expect(JSON.parse(JSON.stringify(d))).toEqual(d);
    await s2.gm.stop();
  });
});
