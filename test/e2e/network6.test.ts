/**
 * Issue 6, "Tests that must exist", over processes: six `farad node start` processes on the
 * devnet (gossip flushed every 200 ms, `--to-self-delay 10`), public and private channels of
 * both types (sat, opener first):
 *
 *   A ─(private, anchors, 800k)─ B ─(static_remotekey, 800k, push 400k)─ C
 *   B ─(anchors, 800k, push 400k)─ F
 *   D ─(anchors, 800k, push 250k)─ C        D ─(static_remotekey, 800k, push 400k)─ F
 *   D ─(static_remotekey, 800k)─ E
 *
 * A is a private node (only an unannounced channel). B, C, D, F forward with their own policies;
 * F is expensive, so A's routes to E go A–B–C–D–E (4 hops) unless C cannot forward.
 *
 * Scenarios: (1) A pays E over 4 hops, the fee of every hop checked against the policies and
 * each forwarder's `listforwards`; (2) C's outgoing balance to D is too small: the attempt fails
 * at C and the payment is retried around C (via F); (3) D pays B more than any channel's
 * capacity with MPP over D–C–B and D–F–B; (4) D pays the private node A through its invoice's
 * route hint; (5) two hold invoices of E, one settled (A sees succeeded) and one cancelled (A sees
 * failed); (7) a cooperatively closed channel (D–F) leaves every node's graph; (6) E is SIGKILLed
 * while holding an HTLC of A: blocks are mined; D goes on chain and every upstream forward is
 * failed back before its incoming expiry, the payment fails, no HTLC is left pending and nobody
 * ends lower than before minus its own on-chain fees.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '../../src/protocol/crypto/hash.js';
import { toHex } from '../../src/protocol/encoding/bytes.js';
import {
  api,
  channel,
  channels,
  connect,
  dd,
  E2E,
  type E2ENode,
  fund,
  type Json,
  ok,
  payments,
  synced,
  until,
  walletTotal,
} from './harness.js';

let e: E2E;
let a: E2ENode;
let b: E2ENode;
let c: E2ENode;
let d: E2ENode;
let ee: E2ENode;
let f: E2ENode;
/** Channel ids. */
let ab: string;
let bc: string;
let bf: string;
let dc: string;
let df: string;
let de: string;

const CAP = 800_000n;
const GOSSIP = ['--gossip-flush-ms', '200', '--to-self-delay', '10'];
interface Policy {
  base: number;
  ppm: number;
  cltv: number;
}
const POLICY_B: Policy = { base: 1000, ppm: 100, cltv: 40 };
const POLICY_C: Policy = { base: 2000, ppm: 500, cltv: 50 };
const POLICY_D: Policy = { base: 3000, ppm: 300, cltv: 30 };
const POLICY_F: Policy = { base: 50_000, ppm: 2000, cltv: 60 };
const MAX_FEE = '20000000';

/** BOLT 7: fee = fee_base_msat + amount_to_forward * fee_proportional_millionths / 1000000. */
const feeOf = (p: Policy, out: bigint) => BigInt(p.base) + (out * BigInt(p.ppm)) / 1_000_000n;

const pol = (p: Policy) => [
  '--fee-base-msat',
  String(p.base),
  '--fee-ppm',
  String(p.ppm),
  '--cltv-delta',
  String(p.cltv),
];

async function waitNormal(n: E2ENode, id: string): Promise<Json> {
  return until(async () => {
    const ch = (await channels(n)).find((x) => x.channel_id === id);
    return ch?.state === 'NORMAL' && ch.active ? ch : undefined;
  }, `${n.name}: channel ${id} NORMAL`);
}

async function forwards(n: E2ENode, hash: string): Promise<Json[]> {
  return ((await api(n, 'GET', 'listforwards')).forwards as Json[]).filter((x) => x.payment_hash === hash);
}

async function graphScids(n: E2ENode): Promise<string[]> {
  return ((await api(n, 'GET', 'describegraph')).channels as Json[]).map((x) => x.short_channel_id);
}

async function scidOf(n: E2ENode, id: string): Promise<string> {
  return (await channel(n, id)).short_channel_id;
}

async function invoiceStatus(n: E2ENode, hash: string): Promise<string | undefined> {
  return ((await api(n, 'GET', 'listinvoices')).invoices as Json[]).find((i) => i.payment_hash === hash)
    ?.status;
}

/** Every channel of `nodes` not CLOSED has no HTLC in flight and both sides agree. */
async function quiet(nodes: E2ENode[], what: string): Promise<void> {
  await until(
    async () => {
      for (const n of nodes)
        for (const ch of await channels(n)) if (ch.state === 'NORMAL' && ch.pending_htlcs !== 0) return false;
      return true;
    },
    what,
    90_000,
  );
}

beforeAll(async () => {
  e = await E2E.start();
  [a, b, c, d, ee, f] = await Promise.all([
    e.node('A', { extra: GOSSIP }),
    e.node('B', { extra: [...GOSSIP, ...pol(POLICY_B)] }),
    e.node('C', { extra: [...GOSSIP, ...pol(POLICY_C)] }),
    e.node('D', { extra: [...GOSSIP, ...pol(POLICY_D)] }),
    e.node('E', { extra: GOSSIP }),
    e.node('F', { extra: [...GOSSIP, ...pol(POLICY_F)] }),
  ]);
  await fund(e, [
    [a, 1_500_000n],
    [b, 2_500_000n],
    [d, 3_500_000n],
  ]);
  await connect(a, b);
  await connect(b, c);
  await connect(b, f);
  await connect(d, c);
  await connect(d, f);
  await connect(d, ee);
  const open = async (
    x: E2ENode,
    y: E2ENode,
    type: 'anchors' | 'static_remotekey',
    push: bigint,
    priv = false,
  ): Promise<string> =>
    (
      await api(x, 'POST', 'openchannel', {
        node_id: y.nodeId,
        amount_sat: CAP.toString(),
        channel_type: type,
        ...(push > 0n ? { push_msat: (push * 1000n).toString() } : {}),
        ...(priv ? { private: true } : {}),
      })
    ).channel_id;
  ab = await open(a, b, 'anchors', 0n, true);
  bc = await open(b, c, 'static_remotekey', 400_000n);
  bf = await open(b, f, 'anchors', 400_000n);
  dc = await open(d, c, 'anchors', 250_000n);
  df = await open(d, f, 'static_remotekey', 400_000n);
  de = await open(d, ee, 'static_remotekey', 0n);
  e.d.mine(6); // BOLT 7: announced after 6 confirmations
  for (const [x, y, id] of [
    [a, b, ab],
    [b, c, bc],
    [b, f, bf],
    [d, c, dc],
    [d, f, df],
    [d, ee, de],
  ] as const) {
    await waitNormal(x, id);
    await waitNormal(y, id);
  }
  await synced(e, [a, b, c, d, ee, f]);
  // Every node learns the 5 public channels with both directions' policies; A's stays private.
  for (const n of [a, b, c, d, ee, f])
    await until(
      async () => {
        const g = await api(n, 'GET', 'describegraph');
        return (g.channels as Json[]).filter((x) => x.policies[0] && x.policies[1]).length === 5;
      },
      `${n.name}'s graph has the 5 public channels`,
      90_000,
    );
}, 150_000);

afterAll(async () => {
  await e?.close();
});

describe('six node processes: forwarding, retries, MPP, route hints, hold invoices, on-chain resolution, gossip', () => {
  it('(1) A pays E over 4 hops; every hop keeps the fee of its policy', async () => {
    const AMOUNT = 100_000_000n;
    const scidAB = await scidOf(a, ab);
    expect((await graphScids(a)).length).toBe(5);
    expect(await graphScids(a)).not.toContain(scidAB); // private
    const route = (await ok('queryroutes', ee.nodeId, AMOUNT.toString(), ...dd(a))).route;
    expect((route.hops as Json[]).map((h) => h.node_id)).toEqual([b.nodeId, c.nodeId, d.nodeId, ee.nodeId]);
    const feeD = feeOf(POLICY_D, AMOUNT);
    const feeC = feeOf(POLICY_C, AMOUNT + feeD);
    const feeB = feeOf(POLICY_B, AMOUNT + feeD + feeC);
    expect((route.hops as Json[]).map((h) => BigInt(h.fee_msat))).toEqual([0n, feeB, feeC, feeD]);
    expect(BigInt(route.fee_msat)).toBe(feeB + feeC + feeD);

    const inv = await ok('invoice', AMOUNT.toString(), '--description', 'four hops', ...dd(ee));
    const paid = await ok('pay', inv.bolt11, '--max-fee-msat', MAX_FEE, ...dd(a));
    expect(paid.status).toBe('succeeded');
    expect(BigInt(paid.amount_msat)).toBe(AMOUNT);
    expect(BigInt(paid.fee_msat)).toBe(feeB + feeC + feeD);
    await until(
      async () =>
        (await payments(ee)).some((p) => p.payment_hash === inv.payment_hash && p.status === 'succeeded'),
      'E received',
    );
    const expected: Array<[E2ENode, string, string, bigint, bigint]> = [
      [b, ab, bc, AMOUNT + feeD + feeC, feeB],
      [c, bc, dc, AMOUNT + feeD, feeC],
      [d, dc, de, AMOUNT, feeD],
    ];
    for (const [n, inCh, outCh, out, fee] of expected) {
      const [fw] = await until(async () => {
        const x = await forwards(n, inv.payment_hash);
        return x.length === 1 && x[0]!.status === 'settled' ? x : undefined;
      }, `${n.name}'s forward settled`);
      expect(fw).toMatchObject({ in_channel_id: inCh, out_channel_id: outCh, status: 'settled' });
      expect(BigInt(fw!.out_amount_msat)).toBe(out);
      expect(BigInt(fw!.fee_msat)).toBe(fee);
      expect(BigInt(fw!.in_amount_msat)).toBe(out + fee);
      const lf = await ok('listforwards', ...dd(n));
      expect(BigInt(lf.fees_earned_msat)).toBe(fee);
    }
    expect(await forwards(f, inv.payment_hash)).toEqual([]);
    await quiet([a, b, c, d, ee], 'no HTLC left after (1)');
  }, 90_000);

  it('(2) a middle hop (C) cannot forward: the attempt fails there and the payment is retried around it', async () => {
    // C's balance towards D is what is left of its 250k push: pay more than that (B can carry it).
    const cLocal = BigInt((await channel(c, dc)).local_msat);
    const amount = (cLocal / 1000n + 30_000n) * 1000n;
    expect(BigInt((await channel(b, bc)).local_msat)).toBeGreaterThan(amount + 50_000_000n);
    expect(BigInt((await channel(f, df)).remote_msat)).toBeGreaterThan(amount + 50_000_000n);
    // The router prefers C (cheaper) until it learns.
    const cheapest = (
      await api(a, 'POST', 'queryroutes', { node_id: ee.nodeId, amount_msat: amount.toString() })
    ).route;
    expect((cheapest.hops as Json[]).map((h) => h.node_id)).toEqual([
      b.nodeId,
      c.nodeId,
      d.nodeId,
      ee.nodeId,
    ]);

    const inv = await api(ee, 'POST', 'invoice', { amount_msat: amount.toString() });
    const paid = await api(a, 'POST', 'pay', { bolt11: inv.bolt11, max_fee_msat: MAX_FEE });
    expect(paid).toMatchObject({
      status: 'succeeded',
      direction: 'outgoing',
      payment_hash: inv.payment_hash,
    });
    expect(BigInt(paid.amount_msat)).toBe(amount);
    // More than the cheapest route: part or all of it went through F.
    expect(BigInt(paid.fee_msat)).toBeGreaterThan(BigInt(cheapest.fee_msat));
    // C refused the first attempt (its outgoing channel lacks the balance); F forwarded.
    const atC = await forwards(c, inv.payment_hash);
    expect(atC.some((x) => x.status === 'failed')).toBe(true);
    const atF = await until(async () => {
      const x = await forwards(f, inv.payment_hash);
      return x.some((y) => y.status === 'settled') ? x : undefined;
    }, "F's forward settled");
    expect(atF.every((x) => x.in_channel_id === bf && x.out_channel_id === df)).toBe(true);
    // B saw the failed attempt towards C and the retry towards F.
    const atB = await forwards(b, inv.payment_hash);
    expect(atB.some((x) => x.out_channel_id === bc && x.status === 'failed')).toBe(true);
    expect(atB.some((x) => x.out_channel_id === bf && x.status === 'settled')).toBe(true);
    const rec = (await payments(a)).find((p) => p.payment_hash === inv.payment_hash);
    expect(rec).toMatchObject({ status: 'succeeded', preimage: paid.preimage });
    await until(
      async () =>
        (await payments(ee)).some((p) => p.payment_hash === inv.payment_hash && p.status === 'succeeded'),
      'E received',
    );
    await quiet([a, b, c, d, ee, f], 'no HTLC left after (2)');
  }, 120_000);

  it('(3) D pays B more than any channel holds: MPP over D–C–B and D–F–B', async () => {
    const AMOUNT = 850_000_000n;
    for (const n of [a, b, c, d, ee, f])
      for (const ch of await channels(n)) expect(BigInt(ch.capacity_sat) * 1000n).toBeLessThan(AMOUNT);
    const inv = await api(b, 'POST', 'invoice', { amount_msat: AMOUNT.toString() });
    const paid = await api(d, 'POST', 'pay', { bolt11: inv.bolt11, max_fee_msat: MAX_FEE });
    expect(paid.status).toBe('succeeded');
    expect(BigInt(paid.amount_msat)).toBe(AMOUNT);
    const recv = await until(
      async () =>
        (await payments(b)).find((p) => p.payment_hash === inv.payment_hash && p.status === 'succeeded'),
      'B received',
    );
    expect(BigInt(recv.amount_msat)).toBe(AMOUNT);
    // Both disjoint paths carried settled parts that add up to the amount.
    const viaC = (await forwards(c, inv.payment_hash)).filter((x) => x.status === 'settled');
    const viaF = (await forwards(f, inv.payment_hash)).filter((x) => x.status === 'settled');
    expect(viaC.length).toBeGreaterThan(0);
    expect(viaF.length).toBeGreaterThan(0);
    for (const x of viaC) expect(x).toMatchObject({ in_channel_id: dc, out_channel_id: bc });
    for (const x of viaF) expect(x).toMatchObject({ in_channel_id: df, out_channel_id: bf });
    const sum = [...viaC, ...viaF].reduce((s, x) => s + BigInt(x.out_amount_msat), 0n);
    expect(sum).toBe(AMOUNT);
    await quiet([b, c, d, f], 'no HTLC left after (3)');
  }, 120_000);

  it('(4) D pays the private node A through the route hint in its invoice', async () => {
    const AMOUNT = 50_000_000n;
    expect(((await api(d, 'GET', 'describegraph')).nodes as Json[]).map((n) => n.node_id)).not.toContain(
      a.nodeId,
    );
    const dec = await until(async () => {
      const inv = await ok('invoice', AMOUNT.toString(), ...dd(a));
      const x = await ok('decode', inv.bolt11);
      return x.route_hints[0]?.[0]?.fee_base_msat === POLICY_B.base ? { inv, x } : undefined;
    }, "A's invoice carries B's policy in its hint");
    expect(dec.x.route_hints).toHaveLength(1);
    expect(dec.x.route_hints[0][0]).toMatchObject({
      pubkey: b.nodeId,
      fee_base_msat: POLICY_B.base,
      fee_proportional_millionths: POLICY_B.ppm,
      cltv_expiry_delta: POLICY_B.cltv,
    });
    const paid = await ok('pay', dec.inv.bolt11, '--max-fee-msat', MAX_FEE, ...dd(d));
    expect(paid.status).toBe('succeeded');
    expect(BigInt(paid.amount_msat)).toBe(AMOUNT);
    const [fw] = await until(async () => {
      const x = await forwards(b, dec.inv.payment_hash);
      return x.length === 1 && x[0]!.status === 'settled' ? x : undefined;
    }, "B's forward to A settled");
    expect(fw!.out_channel_id).toBe(ab);
    expect(BigInt(fw!.out_amount_msat)).toBe(AMOUNT);
    expect(BigInt(fw!.fee_msat)).toBe(feeOf(POLICY_B, AMOUNT));
    await until(
      async () =>
        (await payments(a)).some(
          (p) =>
            p.payment_hash === dec.inv.payment_hash && p.direction === 'incoming' && p.status === 'succeeded',
        ),
      'A received',
    );
    await quiet([a, b, c, d, f], 'no HTLC left after (4)');
  }, 90_000);

  it('(5) hold invoices of E: one settled (A sees succeeded), one cancelled (A sees failed)', async () => {
    const mk = async (sat: bigint) => {
      const pre = randomBytes(32);
      const hash = toHex(sha256(pre));
      const inv = await ok('holdinvoice', hash, String(sat * 1000n), ...dd(ee));
      expect(inv).toMatchObject({ payment_hash: hash, status: 'open' });
      const pay = api(a, 'POST', 'pay', { bolt11: inv.bolt11, max_fee_msat: MAX_FEE });
      pay.catch(() => {});
      return { preimage: toHex(pre), hash, pay };
    };
    const settled = await mk(20_000n);
    const cancelled = await mk(25_000n);
    for (const h of [settled, cancelled])
      await until(async () => (await invoiceStatus(ee, h.hash)) === 'accepted', `E holds ${h.hash}`);
    expect((await channel(ee, de)).pending_htlcs).toBe(2);
    expect((await payments(a)).find((p) => p.payment_hash === settled.hash)?.status).toBe('pending');
    expect((await ok('settleinvoice', settled.preimage, ...dd(ee))).status).toBe('paid');
    expect((await ok('cancelinvoice', cancelled.hash, ...dd(ee))).status).toBe('canceled');
    const [p1, p2] = await Promise.all([settled.pay, cancelled.pay]);
    expect(p1).toMatchObject({ status: 'succeeded', preimage: settled.preimage });
    expect(p2.status).toBe('failed');
    const list = await payments(a);
    expect(list.find((p) => p.payment_hash === settled.hash)?.status).toBe('succeeded');
    expect(list.find((p) => p.payment_hash === cancelled.hash)?.status).toBe('failed');
    expect(await invoiceStatus(ee, settled.hash)).toBe('paid');
    expect(await invoiceStatus(ee, cancelled.hash)).toBe('canceled');
    await quiet([a, b, c, d, ee, f], 'no HTLC left after (5)');
  }, 90_000);

  it("(7) a cooperatively closed channel (D–F) leaves every node's graph", async () => {
    const scid = await scidOf(d, df);
    for (const n of [a, b, c, d, ee, f]) expect(await graphScids(n)).toContain(scid);
    const close = await ok('closechannel', df, ...dd(d));
    expect(close.closing_txid).toMatch(/^[0-9a-f]{64}$/);
    // BOLT 7: forgotten 12 blocks after the funding output is spent.
    await e.mineUntil(
      async () => {
        for (const n of [a, b, c, d, ee, f]) if ((await graphScids(n)).includes(scid)) return false;
        return true;
      },
      "D–F gone from every node's graph",
      40,
      300,
    );
    for (const n of [a, b, c, d, ee, f]) expect((await graphScids(n)).length).toBe(4);
    await synced(e, [a, b, c, d, ee, f]);
  }, 90_000);

  it('(6) E vanishes (SIGKILL) holding an HTLC: every upstream hop resolves in time, the payment fails, nobody loses', async () => {
    const alive = [a, b, c, d, f];
    await quiet([a, b, c, d, ee, f], 'quiet before (6)');
    const total = async (n: E2ENode) => {
      let s = await walletTotal(n);
      for (const ch of await channels(n)) if (ch.state !== 'CLOSED') s += BigInt(ch.local_msat) / 1000n;
      return s;
    };
    const before = new Map<E2ENode, bigint>();
    for (const n of alive) before.set(n, await total(n));

    const pre = randomBytes(32);
    const hash = toHex(sha256(pre));
    const inv = await ok('holdinvoice', hash, '30000000', ...dd(ee));
    let outcome: Json | undefined;
    const pay = api(a, 'POST', 'pay', { bolt11: inv.bolt11, max_fee_msat: MAX_FEE }).then((r) => {
      outcome = r;
      return r;
    });
    pay.catch(() => {});
    await until(async () => (await invoiceStatus(ee, hash)) === 'accepted', 'E holds the HTLC');
    await until(async () => (await channel(d, de)).pending_htlcs === 1, 'D sees the HTLC to E');
    // The forwards upstream of E (in path order) with their incoming deadlines.
    const hops: Array<{ n: E2ENode; fw: Json; resolvedAt?: number }> = [];
    for (const n of [b, c, f, d]) {
      const x = await forwards(n, hash);
      if (x.length > 0) hops.push({ n, fw: x[0] });
    }
    expect(hops.map((h) => h.n.name)).toEqual(['B', 'C', 'D']);
    await e.kill(ee);

    const dMonitor = async () =>
      ((await api(d, 'GET', 'listmonitors')).monitors as Json[]).find((m) => m.channel_id === de);
    await e
      .mineUntil(
        async () => {
          for (const h of hops)
            if (h.resolvedAt === undefined) {
              const st = (await forwards(h.n, hash))[0]?.status;
              if (st === 'failed' || st === 'settled') h.resolvedAt = e.d.chain.height;
            }
          return (
            outcome !== undefined &&
            hops.every((h) => h.resolvedAt !== undefined) &&
            !!(await dMonitor())?.resolved
          );
        },
        'the HTLC resolved at every hop and D swept the closed channel',
        150,
      )
      .catch(async (err) => {
        for (const n of alive) console.log(n.name, n.proc.log.join('').slice(-3000));
        throw err;
      });
    expect(outcome?.status).toBe('failed');
    expect((await payments(a)).find((p) => p.payment_hash === hash)?.status).toBe('failed');
    for (const h of hops) {
      expect(h.resolvedAt, `${h.n.name} resolved before its incoming HTLC expired`).toBeLessThan(
        h.fw.in_cltv_expiry,
      );
      expect((await forwards(h.n, hash))[0]?.status).toBe('failed');
    }
    // D went on chain against E; every other channel stayed open, with no HTLC pending.
    expect((await channel(d, de)).state).not.toBe('NORMAL');
    for (const [x, y, id] of [
      [a, b, ab],
      [b, c, bc],
      [b, f, bf],
      [d, c, dc],
    ] as const) {
      for (const n of [x, y]) {
        const ch = await channel(n, id);
        expect(ch.state, `${n.name}: ${id}`).toBe('NORMAL');
        expect(ch.pending_htlcs, `${n.name}: ${id}`).toBe(0);
      }
    }
    // Nobody ends lower than before, minus the fees of its own confirmed transactions (D's).
    const published = ((await dMonitor())?.published ?? []) as Json[];
    let dFees = 0n;
    for (const p of published) if (e.d.chain.getConfirmedTx(p.txid)) dFees += e.feeOf(p.txid);
    expect(published.some((p) => p.kind === 'local-commitment')).toBe(true);
    for (const n of alive) {
      const want = before.get(n)! - (n === d ? dFees : 0n) - 1n; // 1 sat: msat rounding
      await until(async () => (await total(n)) >= want, `${n.name} has not lost`, 30_000).catch(async () => {
        throw new Error(
          `${n.name}: total ${await total(n)} < ${want} (before ${before.get(n)}, fees ${dFees})`,
        );
      });
    }
    // The closed channel D–E also leaves the graphs of the survivors.
    const scid = await scidOf(d, de);
    await e.mineUntil(
      async () => {
        for (const n of alive) if ((await graphScids(n)).includes(scid)) return false;
        return true;
      },
      "D–E gone from every surviving node's graph",
      20,
      300,
    );
  }, 180_000);
});
