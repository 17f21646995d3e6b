/**
 * Issue 4 (throughput): CPU cost of the channel state machine per payment, in process (no
 * persistence, no network). Two in-memory endpoints of one anchors channel (10,000,000 sat,
 * 50/50) exchange wire-round-tripped messages; one op is one full payment round:
 * `update_add_htlc`, `commitment_signed`/`revoke_and_ack` both ways, `update_fulfill_htlc`,
 * `commitment_signed`/`revoke_and_ack` both ways (8 `step`s of crypto-heavy work). The keys are
 * fetched from {@link NodeKeys.channelKeys} on every step, as the node's channel manager does.
 *
 * Variants: an empty channel, and one with 200 non-dust HTLCs already in flight (100 each way),
 * so every commitment carries ~200 HTLC outputs (signatures dominate there).
 */
import { NodeKeys } from '../src/node/keys/index.js';
import { sha256 } from '../src/protocol/crypto/hash.js';
import { concat, utf8 } from '../src/protocol/encoding/bytes.js';
import { type BenchEnd, BenchPair } from './channel-pair.js';
import type { BenchCase } from './harness.js';

const GROUP = 'Channel state machine (issue 4, in process)';
const ONION = new Uint8Array(1366);
const AMOUNT_MSAT = 1_000_000n;

type End = BenchEnd;

/**
 * A {@link BenchPair} whose keys are fetched from {@link NodeKeys.channelKeys} on every step,
 * as the node's channel manager does; received HTLC ids are collected from `HtlcReceived`.
 */
class Link extends BenchPair {
  private n = 0;
  /** Received HTLC ids per endpoint, collected from `HtlcReceived` effects. */
  readonly received: Map<End, bigint[]>;

  constructor(tag: string) {
    const nodeKeys = new Map<string, NodeKeys>();
    const keysOf = (p: End) => {
      let k = nodeKeys.get(p.name);
      if (!k) {
        k = new NodeKeys(sha256(utf8(`${tag}/${p.name}/seed`)));
        nodeKeys.set(p.name, k);
      }
      return k.channelKeys(0);
    };
    const received = new Map<End, bigint[]>();
    super(tag, {
      keys: keysOf,
      scid: 7n << 40n,
      onEffect: (p, e) => {
        if (e.type !== 'HtlcReceived') return;
        const l = received.get(p) ?? [];
        l.push(e.add.id);
        received.set(p, l);
      },
    });
    this.received = received;
    this.open();
  }

  /** Signs on both sides until nothing is pending. */
  settle(): void {
    for (let i = 0; i < 20; i++) {
      this.apply(this.a, { type: 'CmdSign' });
      this.apply(this.b, { type: 'CmdSign' });
      if (this.a.inbox.length === 0 && this.b.inbox.length === 0) return;
      this.pump();
    }
  }

  private preimage(k: number): Uint8Array {
    return sha256(concat(utf8('bench-preimage'), Uint8Array.of(k & 0xff, (k >> 8) & 0xff, (k >> 16) & 0xff)));
  }

  /** Offers an HTLC from `from` (not signed yet); returns its preimage. */
  add(from: End): Uint8Array {
    const preimage = this.preimage(this.n++);
    this.apply(from, {
      type: 'CmdAddHtlc',
      amountMsat: AMOUNT_MSAT,
      paymentHash: sha256(preimage),
      cltvExpiry: 1100,
      onion: ONION,
    });
    return preimage;
  }

  /** One full payment `from` → the other side: add, sign both ways, fulfill, sign both ways. */
  pay(from: End): void {
    const to = from === this.a ? this.b : this.a;
    const preimage = this.add(from);
    this.pump();
    this.settle();
    const ids = this.received.get(to);
    const id = ids?.pop();
    if (id === undefined) throw new Error('HTLC not received');
    this.apply(to, { type: 'CmdFulfill', id, preimage });
    this.pump();
    this.settle();
  }
}

/**
 * One op = a batch of `n` payments each way at once (as in the saturated node benchmark S2): all
 * adds, signing both ways, all fulfills, signing both ways. Per payment: divide by `2 * n`.
 */
function batchCase(n: number): () => unknown {
  const link = new Link(`batch/${n}`);
  return () => {
    const pre = new Map<End, Uint8Array[]>([
      [link.a, []],
      [link.b, []],
    ]);
    for (let i = 0; i < n; i++) {
      pre.get(link.b)!.push(link.add(link.a));
      pre.get(link.a)!.push(link.add(link.b));
    }
    link.pump();
    link.settle();
    for (const to of [link.a, link.b]) {
      const ids = link.received.get(to) ?? [];
      const pres = pre.get(to)!;
      if (ids.length !== n) throw new Error(`received ${ids.length} of ${n}`);
      for (let i = 0; i < n; i++) link.apply(to, { type: 'CmdFulfill', id: ids[i]!, preimage: pres[i]! });
      link.received.set(to, []);
    }
    link.pump();
    link.settle();
  };
}

function paymentCase(inFlight: number): () => unknown {
  const link = new Link(`step/${inFlight}`);
  // HTLCs left in flight (never settled): half each way.
  for (let i = 0; i < inFlight; i++) link.add(i % 2 === 0 ? link.a : link.b);
  link.pump();
  link.settle();
  link.received.clear();
  let k = 0;
  // Alternate directions so balances stay level over long runs.
  return () => link.pay(k++ % 2 === 0 ? link.a : link.b);
}

const cases: BenchCase[] = [
  {
    group: GROUP,
    name: 'one payment round (add, sign/revoke both ways, fulfill, sign/revoke both ways), empty channel',
    fn: paymentCase(0),
    seconds: 3,
  },
  {
    group: GROUP,
    name: 'one payment round with 200 HTLCs in flight',
    fn: paymentCase(200),
    seconds: 3,
  },
  {
    group: GROUP,
    name: 'a batch of 60 payments each way at once (120 per op: adds, sign/revoke, fulfills, sign/revoke)',
    fn: batchCase(60),
    seconds: 3,
  },
];

export default cases;
