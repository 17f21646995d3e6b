/**
 * A revoked commitment on chain, in the node runtime (BOLT 5 "Revoked Transaction Close
 * Handling"): bob's SQLite database is copied while he holds a large balance and an HTLC in
 * flight; the channel moves on (the HTLC is fulfilled, bob pays most of his balance back); bob is
 * stopped, his old database restored, and his own runtime force-closes — publishing the revoked
 * commitment. Alice's monitor takes every output with justice transactions: the cheater ends
 * with nothing from the channel, alice with the whole channel minus fees (to the satoshi).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Devnet } from '../../src/apps/devnet/index.js';
import { toHex } from '../../src/protocol/encoding/bytes.js';
import {
  confirmedPublished,
  connectNodes,
  feeOf,
  feeOfTx,
  type MNode,
  mineUntil,
  prevValue,
  restoreDb,
  settle,
  snapshotDb,
  startMNode,
  stopMNode,
  total,
  useMonitorSuite,
  waitFor,
} from './monitor-helpers.js';

let d: Devnet;
let dir: string;
let seed = 80;
const running: MNode[] = [];
useMonitorSuite(
  'farad-breach-',
  (devnet, tmp) => {
    d = devnet;
    dir = tmp;
  },
  running,
);

const FUNDING = 1_000_000n;

describe('breach: a node restored from an old database publishes a revoked commitment', () => {
  for (const channelType of ['static_remotekey', 'anchors'] as const) {
    it(`the victim's monitor takes every output (${channelType})`, async () => {
      const alice = await startMNode(d, 'alice', { seedByte: seed++, dbPath: join(dir, `a${seed}.db`) });
      let bob = await startMNode(d, 'bob', { seedByte: seed++, dbPath: join(dir, `b${seed}.db`) });
      running.push(alice, bob);
      d.fund(alice.wallet.newAddress(), 2_000_000n);
      d.fund(bob.wallet.newAddress(), 300_000n);
      d.mine(1);
      await settle(alice, bob);
      const wa0 = total(alice);
      await connectNodes(alice, bob);
      const open = await alice.cm.openChannel(bob.keys.nodeId, FUNDING, { channelType });
      const id = open.channelId;
      d.mine(1);
      await settle(alice, bob);
      await waitFor(() => alice.cm.channel(id)?.state === 'Normal' && bob.cm.channel(id)?.state === 'Normal');
      const fundingFee = feeOf(d, open.fundingTxid);

      // alice pays bob 400,000 sat; one more HTLC of 20,000 sat is held by bob.
      for (let k = 0; k < 2; k++) {
        const inv = await bob.pay.createInvoice({ amountMsat: 200_000_000n });
        expect((await alice.pay.pay(inv.bolt11)).status).toBe('succeeded');
      }
      bob.hold = true;
      const held = await bob.pay.createInvoice({ amountMsat: 20_000_000n });
      const heldPay = alice.pay.pay(held.bolt11);
      await waitFor(() => bob.held.length === 1, 10_000, 'HTLC held');
      await settle(alice, bob);
      await waitFor(() => alice.cm.channel(id)!.pendingHtlcs === 1 && bob.cm.channel(id)!.pendingHtlcs === 1);

      // The old copy: bob has 400,000 sat and an incoming HTLC of 20,000.
      const backup = join(dir, `backup${seed}.db`);
      snapshotDb(bob.dbPath, backup);

      // The channel moves on: bob claims the HTLC, then pays 350,000 sat back.
      bob.hold = false;
      await bob.payHooks.htlcReceived(bob.held[0]!.channelId, bob.held[0]!.add, false);
      expect((await heldPay).status).toBe('succeeded');
      for (let k = 0; k < 2; k++) {
        const inv = await alice.pay.createInvoice({ amountMsat: 175_000_000n });
        expect((await bob.pay.pay(inv.bolt11)).status).toBe('succeeded');
      }
      await settle(alice, bob);
      await waitFor(() => alice.cm.channel(id)!.pendingHtlcs === 0 && bob.cm.channel(id)!.pendingHtlcs === 0);
      expect(bob.cm.channel(id)!.localMsat).toBe(70_000_000n);
      expect(alice.mon.monitorState(id)!.revoked.length).toBeGreaterThan(3);

      // Bob restores the old database and force-closes: his runtime publishes the revoked state.
      const { chain, wallet, dbPath } = bob;
      await stopMNode(bob);
      running.splice(running.indexOf(bob), 1);
      restoreDb(backup, dbPath);
      bob = await startMNode(d, 'bob', { seedByte: bob.seedByte, dbPath, reuse: { chain, wallet } });
      running.push(bob);
      expect(bob.cm.channel(id)!.localMsat).toBe(400_000_000n);
      expect(bob.cm.channel(id)!.pendingHtlcs).toBe(1);
      const wbBefore = total(bob);
      const waBefore = total(alice);
      expect(waBefore).toBe(wa0 - FUNDING - fundingFee);
      const { closingTxid } = await bob.cm.closeChannel(id, { force: true });
      await settle(alice, bob);
      d.mine(1);
      await settle(alice, bob);
      const revoked = d.chain.getConfirmedTx(closingTxid!);
      expect(revoked, 'the revoked commitment confirmed').toBeDefined();
      expect(alice.events.filter((e) => e.type === 'FundingSpent').map((e) => e.kind)).toEqual(['revoked']);
      expect(bob.events.filter((e) => e.type === 'FundingSpent').map((e) => e.kind)).toEqual(['local']);

      await mineUntil(d, [alice, bob], () => alice.mon.list().every((m) => m.resolved), 40);
      // A few more blocks: whatever the cheater still tries (delayed sweeps) cannot succeed.
      for (let k = 0; k < 8; k++) {
        d.mine(1);
        await settle(alice, bob);
      }

      const tx = revoked!.tx;
      const anchors = channelType === 'anchors';
      let channelValue = 0n; // every output but the anchors
      for (const o of tx.outputs) if (!(anchors && o.value === 330n)) channelValue += o.value;
      const justice = confirmedPublished(d, alice);
      expect(justice.length).toBeGreaterThanOrEqual(1);
      expect(justice.every((t) => t.kind === 'justice' || t.kind === 'to-remote-sweep')).toBe(true);
      // Each output of the revoked commitment (anchors aside) ended with alice, directly or
      // through a second-stage transaction of the cheater that alice's justice took too.
      const aliceFees = justice.reduce((s, t) => s + feeOfTx(d, t.tx), 0n);
      const cheaterSecondStage = confirmedPublished(d, bob).filter((t) => t.kind.startsWith('htlc-'));
      let lostInSecondStage = 0n; // a static_remotekey HTLC tx pays its fee from the HTLC amount
      for (const t of cheaterSecondStage)
        lostInSecondStage +=
          prevValue(d, toHex(t.tx.inputs[0]!.txid), t.tx.inputs[0]!.vout) - t.tx.outputs[0]!.value;
      expect(total(alice) - waBefore).toBe(channelValue - aliceFees - lostInSecondStage);
      // The cheater: no claim of his confirmed; his wallet only paid fees (anchors: the CPFP of
      // his commitment, which spends his 330 sat anchor, and the funding of HTLC transactions).
      expect(bob.events.filter((e) => e.type === 'ClaimConfirmed')).toEqual([]);
      const kinds = confirmedPublished(d, bob).map((t) => t.kind);
      expect(
        kinds.every((k) => ['local-commitment', 'cpfp', 'htlc-success', 'htlc-timeout'].includes(k)),
      ).toBe(true);
      let walletNet = 0n; // what bob's wallet put into his published transactions
      for (const t of confirmedPublished(d, bob)) {
        for (const i of t.tx.inputs) {
          const prev = d.chain.getConfirmedTx(toHex(i.txid))!.tx.outputs[i.vout]!;
          if (wallet.isMine(prev.scriptPubKey)) walletNet += prev.value;
        }
        for (const o of t.tx.outputs) if (wallet.isMine(o.scriptPubKey)) walletNet -= o.value;
      }
      expect(total(bob)).toBe(wbBefore - walletNet);
      expect(total(bob)).toBeLessThanOrEqual(wbBefore + (anchors ? 330n : 0n));
      // The victim's channel is closed; the cheater's latest (revoked) balance is gone.
      await waitFor(() => alice.cm.channel(id)!.state === 'Closed');
    });
  }
});
