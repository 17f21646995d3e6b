/**
 * In-memory two-party harness for the channel state machine: Alice (opener) and Bob (acceptor)
 * exchange the messages their `SendMessage` effects produce (round-tripped through the wire
 * codec), over FIFO links that can be cut and restored.
 */
import { loadNativeSecp256k1 } from '../../../src/adapters/crypto/native-secp256k1.js';
import {
  type ChannelConfig,
  type ChannelEffect,
  type ChannelInput,
  type ChannelKeys,
  type ChannelState,
  type CmdOpen,
  type Commitments,
  decodeChannelState,
  defaultChannelConfig,
  encodeChannelState,
  type FundedData,
  type StepContext,
  step,
} from '../../../src/core/channel/index.js';
import { sha256 } from '../../../src/protocol/crypto/hash.js';
import { setSecp256k1Backend } from '../../../src/protocol/crypto/secp256k1.js';
import { concat, toHex, utf8 } from '../../../src/protocol/encoding/bytes.js';
import { p2wpkh } from '../../../src/protocol/tx/script.js';
import type { Transaction } from '../../../src/protocol/tx/transaction.js';
import { decodeMessage, encodeMessage, type KnownMessage } from '../../../src/protocol/wire/messages.js';

/** Installs the native secp256k1 backend when available (byte-identical, much faster). */
/** JSON of a value with byte arrays as hex and bigints as strings (deep comparisons in messages). */
export const hexJson = (k: object): string =>
  JSON.stringify(k, (_k, v) => (v instanceof Uint8Array ? toHex(v) : typeof v === 'bigint' ? `${v}` : v));

export function useFastCrypto(): void {
  try {
    setSecp256k1Backend(loadNativeSecp256k1());
  } catch {
    // noble fallback
  }
}

export const CHAIN_HASH = sha256(utf8('farad-test-chain'));

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

export function configFor(name: string, over: Partial<ChannelConfig> = {}): ChannelConfig {
  const script = p2wpkh(new Uint8Array(33).fill(name === 'alice' ? 2 : 3));
  return { ...defaultChannelConfig(CHAIN_HASH, script), ...over };
}

/** One channel endpoint. */
export class Peer {
  state: ChannelState;
  ctx: StepContext;
  /** Every effect ever produced. */
  log: ChannelEffect[] = [];
  /** The last persisted state (what a restart restores). */
  persisted: ChannelState | undefined;
  private counter = 0;
  constructor(
    readonly name: string,
    config: ChannelConfig,
    readonly keys: ChannelKeys,
    feeratePerKw = 2500,
  ) {
    this.state = { kind: 'WaitForOpenChannel', config };
    this.ctx = {
      blockHeight: 1000,
      keys,
      feeratePerKw,
      randomBytes: (n: number) => sha256(utf8(`${name}/rand/${this.counter++}`)).slice(0, n),
    };
  }
  /** Steps one input; returns its effects. */
  apply(input: ChannelInput): ChannelEffect[] {
    const r = step(this.state, input, this.ctx);
    this.state = r.state;
    this.log.push(...r.effects);
    for (const e of r.effects) {
      if (e.type === 'PersistChannel') {
        // Persistence round-trips through the codec.
        this.persisted = decodeChannelState(encodeChannelState(e.state));
      }
    }
    return r.effects;
  }
  get data(): FundedData {
    const s = this.state;
    if (s.kind === 'Offline') return s.inner.data;
    if ('data' in s) return s.data;
    throw new Error(`${this.name} has no funded data in ${s.kind}`);
  }
  get commitments(): Commitments {
    return this.data.commitments;
  }
  get kind(): string {
    const s = this.state;
    return s.kind === 'Offline' ? `Offline(${s.inner.kind})` : s.kind;
  }
}

/** Wire round-trip: what the peer receives is exactly what decodes from the encoded message. */
function viaWire(m: KnownMessage): KnownMessage {
  return decodeMessage(encodeMessage(m)) as KnownMessage;
}

/** Alice (opener) and Bob (acceptor) connected by two FIFO links. */
export class Pair {
  readonly alice: Peer;
  readonly bob: Peer;
  /** Messages in flight: to Bob, to Alice. */
  toBob: KnownMessage[] = [];
  toAlice: KnownMessage[] = [];
  connected = true;
  /** Side effects of interest captured during pumping. */
  fundingTx: Transaction | undefined;
  constructor(
    opts: { alice?: Partial<ChannelConfig>; bob?: Partial<ChannelConfig>; feeratePerKw?: number } = {},
  ) {
    this.alice = new Peer('alice', configFor('alice', opts.alice), keysFrom('alice'), opts.feeratePerKw);
    this.bob = new Peer('bob', configFor('bob', opts.bob), keysFrom('bob'), opts.feeratePerKw);
  }
  other(p: Peer): Peer {
    return p === this.alice ? this.bob : this.alice;
  }
  /** Applies an input to `p` and routes its messages (dropped when disconnected). */
  input(p: Peer, input: ChannelInput): ChannelEffect[] {
    const effects = p.apply(input);
    this.route(p, effects);
    return effects;
  }
  route(p: Peer, effects: ChannelEffect[]): void {
    for (const e of effects) {
      if (e.type === 'SendMessage' && this.connected) {
        (p === this.alice ? this.toBob : this.toAlice).push(viaWire(e.msg));
      }
      if (e.type === 'BuildFundingTx') {
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
        this.fundingTx = tx;
        this.input(p, { type: 'FundingTxBuilt', tx, outputIndex: 0 });
      }
    }
  }
  /** Delivers one message to `p` if any is queued. */
  deliverOne(to: Peer): boolean {
    const q = to === this.alice ? this.toAlice : this.toBob;
    const m = q.shift();
    if (!m) return false;
    this.input(to, m);
    return true;
  }
  /** `from` offers an HTLC for test payment `n` (see {@link payment}) and signs it (nothing delivered yet). */
  addAndSign(from: Peer, n: number, amountMsat: bigint, cltvExpiry = 1100): void {
    this.input(from, {
      type: 'CmdAddHtlc',
      amountMsat,
      paymentHash: payment(n).hash,
      cltvExpiry,
      onion: ONION,
    });
    this.input(from, { type: 'CmdSign' });
  }
  /** Delivers everything until both queues are empty. */
  pump(max = 100_000): void {
    for (let i = 0; i < max; i++) {
      const a = this.deliverOne(this.alice);
      const b = this.deliverOne(this.bob);
      if (!a && !b) return;
    }
    throw new Error('pump did not converge');
  }
  disconnect(): void {
    this.connected = false;
    this.toAlice = [];
    this.toBob = [];
    this.input(this.alice, { type: 'Disconnected' });
    this.input(this.bob, { type: 'Disconnected' });
  }
  reconnect(): void {
    this.connected = true;
    this.input(this.alice, { type: 'Connected' });
    this.input(this.bob, { type: 'Connected' });
    this.pump();
  }
  /** Open + fund + confirm to Normal. */
  open(cmd: Partial<Omit<CmdOpen, 'type'>> = {}): void {
    const full: CmdOpen = {
      type: 'CmdOpen',
      fundingSats: 1_000_000n,
      pushMsat: 200_000_000n,
      channelType: 'anchors_zero_fee_htlc_tx',
      zeroConf: false,
      announce: false,
      ...cmd,
    };
    this.input(this.alice, full);
    this.pump();
    this.input(this.alice, { type: 'FundingConfirmed', depth: 6, scid: 123n << 40n });
    this.input(this.bob, { type: 'FundingConfirmed', depth: 6, scid: 123n << 40n });
    this.pump();
  }
  /** Both sides sign until nothing is left to sign. */
  settle(): void {
    for (let i = 0; i < 50; i++) {
      this.pump();
      const a = this.input(this.alice, { type: 'CmdSign' }).filter((e) => e.type !== 'CommandRejected');
      const b = this.input(this.bob, { type: 'CmdSign' }).filter((e) => e.type !== 'CommandRejected');
      this.pump();
      if (a.length === 0 && b.length === 0 && this.toAlice.length === 0 && this.toBob.length === 0) return;
    }
    throw new Error('settle did not converge');
  }
}

export const ONION = new Uint8Array(1366);

/** A preimage and its hash for test payment `n`. */
export function payment(n: number): { preimage: Uint8Array; hash: Uint8Array } {
  const preimage = sha256(
    concat(utf8('preimage'), Uint8Array.of(n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff)),
  );
  return { preimage, hash: sha256(preimage) };
}

/** The effects of a given type. */
export function ofType<T extends ChannelEffect['type']>(
  effects: ChannelEffect[],
  t: T,
): Extract<ChannelEffect, { type: T }>[] {
  return effects.filter((e): e is Extract<ChannelEffect, { type: T }> => e.type === t);
}

/** Sorted copy of a spec's HTLCs (for order-insensitive comparison). */
function sortHtlcs<T extends { direction: string; id: bigint }>(h: readonly T[]): T[] {
  return [...h].sort((a, b) =>
    a.direction < b.direction ? -1 : a.direction > b.direction ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0,
  );
}

/** Structural checks both sides must satisfy at any time: each side's view of the other's commitment matches. */
export function agreement(p: Pair): string[] {
  const problems: string[] = [];
  const a = p.alice.commitments;
  const b = p.bob.commitments;
  const hex = (x: Uint8Array) => Buffer.from(x).toString('hex');
  const same = (what: string, x: unknown, y: unknown) => {
    const sx = JSON.stringify(x, (_k, v) =>
      typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? hex(v) : v,
    );
    const sy = JSON.stringify(y, (_k, v) =>
      typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? hex(v) : v,
    );
    if (sx !== sy) problems.push(`${what}: ${sx} != ${sy}`);
  };
  same('alice local index vs bob remote', a.localCommit.index, b.remoteCommit.index);
  same('bob local index vs alice remote', b.localCommit.index, a.remoteCommit.index);
  same('alice local txid vs bob remote', hex(a.localCommit.txid), hex(b.remoteCommit.txid));
  same('bob local txid vs alice remote', hex(b.localCommit.txid), hex(a.remoteCommit.txid));
  same(
    'alice local spec vs bob remote',
    { ...a.localCommit.spec, htlcs: sortHtlcs(a.localCommit.spec.htlcs) },
    {
      ...b.remoteCommit.spec,
      htlcs: sortHtlcs(b.remoteCommit.spec.htlcs),
    },
  );
  same(
    'bob local spec vs alice remote',
    { ...b.localCommit.spec, htlcs: sortHtlcs(b.localCommit.spec.htlcs) },
    {
      ...a.remoteCommit.spec,
      htlcs: sortHtlcs(a.remoteCommit.spec.htlcs),
    },
  );
  for (const [n, c] of [
    ['alice', a],
    ['bob', b],
  ] as const) {
    for (const spec of [c.localCommit.spec, c.remoteCommit.spec]) {
      let sum = spec.toLocalMsat + spec.toRemoteMsat;
      for (const h of spec.htlcs) sum += h.amountMsat;
      if (sum !== c.params.fundingAmountSat * 1000n) problems.push(`${n}: balances do not conserve (${sum})`);
      if (spec.toLocalMsat < 0n || spec.toRemoteMsat < 0n) problems.push(`${n}: negative balance`);
    }
  }
  return problems;
}
