import { describe, expect, it } from 'vitest';
import type { ChannelState } from '../../../src/core/channel/index.js';
import { agreement, ONION, ofType, Pair, type Peer, payment, useFastCrypto } from './harness.js';

useFastCrypto();

function add(p: Pair, from: Peer, n: number, amountMsat: bigint) {
  return p.input(from, {
    type: 'CmdAddHtlc',
    amountMsat,
    paymentHash: payment(n).hash,
    cltvExpiry: 1100,
    onion: ONION,
  });
}

/** A scripted exchange with updates, signatures and revocations crossing in both directions. */
function script(p: Pair): void {
  add(p, p.alice, 1, 5_000_000n);
  add(p, p.alice, 2, 700_000n);
  p.input(p.alice, { type: 'CmdSign' });
  add(p, p.bob, 3, 4_000_000n);
  p.input(p.bob, { type: 'CmdSign' });
  p.input(p.alice, { type: 'CmdUpdateFee', feeratePerKw: 3000 });
  p.input(p.alice, { type: 'CmdSign' });
}

/** Resolves everything so that both commitments end empty. */
function resolveAll(p: Pair): void {
  for (let round = 0; round < 10; round++) {
    p.settle();
    let acted = false;
    for (const peer of [p.alice, p.bob]) {
      const c = peer.commitments;
      for (const h of c.localCommit.spec.htlcs) {
        if (h.direction !== 'received') continue;
        const eff = p.input(peer, {
          type: 'CmdFulfill',
          id: h.id,
          preimage: payment(findN(peer, h.paymentHash)).preimage,
        });
        if (ofType(eff, 'CommandRejected').length === 0) acted = true;
      }
    }
    p.settle();
    if (!acted && p.alice.commitments.localCommit.spec.htlcs.length === 0) return;
  }
}

function findN(_peer: Peer, hash: Uint8Array): number {
  for (let n = 0; n < 2000; n++) if (Buffer.from(payment(n).hash).equals(Buffer.from(hash))) return n;
  throw new Error('unknown hash');
}

describe('OFFLINE / SYNCING (channel_reestablish)', () => {
  it('disconnect after every possible number of delivered messages, reconnect and agree', () => {
    // Count the messages of the scripted flow first.
    const ref = new Pair();
    ref.open();
    script(ref);
    let total = 0;
    while (ref.deliverOne(ref.alice) || ref.deliverOne(ref.bob)) total++;
    expect(total).toBeGreaterThan(8);
    for (let cut = 0; cut <= total; cut++) {
      for (const order of ['alice-first', 'bob-first'] as const) {
        const p = new Pair();
        p.open();
        script(p);
        for (let k = 0; k < cut; k++) {
          const first = order === 'alice-first' ? p.alice : p.bob;
          if (!p.deliverOne(first)) p.deliverOne(p.other(first));
        }
        p.disconnect();
        expect(p.alice.kind.startsWith('Offline')).toBe(true);
        p.reconnect();
        expect(p.alice.kind).toBe('Normal');
        expect(p.bob.kind).toBe('Normal');
        p.settle();
        expect(agreement(p), `cut ${cut} ${order}`).toEqual([]);
        resolveAll(p);
        expect(agreement(p), `cut ${cut} ${order}`).toEqual([]);
        expect(p.alice.commitments.localCommit.spec.htlcs).toEqual([]);
      }
    }
  });

  it('retransmits channel_ready when both are still at commitment 1', () => {
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
    p.input(p.alice, { type: 'FundingConfirmed', depth: 6, scid: 5n });
    p.toBob = []; // Alice's channel_ready is lost
    p.disconnect();
    p.input(p.bob, { type: 'FundingConfirmed', depth: 6, scid: 5n }); // confirms while offline
    p.reconnect();
    expect(p.alice.kind).toBe('Normal');
    expect(p.bob.kind).toBe('Normal');
    add(p, p.alice, 1, 5_000_000n);
    p.settle();
    expect(agreement(p)).toEqual([]);
  });

  it('a node restarted from its last persisted state resumes without loss', () => {
    const p = new Pair();
    p.open();
    for (let i = 0; i < 5; i++) add(p, p.alice, i, 3_000_000n);
    p.input(p.alice, { type: 'CmdSign' });
    p.deliverOne(p.bob);
    p.deliverOne(p.bob);
    p.deliverOne(p.bob);
    // Alice crashes: restore her persisted state.
    p.alice.state = p.alice.persisted!;
    p.toBob = [];
    p.toAlice = [];
    p.connected = false;
    p.input(p.alice, { type: 'Disconnected' });
    p.input(p.bob, { type: 'Disconnected' });
    p.reconnect();
    p.settle();
    expect(agreement(p)).toEqual([]);
    expect(p.alice.commitments.localCommit.spec.htlcs.length).toBe(5);
  });

  it('settlements given while offline are sent after reestablish', () => {
    const p = new Pair();
    p.open();
    add(p, p.alice, 1, 5_000_000n);
    add(p, p.alice, 2, 5_000_000n);
    p.settle();
    p.disconnect();
    const eff = p.input(p.bob, { type: 'CmdFulfill', id: 0n, preimage: payment(1).preimage });
    expect(ofType(eff, 'MonitorUpdate')[0]!.update.type).toBe('Preimage');
    p.input(p.bob, { type: 'CmdFail', id: 1n, reason: new Uint8Array([9]) });
    expect(
      ofType(
        p.input(p.alice, {
          type: 'CmdAddHtlc',
          amountMsat: 1n,
          paymentHash: payment(3).hash,
          cltvExpiry: 1100,
          onion: ONION,
        }),
        'CommandRejected',
      )[0]!.error.code,
    ).toBe('CHANNEL_UNAVAILABLE');
    p.reconnect();
    p.settle();
    expect(ofType(p.alice.log, 'HtlcFulfilled').length).toBe(1);
    expect(ofType(p.alice.log, 'HtlcFailed').length).toBe(1);
    expect(p.alice.commitments.localCommit.spec.htlcs).toEqual([]);
    expect(agreement(p)).toEqual([]);
  });

  it('unsigned adds are cancelled on disconnect and reported as local failures', () => {
    const p = new Pair();
    p.open();
    add(p, p.alice, 1, 5_000_000n);
    p.pump();
    p.disconnect();
    const f = ofType(p.alice.log, 'HtlcFailed');
    expect(f.length).toBe(1);
    expect(f[0]!.failure.kind).toBe('local');
    p.reconnect();
    add(p, p.alice, 2, 5_000_000n);
    p.settle();
    // The id was reused: the cancelled add never existed for either side.
    expect(p.bob.commitments.localCommit.spec.htlcs.map((h) => h.id)).toEqual([0n]);
    expect(agreement(p)).toEqual([]);
  });

  it('data loss: a node restored from an old state does not publish it and asks the peer to close', () => {
    const p = new Pair();
    p.open();
    const old: ChannelState = p.alice.persisted!;
    for (let i = 0; i < 3; i++) {
      add(p, p.alice, i, 3_000_000n);
      p.settle();
    }
    p.connected = false;
    p.toAlice = [];
    p.toBob = [];
    p.input(p.bob, { type: 'Disconnected' });
    p.alice.state = old;
    p.input(p.alice, { type: 'Disconnected' });
    p.connected = true;
    p.input(p.alice, { type: 'Connected' });
    p.input(p.bob, { type: 'Connected' });
    p.pump();
    const dl = ofType(p.alice.log, 'DataLossDetected');
    expect(dl.length).toBe(1);
    expect(ofType(p.alice.log, 'ForceClose')).toEqual([]);
    expect(p.alice.state.kind).toBe('Closing');
    // Bob sees Alice behind (and then her error) and publishes his latest commitment.
    const bobClose = ofType(p.bob.log, 'ForceClose');
    expect(bobClose.length).toBe(1);
    expect(bobClose[0]!.commitment.commitmentNumber).toBe(p.bob.commitments.localCommit.index);
    // Alice learned Bob's current per-commitment point to claim her output.
    expect(dl[0]!.remotePerCommitmentPoint.length).toBe(33);
  });

  it('a wrong your_last_per_commitment_secret fails the channel', () => {
    const p = new Pair();
    p.open();
    add(p, p.alice, 1, 3_000_000n);
    p.settle();
    p.disconnect();
    p.input(p.alice, { type: 'Connected' });
    const re = p.alice.apply({ type: 'Connected' });
    const msg = ofType(re, 'SendMessage')[0]!.msg;
    if (msg.type !== 'channel_reestablish') throw new Error();
    const eff = p.bob.apply({ ...msg, yourLastPerCommitmentSecret: new Uint8Array(32).fill(7) });
    expect(ofType(eff, 'ProtocolViolation')[0]!.error.code).toBe('INVALID_REVOKED_COMMIT_PROOF');
    expect(ofType(eff, 'ForceClose').length).toBe(1);
  });
});
