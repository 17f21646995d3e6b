/**
 * Two in-memory endpoints of one anchors channel (10,000,000 sat, 5,000,000,000 msat pushed),
 * driven by the core state machine for benchmarks: messages round-trip through the wire codec,
 * the opener's `BuildFundingTx` is answered with a fake one-input funding transaction, and
 * {@link BenchPair.open} brings both sides to `Normal`.
 */
import {
  type ChannelEffect,
  type ChannelInput,
  type ChannelKeys,
  type ChannelState,
  defaultChannelConfig,
  step,
} from '../src/core/channel/index.js';
import { sha256 } from '../src/protocol/crypto/hash.js';
import { utf8 } from '../src/protocol/encoding/bytes.js';
import { p2wpkh } from '../src/protocol/tx/script.js';
import type { Transaction } from '../src/protocol/tx/transaction.js';
import { decodeMessage, encodeMessage, type KnownMessage } from '../src/protocol/wire/messages.js';

/** Deterministic channel secrets from a seed string. */
export function keysFrom(seed: string): ChannelKeys {
  const k = (label: string) => sha256(utf8(`${seed}/${label}`));
  return {
    fundingPrivkey: k('funding'),
    revocationBasepointSecret: k('revocation'),
    paymentBasepointSecret: k('payment'),
    delayedPaymentBasepointSecret: k('delayed'),
    htlcBasepointSecret: k('htlc'),
    perCommitmentSeed: k('seed'),
  };
}

/** One endpoint: `a` (opener) or `b`. */
export interface BenchEnd {
  readonly name: 'a' | 'b';
  state: ChannelState;
  inbox: KnownMessage[];
  counter: number;
}

export interface BenchPairOptions {
  /** The keys of a step (called on every step; default: fixed keys from `${tag}/${name}`). */
  keys?: (end: BenchEnd) => ChannelKeys;
  /** Sees every effect of every step (before messages are delivered). */
  onEffect?: (end: BenchEnd, e: ChannelEffect) => void;
  /** Short channel id given at confirmation (default `(800000 << 40) | 1`). */
  scid?: bigint;
}

/** See the module documentation. */
export class BenchPair {
  readonly a: BenchEnd;
  readonly b: BenchEnd;
  readonly #tag: string;
  readonly #opts: BenchPairOptions;
  readonly #fixedKeys = new Map<string, ChannelKeys>();

  constructor(tag: string, opts: BenchPairOptions = {}) {
    this.#tag = tag;
    this.#opts = opts;
    const chainHash = sha256(utf8('bench-chain'));
    const mk = (name: 'a' | 'b'): BenchEnd => ({
      name,
      state: {
        kind: 'WaitForOpenChannel',
        config: defaultChannelConfig(chainHash, p2wpkh(new Uint8Array(33).fill(name === 'a' ? 2 : 3))),
      },
      inbox: [],
      counter: 0,
    });
    this.a = mk('a');
    this.b = mk('b');
  }

  #keys(p: BenchEnd): ChannelKeys {
    if (this.#opts.keys) return this.#opts.keys(p);
    let k = this.#fixedKeys.get(p.name);
    if (!k) {
      k = keysFrom(`${p.name}/${this.#tag}`);
      this.#fixedKeys.set(p.name, k);
    }
    return k;
  }

  /** Steps `input` on `p` and delivers its messages to the other side's inbox. */
  apply(p: BenchEnd, input: ChannelInput): void {
    const r = step(p.state, input, {
      blockHeight: 1000,
      keys: this.#keys(p),
      feeratePerKw: 253,
      randomBytes: (n: number) => sha256(utf8(`${p.name}/${this.#tag}/rand/${p.counter++}`)).slice(0, n),
    });
    p.state = r.state;
    const other = p === this.a ? this.b : this.a;
    for (const e of r.effects) {
      this.#opts.onEffect?.(p, e);
      if (e.type === 'SendMessage') other.inbox.push(decodeMessage(encodeMessage(e.msg)) as KnownMessage);
      else if (e.type === 'BuildFundingTx') {
        const tx: Transaction = {
          version: 2,
          inputs: [
            {
              txid: sha256(utf8(`coin/${this.#tag}`)),
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

  /** Delivers messages both ways until both inboxes are empty. */
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

  /** Opens the channel (anchors, 10M sat, half pushed) and confirms it: both sides `Normal`. */
  open(): this {
    this.apply(this.a, {
      type: 'CmdOpen',
      fundingSats: 10_000_000n,
      pushMsat: 5_000_000_000n,
      channelType: 'anchors_zero_fee_htlc_tx',
      zeroConf: false,
      announce: false,
    });
    this.pump();
    const scid = this.#opts.scid ?? (800_000n << 40n) | 1n;
    this.apply(this.a, { type: 'FundingConfirmed', depth: 6, scid });
    this.apply(this.b, { type: 'FundingConfirmed', depth: 6, scid });
    this.pump();
    if (this.a.state.kind !== 'Normal' || this.b.state.kind !== 'Normal')
      throw new Error(`not Normal: ${this.a.state.kind}/${this.b.state.kind}`);
    return this;
  }
}
