/**
 * Persistence encodings (issue 4): the channel state written on every commitment_signed /
 * revoke_and_ack and a monitor update, binary tree format (src/protocol/encoding/record.ts, what
 * `encodeChannelState` / `encodeRecord` write now) against the tagged JSON written before (the
 * former replacer, re-implemented here as the baseline). Channel states are built with the core
 * state machine (two in-memory endpoints, native secp256k1 when available): an anchors channel in
 * `Normal` with HTLCs in flight both ways, plus the successive states of a payment stream.
 */
import { loadNativeSecp256k1 } from '../src/adapters/crypto/native-secp256k1.js';
import {
  type ChannelEffect,
  type ChannelInput,
  type ChannelState,
  decodeChannelState,
  encodeChannelState,
  type MonitorUpdate,
} from '../src/core/channel/index.js';
import { decodeRecord, encodeRecord } from '../src/node/channels/codec.js';
import { sha256 } from '../src/protocol/crypto/hash.js';
import { nobleBackend, setSecp256k1Backend } from '../src/protocol/crypto/secp256k1.js';
import { toHex, utf8 } from '../src/protocol/encoding/bytes.js';
import { ShachainStore } from '../src/protocol/keys/shachain.js';
import { type BenchEnd, BenchPair } from './channel-pair.js';
import { type BenchRow, runCase } from './harness.js';

const GROUP = 'Persistence encoding: channel state and records (issue 4)';

/** The JSON format written before (baseline). */
function jsonReplacer(this: unknown, _key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return { $n: value.toString() };
  if (value instanceof Uint8Array) return { $b: toHex(value) };
  if (value instanceof ShachainStore) return { $sc: toHex(value.encode()) };
  return value;
}
const jsonChannelState = (state: ChannelState) => utf8(JSON.stringify({ v: 1, state }, jsonReplacer));
const jsonRecord = (value: unknown) => utf8(JSON.stringify(value, jsonReplacer));

interface Fixture {
  /** Normal, no HTLC. */
  idle: ChannelState;
  /** Normal, HTLCs in flight both ways and unsigned changes pending. */
  busy: ChannelState;
  /** Every persisted state of the opener during a stream of payments (in order). */
  stream: ChannelState[];
  /** A LocalCommitment monitor update with HTLC transactions. */
  localUpdate: MonitorUpdate;
  /** A RemoteCommitment monitor update with HTLC outputs. */
  remoteUpdate: MonitorUpdate;
}

function build(): Fixture {
  // What each endpoint produced: every effect, and every state it persisted.
  const log = new Map<BenchEnd, { effects: ChannelEffect[]; states: ChannelState[] }>();
  const of = (p: BenchEnd) => {
    let l = log.get(p);
    if (!l) {
      l = { effects: [], states: [] };
      log.set(p, l);
    }
    return l;
  };
  const pair = new BenchPair('record', {
    onEffect: (p, e) => {
      of(p).effects.push(e);
      if (e.type === 'PersistChannel') of(p).states.push(e.state);
    },
  }).open();
  const { a, b } = pair;
  const apply = (p: BenchEnd, input: ChannelInput) => pair.apply(p, input);
  const pump = () => pair.pump();
  const idle = a.state;
  // An onion is 1,366 pseudo-random bytes (it is encrypted).
  const onion = (n: number) => {
    const o = new Uint8Array(1366);
    for (let i = 0; i < 1366; i += 32)
      o.set(sha256(utf8(`onion/${n}/${i}`)).subarray(0, Math.min(32, 1366 - i)), i);
    return o;
  };
  const preimage = (n: number) => sha256(utf8(`preimage/${n}`));
  const add = (from: BenchEnd, n: number) =>
    apply(from, {
      type: 'CmdAddHtlc',
      amountMsat: 1_000_000n + BigInt(n),
      paymentHash: sha256(preimage(n)),
      cltvExpiry: 1200 + n,
      onion: onion(n),
    });
  // A stream of payments both ways: each adds, signs, and fulfils the oldest one later.
  const start = of(a).states.length;
  const pending: { id: bigint; n: number; payer: BenchEnd }[] = [];
  let n = 0;
  for (let round = 0; round < 12; round++) {
    for (const payer of [a, b]) {
      add(payer, n);
      const add0 = of(payer).effects.findLast(
        (e) => e.type === 'SendMessage' && e.msg.type === 'update_add_htlc',
      );
      const id = add0?.type === 'SendMessage' && add0.msg.type === 'update_add_htlc' ? add0.msg.id : 0n;
      pending.push({ id, n, payer });
      n++;
      apply(payer, { type: 'CmdSign' });
    }
    pump();
    while (pending.length > 6) {
      const p = pending.shift()!;
      const payee = p.payer === a ? b : a;
      apply(payee, { type: 'CmdFulfill', id: p.id, preimage: preimage(p.n) });
      apply(payee, { type: 'CmdSign' });
    }
    pump();
  }
  // A few unsigned changes on top.
  add(a, n++);
  add(b, n++);
  pump();
  const busy = a.state;
  const updates = of(a).effects.flatMap((e) => (e.type === 'MonitorUpdate' ? [e.update] : []));
  const localUpdate = updates.findLast((u) => u.type === 'LocalCommitment');
  const remoteUpdate = updates.findLast((u) => u.type === 'RemoteCommitment');
  if (!localUpdate || !remoteUpdate) throw new Error('no monitor updates');
  return { idle, busy, stream: of(a).states.slice(start), localUpdate, remoteUpdate };
}

export function fixture(): Fixture {
  try {
    setSecp256k1Backend(loadNativeSecp256k1());
  } catch {
    // noble: slower to build, same states
  }
  try {
    return build();
  } finally {
    setSecp256k1Backend(nobleBackend);
  }
}

/** Method, printed under the report's Notes. */
export const notes: string[] = [
  'Persistence encoding (bench/record.bench.ts): JSON (before) is the tagged-JSON replacer the node wrote until the binary tree format (src/protocol/encoding/record.ts); the channel states are built by the core state machine (anchors, 10,000,000 sat), the stream is every state the opener persisted over 24 payments both ways (at most 6 in flight), cycled in order. Encoding memoises `config` and `commitments.params` (unchanged for the life of a channel) by object identity. Channel-state decode is dominated by ShachainStore.decode (its structural check), in either format.',
];

const kb = (n: number) => `${n.toLocaleString('en-US')} B`;

export default async function recordBench(): Promise<BenchRow[]> {
  const fx = fixture();
  const rows: BenchRow[] = [];
  const measure = async (name: string, fn: () => unknown, bytes: string) => {
    const r = await runCase({ group: GROUP, name, fn, seconds: 1 });
    rows.push({ group: GROUP, name, value: `${r.value}${bytes ? ` (${bytes})` : ''}` });
    console.log(`${name}: ${r.value} ${bytes}`);
  };
  const states: [string, ChannelState][] = [
    ['Normal channel state, no HTLC', fx.idle],
    [`Normal channel state, ${countHtlcs(fx.busy)} HTLCs + pending changes`, fx.busy],
  ];
  for (const [label, st] of states) {
    const j = jsonChannelState(st);
    const bin = encodeChannelState(st);
    await measure(`${label}: encode, JSON (before)`, () => jsonChannelState(st), kb(j.length));
    await measure(`${label}: encode, binary`, () => encodeChannelState(st), kb(bin.length));
    await measure(`${label}: decode, JSON (before)`, () => decodeChannelState(j), '');
    await measure(`${label}: decode, binary`, () => decodeChannelState(bin), '');
  }
  {
    let i = 0;
    const s = fx.stream;
    const jBytes = s.reduce((t, x) => t + jsonChannelState(x).length, 0) / s.length;
    const bBytes = s.reduce((t, x) => t + encodeChannelState(x).length, 0) / s.length;
    await measure(
      `payment stream: encode each of ${s.length} successive states, JSON (before)`,
      () => jsonChannelState(s[i++ % s.length]!),
      `${kb(Math.round(jBytes))} on average`,
    );
    await measure(
      `payment stream: encode each of ${s.length} successive states, binary`,
      () => encodeChannelState(s[i++ % s.length]!),
      `${kb(Math.round(bBytes))} on average`,
    );
  }
  for (const [label, u] of [
    [`monitor update LocalCommitment (${htlcTxs(fx.localUpdate)} HTLC txs)`, fx.localUpdate],
    ['monitor update RemoteCommitment', fx.remoteUpdate],
  ] as const) {
    const j = jsonRecord(u);
    const bin = encodeRecord(u);
    await measure(`${label}: encode, JSON (before)`, () => jsonRecord(u), kb(j.length));
    await measure(`${label}: encode, binary`, () => encodeRecord(u), kb(bin.length));
    await measure(`${label}: decode, JSON (before)`, () => decodeRecord(j), '');
    await measure(`${label}: decode, binary`, () => decodeRecord(bin), '');
  }
  return rows;
}

function countHtlcs(s: ChannelState): number {
  return s.kind === 'Normal' ? s.data.commitments.localCommit.spec.htlcs.length : 0;
}

function htlcTxs(u: MonitorUpdate): number {
  return u.type === 'LocalCommitment' ? u.htlcTxs.length : 0;
}
