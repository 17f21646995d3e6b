/**
 * BOLT 5 in the node runtime: two nodes (TCP, SQLite, ChainTracker + OnchainWallet each, and a
 * ChainMonitorManager) on the devnet. A channel with HTLCs in flight in both directions — some
 * whose preimage the payee knows (fulfilled, but the fulfill never reaches the payer), some the
 * payee never resolves — is force-closed by one side; blocks are mined until both monitors have
 * swept everything. Checked: payment outcomes (settled from on-chain preimages, failed on
 * timeout, incoming marked claimed) and each wallet's final balance to the satoshi against the
 * channel movements and every fee, computed from the devnet's transactions.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Devnet } from '../../src/apps/devnet/index.js';
import type { InvoiceRecord, PaymentRecord } from '../../src/node/payments/index.js';
import {
  confirmedPublished,
  connectNodes,
  feeOf,
  feeOfTx,
  type MNode,
  mineUntil,
  restartMNode,
  settle,
  startMNode,
  total,
  useMonitorSuite,
  waitFor,
} from './monitor-helpers.js';

let d: Devnet;
let dir: string;
let seed = 40;
const running: MNode[] = [];
useMonitorSuite(
  'farad-fc-',
  (devnet, tmp) => {
    d = devnet;
    dir = tmp;
  },
  running,
);

const FUNDING = 1_000_000n;

interface Pair {
  alice: MNode;
  bob: MNode;
  id: string;
  /** Wallet totals right after the initial funding from the devnet. */
  wa0: bigint;
  wb0: bigint;
  fundingFee: bigint;
}

/** Two fresh nodes, alice opens a channel (FUNDING sat, push 200,000 sat) and both pay a bit. */
async function openPair(channelType: 'anchors' | 'static_remotekey'): Promise<Pair> {
  const alice = await startMNode(d, 'alice', { seedByte: seed++, dbPath: join(dir, `a${seed}.db`) });
  const bob = await startMNode(d, 'bob', { seedByte: seed++, dbPath: join(dir, `b${seed}.db`) });
  running.push(alice, bob);
  d.fund(alice.wallet.newAddress(), 2_000_000n);
  d.fund(bob.wallet.newAddress(), 300_000n);
  d.mine(1);
  await settle(alice, bob);
  const wa0 = total(alice);
  const wb0 = total(bob);
  await connectNodes(alice, bob);
  const open = await alice.cm.openChannel(bob.keys.nodeId, FUNDING, {
    channelType,
    pushMsat: 200_000_000n,
  });
  d.mine(1);
  await settle(alice, bob);
  await waitFor(
    () =>
      alice.cm.channel(open.channelId)?.state === 'Normal' &&
      bob.cm.channel(open.channelId)?.state === 'Normal',
    10_000,
    'channel ready',
  );
  const fundingFee = feeOf(d, open.fundingTxid);
  // Ordinary payments both ways.
  const i = await bob.pay.createInvoice({ amountMsat: 50_000_000n });
  expect((await alice.pay.pay(i.bolt11)).status).toBe('succeeded');
  const j = await alice.pay.createInvoice({ amountMsat: 20_000_000n });
  expect((await bob.pay.pay(j.bolt11)).status).toBe('succeeded');
  await settle(alice, bob);
  await waitFor(
    () =>
      alice.cm.channel(open.channelId)!.pendingHtlcs === 0 &&
      bob.cm.channel(open.channelId)!.pendingHtlcs === 0,
  );
  return { alice, bob, id: open.channelId, wa0, wb0, fundingFee };
}

interface Flight {
  /** alice → bob: i1 (bob claims), i2 (never resolved). bob → alice: j1 (alice claims), j2 (never). */
  i1: InvoiceRecord;
  i2: InvoiceRecord;
  j1: InvoiceRecord;
  j2: InvoiceRecord;
  pays: Record<'i1' | 'i2' | 'j1' | 'j2', Promise<PaymentRecord>>;
}

/** Four HTLCs in flight; the payees of i1/j1 claim them but their fulfills are dropped. */
async function htlcsInFlight(p: Pair): Promise<Flight> {
  const { alice, bob } = p;
  alice.hold = true;
  bob.hold = true;
  const i1 = await bob.pay.createInvoice({ amountMsat: 30_000_000n });
  const i2 = await bob.pay.createInvoice({ amountMsat: 15_000_000n });
  const j1 = await alice.pay.createInvoice({ amountMsat: 25_000_000n });
  const j2 = await alice.pay.createInvoice({ amountMsat: 12_000_000n });
  const pays = {
    i1: alice.pay.pay(i1.bolt11),
    i2: alice.pay.pay(i2.bolt11),
    j1: bob.pay.pay(j1.bolt11),
    j2: bob.pay.pay(j2.bolt11),
  };
  await waitFor(() => alice.held.length === 2 && bob.held.length === 2, 10_000, 'HTLCs held');
  await settle(alice, bob);
  await waitFor(
    () => alice.cm.channel(p.id)!.pendingHtlcs === 4 && bob.cm.channel(p.id)!.pendingHtlcs === 4,
    10_000,
    'HTLCs committed',
  );
  // From now on nothing reaches the peer: the payees claim i1 / j1 (preimage known on their side only).
  alice.drop = true;
  bob.drop = true;
  const release = async (n: MNode, inv: InvoiceRecord) => {
    const h = n.held.find((x) => x.add.amountMsat === inv.amountMsat)!;
    await n.payHooks.htlcReceived(h.channelId, h.add, false);
  };
  await release(bob, i1);
  await release(alice, j1);
  await settle(alice, bob);
  expect(bob.pay.invoice(i1.paymentHash)?.status).toBe('paid');
  expect(alice.pay.invoice(j1.paymentHash)?.status).toBe('paid');
  return { i1, i2, j1, j2, pays };
}

function allResolved(...nodes: MNode[]): boolean {
  return nodes.every((n) => n.mon.list().every((m) => m.resolved));
}

/** Fee of every confirmed transaction the node's monitor published, the commitment excepted. */
function claimFees(n: MNode): bigint {
  let s = 0n;
  for (const t of confirmedPublished(d, n, ['local-commitment'])) s += feeOfTx(d, t.tx);
  return s;
}

describe('force close with HTLCs in flight, resolved by the node runtime', () => {
  for (const channelType of ['static_remotekey', 'anchors'] as const) {
    for (const closer of ['alice', 'bob'] as const) {
      it(`${closer} force-closes (${channelType}); both wallets end right to the satoshi`, async () => {
        const p = await openPair(channelType);
        let { alice, bob } = p;
        const f = await htlcsInFlight(p);
        const va = alice.cm.channel(p.id)!;
        const vb = bob.cm.channel(p.id)!;
        // Channel movements: push 200,000 sat, alice → bob 50,000, bob → alice 20,000.
        // In flight: alice offers 45,000 sat, bob 37,000.
        expect(vb.localMsat).toBe(193_000_000n);
        expect(va.localMsat).toBe(725_000_000n);
        const C = closer === 'alice' ? alice : bob;
        const { closingTxid } = await C.cm.closeChannel(p.id, { force: true });
        await settle(alice, bob);
        d.mine(1);
        await settle(alice, bob);
        const commit = d.chain.getConfirmedTx(closingTxid!);
        expect(commit, 'the commitment confirmed').toBeDefined();
        const kinds = (n: MNode) => n.events.filter((e) => e.type === 'FundingSpent').map((e) => e.kind);
        expect(kinds(C)).toEqual(['local']);
        expect(kinds(C === alice ? bob : alice)).toEqual(['remote']);
        // The other side's channel was stopped by its monitor.
        await waitFor(() => ['Closing', 'Closed'].includes(bob.cm.channel(p.id)!.state));
        await waitFor(() => ['Closing', 'Closed'].includes(alice.cm.channel(p.id)!.state));
        // The static_remotekey cases restart the remote side while its claims are pending: it
        // is down for 2 blocks, then resumes from its database.
        const restart = channelType === 'static_remotekey';
        if (restart) {
          if (closer === 'alice') bob = await restartMNode(d, bob, 2);
          else alice = await restartMNode(d, alice, 2);
          running.push(alice, bob);
          await settle(alice, bob);
        }

        const blocks = await mineUntil(d, [alice, bob], () => allResolved(alice, bob), 80);
        expect(blocks).toBeGreaterThan(20); // the HTLC expiry, then CSV delays and reorg depth

        // Payment outcomes.
        const closerPays = await Promise.all(
          closer === 'alice' ? [f.pays.i1, f.pays.i2] : [f.pays.j1, f.pays.j2],
        );
        expect(closerPays.map((r) => r.status)).toEqual(['succeeded', 'failed']);
        const out = [
          alice.pay.payment(f.i1.paymentHash)!,
          alice.pay.payment(f.i2.paymentHash)!,
          bob.pay.payment(f.j1.paymentHash)!,
          bob.pay.payment(f.j2.paymentHash)!,
        ];
        expect(out.map((r) => r.status)).toEqual(['succeeded', 'failed', 'succeeded', 'failed']);
        expect(out[0]!.preimage).toBe(f.i1.preimage);
        expect(out[2]!.preimage).toBe(f.j1.preimage);
        expect(out[1]!.failureReason).toMatch(/on chain/);
        expect(bob.pay.payment(f.i1.paymentHash)?.resolvedOnChain).toBe('claimed');
        expect(alice.pay.payment(f.j1.paymentHash)?.resolvedOnChain).toBe('claimed');

        // Balances to the satoshi. The commitment: alice (opener) pays its fee and the anchors.
        const commitTx = commit!.tx;
        let outSum = 0n;
        for (const o of commitTx.outputs) outSum += o.value;
        const commitFee = FUNDING - outSum;
        const anchors = channelType === 'anchors';
        const aliceMain = va.localMsat / 1000n - commitFee - (anchors ? 660n : 0n);
        const bobMain = vb.localMsat / 1000n;
        const values = commitTx.outputs.map((o) => o.value);
        expect(values).toContain(aliceMain);
        expect(values).toContain(bobMain);
        // The closer's anchor comes back through its CPFP child (anchors: the monitor's feerate
        // target is above the commitment's).
        const cpfp = confirmedPublished(d, C).filter((t) => t.kind === 'cpfp');
        expect(cpfp.length).toBe(anchors ? 1 : 0);
        const anchorBack = anchors ? 330n : 0n;
        // alice gets i2 (timed out) + j1 (claimed); bob gets i1 (claimed) + j2 (timed out).
        const aliceGets = aliceMain + 15_000n + 25_000n + (closer === 'alice' ? anchorBack : 0n);
        const bobGets = bobMain + 30_000n + 12_000n + (closer === 'bob' ? anchorBack : 0n);
        expect(total(alice)).toBe(p.wa0 - FUNDING - p.fundingFee + aliceGets - claimFees(alice));
        expect(total(bob)).toBe(p.wb0 + bobGets - claimFees(bob));
        // Every confirmed claim of the non-closer was reported.
        const O = C === alice ? bob : alice;
        const claimed = O.events
          .filter((e) => e.type === 'ClaimConfirmed')
          .reduce((s, e) => s + e.amountSat, 0n);
        expect(claimed).toBe(total(O) - (O === alice ? p.wa0 - FUNDING - p.fundingFee : p.wb0));
        expect(O.events.some((e) => e.type === 'ChannelFullyResolved')).toBe(true);
        await waitFor(
          () => alice.cm.channel(p.id)!.state === 'Closed' && bob.cm.channel(p.id)!.state === 'Closed',
        );
      });
    }
  }
});

describe('an HTLC whose expiry approaches forces an on-chain resolution', () => {
  for (const channelType of ['static_remotekey', 'anchors'] as const) {
    it(`alice goes on chain when bob sits on her HTLC (${channelType})`, async () => {
      const p = await openPair(channelType);
      const { alice, bob } = p;
      bob.hold = true; // bob never settles it (and stays connected)
      const inv = await bob.pay.createInvoice({ amountMsat: 40_000_000n });
      const paying = alice.pay.pay(inv.bolt11);
      await waitFor(() => bob.held.length === 1, 10_000, 'HTLC held');
      await settle(alice, bob);
      const va = alice.cm.channel(p.id)!;
      const vb = bob.cm.channel(p.id)!;
      expect(va.pendingHtlcs).toBe(1);
      const expiry = bob.held[0]!.add.cltvExpiry;
      const start = d.chain.height;
      // Mine towards the expiry: nothing happens before it, alice's runtime goes on chain at it.
      await mineUntil(d, [alice, bob], () => alice.cm.channel(p.id)!.state !== 'Normal', 40);
      expect(d.chain.height).toBeGreaterThanOrEqual(expiry);
      expect(d.chain.height - start).toBeGreaterThan(15);
      expect(alice.cm.channel(p.id)!.state).toBe('Closing');
      await mineUntil(d, [alice, bob], () => allResolved(alice, bob), 60);
      const r = await paying;
      expect(r.status).toBe('failed');
      expect(r.failureReason).toMatch(/timed out on chain/);
      expect(confirmedPublished(d, alice).map((t) => t.kind)).toContain('htlc-timeout');
      expect(alice.events.filter((e) => e.type === 'FundingSpent').map((e) => e.kind)).toEqual(['local']);
      expect(bob.events.filter((e) => e.type === 'FundingSpent').map((e) => e.kind)).toEqual(['remote']);
      // Balances: alice gets her balance and the HTLC back, bob his balance.
      const commit = confirmedPublished(d, alice).find((t) => t.kind === 'local-commitment')!;
      let outSum = 0n;
      for (const o of commit.tx.outputs) outSum += o.value;
      const anchors = channelType === 'anchors';
      const cpfp = confirmedPublished(d, alice).some((t) => t.kind === 'cpfp');
      expect(cpfp).toBe(anchors);
      const aliceMain = va.localMsat / 1000n - (FUNDING - outSum) - (anchors ? 660n : 0n);
      expect(total(alice)).toBe(
        p.wa0 - FUNDING - p.fundingFee + aliceMain + 40_000n + (anchors ? 330n : 0n) - claimFees(alice),
      );
      expect(total(bob)).toBe(p.wb0 + vb.localMsat / 1000n - claimFees(bob));
    });
  }
});
