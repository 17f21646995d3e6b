import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isQuiescentAndEmpty } from '../../../src/core/channel/index.js';
import { sha256 } from '../../../src/protocol/crypto/hash.js';
import { toHex, utf8 } from '../../../src/protocol/encoding/bytes.js';
import { agreement, ONION, ofType, Pair, type Peer, useFastCrypto } from './harness.js';

useFastCrypto();

type Who = 'a' | 'b';
type Op =
  | { k: 'add'; who: Who; amount: bigint }
  | { k: 'sign'; who: Who }
  | { k: 'deliver'; who: Who; n: number }
  | { k: 'settle'; who: Who; idx: number; fulfill: boolean }
  | { k: 'fee'; rate: number }
  | { k: 'disconnect' }
  | { k: 'reconnect' }
  | { k: 'crash'; who: Who };

const who = fc.constantFrom<Who>('a', 'b');
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      k: fc.constant('add' as const),
      who,
      amount: fc.bigInt({ min: 1_000n, max: 25_000_000n }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('sign' as const), who }) },
  {
    weight: 6,
    arbitrary: fc.record({ k: fc.constant('deliver' as const), who, n: fc.integer({ min: 1, max: 6 }) }),
  },
  {
    weight: 4,
    arbitrary: fc.record({ k: fc.constant('settle' as const), who, idx: fc.nat(40), fulfill: fc.boolean() }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ k: fc.constant('fee' as const), rate: fc.integer({ min: 1500, max: 8000 }) }),
  },
  { weight: 1, arbitrary: fc.constant({ k: 'disconnect' as const }) },
  { weight: 1, arbitrary: fc.constant({ k: 'reconnect' as const }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('crash' as const), who }) },
);

/** Payment hashes of the HTLCs `peer` offered and still knows about (any stage). */
function knownOutgoing(peer: Peer): Set<string> {
  const c = peer.commitments;
  const out = new Set<string>();
  for (const spec of [c.localCommit.spec, c.remoteCommit.spec, c.waiting?.nextRemoteCommit.spec]) {
    for (const h of spec?.htlcs ?? []) {
      const mine = spec === c.localCommit.spec ? h.direction === 'offered' : h.direction === 'received';
      if (mine) out.add(toHex(h.paymentHash));
    }
  }
  for (const u of [...c.changes.localProposed, ...c.changes.localSigned, ...c.changes.localAcked])
    if (u.type === 'update_add_htlc') out.add(toHex(u.paymentHash));
  return out;
}

/** Runs a random interleaving and checks both sides agree and balances conserve. */
function run(channelType: 'static_remotekey' | 'anchors_zero_fee_htlc_tx', ops: Op[]): void {
  const p = new Pair({ alice: { maxAcceptedHtlcs: 30 }, bob: { maxAcceptedHtlcs: 30 } });
  p.open({ channelType, pushMsat: 400_000_000n });
  const peer = (w: Who): Peer => (w === 'a' ? p.alice : p.bob);
  const initialAlice = p.alice.commitments.localCommit.spec.toLocalMsat;
  const preimages = new Map<string, Uint8Array>();
  /** Added (not rejected) HTLCs by payment hash: sender and amount. */
  const added = new Map<string, { from: Who; amount: bigint }>();
  let counter = 0;
  const settleIssued = new Set<string>();
  const lost = new Set<string>();

  const pendingReceived = (w: Who) =>
    ofType(peer(w).log, 'HtlcReceived')
      .map((e) => e.add)
      .filter((a) => !settleIssued.has(`${w}:${toHex(a.paymentHash)}`));

  for (const o of ops) {
    switch (o.k) {
      case 'add': {
        const preimage = sha256(utf8(`model/${counter++}`));
        const hash = sha256(preimage);
        const eff = p.input(peer(o.who), {
          type: 'CmdAddHtlc',
          amountMsat: o.amount,
          paymentHash: hash,
          cltvExpiry: 1144,
          onion: ONION,
        });
        if (ofType(eff, 'CommandRejected').length === 0) {
          preimages.set(toHex(hash), preimage);
          added.set(toHex(hash), { from: o.who, amount: o.amount });
        }
        break;
      }
      case 'sign':
        p.input(peer(o.who), { type: 'CmdSign' });
        break;
      case 'deliver':
        for (let i = 0; i < o.n; i++) p.deliverOne(peer(o.who));
        break;
      case 'settle': {
        const list = pendingReceived(o.who);
        const a = list[o.idx % Math.max(1, list.length)];
        if (!a) break;
        settleIssued.add(`${o.who}:${toHex(a.paymentHash)}`);
        if (o.fulfill)
          p.input(peer(o.who), {
            type: 'CmdFulfill',
            id: a.id,
            preimage: preimages.get(toHex(a.paymentHash))!,
          });
        else p.input(peer(o.who), { type: 'CmdFail', id: a.id, reason: new Uint8Array([0x42]) });
        break;
      }
      case 'fee':
        p.input(p.alice, { type: 'CmdUpdateFee', feeratePerKw: o.rate });
        break;
      case 'disconnect':
        if (p.connected) p.disconnect();
        break;
      case 'reconnect':
        if (!p.connected) p.reconnect();
        break;
      case 'crash': {
        // SIGKILL: the node restarts from its last persisted state, offline.
        const victim = peer(o.who);
        if (!victim.persisted) break;
        if (p.connected) p.disconnect();
        victim.state = victim.persisted;
        victim.apply({ type: 'Disconnected' });
        // Adds it had not persisted are lost before any commitment: they count as failed.
        const known = knownOutgoing(victim);
        for (const [h, a] of added) if (a.from === o.who && !known.has(h) && !lost.has(h)) lost.add(h);
        break;
      }
    }
  }
  if (!p.connected) p.reconnect();
  // Quiescence: settle, fulfill every remaining incoming HTLC, settle again.
  for (let round = 0; round < 20; round++) {
    p.settle();
    const problems = agreement(p);
    expect(problems).toEqual([]);
    let left = 0;
    for (const w of ['a', 'b'] as const) {
      for (const h of peer(w).commitments.localCommit.spec.htlcs) {
        if (h.direction !== 'received') continue;
        left++;
        p.input(peer(w), { type: 'CmdFulfill', id: h.id, preimage: preimages.get(toHex(h.paymentHash))! });
      }
    }
    p.settle();
    if (left === 0 && isQuiescentAndEmpty(p.alice.commitments) && isQuiescentAndEmpty(p.bob.commitments))
      break;
  }
  expect(p.alice.kind).toBe('Normal');
  expect(p.bob.kind).toBe('Normal');
  expect(isQuiescentAndEmpty(p.alice.commitments)).toBe(true);
  expect(isQuiescentAndEmpty(p.bob.commitments)).toBe(true);
  expect(agreement(p)).toEqual([]);

  // Every accepted add ended exactly once at its sender: fulfilled or failed.
  const outcome = new Map<string, 'fulfilled' | 'failed'>();
  for (const h of lost) outcome.set(h, 'failed');
  for (const w of ['a', 'b'] as const) {
    for (const e of peer(w).log) {
      if (e.type === 'HtlcFulfilled') {
        expect(lost.has(toHex(e.paymentHash))).toBe(false);
        outcome.set(toHex(e.paymentHash), 'fulfilled');
      }
      if (e.type === 'HtlcFailed') {
        expect(outcome.get(toHex(e.paymentHash))).not.toBe('fulfilled');
        outcome.set(toHex(e.paymentHash), 'failed');
      }
    }
  }
  let aliceDelta = 0n;
  for (const [h, a] of added) {
    const r = outcome.get(h);
    expect(r, `outcome of ${h}`).toBeDefined();
    if (r === 'fulfilled') aliceDelta += a.from === 'a' ? -a.amount : a.amount;
  }
  const a = p.alice.commitments.localCommit.spec;
  expect(a.toLocalMsat).toBe(initialAlice + aliceDelta);
  expect(a.toLocalMsat + a.toRemoteMsat).toBe(p.alice.commitments.params.fundingAmountSat * 1000n);
}

describe('model: random interleavings on both sides', () => {
  for (const channelType of ['static_remotekey', 'anchors_zero_fee_htlc_tx'] as const) {
    it(`both sides agree after quiescence and balances conserve (${channelType})`, () => {
      fc.assert(
        fc.property(fc.array(op, { minLength: 10, maxLength: 150 }), (ops) => run(channelType, ops)),
        { numRuns: 80 },
      );
    });
  }
});
