import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeChannelState, encodeChannelState } from '../../../src/core/channel/index.js';
import { utf8 } from '../../../src/protocol/encoding/bytes.js';
import { DecodeError } from '../../../src/protocol/errors.js';
import { ONION, Pair, payment, useFastCrypto } from './harness.js';

useFastCrypto();

describe('channel state serialisation', () => {
  it('round-trips every state a channel goes through', () => {
    const p = new Pair();
    const seen = new Set<string>();
    const check = () => {
      for (const peer of [p.alice, p.bob]) {
        const back = decodeChannelState(encodeChannelState(peer.state));
        expect(back).toEqual(peer.state);
        // The decoded state keeps working: re-encoding is byte-identical.
        expect(encodeChannelState(back)).toEqual(encodeChannelState(peer.state));
        seen.add(peer.kind);
      }
    };
    check();
    p.input(p.alice, {
      type: 'CmdOpen',
      fundingSats: 800_000n,
      pushMsat: 1000n,
      channelType: 'anchors_zero_fee_htlc_tx',
      zeroConf: false,
      announce: true,
    });
    while (p.deliverOne(p.bob) || p.deliverOne(p.alice)) check();
    p.input(p.alice, { type: 'FundingConfirmed', depth: 9, scid: 99n });
    p.input(p.bob, { type: 'FundingConfirmed', depth: 9, scid: 99n });
    while (p.deliverOne(p.bob) || p.deliverOne(p.alice)) check();
    for (let i = 0; i < 4; i++)
      p.input(p.alice, {
        type: 'CmdAddHtlc',
        amountMsat: 2_000_000n,
        paymentHash: payment(i).hash,
        cltvExpiry: 1100,
        onion: ONION,
      });
    p.input(p.alice, { type: 'CmdSign' });
    while (p.deliverOne(p.bob) || p.deliverOne(p.alice)) check();
    p.disconnect();
    check();
    p.reconnect();
    check();
    p.input(p.bob, { type: 'CmdFulfill', id: 0n, preimage: payment(0).preimage });
    p.input(p.bob, { type: 'CmdSign' });
    while (p.deliverOne(p.bob) || p.deliverOne(p.alice)) check();
    for (const k of ['WaitForOpenChannel', 'WaitForFundingConfirmed', 'Normal', 'Offline(Normal)'])
      expect(seen.has(k)).toBe(true);
    // A restored channel continues: Bob steps from the decoded state.
    p.bob.state = decodeChannelState(encodeChannelState(p.bob.state));
    p.alice.state = decodeChannelState(encodeChannelState(p.alice.state));
    p.settle();
    expect(p.alice.commitments.localCommit.spec.htlcs.length).toBe(3);
  });

  it('garbage, truncations and wrong versions throw only DecodeError', () => {
    const p = new Pair();
    p.open();
    const good = encodeChannelState(p.alice.state);
    const bad = [
      utf8('{"v":2,"state":{"kind":"Normal"}}'),
      utf8('{"v":1,"state":{"kind":"Nope"}}'),
      utf8('{"v":1,"state":{"kind":"Offline","inner":{}}}'),
      utf8('{"v":1,"state":{"kind":"Normal","x":{"$n":"1.5"}}}'),
      utf8('{"v":1,"state":{"kind":"Normal","x":{"$b":"zz"}}}'),
      utf8('null'),
    ];
    for (const b of bad) expect(() => decodeChannelState(b)).toThrow(DecodeError);
    fc.assert(
      fc.property(fc.nat(good.length - 1), fc.uint8Array({ maxLength: 64 }), (cut, junk) => {
        for (const input of [good.subarray(0, cut), junk]) {
          try {
            decodeChannelState(input);
          } catch (e) {
            expect(e).toBeInstanceOf(DecodeError);
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});
