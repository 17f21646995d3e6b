import { describe, expect, it } from 'vitest';
import {
  type ChannelErrorCode,
  type Commitments,
  type CommitmentsEnv,
  receiveAdd,
  receiveCommit,
  receiveFail,
  receiveFee,
  receiveFulfill,
  receiveRevocation,
  sendAdd,
  sendCommit,
} from '../../../src/core/channel/index.js';
import { sha256 } from '../../../src/protocol/crypto/hash.js';
import type { UpdateAddHtlc } from '../../../src/protocol/wire/messages.js';
import { agreement, ONION, ofType, Pair, type Peer, payment, useFastCrypto } from './harness.js';

useFastCrypto();

function envOf(p: Peer): CommitmentsEnv {
  return {
    keys: p.keys,
    blockHeight: p.ctx.blockHeight,
    feeratePerKw: p.ctx.feeratePerKw,
    feerateTolerance: p.data.config.feerateTolerance,
    maxExpiryDelta: p.data.config.maxExpiryDelta,
  };
}

function add(p: Pair, from: Peer, n: number, amountMsat: bigint, cltvExpiry = 1100) {
  return p.input(from, {
    type: 'CmdAddHtlc',
    amountMsat,
    paymentHash: payment(n).hash,
    cltvExpiry,
    onion: ONION,
  });
}

function rejectedCode(effects: ReturnType<Pair['input']>): ChannelErrorCode | undefined {
  return ofType(effects, 'CommandRejected')[0]?.error.code;
}

/** A crafted add from Alice to Bob with the next id Bob expects. */
function craftedAdd(c: Commitments, amountMsat: bigint, over: Partial<UpdateAddHtlc> = {}): UpdateAddHtlc {
  return {
    type: 'update_add_htlc',
    channelId: c.params.channelId,
    id: c.remoteNextHtlcId,
    amountMsat,
    paymentHash: payment(999).hash,
    cltvExpiry: 1100,
    onionRoutingPacket: ONION,
    ...over,
  };
}

function expectViolation(p: Pair, to: Peer, msg: Parameters<Peer['apply']>[0], code: ChannelErrorCode): void {
  const eff = to.apply(msg);
  expect(ofType(eff, 'ProtocolViolation').map((e) => e.error.code)).toEqual([code]);
  const types = eff.map((e) => (e.type === 'SendMessage' ? `send:${e.msg.type}` : e.type));
  // Persist first, then the error goes out, then the commitment is published.
  expect(types.indexOf('PersistChannel')).toBeLessThan(types.indexOf('send:error'));
  expect(types).toContain('ForceClose');
  expect(to.state.kind).toBe('Closing');
  void p;
}

describe('NORMAL', () => {
  for (const channelType of ['static_remotekey', 'anchors_zero_fee_htlc_tx'] as const) {
    it(`add, sign, fulfill and fail HTLCs in both directions with 30 in flight (${channelType})`, () => {
      const p = new Pair({ alice: { maxAcceptedHtlcs: 30 }, bob: { maxAcceptedHtlcs: 30 } });
      p.open({ channelType, pushMsat: 400_000_000n });
      const a0 = p.alice.commitments.localCommit.spec.toLocalMsat;
      // 15 HTLCs each way (mixed dust and non-dust), all in flight together.
      for (let i = 0; i < 15; i++) {
        expect(rejectedCode(add(p, p.alice, i, BigInt(400_000 + i * 700_000)))).toBeUndefined();
        expect(rejectedCode(add(p, p.bob, 100 + i, BigInt(300_000 + i * 500_000)))).toBeUndefined();
      }
      p.settle();
      expect(agreement(p)).toEqual([]);
      expect(p.alice.commitments.localCommit.spec.htlcs.length).toBe(30);
      const toBob = ofType(p.bob.log, 'HtlcReceived');
      const toAlice = ofType(p.alice.log, 'HtlcReceived');
      expect(toBob.length).toBe(15);
      expect(toAlice.length).toBe(15);
      // Bob fulfills the even ones, fails the odd ones; Alice fulfills all.
      let paid = 0n;
      for (const r of toBob) {
        const n = Number(r.add.id);
        if (n % 2 === 0) {
          p.input(p.bob, { type: 'CmdFulfill', id: r.add.id, preimage: payment(n).preimage });
          paid += r.add.amountMsat;
        } else p.input(p.bob, { type: 'CmdFail', id: r.add.id, reason: new Uint8Array([1, 2, 3]) });
      }
      for (const r of toAlice) {
        p.input(p.alice, {
          type: 'CmdFulfill',
          id: r.add.id,
          preimage: payment(100 + Number(r.add.id)).preimage,
        });
        paid -= r.add.amountMsat;
      }
      p.settle();
      expect(agreement(p)).toEqual([]);
      const a = p.alice.commitments;
      expect(a.localCommit.spec.htlcs).toEqual([]);
      expect(a.localCommit.spec.toLocalMsat).toBe(a0 - paid);
      expect(ofType(p.alice.log, 'HtlcFulfilled').length).toBe(8);
      const failed = ofType(p.alice.log, 'HtlcFailed');
      expect(failed.length).toBe(7);
      expect(failed[0]!.failure).toEqual({ kind: 'remote', reason: new Uint8Array([1, 2, 3]) });
      expect(ofType(p.bob.log, 'HtlcFulfilled').length).toBe(15);
    });
  }

  it('recv commitment_signed: monitor update, persist, then revoke_and_ack', () => {
    const p = new Pair();
    p.open();
    add(p, p.alice, 1, 5_000_000n);
    p.input(p.alice, { type: 'CmdSign' });
    const sig = p.toBob.pop()!;
    const add1 = p.toBob.shift()!;
    p.input(p.bob, add1);
    const eff = p.input(p.bob, sig);
    const order = eff.map((e) =>
      e.type === 'SendMessage' ? e.msg.type : e.type === 'MonitorUpdate' ? e.update.type : e.type,
    );
    // Bob revokes, then signs Alice's add into her commitment right away (auto re-sign).
    expect(order).toEqual([
      'LocalCommitment',
      'RemoteCommitment',
      'PersistChannel',
      'revoke_and_ack',
      'commitment_signed',
    ]);
    const lc = ofType(eff, 'MonitorUpdate')[0]!.update;
    if (lc.type !== 'LocalCommitment') throw new Error();
    expect(lc.htlcTxs.length).toBe(1);
    expect(lc.htlcTxs[0]!.direction).toBe('received');
    // Alice's send side: RemoteCommitment before Persist before commitment_signed.
    const aliceOrder = p.alice.log
      .slice(-3)
      .map((e) =>
        e.type === 'SendMessage' ? e.msg.type : e.type === 'MonitorUpdate' ? e.update.type : e.type,
      );
    expect(aliceOrder).toEqual(['RemoteCommitment', 'PersistChannel', 'commitment_signed']);
    p.pump();
    // Bob got the revocation from Alice: the monitor learns the revealed secret.
    const revs = ofType(p.bob.log, 'MonitorUpdate').filter((e) => e.update.type === 'RemoteRevocation');
    expect(revs.length).toBe(1);
    expect(agreement(p)).toEqual([]);
  });

  it('update_fee from the opener updates both commitments', () => {
    const p = new Pair();
    p.open({ channelType: 'static_remotekey' });
    add(p, p.alice, 1, 20_000_000n);
    add(p, p.bob, 2, 10_000_000n);
    expect(rejectedCode(p.input(p.alice, { type: 'CmdUpdateFee', feeratePerKw: 5000 }))).toBeUndefined();
    p.settle();
    expect(agreement(p)).toEqual([]);
    expect(p.alice.commitments.localCommit.spec.feeratePerKw).toBe(5000);
    expect(p.bob.commitments.localCommit.spec.feeratePerKw).toBe(5000);
    expect(rejectedCode(p.input(p.bob, { type: 'CmdUpdateFee', feeratePerKw: 5000 }))).toBe(
      'NON_OPENER_CANNOT_SEND_UPDATE_FEE',
    );
    expect(rejectedCode(p.input(p.alice, { type: 'CmdUpdateFee', feeratePerKw: 1000 }))).toBe(
      'FEERATE_TOO_SMALL',
    );
    expect(rejectedCode(p.input(p.alice, { type: 'CmdUpdateFee', feeratePerKw: 100_000 }))).toBe(
      'FEERATE_TOO_LARGE',
    );
  });

  it('update_fail_malformed_htlc reaches the payer as a malformed failure', () => {
    const p = new Pair();
    p.open();
    add(p, p.alice, 1, 5_000_000n);
    p.settle();
    const onionHash = sha256(ONION);
    expect(
      rejectedCode(
        p.input(p.bob, {
          type: 'CmdFailMalformed',
          id: 0n,
          sha256OfOnion: onionHash,
          failureCode: 0x4000 | 5,
        }),
      ),
    ).toBe('INVALID_FAILURE_CODE');
    p.input(p.bob, {
      type: 'CmdFailMalformed',
      id: 0n,
      sha256OfOnion: onionHash,
      failureCode: 0x8000 | 0x4000 | 5,
    });
    p.settle();
    const f = ofType(p.alice.log, 'HtlcFailed')[0]!;
    expect(f.failure).toEqual({ kind: 'malformed', sha256OfOnion: onionHash, failureCode: 0xc005 });
    expect(agreement(p)).toEqual([]);
  });

  describe('limits on CmdAddHtlc', () => {
    it('HTLC below htlc_minimum_msat', () => {
      const p = new Pair({ bob: { htlcMinimumMsat: 1000n } });
      p.open();
      expect(rejectedCode(add(p, p.alice, 1, 999n))).toBe('HTLC_VALUE_TOO_SMALL');
      expect(rejectedCode(add(p, p.alice, 1, 0n))).toBe('HTLC_VALUE_TOO_SMALL');
    });
    it('over max_accepted_htlcs', () => {
      const p = new Pair({ bob: { maxAcceptedHtlcs: 5 } });
      p.open();
      for (let i = 0; i < 5; i++) expect(rejectedCode(add(p, p.alice, i, 1_000_000n))).toBeUndefined();
      expect(rejectedCode(add(p, p.alice, 9, 1_000_000n))).toBe('TOO_MANY_ACCEPTED_HTLCS');
    });
    it('over max_htlc_value_in_flight_msat', () => {
      const p = new Pair({ bob: { maxHtlcValueInFlightMsat: 10_000_000n } });
      p.open();
      expect(rejectedCode(add(p, p.alice, 1, 6_000_000n))).toBeUndefined();
      expect(rejectedCode(add(p, p.alice, 2, 5_000_000n))).toBe('HTLC_VALUE_IN_FLIGHT_EXCEEDED');
    });
    it('insufficient funds (reserve and fees)', () => {
      const p = new Pair();
      p.open({ pushMsat: 200_000_000n });
      // Bob has 200_000 sat and must keep the 10_000 sat reserve Alice asked for.
      expect(rejectedCode(add(p, p.bob, 1, 190_000_001n))).toBe('INSUFFICIENT_FUNDS');
      expect(rejectedCode(add(p, p.bob, 1, 190_000_000n))).toBeUndefined();
      // Alice pays fees and keeps a fee-spike buffer on top of her reserve.
      expect(rejectedCode(add(p, p.alice, 2, 790_000_000n))).toBe('INSUFFICIENT_FUNDS');
    });
    it('the opener cannot afford the fee of an HTLC the non-opener offers', () => {
      const p = new Pair();
      p.open({ pushMsat: 0n, channelType: 'static_remotekey' });
      // Alice sends almost everything to Bob (keeping exactly what the checks allow).
      const c = p.alice.commitments;
      let amount = 980_000_000n;
      while (rejectedCode(add(p, p.alice, 1, amount))) amount -= 100_000n;
      p.settle();
      p.input(p.bob, { type: 'CmdFulfill', id: 0n, preimage: payment(1).preimage });
      p.settle();
      expect(c.params.isOpener).toBe(true);
      // Now Bob adding many HTLCs increases the commitment fee Alice cannot pay.
      let code: ChannelErrorCode | undefined;
      for (let i = 0; i < 40 && code === undefined; i++)
        code = rejectedCode(add(p, p.bob, 10 + i, 5_000_000n));
      expect(code).toBe('REMOTE_CANNOT_AFFORD_FEES_FOR_NEW_HTLC');
    });
    it('expiry too soon / too far / not a block height', () => {
      const p = new Pair();
      p.open();
      expect(rejectedCode(add(p, p.alice, 1, 1_000_000n, 1000))).toBe('EXPIRY_TOO_SOON');
      expect(rejectedCode(add(p, p.alice, 1, 1_000_000n, 1000 + 2017))).toBe('EXPIRY_TOO_BIG');
      expect(rejectedCode(add(p, p.alice, 1, 1_000_000n, 500_000_000))).toBe('INVALID_CLTV_EXPIRY');
    });
    it('dust exposure over max_dust_htlc_exposure_msat', () => {
      const p = new Pair({ alice: { maxDustHtlcExposureMsat: 1_000_000n } });
      p.open();
      expect(rejectedCode(add(p, p.alice, 1, 500_000n))).toBeUndefined();
      expect(rejectedCode(add(p, p.alice, 2, 500_000n))).toBeUndefined();
      expect(rejectedCode(add(p, p.alice, 3, 500_000n))).toBe('DUST_EXPOSURE_EXCEEDED');
      // Non-dust HTLCs are not limited by dust exposure.
      expect(rejectedCode(add(p, p.alice, 4, 5_000_000n))).toBeUndefined();
    });
    it('incoming dust HTLCs beyond our exposure cap must be failed by the payment layer', () => {
      const p = new Pair({ bob: { maxDustHtlcExposureMsat: 1_000_000n } });
      p.open();
      for (let i = 0; i < 3; i++) add(p, p.alice, i, 500_000n);
      p.settle();
      const recv = ofType(p.bob.log, 'HtlcReceived');
      expect(recv.map((r) => r.mustFail?.code)).toEqual([
        'DUST_EXPOSURE_EXCEEDED',
        'DUST_EXPOSURE_EXCEEDED',
        'DUST_EXPOSURE_EXCEEDED',
      ]);
    });
    it('no new HTLC after shutdown', () => {
      const p = new Pair();
      p.open();
      add(p, p.alice, 1, 5_000_000n);
      p.settle();
      p.input(p.alice, { type: 'CmdClose' });
      expect(rejectedCode(add(p, p.alice, 2, 5_000_000n))).toBe('NO_MORE_HTLCS_CLOSING_IN_PROGRESS');
      p.pump();
      expect(rejectedCode(add(p, p.bob, 2, 5_000_000n))).toBe('NO_MORE_HTLCS_CLOSING_IN_PROGRESS');
    });
  });

  describe('limits on received updates (Commitments)', () => {
    function bobReceives(
      pairOpts: ConstructorParameters<typeof Pair>[0],
      amountMsat: bigint,
      over: Partial<UpdateAddHtlc> = {},
    ) {
      const p = new Pair(pairOpts);
      p.open();
      return { p, r: receiveAdd(p.bob.commitments, craftedAdd(p.bob.commitments, amountMsat, over)) };
    }
    it('recv update_add_htlc (below htlc_minimum_msat)', () => {
      const { r } = bobReceives({ bob: { htlcMinimumMsat: 5000n } }, 4999n);
      expect(!r.ok && r.error.code).toBe('HTLC_VALUE_TOO_SMALL');
    });
    it('recv update_add_htlc (zero amount)', () => {
      const { r } = bobReceives({}, 0n);
      expect(!r.ok && r.error.code).toBe('HTLC_VALUE_TOO_SMALL');
    });
    it('recv update_add_htlc (unexpected id)', () => {
      const { p } = bobReceives({}, 1n);
      const r = receiveAdd(p.bob.commitments, craftedAdd(p.bob.commitments, 1_000_000n, { id: 5n }));
      expect(!r.ok && r.error.code).toBe('UNEXPECTED_HTLC_ID');
    });
    it('recv update_add_htlc (cltv_expiry >= 500000000)', () => {
      const { r } = bobReceives({}, 1_000_000n, { cltvExpiry: 500_000_000 });
      expect(!r.ok && r.error.code).toBe('INVALID_CLTV_EXPIRY');
    });
    it('recv update_add_htlc (sender cannot afford it)', () => {
      const { r } = bobReceives({}, 800_000_000n);
      expect(!r.ok && r.error.code).toBe('INSUFFICIENT_FUNDS');
    });
    it('recv update_add_htlc (over max_accepted_htlcs)', () => {
      const p = new Pair({ bob: { maxAcceptedHtlcs: 3 } });
      p.open();
      let c = p.bob.commitments;
      for (let i = 0; i < 3; i++) {
        const r = receiveAdd(c, craftedAdd(c, 1_000_000n));
        if (!r.ok) throw r.error;
        c = r.commitments;
      }
      const r = receiveAdd(c, craftedAdd(c, 1_000_000n));
      expect(!r.ok && r.error.code).toBe('TOO_MANY_ACCEPTED_HTLCS');
    });
    it('recv update_add_htlc (over max_htlc_value_in_flight_msat)', () => {
      const { r } = bobReceives({ bob: { maxHtlcValueInFlightMsat: 1_000_000n } }, 1_000_001n);
      expect(!r.ok && r.error.code).toBe('HTLC_VALUE_IN_FLIGHT_EXCEEDED');
    });
    it('recv update_add_htlc over the limit through step: error and force close', () => {
      const p = new Pair({ bob: { maxAcceptedHtlcs: 1 } });
      p.open();
      const c = p.bob.commitments;
      p.bob.apply(craftedAdd(c, 1_000_000n));
      expectViolation(p, p.bob, craftedAdd(p.bob.commitments, 1_000_000n), 'TOO_MANY_ACCEPTED_HTLCS');
    });
    it('recv update_fulfill_htlc (unknown id, wrong preimage)', () => {
      const p = new Pair();
      p.open();
      add(p, p.alice, 1, 5_000_000n);
      p.settle();
      const c = p.alice.commitments;
      const cid = c.params.channelId;
      const r1 = receiveFulfill(c, {
        type: 'update_fulfill_htlc',
        channelId: cid,
        id: 7n,
        paymentPreimage: payment(1).preimage,
      });
      expect(!r1.ok && r1.error.code).toBe('UNKNOWN_HTLC_ID');
      const r2 = receiveFulfill(c, {
        type: 'update_fulfill_htlc',
        channelId: cid,
        id: 0n,
        paymentPreimage: payment(2).preimage,
      });
      expect(!r2.ok && r2.error.code).toBe('INVALID_HTLC_PREIMAGE');
      const r3 = receiveFail(c, {
        type: 'update_fail_malformed_htlc',
        channelId: cid,
        id: 0n,
        sha256OfOnion: new Uint8Array(32),
        failureCode: 1,
      });
      expect(!r3.ok && r3.error.code).toBe('INVALID_FAILURE_CODE');
      expectViolation(
        p,
        p.alice,
        { type: 'update_fulfill_htlc', channelId: cid, id: 0n, paymentPreimage: payment(2).preimage },
        'INVALID_HTLC_PREIMAGE',
      );
    });
    it('CmdFulfill before the HTLC is irrevocably committed / with a wrong preimage / twice', () => {
      const p = new Pair();
      p.open();
      add(p, p.alice, 1, 5_000_000n);
      p.pump();
      expect(
        rejectedCode(p.input(p.bob, { type: 'CmdFulfill', id: 0n, preimage: payment(1).preimage })),
      ).toBe('UNKNOWN_HTLC_ID');
      p.settle();
      expect(
        rejectedCode(p.input(p.bob, { type: 'CmdFulfill', id: 0n, preimage: payment(2).preimage })),
      ).toBe('INVALID_HTLC_PREIMAGE');
      expect(
        rejectedCode(p.input(p.bob, { type: 'CmdFulfill', id: 0n, preimage: payment(1).preimage })),
      ).toBeUndefined();
      expect(rejectedCode(p.input(p.bob, { type: 'CmdFail', id: 0n, reason: new Uint8Array(1) }))).toBe(
        'HTLC_ALREADY_SETTLED',
      );
    });
    it('recv commitment_signed (invalid signature, bad HTLC signature, wrong count, no changes)', () => {
      const p = new Pair();
      p.open();
      add(p, p.alice, 1, 5_000_000n);
      p.input(p.alice, { type: 'CmdSign' });
      p.deliverOne(p.bob); // the add
      const sig = p.toBob.shift()!;
      if (sig.type !== 'commitment_signed') throw new Error();
      const c = p.bob.commitments;
      const bad = Uint8Array.from(sig.signature);
      bad[5]! ^= 1;
      const r1 = receiveCommit(c, { ...sig, signature: bad }, p.bob.keys);
      expect(!r1.ok && r1.error.code).toBe('INVALID_COMMITMENT_SIGNATURE');
      const badHtlc = Uint8Array.from(sig.htlcSignatures[0]!);
      badHtlc[5]! ^= 1;
      const r2 = receiveCommit(c, { ...sig, htlcSignatures: [badHtlc] }, p.bob.keys);
      expect(!r2.ok && r2.error.code).toBe('INVALID_HTLC_SIGNATURE');
      const r3 = receiveCommit(c, { ...sig, htlcSignatures: [] }, p.bob.keys);
      expect(!r3.ok && r3.error.code).toBe('HTLC_SIG_COUNT_MISMATCH');
      p.bob.apply(sig);
      const r4 = receiveCommit(p.bob.commitments, sig, p.bob.keys);
      expect(!r4.ok && r4.error.code).toBe('CANNOT_SIGN_WITHOUT_CHANGES');
      expectViolation(p, p.bob, sig, 'CANNOT_SIGN_WITHOUT_CHANGES');
    });
    it('sendCommit without changes or before the revocation', () => {
      const p = new Pair();
      p.open();
      const r1 = sendCommit(p.alice.commitments, p.alice.keys);
      expect(!r1.ok && r1.error.code).toBe('CANNOT_SIGN_WITHOUT_CHANGES');
      const a = sendAdd(
        p.alice.commitments,
        { amountMsat: 1_000_000n, paymentHash: payment(1).hash, cltvExpiry: 1100, onion: ONION },
        envOf(p.alice),
      );
      if (!a.ok) throw a.error;
      const s = sendCommit(a.commitments, p.alice.keys);
      if (!s.ok) throw s.error;
      const a2 = sendAdd(
        s.commitments,
        { amountMsat: 1_000_000n, paymentHash: payment(2).hash, cltvExpiry: 1100, onion: ONION },
        envOf(p.alice),
      );
      if (!a2.ok) throw a2.error;
      const r2 = sendCommit(a2.commitments, p.alice.keys);
      expect(!r2.ok && r2.error.code).toBe('CANNOT_SIGN_BEFORE_REVOCATION');
    });
    it('recv revoke_and_ack (invalid secret, unexpected)', () => {
      const p = new Pair();
      p.open();
      const cid = p.alice.commitments.params.channelId;
      const rev = {
        type: 'revoke_and_ack' as const,
        channelId: cid,
        perCommitmentSecret: sha256(new Uint8Array(1)),
        nextPerCommitmentPoint: p.alice.commitments.params.local.htlcBasepoint,
      };
      const r0 = receiveRevocation(p.alice.commitments, rev);
      expect(!r0.ok && r0.error.code).toBe('UNEXPECTED_REVOCATION');
      add(p, p.alice, 1, 5_000_000n);
      p.input(p.alice, { type: 'CmdSign' });
      const r1 = receiveRevocation(p.alice.commitments, rev);
      expect(!r1.ok && r1.error.code).toBe('INVALID_REVOCATION');
      expectViolation(p, p.alice, rev, 'INVALID_REVOCATION');
    });
    it('recv update_fee (from the non-opener, out of bounds, unaffordable)', () => {
      const p = new Pair();
      p.open({ channelType: 'static_remotekey', pushMsat: 0n });
      const cid = p.bob.commitments.params.channelId;
      const r0 = receiveFee(
        p.alice.commitments,
        { type: 'update_fee', channelId: cid, feeratePerKw: 3000 },
        envOf(p.alice),
      );
      expect(!r0.ok && r0.error.code).toBe('NON_OPENER_CANNOT_SEND_UPDATE_FEE');
      const r1 = receiveFee(
        p.bob.commitments,
        { type: 'update_fee', channelId: cid, feeratePerKw: 300 },
        envOf(p.bob),
      );
      expect(!r1.ok && r1.error.code).toBe('FEERATE_TOO_SMALL');
      const r2 = receiveFee(
        p.bob.commitments,
        { type: 'update_fee', channelId: cid, feeratePerKw: 30_000 },
        envOf(p.bob),
      );
      expect(!r2.ok && r2.error.code).toBe('FEERATE_TOO_LARGE');
      // Alice moves (almost) everything to Bob, then cannot afford a higher feerate.
      let amount = 985_000_000n;
      while (rejectedCode(add(p, p.alice, 1, amount))) amount -= 100_000n;
      p.settle();
      p.input(p.bob, { type: 'CmdFulfill', id: 0n, preimage: payment(1).preimage });
      p.settle();
      const r3 = receiveFee(
        p.bob.commitments,
        { type: 'update_fee', channelId: cid, feeratePerKw: 20_000 },
        envOf(p.bob),
      );
      expect(!r3.ok && r3.error.code).toBe('CANNOT_AFFORD_FEES');
      expect(rejectedCode(p.input(p.alice, { type: 'CmdUpdateFee', feeratePerKw: 20_000 }))).toBe(
        'CANNOT_AFFORD_FEES',
      );
      expectViolation(
        p,
        p.alice,
        { type: 'update_fee', channelId: cid, feeratePerKw: 3000 },
        'NON_OPENER_CANNOT_SEND_UPDATE_FEE',
      );
    });
  });

  describe('chain events', () => {
    it('an outgoing HTLC reaching its expiry forces the channel on chain', () => {
      const p = new Pair();
      p.open();
      add(p, p.alice, 1, 5_000_000n, 1010);
      p.settle();
      expect(p.input(p.alice, { type: 'BlockConnected', height: 1009 })).toEqual([]);
      const eff = p.input(p.alice, { type: 'BlockConnected', height: 1010 });
      const fc = ofType(eff, 'ForceClose')[0]!;
      expect(fc.reason.code).toBe('HTLC_TIMED_OUT');
      expect(fc.commitment.htlcTxs.length).toBe(1);
      expect(fc.commitment.htlcTxs[0]!.direction).toBe('offered');
      expect(p.alice.state.kind).toBe('Closing');
    });
    it('a fulfilled incoming HTLC close to expiry forces the channel on chain', () => {
      const p = new Pair();
      p.open();
      add(p, p.alice, 1, 5_000_000n, 1050);
      p.settle();
      p.disconnect();
      p.input(p.bob, { type: 'CmdFulfill', id: 0n, preimage: payment(1).preimage });
      expect(p.input(p.bob, { type: 'BlockConnected', height: 1043 })).toEqual([]);
      const eff = p.input(p.bob, { type: 'BlockConnected', height: 1044 });
      expect(ofType(eff, 'ForceClose')[0]!.reason.code).toBe('FULFILLED_HTLC_ABOUT_TO_TIME_OUT');
    });
    it('recv error: force close; recv warning: ignored', () => {
      const p = new Pair();
      p.open();
      const cid = p.alice.commitments.params.channelId;
      expect(p.input(p.bob, { type: 'warning', channelId: cid, data: new Uint8Array(0) })).toEqual([]);
      const eff = p.input(p.bob, { type: 'error', channelId: cid, data: new Uint8Array(0) });
      expect(ofType(eff, 'ForceClose').length).toBe(1);
      expect(ofType(eff, 'SendMessage')).toEqual([]);
      expect(rejectedCode(p.input(p.bob, { type: 'CmdSign' }))).toBe('CHANNEL_UNAVAILABLE');
    });
    it('CmdForceClose publishes the latest commitment and sends an error', () => {
      const p = new Pair();
      p.open();
      add(p, p.alice, 1, 5_000_000n);
      add(p, p.bob, 2, 5_000_000n);
      p.settle();
      const eff = p.input(p.alice, { type: 'CmdForceClose' });
      const fc = ofType(eff, 'ForceClose')[0]!;
      expect(fc.commitment.commitmentNumber).toBe(p.alice.commitments.localCommit.index);
      expect(fc.commitment.htlcTxs.length).toBe(2);
      expect(ofType(eff, 'SendMessage')[0]!.msg.type).toBe('error');
      expect(ofType(eff, 'ChannelClosed')[0]!.closeType).toBe('local-force');
    });
  });
});
