/**
 * Issue 4 end to end, two `farad node start` processes over TCP on the devnet (A over bitcoind
 * RPC, B over Esplora), for each channel type: open; 1,000 payments (500 each way, random
 * amounts, up to 30 in flight through the REST API); `updatefee` (CLI) and a disconnect +
 * reconnect in the middle of the stream; both nodes' `listpayments` agree payment by payment and
 * the channel balances match the sums exactly; then a cooperative close whose on-chain outputs
 * reach both wallets to the satoshi.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../src/protocol/encoding/bytes.js';
import {
  api,
  channel,
  connect,
  dd,
  E2E,
  type E2ENode,
  expectWallet,
  farad,
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
  sleep,
  stream,
  until,
  walletTotal,
} from './harness.js';

let e: E2E;
let a: E2ENode;
let b: E2ENode;
const seed = runSeed();

beforeAll(async () => {
  console.log(`payments e2e seed ${seed} (FARAD_E2E_SEED=${seed} to replay)`);
  e = await E2E.start();
  [a, b] = await Promise.all([e.node('A'), e.node('B', { esplora: true })]);
  await fund(e, [
    [a, 3_000_000n],
    [b, 3_000_000n],
  ]);
  await connect(a, b);
}, 120_000);

afterAll(async () => {
  await e?.close();
});

describe('two node processes: 1,000 payments, update_fee, reconnect, cooperative close', () => {
  it('the operator commands reject bad input with typed errors', async () => {
    const cases: Array<[string[], string]> = [
      [['updatefee', 'ab'.repeat(32), '1000'], 'CHANNEL_NOT_FOUND'],
      [['updatefee', 'ab'.repeat(32), '12x'], 'INVALID_REQUEST'],
      [['disconnect', `02${'11'.repeat(32)}`], 'PEER_NOT_FOUND'],
      [['holdinvoice', 'zz', '1000'], 'INVALID_REQUEST'],
      [['settleinvoice', '00'.repeat(32)], 'INVOICE_NOT_FOUND'],
      [['cancelinvoice', '00'.repeat(32)], 'INVOICE_NOT_FOUND'],
    ];
    for (const [args, code] of cases) {
      const r = await farad(...args, ...dd(a));
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.error?.code, args.join(' ')).toBe(code);
      expect(r.stdout).toBe('');
    }
    // A hold invoice can be cancelled before it is paid; then it cannot be settled.
    const hash = 'cd'.repeat(32);
    const inv = await ok('holdinvoice', hash, 'any', '--description', 'held', ...dd(a));
    expect(inv).toMatchObject({ payment_hash: hash, amount_msat: null, description: 'held', status: 'open' });
    expect((await ok('cancelinvoice', hash, ...dd(a))).status).toBe('canceled');
    expect(
      (await ok('listinvoices', ...dd(a))).invoices.find((i: Json) => i.payment_hash === hash).status,
    ).toBe('canceled');
  }, 120_000);

  for (const [type, opener] of [
    ['anchors', 'A'],
    ['static_remotekey', 'B'],
  ] as const) {
    it(`${type} channel opened by ${opener}`, async () => {
      const rand = prng(seed + (type === 'anchors' ? 1 : 2));
      const [o, p] = opener === 'A' ? [a, b] : [b, a];
      const CAP = 2_000_000n;
      const PUSH = 1_000_000_000n;
      const [wo0, wp0] = await Promise.all([walletTotal(o), walletTotal(p)]);
      const ch = await openChannel(e, o, p, CAP, { type, pushMsat: PUSH });
      const fundingFee = e.feeOf(ch.fundingTxid);
      await expectWallet(o, wo0 - CAP - fundingFee, 'funding paid by the opener');
      const feerate0 = (await channel(o, ch.id)).feerate_per_kw as number;
      expect(feerate0).toBeGreaterThanOrEqual(253);

      // update_fee is the opener's: the peer's request is refused with a typed error.
      const refused = await farad('updatefee', ch.id, '1000', ...dd(p));
      expect(refused.code).toBe(1);
      expect(refused.error?.code).toBe('CHANNEL_COMMAND_REJECTED');

      // 500 payments each way, interleaved.
      const ab = await makeJobs(a, b, 500, rand);
      const ba = await makeJobs(b, a, 500, rand);
      const jobs: Job[] = [];
      for (let i = 0; i < 500; i++) jobs.push(ab[i]!, ba[i]!);
      const newFeerate = feerate0 * 3;
      let maxInFlight = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          const c = await channel(a, ch.id).catch(() => undefined);
          if (c) maxInFlight = Math.max(maxInFlight, c.pending_htlcs);
          await sleep(50);
        }
      })();
      let reconnected = false;
      const t0 = Date.now();
      const { retries } = await stream(jobs, 30, {
        300: async () => {
          const r = await ok('updatefee', ch.id, String(newFeerate), ...dd(o));
          expect(r).toEqual({ channel_id: ch.id, feerate_per_kw: newFeerate });
        },
        600: async () => {
          // A drops the connection (and stops reconnecting) with HTLCs in flight, then reconnects.
          const r = await ok('disconnect', b.nodeId, ...dd(a));
          expect(r.disconnected).toBe(true);
          await until(async () => (await api(b, 'GET', 'getinfo')).num_peers === 0, 'B sees A gone', 20_000);
          await sleep(200);
          await connect(a, b);
          reconnected = true;
        },
      });
      sampling = false;
      await sampler;
      console.log(
        `${type}: 1,000 payments in ${Date.now() - t0} ms, ${retries} retried attempts, max ${maxInFlight} HTLCs in flight`,
      );
      expect(reconnected).toBe(true);
      expect(maxInFlight).toBeGreaterThan(1);
      // 30 payments at most; a fulfilled HTLC stays in the commitment until the next round removes it.
      expect(maxInFlight).toBeLessThanOrEqual(60);

      // Both sides agree on every payment.
      const [ca, cb] = await settledAgreement(a, b, ch.id);
      const [pa, pb] = await Promise.all([payments(a), payments(b)]);
      const byHash = (ps: Json[]) => new Map<string, Json>(ps.map((x) => [x.payment_hash, x]));
      const [ma, mb] = [byHash(pa), byHash(pb)];
      for (const j of jobs) {
        const sent = (j.from === a ? ma : mb).get(j.hash);
        const recv = (j.to === a ? ma : mb).get(j.hash);
        expect(sent, j.hash).toMatchObject({ direction: 'outgoing', status: 'succeeded', fee_msat: '0' });
        expect(recv, j.hash).toMatchObject({ direction: 'incoming', status: 'succeeded' });
        expect(BigInt(sent.amount_msat)).toBe(j.amount);
        expect(BigInt(recv.amount_msat)).toBe(j.amount);
        expect(recv.preimage).toBe(sent.preimage);
      }
      expect(pa.filter((x) => x.status === 'pending')).toEqual([]);
      expect(pb.filter((x) => x.status === 'pending')).toEqual([]);
      // Balances to the msat.
      const sumAB = ab.reduce((s, j) => s + j.amount, 0n);
      const sumBA = ba.reduce((s, j) => s + j.amount, 0n);
      const aStart = opener === 'A' ? CAP * 1000n - PUSH : PUSH;
      expect(BigInt(ca.local_msat)).toBe(aStart - sumAB + sumBA);
      expect(BigInt(ca.local_msat) + BigInt(ca.remote_msat)).toBe(CAP * 1000n);
      expect(BigInt(cb.local_msat)).toBe(BigInt(ca.remote_msat));
      // update_fee took effect on both sides.
      expect(ca.feerate_per_kw).toBe(newFeerate);
      expect(cb.feerate_per_kw).toBe(newFeerate);

      // Cooperative close (CLI, asked by the non-opener), outputs to the wallets to the satoshi.
      const netP = p === b ? sumAB - sumBA : sumBA - sumAB; // what the non-opener received, net
      const cp = p === b ? cb : ca;
      expect(BigInt(cp.local_msat)).toBe(PUSH + netP);
      const [wo1, wp1] = await Promise.all([walletTotal(o), walletTotal(p)]);
      expect(wp1).toBe(wp0);
      const close = await ok('closechannel', ch.id, ...dd(p));
      expect(close.closing_txid).toMatch(/^[0-9a-f]{64}$/);
      e.d.mine(1);
      const tx = e.tx(close.closing_txid);
      expect(tx.inputs.map((i) => toHex(i.txid))).toEqual([ch.fundingTxid]);
      const closingFee = e.feeOf(close.closing_txid);
      expect(closingFee).toBeGreaterThan(0n);
      expect(closingFee).toBeLessThan(5_000n);
      // The non-opener gets its balance (rounded down to the satoshi), the opener the rest minus the fee.
      const toP = (PUSH + netP) / 1000n;
      const toO = CAP - closingFee - toP;
      expect(tx.outputs.map((x) => x.value).sort()).toEqual([toO, toP].sort());
      expect(BigInt(ca.local_msat) / 1000n + BigInt(cb.local_msat) / 1000n - closingFee).toBeLessThanOrEqual(
        toO + toP,
      );
      await expectWallet(o, wo1 + toO, 'opener after the close');
      await expectWallet(p, wp1 + toP, 'non-opener after the close');
      // Over the whole channel life: the opener paid the funding and closing fees, nothing else.
      expect((await walletTotal(o)) - wo0).toBe(-fundingFee - closingFee - toP);
      expect((await walletTotal(p)) - wp0).toBe(toP);
      e.d.mine(5);
      for (const n of [a, b])
        await until(async () => (await channel(n, ch.id)).state === 'CLOSED', `${n.name}: ${type} CLOSED`);
    }, 300_000);
  }
});
