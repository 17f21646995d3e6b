/**
 * Interop scenario 6 with LDK 0.1: multi-hop payments where each implementation forwards for the
 * other (BOLT 4 onions of two hops, BOLT 7 fees and `cltv_expiry_delta`, BOLT 2 HTLC forwarding),
 * and failures in the middle and at the end attributed to the right node (BOLT 4 "Returning
 * Errors").
 *
 * Topology (every channel opened by Farad, anchors, unannounced):
 *
 *   F1 ──c1── L1 ──c2── F2 ──c3── L2        (F = Farad routing node, L = LDK process)
 *
 * - F1 -> L1 -> F2: F1 routes over a graph built from the known channels and both sides'
 *   policies (LDK's read from its `ChannelConfig`), L1 forwards and earns its fee.
 * - L1 -> F2 -> L2: LDK's router with a route hint for c3 (Farad's policy), F2 forwards.
 * - Failures: L1 lacks liquidity on c2 (temporary_channel_failure from L1, seen by Farad); F2
 *   cancelled its invoice (incorrect_or_unknown_payment_details from F2, the final node); F2 lacks
 *   liquidity on c3 (temporary_channel_failure from F2, seen by LDK's PaymentPathFailed).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NetworkGraph } from '../../src/core/gossip/graph.js';
import { fromHex } from '../../src/protocol/encoding/bytes.js';
import { decodeInvoice } from '../../src/protocol/invoice/index.js';
import { type HNode, newGraph } from '../node/multihop-helpers.js';
import { Interop, ldkEvent, waitFor } from './fixture.js';
import type { LdkNode } from './ldk.js';

let net: Interop;
let f1: HNode;
let f2: HNode;
let l1: LdkNode;
let l2: LdkNode;
let graph: NetworkGraph;
/** Channel ids. */
let c1: string;
let c2: string;
let c3: string;
/** Farad's local balance (msat) on each channel, as expected. */
const local: Record<string, bigint> = {};

const CAP1 = 2_000_000n;
const CAP2 = 2_000_000n;
const PUSH2 = 1_000_000_000n;
const CAP3 = 1_000_000n;
const PUSH3 = 900_000_000n;

/** Farad (the first argument) opens an anchors channel to LDK; waits until usable on both sides. */
async function open(f: HNode, l: LdkNode, sats: bigint, pushMsat: bigint): Promise<string> {
  if (!(await l.peers()).some((p) => p.nodeId === f.keys.nodeId)) {
    await f.pm.connect(l.nodeId, '127.0.0.1', l.port);
    await waitFor(async () => (await l.peers()).some((p) => p.nodeId === f.keys.nodeId), 15_000, 'peer');
  }
  const id = (await f.cm.openChannel(l.nodeId, sats, { channelType: 'anchors', pushMsat })).channelId;
  await ldkEvent(l, 'ChannelPending', (e) => e.channelId === id);
  local[id] = sats * 1000n - pushMsat;
  return id;
}

/** Adds channel `cid` (Farad node `f` <-> LDK node `l`) to `graph` with both sides' policies. */
async function addToGraph(g: NetworkGraph, f: HNode, l: LdkNode, cid: string): Promise<void> {
  const c = f.cm.channel(cid)!;
  const lc = (await l.channel(cid))!;
  const fId = f.keys.nodePublicKey;
  const lId = fromHex(l.nodeId);
  g.addChannel({ scid: c.shortChannelId!, nodeId1: fId, nodeId2: lId, capacitySat: c.capacitySat });
  const fDir: 0 | 1 = f.keys.nodeId < l.nodeId ? 0 : 1;
  const fp = f.fwd.channelPolicy(cid);
  const common = { timestamp: 1, htlcMinimumMsat: 1000n, htlcMaximumMsat: c.capacitySat * 1000n };
  g.setPolicy(c.shortChannelId!, fDir, {
    ...common,
    cltvExpiryDelta: fp.cltvExpiryDelta,
    feeBaseMsat: fp.feeBaseMsat,
    feeProportionalMillionths: fp.feeProportionalMillionths,
  });
  g.setPolicy(c.shortChannelId!, fDir === 0 ? 1 : 0, {
    ...common,
    cltvExpiryDelta: lc.cltvExpiryDelta,
    feeBaseMsat: lc.forwardingFeeBaseMsat,
    feeProportionalMillionths: lc.forwardingFeeProportionalMillionths,
  });
}

/** No HTLC left on any channel; Farad's and LDK's balances of every channel agree with `local`. */
async function expectBalances(): Promise<void> {
  const chans: Array<[HNode, LdkNode, string]> = [
    [f1, l1, c1],
    [f2, l1, c2],
    [f2, l2, c3],
  ];
  await waitFor(
    async () => {
      for (const [f, l, cid] of chans) {
        const lc = await l.channel(cid);
        if (f.cm.channel(cid)!.pendingHtlcs !== 0 || lc?.pendingInboundHtlcs || lc?.pendingOutboundHtlcs)
          return false;
      }
      return true;
    },
    20_000,
    'no HTLC in flight',
  );
  for (const [f, l, cid] of chans) {
    const g = f.cm.channel(cid)!;
    expect(g.localMsat).toBe(local[cid]);
    expect(g.remoteMsat).toBe(g.capacitySat * 1000n - local[cid]!);
    const b = (await l.balances())[`${g.fundingTxid}:${g.fundingOutputIndex}`]!;
    const open = b.find((x) => x.kind === 'ClaimableOnChannelClose')!;
    // LDK (acceptor) pays no commitment fee: its commitment output is its balance in whole sat.
    expect(open.feeSat).toBe(0n);
    expect(open.amountSat).toBe(g.remoteMsat / 1000n);
  }
}

beforeAll(async () => {
  net = await Interop.start();
  graph = newGraph();
  f1 = await net.routingNode('f1', { seedByte: 1, graph }, 5_000_000n);
  f2 = await net.routingNode('f2', { seedByte: 2 }, 5_000_000n);
  l1 = await net.ldkNode('l1', 9);
  l2 = await net.ldkNode('l2', 10);
  c1 = await open(f1, l1, CAP1, 0n);
  c2 = await open(f2, l1, CAP2, PUSH2);
  c3 = await open(f2, l2, CAP3, PUSH3);
  await net.mine(3);
  await waitFor(
    async () =>
      [
        [f1, l1, c1],
        [f2, l1, c2],
        [f2, l2, c3],
      ].every(([f, , cid]) => (f as HNode).cm.channel(cid as string)?.state === 'Normal'),
    20_000,
    'channels Normal',
  );
  for (const [l, cid] of [
    [l1, c1],
    [l1, c2],
    [l2, c3],
  ] as const)
    await waitFor(async () => (await l.channel(cid))?.isUsable === true, 20_000, 'LDK channel usable');
  await addToGraph(graph, f1, l1, c1);
  await addToGraph(graph, f2, l1, c2);
}, 60_000);

afterAll(async () => {
  await net?.stop();
});

describe('interop: multi-hop payments with LDK', () => {
  it("LDK's forwarding policy is its ChannelConfig default (1000 msat + 0 ppm, 72 blocks)", async () => {
    const lc = (await l1.channel(c2))!;
    expect([lc.forwardingFeeBaseMsat, lc.forwardingFeeProportionalMillionths, lc.cltvExpiryDelta]).toEqual([
      1000, 0, 72,
    ]);
  });

  it('Farad -> LDK -> Farad: LDK forwards and earns its fee; balances move by amount and fee', async () => {
    const amount = 50_000_000n;
    const fee = 1000n; // LDK's base fee, 0 ppm
    const inv = await f2.pay.createInvoice({ amountMsat: amount, description: 'via LDK' });
    const r = await f1.pay.pay(inv.bolt11);
    expect(r.status).toBe('succeeded');
    expect(r.preimage).toBe(inv.preimage);
    expect(r.feeMsat).toBe(fee);
    const part = r.parts!.find((p) => p.status === 'succeeded')!;
    expect(part.route.hops.map((h) => h.nodeId)).toEqual([fromHex(l1.nodeId), f2.keys.nodePublicKey]);
    expect(part.sentMsat).toBe(amount + fee);
    await waitFor(() => f2.pay.invoice(inv.paymentHash)?.status === 'paid', 15_000, 'F2 paid');
    expect(f2.pay.invoice(inv.paymentHash)!.paidMsat).toBe(amount);
    const fwd = await ldkEvent(l1, 'PaymentForwarded');
    expect(fwd).toMatchObject({ prevChannelId: c1, nextChannelId: c2, feeMsat: fee, outboundMsat: amount });
    local[c1]! -= amount + fee;
    local[c2]! += amount;
    await expectBalances();
  });

  it('LDK -> Farad -> LDK: Farad forwards (listForwards shows it and the fee)', async () => {
    const amount = 40_000_000n;
    const pol = f2.fwd.channelPolicy(c3);
    const fee = BigInt(pol.feeBaseMsat) + (amount * BigInt(pol.feeProportionalMillionths)) / 1_000_000n;
    const scid3 = f2.cm.channel(c3)!.shortChannelId!;
    const inv = await l2.createInvoice(amount, 'via Farad');
    const hash = await l1.pay(inv, undefined, [
      [
        {
          nodeId: f2.keys.nodeId,
          shortChannelId: scid3,
          feeBaseMsat: pol.feeBaseMsat,
          feeProportionalMillionths: pol.feeProportionalMillionths,
          cltvExpiryDelta: pol.cltvExpiryDelta,
        },
      ],
    ]);
    const sent = await ldkEvent(l1, 'PaymentSent', (e) => e.paymentHash === hash);
    expect(sent.feeMsat).toBe(fee);
    const claimed = await ldkEvent(l2, 'PaymentClaimed', (e) => e.paymentHash === hash);
    expect(claimed.amountMsat).toBe(amount);
    await waitFor(
      () => f2.fwd.listForwards().some((f) => f.paymentHash === hash && f.status === 'settled'),
      15_000,
      'forward settled',
    );
    const f = f2.fwd.listForwards().find((x) => x.paymentHash === hash)!;
    expect(f).toMatchObject({
      inChannelId: c2,
      outChannelId: c3,
      inAmountMsat: amount + fee,
      outAmountMsat: amount,
      feeMsat: fee,
      preimage: sent.preimage,
    });
    expect(f2.fwd.feesEarnedMsat()).toBe(fee);
    local[c2]! += amount + fee;
    local[c3]! -= amount;
    await expectBalances();
  });

  it('LDK in the middle lacks liquidity: Farad attributes temporary_channel_failure to LDK', async () => {
    const inv = await f2.pay.createInvoice({ amountMsat: 1_200_000_000n });
    const r = await f1.pay.pay(inv.bolt11);
    expect(r.status).toBe('failed');
    const failed = r.parts!.filter((p) => p.status === 'failed');
    expect(failed.length).toBeGreaterThan(0);
    expect(failed[0]!.erringNode).toBe(l1.nodeId);
    expect(failed[0]!.failureReason).toMatch(/temporary_channel_failure/);
    const h = await ldkEvent(l1, 'HTLCHandlingFailed');
    expect(h).toMatchObject({ prevChannelId: c1, destination: 'NextHopChannel' });
    await expectBalances();
  });

  it('the final Farad node does not know the invoice: incorrect_or_unknown_payment_details from it', async () => {
    const inv = await f2.pay.createInvoice({ amountMsat: 3_000_000n });
    await f2.pay.cancelInvoice(inv.paymentHash);
    const r = await f1.pay.pay(inv.bolt11);
    expect(r.status).toBe('failed');
    const p = r.parts![0]!;
    expect(p.erringNode).toBe(f2.keys.nodeId);
    expect(p.failureReason).toMatch(/incorrect_or_unknown_payment_details/);
    expect(r.parts!.length).toBe(1); // a final failure: no retry
    await expectBalances();
  });

  it('Farad in the middle lacks liquidity: LDK blames the channel after Farad (c3)', async () => {
    const pol = f2.fwd.channelPolicy(c3);
    const scid3 = f2.cm.channel(c3)!.shortChannelId!;
    const inv = await l2.createInvoice(200_000_000n);
    const hash = await l1.pay(inv, undefined, [
      [
        {
          nodeId: f2.keys.nodeId,
          shortChannelId: scid3,
          feeBaseMsat: pol.feeBaseMsat,
          feeProportionalMillionths: pol.feeProportionalMillionths,
          cltvExpiryDelta: pol.cltvExpiryDelta,
        },
      ],
    ]);
    const pf = await ldkEvent(l1, 'PaymentPathFailed', (e) => e.paymentHash === hash);
    expect(pf.permanent).toBe(false);
    expect(pf.shortChannelId).toBe(scid3);
    expect(pf.networkUpdate).toEqual({ kind: 'channel', shortChannelId: scid3, permanent: false });
    await ldkEvent(l1, 'PaymentFailed', (e) => e.paymentHash === hash);
    const f = f2.fwd.listForwards().find((x) => x.paymentHash === hash)!;
    expect(f.status).toBe('failed');
    expect(f.failureReason).toMatch(/temporary_channel_failure/);
    await expectBalances();
  });

  it('the final LDK node fails the payment: LDK (payer) sees a permanent failure from the payee', async () => {
    const pol = f2.fwd.channelPolicy(c3);
    const scid3 = f2.cm.channel(c3)!.shortChannelId!;
    await l2.hold();
    const inv = await l2.createInvoice(5_000_000n);
    // LDK's own invoice has no route hint for c3: Farad (without its gossip manager) sent LDK no
    // channel_update for the private channel, and LDK only hints channels it has one for.
    expect(decodeInvoice(inv).routeHints).toEqual([]);
    const hash = await l1.pay(inv, undefined, [
      [
        {
          nodeId: f2.keys.nodeId,
          shortChannelId: scid3,
          feeBaseMsat: pol.feeBaseMsat,
          feeProportionalMillionths: pol.feeProportionalMillionths,
          cltvExpiryDelta: pol.cltvExpiryDelta,
        },
      ],
    ]);
    await ldkEvent(l2, 'PaymentClaimable', (e) => e.paymentHash === hash);
    expect(await l2.release(true)).toBe(1);
    const pf = await ldkEvent(l1, 'PaymentPathFailed', (e) => e.paymentHash === hash);
    // The payee itself rejected it: permanent, and no channel or node on the path to avoid.
    expect(pf.permanent).toBe(true);
    expect(pf.shortChannelId).toBeUndefined();
    expect(pf.networkUpdate).toBeUndefined();
    await ldkEvent(l1, 'PaymentFailed', (e) => e.paymentHash === hash);
    const f = f2.fwd.listForwards().find((x) => x.paymentHash === hash)!;
    expect(f.status).toBe('failed');
    expect(f.failureReason).toBe('downstream');
    await expectBalances();
  });
});
