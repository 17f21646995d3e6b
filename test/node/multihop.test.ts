/**
 * Payments across a network of six Farad nodes (in-process, real TCP, SQLite, the devnet, each
 * with its BOLT 5 chain monitor): A–B–C–D–E public with B–D as an expensive shortcut, and F a
 * private node behind E (unannounced channel, reached through a route hint with E's alias).
 *
 * Checked: a 4-hop payment with each hop's fee exactly as its policy says (payer's fee and each
 * forwarder's record); a middle hop that cannot forward (its next channel is offline) and the
 * retry around it; an MPP payment larger than any single channel; a payment to the private node
 * through route hints; keysend; a hold invoice settled and another cancelled; a probe; the
 * forwards listed with their fees; and a downstream node that vanishes while holding an HTLC —
 * its channel is resolved on chain at the deadline, every upstream hop fails back off chain
 * long before its own deadline, and nobody loses (channel balances unchanged upstream, the
 * forwarder next to the vanished node gets its balance and the HTLC back on chain, to the
 * satoshi, minus the fees of its own transactions).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Devnet, startDevnet } from '../../src/apps/devnet/index.js';
import type { NetworkGraph } from '../../src/core/gossip/graph.js';
import { forwardingFeeMsat } from '../../src/core/router/find-route.js';
import { sha256 } from '../../src/protocol/crypto/hash.js';
import { toHex } from '../../src/protocol/encoding/bytes.js';
import { decodeInvoice } from '../../src/protocol/invoice/index.js';
import type { Transaction } from '../../src/protocol/tx/transaction.js';
import { useFastCrypto } from '../core/channel/harness.js';
import {
  addToGraph,
  connectNodes,
  type HNode,
  mineUntil,
  newGraph,
  settle,
  startHNode,
  stopHNode,
  waitFor,
} from './multihop-helpers.js';

let d: Devnet;
let dir: string;
const running: HNode[] = [];
let A: HNode;
let B: HNode;
let C: HNode;
let D: HNode;
let E: HNode;
let F: HNode;
let gA: NetworkGraph;
let gB: NetworkGraph;
const ch: Record<'AB' | 'BC' | 'CD' | 'DE' | 'BD' | 'EF', string> = {
  AB: '',
  BC: '',
  CD: '',
  DE: '',
  BD: '',
  EF: '',
};

/** B's policy on its shortcut to D: expensive, so routes prefer B→C→D. */
const SHORTCUT = { feeBaseMsat: 50_000, feeProportionalMillionths: 5_000 };

async function open(a: HNode, b: HNode, sats: bigint, announce: boolean): Promise<string> {
  const r = await a.cm.openChannel(b.keys.nodeId, sats, { announce });
  return r.channelId;
}

function all(): HNode[] {
  return [A, B, C, D, E, F];
}

beforeAll(async () => {
  useFastCrypto();
  d = await startDevnet();
  d.mine(101);
  dir = mkdtempSync(join(tmpdir(), 'farad-multihop-'));
  gA = newGraph();
  gB = newGraph();
  const mk = (name: string, seedByte: number, extra: Parameters<typeof startHNode>[2]['payments'] = {}) =>
    startHNode(d, name, {
      seedByte,
      dbPath: join(dir, `${name}.db`),
      ...(name === 'A' ? { graph: gA } : name === 'B' ? { graph: gB } : {}),
      payments: extra,
    });
  A = await mk('A', 60);
  B = await mk('B', 61);
  C = await mk('C', 62);
  D = await mk('D', 63);
  E = await mk('E', 64, { acceptKeysend: true });
  F = await mk('F', 65);
  running.push(...all());
  d.fund(A.wallet.newAddress(), 1_300_000n);
  d.fund(B.wallet.newAddress(), 1_100_000n);
  d.fund(B.wallet.newAddress(), 700_000n);
  d.fund(C.wallet.newAddress(), 1_100_000n);
  d.fund(D.wallet.newAddress(), 1_200_000n);
  d.fund(E.wallet.newAddress(), 600_000n);
  d.mine(1);
  await settle(...all());
  for (const [x, y] of [
    [A, B],
    [B, C],
    [C, D],
    [D, E],
    [B, D],
    [E, F],
  ] as const)
    await connectNodes(x, y);
  ch.AB = await open(A, B, 1_000_000n, true);
  ch.BC = await open(B, C, 1_000_000n, true);
  ch.CD = await open(C, D, 1_000_000n, true);
  ch.DE = await open(D, E, 1_000_000n, true);
  ch.BD = await open(B, D, 600_000n, true);
  ch.EF = await open(E, F, 500_000n, false);
  d.mine(1);
  await settle(...all());
  await waitFor(
    () =>
      all().every((n) =>
        n.cm.listChannels().every((c) => c.state === 'Normal' && c.shortChannelId !== undefined),
      ),
    15_000,
    'channels ready',
  );
  await B.fwd.setChannelPolicy(ch.BD, SHORTCUT);
  for (const g of [gA, gB]) {
    addToGraph(g, A, B, ch.AB);
    addToGraph(g, B, C, ch.BC);
    addToGraph(g, C, D, ch.CD);
    addToGraph(g, D, E, ch.DE);
    addToGraph(g, B, D, ch.BD);
  }
}, 120_000);

afterAll(async () => {
  for (const n of running) await stopHNode(n).catch(() => undefined);
  await d?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Fee each forwarder takes, from the last hop back (BOLT 7 "HTLC Fees"). */
function expectedFees(amount: bigint, forwarders: Array<{ n: HNode; out: string }>): bigint[] {
  const fees: bigint[] = [];
  let amt = amount;
  for (let i = forwarders.length - 1; i >= 0; i--) {
    const f = forwarders[i]!;
    const fee = forwardingFeeMsat(f.n.fwd.channelPolicy(f.out), amt);
    fees.unshift(fee);
    amt += fee;
  }
  return fees;
}

const nodeIdsOf = (r: { route: { hops: Array<{ nodeId: Uint8Array }> } }) =>
  r.route.hops.map((h) => toHex(h.nodeId));

describe('payments across six nodes', () => {
  it('pays over 4 hops; every hop takes exactly its policy fee', async () => {
    const amount = 100_000_000n;
    const inv = await E.pay.createInvoice({ amountMsat: amount });
    const r = await A.pay.pay(inv.bolt11);
    expect(r.status).toBe('succeeded');
    expect(r.preimage).toBe(inv.preimage);
    const part = r.parts!.find((p) => p.status === 'succeeded')!;
    expect(nodeIdsOf(part)).toEqual([B, C, D, E].map((n) => n.keys.nodeId));
    const fees = expectedFees(amount, [
      { n: B, out: ch.BC },
      { n: C, out: ch.CD },
      { n: D, out: ch.DE },
    ]);
    // 1000 msat + 1 ppm at each hop.
    expect(fees).toEqual([1100n, 1100n, 1100n]);
    expect(r.feeMsat).toBe(fees.reduce((a, b) => a + b, 0n));
    expect(E.pay.invoice(inv.paymentHash)!.paidMsat).toBe(amount);
    await settle(...all());
    let into = amount;
    for (const [n, outCh, fee] of [
      [D, ch.DE, fees[2]!],
      [C, ch.CD, fees[1]!],
      [B, ch.BC, fees[0]!],
    ] as const) {
      const f = n.fwd.listForwards().find((x) => x.paymentHash === inv.paymentHash)!;
      expect(f.status).toBe('settled');
      expect(f.outChannelId).toBe(outCh);
      expect(f.outAmountMsat).toBe(into);
      expect(f.feeMsat).toBe(fee);
      expect(f.inAmountMsat).toBe(into + fee);
      expect(f.preimage).toBe(inv.preimage);
      into += fee;
    }
    expect(into).toBe(amount + r.feeMsat);
  });

  it('a middle hop that cannot forward fails with channel_disabled; the payer retries around it', async () => {
    C.pm.disconnect(D.keys.nodeId);
    await waitFor(
      () => C.cm.channel(ch.CD)!.state === 'Offline' && D.cm.channel(ch.CD)!.state === 'Offline',
      5000,
      'C–D offline',
    );
    const amount = 40_000_000n;
    const inv = await E.pay.createInvoice({ amountMsat: amount });
    const r = await A.pay.pay(inv.bolt11);
    expect(r.status).toBe('succeeded');
    expect(r.parts!.length).toBe(2);
    const [first, second] = r.parts!;
    expect(first!.status).toBe('failed');
    expect(first!.failureReason).toBe('channel_disabled');
    expect(first!.erringNode).toBe(C.keys.nodeId);
    expect(nodeIdsOf(second!)).toEqual([B, D, E].map((n) => n.keys.nodeId));
    const fees = expectedFees(amount, [
      { n: B, out: ch.BD },
      { n: D, out: ch.DE },
    ]);
    expect(r.feeMsat).toBe(fees[0]! + fees[1]!);
    // The failure carried C's channel_update (disabled): A's graph applied it.
    const cd = gA.getChannel(C.cm.channel(ch.CD)!.shortChannelId!)!;
    expect(cd.policies.some((p) => p?.disabled)).toBe(true);
    await settle(...all());
    const cf = C.fwd.listForwards().find((x) => x.paymentHash === inv.paymentHash)!;
    expect(cf.status).toBe('failed');
    expect(cf.failureReason).toBe('channel_disabled');
    // Reconnect; C's fresh (enabled) update restores the channel in A's graph.
    await connectNodes(C, D);
    await waitFor(() => C.cm.channel(ch.CD)!.state === 'Normal' && D.cm.channel(ch.CD)!.state === 'Normal');
    expect(gA.apply(C.fwd.channelUpdateFor(ch.CD)!).status).toBe('accepted');
    expect(gA.getChannel(cd.scid)!.policies.some((p) => p?.disabled)).toBe(false);
  });

  it('sends a multi-part payment larger than any single channel', async () => {
    const amount = 1_050_000_000n; // 1,050,000 sat; the largest channel is 1,000,000 sat
    const inv = await D.pay.createInvoice({ amountMsat: amount });
    const r = await B.pay.pay(inv.bolt11, { maxFeeMsat: 100_000_000n });
    expect(r.status).toBe('succeeded');
    // The first fulfilled part settles the payment; the others follow.
    await waitFor(() => B.pay.payment(inv.paymentHash)!.parts!.every((p) => p.status !== 'pending'));
    const done = B.pay.payment(inv.paymentHash)!;
    const ok = done.parts!.filter((p) => p.status === 'succeeded');
    expect(ok.length).toBeGreaterThanOrEqual(2);
    expect(ok.reduce((s, p) => s + p.amountMsat, 0n)).toBe(amount);
    const paid = D.pay.invoice(inv.paymentHash)!;
    expect(paid.status).toBe('paid');
    expect(paid.paidMsat).toBe(amount);
    expect(paid.claims!.length).toBe(ok.length);
    expect(done.feeMsat).toBe(ok.reduce((s, p) => s + p.feeMsat, 0n));
    expect(r.feeMsat).toBe(done.feeMsat);
    // Different routes (one direct, one through C).
    expect(new Set(ok.map((p) => p.route.hops.length)).size).toBeGreaterThan(1);
  });

  it('pays a private node through the route hint of its invoice (SCID alias)', async () => {
    const amount = 50_000_000n;
    const inv = await F.pay.createInvoice({ amountMsat: amount, privateRouteHints: true });
    const hints = decodeInvoice(inv.bolt11).routeHints;
    const ef = F.cm.channel(ch.EF)!;
    expect(hints).toHaveLength(1);
    expect(toHex(hints[0]![0]!.pubkey)).toBe(E.keys.nodeId);
    expect(hints[0]![0]!.shortChannelId).toBe(ef.remoteAlias);
    expect(ef.remoteAlias).not.toBe(ef.shortChannelId);
    expect(gA.getNode(F.keys.nodePublicKey)).toBeUndefined();
    const r = await A.pay.pay(inv.bolt11);
    expect(r.status).toBe('succeeded');
    const part = r.parts!.find((p) => p.status === 'succeeded')!;
    expect(nodeIdsOf(part).slice(-2)).toEqual([E.keys.nodeId, F.keys.nodeId]);
    await settle(...all());
    const f = E.fwd.listForwards().find((x) => x.paymentHash === inv.paymentHash)!;
    expect(f.requestedScid).toBe(ef.remoteAlias);
    expect(f.outChannelId).toBe(ch.EF);
    expect(f.feeMsat).toBe(forwardingFeeMsat(E.fwd.channelPolicy(ch.EF), amount));
    expect(F.pay.invoice(inv.paymentHash)!.paidMsat).toBe(amount);
  });

  it('keysend: the preimage travels in the onion; the payee accepts it', async () => {
    const r = await A.pay.keysend(E.keys.nodeId, 20_000_000n);
    expect(r.status).toBe('succeeded');
    expect(toHex(sha256(Buffer.from(r.preimage!, 'hex')))).toBe(r.paymentHash);
    const got = E.pay.payment(r.paymentHash)!;
    expect(got.direction).toBe('incoming');
    expect(got.status).toBe('succeeded');
    expect(got.amountMsat).toBe(20_000_000n);
    // A node that does not accept keysend refuses it.
    const no = await A.pay.keysend(D.keys.nodeId, 1_000_000n);
    expect(no.status).toBe('failed');
    expect(no.failureReason).toBe('incorrect_or_unknown_payment_details');
  });

  it('hold invoices: one settled after the HTLCs are held, one cancelled', async () => {
    const pre1 = new Uint8Array(32).fill(0xa1);
    const pre2 = new Uint8Array(32).fill(0xa2);
    const h1 = await E.pay.createHoldInvoice(sha256(pre1), 30_000_000n);
    const h2 = await E.pay.createHoldInvoice(sha256(pre2), 25_000_000n);
    const p1 = A.pay.pay(h1.bolt11);
    const p2 = A.pay.pay(h2.bolt11);
    await waitFor(
      () =>
        E.pay.invoice(h1.paymentHash)!.status === 'accepted' &&
        E.pay.invoice(h2.paymentHash)!.status === 'accepted',
      10_000,
      'hold invoices accepted',
    );
    await settle(...all());
    expect(A.pay.payment(h1.paymentHash)!.status).toBe('pending');
    expect(A.pay.payment(h2.paymentHash)!.status).toBe('pending');
    await E.pay.settleInvoice(pre1);
    await E.pay.cancelInvoice(h2.paymentHash);
    const [r1, r2] = await Promise.all([p1, p2]);
    expect(r1.status).toBe('succeeded');
    expect(r1.preimage).toBe(toHex(pre1));
    expect(E.pay.invoice(h1.paymentHash)!.status).toBe('paid');
    expect(r2.status).toBe('failed');
    expect(r2.failureReason).toBe('incorrect_or_unknown_payment_details');
    expect(E.pay.invoice(h2.paymentHash)!.status).toBe('canceled');
  });

  it('probes: reaches the destination (unknown hash at the payee) without paying', async () => {
    const before = A.cm.channel(ch.AB)!.localMsat;
    const r = await A.pay.probe(E.keys.nodeId, 10_000_000n);
    expect(r.reached).toBe(true);
    expect(r.failure).toBe('incorrect_or_unknown_payment_details');
    expect(r.erringNode).toBe(E.keys.nodeId);
    expect(r.route!.hops.at(-1)!.nodeId).toEqual(E.keys.nodePublicKey);
    await settle(...all());
    await waitFor(() => A.cm.channel(ch.AB)!.pendingHtlcs === 0);
    expect(A.cm.channel(ch.AB)!.localMsat).toBe(before);
  });

  it('lists forwards with the fees earned', async () => {
    await settle(...all());
    for (const n of [B, C, D, E]) {
      const list = n.fwd.listForwards();
      expect(list.length).toBeGreaterThan(0);
      const settled = list.filter((f) => f.status === 'settled');
      expect(n.fwd.feesEarnedMsat()).toBe(settled.reduce((s, f) => s + f.feeMsat, 0n));
      for (const f of settled) expect(f.feeMsat).toBe(f.inAmountMsat - f.outAmountMsat);
    }
    expect(B.fwd.listForwards().filter((f) => f.status === 'settled').length).toBeGreaterThanOrEqual(5);
    expect(C.fwd.listForwards().some((f) => f.status === 'failed')).toBe(true);
  });
});

/** Inputs minus outputs of a confirmed devnet transaction. */
function feeOfTx(tx: Transaction): bigint {
  let inSum = 0n;
  for (const i of tx.inputs) inSum += d.chain.getConfirmedTx(toHex(i.txid))!.tx.outputs[i.vout]!.value;
  return inSum - tx.outputs.reduce((s, o) => s + o.value, 0n);
}

describe('a downstream node vanishes while holding an HTLC', () => {
  it('its channel is resolved on chain at the deadline; every upstream hop fails back in time; nobody loses', async () => {
    const amount = 30_000_000n;
    const pre = new Uint8Array(32).fill(0xb7);
    const hold = await E.pay.createHoldInvoice(sha256(pre), amount);
    const balances = () =>
      [A, B, C, D].map((n) =>
        n.cm
          .listChannels()
          .filter((c) => c.channelId !== ch.DE)
          .map((c) => [c.channelId, c.localMsat] as const),
      );
    const before = balances();
    const dMain = D.cm.channel(ch.DE)!.localMsat;
    const eMain = D.cm.channel(ch.DE)!.remoteMsat;
    const wd0 = D.wallet.balances().total;
    const paying = A.pay.pay(hold.bolt11);
    await waitFor(() => E.pay.invoice(hold.paymentHash)!.status === 'accepted', 10_000, 'HTLC held by E');
    await settle(...all());
    // E vanishes (never settles nor fails).
    await stopHNode(E);
    running.splice(running.indexOf(E), 1);
    const alive = [A, B, C, D, F];
    const fD = D.fwd.listForwards().find((f) => f.paymentHash === hold.paymentHash)!;
    expect(fD.status).toBe('offered');
    const upstream = [B, C, D].map(
      (n) => n.fwd.listForwards().find((f) => f.paymentHash === hold.paymentHash)!,
    );
    let failedAt = 0;
    void paying.then(() => {
      failedAt = d.chain.height;
    });
    await mineUntil(d, alive, () => A.pay.payment(hold.paymentHash)!.status !== 'pending', 60);
    const r = await paying;
    expect(r.status).toBe('failed');
    failedAt ||= d.chain.height;
    // D went on chain at its outgoing HTLC's expiry, and failed back once the timeout was final.
    expect(D.cm.channel(ch.DE)!.state).not.toBe('Normal');
    expect(failedAt).toBeGreaterThanOrEqual(fD.outCltvExpiry);
    const fD2 = D.fwd.listForwards().find((f) => f.paymentHash === hold.paymentHash)!;
    expect(fD2.status).toBe('failed');
    expect(fD2.outResolvedOnChain).toBe('timedOut');
    // Every upstream hop resolved off chain well before its incoming HTLC's deadline.
    for (const f of upstream) expect(failedAt).toBeLessThan(f.inCltvExpiry - 40);
    await settle(...alive);
    await waitFor(() =>
      [A, B, C, D].every((n) =>
        n.cm.listChannels().every((c) => c.pendingHtlcs === 0 || c.channelId === ch.DE),
      ),
    );
    for (const n of [A, B, C]) expect(n.cm.listChannels().every((c) => c.state === 'Normal')).toBe(true);
    // Channel balances upstream are what they were before the payment.
    expect(balances()).toEqual(before);
    // D: its channel balance and the HTLC came back on chain, minus its own transactions' fees.
    await mineUntil(d, alive, () => D.mon.list().find((m) => m.channelId === ch.DE)?.resolved === true, 40);
    const pub = D.mon.published(ch.DE);
    const confirmed = pub
      .map((p) => ({ ...p, c: d.chain.getConfirmedTx(p.txid) }))
      .filter((p) => p.c !== undefined);
    const commit = confirmed.find((p) => p.kind === 'local-commitment')!;
    expect(commit).toBeDefined();
    const commitFee = 1_000_000n - commit.c!.tx.outputs.reduce((s, o) => s + o.value, 0n);
    const cpfp = confirmed.some((p) => p.kind === 'cpfp');
    const claimFees = confirmed
      .filter((p) => p.kind !== 'local-commitment')
      .reduce((s, p) => s + feeOfTx(p.c!.tx), 0n);
    // D opened D–E (anchors): it paid the commitment fee and both anchors (330 sat each); its
    // main output is its balance without the HTLC, which comes back through the HTLC-timeout.
    // (Rounding: sub-satoshi parts of both balances went to the commitment fee.)
    const outs = commit.c!.tx.outputs.map((o) => o.value);
    const main = outs.reduce((s, v) => s + v, 0n) - 660n - amount / 1000n - eMain / 1000n;
    expect(outs).toContain(main);
    expect(outs).toContain(eMain / 1000n);
    expect(outs).toContain(amount / 1000n);
    const exact = (dMain - amount) / 1000n - commitFee - 660n;
    expect(main - exact).toBeGreaterThanOrEqual(0n);
    expect(main - exact).toBeLessThanOrEqual(1n);
    expect(D.wallet.balances().total).toBe(wd0 + main + amount / 1000n + (cpfp ? 330n : 0n) - claimFees);
  });
});
