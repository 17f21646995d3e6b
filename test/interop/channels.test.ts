/**
 * Interop scenarios 2 and 3 with LDK 0.1: channel establishment in both directions for
 * static_remotekey and anchors (channel_ready after the confirmations each acceptor asked for),
 * zero-conf channels with SCID aliases in both directions, then BOLT 11 payments both ways
 * (invoices created by each side), 20+ HTLCs in flight at once, and update_fee from the opener.
 * Every step checks both sides' view: states, funding outpoint, short_channel_id, balances.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fundedData } from '../../src/node/channels/manager.js';
import type { TestNode } from '../node/helpers.js';
import { Interop, ldkEvent, waitFor } from './fixture.js';
import type { LdkNode } from './ldk.js';
import type { LdkChannel } from './ldk-protocol.js';

let net: Interop;
let farad: TestNode;
let ldk: LdkNode;

/** Channel ids by label. */
const ch: Record<string, string> = {};

beforeAll(async () => {
  net = await Interop.start();
  farad = await net.faradNode('farad', { seedByte: 1 }, 20_000_000n);
  ldk = await net.ldkNode('ldk', 9, { trustedPeers: [farad.keys.nodeId], fundSats: 20_000_000n });
  farad.cm.trustPeer(ldk.nodeId);
  await farad.pm.connect(ldk.nodeId, '127.0.0.1', ldk.port);
  await waitFor(async () => (await ldk.peers()).length === 1, 15_000, 'LDK sees Farad');
});

afterAll(async () => {
  await net?.stop();
});

function fchan(id: string) {
  const c = farad.cm.channel(id);
  if (!c) throw new Error(`Farad has no channel ${id}`);
  return c;
}

/** Feerate of Farad's current local commitment. */
function faradFeerate(id: string): number | undefined {
  const st = farad.cm.channelState(id);
  return st ? fundedData(st)?.commitments.localCommit.spec.feeratePerKw : undefined;
}

async function lchan(id: string): Promise<LdkChannel> {
  const c = await ldk.channel(id);
  if (!c) throw new Error(`LDK has no channel ${id}`);
  return c;
}

/** LDK's `ClaimableOnChannelClose` balance of a channel (its own balance, sat, and the fee it pays). */
async function ldkBalance(id: string): Promise<{ amountSat: bigint; feeSat: bigint }> {
  const c = fchan(id);
  const b = (await ldk.balances())[`${c.fundingTxid}:${c.fundingOutputIndex}`] ?? [];
  const open = b.find((x) => x.kind === 'ClaimableOnChannelClose');
  if (!open)
    throw new Error(
      `no open balance for ${id}: ${JSON.stringify(b, (_, v) => (typeof v === 'bigint' ? String(v) : v))}`,
    );
  return { amountSat: open.amountSat, feeSat: open.feeSat ?? 0n };
}

describe('interop: channels with LDK', () => {
  it('Farad opens anchors and static_remotekey channels to LDK; channel_ready after 3 confirmations', async () => {
    const a = await farad.cm.openChannel(ldk.nodeId, 1_000_000n, { channelType: 'anchors' });
    const s = await farad.cm.openChannel(ldk.nodeId, 600_000n, {
      channelType: 'static_remotekey',
      pushMsat: 50_000_000n,
    });
    ch.fAnchors = a.channelId;
    ch.fStatic = s.channelId;
    const reqs = await ldk.events();
    const open = reqs.filter((e) => e.type === 'OpenChannelRequest');
    expect(
      open.map((e) => e.type === 'OpenChannelRequest' && [e.anchors, e.accepted, e.fundingSats]),
    ).toEqual([
      [true, true, 1_000_000n],
      [false, true, 600_000n],
    ]);
    await ldkEvent(ldk, 'ChannelPending', (e) => e.channelId === a.channelId);
    await ldkEvent(ldk, 'ChannelPending', (e) => e.channelId === s.channelId);
    await net.mine(2);
    expect(fchan(a.channelId).state).toBe('WaitForFundingConfirmed');
    expect((await lchan(a.channelId)).isReady).toBe(false);
    await net.mine(1);
    await waitFor(() => fchan(a.channelId).state === 'Normal' && fchan(s.channelId).state === 'Normal');
    await ldkEvent(ldk, 'ChannelReady', (e) => e.channelId === a.channelId);
    await ldkEvent(ldk, 'ChannelReady', (e) => e.channelId === s.channelId);
    for (const [id, anchors, cap] of [
      [a.channelId, true, 1_000_000n],
      [s.channelId, false, 600_000n],
    ] as const) {
      const f = fchan(id);
      const l = await lchan(id);
      expect(l.isUsable).toBe(true);
      expect(l.isOutbound).toBe(false);
      expect(l.anchors).toBe(anchors);
      expect(f.channelType).toBe(anchors ? 'anchors' : 'static_remotekey');
      expect(l.capacitySat).toBe(cap);
      expect(f.capacitySat).toBe(cap);
      expect(l.fundingTxid).toBe(f.fundingTxid);
      expect(l.fundingOutputIndex).toBe(f.fundingOutputIndex);
      expect(l.shortChannelId).toBe(f.shortChannelId);
      expect(l.confirmations).toBe(3);
    }
    // The push arrived on LDK's side; the opener pays the commitment fee.
    expect((await ldkBalance(s.channelId)).amountSat).toBe(50_000n);
    expect((await ldkBalance(s.channelId)).feeSat).toBe(0n);
    expect((await ldkBalance(a.channelId)).amountSat).toBe(0n);
    expect(fchan(s.channelId).remoteMsat).toBe(50_000_000n);
    expect(fchan(s.channelId).localMsat).toBe(550_000_000n);
  });

  it('LDK opens anchors and static_remotekey channels to Farad', async () => {
    const pendingCount = async () => (await ldk.events()).filter((e) => e.type === 'ChannelPending').length;
    const before = await pendingCount();
    ch.lAnchors = await ldk.openChannel(farad.keys.nodeId, 800_000n, {
      anchors: true,
      pushMsat: 20_000_000n,
    });
    await waitFor(async () => (await pendingCount()) === before + 1, 15_000, 'first LDK channel pending');
    ch.lStatic = await ldk.openChannel(farad.keys.nodeId, 500_000n, { anchors: false });
    await waitFor(async () => (await pendingCount()) === before + 2, 15_000, 'second LDK channel pending');
    const pending = (await ldk.events()).filter((e) => e.type === 'ChannelPending');
    const [pa, ps] = pending.slice(before);
    // LDK reports the temporary id at create_channel and the funded id from ChannelPending.
    ch.lAnchors = pa!.channelId;
    ch.lStatic = ps!.channelId;
    await waitFor(() => farad.cm.channel(ch.lStatic!) !== undefined, 15_000, 'Farad knows the channel');
    expect(fchan(ch.lAnchors).fundingTxid).toBe(pa!.fundingTxid);
    await net.mine(3);
    await waitFor(() => fchan(ch.lAnchors!).state === 'Normal' && fchan(ch.lStatic!).state === 'Normal');
    await ldkEvent(ldk, 'ChannelReady', (e) => e.channelId === ch.lAnchors);
    await ldkEvent(ldk, 'ChannelReady', (e) => e.channelId === ch.lStatic);
    const la = await lchan(ch.lAnchors);
    expect(la.isOutbound).toBe(true);
    expect(la.anchors).toBe(true);
    expect(fchan(ch.lAnchors).channelType).toBe('anchors');
    expect(fchan(ch.lStatic).channelType).toBe('static_remotekey');
    expect(fchan(ch.lAnchors).isOpener).toBe(false);
    expect(fchan(ch.lAnchors).localMsat).toBe(20_000_000n);
    expect(fchan(ch.lAnchors).shortChannelId).toBe(la.shortChannelId);
    // LDK opened: its ClaimableOnChannelClose amount is its balance minus the commitment fee
    // (reported apart, BOLT 3 weight 1124 for anchors without HTLCs) and minus the two 330-sat
    // anchors (in neither figure), i.e. exactly Farad's view of LDK's balance less those.
    const b = await ldkBalance(ch.lAnchors);
    expect(b.feeSat).toBe((1124n * BigInt(la.feeratePerKw!)) / 1000n);
    expect(faradFeerate(ch.lAnchors)).toBe(la.feeratePerKw);
    expect(b.amountSat).toBe(fchan(ch.lAnchors).remoteMsat / 1000n - b.feeSat - 660n);
    const bs = await ldkBalance(ch.lStatic);
    const ls = await lchan(ch.lStatic);
    expect(bs.feeSat).toBe((724n * BigInt(ls.feeratePerKw!)) / 1000n);
    expect(bs.amountSat).toBe(fchan(ch.lStatic).remoteMsat / 1000n - bs.feeSat);
    expect(fchan(ch.lStatic).localMsat).toBe(0n);
  });

  it('zero-conf Farad -> LDK (LDK trusts Farad): usable before any confirmation, SCID aliases agree', async () => {
    const h = farad.cm.blockHeight;
    const z = await farad.cm.openChannel(ldk.nodeId, 400_000n, {
      channelType: 'anchors',
      zeroConf: true,
      pushMsat: 10_000_000n,
    });
    ch.zero = z.channelId;
    const req = await ldkEvent(ldk, 'OpenChannelRequest', (e) => e.zeroConf);
    expect(req.accepted).toBe(true);
    await waitFor(() => fchan(z.channelId).state === 'Normal', 20_000, 'Farad zero-conf channel Normal');
    await ldkEvent(ldk, 'ChannelReady', (e) => e.channelId === z.channelId);
    expect(net.d.chain.height).toBe(h);
    const f = fchan(z.channelId);
    const l = await lchan(z.channelId);
    expect(l.zeroConf).toBe(true);
    expect(l.isUsable).toBe(true);
    expect(l.confirmations).toBe(0);
    expect(f.shortChannelId).toBeUndefined();
    expect(l.shortChannelId).toBeUndefined();
    // channel_ready's short_channel_id alias: each side's own alias is the other's remote alias.
    expect(f.localAlias).toBeDefined();
    expect(f.remoteAlias).toBeDefined();
    expect(l.inboundScidAlias).toBe(f.localAlias);
    expect(l.outboundScidAlias).toBe(f.remoteAlias);
    expect((await ldkBalance(z.channelId)).amountSat).toBe(10_000n);
    // Once the funding confirms, both learn the real short_channel_id and keep the aliases.
    await net.mine(1);
    await waitFor(async () => fchan(z.channelId).shortChannelId !== undefined, 15_000, 'Farad scid');
    await waitFor(async () => (await lchan(z.channelId)).shortChannelId !== undefined, 15_000, 'LDK scid');
    expect((await lchan(z.channelId)).shortChannelId).toBe(fchan(z.channelId).shortChannelId);
    expect((await lchan(z.channelId)).inboundScidAlias).toBe(f.localAlias);
  });

  it('update_fee from the opener: Farad on its static_remotekey channel, LDK on its own', async () => {
    // Farad (opener) raises the commitment feerate; LDK accepts and signs it.
    const fx = await farad.cm.command(ch.fStatic!, { type: 'CmdUpdateFee', feeratePerKw: 1200 });
    expect(fx.some((e) => e.type === 'CommandRejected')).toBe(false);
    await farad.cm.command(ch.fStatic!, { type: 'CmdSign' });
    await waitFor(
      async () => (await lchan(ch.fStatic!)).feeratePerKw === 1200,
      15_000,
      'LDK sees feerate 1200',
    );
    await waitFor(() => faradFeerate(ch.fStatic!) === 1200, 15_000, 'Farad commitment at 1200');
    expect(fchan(ch.fStatic!).state).toBe('Normal');
    // LDK (acceptor) pays no fee: its balance is unchanged.
    expect(await ldkBalance(ch.fStatic!)).toEqual({ amountSat: 50_000n, feeSat: 0n });
    // LDK (opener) follows its estimator: a higher NonAnchorChannelFee and a timer tick send
    // update_fee on its static_remotekey channel; Farad accepts it (within its tolerance).
    const before = await ldkBalance(ch.lStatic!);
    await ldk.setFeerate(1500, 'LDKConfirmationTarget_NonAnchorChannelFee');
    await ldk.tick();
    await waitFor(() => faradFeerate(ch.lStatic!) === 1500, 15_000, 'Farad commitment at 1500');
    await waitFor(async () => (await lchan(ch.lStatic!)).feeratePerKw === 1500, 15_000, 'LDK at 1500');
    const after = await ldkBalance(ch.lStatic!);
    expect(after.feeSat).toBe((724n * 1500n) / 1000n);
    expect(after.amountSat + after.feeSat).toBe(before.amountSat + before.feeSat);
    expect(fchan(ch.lStatic!).state).toBe('Normal');
    expect((await lchan(ch.lStatic!)).isUsable).toBe(true);
  });
});
