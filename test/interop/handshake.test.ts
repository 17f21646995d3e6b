/**
 * Interop scenario 1: BOLT 8 handshake and BOLT 1 `init` between Farad and LDK 0.1, in both
 * directions (Farad dials LDK; LDK dials Farad), over real TCP on 127.0.0.1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REQUIRED_INIT_FEATURES } from '../../src/node/peer/init.js';
import { Feature, hasFeature } from '../../src/protocol/features.js';
import type { TestNode } from '../node/helpers.js';
import { Interop, waitFor } from './fixture.js';
import type { LdkNode } from './ldk.js';

let net: Interop;
let farad: TestNode;
let ldk: LdkNode;

beforeAll(async () => {
  net = await Interop.start();
  farad = await net.faradNode('farad', { seedByte: 1 });
  ldk = await net.ldkNode('ldk', 9);
});

afterAll(async () => {
  await net?.stop();
});

/** LDK's init features (little-endian flags as LDK writes them: length-prefixed big-endian bytes). */
function ldkFeatureBits(hexFeatures: string): Set<number> {
  const b = Buffer.from(hexFeatures, 'hex').subarray(2);
  const bits = new Set<number>();
  for (let i = 0; i < b.length; i++)
    for (let j = 0; j < 8; j++) if ((b[b.length - 1 - i]! >> j) & 1) bits.add(i * 8 + j);
  return bits;
}

describe('interop: BOLT 8 + init with LDK', () => {
  it('Farad dials LDK: Noise handshake, init exchanged, both sides see the peer', async () => {
    const info = await farad.pm.connect(ldk.nodeId, '127.0.0.1', ldk.port);
    expect(info.nodeId).toBe(ldk.nodeId);
    expect(info.inbound).toBe(false);
    await waitFor(
      async () => (await ldk.peers()).some((p) => p.nodeId === farad.keys.nodeId),
      15_000,
      'LDK sees Farad',
    );
    const [p] = await ldk.peers();
    expect(p!.inbound).toBe(true);
    // LDK 0.1 requires these of every peer; Farad offers them (as required) and LDK kept the link.
    const theirs = ldkFeatureBits(p!.features);
    for (const f of REQUIRED_INIT_FEATURES) expect(hasFeature(theirs, f)).toBe(true);
    // Farad recorded LDK's init: LDK requires data_loss_protect, var_onion_optin, static_remotekey,
    // payment_secret and offers anchors_zero_fee_htlc_tx (configured).
    for (const f of [
      Feature.option_data_loss_protect,
      Feature.var_onion_optin,
      Feature.option_static_remotekey,
      Feature.payment_secret,
    ])
      expect(info.features.has(f)).toBe(true);
    expect(hasFeature(info.features, Feature.option_anchors_zero_fee_htlc_tx)).toBe(true);
    // The link stays up through a ping round trip.
    expect(farad.pm.ping(ldk.nodeId)).toBe(true);
    await waitFor(() => (farad.pm.peer(ldk.nodeId)?.pongsReceived ?? 0) > 0, 15_000, 'pong from LDK');
  });

  it('LDK dials Farad after a disconnect initiated by LDK', async () => {
    await ldk.disconnect(farad.keys.nodeId);
    await waitFor(() => !farad.pm.isConnected(ldk.nodeId), 15_000, 'Farad sees the disconnect');
    expect(await ldk.peers()).toEqual([]);
    await ldk.connect(farad.keys.nodeId, farad.port);
    await waitFor(() => farad.pm.isConnected(ldk.nodeId), 15_000, 'Farad sees LDK');
    await waitFor(async () => (await ldk.peers()).length === 1, 15_000, 'LDK sees Farad');
    const info = farad.pm.peer(ldk.nodeId)!;
    expect(info.inbound).toBe(true);
    expect((await ldk.peers())[0]!.inbound).toBe(false);
    // LDK answers Farad's ping and Farad answers LDK's (LDK disconnects peers that miss a pong
    // between two timer ticks).
    // (One explicit tick: a second one before LDK has read the pong would count as a missed pong;
    // LDK's own 10 s timer keeps ticking in the background anyway.)
    const sent = farad.pm.peer(ldk.nodeId)!.messagesSent;
    await ldk.tick(); // LDK pings (or has a ping of its timer outstanding)
    await waitFor(() => (farad.pm.peer(ldk.nodeId)?.messagesSent ?? 0) > sent, 15_000, 'Farad pongs');
    expect(farad.pm.ping(ldk.nodeId)).toBe(true);
    await waitFor(() => (farad.pm.peer(ldk.nodeId)?.pongsReceived ?? 0) > 0, 15_000, 'pong from LDK');
    expect(farad.pm.isConnected(ldk.nodeId)).toBe(true);
    expect((await ldk.peers()).length).toBe(1);
  });
});
