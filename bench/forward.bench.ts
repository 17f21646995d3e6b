/**
 * Forwarding benchmark: three Farad nodes in-process on the devnet (real TCP on 127.0.0.1,
 * SQLite stores with synchronous=FULL, BOLT 5 monitors), A → B → C. Each payment is an invoice
 * of C paid by A through B: B peels the onion, checks its policy, persists the forward, adds
 * the outgoing HTLC, relays the fulfill. Figures are payments completed per second (= forwards
 * per second through B), one at a time and with 50 in flight; secp256k1 is the native backend
 * when available (the channel commitments sign one HTLC signature per HTLC in flight).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadNativeSecp256k1 } from '../src/adapters/crypto/native-secp256k1.js';
import { startDevnet } from '../src/apps/devnet/index.js';
import { type Secp256k1Backend, setSecp256k1Backend } from '../src/protocol/crypto/secp256k1.js';
import {
  addToGraph,
  connectNodes,
  newGraph,
  settle,
  startHNode,
  stopHNode,
  waitFor,
} from '../test/node/multihop-helpers.js';
import { type BenchRow, formatOps } from './harness.js';

export default async function forwardBench(): Promise<BenchRow[]> {
  let prev: Secp256k1Backend | undefined;
  let backend = 'noble';
  try {
    prev = setSecp256k1Backend(loadNativeSecp256k1());
    backend = 'native';
  } catch {
    // noble only
  }
  const d = await startDevnet();
  const dir = mkdtempSync(join(tmpdir(), 'farad-fwd-bench-'));
  const rows: BenchRow[] = [];
  const graph = newGraph();
  const A = await startHNode(d, 'A', { seedByte: 101, dbPath: join(dir, 'A.db'), graph });
  const B = await startHNode(d, 'B', { seedByte: 102, dbPath: join(dir, 'B.db') });
  const C = await startHNode(d, 'C', { seedByte: 103, dbPath: join(dir, 'C.db') });
  try {
    d.mine(101);
    d.fund(A.wallet.newAddress(), 5_000_000n);
    d.fund(B.wallet.newAddress(), 5_000_000n);
    d.mine(1);
    await settle(A, B, C);
    await connectNodes(A, B);
    await connectNodes(B, C);
    const ab = (await A.cm.openChannel(B.keys.nodeId, 4_000_000n, { announce: true })).channelId;
    const bc = (await B.cm.openChannel(C.keys.nodeId, 4_000_000n, { announce: true })).channelId;
    d.mine(1);
    await settle(A, B, C);
    await waitFor(() =>
      [ab, bc].every((id) => A.cm.channel(ab)?.state === 'Normal' && B.cm.channel(id)?.state === 'Normal'),
    );
    addToGraph(graph, A, B, ab);
    addToGraph(graph, B, C, bc);
    const payOnce = async () => {
      const inv = await C.pay.createInvoice({ amountMsat: 2_000_000n });
      const r = await A.pay.pay(inv.bolt11);
      if (r.status !== 'succeeded') throw new Error(`payment failed: ${r.failureReason}`);
    };
    // Warm-up.
    for (let i = 0; i < 5; i++) await payOnce();
    const seq = 60;
    const t0 = performance.now();
    for (let i = 0; i < seq; i++) await payOnce();
    const ms0 = performance.now() - t0;
    rows.push({
      group: 'Forwarding',
      name: `forwards through a middle node, one at a time (${seq} payments, SQLite, ${backend})`,
      value: `${formatOps((seq * 1000) / ms0)} forwards/s (${(ms0 / seq).toFixed(1)} ms each)`,
    });
    const waves = 4;
    const width = 50;
    const t1 = performance.now();
    for (let w = 0; w < waves; w++) await Promise.all(Array.from({ length: width }, () => payOnce()));
    const ms1 = performance.now() - t1;
    rows.push({
      group: 'Forwarding',
      name: `forwards through a middle node, ${width} in flight (${waves * width} payments, SQLite, ${backend})`,
      value: `${formatOps((waves * width * 1000) / ms1)} forwards/s`,
    });
    const fees = B.fwd.feesEarnedMsat();
    if (
      B.fwd.listForwards().filter((f) => f.status === 'settled').length !== 5 + seq + waves * width ||
      fees <= 0n
    )
      throw new Error('forward records do not match the payments');
  } finally {
    for (const n of [A, B, C]) await stopHNode(n).catch(() => undefined);
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
    if (prev) setSecp256k1Backend(prev);
  }
  return rows;
}
