/**
 * Interop scenario 5 (force close) with LDK 0.1 on static_remotekey channels, with HTLCs in
 * flight in both directions when the commitment goes on chain:
 * - one the payee (LDK) claims with its preimage on chain after the close,
 * - one the payee holds forever (the payer takes it back after its timeout),
 * - one the other way that the payee (Farad) never resolves (timed out by LDK).
 * Farad runs its BOLT 5 chain monitor (src/node/monitor); LDK its ChainMonitor, and the harness
 * sweeps LDK's SpendableOutputs. Blocks are mined until every output of the commitment (and of
 * any second-stage transaction) is spent into one of the two wallets; then each wallet's change is
 * checked to the satoshi against the commitment's outputs and the fee of every transaction that
 * side published, and the payments' outcomes on both sides.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fundedData } from '../../src/node/channels/manager.js';
import { equal, fromHex, toHex } from '../../src/protocol/encoding/bytes.js';
import { decodeInvoice } from '../../src/protocol/invoice/index.js';
import { type Transaction, txidHex } from '../../src/protocol/tx/transaction.js';
import { Interop, ldkEvent, type MonitoredNode, waitFor } from './fixture.js';
import type { LdkNode } from './ldk.js';

let net: Interop;
let farad: MonitoredNode;
let ldk: LdkNode;
let ldkScripts: Uint8Array[];

beforeAll(async () => {
  net = await Interop.start();
  // Farad asks LDK for a 6-block to_self_delay (LDK imposes at least 144 on Farad).
  farad = await net.monitoredNode('farad', 1, 5_000_000n, { toSelfDelay: 6 });
  ldk = await net.ldkNode('ldk', 9, { fundSats: 5_000_000n });
  ldkScripts = (await ldk.wallet()).scripts.map((s) => fromHex(s));
  await farad.pm.connect(ldk.nodeId, '127.0.0.1', ldk.port);
  await waitFor(async () => (await ldk.peers()).length === 1, 15_000, 'LDK sees Farad');
});

afterAll(async () => {
  await net?.stop();
});

const isLdk = (script: Uint8Array) => ldkScripts.some((s) => equal(s, script));

function txFee(tx: Transaction): bigint {
  let inSum = 0n;
  for (const i of tx.inputs) inSum += net.d.chain.getConfirmedTx(toHex(i.txid))!.tx.outputs[i.vout]!.value;
  return inSum - tx.outputs.reduce((s, o) => s + o.value, 0n);
}

/**
 * Every output of `txid` (recursively through non-wallet spends) is spent and confirmed — except
 * an anchor nobody needs (BOLT 3: 330 sat, anyone may sweep it after 16 blocks; LDK does not
 * spend the anchor of its counterparty's commitment).
 */
function fullySwept(txid: string): boolean {
  const c = net.d.chain.getConfirmedTx(txid);
  if (!c) return false;
  for (let vout = 0; vout < c.tx.outputs.length; vout++) {
    const o = c.tx.outputs[vout]!;
    if (farad.wallet.isMine(o.scriptPubKey) || isLdk(o.scriptPubKey)) continue;
    if (o.value === 330n && !net.d.chain.spenderOf(txid, vout)) continue;
    const sp = net.d.chain.spenderOf(txid, vout);
    if (!sp?.confirmed || !fullySwept(sp.txid)) return false;
  }
  return true;
}

/** The outputs still unspent under `txid` (for failure messages). */
function unswept(txid: string): string[] {
  const c = net.d.chain.getConfirmedTx(txid);
  if (!c) return [`${txid} unconfirmed`];
  const out: string[] = [];
  c.tx.outputs.forEach((o, vout) => {
    if (farad.wallet.isMine(o.scriptPubKey) || isLdk(o.scriptPubKey)) return;
    if (o.value === 330n && !net.d.chain.spenderOf(txid, vout)) return;
    const sp = net.d.chain.spenderOf(txid, vout);
    if (!sp?.confirmed) out.push(`${txid}:${vout} (${o.value} sat)`);
    else out.push(...unswept(sp.txid));
  });
  return out;
}

/** Opens a static_remotekey channel from `opener`, confirmed and Normal on both sides. */
async function openChannel(
  opener: 'farad' | 'ldk',
  sats: bigint,
  pushMsat: bigint,
  anchors: boolean,
): Promise<string> {
  let id: string;
  if (opener === 'farad') {
    const channelType = anchors ? 'anchors' : 'static_remotekey';
    id = (await farad.cm.openChannel(ldk.nodeId, sats, { channelType, pushMsat })).channelId;
  } else {
    const known = new Set(
      (await ldk.events()).filter((e) => e.type === 'ChannelPending').map((e) => e.channelId),
    );
    await ldk.openChannel(farad.keys.nodeId, sats, { anchors, pushMsat });
    id = (await ldkEvent(ldk, 'ChannelPending', (e) => !known.has(e.channelId))).channelId;
  }
  await net.mine(3);
  await waitFor(() => farad.cm.channel(id)?.state === 'Normal', 20_000, 'Farad Normal');
  await ldkEvent(ldk, 'ChannelReady', (e) => e.channelId === id);
  return id;
}

interface InFlight {
  /** Farad -> LDK, claimed by LDK on chain after the close. */
  claimed: { hash: string; sat: bigint; pay: Promise<unknown> };
  /** Farad -> LDK, never resolved by LDK: Farad times it out. */
  timedOutByFarad: { hash: string; sat: bigint; pay: Promise<unknown> };
  /** LDK -> Farad, never resolved by Farad: LDK times it out. */
  timedOutByLdk: { hash: string; sat: bigint };
}

/** Puts the three HTLCs of {@link InFlight} in both commitments. */
async function htlcsInFlight(id: string): Promise<InFlight> {
  // Nothing left held by a previous scenario.
  farad.held.length = 0;
  await ldk.release(true);
  await ldk.hold();
  const mk = async (sat: bigint) => {
    const inv = await ldk.createInvoice(sat * 1000n);
    return { hash: toHex(decodeInvoice(inv).paymentHash), sat, pay: farad.pay.pay(inv) };
  };
  const claimed = await mk(31_000n);
  const timedOutByFarad = await mk(22_000n);
  farad.hold = true;
  const back = await farad.pay.createInvoice({ amountMsat: 17_000_000n });
  await ldk.pay(back.bolt11);
  await waitFor(
    async () => {
      const l = await ldk.channel(id);
      return (
        farad.held.length === 1 &&
        farad.cm.channel(id)?.pendingHtlcs === 3 &&
        l?.pendingInboundHtlcs === 2 &&
        l.pendingOutboundHtlcs === 1
      );
    },
    20_000,
    '3 HTLCs in both commitments',
  );
  // Let the commitment dance finish on both sides.
  await new Promise((r) => setTimeout(r, 300));
  return { claimed, timedOutByFarad, timedOutByLdk: { hash: back.paymentHash, sat: 17_000n } };
}

/** Mines in small steps until the commitment and everything after it is swept. */
async function mineUntilSwept(commitTxid: string, extra: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 120; i++) {
    if (fullySwept(commitTxid) && (await extra())) return;
    await net.mine(i < 10 ? 1 : 4);
  }
  throw new Error(`outputs not swept after 120 rounds: ${unswept(commitTxid).join(', ')}`);
}

/**
 * The scenario: `opener` opens, HTLCs go in flight, `closer` publishes its commitment, LDK then
 * claims one HTLC with its preimage; mined until everything is swept; outcomes and wallets checked.
 */
async function forceCloseScenario(
  opener: 'farad' | 'ldk',
  closer: 'farad' | 'ldk',
  anchors = false,
): Promise<void> {
  const seq0 = (await ldk.events()).length;
  const id = await openChannel(opener, 1_000_000n, 300_000_000n, anchors);
  const h = await htlcsInFlight(id);
  const f = farad.cm.channel(id)!;
  const commits = fundedData(farad.cm.channelState(id)!)!.commitments;
  const faradCommit = toHex(commits.localCommit.txid);
  const ldkCommit = toHex(commits.remoteCommit.txid);
  const faradWallet0 = farad.wallet.balances().total;
  const ldkWallet0 = (await ldk.wallet()).confirmedSat;
  if (closer === 'farad') await farad.cm.closeChannel(id, { force: true });
  else await ldk.close(id, true);
  await waitFor(
    () => net.d.chain.spentInMempool(f.fundingTxid!, f.fundingOutputIndex!),
    15_000,
    'commitment broadcast',
  );
  await net.mine(1);
  const closingTxid = net.d.chain.spenderOf(f.fundingTxid!, f.fundingOutputIndex!)!.txid;
  // The other side fails the channel on the `error` it receives and publishes its own
  // commitment too (both implementations do): whichever reached the mempool first confirms (the
  // other conflicts). Under load that is not always the closer's, and nothing below depends on it.
  expect([faradCommit, ldkCommit]).toContain(closingTxid);
  const commit = net.d.chain.getConfirmedTx(closingTxid)!.tx;
  // The commitment pays each side its balance (the opener pays the fee) and the three HTLCs.
  const commitFee = f.capacitySat - commit.outputs.reduce((s, o) => s + o.value, 0n);
  // Anchors: the opener also pays the two 330-sat anchor outputs (BOLT 3).
  const anchorSats = anchors ? 660n : 0n;
  const faradBal = f.localMsat / 1000n - (f.isOpener ? commitFee + anchorSats : 0n);
  const ldkBal = f.remoteMsat / 1000n - (f.isOpener ? 0n : commitFee + anchorSats);
  const sorted = (v: bigint[]) => v.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  expect(sorted(commit.outputs.map((o) => o.value))).toEqual(
    sorted([17_000n, 22_000n, 31_000n, faradBal, ldkBal, ...(anchors ? [330n, 330n] : [])]),
  );
  await ldkEvent(ldk, 'ChannelClosed', (e) => e.channelId === id);
  if (closingTxid === faradCommit) expect(farad.cm.channel(id)!.closingTxid).toBe(closingTxid);
  // LDK learns the preimage of one HTLC only now: it claims it on chain.
  expect(await ldk.release(false, h.claimed.hash)).toBe(1);
  await mineUntilSwept(closingTxid, async () => {
    const evs = await ldk.events();
    return (
      evs.some((e) => e.type === 'PaymentFailed' && e.paymentHash === h.timedOutByLdk.hash) &&
      farad.monitorEvents.some((e) => e.type === 'ChannelFullyResolved' && e.channelId === id)
    );
  });
  // Payments: Farad learnt the preimage from the chain; its other HTLC timed out; LDK's failed.
  expect(((await h.claimed.pay) as { status: string }).status).toBe('succeeded');
  expect(((await h.timedOutByFarad.pay) as { status: string }).status).toBe('failed');
  await ldkEvent(ldk, 'PaymentClaimed', (e) => e.paymentHash === h.claimed.hash);
  // Wallets to the satoshi: each side's channel balance and HTLCs won, minus the fee of every
  // transaction it published after the commitment (claims, second-stage HTLC txs, sweeps).
  const after = (txids: Iterable<string>) =>
    [...new Set(txids)]
      .map((t) => net.d.chain.getConfirmedTx(t))
      .flatMap((c) => (c?.tx.inputs.some((i) => descendsFrom(toHex(i.txid), closingTxid)) ? [c.tx] : []));
  const feesOf = (txs: Transaction[]) => txs.reduce((s, t) => s + txFee(t), 0n);
  const faradTxs = after(farad.mon.published(id).map((p) => p.txid));
  const ldkTxs = after(await ldk.broadcasts());
  expect(faradTxs.length).toBeGreaterThan(0);
  expect(ldkTxs.length).toBeGreaterThan(0);
  // An anchor a side spent (to bump the commitment) counts as its own 330 sat.
  const anchorsSpentBy = (txs: Transaction[]) => {
    const ids = new Set(txs.map((t) => txidHex(t)));
    let sum = 0n;
    commit.outputs.forEach((o, vout) => {
      const sp = net.d.chain.spenderOf(closingTxid, vout);
      if (o.value === 330n && sp && ids.has(sp.txid)) sum += 330n;
    });
    return sum;
  };
  await farad.wallet.sync();
  expect(farad.wallet.balances().total - faradWallet0).toBe(
    faradBal + 22_000n + anchorsSpentBy(faradTxs) - feesOf(faradTxs),
  );
  await waitFor(async () => (await ldk.wallet()).confirmedSat > ldkWallet0, 15_000, 'LDK wallet');
  expect((await ldk.wallet()).confirmedSat - ldkWallet0).toBe(
    ldkBal + 31_000n + 17_000n + anchorsSpentBy(ldkTxs) - feesOf(ldkTxs),
  );
  if (anchors && closingTxid === ldkCommit) {
    // LDK funded its two zero-fee HTLC transactions (success, timeout) from its wallet. (Its
    // commitment already pays its current feerate estimate: no ChannelClose bump is needed.)
    const kinds = (await ldk.events(seq0)).filter((e) => e.type === 'BumpTransaction').map((e) => e.kind);
    expect(kinds.filter((k) => k === 'HTLCResolution').length).toBe(2);
  }
  // Leave nothing held for the next scenario.
  farad.hold = false;
  farad.held.length = 0;
  await ldk.release(true);
}

describe('interop: force close with LDK, HTLCs in flight', () => {
  it('Farad force-closes its channel: LDK claims one HTLC with its preimage, each side times out the other', async () => {
    await forceCloseScenario('farad', 'farad');
  });

  it('anchors: Farad force-closes its channel with HTLCs in flight', async () => {
    await forceCloseScenario('farad', 'farad', true);
  });

  it("LDK force-closes its channel: second-stage HTLC transactions on LDK's side, Farad sweeps its output", async () => {
    await forceCloseScenario('ldk', 'ldk');
  });

  it('anchors: LDK force-closes its channel (CPFP and zero-fee HTLC transactions funded by its wallet)', async () => {
    await forceCloseScenario('ldk', 'ldk', true);
  });
});

/** Whether `txid` is the close transaction or descends from it. */
function descendsFrom(txid: string, closeTxid: string): boolean {
  if (txid === closeTxid) return true;
  const c = net.d.chain.getConfirmedTx(txid);
  if (!c || c.entry.height < net.d.chain.getConfirmedTx(closeTxid)!.entry.height) return false;
  return c.tx.inputs.some((i) => descendsFrom(toHex(i.txid), closeTxid));
}
