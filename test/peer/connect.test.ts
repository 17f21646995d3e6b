import { afterEach, describe, expect, it } from 'vitest';
import { CHAIN_HASHES, defaultInitFeatures, PeerError } from '../../src/node/peer/index.js';
import { utf8 } from '../../src/protocol/encoding/bytes.js';
import { Feature, hasFeature, requiresFeature } from '../../src/protocol/features.js';
import type { Message } from '../../src/protocol/wire/index.js';
import { makeNode, pubHex, randomKey, type TestNode, waitUntil } from './helpers.js';

const nodes: TestNode[] = [];
async function node(opts: Parameters<typeof makeNode>[0] = {}): Promise<TestNode> {
  const n = await makeNode(opts);
  nodes.push(n);
  return n;
}
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.pm.stop()));
});

describe('BOLT 8 + init over TCP', () => {
  it('connects in both directions and negotiates init features on both sides', async () => {
    const a = await node();
    const b = await node();
    const c = await node();
    const info = await a.pm.connect(b.id, '127.0.0.1', b.port);
    expect(info.nodeId).toBe(b.id);
    expect(info.inbound).toBe(false);
    await c.pm.connect(a.id, '127.0.0.1', a.port); // a is the responder here
    await waitUntil(() => b.pm.isConnected(a.id) && a.pm.isConnected(c.id));

    for (const [x, y] of [
      [a, b],
      [b, a],
      [a, c],
      [c, a],
    ] as const) {
      const p = x.pm.peer(y.id)!;
      expect(p).toBeDefined();
      // Farad's required bits are visible to the peer as required.
      for (const f of [
        Feature.option_data_loss_protect,
        Feature.var_onion_optin,
        Feature.option_static_remotekey,
        Feature.payment_secret,
      ]) {
        expect(requiresFeature(p.features, f)).toBe(true);
      }
      for (const f of [
        Feature.basic_mpp,
        Feature.option_channel_type,
        Feature.option_scid_alias,
        Feature.option_zeroconf,
        Feature.option_anchors_zero_fee_htlc_tx,
        Feature.option_shutdown_anysegwit,
        Feature.gossip_queries,
      ]) {
        expect(hasFeature(p.features, f)).toBe(true);
      }
      expect(p.networks?.map((n) => Buffer.from(n).toString('hex'))).toEqual([
        Buffer.from(CHAIN_HASHES.regtest).toString('hex'),
      ]);
    }
    expect(b.pm.peer(a.id)!.inbound).toBe(true);
    expect(a.connected.sort()).toEqual([b.id, c.id].sort());
    // connect() to an already connected peer resolves at once with the same connection.
    const again = await a.pm.connect(b.id, '127.0.0.1', b.port);
    expect(again.connectedAt).toBe(info.connectedAt);
    expect(a.pm.peers()).toHaveLength(2);
  });

  it('fails the handshake when the remote node id is wrong', async () => {
    const a = await node();
    const b = await node();
    const wrong = pubHex(randomKey());
    const err = await a.pm.connect(wrong, '127.0.0.1', b.port).catch((e) => e);
    expect(err).toBeInstanceOf(PeerError);
    expect(err.code).toBe('PEER_HANDSHAKE_FAILED');
    expect(a.pm.peers()).toHaveLength(0);
    expect(b.pm.peers()).toHaveLength(0);
    expect(b.connected).toEqual([]);
  });

  it('rejects a bad node id and a closed port', async () => {
    const a = await node();
    const b = await node();
    await expect(a.pm.connect('02abcd', '127.0.0.1', b.port)).rejects.toMatchObject({
      code: 'PEER_INVALID_NODE_ID',
    });
    await expect(a.pm.connect(a.id, '127.0.0.1', b.port)).rejects.toMatchObject({
      code: 'PEER_INVALID_NODE_ID',
    });
    const port = b.port;
    await b.pm.stop();
    await expect(a.pm.connect(b.id, '127.0.0.1', port)).rejects.toMatchObject({
      code: 'PEER_CONNECT_FAILED',
    });
  });

  it('disconnects a peer that requires an unknown even feature, with a warning', async () => {
    const a = await node();
    const odd = await node({ features: [...defaultInitFeatures(), 100] });
    const err = await a.pm.connect(odd.id, '127.0.0.1', odd.port).catch((e) => e);
    expect(err).toBeInstanceOf(PeerError);
    expect(err.code).toBe('PEER_INIT_REJECTED');
    expect(err.details).toContain('feature bit 100');
    expect(a.connected).toEqual([]);
    // The other side may have accepted our init first; it then sees our warning and the close.
    await waitUntil(() => !odd.pm.isConnected(a.id));
    if (odd.connected.length > 0) {
      await waitUntil(() => odd.disconnected.length > 0);
      expect(odd.disconnected[0]!.reason.message).toContain('feature bit 100');
    }
  });

  it('disconnects a peer that does not offer a feature we require', async () => {
    const a = await node();
    const weak = await node({ features: [Feature.var_onion_optin + 1] });
    const err = await weak.pm.connect(a.id, '127.0.0.1', a.port).catch((e) => e);
    expect(err.code).toBe('PEER_INIT_REJECTED');
    expect(a.connected).toEqual([]);
  });

  it('disconnects a peer on another network', async () => {
    const a = await node();
    const main = await node({ chainHash: CHAIN_HASHES.mainnet });
    const err = await main.pm.connect(a.id, '127.0.0.1', a.port).catch((e) => e);
    expect(err).toBeInstanceOf(PeerError);
    expect(err.code).toBe('PEER_INIT_REJECTED');
    expect(err.details).toContain('networks');
    expect(a.connected).toEqual([]);
    expect(main.connected).toEqual([]);
  });

  it('dispatches LSPS0 (37913) and other custom messages to registered handlers', async () => {
    const a = await node();
    const b = await node();
    const got: Array<{ peer: string; json: unknown }> = [];
    const raw: Message[] = [];
    a.pm.registerCustomHandler(37913, (peer, m) => {
      if (m.type === 'lsps0_message') got.push({ peer, json: JSON.parse(m.json) });
    });
    a.pm.registerCustomHandler(32800, (_peer, m) => {
      raw.push(m);
    });
    expect(() => a.pm.registerCustomHandler(37913, () => {})).toThrow();
    expect(() => a.pm.registerCustomHandler(128, () => {})).toThrow();
    await b.pm.connect(a.id, '127.0.0.1', a.port);
    const req = { jsonrpc: '2.0', id: 'x1', method: 'lsps0.list_protocols', params: {} };
    expect(b.pm.sendMessage(a.id, { type: 'lsps0_message', json: JSON.stringify(req) })).toBe(true);
    // An even custom type is accepted once a handler is registered for it.
    expect(b.pm.sendMessage(a.id, { type: 'unknown', typeNum: 32800, payload: utf8('hello') })).toBe(true);
    await waitUntil(() => got.length === 1 && raw.length === 1);
    expect(got[0]).toEqual({ peer: b.id, json: req });
    expect(raw[0]).toEqual({ type: 'unknown', typeNum: 32800, payload: utf8('hello') });
    expect(a.pm.isConnected(b.id)).toBe(true);
  });

  it('delivers channel messages and errors in order to the channel handler (async handlers awaited)', async () => {
    const seen: string[] = [];
    const a = await node({
      channelHandler: {
        async handleChannelMessage(_peer, m) {
          seen.push(`start:${m.type}`);
          await new Promise((r) => setTimeout(r, 5));
          seen.push(`end:${m.type}`);
        },
      },
    });
    const b = await node();
    await b.pm.connect(a.id, '127.0.0.1', a.port);
    const cid = new Uint8Array(32).fill(7);
    b.pm.sendMessage(a.id, { type: 'update_fee', channelId: cid, feeratePerKw: 253 });
    b.pm.sendMessage(a.id, { type: 'error', channelId: cid, data: utf8('boom') });
    b.pm.sendMessage(a.id, { type: 'tx_complete', channelId: cid });
    await waitUntil(() => seen.length === 6);
    expect(seen).toEqual([
      'start:update_fee',
      'end:update_fee',
      'start:error',
      'end:error',
      'start:tx_complete',
      'end:tx_complete',
    ]);
    expect(a.pm.isConnected(b.id)).toBe(true);
  });

  it('keeps one connection per node: a newer connection replaces the old one', async () => {
    const a = await node();
    const b = await node();
    await a.pm.connect(b.id, '127.0.0.1', b.port);
    await waitUntil(() => b.pm.isConnected(a.id));
    expect(b.pm.peer(a.id)!.inbound).toBe(true);
    // connect() to a connected node reuses the connection, whatever its direction.
    const again = await b.pm.connect(a.id, '127.0.0.1', a.port);
    expect(again.inbound).toBe(true);
    expect(b.pm.peers()).toHaveLength(1);
    const c = await node({ nodeSecretKey: b.key });
    // c has b's identity: a sees a second connection from the same node id and keeps the newest.
    await c.pm.connect(a.id, '127.0.0.1', a.port);
    await waitUntil(() => a.disconnected.length === 1);
    expect(a.disconnected[0]!.reason.code).toBe('replaced');
    expect(a.pm.peers()).toHaveLength(1);
    expect(a.pm.peer(b.id)!.inbound).toBe(true);
    await waitUntil(() => !b.pm.isConnected(a.id));
    expect(c.pm.isConnected(a.id)).toBe(true);
    expect(a.pm.sendMessage(b.id, { type: 'warning', channelId: new Uint8Array(32), data: utf8('hi') })).toBe(
      true,
    );
  });

  it('simultaneous connects converge on a single connection', async () => {
    const a = await node({ reconnect: { initialDelayMs: 50, maxDelayMs: 200 } });
    const b = await node({ reconnect: { initialDelayMs: 50, maxDelayMs: 200 } });
    a.pm.connectPersistent(b.id, '127.0.0.1', b.port);
    b.pm.connectPersistent(a.id, '127.0.0.1', a.port);
    await waitUntil(() => a.pm.isConnected(b.id) && b.pm.isConnected(a.id), 5000);
    await new Promise((r) => setTimeout(r, 300));
    expect(a.pm.isConnected(b.id) && b.pm.isConnected(a.id)).toBe(true);
    // Both ends agree on the surviving connection's direction.
    expect(a.pm.peer(b.id)!.inbound).toBe(!b.pm.peer(a.id)!.inbound);
  });

  it('disconnect() and stop() emit peerDisconnected', async () => {
    const a = await node();
    const b = await node();
    await a.pm.connect(b.id, '127.0.0.1', b.port);
    await waitUntil(() => b.pm.isConnected(a.id));
    expect(a.pm.disconnect(b.id)).toBe(true);
    expect(a.disconnected).toEqual([
      { peer: b.id, reason: { code: 'local', message: 'disconnect requested' } },
    ]);
    await waitUntil(() => b.disconnected.length === 1);
    expect(b.disconnected[0]!.reason.code).toBe('remote_closed');
    await a.pm.connect(b.id, '127.0.0.1', b.port);
    await a.pm.stop();
    expect(a.disconnected.at(-1)!.reason.code).toBe('stopped');
    await expect(a.pm.connect(b.id, '127.0.0.1', b.port)).rejects.toMatchObject({ code: 'PEER_STOPPED' });
  });
});
