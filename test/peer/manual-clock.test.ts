import { afterEach, describe, expect, it } from 'vitest';
import { type DisconnectReason, PeerManager } from '../../src/node/peer/index.js';
import { MemoryNetwork } from '../../src/node/peer/memory-transport.js';
import { ManualClock } from '../../src/node/ports/clock.js';
import { randomKey } from './helpers.js';

/** Lets every pending microtask and I/O callback run. */
async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

const managers: PeerManager[] = [];
afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.stop()));
});

function make(net: MemoryNetwork, clock: ManualClock, key = randomKey(), pingIntervalMs = 30_000) {
  const pm = new PeerManager({
    nodeSecretKey: key,
    transport: net.transport(),
    clock,
    pingIntervalMs,
    pongTimeoutMs: 30_000,
  });
  managers.push(pm);
  const down: DisconnectReason[] = [];
  pm.onPeerDisconnected((_p, r) => {
    down.push(r);
  });
  return { pm, down, key };
}

describe('PeerManager on a manual clock and an in-memory transport', () => {
  it('pings every interval and drops a silent peer exactly at the pong timeout', async () => {
    const net = new MemoryNetwork();
    const clock = new ManualClock(1_000_000);
    const a = make(net, clock);
    const b = make(net, clock, randomKey(), 1e9); // b never pings
    const addr = await b.pm.listen('10.0.0.2', 9735);
    await a.pm.connect(b.pm.nodeId, addr.host, addr.port);
    await settle();
    expect(b.pm.isConnected(a.pm.nodeId)).toBe(true);
    for (let i = 1; i <= 3; i++) {
      clock.advance(30_000);
      await settle();
      expect(a.pm.peer(b.pm.nodeId)!.pongsReceived).toBe(i);
    }
    expect(a.pm.peer(b.pm.nodeId)!.lastRttMs).toBe(0);
    b.pm.pauseReading(a.pm.nodeId); // b stops answering
    clock.advance(30_000); // next ping sent, no pong
    await settle();
    clock.advance(29_999);
    await settle();
    expect(a.down).toEqual([]);
    clock.advance(1);
    await settle();
    expect(a.down.map((r) => r.code)).toEqual(['ping_timeout']);
  });

  it('reconnects persistent peers with exponential backoff and jitter', async () => {
    const net = new MemoryNetwork();
    const clock = new ManualClock(0);
    const a = make(net, clock);
    const b = make(net, clock);
    const listener = await b.pm.listen('10.0.0.2', 9735);
    a.pm.connectPersistent(b.pm.nodeId, listener.host, listener.port);
    await settle();
    expect(a.pm.isConnected(b.pm.nodeId)).toBe(true);

    // The remote goes away.
    await b.pm.stop();
    await settle();
    expect(a.down.map((r) => r.code)).toEqual(['remote_closed']);
    // Each failed attempt doubles the (jittered) delay: [base/2, base] with base 1 s, 2 s, 4 s...
    const delays: number[] = [];
    for (let i = 0; i < 9; i++) {
      const wait = clock.nextDeadline()! - clock.now();
      delays.push(wait);
      clock.advance(wait);
      await settle();
    }
    const bases = [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000];
    delays.forEach((d, i) => {
      expect(d).toBeGreaterThanOrEqual(bases[i]! / 2);
      expect(d).toBeLessThanOrEqual(bases[i]!);
    });
    expect(a.pm.reconnectAttempts(b.pm.nodeId)).toBe(10);

    // The remote comes back: the next attempt succeeds and the backoff resets.
    const b2 = make(net, clock, b.key);
    await b2.pm.listen('10.0.0.2', 9735);
    clock.advance(clock.nextDeadline()! - clock.now());
    await settle();
    expect(a.pm.isConnected(b.pm.nodeId)).toBe(true);
    b2.pm.disconnect(a.pm.nodeId);
    await settle();
    const wait = clock.nextDeadline()! - clock.now();
    expect(wait).toBeGreaterThanOrEqual(500);
    expect(wait).toBeLessThanOrEqual(1000);
    clock.advance(wait);
    await settle();
    expect(a.pm.isConnected(b.pm.nodeId)).toBe(true);
    // disconnect() cancels reconnection for good.
    a.pm.disconnect(b.pm.nodeId);
    await settle();
    expect(clock.nextDeadline()).toBeUndefined();
  });

  it('times out a handshake that never completes', async () => {
    const net = new MemoryNetwork();
    const clock = new ManualClock(0);
    const a = make(net, clock);
    const t = net.transport();
    await t.listen('10.0.0.9', 1, () => {}); // accepts and never answers
    const p = a.pm.connect(randomPub(), '10.0.0.9', 1).catch((e) => e);
    await settle();
    clock.advance(10_000);
    const err = await p;
    expect(err.code).toBe('PEER_HANDSHAKE_TIMEOUT');
  });
});

function randomPub(): string {
  return new PeerManager({ nodeSecretKey: randomKey(), transport: new MemoryNetwork().transport() }).nodeId;
}
