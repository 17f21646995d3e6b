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

describe('persistent peers', () => {
  it('reconnects with backoff after the remote restarts on the same port', async () => {
    const a = await node({ reconnect: { initialDelayMs: 40, maxDelayMs: 400 } });
    const b = await node();
    a.pm.connectPersistent(b.id, '127.0.0.1', b.port);
    await waitUntil(() => a.pm.isConnected(b.id));
    expect(a.pm.reconnectAttempts(b.id)).toBe(1);

    // The remote goes away: listener and connections closed.
    await b.pm.stop();
    await waitUntil(() => a.disconnected.length === 1);
    expect(a.disconnected[0]!.reason.code).toBe('remote_closed');
    // Dials fail (connection refused) and back off: 20-40, 40-80, 80-160, 160-320 ms, ...
    await sleep(700);
    const attempts = a.pm.reconnectAttempts(b.id);
    expect(attempts).toBeGreaterThanOrEqual(3);
    // With doubling delays far fewer attempts happen than with a fixed 40 ms period (~17).
    expect(attempts).toBeLessThanOrEqual(8);

    // The remote restarts on the same port with the same key.
    const b2 = await node({ nodeSecretKey: b.key, port: b.port });
    expect(b2.port).toBe(b.port);
    await waitUntil(() => a.pm.isConnected(b.id) && b2.pm.isConnected(a.id), 3000, 'reconnection');
    expect(a.connected).toEqual([b.id, b.id]);
    expect(b2.connected).toEqual([a.id]);

    // disconnect() stops reconnecting.
    a.pm.disconnect(b.id);
    await sleep(300);
    expect(a.pm.isConnected(b.id)).toBe(false);
    expect(b2.pm.isConnected(a.id)).toBe(false);
    expect(a.connected).toHaveLength(2);
  });

  it('reconnects after the remote drops the connection', async () => {
    const a = await node({ reconnect: { initialDelayMs: 30, maxDelayMs: 100 } });
    const b = await node();
    a.pm.connectPersistent(b.id, '127.0.0.1', b.port);
    await waitUntil(() => b.pm.isConnected(a.id));
    b.pm.disconnect(a.id);
    await waitUntil(() => a.connected.length === 2 && b.pm.isConnected(a.id), 3000, 'reconnection');
    expect(a.disconnected.map((d) => d.reason.code)).toEqual(['remote_closed']);
  });
});
