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
import {
  type ChannelInput,
  type ChannelState,
  type CmdOpen,
  defaultChannelConfig,
  type StepContext,
  step,
} from '../src/core/channel/index.js';
import { NodeKeys } from '../src/node/keys/index.js';
import { sha256 } from '../src/protocol/crypto/hash.js';
import { concat, utf8 } from '../src/protocol/encoding/bytes.js';
import { p2wpkh } from '../src/protocol/tx/script.js';
import type { Transaction } from '../src/protocol/tx/transaction.js';
import { decodeMessage, encodeMessage, type KnownMessage } from '../src/protocol/wire/messages.js';
import type { BenchCase } from './harness.js';

const GROUP = 'Channel state machine (issue 4, in process)';
const ONION = new Uint8Array(1366);
const AMOUNT_MSAT = 1_000_000n;

interface End {
  name: string;
  state: ChannelState;
  nodeKeys: NodeKeys;
  inbox: KnownMessage[];
  counter: number;
}

/** Two endpoints of one channel driven by `step`, messages round-tripped through the wire codec. */
class Link {
  readonly a: End;
  readonly b: End;
  private n = 0;
  constructor(tag: string) {
    const chainHash = sha256(utf8('bench-chain'));
    const mk = (name: string): End => ({
      name,
      state: {
        kind: 'WaitForOpenChannel',
        config: defaultChannelConfig(chainHash, p2wpkh(new Uint8Array(33).fill(name === 'a' ? 2 : 3))),
      },
      nodeKeys: new NodeKeys(sha256(utf8(`${tag}/${name}/seed`))),
      inbox: [],
      counter: 0,
    });
    this.a = mk('a');
    this.b = mk('b');
    const open: CmdOpen = {
      type: 'CmdOpen',
      fundingSats: 10_000_000n,
      pushMsat: 5_000_000_000n,
      channelType: 'anchors_zero_fee_htlc_tx',
      zeroConf: false,
      announce: false,
    };
    this.apply(this.a, open);
    this.pump();
    this.apply(this.a, { type: 'FundingConfirmed', depth: 6, scid: 7n << 40n });
    this.apply(this.b, { type: 'FundingConfirmed', depth: 6, scid: 7n << 40n });
    this.pump();
    if (this.a.state.kind !== 'Normal' || this.b.state.kind !== 'Normal')
      throw new Error(`not Normal: ${this.a.state.kind}/${this.b.state.kind}`);
  }

  /** Received HTLC ids per endpoint, collected from `HtlcReceived` effects. */
  received = new Map<End, bigint[]>();

  apply(p: End, input: ChannelInput): void {
    const ctx: StepContext = {
      blockHeight: 1000,
      // As the node does: the channel's keys are fetched on every step.
      keys: p.nodeKeys.channelKeys(0),
      feeratePerKw: 253,
      randomBytes: (n: number) => sha256(utf8(`${p.name}/rand/${p.counter++}`)).slice(0, n),
    };
    const r = step(p.state, input, ctx);
    p.state = r.state;
    const other = p === this.a ? this.b : this.a;
    for (const e of r.effects) {
      if (e.type === 'SendMessage') other.inbox.push(decodeMessage(encodeMessage(e.msg)) as KnownMessage);
      else if (e.type === 'HtlcReceived') {
        const l = this.received.get(p) ?? [];
        l.push(e.add.id);
        this.received.set(p, l);
      } else if (e.type === 'BuildFundingTx') {
        const tx: Transaction = {
          version: 2,
          inputs: [
            {
              txid: sha256(utf8('coin')),
              vout: 0,
              scriptSig: new Uint8Array(0),
              sequence: 0xfffffffd,
              witness: [],
            },
          ],
          outputs: [{ value: e.amountSat, scriptPubKey: e.scriptPubKey }],
          locktime: 0,
        };
        this.apply(p, { type: 'FundingTxBuilt', tx, outputIndex: 0 });
      }
    }
  }

  pump(): void {
    for (let k = 0; k < 100_000; k++) {
      const m = this.a.inbox.shift();
      if (m) this.apply(this.a, m);
      const n = this.b.inbox.shift();
      if (n) this.apply(this.b, n);
      if (!m && !n) return;
    }
    throw new Error('pump did not converge');
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
