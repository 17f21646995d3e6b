import { afterEach, describe, expect, it } from 'vitest';
import { CHAIN_HASHES, defaultInitFeatures } from '../../src/node/peer/index.js';
import { fromUtf8, utf8 } from '../../src/protocol/encoding/bytes.js';
import type { Message } from '../../src/protocol/wire/index.js';
import { makeNode, RawPeer, sleep, type TestNode, waitUntil } from './helpers.js';

const nodes: TestNode[] = [];
const raws: RawPeer[] = [];
async function node(opts: Parameters<typeof makeNode>[0] = {}): Promise<TestNode> {
  const n = await makeNode(opts);
  nodes.push(n);
  return n;
}
async function raw(n: TestNode, opts: Parameters<typeof RawPeer.connect>[2] = {}): Promise<RawPeer> {
  const r = await RawPeer.connect(n.id, n.port, opts);
  raws.push(r);
  return r;
}
afterEach(async () => {
  for (const r of raws.splice(0)) r.close();
  await Promise.all(nodes.splice(0).map((n) => n.pm.stop()));
});

const isWarning = (m: Message) => m.type === 'warning';
const warningText = (m: Message) => (m.type === 'warning' ? fromUtf8(m.data) : '');

describe('BOLT 1 message rules (scripted peer)', () => {
  it('sends init first, then becomes connected', async () => {
    const a = await node();
    const r = await raw(a);
    const first = await r.waitFor((m) => m.type === 'init');
    expect(r.received[0]).toBe(first);
    await waitUntil(() => a.pm.isConnected(r.id));
    expect(a.connected).toEqual([r.id]);
  });

  it('disconnects a peer that sends another message before init', async () => {
    const a = await node();
    const r = await raw(a, { sendInit: false });
    r.send({ type: 'ping', numPongBytes: 4, ignored: new Uint8Array(0) });
    const w = await r.waitFor(isWarning);
    expect(warningText(w)).toContain('before init');
    await r.waitClosed();
    expect(a.connected).toEqual([]);
  });

  it('rejects an init with an unknown even feature bit and one lacking a dependency', async () => {
    const a = await node();
    const r1 = await raw(a, { features: [...defaultInitFeatures(), 200] });
    expect(warningText(await r1.waitFor(isWarning))).toContain('feature bit 200');
    await r1.waitClosed();
    // basic_mpp (17) without payment_secret: BOLT 9 dependency missing.
    const feats = [...defaultInitFeatures()].filter((b) => b !== 14);
    const r2 = await raw(a, { features: feats });
    await r2.waitClosed();
    // Unknown ODD bits are ignored.
    const r3 = await raw(a, { features: [...defaultInitFeatures(), 201] });
    await waitUntil(() => a.pm.isConnected(r3.id));
    expect(a.connected).toEqual([r3.id]);
  });

  it('rejects a peer whose networks lack our chain; accepts one without networks', async () => {
    const a = await node();
    const r1 = await raw(a, { networks: [CHAIN_HASHES.testnet, CHAIN_HASHES.signet] });
    expect(warningText(await r1.waitFor(isWarning))).toContain('networks');
    await r1.waitClosed();
    const r2 = await raw(a, { networks: [CHAIN_HASHES.mainnet, CHAIN_HASHES.regtest] });
    await waitUntil(() => a.pm.isConnected(r2.id));
  });

  it('ignores unknown odd messages and disconnects on unknown even ones', async () => {
    const a = await node();
    const got: string[] = [];
    a.pm.registerCustomHandler(37913, (_p, m) => {
      if (m.type === 'lsps0_message') got.push(m.json);
    });
    const r = await raw(a);
    await waitUntil(() => a.pm.isConnected(r.id));
    r.send({ type: 'unknown', typeNum: 32771, payload: utf8('ignored') });
    r.send({ type: 'unknown', typeNum: 99, payload: new Uint8Array(0) });
    r.send({ type: 'lsps0_message', json: '{"n":1}' });
    await waitUntil(() => got.length === 1);
    expect(got).toEqual(['{"n":1}']);
    expect(a.pm.isConnected(r.id)).toBe(true);
    r.send({ type: 'unknown', typeNum: 32770, payload: new Uint8Array(3) });
    expect(warningText(await r.waitFor(isWarning))).toContain('unknown even message type 32770');
    await r.waitClosed();
    await waitUntil(() => a.disconnected.length === 1);
    expect(a.disconnected[0]!.reason.code).toBe('protocol_violation');
  });

  it('answers malformed messages with a warning and a disconnect', async () => {
    const a = await node();
    const r = await raw(a);
    await waitUntil(() => a.pm.isConnected(r.id));
    // A truncated update_fee (type 134: channel_id + u32 needed).
    r.send(Uint8Array.of(0, 134, 1, 2, 3));
    expect(warningText(await r.waitFor(isWarning))).toContain('malformed message');
    await r.waitClosed();
    expect(a.disconnected[0]!.reason.code).toBe('protocol_violation');
  });

  it('garbage after the handshake drops that peer only; other connections are unaffected', async () => {
    const a = await node();
    const b = await node();
    const got: string[] = [];
    a.pm.registerCustomHandler(37913, (_p, m) => {
      if (m.type === 'lsps0_message') got.push(m.json);
    });
    await b.pm.connect(a.id, '127.0.0.1', a.port);
    const r = await raw(a);
    await waitUntil(() => a.pm.isConnected(r.id));
    r.sendRaw(globalThis.crypto.getRandomValues(new Uint8Array(300)));
    await r.waitClosed();
    await waitUntil(() => a.disconnected.length === 1);
    expect(a.disconnected[0]).toMatchObject({ peer: r.id, reason: { code: 'protocol_violation' } });
    expect(a.pm.isConnected(b.id)).toBe(true);
    b.pm.sendMessage(a.id, { type: 'lsps0_message', json: '"still here"' });
    await waitUntil(() => got.length === 1);
    // Garbage during the handshake is also just a failed connection.
    const { connect } = await import('node:net');
    const s = connect({ host: '127.0.0.1', port: a.port });
    s.on('error', () => {});
    s.write(new Uint8Array(50).fill(1));
    await new Promise<void>((res) => s.on('close', () => res()));
    expect(a.pm.isConnected(b.id)).toBe(true);
  });

  it('answers pings with pongs of num_pong_bytes and ignores pings asking for >= 65532', async () => {
    const a = await node();
    const r = await raw(a);
    await waitUntil(() => a.pm.isConnected(r.id));
    r.send({ type: 'ping', numPongBytes: 65532, ignored: new Uint8Array(0) });
    r.send({ type: 'ping', numPongBytes: 17, ignored: new Uint8Array(5) });
    const pong = await r.waitFor((m) => m.type === 'pong');
    expect(pong).toEqual({ type: 'pong', ignored: new Uint8Array(17) });
    await sleep(50);
    expect(r.received.filter((m) => m.type === 'pong')).toHaveLength(1);
  });

  it('disconnects when a pong length does not match the ping', async () => {
    const a = await node({ pingIntervalMs: 50, pongTimeoutMs: 2000 });
    const r = await raw(a);
    const ping = await r.waitFor((m) => m.type === 'ping');
    if (ping.type !== 'ping') throw new Error('unreachable');
    r.send({ type: 'pong', ignored: new Uint8Array(ping.numPongBytes + 1) });
    expect(warningText(await r.waitFor(isWarning))).toContain('pong length');
    await r.waitClosed();
  });

  it('drops a connection that never completes the handshake', async () => {
    const a = await node({ handshakeTimeoutMs: 150 });
    const r = await raw(a, { sendInit: false });
    await r.waitClosed(2000);
    expect(a.connected).toEqual([]);
  });
});
