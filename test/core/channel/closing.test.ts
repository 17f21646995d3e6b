import { describe, expect, it } from 'vitest';
import { fundingSighash } from '../../../src/protocol/channel/funding.js';
import { fundingScript } from '../../../src/protocol/channel/scripts.js';
import { secp } from '../../../src/protocol/crypto/secp256k1.js';
import { derToCompact } from '../../../src/protocol/tx/signature.js';
import type { Transaction } from '../../../src/protocol/tx/transaction.js';
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

/** Both funding signatures of a mutual close transaction are valid. */
function expectFullySigned(p: Pair, tx: Transaction): void {
  const c = p.alice.commitments;
  const ws = fundingScript(c.params.local.fundingPubkey, c.params.remote.fundingPubkey);
  const w = tx.inputs[0]!.witness;
  expect(w.length).toBe(4);
  const digest = fundingSighash(tx, ws, c.params.fundingAmountSat);
  const keys = [c.params.local.fundingPubkey, c.params.remote.fundingPubkey];
  for (const sig of [w[1]!, w[2]!]) {
    const compact = derToCompact(sig.subarray(0, sig.length - 1));
    expect(keys.some((k) => secp().verify(compact, digest, k))).toBe(true);
  }
}

describe('SHUTDOWN / NEGOTIATING', () => {
  for (const channelType of ['static_remotekey', 'anchors_zero_fee_htlc_tx'] as const) {
    it(`mutual close after pending HTLCs are resolved (${channelType})`, () => {
      const p = new Pair();
      p.open({ channelType });
      add(p, p.alice, 1, 5_000_000n);
      add(p, p.bob, 2, 3_000_000n);
      p.settle();
      // Bob asks to close while HTLCs are pending: both stop adding, resolve, then negotiate.
      p.input(p.bob, { type: 'CmdClose' });
      p.pump();
      expect(p.alice.kind).toBe('Shutdown');
      expect(p.bob.kind).toBe('Shutdown');
      p.input(p.bob, { type: 'CmdFulfill', id: 0n, preimage: payment(1).preimage });
      p.input(p.alice, { type: 'CmdFail', id: 0n, reason: new Uint8Array([1]) });
      p.settle();
      expect(p.alice.state.kind).toBe('Closing');
      expect(p.bob.state.kind).toBe('Closing');
      const ta = ofType(p.alice.log, 'BroadcastTx')[0]!.tx;
      const tb = ofType(p.bob.log, 'BroadcastTx')[0]!.tx;
      expect(ta).toEqual(tb);
      expectFullySigned(p, ta);
      expect(ofType(p.alice.log, 'ChannelClosed')[0]!.closeType).toBe('mutual');
      expect(ofType(p.alice.log, 'MonitorUpdate').some((e) => e.update.type === 'MutualClose')).toBe(true);
      // The outputs pay the final balances minus the fee, paid by the opener.
      const c = p.alice.commitments;
      const total = ta.outputs.reduce((s, o) => s + o.value, 0n);
      const fee = c.params.fundingAmountSat - total;
      expect(fee).toBeGreaterThan(0n);
      const bobOut = ta.outputs.find((o) =>
        Buffer.from(o.scriptPubKey).equals(Buffer.from(p.bob.data.config.shutdownScript)),
      )!;
      expect(bobOut.value).toBe(c.localCommit.spec.toRemoteMsat / 1000n);
      p.input(p.alice, { type: 'ClosingTxConfirmed', txid: new Uint8Array(32) });
      expect(p.alice.state.kind).toBe('Closed');
    });
  }

  it('fee_range negotiation converges when the non-opener wants a higher fee', () => {
    const p = new Pair();
    p.open();
    p.input(p.alice, { type: 'CmdClose', feerates: { preferred: 1000, min: 500, max: 3000 } });
    p.input(p.bob, { type: 'CmdClose', feerates: { preferred: 5000, min: 2000, max: 8000 } });
    p.pump();
    const sent = [...p.alice.log, ...p.bob.log].flatMap((e) =>
      e.type === 'SendMessage' && e.msg.type === 'closing_signed' ? [e.msg] : [],
    );
    // Alice proposes, Bob counters inside the overlap, Alice echoes.
    expect(sent.length).toBe(3);
    expect(sent[1]!.feeSatoshis).toBe(sent[2]!.feeSatoshis);
    expect(sent[1]!.feeSatoshis).toBeGreaterThan(sent[0]!.feeSatoshis);
    expect(p.alice.state.kind).toBe('Closing');
    expect(p.bob.state.kind).toBe('Closing');
    expectFullySigned(p, ofType(p.alice.log, 'BroadcastTx')[0]!.tx);
  });

  it('fee ranges without overlap get a warning', () => {
    const p = new Pair();
    p.open();
    p.input(p.alice, { type: 'CmdClose', feerates: { preferred: 1000, min: 500, max: 1000 } });
    p.input(p.bob, { type: 'CmdClose', feerates: { preferred: 5000, min: 4000, max: 8000 } });
    p.pump();
    expect(ofType(p.bob.log, 'SendMessage').some((e) => e.msg.type === 'warning')).toBe(true);
    expect(p.bob.state.kind).toBe('Negotiating');
  });

  it('negotiation restarts after a reconnection', () => {
    const p = new Pair();
    p.open();
    p.input(p.alice, { type: 'CmdClose' });
    p.deliverOne(p.bob); // shutdown
    p.deliverOne(p.alice); // Bob's shutdown → Alice sends closing_signed
    expect(p.alice.kind).toBe('Negotiating');
    p.disconnect();
    p.reconnect();
    p.pump();
    expect(p.alice.state.kind).toBe('Closing');
    expect(p.bob.state.kind).toBe('Closing');
  });

  it('shutdown is answered only once our own updates are signed', () => {
    const p = new Pair();
    p.open();
    add(p, p.alice, 1, 5_000_000n);
    p.settle();
    p.input(p.bob, { type: 'CmdFulfill', id: 0n, preimage: payment(1).preimage });
    p.input(p.alice, { type: 'CmdClose' });
    p.pump();
    // Bob signed its fulfill before replying with shutdown.
    const bobSends = ofType(p.bob.log, 'SendMessage').map((e) => e.msg.type);
    const iShutdown = bobSends.lastIndexOf('shutdown');
    expect(bobSends.slice(0, iShutdown)).toContain('commitment_signed');
    p.settle();
    expect(p.alice.state.kind).toBe('Closing');
    expect(agreement(p)).toEqual([]);
  });

  it('CmdClose with an invalid script is rejected; an invalid shutdown script gets a warning', () => {
    const p = new Pair();
    p.open();
    const r = p.input(p.alice, { type: 'CmdClose', scriptPubKey: new Uint8Array([0x6a, 0x01, 0x00]) });
    expect(ofType(r, 'CommandRejected')[0]!.error.code).toBe('INVALID_SHUTDOWN_SCRIPT');
    const cid = p.alice.commitments.params.channelId;
    const e = p.input(p.bob, { type: 'shutdown', channelId: cid, scriptpubkey: new Uint8Array([0x51]) });
    expect(ofType(e, 'SendMessage')[0]!.msg.type).toBe('warning');
    expect(p.bob.kind).toBe('Normal');
  });

  it('shutdown with unsigned adds pending on our commitment is a protocol violation', () => {
    const p = new Pair();
    p.open();
    add(p, p.alice, 1, 5_000_000n);
    p.deliverOne(p.bob);
    const cid = p.alice.commitments.params.channelId;
    const e = p.bob.apply({
      type: 'shutdown',
      channelId: cid,
      scriptpubkey: p.alice.data.config.shutdownScript,
    });
    expect(ofType(e, 'ProtocolViolation')[0]!.error.code).toBe('CANNOT_CLOSE_WITH_UNSIGNED_UPDATES');
  });
});
