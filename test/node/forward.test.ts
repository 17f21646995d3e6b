/**
 * HTLC forwarding in the node runtime (three Farad nodes in-process over TCP, SQLite, the devnet
 * with BOLT 5 monitors): A pays C through B (A–B and B–C public, a second private B–C channel).
 *
 * Checked: failures that carry B's `channel_update` (`fee_insufficient`,
 * `incorrect_cltv_expiry`) when A's graph has a stale policy — A applies the update and the
 * retry succeeds; the interceptor holding forwards and resuming them (also over another channel
 * for an scid B does not know, like a JIT channel), failing them and settling them with a
 * preimage; a downstream `update_fail_malformed_htlc` turned into an `invalid_onion_hmac`
 * failure from B that A decrypts (with the hash of the onion B sent); B restarted from SQLite
 * with a forward in flight (the fulfill still reaches A); and C claiming on chain with the
 * preimage while B never got its fulfill — B learns it from the chain and fulfills A off chain,
 * long before the A–B HTLC's deadline.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Devnet, startDevnet } from '../../src/apps/devnet/index.js';
import type { NetworkGraph } from '../../src/core/gossip/graph.js';
import { forwardingFeeMsat } from '../../src/core/router/find-route.js';
import type { Route } from '../../src/core/router/types.js';
import type { InterceptDecision, InterceptedForward } from '../../src/node/forwarding/index.js';
import { attributeFailure, buildRouteOnion } from '../../src/node/payments/index.js';
import { sha256 } from '../../src/protocol/crypto/hash.js';
import { secp } from '../../src/protocol/crypto/secp256k1.js';
import { compare, fromHex, toHex } from '../../src/protocol/encoding/bytes.js';
import { decodeFailureMessage, peelOnion } from '../../src/protocol/onion/index.js';
import { useFastCrypto } from '../core/channel/harness.js';
import {
  addToGraph,
  connectNodes,
  type HNode,
  mineUntil,
  newGraph,
  restartHNode,
  settle,
  startHNode,
  stopHNode,
  waitFor,
} from './multihop-helpers.js';

let d: Devnet;
let dir: string;
const running: HNode[] = [];
let A: HNode;
let B: HNode;
let C: HNode;
let gA: NetworkGraph;
let AB = '';
let BC = '';
let BC2 = '';

beforeAll(async () => {
  useFastCrypto();
  d = await startDevnet();
  d.mine(101);
  dir = mkdtempSync(join(tmpdir(), 'farad-forward-'));
  gA = newGraph();
  A = await startHNode(d, 'A', { seedByte: 80, dbPath: join(dir, 'A.db'), graph: gA });
  B = await startHNode(d, 'B', { seedByte: 81, dbPath: join(dir, 'B.db') });
  C = await startHNode(d, 'C', { seedByte: 82, dbPath: join(dir, 'C.db') });
  running.push(A, B, C);
  d.fund(A.wallet.newAddress(), 1_200_000n);
  d.fund(B.wallet.newAddress(), 1_100_000n);
  d.fund(B.wallet.newAddress(), 600_000n);
  d.mine(1);
  await settle(A, B, C);
  await connectNodes(A, B);
  await connectNodes(B, C);
  AB = (await A.cm.openChannel(B.keys.nodeId, 1_000_000n, { announce: true })).channelId;
  BC = (await B.cm.openChannel(C.keys.nodeId, 1_000_000n, { announce: true })).channelId;
  BC2 = (await B.cm.openChannel(C.keys.nodeId, 500_000n)).channelId;
  d.mine(1);
  await settle(A, B, C);
  await waitFor(
    () =>
      [A, B, C].every((n) =>
        n.cm.listChannels().every((c) => c.state === 'Normal' && c.shortChannelId !== undefined),
      ),
    15_000,
    'channels ready',
  );
  addToGraph(gA, A, B, AB);
  addToGraph(gA, B, C, BC);
}, 120_000);

afterAll(async () => {
  for (const n of running) await stopHNode(n).catch(() => undefined);
  await d?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** B's direction on B–C in A's graph. */
function bDir(): 0 | 1 {
  return compare(B.keys.nodePublicKey, C.keys.nodePublicKey) < 0 ? 0 : 1;
}

function stalePolicy(p: { feeBaseMsat: number; cltvExpiryDelta: number }): void {
  gA.setPolicy(B.cm.channel(BC)!.shortChannelId!, bDir(), {
    timestamp: 2,
    cltvExpiryDelta: p.cltvExpiryDelta,
    htlcMinimumMsat: 1n,
    htlcMaximumMsat: 1_000_000_000n,
    feeBaseMsat: p.feeBaseMsat,
    feeProportionalMillionths: 1,
  });
}

describe('forwarding through B', () => {
  it('fee_insufficient and incorrect_cltv_expiry carry B’s channel_update; A applies it and retries', async () => {
    for (const [stale, code] of [
      [{ feeBaseMsat: 0, cltvExpiryDelta: 80 }, 'fee_insufficient'],
      [{ feeBaseMsat: 1000, cltvExpiryDelta: 40 }, 'incorrect_cltv_expiry'],
    ] as const) {
      stalePolicy(stale);
      const inv = await C.pay.createInvoice({ amountMsat: 10_000_000n });
      const r = await A.pay.pay(inv.bolt11);
      expect(r.status).toBe('succeeded');
      expect(r.parts!.map((p) => p.failureReason)).toEqual([code, undefined]);
      expect(r.parts![0]!.erringNode).toBe(B.keys.nodeId);
      expect(r.feeMsat).toBe(forwardingFeeMsat(B.fwd.channelPolicy(BC), 10_000_000n));
      // The update in the failure is B's current policy: A's graph has it now.
      const pol = gA.getChannel(B.cm.channel(BC)!.shortChannelId!)!.policies[bDir()]!;
      expect(pol.feeBaseMsat).toBe(1000);
      expect(pol.cltvExpiryDelta).toBe(80);
      expect(pol.timestamp).toBeGreaterThan(2);
      const f = B.fwd.listForwards().filter((x) => x.paymentHash === inv.paymentHash);
      expect(f.map((x) => x.status)).toEqual(['failed', 'settled']);
      expect(f[0]!.failureReason).toBe(code);
    }
  });

  it('the interceptor holds forwards, then resumes, fails or settles them', async () => {
    const seen: InterceptedForward[] = [];
    B.fwd.setInterceptor((f): InterceptDecision => {
      seen.push(f);
      return 'hold';
    });
    try {
      // Resume.
      const i1 = await C.pay.createInvoice({ amountMsat: 5_000_000n });
      const p1 = A.pay.pay(i1.bolt11);
      await waitFor(() => B.fwd.heldForwards().length === 1, 5000, 'held');
      const h1 = B.fwd.heldForwards()[0]!;
      expect(h1.paymentHash).toBe(i1.paymentHash);
      expect(h1.outChannelId).toBe(BC);
      expect(h1.outAmountMsat).toBe(5_000_000n);
      expect(h1.nextOnion.length).toBe(1366);
      await settle(A, B, C);
      expect(A.pay.payment(i1.paymentHash)!.status).toBe('pending');
      await h1.resume();
      expect((await p1).status).toBe('succeeded');
      // Fail: A has no other route, the payment fails with B's failure. (Not a liquidity
      // failure: A's scorer must not learn that B–C is short of funds.)
      const i2 = await C.pay.createInvoice({ amountMsat: 6_000_000n });
      const p2 = A.pay.pay(i2.bolt11);
      await waitFor(() => B.fwd.heldForwards().length === 1, 5000, 'held');
      await B.fwd.fail(B.fwd.heldForwards()[0]!.id, 'permanent_channel_failure');
      const r2 = await p2;
      expect(r2.status).toBe('failed');
      expect(r2.failureReason).toBe('permanent_channel_failure');
      expect(C.pay.invoice(i2.paymentHash)!.status).toBe('open');
      // Settle with a preimage the interceptor knows: C never sees the HTLC.
      const i3 = await C.pay.createInvoice({ amountMsat: 7_000_000n });
      const p3 = A.pay.pay(i3.bolt11);
      await waitFor(() => B.fwd.heldForwards().length === 1, 5000, 'held');
      const h3 = B.fwd.heldForwards()[0]!;
      await expect(h3.settle(new Uint8Array(32))).rejects.toMatchObject({ code: 'PREIMAGE_MISMATCH' });
      await h3.settle(fromHex(i3.preimage));
      const r3 = await p3;
      expect(r3.status).toBe('succeeded');
      expect(r3.preimage).toBe(i3.preimage);
      expect(C.pay.invoice(i3.paymentHash)!.status).toBe('open');
      const f3 = B.fwd.forwardInfo(h3.id)!;
      expect(f3.status).toBe('settled');
      expect(f3.feeMsat).toBe(f3.inAmountMsat);
    } finally {
      B.fwd.setInterceptor(undefined);
    }
  });

  it('an scid B does not know (a JIT channel) is held and resumed over a given channel', async () => {
    const fake = (900_000n << 40n) | 7n;
    // The hint is free, so A's router takes it rather than the public B–C.
    const inv = await C.pay.createInvoice({
      amountMsat: 8_000_000n,
      routeHints: [
        [
          {
            pubkey: B.keys.nodePublicKey,
            shortChannelId: fake,
            feeBaseMsat: 0,
            feeProportionalMillionths: 0,
            cltvExpiryDelta: 80,
          },
        ],
      ],
    });
    B.fwd.setInterceptor((f) => (f.outChannelId === undefined ? 'hold' : 'forward'));
    try {
      const before = B.cm.channel(BC2)!.localMsat;
      const p = A.pay.pay(inv.bolt11);
      await waitFor(() => B.fwd.heldForwards().length === 1, 5000, 'held');
      const h = B.fwd.heldForwards()[0]!;
      expect(h.requestedScid).toBe(fake);
      expect(h.outChannelId).toBeUndefined();
      // Resume over BC2 with the onion's amount (the free hint paid no fee).
      await h.resume({ channelId: BC2, amountMsat: h.outAmountMsat });
      expect((await p).status).toBe('succeeded');
      await settle(A, B, C);
      expect(B.cm.channel(BC2)!.localMsat).toBe(before - 8_000_000n);
      expect(B.fwd.forwardInfo(h.id)!.outChannelId).toBe(BC2);
    } finally {
      B.fwd.setInterceptor(undefined);
    }
    // Without an interceptor, the unknown scid fails with unknown_next_peer.
    const inv2 = await C.pay.createInvoice({
      amountMsat: 8_000_000n,
      routeHints: [
        [
          {
            pubkey: B.keys.nodePublicKey,
            shortChannelId: fake,
            feeBaseMsat: 0,
            feeProportionalMillionths: 0,
            cltvExpiryDelta: 80,
          },
        ],
      ],
    });
    const r2 = await A.pay.pay(inv2.bolt11);
    expect(r2.status).toBe('succeeded'); // retried over the public channel
    expect(r2.parts![0]!.failureReason).toBe('unknown_next_peer');
  });

  it('a downstream update_fail_malformed_htlc comes back as invalid_onion_hmac from B', async () => {
    const height = A.cm.blockHeight;
    const amount = 3_000_000n;
    const pol = B.fwd.channelPolicy(BC);
    const fee = forwardingFeeMsat(pol, amount);
    // C's layer is encrypted to a key that is not C's: C cannot check its HMAC.
    const wrong = secp().publicKey(new Uint8Array(32).fill(9));
    const policy = { feeBaseMsat: 0, feeProportionalMillionths: 0, cltvExpiryDelta: 0 };
    const route: Route = {
      hops: [
        {
          nodeId: B.keys.nodePublicKey,
          shortChannelId: A.cm.channel(AB)!.shortChannelId!,
          direction: undefined,
          amountMsat: amount + fee,
          relativeExpiry: 21 + pol.cltvExpiryDelta,
          feeMsat: 0n,
          policy,
          capacityMsat: undefined,
        },
        {
          nodeId: wrong,
          shortChannelId: B.cm.channel(BC)!.shortChannelId!,
          direction: undefined,
          amountMsat: amount,
          relativeExpiry: 21,
          feeMsat: fee,
          policy,
          capacityMsat: undefined,
        },
      ],
      amountMsat: amount,
      totalAmountMsat: amount + fee,
      feeMsat: fee,
      totalCltvDelta: 21 + pol.cltvExpiryDelta,
    };
    const hash = sha256(new Uint8Array(32).fill(5));
    const sessionKey = new Uint8Array(32).fill(3);
    const onion = buildRouteOnion({ route, height, sessionKey, paymentHash: hash });
    await A.cm.command(AB, {
      type: 'CmdAddHtlc',
      amountMsat: onion.amountMsat,
      paymentHash: hash,
      cltvExpiry: onion.cltvExpiry,
      onion: onion.packet,
    });
    await A.cm.command(AB, { type: 'CmdSign' });
    await waitFor(() => A.failures.some((f) => toHex(f.paymentHash) === toHex(hash)), 5000, 'failure');
    const got = A.failures.find((f) => toHex(f.paymentHash) === toHex(hash))!;
    expect(got.failure.kind).toBe('remote');
    const a = attributeFailure(route, sessionKey, got.failure);
    expect(a.hopIndex).toBe(0);
    expect(a.failure?.name).toBe('invalid_onion_hmac');
    // The sha256_of_onion is that of the packet B sent to C.
    const next = peelOnion(onion.packet, B.keys.nodeSecretKey, hash).nextPacket!;
    const f = a.failure as { sha256OfOnion: Uint8Array };
    expect(toHex(f.sha256OfOnion)).toBe(toHex(sha256(next)));
    expect(decodeFailureMessage(new Uint8Array([0xc0, 0x05, ...f.sha256OfOnion])).name).toBe(
      'invalid_onion_hmac',
    );
    const fb = B.fwd.listForwards().find((x) => x.paymentHash === toHex(hash))!;
    expect(fb.status).toBe('failed');
    expect(fb.failureReason).toBe(`malformed ${0xc005}`);
  });

  it('B restarts from SQLite with a forward in flight; the fulfill still reaches A', async () => {
    const pre = new Uint8Array(32).fill(0x44);
    const inv = await C.pay.createHoldInvoice(sha256(pre), 9_000_000n);
    const p = A.pay.pay(inv.bolt11);
    await waitFor(() => C.pay.invoice(inv.paymentHash)!.status === 'accepted', 5000, 'accepted');
    await settle(A, B, C);
    running.splice(running.indexOf(B), 1);
    B = await restartHNode(d, B);
    running.push(B);
    const f = B.fwd.listForwards().find((x) => x.paymentHash === inv.paymentHash)!;
    expect(f.status).toBe('offered');
    expect(B.fwd.ownsOutgoing(f.outChannelId!, f.outHtlcId!)).toBe(true);
    await connectNodes(A, B);
    await connectNodes(B, C);
    await waitFor(() => [AB, BC].every((c) => B.cm.channel(c)!.state === 'Normal'), 10_000, 'reestablished');
    await C.pay.settleInvoice(pre);
    const r = await p;
    expect(r.status).toBe('succeeded');
    await waitFor(() => B.fwd.forwardInfo(f.id)!.status === 'settled');
    expect(B.fwd.forwardInfo(f.id)!.preimage).toBe(toHex(pre));
  });

  it('C claims on chain while B never got the fulfill: B learns the preimage there and fulfills A in time', async () => {
    const pre = new Uint8Array(32).fill(0x55);
    const inv = await C.pay.createHoldInvoice(sha256(pre), 12_000_000n);
    const p = A.pay.pay(inv.bolt11);
    await waitFor(() => C.pay.invoice(inv.paymentHash)!.status === 'accepted', 5000, 'accepted');
    await settle(A, B, C);
    const fb = B.fwd.listForwards().find((x) => x.paymentHash === inv.paymentHash)!;
    const abBefore = B.cm.channel(AB)!.localMsat;
    // C's fulfill never reaches B.
    C.drop = true;
    await C.pay.settleInvoice(pre);
    let doneAt = 0;
    void p.then(() => {
      doneAt = d.chain.height;
    });
    await mineUntil(d, [A, B, C], () => A.pay.payment(inv.paymentHash)!.status !== 'pending', 40);
    const r = await p;
    expect(r.status).toBe('succeeded');
    expect(r.preimage).toBe(toHex(pre));
    doneAt ||= d.chain.height;
    // C went on chain before its incoming HTLC expired; B fulfilled A long before A–B's deadline.
    expect(doneAt).toBeLessThan(fb.outCltvExpiry);
    expect(doneAt).toBeLessThan(fb.inCltvExpiry - 60);
    const after = B.fwd.forwardInfo(fb.id)!;
    expect(after.status).toBe('settled');
    expect(after.outResolvedOnChain).toBe('fulfilled');
    expect(A.cm.channel(AB)!.state).toBe('Normal');
    await settle(A, B, C);
    await waitFor(() => B.cm.channel(AB)!.pendingHtlcs === 0);
    expect(B.cm.channel(AB)!.localMsat).toBe(abBefore + 12_000_000n + fb.feeMsat);
    expect(B.cm.channel(BC)!.state).not.toBe('Normal');
  });
});
