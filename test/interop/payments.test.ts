/**
 * Interop scenario 3 with LDK 0.1: BOLT 11 payments over one anchors channel (Farad opener),
 * invoices created by each side and paid by the other (BOLT 4 one-hop onions, BOLT 2 HTLC
 * add/fulfill/fail with commitment_signed/revoke_and_ack), 25 HTLCs in flight at once (LDK holds
 * its claims) with payments the other way at the same time, and a payment LDK fails back (the
 * onion error decrypted by Farad). Balances are checked on both sides after every phase.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '../../src/protocol/crypto/hash.js';
import { fromHex, toHex } from '../../src/protocol/encoding/bytes.js';
import { decodeInvoice } from '../../src/protocol/invoice/index.js';
import type { TestNode } from '../node/helpers.js';
import { Interop, ldkEvent, waitFor } from './fixture.js';
import type { LdkNode } from './ldk.js';

let net: Interop;
let farad: TestNode;
let ldk: LdkNode;
let chan: string;
/** Farad's expected balance (msat). */
let faradMsat: bigint;
const CAPACITY = 2_000_000n;
const PUSH_MSAT = 500_000_000n;

beforeAll(async () => {
  net = await Interop.start();
  farad = await net.faradNode('farad', { seedByte: 1 }, 5_000_000n);
  ldk = await net.ldkNode('ldk', 9);
  await farad.pm.connect(ldk.nodeId, '127.0.0.1', ldk.port);
  await waitFor(async () => (await ldk.peers()).length === 1, 15_000, 'LDK sees Farad');
  chan = (await farad.cm.openChannel(ldk.nodeId, CAPACITY, { channelType: 'anchors', pushMsat: PUSH_MSAT }))
    .channelId;
  await ldkEvent(ldk, 'ChannelPending', (e) => e.channelId === chan);
  await net.mine(3);
  await waitFor(() => farad.cm.channel(chan)?.state === 'Normal', 20_000, 'channel Normal');
  await ldkEvent(ldk, 'ChannelReady', (e) => e.channelId === chan);
  faradMsat = CAPACITY * 1000n - PUSH_MSAT;
});

afterAll(async () => {
  await net?.stop();
});

/** Both sides agree on the balances; no HTLC left. */
async function expectBalances(): Promise<void> {
  await waitFor(
    async () => {
      const l = await ldk.channel(chan);
      return (
        farad.cm.channel(chan)!.pendingHtlcs === 0 &&
        l?.pendingInboundHtlcs === 0 &&
        l.pendingOutboundHtlcs === 0
      );
    },
    20_000,
    'no HTLC in flight',
  );
  const g = farad.cm.channel(chan)!;
  expect(g.localMsat).toBe(faradMsat);
  expect(g.remoteMsat).toBe(CAPACITY * 1000n - faradMsat);
  const b = (await ldk.balances())[`${g.fundingTxid}:${g.fundingOutputIndex}`]!;
  const open = b.find((x) => x.kind === 'ClaimableOnChannelClose')!;
  // LDK (acceptor) pays no commitment fee: its claimable amount is its balance, to the satoshi.
  expect(open.feeSat).toBe(0n);
  expect(open.amountSat * 1000n).toBe(g.remoteMsat);
}

describe('interop: payments with LDK', () => {
  it('Farad pays an invoice created by LDK', async () => {
    const inv = await ldk.createInvoice(120_000_000n, 'coffee');
    const d = decodeInvoice(inv);
    expect(toHex(d.payee)).toBe(ldk.nodeId);
    expect(d.amountMsat).toBe(120_000_000n);
    const r = await farad.pay.pay(inv);
    expect(r.status).toBe('succeeded');
    expect(toHex(sha256(fromHex(r.preimage!)))).toBe(toHex(d.paymentHash));
    const claimed = await ldkEvent(ldk, 'PaymentClaimed', (e) => e.paymentHash === toHex(d.paymentHash));
    expect(claimed.amountMsat).toBe(120_000_000n);
    faradMsat -= 120_000_000n;
    await expectBalances();
  });

  it('LDK pays an invoice created by Farad (and one without an amount)', async () => {
    const inv = await farad.pay.createInvoice({ amountMsat: 70_000_000n, description: 'tea' });
    const hash = await ldk.pay(inv.bolt11);
    expect(hash).toBe(inv.paymentHash);
    const sent = await ldkEvent(ldk, 'PaymentSent', (e) => e.paymentHash === inv.paymentHash);
    expect(sent.preimage).toBe(inv.preimage);
    expect(sent.feeMsat).toBe(0n);
    await waitFor(() => farad.pay.invoice(inv.paymentHash)?.status === 'paid', 15_000, 'invoice paid');
    expect(farad.pay.invoice(inv.paymentHash)!.paidMsat).toBe(70_000_000n);
    faradMsat += 70_000_000n;
    const any = await farad.pay.createInvoice({ description: 'any amount' });
    await ldk.pay(any.bolt11, 33_000_000n);
    await ldkEvent(ldk, 'PaymentSent', (e) => e.paymentHash === any.paymentHash);
    await waitFor(() => farad.pay.invoice(any.paymentHash)?.status === 'paid', 15_000, 'invoice paid');
    faradMsat += 33_000_000n;
    await expectBalances();
  });

  it('25 HTLCs Farad -> LDK in flight at once while LDK pays Farad 10 times; all settle', async () => {
    await ldk.hold();
    const invs = await Promise.all(
      Array.from({ length: 25 }, (_, i) => ldk.createInvoice(BigInt(2_000_000 + i * 1000))),
    );
    const outgoing = invs.map((i) => farad.pay.pay(i));
    await waitFor(
      async () =>
        (await ldk.channel(chan))?.pendingInboundHtlcs === 25 && farad.cm.channel(chan)!.pendingHtlcs === 25,
      20_000,
      '25 HTLCs in both commitments',
    );
    // Payments the other way while the 25 are held.
    const back = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        farad.pay.createInvoice({ amountMsat: BigInt(1_000_000 + i * 1000) }),
      ),
    );
    for (const b of back) await ldk.pay(b.bolt11);
    await waitFor(
      () => back.every((b) => farad.pay.invoice(b.paymentHash)?.status === 'paid'),
      20_000,
      'LDK -> Farad',
    );
    expect((await ldk.channel(chan))!.pendingInboundHtlcs).toBe(25);
    expect(await ldk.release()).toBe(25);
    const results = await Promise.all(outgoing);
    expect(results.map((r) => r.status)).toEqual(Array(25).fill('succeeded'));
    for (let i = 0; i < 25; i++) faradMsat -= BigInt(2_000_000 + i * 1000);
    for (let i = 0; i < 10; i++) faradMsat += BigInt(1_000_000 + i * 1000);
    await expectBalances();
  });

  it('a payment LDK fails back: Farad decrypts incorrect_or_unknown_payment_details', async () => {
    await ldk.hold();
    const inv = await ldk.createInvoice(5_000_000n);
    const p = farad.pay.pay(inv);
    // The payment itself is claimable at LDK (a count of pending HTLCs could still include the
    // previous phase's removals, which Farad batches into the next commitment round).
    const hash = toHex(decodeInvoice(inv).paymentHash);
    await ldkEvent(ldk, 'PaymentClaimable', (e) => e.paymentHash === hash);
    expect(await ldk.release(true)).toBe(1);
    const r = await p;
    expect(r.status).toBe('failed');
    expect(r.failureReason).toMatch(/incorrect_or_unknown_payment_details/);
    await expectBalances();
  });
});
