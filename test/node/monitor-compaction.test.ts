/**
 * Monitor compaction in the node runtime (BOLT 5 monitor records): a channel doing many payments
 * keeps a bounded number of `monitor/<id>/<seq>` records and a bounded monitor state (revoked
 * commitments go to the `monitor_revoked` archive); a data directory written without compaction
 * (updates only, an old-format state record) is compacted at start-up; after a restart from
 * snapshot + tail, a revoked commitment from long before the snapshot is still fully punished.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/adapters/store/sqlite.js';
import type { Devnet } from '../../src/apps/devnet/index.js';
import {
  decodeMonitorState,
  encodeMonitorState,
  encodeMonitorStateJson,
} from '../../src/core/monitor/index.js';
import { MONITOR_ARCHIVE_NS, MONITOR_NS } from '../../src/node/monitor/index.js';
import { concat, fromUtf8, toHex, utf8 } from '../../src/protocol/encoding/bytes.js';
import {
  confirmedPublished,
  connectNodes,
  feeOfTx,
  type MNode,
  mineUntil,
  prevValue,
  restartMNode,
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
const running: MNode[] = [];
useMonitorSuite(
  'farad-compact-',
  (devnet, tmp) => {
    d = devnet;
    dir = tmp;
  },
  running,
);

const COMPACT = { compactEvery: 16, keepUpdates: 8 };
const NO_COMPACTION = { compactEvery: 1e12 };

async function updateRecords(n: MNode, id: string): Promise<number> {
  return (await n.store.list('monitor')).filter((k) => k.startsWith(`${id}/`)).length;
}

async function payRound(from: MNode, to: MNode, count: number, msat: bigint): Promise<void> {
  for (let k = 0; k < count; k++) {
    const inv = await to.pay.createInvoice({ amountMsat: msat });
    expect((await from.pay.pay(inv.bolt11)).status).toBe('succeeded');
  }
}

describe('monitor compaction in the node runtime', () => {
  it('bounded records and state; old data dirs compact at start-up; old revoked states are punished after a reload', async () => {
    let alice = await startMNode(d, 'alice', {
      seedByte: 120,
      dbPath: join(dir, 'a.db'),
      monitor: NO_COMPACTION,
    });
    let bob = await startMNode(d, 'bob', { seedByte: 121, dbPath: join(dir, 'b.db'), monitor: COMPACT });
    running.push(alice, bob);
    d.fund(alice.wallet.newAddress(), 2_000_000n);
    d.fund(bob.wallet.newAddress(), 300_000n);
    d.mine(1);
    await settle(alice, bob);
    await connectNodes(alice, bob);
    const open = await alice.cm.openChannel(bob.keys.nodeId, 1_000_000n, { channelType: 'anchors' });
    const id = open.channelId;
    d.mine(1);
    await settle(alice, bob);
    await waitFor(() => alice.cm.channel(id)?.state === 'Normal' && bob.cm.channel(id)?.state === 'Normal');

    // Bob gets 400,000 sat and holds an incoming HTLC; his database is copied (the old state).
    await payRound(alice, bob, 2, 200_000_000n);
    bob.hold = true;
    const held = await bob.pay.createInvoice({ amountMsat: 20_000_000n });
    const heldPay = alice.pay.pay(held.bolt11);
    await waitFor(() => bob.held.length === 1, 10_000, 'HTLC held');
    await settle(alice, bob);
    await waitFor(() => alice.cm.channel(id)!.pendingHtlcs === 1 && bob.cm.channel(id)!.pendingHtlcs === 1);
    const backup = join(dir, 'backup.db');
    snapshotDb(bob.dbPath, backup);
    bob.hold = false;
    await bob.payHooks.htlcReceived(bob.held[0]!.channelId, bob.held[0]!.add, false);
    expect((await heldPay).status).toBe('succeeded');

    // Many payments both ways; alice runs without compaction (the old behaviour).
    for (let r = 0; r < 6; r++) {
      await payRound(alice, bob, 2, 1_000_000n);
      await payRound(bob, alice, 2, 1_000_000n);
    }
    await settle(alice, bob);
    const oldRecords = await updateRecords(alice, id);
    expect(oldRecords).toBeGreaterThan(100);
    expect(await updateRecords(bob, id)).toBeLessThanOrEqual(COMPACT.compactEvery + COMPACT.keepUpdates + 8);
    expect((await bob.store.list(MONITOR_ARCHIVE_NS)).length).toBeGreaterThan(0);
    expect(bob.mon.monitorState(id)!.revoked.length).toBeLessThan(alice.mon.monitorState(id)!.revoked.length);

    // Alice's record is made old-format (no `prunedSeq`, no compact secret store), then she
    // restarts with compaction: her data directory is compacted at start-up.
    await stopMNode(alice);
    running.splice(running.indexOf(alice), 1);
    {
      const st = new SqliteStore(alice.dbPath);
      const v = (await st.read(MONITOR_NS, id))!;
      const nl = v.indexOf(10);
      const header = JSON.parse(fromUtf8(v.subarray(0, nl))) as Record<string, unknown>;
      delete header.prunedSeq;
      // The state in the old (JSON) format, without the compact secret store.
      const state = decodeMonitorState(v.subarray(nl + 1));
      const body = encodeMonitorStateJson({ ...state, secrets: undefined });
      await st.write(MONITOR_NS, id, concat(utf8(`${JSON.stringify(header)}\n`), body));
      await st.close();
    }
    alice = await restartMNode(d, alice, 0, COMPACT);
    running.push(alice);
    await connectNodes(alice, bob);
    await waitFor(() => alice.cm.channel(id)?.state === 'Normal' && bob.cm.channel(id)?.state === 'Normal');
    expect(await updateRecords(alice, id)).toBeLessThanOrEqual(COMPACT.keepUpdates + COMPACT.compactEvery);
    expect(alice.mon.monitorState(id)!.revoked).toEqual([]);

    // More payments: records and the state stay bounded.
    const size = () => encodeMonitorState(alice.mon.monitorState(id)!).length;
    await payRound(alice, bob, 4, 1_000_000n);
    await settle(alice, bob);
    const size1 = size();
    for (let r = 0; r < 4; r++) {
      await payRound(alice, bob, 2, 1_000_000n);
      await payRound(bob, alice, 2, 1_000_000n);
    }
    await settle(alice, bob);
    const bound = COMPACT.compactEvery + COMPACT.keepUpdates + 8;
    expect(await updateRecords(alice, id)).toBeLessThanOrEqual(bound);
    expect(await updateRecords(bob, id)).toBeLessThanOrEqual(bound);
    expect(alice.mon.monitorState(id)!.revoked.length).toBeLessThanOrEqual(bound);
    expect(size()).toBeLessThan(size1 * 2);

    // Alice reloads (snapshot + tail), then bob restores his old database and force-closes.
    const before = alice;
    alice = await restartMNode(d, before, 0);
    running.splice(running.indexOf(before), 1, alice);
    const { chain, wallet, dbPath } = bob;
    await stopMNode(bob);
    running.splice(running.indexOf(bob), 1);
    restoreDb(backup, dbPath);
    bob = await startMNode(d, 'bob', { seedByte: 121, dbPath, reuse: { chain, wallet }, monitor: COMPACT });
    running.push(bob);
    expect(bob.cm.channel(id)!.pendingHtlcs).toBe(1);
    const waBefore = total(alice);
    const { closingTxid } = await bob.cm.closeChannel(id, { force: true });
    await settle(alice, bob);
    d.mine(1);
    await settle(alice, bob);
    const revoked = d.chain.getConfirmedTx(closingTxid!);
    expect(revoked).toBeDefined();
    expect(alice.events.filter((e) => e.type === 'FundingSpent').map((e) => e.kind)).toEqual(['revoked']);
    // The archived record was put back: the HTLC output is known again.
    expect(alice.mon.monitorState(id)!.revoked.some((r) => r.htlcs.length === 1)).toBe(true);
    await mineUntil(d, [alice, bob], () => alice.mon.list().every((m) => m.resolved), 40);
    for (let k = 0; k < 8; k++) {
      d.mine(1);
      await settle(alice, bob);
    }
    let channelValue = 0n;
    for (const o of revoked!.tx.outputs) if (o.value !== 330n) channelValue += o.value;
    const justice = confirmedPublished(d, alice);
    expect(justice.every((t) => t.kind === 'justice' || t.kind === 'to-remote-sweep')).toBe(true);
    const aliceFees = justice.reduce((s, t) => s + feeOfTx(d, t.tx), 0n);
    let lostInSecondStage = 0n;
    for (const t of confirmedPublished(d, bob).filter((x) => x.kind.startsWith('htlc-')))
      lostInSecondStage +=
        prevValue(d, toHex(t.tx.inputs[0]!.txid), t.tx.inputs[0]!.vout) - t.tx.outputs[0]!.value;
    expect(total(alice) - waBefore).toBe(channelValue - aliceFees - lostInSecondStage);
    expect(bob.events.filter((e) => e.type === 'ClaimConfirmed')).toEqual([]);
  });
});
