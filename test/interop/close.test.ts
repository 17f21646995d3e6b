/**
 * Interop scenario 5 (cooperative part) with LDK 0.1: `shutdown` + `closing_signed` negotiation
 * initiated by each side, on a channel each side opened, after payments both ways. The closing
 * transaction is checked output by output against both sides' last balances (the opener pays
 * the whole fee), and both on-chain wallets end with exactly their channel balance.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { equal, fromHex } from '../../src/protocol/encoding/bytes.js';
import type { TestNode } from '../node/helpers.js';
import { Interop, ldkEvent, waitFor } from './fixture.js';
import type { LdkNode } from './ldk.js';

let net: Interop;
let farad: TestNode;
let ldk: LdkNode;
/** Farad opened (anchors) / LDK opened (static_remotekey). */
let fChan: string;
let lChan: string;
let ldkScripts: Uint8Array[];

beforeAll(async () => {
  net = await Interop.start();
  farad = await net.faradNode('farad', { seedByte: 1 }, 3_000_000n);
  ldk = await net.ldkNode('ldk', 9, { fundSats: 3_000_000n });
  ldkScripts = (await ldk.wallet()).scripts.map((s) => fromHex(s));
  await farad.pm.connect(ldk.nodeId, '127.0.0.1', ldk.port);
  await waitFor(async () => (await ldk.peers()).length === 1, 15_000, 'LDK sees Farad');
  fChan = (await farad.cm.openChannel(ldk.nodeId, 1_000_000n, { channelType: 'anchors' })).channelId;
  await ldkEvent(ldk, 'ChannelPending', (e) => e.channelId === fChan);
  await ldk.openChannel(farad.keys.nodeId, 900_000n, { anchors: false });
  lChan = (await ldkEvent(ldk, 'ChannelPending', (e) => e.channelId !== fChan)).channelId;
  await net.mine(3);
  await waitFor(
    () => farad.cm.channel(fChan)?.state === 'Normal' && farad.cm.channel(lChan)?.state === 'Normal',
    20_000,
    'channels Normal',
  );
  await ldkEvent(ldk, 'ChannelReady', (e) => e.channelId === fChan);
  await ldkEvent(ldk, 'ChannelReady', (e) => e.channelId === lChan);
  // Move some balance each way (Farad pays over its channel, LDK over its own: each side's
  // router/payer picks the channel with the most outbound balance, which is its own).
  const a = await ldk.createInvoice(123_000_000n);
  expect((await farad.pay.pay(a)).status).toBe('succeeded');
  const b = await farad.pay.createInvoice({ amountMsat: 234_000_000n });
  await ldk.pay(b.bolt11);
  await waitFor(() => farad.pay.invoice(b.paymentHash)?.status === 'paid', 20_000, 'LDK paid Farad');
  await waitFor(async () =>
    (await ldk.listChannels()).every((c) => c.pendingInboundHtlcs + c.pendingOutboundHtlcs === 0),
  );
});

afterAll(async () => {
  await net?.stop();
});

/** Closes cooperatively and checks the closing transaction against both sides' balances. */
async function closeAndCheck(id: string, initiator: 'farad' | 'ldk'): Promise<void> {
  const before = farad.cm.channel(id)!;
  expect(before.pendingHtlcs).toBe(0);
  const faradSat = before.localMsat / 1000n;
  const ldkSat = before.remoteMsat / 1000n;
  const faradIsOpener = before.isOpener;
  const ldkWallet = (await ldk.wallet()).confirmedSat;
  const faradWallet = farad.wallet.balances();
  let closingTxid: string | undefined;
  if (initiator === 'farad') closingTxid = (await farad.cm.closeChannel(id)).closingTxid;
  else {
    await ldk.close(id);
    await waitFor(() => farad.cm.channel(id)?.closingTxid !== undefined, 20_000, 'Farad signs the close');
    closingTxid = farad.cm.channel(id)!.closingTxid;
  }
  expect(closingTxid).toBeDefined();
  const closed = await ldkEvent(ldk, 'ChannelClosed', (e) => e.channelId === id);
  expect(closed.reason).toBe(
    initiator === 'ldk' ? 'LocallyInitiatedCooperativeClosure' : 'CounterpartyInitiatedCooperativeClosure',
  );
  expect(await ldk.broadcasts()).toContain(closingTxid);
  await waitFor(() => net.d.chain.mempool.has(closingTxid!), 15_000, 'closing tx in the mempool');
  await net.mine(1);
  const conf = net.d.chain.getConfirmedTx(closingTxid!)!;
  const tx = conf.tx;
  expect(tx.inputs.length).toBe(1);
  const toLdk = tx.outputs.filter((o) => ldkScripts.some((s) => equal(s, o.scriptPubKey)));
  const toFarad = tx.outputs.filter((o) => farad.wallet.isMine(o.scriptPubKey));
  expect(toLdk.length + toFarad.length).toBe(tx.outputs.length);
  const out = tx.outputs.reduce((s, o) => s + o.value, 0n);
  const fee = before.capacitySat - out;
  expect(fee).toBeGreaterThan(0n);
  // BOLT 2/3: each side gets its balance (rounded down to the satoshi); the opener pays the fee.
  expect(toLdk[0]?.value ?? 0n).toBe(faradIsOpener ? ldkSat : ldkSat - fee);
  expect(toFarad[0]?.value ?? 0n).toBe(faradIsOpener ? faradSat - fee : faradSat);
  // Both wallets see exactly that.
  await net.mine(2);
  await waitFor(
    async () => (await ldk.wallet()).confirmedSat === ldkWallet + (toLdk[0]?.value ?? 0n),
    15_000,
    'LDK wallet',
  );
  await farad.wallet.sync();
  expect(farad.wallet.balances().total).toBe(faradWallet.total + (toFarad[0]?.value ?? 0n));
  await waitFor(() => farad.cm.channel(id)?.state === 'Closed', 15_000, 'Farad channel Closed');
  expect(await ldk.channel(id)).toBeUndefined();
}

describe('interop: cooperative close with LDK', () => {
  it('Farad initiates the close of the channel it opened (anchors)', async () => {
    await closeAndCheck(fChan, 'farad');
  });

  it('LDK initiates the close of the channel it opened (static_remotekey)', async () => {
    await closeAndCheck(lChan, 'ldk');
  });
});
