import { afterEach, describe, expect, it } from 'vitest';
import { makeNode, sleep, type TestNode, waitUntil } from './helpers.js';

const nodes: TestNode[] = [];
async function node(opts: Parameters<typeof makeNode>[0] = {}): Promise<TestNode> {
  const n = await makeNode(opts);
  nodes.push(n);
  return n;
}
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.pm.stop()));
});

function seqPayload(i: number, size: number): Uint8Array {
  const p = new Uint8Array(size);
  new DataView(p.buffer).setUint32(0, i);
  return p;
}

function channelUpdate(i: number) {
  return {
    type: 'channel_update' as const,
    signature: new Uint8Array(64),
    chainHash: new Uint8Array(32),
    shortChannelId: BigInt(i),
    timestamp: i,
    messageFlags: 1,
    channelFlags: 0,
    cltvExpiryDelta: 40,
    htlcMinimumMsat: 1n,
    feeBaseMsat: 1000,
    feeProportionalMillionths: 1,
    htlcMaximumMsat: 1000n,
  };
}

describe('ping/pong liveness', () => {
  it('keeps an answering peer connected and drops one that stops answering', async () => {
    const a = await node({ pingIntervalMs: 80, pongTimeoutMs: 600 });
    const b = await node();
    await a.pm.connect(b.id, '127.0.0.1', b.port);
    await sleep(700);
    const p = a.pm.peer(b.id)!;
    expect(p.pingsSent).toBeGreaterThanOrEqual(3);
    expect(p.pongsReceived).toBeGreaterThanOrEqual(p.pingsSent - 1);
    expect(p.lastRttMs).toBeGreaterThanOrEqual(0);
    expect(a.disconnected).toEqual([]);
    // b stops reading (so stops answering): a drops it after the pong timeout.
    b.pm.pauseReading(a.id);
    await waitUntil(() => a.disconnected.length === 1, 3000, 'ping timeout');
    expect(a.disconnected[0]!.reason.code).toBe('ping_timeout');
  });
});

describe('outbound queue and back-pressure', () => {
  it('queues while the reader is paused and delivers everything in order on resume', async () => {
    const a = await node();
    const b = await node();
    const seen: number[] = [];
    b.pm.registerCustomHandler(32769, (_p, m) => {
      if (m.type === 'unknown') seen.push(new DataView(m.payload.buffer, m.payload.byteOffset).getUint32(0));
    });
    await a.pm.connect(b.id, '127.0.0.1', b.port);
    await waitUntil(() => b.pm.isConnected(a.id));
    b.pm.pauseReading(a.id);
    const N = 12_000;
    const SIZE = 1000;
    let maxQueued = 0;
    for (let i = 0; i < N; i++) {
      expect(a.pm.sendMessage(b.id, { type: 'unknown', typeNum: 32769, payload: seqPayload(i, SIZE) })).toBe(
        true,
      );
      if (i % 500 === 0) await sleep(0);
      maxQueued = Math.max(maxQueued, a.pm.peer(b.id)!.queuedMessages);
    }
    await sleep(100);
    const queued = a.pm.peer(b.id)!.queuedMessages;
    // TCP buffers are full: the rest waits in a's queue.
    expect(queued).toBeGreaterThan(0);
    expect(seen.length).toBe(0);
    // Gossip is dropped while the queue is above the drop threshold; channel messages are not.
    expect(a.pm.sendMessage(b.id, channelUpdate(1))).toBe(false);
    expect(a.pm.peer(b.id)!.droppedMessages).toBe(1);
    b.pm.resumeReading(a.id);
    await waitUntil(() => seen.length === N, 8000, 'all messages');
    expect(seen.every((v, i) => v === i)).toBe(true);
    expect(a.pm.peer(b.id)!.queuedMessages).toBe(0);
    // After the queue drained, gossip flows again.
    expect(a.pm.sendMessage(b.id, channelUpdate(2))).toBe(true);
    expect(a.pm.isConnected(b.id) && b.pm.isConnected(a.id)).toBe(true);
  });

  it('disconnects when the queue passes maxQueueBytes (channel messages are never dropped)', async () => {
    const a = await node({ maxQueueBytes: 2_000_000 });
    const b = await node();
    await a.pm.connect(b.id, '127.0.0.1', b.port);
    await waitUntil(() => b.pm.isConnected(a.id));
    b.pm.pauseReading(a.id);
    let refused = 0;
    for (let i = 0; i < 20_000 && refused === 0; i++) {
      if (!a.pm.sendMessage(b.id, { type: 'unknown', typeNum: 32769, payload: seqPayload(i, 1000) }))
        refused++;
      if (i % 500 === 0) await sleep(0);
    }
    expect(refused).toBe(1);
    expect(a.disconnected).toHaveLength(1);
    expect(a.disconnected[0]!.reason.code).toBe('queue_overflow');
  });

  it('pauses reading while an async handler is slow and keeps order', async () => {
    const seen: number[] = [];
    const b = await node({
      inboxHighWater: 8,
      gossipHandler: {
        async handleGossipMessage(_p, m) {
          if (m.type === 'channel_update') {
            await sleep(1);
            seen.push(m.timestamp);
          }
        },
      },
    });
    const a = await node();
    await a.pm.connect(b.id, '127.0.0.1', b.port);
    for (let i = 0; i < 200; i++) a.pm.sendMessage(b.id, channelUpdate(i));
    await waitUntil(() => seen.length === 200, 5000);
    expect(seen).toEqual([...Array(200).keys()]);
  });
});
