/**
 * Crash safety across processes: two `farad node start` processes with an anchors channel; a
 * stream of payments both ways (10 in flight, REST API) runs while one of the nodes — chosen by a
 * seeded PRNG, like the moment — is SIGKILLed. It restarts on the same data dir, the channel
 * reestablishes (no force close), every in-flight payment settles one way or the other, and:
 * every payment the payer reports as succeeded was received by the payee and vice versa (same
 * preimage), none stays pending, and the channel balances on both sides equal the sums of the
 * succeeded payments exactly. Three rounds; then a cooperative close whose outputs reach both
 * wallets to the satoshi. The seed is logged (`FARAD_E2E_SEED=<seed>` replays the schedule).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  channel,
  connect,
  dd,
  E2E,
  type E2ENode,
  expectWallet,
  fund,
  type Job,
  type Json,
  makeJobs,
  ok,
  openChannel,
  payments,
  prng,
  runSeed,
  settledAgreement,
  until,
  walletTotal,
} from './harness.js';

let e: E2E;
let a: E2ENode;
let b: E2ENode;
const seed = runSeed();
const rand = prng(seed);
const CAP = 2_000_000n;
const PUSH = 1_000_000_000n;
let id: string;
let fundingTxid: string;
let wa0: bigint;
let wb0: bigint;
/** A's balance implied by every succeeded payment so far. */
let aLocal = CAP * 1000n - PUSH;

beforeAll(async () => {
  console.log(`sigkill e2e seed ${seed} (FARAD_E2E_SEED=${seed} to replay)`);
  e = await E2E.start();
  [a, b] = await Promise.all([e.node('A'), e.node('B', { esplora: true })]);
  await fund(e, [
    [a, 3_000_000n],
    [b, 1_000_000n],
  ]);
  await connect(a, b);
  [wa0, wb0] = await Promise.all([walletTotal(a), walletTotal(b)]);
  ({ id, fundingTxid } = await openChannel(e, a, b, CAP, { type: 'anchors', pushMsat: PUSH }));
}, 120_000);

afterAll(async () => {
  await e?.close();
});

/**
 * Pays jobs with `concurrency` workers until `stopped()`; every outcome (even an error) is
 * ignored. `progress.started` counts the jobs handed to a worker so far.
 */
function run(
  jobs: Job[],
  concurrency: number,
  stopped: () => boolean,
  progress: { started: number },
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (!stopped()) {
      const j = jobs[next++];
      progress.started = Math.min(next, jobs.length);
      if (!j) return;
      await api(j.from, 'POST', 'pay', { bolt11: j.bolt11 }).catch(() => undefined);
    }
  };
  return Promise.all(Array.from({ length: concurrency }, worker)).then(() => undefined);
}

describe('SIGKILL at random points during a payment stream, then restart', () => {
  for (let round = 1; round <= 3; round++) {
    it(`round ${round}: balances consistent on both sides, no payment lost`, async () => {
      const victim = rand() < 0.5 ? a : b;
      // The kill point is a seeded number of started payments (not a time), so it always falls
      // inside the stream whatever the machine's load.
      const killAt = 20 + Math.floor(rand() * 230);
      const ab = await makeJobs(a, b, 150, rand);
      const ba = await makeJobs(b, a, 150, rand);
      const jobs: Job[] = [];
      for (let i = 0; i < 150; i++) jobs.push(ab[i]!, ba[i]!);
      let killed = false;
      const progress = { started: 0 };
      const streaming = run(jobs, 10, () => killed, progress);
      await until(async () => progress.started >= killAt, 'the stream to reach the kill point', 120_000);
      const inFlight = (await channel(victim === a ? b : a, id)).pending_htlcs;
      await e.kill(victim);
      killed = true;
      console.log(
        `round ${round}: SIGKILL ${victim.name} after ${killAt} started payments (${inFlight} HTLCs in flight)`,
      );
      const survivor = victim === a ? b : a;
      await until(
        async () => !(await channel(survivor, id)).active,
        `${survivor.name} sees the channel offline`,
      );
      await e.restart(victim);
      await until(
        async () => (await channel(a, id)).active && (await channel(b, id)).active,
        'channel reestablished',
      );
      await streaming;
      // Every payment settles one way or the other.
      const [pa, pb] = await until(
        async () => {
          const ps = await Promise.all([payments(a), payments(b)]);
          return ps.every((l) => l.every((x: Json) => x.status !== 'pending')) && ps;
        },
        'no payment pending',
        90_000,
      );
      const [ca, cb] = await settledAgreement(a, b, id, 90_000);
      expect(ca.state).toBe('NORMAL');
      expect(cb.state).toBe('NORMAL');
      const rec = (ps: Json[], hash: string, dir: string) =>
        ps.find((x) => x.payment_hash === hash && x.direction === dir);
      let ok = 0;
      for (const j of jobs) {
        const [payerList, payeeList] = j.from === a ? [pa, pb] : [pb, pa];
        const sent = rec(payerList, j.hash, 'outgoing');
        const recv = rec(payeeList, j.hash, 'incoming');
        const sentOk = sent?.status === 'succeeded';
        const recvOk = recv?.status === 'succeeded';
        expect(
          recvOk,
          `payment ${j.hash} (${j.from.name} → ${j.to.name}): payer ${sent?.status}, payee ${recv?.status}`,
        ).toBe(sentOk);
        if (sentOk) {
          ok++;
          expect(recv.preimage).toBe(sent.preimage);
          expect(BigInt(sent.amount_msat)).toBe(j.amount);
          expect(BigInt(recv.amount_msat)).toBe(j.amount);
          aLocal += j.from === a ? -j.amount : j.amount;
        }
      }
      console.log(`round ${round}: ${ok} of ${jobs.length} payments succeeded`);
      expect(ok).toBeGreaterThan(0);
      expect(ok, 'the kill came before the end of the stream').toBeLessThan(jobs.length);
      expect(BigInt(ca.local_msat)).toBe(aLocal);
      expect(BigInt(cb.remote_msat)).toBe(aLocal);
      expect(BigInt(cb.local_msat)).toBe(CAP * 1000n - aLocal);
    }, 180_000);
  }

  it('cooperative close after the crashes: both wallets right to the satoshi', async () => {
    const [ca, cb] = await settledAgreement(a, b, id);
    const close = await ok('closechannel', id, ...dd(a));
    e.d.mine(1);
    const fee = e.feeOf(close.closing_txid);
    const toB = BigInt(cb.local_msat) / 1000n;
    const toA = CAP - fee - toB;
    expect(BigInt(ca.local_msat) / 1000n - toA).toBeLessThan(5_000n); // the fee, plus at most 1 sat of rounding
    expect(
      e
        .tx(close.closing_txid)
        .outputs.map((o) => o.value)
        .sort(),
    ).toEqual([toA, toB].sort());
    const fundingFee = e.feeOf(fundingTxid);
    await expectWallet(a, wa0 - CAP - fundingFee + toA, 'A after the close');
    await expectWallet(b, wb0 + toB, 'B after the close');
    expect(toB).toBe((CAP * 1000n - aLocal) / 1000n); // B's balance from the payment sums
  }, 180_000);
});
