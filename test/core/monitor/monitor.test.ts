import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeMonitorState,
  encodeMonitorState,
  initialMonitorState,
  monitorStep,
} from '../../../src/core/monitor/index.js';
import { utf8 } from '../../../src/protocol/encoding/bytes.js';
import { DecodeError } from '../../../src/protocol/errors.js';
import { txidHex } from '../../../src/protocol/tx/transaction.js';
import { keysFrom, payment, useFastCrypto } from '../channel/harness.js';
import { Harness } from './chain-harness.js';

useFastCrypto();

describe('monitor: HTLC deadlines', () => {
  it('an incoming HTLC whose preimage we know forces a close before its expiry; the payer learns the preimage', () => {
    const h = new Harness('anchors_zero_fee_htlc_tx');
    const cltv = h.height + 30;
    const id = h.addHtlc(h.pair.alice, 1, 40_000_000n, cltv);
    h.fulfill(h.pair.bob, id, 1);
    h.pair.disconnect(); // the fulfill never reaches Alice
    h.mineUntil(() => h.bob.of('ForceClose').length > 0, 40);
    // Default margin: 12 blocks before the expiry.
    expect(h.height).toBe(cltv - 12);
    expect(h.alice.of('ForceClose')).toHaveLength(0);
    h.mineUntil(() => h.alice.of('HtlcResolvedOnChain').length > 0, 10);
    expect(h.alice.of('HtlcResolvedOnChain')[0]).toMatchObject({
      direction: 'offered',
      htlcId: id,
      outcome: { kind: 'fulfilled', preimage: payment(1).preimage },
    });
    h.mineUntil(() => h.alice.state.resolved && h.bob.state.resolved, 40);
    expect(h.unexpectedRejections()).toEqual([]);
  });

  it('an offered HTLC forces a close at its expiry and is timed out on chain', () => {
    const h = new Harness('static_remotekey');
    const cltv = h.height + 10;
    const id = h.addHtlc(h.pair.alice, 2, 40_000_000n, cltv);
    h.pair.disconnect();
    h.mineUntil(() => h.alice.of('ForceClose').length > 0, 20);
    expect(h.height).toBe(cltv);
    h.mineUntil(() => h.alice.state.resolved && h.bob.state.resolved, 40);
    expect(h.alice.of('HtlcResolvedOnChain')).toMatchObject([
      { direction: 'offered', htlcId: id, outcome: { kind: 'timedOut' } },
    ]);
    expect(h.unexpectedRejections()).toEqual([]);
  });
});

describe('monitor: reorg safety', () => {
  it('a disconnected claim is re-armed and rebroadcast; nothing is reported before 6 confirmations', () => {
    const h = new Harness('static_remotekey');
    h.addHtlc(h.pair.alice, 3, 30_000_000n, h.height + 8);
    h.pair.disconnect();
    h.bob.step({ type: 'CmdForceClose' });
    h.mine(); // commitment
    h.mine(); // Alice's to_remote sweep
    const sweep = h.alice.of('Broadcast').find((e) => e.kind === 'to-remote-sweep')!;
    expect(h.chain.getConfirmedTx(txidHex(sweep.tx))).toBeDefined();
    expect(h.alice.of('ClaimConfirmed')).toHaveLength(0);
    // Reorg out the sweep's block: the monitor forgets that spend and broadcasts the claim again.
    const tip = h.chain.tip;
    h.chain.invalidateBlock(tip.hash);
    const before = h.alice.of('Broadcast').length;
    const eff = h.alice.step({ type: 'BlockDisconnected', height: tip.height });
    expect(eff.some((e) => e.type === 'Broadcast' && e.kind === 'to-remote-sweep')).toBe(true);
    expect(h.alice.of('Broadcast').length).toBeGreaterThan(before);
    h.bob.step({ type: 'BlockDisconnected', height: tip.height });
    h.mineUntil(() => h.alice.state.resolved && h.bob.state.resolved, 40);
    expect(h.alice.of('ClaimConfirmed').length).toBeGreaterThan(0);
    expect(h.unexpectedRejections()).toEqual([]);
  });
});

describe('monitor: persistence', () => {
  it('round-trips a fresh state and rejects garbage with DecodeError only', () => {
    const s = initialMonitorState();
    expect(decodeMonitorState(encodeMonitorState(s))).toEqual(s);
    const bad = [
      new Uint8Array([0xff]),
      utf8('{}'),
      utf8('{"v":2,"state":{}}'),
      utf8('{"v":1,"state":{"version":1}}'),
      utf8('{"v":1,"state":null}'),
    ];
    for (const b of bad) expect(() => decodeMonitorState(b)).toThrow(DecodeError);
    const good = encodeMonitorState(s);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(good.length), (junk, cut) => {
        for (const input of [junk, good.subarray(0, cut)]) {
          try {
            decodeMonitorState(input);
          } catch (e) {
            expect(e).toBeInstanceOf(DecodeError);
          }
        }
      }),
    );
  });

  it('a monitor without ChannelFunded does nothing', () => {
    const r = monitorStep(
      initialMonitorState(),
      { type: 'BlockConnected', height: 5, txs: [] },
      { keys: keysFrom('x'), feeratePerKw: 1000 },
    );
    expect(r.effects.filter((e) => e.type !== 'PersistMonitor')).toEqual([]);
  });
});
