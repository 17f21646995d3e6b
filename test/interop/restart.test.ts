/**
 * Interop scenario 4 with LDK 0.1: restarts in the middle of a payment, on either side.
 * - The LDK process is killed (SIGKILL) while it holds an incoming HTLC; a new process reloads
 *   its ChannelManager and ChannelMonitors from disk, reconnects, both sides exchange
 *   `channel_reestablish`, LDK claims the HTLC and Farad's payment succeeds.
 * - The Farad node is stopped while LDK holds an HTLC Farad sent; LDK claims it while Farad is
 *   down; Farad restarts from its SQLite file, reconnects, and the retransmitted
 *   `update_fulfill_htlc` settles the payment on Farad's side.
 * Payments continue in both directions afterwards; balances agree on both sides.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../src/protocol/encoding/bytes.js';
import { decodeInvoice } from '../../src/protocol/invoice/index.js';
import type { TestNode } from '../node/helpers.js';
import { Interop, ldkEvent, waitFor } from './fixture.js';
import type { LdkNode } from './ldk.js';

let net: Interop;
let farad: TestNode;
let ldk: LdkNode;
let chan: string;
let faradMsat: bigint;
const CAPACITY = 1_500_000n;
const PUSH_MSAT = 300_000_000n;
const SEED = { seedByte: 1 };

beforeAll(async () => {
  net = await Interop.start();
  farad = await net.faradNode('farad', SEED, 5_000_000n);
  ldk = await net.ldkNode('ldk', 9);
  await farad.pm.connect(ldk.nodeId, '127.0.0.1', ldk.port);
  await waitFor(async () => (await ldk.peers()).length === 1, 15_000, 'LDK sees Farad');
  chan = (
    await farad.cm.openChannel(ldk.nodeId, CAPACITY, { channelType: 'static_remotekey', pushMsat: PUSH_MSAT })
  ).channelId;
  await ldkEvent(ldk, 'ChannelPending', (e) => e.channelId === chan);
  await net.mine(3);
  await waitFor(() => farad.cm.channel(chan)?.state === 'Normal', 20_000, 'channel Normal');
  await ldkEvent(ldk, 'ChannelReady', (e) => e.channelId === chan);
  faradMsat = CAPACITY * 1000n - PUSH_MSAT;
});

afterAll(async () => {
  await net?.stop();
});

async function reconnect(): Promise<void> {
  await farad.pm.connect(ldk.nodeId, '127.0.0.1', ldk.port);
  await waitFor(
    async () => farad.cm.channel(chan)?.state === 'Normal' && (await ldk.channel(chan))?.isUsable === true,
    20_000,
    'channel reestablished on both sides',
  );
}

async function expectBalances(): Promise<void> {
  await waitFor(
    async () => {
      const l = await ldk.channel(chan);
      return (
        farad.cm.channel(chan)?.pendingHtlcs === 0 &&
        l?.pendingInboundHtlcs === 0 &&
        l.pendingOutboundHtlcs === 0
      );
    },
    20_000,
    'no HTLC in flight',
  );
  const f = farad.cm.channel(chan)!;
  expect(f.localMsat).toBe(faradMsat);
  const b = (await ldk.balances())[`${f.fundingTxid}:${f.fundingOutputIndex}`]!;
  expect(b.find((x) => x.kind === 'ClaimableOnChannelClose')!.amountSat * 1000n).toBe(f.remoteMsat);
  expect(f.remoteMsat).toBe(CAPACITY * 1000n - faradMsat);
}

/** One payment each way. */
async function payBothWays(): Promise<void> {
  const a = await ldk.createInvoice(11_000_000n);
  expect((await farad.pay.pay(a)).status).toBe('succeeded');
  faradMsat -= 11_000_000n;
  const b = await farad.pay.createInvoice({ amountMsat: 7_000_000n });
  await ldk.pay(b.bolt11);
  await ldkEvent(ldk, 'PaymentSent', (e) => e.paymentHash === b.paymentHash);
  await waitFor(() => farad.pay.invoice(b.paymentHash)?.status === 'paid', 15_000, 'Farad invoice paid');
  faradMsat += 7_000_000n;
  await expectBalances();
}

describe('interop: restarts with LDK', () => {
  it('LDK killed while holding an HTLC: reload from disk, channel_reestablish, the payment completes', async () => {
    await ldk.hold();
    const inv = await ldk.createInvoice(25_000_000n);
    const hash = toHex(decodeInvoice(inv).paymentHash);
    const p = farad.pay.pay(inv);
    await waitFor(async () => (await ldk.channel(chan))?.pendingInboundHtlcs === 1, 20_000, 'HTLC at LDK');
    await ldkEvent(ldk, 'PaymentClaimable', (e) => e.paymentHash === hash);
    await ldk.kill();
    await waitFor(() => !farad.pm.isConnected(ldk.nodeId), 15_000, 'Farad sees the disconnect');
    expect(farad.cm.channel(chan)!.online).toBe(false);
    expect(farad.cm.channel(chan)!.pendingHtlcs).toBe(1);
    await ldk.restart();
    // LDK does not generate a handled PaymentClaimable again on reload: the HTLC stays claimable
    // in its manager and the new process claims what the old one held (held.json) at start-up;
    // the update_fulfill_htlc goes out once the channel is reestablished.
    await reconnect();
    const r = await p;
    expect(r.status).toBe('succeeded');
    await ldkEvent(ldk, 'PaymentClaimed', (e) => e.paymentHash === hash);
    faradMsat -= 25_000_000n;
    await expectBalances();
    await payBothWays();
  });

  it('Farad stopped while its HTLC is held; LDK claims meanwhile; Farad restarts from SQLite and settles', async () => {
    await ldk.hold();
    const inv = await ldk.createInvoice(40_000_000n);
    const hash = toHex(decodeInvoice(inv).paymentHash);
    void farad.pay.pay(inv).catch(() => undefined); // its waiter dies with this incarnation
    // Irrevocably committed on both sides (LDK only makes it claimable then).
    await ldkEvent(ldk, 'PaymentClaimable', (e) => e.paymentHash === hash);
    await waitFor(() => farad.cm.channel(chan)?.pendingHtlcs === 1, 20_000, 'HTLC in Farad commitment');
    farad = await net.restartFarad(farad, SEED);
    // (restartFarad stopped the old node first: the link dropped and LDK keeps the HTLC.)
    expect(farad.pay.payment(hash)?.status).toBe('pending');
    await waitFor(async () => (await ldk.peers()).length === 0, 15_000, 'LDK sees the disconnect');
    expect(await ldk.release()).toBe(1); // LDK learns the preimage while Farad is away
    await reconnect();
    await waitFor(
      () => farad.pay.payment(hash)?.status === 'succeeded',
      20_000,
      'payment settled after restart',
    );
    await ldkEvent(ldk, 'PaymentClaimed', (e) => e.paymentHash === hash);
    faradMsat -= 40_000_000n;
    await expectBalances();
    await payBothWays();
  });
});
