/**
 * Force closes with HTLCs in flight, three `farad node start` processes on the devnet
 * (`--to-self-delay 10`): A–B anchors (A opens, A force-closes) and C–A static_remotekey (C opens,
 * C force-closes), resolved at the same time. On each channel four HTLCs are in flight, held by
 * hold invoices (CLI `holdinvoice`): each side pays the other twice. The closer's peer is
 * disconnected (CLI `disconnect`), then each payee settles one of its invoices (CLI
 * `settleinvoice`: the preimage is known on its side only) and leaves the other unsettled. The
 * closer publishes its commitment (`closechannel --force`); blocks are mined until both monitors
 * have resolved everything. So every path is taken: local HTLC-success and HTLC-timeout
 * (closer), remote success and timeout claims (peer). Checked: the payments' outcomes on both
 * sides, and every wallet's final balance to the satoshi against the channel balances, the HTLCs
 * and the fees of the transactions each monitor published (from the devnet).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '../../src/protocol/crypto/hash.js';
import { toHex } from '../../src/protocol/encoding/bytes.js';
import {
  api,
  channel,
  connect,
  dd,
  E2E,
  type E2ENode,
  expectWallet,
  fund,
  type Json,
  ok,
  openChannel,
  payments,
  settledAgreement,
  until,
  walletTotal,
} from './harness.js';

let e: E2E;
let a: E2ENode;
let b: E2ENode;
let c: E2ENode;

const CAP = 1_000_000n;
const PUSH = 300_000_000n;

interface Held {
  preimage: string;
  hash: string;
  amountSat: bigint;
  bolt11: string;
  pay: Promise<Json>;
}

/** One channel scenario: `x` (the opener) force-closes against `y`. */
interface Scenario {
  name: string;
  type: 'anchors' | 'static_remotekey';
  x: E2ENode;
  y: E2ENode;
  id: string;
  /** y → x: xSettled (x settles it), xHeld (never settled); x → y: ySettled, yHeld. */
  xSettled: Held;
  xHeld: Held;
  ySettled: Held;
  yHeld: Held;
  /** Channel views just before the close. */
  vx: Json;
  vy: Json;
  closingTxid: string;
}

const scenarios: Scenario[] = [];
/** Wallet totals just before the force closes. */
const w0 = new Map<E2ENode, bigint>();

beforeAll(async () => {
  e = await E2E.start();
  const extra = ['--to-self-delay', '10'];
  [a, b, c] = await Promise.all([
    e.node('A', { extra }),
    e.node('B', { extra, esplora: true }),
    e.node('C', { extra }),
  ]);
  await fund(e, [
    [a, 2_000_000n],
    [b, 500_000n],
    [c, 2_000_000n],
  ]);
  await connect(a, b);
  await connect(c, a);
}, 120_000);

afterAll(async () => {
  await e?.close();
});

/** `payee` issues a hold invoice for a fresh preimage; `payer` pays it (the promise stays pending). */
async function hold(payer: E2ENode, payee: E2ENode, amountSat: bigint): Promise<Held> {
  const pre = randomBytes(32);
  const hash = toHex(sha256(pre));
  const inv = await ok('holdinvoice', hash, String(amountSat * 1000n), ...dd(payee));
  expect(inv).toMatchObject({ payment_hash: hash, status: 'open', amount_msat: String(amountSat * 1000n) });
  return {
    preimage: toHex(pre),
    hash,
    amountSat,
    bolt11: inv.bolt11,
    pay: api(payer, 'POST', 'pay', { bolt11: inv.bolt11 }),
  };
}

async function invoiceStatus(n: E2ENode, hash: string): Promise<string | undefined> {
  return (await api(n, 'GET', 'listinvoices')).invoices.find((i: Json) => i.payment_hash === hash)?.status;
}

async function setUp(name: string, type: Scenario['type'], x: E2ENode, y: E2ENode): Promise<Scenario> {
  const ch = await openChannel(e, x, y, CAP, { type, pushMsat: PUSH });
  // An ordinary payment each way first.
  for (const [p, q, m] of [
    [x, y, 50_000_000n],
    [y, x, 20_000_000n],
  ] as const) {
    const inv = await api(q, 'POST', 'invoice', { amount_msat: m.toString() });
    expect((await api(p, 'POST', 'pay', { bolt11: inv.bolt11 })).status).toBe('succeeded');
  }
  await settledAgreement(x, y, ch.id);
  const xSettled = await hold(y, x, 25_000n);
  const xHeld = await hold(y, x, 12_000n);
  const ySettled = await hold(x, y, 30_000n);
  const yHeld = await hold(x, y, 15_000n);
  for (const [n, h] of [
    [x, xSettled],
    [x, xHeld],
    [y, ySettled],
    [y, yHeld],
  ] as const)
    await until(
      async () => (await invoiceStatus(n, h.hash)) === 'accepted',
      `${name}: ${n.name} holds ${h.amountSat}`,
    );
  await until(
    async () =>
      (await channel(x, ch.id)).pending_htlcs === 4 && (await channel(y, ch.id)).pending_htlcs === 4,
    `${name}: 4 HTLCs committed`,
  );
  // The closer drops the peer; the payees learn... only their own preimage.
  expect((await ok('disconnect', y.nodeId, ...dd(x))).disconnected).toBe(true);
  for (const n of [x, y])
    await until(async () => !(await channel(n, ch.id)).active, `${name}: ${n.name} sees the channel offline`);
  const s1 = await ok('settleinvoice', xSettled.preimage, ...dd(x));
  const s2 = await ok('settleinvoice', ySettled.preimage, ...dd(y));
  expect(s1.status).toBe('paid');
  expect(s2.status).toBe('paid');
  const [vx, vy] = await Promise.all([channel(x, ch.id), channel(y, ch.id)]);
  // Movements: push 300,000 sat, x → y 50,000, y → x 20,000; in flight: x offers 45,000, y 37,000.
  expect(BigInt(vx.local_msat)).toBe((CAP - 300_000n - 50_000n + 20_000n - 45_000n) * 1000n);
  expect(BigInt(vy.local_msat)).toBe((300_000n + 50_000n - 20_000n - 37_000n) * 1000n);
  return { name, type, x, y, id: ch.id, xSettled, xHeld, ySettled, yHeld, vx, vy, closingTxid: '' };
}

async function monitors(n: E2ENode): Promise<Json[]> {
  return (await api(n, 'GET', 'listmonitors')).monitors;
}

/** The confirmed transactions `n`'s monitor published for `id` (kind + txid). */
async function published(n: E2ENode, id: string): Promise<Array<{ txid: string; kind: string }>> {
  const m = (await monitors(n)).find((x) => x.channel_id === id);
  return (m?.published ?? []).filter((p: Json) => e.d.chain.getConfirmedTx(p.txid) !== undefined);
}

describe('force close with HTLCs in flight, separate processes', () => {
  it('HTLCs in flight both ways on two channels; payees settle while disconnected; the openers force-close', async () => {
    scenarios.push(
      ...(await Promise.all([
        setUp('A-B anchors', 'anchors', a, b),
        setUp('C-A static_remotekey', 'static_remotekey', c, a),
      ])),
    );
    for (const n of [a, b, c]) w0.set(n, await walletTotal(n));
    for (const s of scenarios) {
      const r = await ok('closechannel', s.id, '--force', ...dd(s.x));
      expect(r.closing_txid).toMatch(/^[0-9a-f]{64}$/);
      s.closingTxid = r.closing_txid;
    }
    e.d.mine(1);
    for (const s of scenarios) {
      expect(e.d.chain.getConfirmedTx(s.closingTxid), `${s.name}: commitment confirmed`).toBeDefined();
      expect(e.tx(s.closingTxid).inputs.map((i) => toHex(i.txid))).toEqual([s.vx.funding_txid]);
    }
  }, 240_000);

  it('mined until both monitors resolved everything: local and remote, success and timeout', async () => {
    const resolved = async () => {
      for (const s of scenarios)
        for (const n of [s.x, s.y]) {
          const m = (await monitors(n)).find((x) => x.channel_id === s.id);
          if (!m?.resolved) return false;
        }
      return true;
    };
    const blocks = await e.mineUntil(resolved, 'every monitor resolved', 150).catch(async (err) => {
      for (const n of [a, b, c])
        console.log(n.name, JSON.stringify(await monitors(n)), n.proc.log.join('').slice(-3000));
      throw err;
    });
    expect(blocks).toBeGreaterThan(20); // the HTLC expiry (final CLTV 18 + 3), CSV, reorg depth
    for (const s of scenarios) {
      const mx = (await monitors(s.x)).find((m) => m.channel_id === s.id);
      const my = (await monitors(s.y)).find((m) => m.channel_id === s.id);
      expect(mx.close_kind).toBe('local');
      expect(my.close_kind).toBe('remote');
      const kx = (await published(s.x, s.id)).map((p) => p.kind);
      expect(kx).toContain('htlc-success');
      expect(kx).toContain('htlc-timeout');
      // Payment outcomes: settled ones succeeded (preimage learnt on chain), held ones timed out.
      const [px, py] = await Promise.all([
        Promise.all([s.ySettled.pay, s.yHeld.pay]),
        Promise.all([s.xSettled.pay, s.xHeld.pay]),
      ]);
      expect(
        px.map((p) => p.status),
        `${s.name}: x's payments`,
      ).toEqual(['succeeded', 'failed']);
      expect(
        py.map((p) => p.status),
        `${s.name}: y's payments`,
      ).toEqual(['succeeded', 'failed']);
      expect(px[0].preimage).toBe(s.ySettled.preimage);
      expect(py[0].preimage).toBe(s.xSettled.preimage);
      expect(px[1].failure_reason).toMatch(/on chain/);
      expect(py[1].failure_reason).toMatch(/on chain/);
      const inX = (await payments(s.x)).find((p) => p.payment_hash === s.xSettled.hash);
      const inY = (await payments(s.y)).find((p) => p.payment_hash === s.ySettled.hash);
      expect(inX).toMatchObject({ direction: 'incoming', status: 'succeeded' });
      expect(inY).toMatchObject({ direction: 'incoming', status: 'succeeded' });
      for (const n of [s.x, s.y])
        await until(async () => (await channel(n, s.id)).state === 'CLOSED', `${s.name}: ${n.name} CLOSED`);
    }
  }, 240_000);

  it('every wallet ends right to the satoshi (channel balance, HTLCs, minus the fees it paid)', async () => {
    const want = new Map(w0);
    const add = (n: E2ENode, v: bigint) => want.set(n, want.get(n)! + v);
    for (const s of scenarios) {
      const commit = e.tx(s.closingTxid);
      const commitFee = e.feeOf(s.closingTxid);
      const anchors = s.type === 'anchors';
      // x opened: it pays the commitment fee and both anchors.
      const xMain = BigInt(s.vx.local_msat) / 1000n - commitFee - (anchors ? 660n : 0n);
      const yMain = BigInt(s.vy.local_msat) / 1000n;
      const values = commit.outputs.map((o) => o.value);
      expect(values).toContain(xMain);
      expect(values).toContain(yMain);
      expect(values.filter((v) => v === 330n).length).toBe(anchors ? 2 : 0);
      const fees = async (n: E2ENode) => {
        let f = 0n;
        for (const p of await published(n, s.id)) if (p.kind !== 'local-commitment') f += e.feeOf(p.txid);
        return f;
      };
      const pubX = await published(s.x, s.id);
      const cpfp = pubX.filter((p) => p.kind === 'cpfp').length;
      if (!anchors) expect(cpfp).toBe(0);
      // x gets its main output, yHeld back (timed out), xSettled (claimed) and its anchor through CPFP.
      const xGets = xMain + s.yHeld.amountSat + s.xSettled.amountSat + 330n * BigInt(cpfp);
      const yGets = yMain + s.xHeld.amountSat + s.ySettled.amountSat;
      add(s.x, xGets - (await fees(s.x)));
      add(s.y, yGets - (await fees(s.y)));
    }
    for (const n of [a, b, c]) await expectWallet(n, want.get(n)!, `${n.name}'s wallet after both closes`);
  }, 240_000);
});
