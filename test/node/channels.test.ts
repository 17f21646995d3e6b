/**
 * The channel runtime end to end, in-process: two nodes (ChannelManager + PaymentManager +
 * PeerManager over TCP, SQLite stores, a ChainTracker and an OnchainWallet each) on the devnet.
 * Opens one channel of each type funded from the wallets, pays invoices both ways (concurrently),
 * restarts a node from its SQLite file mid-stream, closes cooperatively and checks both wallets
 * to the satoshi.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Devnet, startDevnet } from '../../src/apps/devnet/index.js';
import type { InvoiceRecord } from '../../src/node/payments/index.js';
import { useFastCrypto } from '../core/channel/harness.js';
import { connect, startNode, stopNode, sync, type TestNode, waitFor } from './helpers.js';

let d: Devnet;
let dir: string;
let alice: TestNode;
let bob: TestNode;
let anchorsId: string;
let staticId: string;

beforeAll(async () => {
  useFastCrypto();
  d = await startDevnet();
  d.mine(101);
  dir = mkdtempSync(join(tmpdir(), 'farad-node-'));
  alice = await startNode(d, 'alice', { seedByte: 1, dbPath: join(dir, 'alice.db') });
  bob = await startNode(d, 'bob', { seedByte: 2, dbPath: join(dir, 'bob.db') });
  d.fund(alice.wallet.newAddress(), 3_000_000n);
  d.fund(bob.wallet.newAddress(), 2_000_000n);
  d.mine(1);
  await sync(alice, bob);
  await connect(alice, bob);
});

afterAll(async () => {
  for (const n of [alice, bob]) await stopNode(n).catch(() => undefined);
  await d?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Mines `n` blocks and lets both nodes process them. */
async function mine(n: number): Promise<void> {
  d.mine(n);
  await sync(alice, bob);
}

function peerView(n: TestNode, id: string) {
  const c = n.cm.channel(id);
  if (!c) throw new Error(`${n.name} has no channel ${id}`);
  return c;
}

/** Both sides agree on the channel's balances. */
function expectAgreement(id: string): void {
  const a = peerView(alice, id);
  const b = peerView(bob, id);
  expect(a.localMsat).toBe(b.remoteMsat);
  expect(a.remoteMsat).toBe(b.localMsat);
  expect(a.pendingHtlcs).toBe(0);
  expect(b.pendingHtlcs).toBe(0);
}

describe('channel runtime on the devnet', () => {
  it('opens an anchors channel (alice) and a static_remotekey channel (bob), funded from the wallets', async () => {
    const a = await alice.cm.openChannel(bob.keys.nodeId, 1_000_000n, {
      channelType: 'anchors',
      pushMsat: 100_000_000n,
    });
    const b = await bob.cm.openChannel(alice.keys.nodeId, 500_000n, { channelType: 'static_remotekey' });
    anchorsId = a.channelId;
    staticId = b.channelId;
    // The funding transactions are in the devnet's mempool and pay the 2-of-2 the agreed amount.
    await sync(alice, bob);
    expect(d.chain.getConfirmedTx(a.fundingTxid)).toBeUndefined();
    expect(peerView(alice, anchorsId).state).toBe('WaitForFundingConfirmed');
    await mine(3);
    await waitFor(
      () => peerView(alice, anchorsId).state === 'Normal' && peerView(bob, anchorsId).state === 'Normal',
    );
    await waitFor(
      () => peerView(alice, staticId).state === 'Normal' && peerView(bob, staticId).state === 'Normal',
    );
    const fa = d.chain.getConfirmedTx(a.fundingTxid)!;
    expect(fa.tx.outputs[a.fundingOutputIndex]!.value).toBe(1_000_000n);
    const ca = peerView(alice, anchorsId);
    expect(ca.channelType).toBe('anchors');
    expect(peerView(bob, staticId).channelType).toBe('static_remotekey');
    expect(ca.shortChannelId).toBe(
      (BigInt(fa.entry.height) << 40n) | (BigInt(fa.pos) << 16n) | BigInt(a.fundingOutputIndex),
    );
    expect(peerView(bob, anchorsId).shortChannelId).toBe(ca.shortChannelId);
    // Bob got the push; alice keeps the rest (balances exclude the commitment fee).
    expect(peerView(bob, anchorsId).localMsat).toBe(100_000_000n);
    expect(ca.localMsat).toBe(900_000_000n);
    expect(peerView(bob, staticId).localMsat).toBe(500_000_000n);
    expect(peerView(alice, staticId).localMsat).toBe(0n);
    expectAgreement(anchorsId);
    expectAgreement(staticId);
    const ready = alice.cm.events.pending().filter((e) => e.type === 'ChannelReady');
    expect(ready.map((e) => (e as { channelId: string }).channelId).sort()).toEqual(
      [anchorsId, staticId].sort(),
    );
  });

  it('pays 50 invoices in both directions, several concurrently; balances agree on both sides', async () => {
    const before = {
      a: alice.cm.listChannels().reduce((s, c) => s + c.localMsat, 0n),
      b: bob.cm.listChannels().reduce((s, c) => s + c.localMsat, 0n),
    };
    let aToB = 0n;
    let bToA = 0n;
    for (let round = 0; round < 10; round++) {
      const jobs: Promise<unknown>[] = [];
      for (let k = 0; k < 5; k++) {
        const fromAlice = (round + k) % 2 === 0;
        const [payer, payee] = fromAlice ? [alice, bob] : [bob, alice];
        const amount = BigInt(1_000_000 + 1000 * (round * 5 + k));
        jobs.push(
          (async () => {
            const inv = await payee.pay.createInvoice({ amountMsat: amount, description: `r${round}k${k}` });
            const r = await payer.pay.pay(inv.bolt11);
            expect(r.status).toBe('succeeded');
            expect(r.preimage).toBe(inv.preimage);
            expect(r.feeMsat).toBe(0n);
            if (fromAlice) aToB += amount;
            else bToA += amount;
          })(),
        );
      }
      await Promise.all(jobs);
    }
    await alice.cm.whenIdle();
    await bob.cm.whenIdle();
    await waitFor(() =>
      [anchorsId, staticId].every(
        (id) => peerView(alice, id).pendingHtlcs === 0 && peerView(bob, id).pendingHtlcs === 0,
      ),
    );
    expectAgreement(anchorsId);
    expectAgreement(staticId);
    const after = {
      a: alice.cm.listChannels().reduce((s, c) => s + c.localMsat, 0n),
      b: bob.cm.listChannels().reduce((s, c) => s + c.localMsat, 0n),
    };
    expect(after.a - before.a).toBe(bToA - aToB);
    expect(after.b - before.b).toBe(aToB - bToA);
    const out = alice.pay.listPayments().filter((p) => p.direction === 'outgoing');
    const inc = bob.pay.listPayments().filter((p) => p.direction === 'incoming');
    expect(out.filter((p) => p.status === 'succeeded').length).toBe(25);
    expect(
      inc
        .filter((p) => p.status === 'succeeded')
        .map((p) => p.paymentHash)
        .sort(),
    ).toEqual(out.map((p) => p.paymentHash).sort());
    const received = bob.cm.events.pending().filter((e) => e.type === 'PaymentReceived');
    expect(received.length).toBe(25);
  });

  it('restarts bob from its SQLite file mid-stream and continues', async () => {
    // A stream of 24 payments alice → bob, 3 at a time; bob is stopped after the 6th success
    // (HTLCs in flight) and restarted from its database while the stream goes on.
    const invoices: InvoiceRecord[] = [];
    for (let i = 0; i < 24; i++)
      invoices.push(await bob.pay.createInvoice({ amountMsat: 2_000_000n + BigInt(i) }));
    const results: string[] = new Array(24).fill('');
    let next = 0;
    let done = 0;
    let restarted: Promise<void> | undefined;
    let pendingAtStop = 0;
    const restart = async () => {
      const { chain, wallet, dbPath, port } = bob;
      pendingAtStop = alice.pay.listPayments().filter((p) => p.status === 'pending').length;
      await stopNode(bob);
      bob = await startNode(d, 'bob', { seedByte: 2, dbPath: dbPath!, reuse: { chain, wallet }, port });
      expect(peerView(bob, anchorsId).state).toBe('Offline');
      await connect(alice, bob);
    };
    const worker = async () => {
      while (next < invoices.length) {
        const i = next++;
        try {
          results[i] = (await alice.pay.pay(invoices[i]!.bolt11)).status;
        } catch (e) {
          results[i] = `error:${(e as { code?: string }).code}`;
        }
        if (++done === 6) restarted = restart();
        if (restarted && done > 6) await restarted;
      }
    };
    await Promise.all([worker(), worker(), worker()]);
    await restarted;
    await waitFor(() =>
      [anchorsId, staticId].every(
        (id) => peerView(alice, id).state === 'Normal' && peerView(bob, id).state === 'Normal',
      ),
    );
    await waitFor(() =>
      [anchorsId, staticId].every(
        (id) => peerView(alice, id).pendingHtlcs === 0 && peerView(bob, id).pendingHtlcs === 0,
      ),
    );
    await waitFor(() => alice.pay.listPayments().every((p) => p.status !== 'pending'));
    expect(results.filter((r) => r === 'succeeded').length).toBeGreaterThanOrEqual(12);
    // Bob went down mid-stream: payments were in flight when he stopped.
    expect(pendingAtStop).toBeGreaterThan(0);
    // Every payment ended (succeeded, or failed while bob was away: how many depends on timing).
    expect(results.every((r) => r === 'succeeded' || r === 'failed' || r.startsWith('error:'))).toBe(true);
    // Whatever succeeded for alice was received by bob, and nothing else.
    const ok = invoices
      .filter((i) => alice.pay.payment(i.paymentHash)?.status === 'succeeded')
      .map((i) => i.paymentHash)
      .sort();
    const got = invoices
      .filter((i) => bob.pay.invoice(i.paymentHash)?.status === 'paid')
      .map((i) => i.paymentHash)
      .sort();
    expect(got).toEqual(ok);
    expectAgreement(anchorsId);
    expectAgreement(staticId);
    // And payments keep flowing both ways after the restart.
    for (let i = 0; i < 4; i++) {
      const [payer, payee] = i % 2 === 0 ? [alice, bob] : [bob, alice];
      const inv = await payee.pay.createInvoice({ amountMsat: 3_000_000n });
      expect((await payer.pay.pay(inv.bolt11)).status).toBe('succeeded');
    }
    await waitFor(() =>
      [anchorsId, staticId].every(
        (id) => peerView(alice, id).pendingHtlcs === 0 && peerView(bob, id).pendingHtlcs === 0,
      ),
    );
    expectAgreement(anchorsId);
    expectAgreement(staticId);
  });

  it('closes both channels cooperatively; both wallets receive their balances to the satoshi', async () => {
    await sync(alice, bob);
    const wa = alice.wallet.balances().total;
    const wb = bob.wallet.balances().total;
    const views = [anchorsId, staticId].map((id) => ({ id, a: peerView(alice, id), b: peerView(bob, id) }));
    const closed = [];
    for (const v of views) {
      const opener = v.a.isOpener ? alice : bob;
      closed.push(await opener.cm.closeChannel(v.id));
    }
    await waitFor(() =>
      views.every(
        (v) =>
          peerView(alice, v.id).closingTxid !== undefined && peerView(bob, v.id).closingTxid !== undefined,
      ),
    );
    await mine(1);
    let gainA = 0n;
    let gainB = 0n;
    for (const [i, v] of views.entries()) {
      const txid = closed[i]!.closingTxid!;
      expect(peerView(alice, v.id).closingTxid).toBe(txid);
      const conf = d.chain.getConfirmedTx(txid);
      expect(conf).toBeDefined();
      const tx = conf!.tx;
      const aScript = (s: Uint8Array) => alice.wallet.isMine(s);
      const outA = tx.outputs.filter((o) => aScript(o.scriptPubKey)).reduce((s, o) => s + o.value, 0n);
      const outB = tx.outputs
        .filter((o) => bob.wallet.isMine(o.scriptPubKey))
        .reduce((s, o) => s + o.value, 0n);
      expect(outA + outB).toBe(tx.outputs.reduce((s, o) => s + o.value, 0n));
      const aSat = v.a.localMsat / 1000n;
      const bSat = v.b.localMsat / 1000n;
      // The opener pays the closing fee; the other side gets its balance exactly.
      const fee = v.a.isOpener ? aSat - outA : bSat - outB;
      expect(fee).toBeGreaterThan(0n);
      if (v.a.isOpener) expect(outB).toBe(bSat);
      else expect(outA).toBe(aSat);
      expect(v.a.capacitySat - (outA + outB) - fee).toBe(v.a.capacitySat - aSat - bSat);
      gainA += outA;
      gainB += outB;
    }
    expect(alice.wallet.balances().total).toBe(wa + gainA);
    expect(bob.wallet.balances().total).toBe(wb + gainB);
    expect(alice.wallet.balances().confirmed).toBe(wa + gainA);
    await mine(2);
    await waitFor(() =>
      views.every((v) => peerView(alice, v.id).state === 'Closed' && peerView(bob, v.id).state === 'Closed'),
    );
  });
});
