/**
 * Test harness for the BOLT #5 monitor: a real two-party channel (the channel harness) funded
 * on an in-process consensus-strict devnet chain, one monitor per party fed with the channel's
 * MonitorUpdates and every block, and a tiny wallet per party answering CPFP / HTLC-funding
 * requests. Every transaction a monitor emits is submitted to the devnet (all scripts verified).
 */
import { expect } from 'vitest';
import { DevnetChain, MINER_SCRIPT, TxRejected } from '../../../src/apps/devnet/index.js';
import { fundScript } from '../../../src/apps/devnet/miner.js';
import type {
  ChannelConfig,
  ChannelEffect,
  ChannelTypeName,
  LocalCommitmentUpdate,
} from '../../../src/core/channel/index.js';
import {
  decodeMonitorState,
  encodeMonitorState,
  initialMonitorState,
  type MonitorContext,
  type MonitorEffect,
  type MonitorInput,
  type MonitorState,
  monitorStep,
  signAnchorSpend,
  signedLocalCommitment,
  signFundedHtlcTx,
} from '../../../src/core/monitor/index.js';
import { sha256 } from '../../../src/protocol/crypto/hash.js';
import { secp } from '../../../src/protocol/crypto/secp256k1.js';
import { equal, toHex, utf8 } from '../../../src/protocol/encoding/bytes.js';
import { p2wpkh, p2wpkhScriptCode } from '../../../src/protocol/tx/script.js';
import { derWithHashType } from '../../../src/protocol/tx/signature.js';
import {
  SIGHASH_ALL,
  sighashSegwitV0,
  type Transaction,
  txidHex,
  weight,
} from '../../../src/protocol/tx/transaction.js';
import { ONION, Pair, type Peer, payment } from '../channel/harness.js';

/** A P2WPKH key. */
export interface Key {
  priv: Uint8Array;
  pub: Uint8Array;
  script: Uint8Array;
}

export function keyOf(label: string): Key {
  const priv = sha256(utf8(`monitor test ${label}`));
  const pub = secp().publicKey(priv);
  return { priv, pub, script: p2wpkh(pub) };
}

/** The channel harness with its funding transaction paid by the devnet miner. */
export class DevnetPair extends Pair {
  chain!: DevnetChain;
  override route(p: Peer, effects: ChannelEffect[]): void {
    super.route(
      p,
      effects.filter((e) => e.type !== 'BuildFundingTx'),
    );
    for (const e of effects) {
      if (e.type !== 'BuildFundingTx') continue;
      const id = fundScript(this.chain, e.scriptPubKey, e.amountSat);
      const tx = this.chain.mempool.get(id)!.tx;
      const vout = tx.outputs.findIndex((o) => equal(o.scriptPubKey, e.scriptPubKey));
      this.fundingTx = tx;
      this.input(p, { type: 'FundingTxBuilt', tx, outputIndex: vout });
    }
  }
}

/** One party's monitor, sweep destination and wallet. */
export class Party {
  state: MonitorState = initialMonitorState();
  effects: MonitorEffect[] = [];
  private fed = 0;
  readonly dest: Key;
  readonly wallet: Key;
  /** Txids of every transaction this party (monitor or wallet) submitted and the chain accepted. */
  readonly paid = new Set<string>();
  readonly rejections: { kind: string; reason: string }[] = [];
  feeratePerKw = 1000;
  constructor(
    readonly name: string,
    readonly peer: Peer,
    readonly h: Harness,
  ) {
    this.dest = keyOf(`${name} dest`);
    this.wallet = keyOf(`${name} wallet`);
  }
  ctx(): MonitorContext {
    return { keys: this.peer.keys, feeratePerKw: this.feeratePerKw, destinationScript: this.dest.script };
  }
  /** Feeds new MonitorUpdates from the channel log. */
  sync(): void {
    const log = this.peer.log;
    for (; this.fed < log.length; this.fed++) {
      const e = log[this.fed]!;
      if (e.type === 'MonitorUpdate') this.step(e.update);
    }
  }
  step(input: MonitorInput): MonitorEffect[] {
    const r = monitorStep(this.state, input, this.ctx());
    // Every state goes through the persistence codec.
    this.state = decodeMonitorState(encodeMonitorState(r.state));
    this.effects.push(...r.effects);
    this.execute(r.effects);
    return r.effects;
  }
  private submit(kind: string, txs: Transaction[]): boolean {
    try {
      if (txs.length === 1) this.h.chain.acceptTx(txs[0]!);
      else this.h.chain.acceptPackage(txs);
      for (const t of txs) this.paid.add(txidHex(t));
      return true;
    } catch (e) {
      if (!(e instanceof TxRejected)) throw e;
      this.rejections.push({ kind, reason: e.message });
      return false;
    }
  }
  execute(effects: MonitorEffect[]): void {
    for (const e of effects) {
      if (e.type === 'Broadcast') {
        if (!this.h.chain.mempool.has(txidHex(e.tx)) && !this.h.chain.getConfirmedTx(txidHex(e.tx)))
          this.submit(e.kind, [e.tx]);
      } else if (e.type === 'RequestCpfp') {
        if (this.h.chain.getConfirmedTx(toHex(e.parentTxid))) continue;
        if (
          [...this.h.chain.mempool.values()].some((m) => m.tx.inputs.some((i) => equal(i.txid, e.parentTxid)))
        )
          continue;
        const coin = this.coin();
        const child: Transaction = {
          version: 2,
          inputs: [
            {
              txid: e.anchor.txid,
              vout: e.anchor.vout,
              scriptSig: new Uint8Array(0),
              sequence: 0xfffffffd,
              witness: [],
            },
            {
              txid: coin.txid,
              vout: coin.vout,
              scriptSig: new Uint8Array(0),
              sequence: 0xfffffffd,
              witness: [],
            },
          ],
          outputs: [{ value: 0n, scriptPubKey: this.wallet.script }],
          locktime: 0,
        };
        child.inputs[0]!.witness = [new Uint8Array(73), e.anchor.witnessScript];
        child.inputs[1]!.witness = [new Uint8Array(73), this.wallet.pub];
        const total = (BigInt(e.targetFeeratePerKw) * BigInt(e.parentWeight + weight(child)) + 999n) / 1000n;
        child.outputs[0]!.value = e.anchor.amountSat + coin.value - (total - e.parentFeeSat);
        child.inputs[0]!.witness = signAnchorSpend(child, 0, e.anchor, this.peer.keys);
        child.inputs[1]!.witness = this.signWallet(child, 1, coin.value);
        this.submit('cpfp', [e.parentTx, child]);
      } else if (e.type === 'FundHtlcTx') {
        const t = e.request.htlc.htlcTx.tx;
        const spent = [...this.h.chain.mempool.values()].some((m) =>
          m.tx.inputs.some((i) => equal(i.txid, t.inputs[0]!.txid) && i.vout === t.inputs[0]!.vout),
        );
        if (spent) continue;
        const coin = this.coin();
        const tx: Transaction = {
          ...t,
          inputs: [
            { ...t.inputs[0]!, witness: [] },
            {
              txid: coin.txid,
              vout: coin.vout,
              scriptSig: new Uint8Array(0),
              sequence: 0xfffffffd,
              witness: [],
            },
          ],
          outputs: [t.outputs[0]!, { value: 0n, scriptPubKey: this.wallet.script }],
        };
        tx.inputs[1]!.witness = [new Uint8Array(73), this.wallet.pub];
        // Our part's expected weight (Appendix A) plus the wallet input/output.
        const w =
          e.request.weight +
          (weight(tx) - weight({ ...tx, inputs: [tx.inputs[0]!], outputs: [tx.outputs[0]!] }));
        const fee = (BigInt(e.targetFeeratePerKw) * BigInt(w) + 999n) / 1000n;
        tx.outputs[1]!.value = coin.value - fee;
        const signed = signFundedHtlcTx(
          tx,
          e.request,
          this.peer.keys,
          this.peer.commitments.params.local.htlcBasepoint,
        );
        signed.inputs[1]!.witness = this.signWallet(signed, 1, coin.value);
        this.submit(e.request.htlc.direction === 'offered' ? 'htlc-timeout' : 'htlc-success', [signed]);
      }
    }
  }
  private signWallet(tx: Transaction, i: number, value: bigint): Uint8Array[] {
    const d = sighashSegwitV0(tx, i, p2wpkhScriptCode(this.wallet.pub), value, SIGHASH_ALL);
    return [derWithHashType(secp().sign(d, this.wallet.priv), SIGHASH_ALL), this.wallet.pub];
  }
  /** A confirmed wallet coin not spent in the mempool. */
  private coin(): { txid: Uint8Array; vout: number; value: bigint } {
    const u = this.h.chain
      .utxosForScript(this.wallet.script)
      .find((c) => !this.h.chain.spentInMempool(c.txid, c.vout));
    if (!u) throw new Error(`${this.name}: wallet has no coin`);
    return { txid: Uint8Array.from(Buffer.from(u.txid, 'hex')), vout: u.vout, value: u.coin.value };
  }
  /** Sum of confirmed outputs at the destination and the wallet. */
  balance(): bigint {
    let s = 0n;
    for (const k of [this.dest, this.wallet])
      for (const u of this.h.chain.utxosForScript(k.script)) s += u.coin.value;
    return s;
  }
  of<T extends MonitorEffect['type']>(t: T): Extract<MonitorEffect, { type: T }>[] {
    return this.effects.filter((e): e is Extract<MonitorEffect, { type: T }> => e.type === t);
  }
  /** Fees (inputs - outputs) of the confirmed transactions this party submitted. */
  feesPaid(exclude: Set<string> = new Set()): bigint {
    let total = 0n;
    for (const id of this.paid) {
      const c = this.h.chain.getConfirmedTx(id);
      if (!c || exclude.has(id)) continue;
      total += this.h.feeOf(c.tx);
    }
    return total;
  }
}

/** Channel + chain + both monitors. */
export class Harness {
  readonly chain = new DevnetChain();
  readonly pair: DevnetPair;
  readonly alice: Party;
  readonly bob: Party;
  /** Values of every output the chain confirmed (for fees). */
  private values = new Map<string, bigint>();
  walletStart = 0n;
  constructor(
    readonly channelType: ChannelTypeName,
    opts: {
      alice?: Partial<ChannelConfig>;
      bob?: Partial<ChannelConfig>;
      pushMsat?: bigint;
      fundingSats?: bigint;
    } = {},
  ) {
    this.pair = new DevnetPair({
      // Distinct delays catch swapped roles: Alice's outputs wait for Bob's to_self_delay (7).
      alice: { toSelfDelay: 5, maxAcceptedHtlcs: 30, ...opts.alice },
      bob: { toSelfDelay: 7, maxAcceptedHtlcs: 30, ...opts.bob },
    });
    this.pair.chain = this.chain;
    this.alice = new Party('alice', this.pair.alice, this);
    this.bob = new Party('bob', this.pair.bob, this);
    // Wallet coins for CPFP / HTLC funding.
    for (const p of [this.alice, this.bob])
      for (let i = 0; i < 3; i++) fundScript(this.chain, p.wallet.script, 200_000n);
    this.mine();
    this.walletStart = 600_000n;
    this.setHeights();
    this.pair.open({
      channelType: this.channelType,
      fundingSats: opts.fundingSats ?? 1_000_000n,
      pushMsat: opts.pushMsat ?? 300_000_000n,
    });
    this.sync();
    this.mine(3);
  }
  get height(): number {
    return this.chain.height;
  }
  /**
   * The breach set-up: three HTLCs in flight (two from alice, one from bob); bob keeps that
   * commitment (fully signed, see {@link bobsLatestCommitment}); then the channel moves on (the
   * first HTLC is fulfilled with test payment 21's preimage, another HTLC is added), so the kept
   * commitment is revoked. Returns the kept commitment.
   */
  keptRevokedCommitment(): LocalCommitmentUpdate {
    const base = this.height;
    const x1 = this.addHtlc(this.pair.alice, 21, 30_000_000n, base + 50);
    this.addHtlc(this.pair.bob, 22, 18_000_000n, base + 50);
    this.addHtlc(this.pair.alice, 23, 10_000_000n, base + 60);
    const old = this.bobsLatestCommitment();
    this.pair.input(this.pair.bob, { type: 'CmdFulfill', id: x1, preimage: payment(21).preimage });
    this.pair.settle();
    this.addHtlc(this.pair.alice, 24, 5_000_000n, base + 70);
    this.sync();
    return old;
  }
  /**
   * Bob's latest commitment (from his channel's monitor updates), fully signed as his monitor
   * would publish it, with its HTLC transactions: what a cheater keeps to publish later.
   */
  bobsLatestCommitment(): LocalCommitmentUpdate {
    const u = this.pair.bob.log
      .filter((e) => e.type === 'MonitorUpdate' && e.update.type === 'LocalCommitment')
      .at(-1);
    if (u?.type !== 'MonitorUpdate' || u.update.type !== 'LocalCommitment')
      throw new Error('no local commitment');
    const funded = this.bob.state.funded;
    if (!funded) throw new Error("bob's monitor is not funded");
    const { remoteSig: _, ...rest } = u.update;
    return { ...rest, commitTx: signedLocalCommitment(u.update, funded, this.pair.bob.keys.fundingPrivkey) };
  }
  setHeights(): void {
    this.pair.alice.ctx.blockHeight = this.chain.height;
    this.pair.bob.ctx.blockHeight = this.chain.height;
  }
  sync(): void {
    this.alice.sync();
    this.bob.sync();
  }
  feeOf(tx: Transaction): bigint {
    let inSum = 0n;
    for (const i of tx.inputs) inSum += this.values.get(`${toHex(i.txid)}:${i.vout}`)!;
    let outSum = 0n;
    for (const o of tx.outputs) outSum += o.value;
    return inSum - outSum;
  }
  /** Mines `n` blocks with the mempool, feeding both monitors (which broadcast into the mempool). */
  mine(n = 1, txs?: Transaction[]): void {
    for (let k = 0; k < n; k++) {
      const entry = this.chain.mineBlock(MINER_SCRIPT, txs ? { txs } : {});
      for (const tx of entry.block.txs) {
        const id = txidHex(tx);
        tx.outputs.forEach((o, v) => {
          this.values.set(`${id}:${v}`, o.value);
        });
      }
      this.setHeights();
      for (const p of [this.alice, this.bob]) {
        if (!p.state.funded) continue;
        const now = p.step({ type: 'BlockConnected', height: entry.height, txs: entry.block.txs });
        this.checkPremature(p, now);
      }
    }
  }
  /** Time-locked claims the monitor would emit one block later are rejected by the chain now. */
  prematureChecked = 0;
  private checkPremature(p: Party, now: MonitorEffect[]): void {
    const later = monitorStep(
      p.state,
      { type: 'BlockConnected', height: p.state.height + 1, txs: [] },
      p.ctx(),
    );
    const nowIds = new Set(now.filter((e) => e.type === 'Broadcast').map((e) => txidHex(e.tx)));
    for (const e of later.effects) {
      if (e.type !== 'Broadcast' || nowIds.has(txidHex(e.tx)) || e.kind === 'local-commitment') continue;
      if (this.chain.mempool.has(txidHex(e.tx))) continue;
      let reason = '';
      try {
        this.chain.acceptTx(e.tx, { testOnly: true });
      } catch (err) {
        if (!(err instanceof TxRejected)) throw err;
        reason = err.message;
      }
      // Either its lock is not reached yet, or something spending the same output is pending.
      if (!/already|conflict|missingorspent/.test(reason)) {
        expect(reason, `${p.name} ${e.kind} accepted one block early`).toMatch(/non-final|non-BIP68-final/);
        this.prematureChecked++;
      }
    }
  }
  /** Mines until `pred` holds (at most `max` blocks). */
  mineUntil(pred: () => boolean, max = 60): void {
    for (let i = 0; i < max && !pred(); i++) this.mine();
    expect(pred()).toBe(true);
  }
  /** Adds an HTLC from `from` and signs it into both commitments. */
  addHtlc(from: Peer, n: number, amountMsat: bigint, cltvExpiry: number): bigint {
    const effects = this.pair.input(from, {
      type: 'CmdAddHtlc',
      amountMsat,
      paymentHash: payment(n).hash,
      cltvExpiry,
      onion: ONION,
    });
    const rejected = effects.find((e) => e.type === 'CommandRejected');
    if (rejected) throw new Error(JSON.stringify(rejected, (_k, v) => (typeof v === 'bigint' ? `${v}` : v)));
    const msg = effects.find((e) => e.type === 'SendMessage');
    const id = msg && msg.type === 'SendMessage' && msg.msg.type === 'update_add_htlc' ? msg.msg.id : -1n;
    this.pair.settle();
    this.sync();
    return id;
  }
  /** `to` learns the preimage of payment `n` (the fulfill is NOT sent: the channel just knows it). */
  fulfill(to: Peer, id: bigint, n: number): void {
    this.pair.input(to, { type: 'CmdFulfill', id, preimage: payment(n).preimage });
    this.sync();
  }
  /** Both parties' rejections other than expected duplicates. */
  unexpectedRejections(): string[] {
    return [this.alice, this.bob].flatMap((p) =>
      p.rejections
        .filter((r) => !/already|missingorspent|conflict|insufficient fee/.test(r.reason))
        .map((r) => `${p.name} ${r.kind}: ${r.reason}`),
    );
  }
}
