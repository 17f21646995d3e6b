/**
 * Breach, three `farad node start` processes on the devnet: A (the victim) opens an anchors
 * channel to B and a static_remotekey channel to C and pays each 400,000 sat, plus a 20,000 sat
 * HTLC each holds (hold invoice). B and C are stopped and their data dirs copied (the "old
 * backup"); they restart, settle the HTLC and pay 350,000 sat back. A disconnects them; they are
 * stopped, their old data dirs restored, and each force-closes (CLI `closechannel --force`):
 * publishing a revoked commitment. A's monitors take every output of both revoked commitments
 * (anchors aside) with justice transactions: A's wallet ends with the whole channel value minus
 * the fees of its own transactions, to the satoshi; the cheaters only lose fees.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '../../src/protocol/crypto/hash.js';
import { toHex } from '../../src/protocol/encoding/bytes.js';
import {
  api,
  channel,
  connect,
  dd,
  E2E,
  type E2ENode,
  expectWallet,
  fund,
  type Json,
  ok,
  openChannel,
  settledAgreement,
  until,
  walletTotal,
} from './harness.js';

let e: E2E;
let a: E2ENode;
let b: E2ENode;
let c: E2ENode;
const CAP = 1_000_000n;

interface Cheat {
  type: 'anchors' | 'static_remotekey';
  y: E2ENode;
  id: string;
  backup: string;
  held: { preimage: string; pay: Promise<Json> };
  revokedTxid: string;
  /** The cheater's wallet when it publishes. */
  wy: bigint;
}
const cheats: Cheat[] = [];
let wa: bigint;

beforeAll(async () => {
  e = await E2E.start();
  [a, b, c] = await Promise.all([e.node('A'), e.node('B', { esplora: true }), e.node('C')]);
  await fund(e, [
    [a, 1_500_000n], // two coins: A funds two channels at once
    [a, 1_500_000n],
    [b, 300_000n],
    [c, 300_000n],
  ]);
  await connect(a, b);
  await connect(a, c);
}, 120_000);

afterAll(async () => {
  await e?.close();
});

async function pay(from: E2ENode, to: E2ENode, msat: bigint): Promise<void> {
  const inv = await api(to, 'POST', 'invoice', { amount_msat: msat.toString() });
  const r = await api(from, 'POST', 'pay', { bolt11: inv.bolt11 });
  expect(r.status, r.failure_reason ?? '').toBe('succeeded');
}

async function monitors(n: E2ENode): Promise<Json[]> {
  return (await api(n, 'GET', 'listmonitors')).monitors;
}

async function setUp(type: Cheat['type'], y: E2ENode): Promise<Cheat> {
  const ch = await openChannel(e, a, y, CAP, { type });
  for (let k = 0; k < 2; k++) await pay(a, y, 200_000_000n);
  const pre = randomBytes(32);
  const inv = await ok('holdinvoice', toHex(sha256(pre)), '20000000', ...dd(y));
  const heldPay = api(a, 'POST', 'pay', { bolt11: inv.bolt11 });
  await until(
    async () =>
      (await api(y, 'GET', 'listinvoices')).invoices.find((i: Json) => i.bolt11 === inv.bolt11)?.status ===
      'accepted',
    `${y.name} holds the HTLC`,
  );
  await until(
    async () =>
      (await channel(a, ch.id)).pending_htlcs === 1 && (await channel(y, ch.id)).pending_htlcs === 1,
    'HTLC committed',
  );
  // The old copy: y has 400,000 sat and an incoming HTLC of 20,000.
  await e.stop(y);
  const backup = e.backup(y, `${y.name}-backup`);
  await e.restart(y);
  await until(
    async () => (await channel(y, ch.id)).active && (await channel(a, ch.id)).active,
    `${y.name} back`,
  );
  return {
    type,
    y,
    id: ch.id,
    backup,
    held: { preimage: toHex(pre), pay: heldPay },
    revokedTxid: '',
    wy: 0n,
  };
}

describe('breach: nodes restored from old data dirs publish revoked commitments', () => {
  it('the channels move on after the backups; the cheaters restore them and force-close', async () => {
    cheats.push(...(await Promise.all([setUp('anchors', b), setUp('static_remotekey', c)])));
    await Promise.all(
      cheats.map(async (s) => {
        expect((await ok('settleinvoice', s.held.preimage, ...dd(s.y))).status).toBe('paid');
        expect((await s.held.pay).status).toBe('succeeded');
        for (let k = 0; k < 2; k++) await pay(s.y, a, 175_000_000n);
        const [va] = await settledAgreement(a, s.y, s.id);
        expect(BigInt(va.remote_msat)).toBe(70_000_000n);
        // A stops talking to the cheater, which goes back to its old data dir.
        await ok('disconnect', s.y.nodeId, ...dd(a));
        await e.stop(s.y);
        e.restore(s.y, s.backup);
        await e.restart(s.y);
        const old = await channel(s.y, s.id);
        expect(old.local_msat).toBe('400000000');
        expect(old.pending_htlcs).toBe(1);
        expect(old.active).toBe(false);
      }),
    );
    wa = await walletTotal(a);
    for (const s of cheats) {
      s.wy = await walletTotal(s.y);
      const r = await ok('closechannel', s.id, '--force', ...dd(s.y));
      s.revokedTxid = r.closing_txid;
    }
    e.d.mine(1);
    for (const s of cheats)
      expect(
        e.d.chain.getConfirmedTx(s.revokedTxid),
        `${s.type}: revoked commitment confirmed`,
      ).toBeDefined();
  }, 240_000);

  it("A's monitors take every output of the revoked commitments", async () => {
    const done = async () => {
      const ms = await monitors(a);
      return cheats.every((s) => ms.find((m) => m.channel_id === s.id)?.resolved === true);
    };
    await e.mineUntil(done, 'justice resolved', 60);
    e.d.mine(8); // whatever the cheaters still try cannot succeed
    const ms = await monitors(a);
    let channelValue = 0n;
    let fees = 0n;
    for (const s of cheats) {
      const m = ms.find((x) => x.channel_id === s.id);
      expect(m.close_kind).toBe('revoked');
      const mine = new Set<string>(m.published.map((p: Json) => p.txid));
      const tx = e.tx(s.revokedTxid);
      const anchors = s.type === 'anchors';
      tx.outputs.forEach((o, vout) => {
        if (anchors && o.value === 330n) return;
        channelValue += o.value;
        // Spent by one of A's transactions, directly or through a second-stage tx A took too.
        const sp = e.d.chain.spenderOf(s.revokedTxid, vout);
        expect(sp?.confirmed, `${s.type}: output ${vout} spent`).toBe(true);
        if (!mine.has(sp!.txid)) {
          const second = e.d.chain.spenderOf(sp!.txid, 0);
          expect(second && mine.has(second.txid), `${s.type}: output ${vout} ended with A`).toBe(true);
        }
      });
      for (const p of m.published) {
        if (!e.d.chain.getConfirmedTx(p.txid)) continue;
        expect(['justice', 'to-remote-sweep']).toContain(p.kind);
        fees += e.feeOf(p.txid);
      }
      for (const n of [a, s.y])
        await until(async () => (await channel(n, s.id)).state === 'CLOSED', `${n.name} CLOSED`);
    }
    await expectWallet(a, wa + channelValue - fees, 'the victim');
    // The cheaters got nothing from the channels: their wallets only paid fees (anchors: CPFP).
    for (const s of cheats) {
      const m = (await monitors(s.y)).find((x) => x.channel_id === s.id);
      let walletNet = 0n; // what the cheater's wallet put into its confirmed transactions
      for (const p of m.published) {
        if (!e.d.chain.getConfirmedTx(p.txid)) continue;
        expect(['local-commitment', 'cpfp']).toContain(p.kind);
        if (p.kind === 'cpfp') walletNet += e.feeOf(p.txid) - 330n;
      }
      if (s.type === 'static_remotekey') expect(walletNet).toBe(0n);
      await expectWallet(s.y, s.wy - walletNet, `the ${s.type} cheater`);
    }
  }, 240_000);
});
