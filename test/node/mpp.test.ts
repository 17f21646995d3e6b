/**
 * Receive-side multi-part collection (BOLT 4 basic_mpp) with an injected clock: parts of one
 * payment hash are held until their amounts reach `total_msat`; an incomplete set fails as a
 * whole with `mpp_timeout` once 60 s passed on the payee's clock; a part whose `total_msat`
 * differs from the set's is refused. Two Farad nodes over TCP on the devnet, SQLite.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Devnet, startDevnet } from '../../src/apps/devnet/index.js';
import type { Route } from '../../src/core/router/types.js';
import { attributeFailure, buildRouteOnion } from '../../src/node/payments/index.js';
import { ManualClock } from '../../src/node/ports/clock.js';
import { fromHex, toHex } from '../../src/protocol/encoding/bytes.js';
import { useFastCrypto } from '../core/channel/harness.js';
import { connectNodes, type HNode, settle, startHNode, stopHNode, waitFor } from './multihop-helpers.js';

let d: Devnet;
let dir: string;
let A: HNode;
let B: HNode;
let AB = '';
const clock = new ManualClock(Date.now());

beforeAll(async () => {
  useFastCrypto();
  d = await startDevnet();
  d.mine(101);
  dir = mkdtempSync(join(tmpdir(), 'farad-mpp-'));
  A = await startHNode(d, 'A', { seedByte: 90, dbPath: join(dir, 'A.db') });
  B = await startHNode(d, 'B', { seedByte: 91, dbPath: join(dir, 'B.db'), clock });
  d.fund(A.wallet.newAddress(), 600_000n);
  d.mine(1);
  await settle(A, B);
  await connectNodes(A, B);
  AB = (await A.cm.openChannel(B.keys.nodeId, 500_000n)).channelId;
  d.mine(1);
  await settle(A, B);
  await waitFor(() => A.cm.channel(AB)?.state === 'Normal' && B.cm.channel(AB)?.state === 'Normal');
}, 60_000);

afterAll(async () => {
  for (const n of [A, B]) if (n) await stopHNode(n).catch(() => undefined);
  await d?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Sends one part of `total` (delivering `amount`) straight to B; returns its session key and route. */
async function sendPart(hash: Uint8Array, secret: Uint8Array, amount: bigint, total: bigint) {
  const policy = { feeBaseMsat: 0, feeProportionalMillionths: 0, cltvExpiryDelta: 0 };
  const route: Route = {
    hops: [
      {
        nodeId: B.keys.nodePublicKey,
        shortChannelId: A.cm.channel(AB)!.shortChannelId!,
        direction: undefined,
        amountMsat: amount,
        relativeExpiry: 30,
        feeMsat: 0n,
        policy,
        capacityMsat: undefined,
      },
    ],
    amountMsat: amount,
    totalAmountMsat: amount,
    feeMsat: 0n,
    totalCltvDelta: 30,
  };
  const sessionKey = A.cm.random(32);
  const onion = buildRouteOnion({
    route,
    height: A.cm.blockHeight,
    sessionKey,
    paymentHash: hash,
    paymentData: { paymentSecret: secret, totalMsat: total },
  });
  await A.cm.command(AB, {
    type: 'CmdAddHtlc',
    amountMsat: onion.amountMsat,
    paymentHash: hash,
    cltvExpiry: onion.cltvExpiry,
    onion: onion.packet,
  });
  await A.cm.command(AB, { type: 'CmdSign' });
  return { route, sessionKey };
}

function failureOf(hash: Uint8Array, nth = 0) {
  return A.failures.filter((f) => toHex(f.paymentHash) === toHex(hash))[nth];
}

describe('multi-part collection at the payee', () => {
  it('holds an incomplete set, then fails every part with mpp_timeout after 60 s (injected clock)', async () => {
    const inv = await B.pay.createInvoice({ amountMsat: 30_000_000n });
    const hash = fromHex(inv.paymentHash);
    const secret = fromHex(inv.paymentSecret);
    const p1 = await sendPart(hash, secret, 10_000_000n, 30_000_000n);
    const p2 = await sendPart(hash, secret, 10_000_000n, 30_000_000n);
    await waitFor(() => B.cm.channel(AB)!.pendingHtlcs === 2, 5000, 'parts committed');
    await settle(A, B);
    clock.advance(59_000);
    await settle(A, B);
    expect(B.cm.channel(AB)!.pendingHtlcs).toBe(2);
    expect(failureOf(hash)).toBeUndefined();
    // A part announcing another total is refused at once.
    const odd = await sendPart(hash, secret, 5_000_000n, 40_000_000n);
    await waitFor(() => failureOf(hash) !== undefined, 5000, 'odd part failed');
    const a0 = attributeFailure(odd.route, odd.sessionKey, failureOf(hash)!.failure);
    expect(a0.failure?.name).toBe('incorrect_or_unknown_payment_details');
    clock.advance(1_000);
    await waitFor(
      () => A.failures.filter((f) => toHex(f.paymentHash) === inv.paymentHash).length === 3,
      5000,
      'timeout',
    );
    for (const [i, p] of [p1, p2].entries()) {
      const a = attributeFailure(p.route, p.sessionKey, failureOf(hash, i + 1)!.failure);
      expect(a.hopIndex).toBe(0);
      expect(a.failure?.name).toBe('mpp_timeout');
    }
    expect(B.pay.invoice(inv.paymentHash)!.status).toBe('open');
  });

  it('claims the set once the parts reach total_msat', async () => {
    const inv = await B.pay.createInvoice({ amountMsat: 20_000_000n });
    const hash = fromHex(inv.paymentHash);
    const secret = fromHex(inv.paymentSecret);
    await sendPart(hash, secret, 8_000_000n, 20_000_000n);
    await waitFor(() => B.cm.channel(AB)!.pendingHtlcs === 1, 5000, 'first part');
    await settle(A, B);
    expect(B.pay.invoice(inv.paymentHash)!.status).toBe('open');
    await sendPart(hash, secret, 12_000_000n, 20_000_000n);
    await waitFor(() => B.pay.invoice(inv.paymentHash)!.status === 'paid', 5000, 'paid');
    const paid = B.pay.invoice(inv.paymentHash)!;
    expect(paid.paidMsat).toBe(20_000_000n);
    expect(paid.claims!.map((c) => c.amountMsat)).toEqual([8_000_000n, 12_000_000n]);
    await waitFor(() => A.cm.channel(AB)!.pendingHtlcs === 0 && B.cm.channel(AB)!.pendingHtlcs === 0);
  });
});
