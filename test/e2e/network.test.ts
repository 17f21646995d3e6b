/**
 * Issue 6 over processes: four `farad node start` processes in a line A–B–C–D with public
 * channels (A→B, B→C, C→D opened by the left node), B and C with their own forwarding policies
 * (`--fee-base-msat`, `--fee-ppm`, `--cltv-delta`), gossip flushed every 200 ms. After 6
 * confirmations the channels are announced and A's `describegraph` shows all three with both
 * directions' policies; `queryroutes` A→D gives 3 hops whose fees and expiry deltas follow the
 * announced policies; A pays D's invoice over the 3 hops (`fee_msat` = the sum of the hop fees)
 * and keysends to D; B's `listforwards` shows both forwards with B's fee; a cooperatively closed
 * channel (C–D) disappears from A's graph.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, connect, dd, E2E, type E2ENode, farad, fund, type Json, ok, synced, until } from './harness.js';

let e: E2E;
let a: E2ENode;
let b: E2ENode;
let c: E2ENode;
let d: E2ENode;
/** Channel ids A–B, B–C, C–D. */
let ab: string;
let bc: string;
let cd: string;
/** A private channel C→B (never in anyone's graph; B's invoices carry a route hint for it). */
let cbPrivate: string;

const GOSSIP = ['--gossip-flush-ms', '200'];
const POLICY_B = { base: 1000, ppm: 100, cltv: 40 };
const POLICY_C = { base: 2000, ppm: 500, cltv: 50 };

async function waitNormal(n: E2ENode, id: string): Promise<Json> {
  return until(async () => {
    const ch = ((await api(n, 'GET', 'listchannels')).channels as Json[]).find((x) => x.channel_id === id);
    return ch?.state === 'NORMAL' && ch.active ? ch : undefined;
  }, `${n.name}: channel ${id} NORMAL`);
}

beforeAll(async () => {
  e = await E2E.start();
  const pol = (p: typeof POLICY_B) => [
    '--fee-base-msat',
    String(p.base),
    '--fee-ppm',
    String(p.ppm),
    '--cltv-delta',
    String(p.cltv),
  ];
  [a, b, c, d] = await Promise.all([
    e.node('A', { extra: GOSSIP }),
    e.node('B', { extra: [...GOSSIP, ...pol(POLICY_B)] }),
    e.node('C', { extra: [...GOSSIP, ...pol(POLICY_C)] }),
    e.node('D', { extra: [...GOSSIP, '--accept-keysend'] }),
  ]);
  await fund(e, [
    [a, 2_000_000n],
    [b, 2_000_000n],
    [c, 2_000_000n],
  ]);
  await connect(a, b);
  await connect(b, c);
  await connect(c, d);
  const open = async (x: E2ENode, y: E2ENode) =>
    (await api(x, 'POST', 'openchannel', { node_id: y.nodeId, amount_sat: '1000000' })).channel_id as string;
  ab = await open(a, b);
  bc = await open(b, c);
  cd = await open(c, d);
  cbPrivate = (
    await api(c, 'POST', 'openchannel', { node_id: b.nodeId, amount_sat: '300000', private: true })
  ).channel_id;
  e.d.mine(6); // BOLT 7: announced after 6 confirmations
  for (const [x, y, id] of [
    [a, b, ab],
    [b, c, bc],
    [c, d, cd],
    [c, b, cbPrivate],
  ] as const) {
    await waitNormal(x, id);
    await waitNormal(y, id);
  }
  await synced(e, [a, b, c, d]);
}, 120_000);

afterAll(async () => {
  await e?.close();
});

/** The announced policy of `from` on channel `ch` (graph JSON), by node order. */
function policyOf(ch: Json, from: E2ENode): Json {
  const dir = ch.node1 === from.nodeId ? 0 : 1;
  expect([ch.node1, ch.node2][dir]).toBe(from.nodeId);
  return ch.policies[dir];
}

describe('four node processes in a line: gossip, routes, forwarding', () => {
  let graph: Json;

  it("A's describegraph shows the three announced channels with both policies", async () => {
    graph = await until(
      async () => {
        const g = await ok('describegraph', ...dd(a));
        const full = (g.channels as Json[]).filter((x) => x.policies[0] && x.policies[1]);
        return full.length === 3 ? g : undefined;
      },
      "A's graph has 3 channels",
      60_000,
    );
    const ids = (graph.nodes as Json[]).map((n) => n.node_id).sort();
    expect(ids).toEqual([a, b, c, d].map((n) => n.nodeId).sort());
    const scids = await Promise.all(
      [
        [a, ab],
        [b, bc],
        [c, cd],
      ].map(
        async ([n, id]) =>
          ((await api(n as E2ENode, 'GET', 'listchannels')).channels as Json[]).find(
            (x) => x.channel_id === id,
          ).short_channel_id,
      ),
    );
    expect((graph.channels as Json[]).map((x) => x.short_channel_id).sort()).toEqual([...scids].sort());
    for (const ch of graph.channels as Json[]) expect(ch.capacity_sat).toBe('1000000');
    // The forwarding policies B and C run with are what the graph holds.
    const chBC = (graph.channels as Json[]).find((x) => x.short_channel_id === scids[1]);
    const chCD = (graph.channels as Json[]).find((x) => x.short_channel_id === scids[2]);
    expect(policyOf(chBC, b)).toMatchObject({
      fee_base_msat: POLICY_B.base,
      fee_proportional_millionths: POLICY_B.ppm,
      cltv_expiry_delta: POLICY_B.cltv,
      disabled: false,
    });
    expect(policyOf(chCD, c)).toMatchObject({
      fee_base_msat: POLICY_C.base,
      fee_proportional_millionths: POLICY_C.ppm,
      cltv_expiry_delta: POLICY_C.cltv,
      disabled: false,
    });
  }, 90_000);

  let route: Json;
  const AMOUNT = 100_000_000n;

  it("a node with a private channel puts a route hint for it in its invoices (the peer's policy)", async () => {
    // Until C's channel_update for it arrives, B uses its own policy in the hint.
    const dec = await until(async () => {
      const inv = await ok('invoice', '1000', ...dd(b));
      const x = await ok('decode', inv.bolt11);
      return x.route_hints[0]?.[0]?.fee_base_msat === POLICY_C.base ? x : undefined;
    }, "B's invoice carries C's policy in its hint");
    expect(dec.route_hints).toHaveLength(1);
    const [hop] = dec.route_hints[0];
    expect(hop).toMatchObject({
      pubkey: c.nodeId,
      fee_base_msat: POLICY_C.base,
      fee_proportional_millionths: POLICY_C.ppm,
      cltv_expiry_delta: POLICY_C.cltv,
    });
    // The hint is not a channel of the graph (private), and D (only public channels) gives none.
    expect((graph.channels as Json[]).map((x) => x.short_channel_id)).not.toContain(hop.short_channel_id);
    const invD = await ok('invoice', '1000', ...dd(d));
    expect((await ok('decode', invD.bolt11)).route_hints).toEqual([]);
  }, 30_000);

  it('queryroutes A→D: 3 hops with fees and expiries from the announced policies', async () => {
    route = (await ok('queryroutes', d.nodeId, AMOUNT.toString(), ...dd(a))).route;
    const hops = route.hops as Json[];
    expect(hops.map((h) => h.node_id)).toEqual([b.nodeId, c.nodeId, d.nodeId]);
    const byScid = new Map((graph.channels as Json[]).map((x) => [x.short_channel_id, x]));
    const senders = [a, b, c];
    let sum = 0n;
    for (let i = 0; i < 3; i++) {
      const h = hops[i];
      const ch = byScid.get(h.short_channel_id);
      expect(ch, `hop ${i} scid in the graph`).toBeDefined();
      if (i === 0) {
        expect(h.fee_msat).toBe('0'); // we pay ourselves nothing
        continue;
      }
      const p = policyOf(ch, senders[i]!);
      // BOLT 7: fee = fee_base_msat + amount_to_forward * fee_proportional_millionths / 1000000
      const fee =
        BigInt(p.fee_base_msat) +
        (BigInt(h.amount_msat) * BigInt(p.fee_proportional_millionths)) / 1_000_000n;
      expect(BigInt(h.fee_msat)).toBe(fee);
      // The HTLC into the channel carries the next hop's amount plus this hop's fee.
      expect(BigInt(hops[i - 1].amount_msat)).toBe(BigInt(h.amount_msat) + fee);
      expect(hops[i - 1].expiry_delta - h.expiry_delta).toBe(p.cltv_expiry_delta);
      sum += fee;
    }
    expect(BigInt(hops[2].amount_msat)).toBe(AMOUNT);
    expect(BigInt(route.fee_msat)).toBe(sum);
    expect(sum).toBe(
      BigInt(POLICY_C.base) +
        (AMOUNT * BigInt(POLICY_C.ppm)) / 1_000_000n +
        BigInt(POLICY_B.base) +
        ((AMOUNT + BigInt(POLICY_C.base) + (AMOUNT * BigInt(POLICY_C.ppm)) / 1_000_000n) *
          BigInt(POLICY_B.ppm)) /
          1_000_000n,
    );
    expect(BigInt(route.total_amount_msat)).toBe(AMOUNT + sum);
  }, 30_000);

  it('A pays D over 3 hops and keysends to D; B lists the forwards with its fee', async () => {
    const inv = await ok('invoice', AMOUNT.toString(), '--description', 'over three hops', ...dd(d));
    const paid = await ok('pay', inv.bolt11, '--max-fee-msat', '100000', ...dd(a));
    expect(paid.status).toBe('succeeded');
    expect(BigInt(paid.amount_msat)).toBe(AMOUNT);
    expect(paid.fee_msat).toBe(route.fee_msat);
    const recv = ((await api(d, 'GET', 'listpayments')).payments as Json[]).find(
      (x) => x.payment_hash === inv.payment_hash,
    );
    expect(recv).toMatchObject({ direction: 'incoming', status: 'succeeded', preimage: paid.preimage });

    const KS = 5_000_000n;
    const ks = await ok('keysend', d.nodeId, KS.toString(), ...dd(a));
    expect(ks.status).toBe('succeeded');
    expect(BigInt(ks.amount_msat)).toBe(KS);
    const ksFee =
      BigInt(POLICY_C.base) +
      (KS * BigInt(POLICY_C.ppm)) / 1_000_000n +
      BigInt(POLICY_B.base) +
      ((KS + BigInt(POLICY_C.base) + (KS * BigInt(POLICY_C.ppm)) / 1_000_000n) * BigInt(POLICY_B.ppm)) /
        1_000_000n;
    expect(BigInt(ks.fee_msat)).toBe(ksFee);
    await until(
      async () =>
        ((await api(d, 'GET', 'listpayments')).payments as Json[]).some(
          (x) => x.payment_hash === ks.payment_hash && x.status === 'succeeded',
        ),
      'D received the keysend',
    );

    const fw = await until(async () => {
      const r = await ok('listforwards', ...dd(b));
      return (r.forwards as Json[]).filter((x) => x.status === 'settled').length === 2 ? r : undefined;
    }, "B's two forwards settled");
    const bFee = BigInt(route.hops[1].fee_msat);
    const f1 = (fw.forwards as Json[]).find((x) => x.payment_hash === paid.payment_hash);
    expect(f1).toMatchObject({ in_channel_id: ab, out_channel_id: bc, status: 'settled' });
    expect(BigInt(f1.in_amount_msat) - BigInt(f1.out_amount_msat)).toBe(bFee);
    expect(BigInt(f1.fee_msat)).toBe(bFee);
    expect(f1.out_amount_msat).toBe(route.hops[1].amount_msat);
    const f2 = (fw.forwards as Json[]).find((x) => x.payment_hash === ks.payment_hash);
    expect(f2).toMatchObject({ in_channel_id: ab, out_channel_id: bc, status: 'settled' });
    expect(BigInt(fw.fees_earned_msat)).toBe(bFee + BigInt(f2.fee_msat));
    // C forwarded both too; D forwarded nothing.
    expect(((await ok('listforwards', ...dd(c))).forwards as Json[]).length).toBe(2);
    expect((await ok('listforwards', ...dd(d))).forwards).toEqual([]);
  }, 60_000);

  it("a closed channel disappears from A's graph", async () => {
    const close = await ok('closechannel', cd, ...dd(c));
    expect(close.closing_txid).toMatch(/^[0-9a-f]{64}$/);
    // BOLT 7: forgotten 12 blocks after the funding output is spent.
    await e.mineUntil(
      async () => ((await ok('describegraph', ...dd(a))).channels as Json[]).length === 2,
      "C–D gone from A's graph",
      40,
      300,
    );
    const g = await ok('describegraph', ...dd(a));
    const left = (g.channels as Json[]).map((x) => [x.node1, x.node2].sort().join());
    expect(left.sort()).toEqual(
      [[a.nodeId, b.nodeId].sort().join(), [b.nodeId, c.nodeId].sort().join()].sort(),
    );
    // No route to D any more.
    const r = await farad('queryroutes', d.nodeId, '1000', ...dd(a));
    expect(r.code).toBe(1);
    expect(r.error?.code).toBe('NO_ROUTE');
  }, 60_000);
});
