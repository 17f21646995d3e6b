import { describe, expect, it } from 'vitest';
import {
  type ChannelErrorCode,
  type ChannelState,
  deriveChannelId,
  encodeChannelType,
  signedLocalCommitTx,
  step,
} from '../../../src/core/channel/index.js';
import { buildLocalCommitTx, localPoint } from '../../../src/core/channel/keys.js';
import { verifyCommitmentSig } from '../../../src/protocol/channel/commitment.js';
import { Feature } from '../../../src/protocol/features.js';
import { txid } from '../../../src/protocol/tx/transaction.js';
import type { AcceptChannel, OpenChannel } from '../../../src/protocol/wire/messages.js';
import { agreement, configFor, keysFrom, ofType, Pair, Peer, useFastCrypto } from './harness.js';

useFastCrypto();

/** Alice's open_channel for a default request. */
function openMsg(over: Record<string, unknown> = {}): OpenChannel {
  const alice = new Peer('alice', configFor('alice'), keysFrom('alice'));
  const eff = alice.apply({
    type: 'CmdOpen',
    fundingSats: 1_000_000n,
    pushMsat: 0n,
    channelType: 'anchors_zero_fee_htlc_tx',
    zeroConf: false,
    announce: false,
    ...over,
  });
  const m = ofType(eff, 'SendMessage')[0]!.msg;
  if (m.type !== 'open_channel') throw new Error('expected open_channel');
  return m;
}

function bobRejects(open: OpenChannel, code: ChannelErrorCode, bobConfig = {}): void {
  const bob = new Peer('bob', configFor('bob', bobConfig), keysFrom('bob'));
  const eff = bob.apply(open);
  const v = ofType(eff, 'ProtocolViolation');
  expect(v.map((e) => e.error.code)).toEqual([code]);
  const sent = ofType(eff, 'SendMessage');
  expect(sent[0]!.msg.type).toBe('error');
  expect(bob.state.kind).toBe('Closed');
}

function acceptFor(open: OpenChannel): AcceptChannel {
  const bob = new Peer('bob', configFor('bob'), keysFrom('bob'));
  const m = ofType(bob.apply(open), 'SendMessage')[0]!.msg;
  if (m.type !== 'accept_channel') throw new Error('expected accept_channel');
  return m;
}

function aliceAfterOpen(): Peer {
  const alice = new Peer('alice', configFor('alice'), keysFrom('alice'));
  alice.apply({
    type: 'CmdOpen',
    fundingSats: 1_000_000n,
    pushMsat: 0n,
    channelType: 'anchors_zero_fee_htlc_tx',
    zeroConf: false,
    announce: false,
  });
  return alice;
}

describe('WAIT_FOR_OPEN_CHANNEL', () => {
  for (const channelType of ['static_remotekey', 'anchors_zero_fee_htlc_tx'] as const) {
    it(`open, fund, confirm and reach NORMAL (${channelType})`, () => {
      const p = new Pair();
      p.open({ channelType });
      expect(p.alice.kind).toBe('Normal');
      expect(p.bob.kind).toBe('Normal');
      expect(agreement(p)).toEqual([]);
      const a = p.alice.commitments;
      expect(a.params.channelType).toBe(channelType);
      // channel_id = funding txid (wire order) XOR output index.
      expect(a.params.channelId).toEqual(deriveChannelId(txid(p.fundingTx!), 0));
      expect(p.bob.commitments.params.channelId).toEqual(a.params.channelId);
      // Both signed commitment #0 correctly: each side's local commitment verifies with the peer's key.
      for (const peer of [p.alice, p.bob]) {
        const c = peer.commitments;
        const tx = buildLocalCommitTx(c.params, 0, c.localCommit.spec, localPoint(peer.keys, 0));
        expect(verifyCommitmentSig(tx, c.localCommit.remoteSig, c.params.remote.fundingPubkey)).toBe(true);
      }
      expect(ofType(p.alice.log, 'ChannelReady').length).toBe(1);
      expect(ofType(p.bob.log, 'ChannelReady').length).toBe(1);
      expect(ofType(p.alice.log, 'BroadcastFundingTx').length).toBe(1);
      expect(ofType(p.bob.log, 'BroadcastFundingTx').length).toBe(0);
    });
  }

  it('the opener persists and informs the monitor before broadcasting the funding tx', () => {
    const p = new Pair();
    p.input(p.alice, {
      type: 'CmdOpen',
      fundingSats: 500_000n,
      pushMsat: 0n,
      channelType: 'static_remotekey',
      zeroConf: false,
      announce: true,
    });
    p.pump();
    const types = p.alice.log.map((e) => e.type);
    const firstPersist = types.indexOf('PersistChannel');
    expect(types.indexOf('MonitorUpdate')).toBeLessThan(firstPersist);
    expect(firstPersist).toBeLessThan(types.indexOf('BroadcastFundingTx'));
    const mu = ofType(p.alice.log, 'MonitorUpdate').map((e) => e.update.type);
    expect(mu).toEqual(['ChannelFunded', 'LocalCommitment', 'RemoteCommitment']);
    // The acceptor persists before sending funding_signed.
    const bt = p.bob.log.map((e) => (e.type === 'SendMessage' ? e.msg.type : e.type));
    expect(bt.indexOf('PersistChannel')).toBeLessThan(bt.indexOf('funding_signed'));
    // The local commitment given to the monitor is fully signed.
    const lc = ofType(p.alice.log, 'MonitorUpdate').find((e) => e.update.type === 'LocalCommitment')!.update;
    if (lc.type !== 'LocalCommitment') throw new Error();
    expect(lc.commitTx.inputs[0]!.witness.length).toBe(4);
    expect(p.alice.kind).toBe('WaitForFundingConfirmed');
    expect(p.bob.kind).toBe('WaitForFundingConfirmed');
  });

  it('recv open_channel (invalid chain_hash)', () =>
    bobRejects({ ...openMsg(), chainHash: new Uint8Array(32) }, 'INVALID_CHAIN_HASH'));
  it('recv open_channel (no channel_type)', () => {
    const { channelType: _drop, ...rest } = openMsg();
    bobRejects(rest as OpenChannel, 'MISSING_CHANNEL_TYPE');
  });
  it('recv open_channel (undefined channel_type)', () =>
    bobRejects(
      { ...openMsg(), channelType: encodeChannelType([Feature.option_anchors]) },
      'INVALID_CHANNEL_TYPE',
    ));
  it('recv open_channel (zero-conf from an untrusted peer)', () =>
    bobRejects(openMsg({ zeroConf: true }), 'ZERO_CONF_NOT_TRUSTED'));
  it('recv open_channel (funding too small)', () =>
    bobRejects({ ...openMsg(), fundingSatoshis: 10_000n }, 'FUNDING_TOO_SMALL'));
  it('recv open_channel (funding too large without large channels)', () =>
    bobRejects({ ...openMsg(), fundingSatoshis: 1n << 24n }, 'FUNDING_TOO_LARGE', {
      maxFundingSat: 1n << 30n,
    }));
  it('recv open_channel (push_msat > funding)', () =>
    bobRejects({ ...openMsg(), pushMsat: 1_000_000_001n }, 'PUSH_TOO_LARGE'));
  it('recv open_channel (dust_limit < 354)', () =>
    bobRejects({ ...openMsg(), dustLimitSatoshis: 353n }, 'DUST_LIMIT_TOO_SMALL'));
  it('recv open_channel (dust_limit too large)', () =>
    bobRejects(
      { ...openMsg(), dustLimitSatoshis: 100_000n, channelReserveSatoshis: 150_000n },
      'DUST_LIMIT_TOO_LARGE',
    ));
  it('recv open_channel (dust_limit > channel_reserve)', () =>
    bobRejects(
      { ...openMsg(), dustLimitSatoshis: 1000n, channelReserveSatoshis: 999n },
      'DUST_LIMIT_ABOVE_RESERVE',
    ));
  it('recv open_channel (channel_reserve too high)', () =>
    bobRejects({ ...openMsg(), channelReserveSatoshis: 300_000n }, 'CHANNEL_RESERVE_TOO_HIGH'));
  it('recv open_channel (to_self_delay too large)', () =>
    bobRejects({ ...openMsg(), toSelfDelay: 5000 }, 'TO_SELF_DELAY_TOO_LARGE'));
  it('recv open_channel (max_accepted_htlcs > 483)', () =>
    bobRejects({ ...openMsg(), maxAcceptedHtlcs: 484 }, 'MAX_ACCEPTED_HTLCS_TOO_LARGE'));
  it('recv open_channel (feerate too small)', () =>
    bobRejects({ ...openMsg({ channelType: 'static_remotekey' }), feeratePerKw: 300 }, 'FEERATE_TOO_SMALL'));
  it('recv open_channel (feerate too large)', () =>
    bobRejects({ ...openMsg(), feeratePerKw: 100_000 }, 'FEERATE_TOO_LARGE'));
  it('recv open_channel (opener cannot afford the fee)', () =>
    bobRejects(
      { ...openMsg(), fundingSatoshis: 30_000n, pushMsat: 29_500_000n, channelReserveSatoshis: 1000n },
      'OPENER_CANNOT_AFFORD_FEES',
    ));
  it('recv open_channel (both balances under the reserve)', () =>
    bobRejects(
      { ...openMsg(), fundingSatoshis: 30_000n, pushMsat: 15_000_000n, channelReserveSatoshis: 16_000n },
      'CHANNEL_RESERVE_NOT_MET',
      {
        maxReserveRatio: 0.9,
        reserveRatio: 0.5,
      },
    ));
  it('recv open_channel (htlc_minimum too large)', () =>
    bobRejects({ ...openMsg(), htlcMinimumMsat: 10_000_000n }, 'HTLC_MINIMUM_TOO_LARGE'));
  it('recv open_channel (scid_alias on an announced channel)', () =>
    bobRejects(
      {
        ...openMsg(),
        channelFlags: 1,
        channelType: encodeChannelType([Feature.option_static_remotekey, Feature.option_scid_alias]),
      },
      'INVALID_CHANNEL_TYPE',
    ));
  it('CmdOpen with push > funding is rejected', () => {
    const alice = new Peer('alice', configFor('alice'), keysFrom('alice'));
    const eff = alice.apply({
      type: 'CmdOpen',
      fundingSats: 100_000n,
      pushMsat: 100_000_001n,
      channelType: 'static_remotekey',
      zeroConf: false,
      announce: false,
    });
    expect(ofType(eff, 'CommandRejected')[0]!.error.code).toBe('PUSH_TOO_LARGE');
    expect(alice.state.kind).toBe('WaitForOpenChannel');
  });
});

describe('WAIT_FOR_ACCEPT_CHANNEL', () => {
  function aliceRejects(accept: AcceptChannel, code: ChannelErrorCode): void {
    const alice = aliceAfterOpen();
    const eff = alice.apply(accept);
    expect(ofType(eff, 'ProtocolViolation').map((e) => e.error.code)).toEqual([code]);
    expect(alice.state.kind).toBe('Closed');
  }
  it('recv accept_channel (channel_type mismatch)', () => {
    const a = acceptFor(openMsg());
    aliceRejects(
      { ...a, channelType: encodeChannelType([Feature.option_static_remotekey]) },
      'CHANNEL_TYPE_MISMATCH',
    );
  });
  it('recv accept_channel (no channel_type)', () => {
    const { channelType: _c, ...rest } = acceptFor(openMsg());
    aliceRejects(rest as AcceptChannel, 'MISSING_CHANNEL_TYPE');
  });
  it('recv accept_channel (minimum_depth too large)', () =>
    aliceRejects({ ...acceptFor(openMsg()), minimumDepth: 1000 }, 'MINIMUM_DEPTH_TOO_LARGE'));
  it('recv accept_channel (reserve below our dust limit)', () =>
    aliceRejects(
      { ...acceptFor(openMsg()), channelReserveSatoshis: 500n, dustLimitSatoshis: 400n },
      'DUST_LIMIT_ABOVE_RESERVE',
    ));
  it('recv accept_channel (dust_limit < 354)', () =>
    aliceRejects({ ...acceptFor(openMsg()), dustLimitSatoshis: 300n }, 'DUST_LIMIT_TOO_SMALL'));
  it('recv accept_channel (max_accepted_htlcs > 483)', () =>
    aliceRejects({ ...acceptFor(openMsg()), maxAcceptedHtlcs: 500 }, 'MAX_ACCEPTED_HTLCS_TOO_LARGE'));
  it('recv accept_channel (to_self_delay too large)', () =>
    aliceRejects({ ...acceptFor(openMsg()), toSelfDelay: 3000 }, 'TO_SELF_DELAY_TOO_LARGE'));
  it('FundingTxBuilt with a wrong output is rejected', () => {
    const p = new Pair();
    p.input(p.alice, {
      type: 'CmdOpen',
      fundingSats: 500_000n,
      pushMsat: 0n,
      channelType: 'static_remotekey',
      zeroConf: false,
      announce: false,
    });
    p.deliverOne(p.bob);
    const eff = p.alice.apply(p.toAlice.shift()!);
    const build = ofType(eff, 'BuildFundingTx')[0]!;
    const tx = {
      version: 2,
      inputs: [],
      outputs: [{ value: build.amountSat - 1n, scriptPubKey: build.scriptPubKey }],
      locktime: 0,
    };
    const r = p.alice.apply({ type: 'FundingTxBuilt', tx, outputIndex: 0 });
    expect(ofType(r, 'CommandRejected')[0]!.error.code).toBe('INVALID_FUNDING_TX');
    expect(p.alice.state.kind).toBe('WaitForFundingTx');
  });
  it('disconnect before funding forgets the channel', () => {
    const alice = aliceAfterOpen();
    const eff = alice.apply({ type: 'Disconnected' });
    expect(alice.state.kind).toBe('Closed');
    expect(ofType(eff, 'ChannelClosed')[0]!.closeType).toBe('aborted');
  });
});

describe('WAIT_FOR_FUNDING_CREATED / WAIT_FOR_FUNDING_SIGNED', () => {
  function toFundingCreated(): Pair {
    const p = new Pair();
    p.input(p.alice, {
      type: 'CmdOpen',
      fundingSats: 500_000n,
      pushMsat: 0n,
      channelType: 'static_remotekey',
      zeroConf: false,
      announce: false,
    });
    p.deliverOne(p.bob); // open
    p.deliverOne(p.alice); // accept → funding_created queued
    return p;
  }
  it('recv funding_created (invalid signature)', () => {
    const p = toFundingCreated();
    const fc = p.toBob.shift()!;
    if (fc.type !== 'funding_created') throw new Error();
    const sig = Uint8Array.from(fc.signature);
    sig[10]! ^= 1;
    const eff = p.bob.apply({ ...fc, signature: sig });
    expect(ofType(eff, 'ProtocolViolation')[0]!.error.code).toBe('INVALID_COMMITMENT_SIGNATURE');
    expect(p.bob.state.kind).toBe('Closed');
  });
  it('recv funding_signed (invalid signature)', () => {
    const p = toFundingCreated();
    p.deliverOne(p.bob);
    const fs = p.toAlice.shift()!;
    if (fs.type !== 'funding_signed') throw new Error();
    const eff = p.alice.apply({ ...fs, signature: new Uint8Array(64).fill(1) });
    expect(ofType(eff, 'ProtocolViolation')[0]!.error.code).toBe('INVALID_COMMITMENT_SIGNATURE');
    expect(ofType(eff, 'BroadcastFundingTx')).toEqual([]);
    expect(p.alice.state.kind).toBe('Closed');
  });
});

describe('WAIT_FOR_FUNDING_CONFIRMED', () => {
  it('channel_ready is sent at minimum depth only', () => {
    const p = new Pair({ bob: { minimumDepth: 3 } });
    p.input(p.alice, {
      type: 'CmdOpen',
      fundingSats: 500_000n,
      pushMsat: 0n,
      channelType: 'anchors_zero_fee_htlc_tx',
      zeroConf: false,
      announce: false,
    });
    p.pump();
    const watch = ofType(p.bob.log, 'WatchFunding')[0]!;
    expect(watch.minDepth).toBe(3);
    p.input(p.bob, { type: 'FundingConfirmed', depth: 2, scid: 1n });
    expect(p.toAlice).toEqual([]);
    p.input(p.bob, { type: 'FundingConfirmed', depth: 3, scid: 1n });
    expect(p.toAlice.map((m) => m.type)).toEqual(['channel_ready']);
    p.pump();
    expect(p.bob.kind).toBe('WaitForChannelReady');
    expect(p.alice.kind).toBe('WaitForFundingConfirmed');
    p.input(p.alice, { type: 'FundingConfirmed', depth: 3, scid: 1n });
    p.pump();
    expect(p.alice.kind).toBe('Normal');
    expect(p.bob.kind).toBe('Normal');
  });
  it('the acceptor forgets an unconfirmed channel after the funding timeout', () => {
    const p = new Pair();
    p.input(p.alice, {
      type: 'CmdOpen',
      fundingSats: 500_000n,
      pushMsat: 0n,
      channelType: 'anchors_zero_fee_htlc_tx',
      zeroConf: false,
      announce: false,
    });
    p.pump();
    p.bob.apply({ type: 'BlockConnected', height: 1000 + 2016 });
    expect(p.bob.state.kind).toBe('WaitForFundingConfirmed');
    const eff = p.bob.apply({ type: 'BlockConnected', height: 1000 + 2017 });
    expect(p.bob.state.kind).toBe('Closed');
    expect(ofType(eff, 'ChannelClosed')[0]!.closeType).toBe('aborted');
  });
  it('recv error: force close with our signed commitment #0', () => {
    const p = new Pair();
    p.input(p.alice, {
      type: 'CmdOpen',
      fundingSats: 500_000n,
      pushMsat: 0n,
      channelType: 'anchors_zero_fee_htlc_tx',
      zeroConf: false,
      announce: false,
    });
    p.pump();
    const cid = p.alice.commitments.params.channelId;
    const eff = p.alice.apply({ type: 'error', channelId: cid, data: new Uint8Array(0) });
    const fc = ofType(eff, 'ForceClose')[0]!;
    expect(fc.commitment.commitmentNumber).toBe(0);
    expect(fc.commitment.commitTx).toEqual(signedLocalCommitTx(p.alice.commitments, p.alice.keys).commitTx);
    expect(p.alice.state.kind).toBe('Closing');
  });
});

describe('zero-conf', () => {
  it('a trusted zero-conf channel is usable before confirmation, with SCID aliases', () => {
    const p = new Pair({ alice: { localAlias: 0xaaan }, bob: { trustZeroConf: true, localAlias: 0xbbbn } });
    p.input(p.alice, {
      type: 'CmdOpen',
      fundingSats: 500_000n,
      pushMsat: 0n,
      channelType: 'anchors_zero_fee_htlc_tx',
      zeroConf: true,
      announce: false,
    });
    p.pump();
    expect(p.alice.kind).toBe('Normal');
    expect(p.bob.kind).toBe('Normal');
    const accept = ofType(p.bob.log, 'SendMessage').find((e) => e.msg.type === 'accept_channel')!.msg;
    expect(accept.type === 'accept_channel' && accept.minimumDepth).toBe(0);
    const ready = ofType(p.alice.log, 'ChannelReady')[0]!;
    expect(ready.remoteAlias).toBe(0xbbbn);
    expect(ready.localAlias).toBe(0xaaan);
    expect(ready.shortChannelId).toBeUndefined();
    expect(p.alice.commitments.params.channelTypeBits).toContain(Feature.option_zeroconf);
    // Confirmation later only records the real scid.
    p.input(p.alice, { type: 'FundingConfirmed', depth: 1, scid: 77n });
    expect(p.alice.data.shortChannelId).toBe(77n);
    expect(p.alice.kind).toBe('Normal');
  });
});

describe('state machine purity', () => {
  it('step never mutates its input state', () => {
    const p = new Pair();
    p.open();
    const before = JSON.stringify(p.alice.state, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
    const s: ChannelState = p.alice.state;
    step(s, { type: 'CmdUpdateFee', feeratePerKw: 3000 }, p.alice.ctx);
    expect(JSON.stringify(s, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))).toBe(before);
  });
});
