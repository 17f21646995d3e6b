import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CHANNEL_STATE_VERSION,
  type ChannelState,
  decodeChannelState,
  encodeChannelState,
} from '../../../src/core/channel/index.js';
import { toHex, utf8 } from '../../../src/protocol/encoding/bytes.js';
import { DecodeError } from '../../../src/protocol/errors.js';
import { ShachainStore } from '../../../src/protocol/keys/shachain.js';
import { ONION, Pair, type Peer, payment, useFastCrypto } from './harness.js';

useFastCrypto();

/** The version 1 (JSON) encoder, as older data dirs hold it. */
function legacyEncode(state: ChannelState): Uint8Array {
  return utf8(
    JSON.stringify({ v: 1, state }, (_k, v: unknown) => {
      if (typeof v === 'bigint') return { $n: v.toString() };
      if (v instanceof Uint8Array) return { $b: toHex(v) };
      if (v instanceof ShachainStore) return { $sc: toHex(v.encode()) };
      return v;
    }),
  );
}

const persisted = (p: Peer): ChannelState[] =>
  p.log.flatMap((e) => (e.type === 'PersistChannel' ? [e.state] : []));

/**
 * Drives a channel through opening, HTLCs both ways (fulfilled, failed, malformed, trimmed), a fee
 * update, a reconnection, shutdown and a force close.
 */
function lifecycle(): Pair {
  const p = new Pair();
  p.open({ pushMsat: 300_000_000n });
  let n = 0;
  const add = (from: Peer, amountMsat: bigint) =>
    p.input(from, {
      type: 'CmdAddHtlc',
      amountMsat,
      paymentHash: payment(n++).hash,
      cltvExpiry: 1100,
      onion: ONION,
    });
  add(p.alice, 2_000_000n);
  add(p.alice, 3_000_000n);
  add(p.bob, 4_000_000n);
  add(p.alice, 1_000n); // trimmed
  p.settle();
  p.input(p.bob, { type: 'CmdFulfill', id: 0n, preimage: payment(0).preimage });
  p.input(p.bob, { type: 'CmdFail', id: 1n, reason: new Uint8Array(32).fill(7) });
  p.input(p.alice, {
    type: 'CmdFailMalformed',
    id: 0n,
    sha256OfOnion: new Uint8Array(32),
    failureCode: 0xc005,
  });
  p.input(p.alice, { type: 'CmdUpdateFee', feeratePerKw: 3000 });
  p.input(p.alice, { type: 'CmdSign' });
  p.disconnect();
  p.reconnect();
  p.settle();
  p.input(p.bob, { type: 'CmdFulfill', id: 3n, preimage: payment(3).preimage });
  p.settle();
  p.input(p.alice, { type: 'CmdClose', feerates: { preferred: 1000, min: 500, max: 3000 } });
  p.input(p.bob, { type: 'CmdClose', feerates: { preferred: 1500, min: 500, max: 3000 } });
  p.pump();
  p.input(p.alice, { type: 'CmdForceClose' });
  p.pump();
  return p;
}

describe('channel state serialisation, version 2 (binary)', () => {
  const p = lifecycle();
  const states = [...persisted(p.alice), ...persisted(p.bob)];

  it('every persisted state of a channel lifecycle round-trips exactly', () => {
    const kinds = new Set<string>();
    for (const s of states) {
      const enc = encodeChannelState(s);
      expect(enc[0]).toBe(CHANNEL_STATE_VERSION);
      const back = decodeChannelState(enc);
      // Exact: undefined-valued fields kept, the shachain store rebuilt as a ShachainStore.
      expect(back).toStrictEqual(s);
      expect(encodeChannelState(back)).toEqual(enc);
      kinds.add(s.kind === 'Offline' ? `Offline(${s.inner.kind})` : s.kind);
    }
    for (const k of ['WaitForFundingConfirmed', 'Normal', 'Offline(Normal)', 'Shutdown', 'Closing'])
      expect(kinds.has(k)).toBe(true);
    expect(states.length).toBeGreaterThan(30);
  });

  it('re-encodes the same bytes whether or not subtrees come from the memo', () => {
    for (const s of states) {
      // A structural copy shares nothing with the memoised originals.
      const copy = decodeChannelState(encodeChannelState(s));
      expect(encodeChannelState(copy)).toEqual(encodeChannelState(s));
    }
  });

  it('is about half the size of version 1', () => {
    for (const s of states) expect(encodeChannelState(s).length).toBeLessThan(legacyEncode(s).length * 0.7);
  });

  it('a channel restored from version 2 continues', () => {
    const q = new Pair();
    q.open();
    q.addAndSign(q.alice, 9, 5_000_000n);
    q.pump();
    q.alice.state = decodeChannelState(encodeChannelState(q.alice.state));
    q.bob.state = decodeChannelState(encodeChannelState(q.bob.state));
    q.settle();
    q.input(q.bob, { type: 'CmdFulfill', id: 0n, preimage: payment(9).preimage });
    q.settle();
    expect(q.alice.commitments.localCommit.spec.htlcs.length).toBe(0);
    expect(q.alice.commitments.remoteSecrets.count).toBeGreaterThan(1);
  });
});

describe('channel state serialisation, version 1 (JSON) still read', () => {
  const p = lifecycle();
  const states = [...persisted(p.alice), ...persisted(p.bob)];

  it('every version 1 state decodes to the same data (undefined fields absent, as JSON left them)', () => {
    for (const s of states) {
      const back = decodeChannelState(legacyEncode(s));
      expect(back).toEqual(s);
      // Rewritten as version 2 it stays the same.
      expect(decodeChannelState(encodeChannelState(back))).toEqual(s);
    }
  });

  it('a channel restored from version 1 continues and is rewritten as version 2', () => {
    const q = new Pair();
    q.open();
    q.addAndSign(q.bob, 3, 5_000_000n);
    q.settle();
    q.alice.state = decodeChannelState(legacyEncode(q.alice.state));
    q.bob.state = decodeChannelState(legacyEncode(q.bob.state));
    q.input(q.alice, { type: 'CmdFulfill', id: 0n, preimage: payment(3).preimage });
    q.settle();
    expect(q.bob.commitments.localCommit.spec.htlcs.length).toBe(0);
    const rewritten = q.bob.log.findLast((e) => e.type === 'PersistChannel');
    expect(rewritten?.type === 'PersistChannel' && encodeChannelState(rewritten.state)[0]).toBe(2);
  });
});

describe('channel state serialisation: bad input', () => {
  const p = new Pair();
  p.open();
  p.input(p.alice, {
    type: 'CmdAddHtlc',
    amountMsat: 5_000_000n,
    paymentHash: payment(1).hash,
    cltvExpiry: 1100,
    onion: ONION,
  });
  p.settle();
  const good = encodeChannelState(p.alice.state);
  const legacy = legacyEncode(p.alice.state);
  const codes = new Set(['CHANNEL_STATE_INVALID', 'CHANNEL_STATE_VERSION']);
  const check = (b: Uint8Array) => {
    try {
      decodeChannelState(b);
    } catch (e) {
      expect(e).toBeInstanceOf(DecodeError);
      expect(codes.has((e as DecodeError).code)).toBe(true);
    }
  };

  it('truncations, bit flips and random bytes only throw DecodeError with the channel state codes', () => {
    fc.assert(
      fc.property(
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        fc.uint8Array({ maxLength: 64 }),
        (i, x, junk) => {
          for (const enc of [good, legacy]) {
            expect(() => decodeChannelState(enc.subarray(0, i % enc.length))).toThrow(DecodeError);
            check(enc.subarray(0, i % enc.length));
            const bad = Uint8Array.from(enc);
            bad[i % bad.length]! ^= x;
            check(bad);
          }
          check(junk);
          check(Uint8Array.of(CHANNEL_STATE_VERSION, ...junk));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('names the failure', () => {
    const code = (b: Uint8Array) => {
      try {
        decodeChannelState(b);
      } catch (e) {
        return (e as DecodeError).code;
      }
      return 'decoded';
    };
    expect(code(Uint8Array.of(3, 0x01))).toBe('CHANNEL_STATE_VERSION');
    expect(code(new Uint8Array(0))).toBe('CHANNEL_STATE_INVALID');
    expect(code(utf8('{"v":2,"state":{"kind":"Normal"}}'))).toBe('CHANNEL_STATE_VERSION');
    expect(code(utf8('{"v":1,"state":{"kind":"Normal","x":{"$b":"zz"}}}'))).toBe('CHANNEL_STATE_INVALID');
    expect(code(Uint8Array.of(0x7b, 0xff))).toBe('CHANNEL_STATE_INVALID');
    // A version 2 tree that is not a known state kind.
    expect(code(Uint8Array.of(2, 0x01))).toBe('CHANNEL_STATE_INVALID');
    expect(
      code(Uint8Array.of(2, 0x0f, 0x09, 0x6b, 0x69, 0x6e, 0x64, 0x0b, 0x07, 0x4e, 0x6f, 0x70, 0x00)),
    ).toBe('CHANNEL_STATE_INVALID');
  });
});
