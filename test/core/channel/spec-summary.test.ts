import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  commitTxTotalCostSat,
  feeSpikeBufferSat,
  findHtlc,
  htlcTotals,
  reduce,
  reduceSummary,
  summaryFeeSpikeBufferSat,
  summaryTotalCostSat,
  untrimmedCount,
} from '../../../src/core/channel/spec.js';
import type { CommitmentSpec, SpecHtlc, UpdateMessage } from '../../../src/core/channel/types.js';
import type { ChannelType } from '../../../src/protocol/channel/scripts.js';

const CH = new Uint8Array(32);
const HASH = new Uint8Array(32).fill(7);

const addMsg = (id: bigint, amountMsat: bigint): UpdateMessage => ({
  type: 'update_add_htlc',
  channelId: CH,
  id,
  amountMsat,
  paymentHash: HASH,
  cltvExpiry: 500,
  onionRoutingPacket: new Uint8Array(0),
});
const settle = (id: bigint, kind: number): UpdateMessage =>
  kind === 0
    ? { type: 'update_fulfill_htlc', channelId: CH, id, paymentPreimage: HASH }
    : kind === 1
      ? { type: 'update_fail_htlc', channelId: CH, id, reason: new Uint8Array(0) }
      : { type: 'update_fail_malformed_htlc', channelId: CH, id, sha256OfOnion: HASH, failureCode: 0x8000 };

/** What the summary must equal: the full reduce and the per-spec functions. */
function reference(
  spec: CommitmentSpec,
  owner: readonly UpdateMessage[],
  other: readonly UpdateMessage[],
  dust: bigint,
  ct: ChannelType,
) {
  const r = reduce(spec, owner, other);
  return {
    toLocalMsat: r.toLocalMsat,
    toRemoteMsat: r.toRemoteMsat,
    feeratePerKw: r.feeratePerKw,
    untrimmed: untrimmedCount(r, dust, ct),
    offered: htlcTotals(r, 'offered'),
    received: htlcTotals(r, 'received'),
    cost: commitTxTotalCostSat(r, dust, ct),
    buffer: feeSpikeBufferSat(r, dust, ct),
  };
}

function summarised(
  spec: CommitmentSpec,
  owner: readonly UpdateMessage[],
  other: readonly UpdateMessage[],
  dust: bigint,
  ct: ChannelType,
) {
  const s = reduceSummary(spec, owner, other, dust, ct);
  return {
    toLocalMsat: s.toLocalMsat,
    toRemoteMsat: s.toRemoteMsat,
    feeratePerKw: s.feeratePerKw,
    untrimmed: s.untrimmed,
    offered: { count: s.offeredCount, msat: s.offeredMsat },
    received: { count: s.receivedCount, msat: s.receivedMsat },
    cost: summaryTotalCostSat(s, ct),
    buffer: summaryFeeSpikeBufferSat(s, ct),
  };
}

const outcome = (f: () => unknown) => {
  try {
    return { ok: f() };
  } catch (e) {
    return { threw: (e as Error).constructor.name };
  }
};

describe('reduceSummary (incremental limit checks)', () => {
  it('equals reduce + the per-spec fee/trim functions over random growing change lists', () => {
    const step = fc.record({
      side: fc.boolean(),
      kind: fc.integer({ min: 0, max: 9 }),
      amountSat: fc.integer({ min: 100, max: 5000 }),
      pick: fc.nat(),
      feerate: fc.integer({ min: 253, max: 20000 }),
    });
    fc.assert(
      fc.property(
        fc.array(step, { maxLength: 60 }),
        fc.constantFrom<ChannelType>('anchors_zero_fee_htlc_tx', 'static_remotekey'),
        fc.integer({ min: 0, max: 12 }),
        (steps, ct, nBase) => {
          const base: SpecHtlc[] = [];
          for (let i = 0; i < nBase; i++)
            base.push({
              direction: i % 2 === 0 ? 'offered' : 'received',
              id: BigInt(1000 + i),
              amountMsat: BigInt(300 + 200 * i) * 1000n,
              paymentHash: HASH,
              cltvExpiry: 400,
            });
          const spec: CommitmentSpec = {
            htlcs: base,
            feeratePerKw: 2500,
            toLocalMsat: 4_000_000_000n,
            toRemoteMsat: 3_000_000_000n,
          };
          const dust = 546n;
          let owner: UpdateMessage[] = [];
          let other: UpdateMessage[] = [];
          let nextId = [0n, 0n];
          const ids = (side: boolean) => {
            // HTLCs the side may remove: the other side's adds and base HTLCs of that direction.
            const dir = side ? 'received' : 'offered';
            const list = side ? other : owner;
            const out = base.filter((h) => h.direction === dir).map((h) => h.id);
            for (const u of list) if (u.type === 'update_add_htlc') out.push(u.id);
            return out;
          };
          for (const st of steps) {
            const list = st.side ? owner : other;
            let msg: UpdateMessage;
            if (st.kind <= 4) {
              const k = st.side ? 0 : 1;
              msg = addMsg(nextId[k]!, BigInt(st.amountSat) * 1000n);
              nextId = k === 0 ? [nextId[0]! + 1n, nextId[1]!] : [nextId[0]!, nextId[1]! + 1n];
            } else if (st.kind <= 8) {
              const cand = ids(st.side);
              // Sometimes an unknown or repeated id (reduce throws; so must the summary).
              const id = cand.length === 0 || st.pick % 17 === 0 ? 99999n : cand[st.pick % cand.length]!;
              msg = settle(id, st.kind % 3);
            } else {
              msg = { type: 'update_fee', channelId: CH, feeratePerKw: st.feerate };
            }
            const next = [...list, msg];
            if (st.side) owner = next;
            else other = next;
            const want = outcome(() => reference(spec, owner, other, dust, ct));
            const got = outcome(() => summarised(spec, owner, other, dust, ct));
            expect(got).toEqual(want);
            if ('threw' in want) {
              // Drop the bad update again (the caller would have rejected it).
              if (st.side) owner = owner.slice(0, -1);
              else other = other.slice(0, -1);
            }
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('is recomputed when an earlier list is used again (branching from a cached state)', () => {
    const spec: CommitmentSpec = { htlcs: [], feeratePerKw: 253, toLocalMsat: 10_000_000n, toRemoteMsat: 0n };
    const a = [addMsg(0n, 1_000_000n)];
    const b = [...a, addMsg(1n, 2_000_000n)];
    const c = [...a, addMsg(1n, 3_000_000n)];
    const ct: ChannelType = 'anchors_zero_fee_htlc_tx';
    expect(reduceSummary(spec, b, [], 354n, ct).toLocalMsat).toBe(7_000_000n);
    expect(reduceSummary(spec, c, [], 354n, ct).toLocalMsat).toBe(6_000_000n);
    expect(reduceSummary(spec, a, [], 354n, ct).toLocalMsat).toBe(9_000_000n);
    expect(reduceSummary(spec, b, [], 354n, ct).offeredMsat).toBe(3_000_000n);
  });
});

describe('findHtlc', () => {
  it('finds the first match by direction and id in long lists (indexed) and short ones', () => {
    for (const n of [5, 100]) {
      const htlcs: SpecHtlc[] = [];
      for (let i = 0; i < n; i++)
        htlcs.push({
          direction: i % 2 === 0 ? 'offered' : 'received',
          id: BigInt(i >> 1),
          amountMsat: BigInt(i),
          paymentHash: HASH,
          cltvExpiry: 1,
        });
      htlcs.push({ direction: 'offered', id: 0n, amountMsat: 999n, paymentHash: HASH, cltvExpiry: 1 });
      const spec: CommitmentSpec = { htlcs, feeratePerKw: 253, toLocalMsat: 0n, toRemoteMsat: 0n };
      for (const h of htlcs)
        expect(findHtlc(spec, h.direction, h.id)).toBe(
          htlcs.find((x) => x.direction === h.direction && x.id === h.id),
        );
      expect(findHtlc(spec, 'offered', 0n)?.amountMsat).toBe(0n);
      expect(findHtlc(spec, 'received', 12345n)).toBeUndefined();
    }
  });
});
