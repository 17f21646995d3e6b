/**
 * The on-chain wallet runtime (issue 3 §3): a BIP84 P2WPKH wallet over a {@link ChainSource}.
 *
 * - Addresses: receive (keychain 0) and change (keychain 1) scripts are watched up to
 *   `gapLimit` (default 20) past the highest used or handed-out index; the watch window grows
 *   synchronously while the chain source scans a block, so no payment inside the gap is missed.
 * - UTXOs are derived from the chain source's relevant transactions: outputs to our scripts not
 *   spent by any live transaction. Unconfirmed outputs are "trusted" when every input of their
 *   transaction is ours (our own change); only confirmed and trusted coins are spent.
 * - A reserve of confirmed UTXOs worth at least `reserveSats` is kept aside for anchor fee
 *   bumping; normal sends skip it unless `allowReserve` is set.
 * - send / bumpFee (BIP125 RBF) / cpfp build a PSBT, sign it (core/wallet/build.ts) and
 *   broadcast through the chain source (typed BroadcastError on rejection).
 */

import { type SignedTx, type SpendInput, signP2wpkh } from '../../core/wallet/build.js';
import { planCpfp, planRbf } from '../../core/wallet/bump.js';
import type { Coin } from '../../core/wallet/coinselect.js';
import { selectCoins } from '../../core/wallet/coinselect.js';
import {
  DustOutputError,
  FeeTooLowError,
  InvalidAddressError,
  WalletError,
} from '../../core/wallet/errors.js';
import {
  dustLimit,
  feeRateOf,
  MIN_FEERATE_SAT_PER_KW,
  outputWeight,
  P2WPKH_INPUT_WEIGHT,
  txBaseWeight,
} from '../../core/wallet/fees.js';
import { Bip84Account, type DerivedKey, type Keychain } from '../../core/wallet/keys.js';
import { secp } from '../../protocol/crypto/secp256k1.js';
import { fromHex, toHex } from '../../protocol/encoding/bytes.js';
import { DecodeError } from '../../protocol/errors.js';
import { addressToScript, type Network } from '../../protocol/tx/address.js';
import { p2wpkhScriptCode } from '../../protocol/tx/script.js';
import { derWithHashType } from '../../protocol/tx/signature.js';
import {
  SIGHASH_ALL,
  sighashSegwitV0,
  type Transaction,
  type TxOut,
  txidHex,
  weight as txWeight,
} from '../../protocol/tx/transaction.js';
import type { ChainEvent, ChainSource, WatchedTx } from '../ports/chain.js';

/** Options of an {@link OnchainWallet}. */
export interface WalletOptions {
  mnemonic: string;
  passphrase?: string;
  network: Network;
  chain: ChainSource;
  account?: number;
  /** Unused addresses watched past the last used one, per keychain. Default 20. */
  gapLimit?: number;
  /** Confirmed sats kept aside for anchor fee bumping. Default 0. */
  reserveSats?: bigint;
  /** Confirmation target used when a send gives no fee rate. Default 6. */
  feeTarget?: number;
}

/** A wallet-owned unspent output. */
export interface WalletUtxo {
  txid: string;
  vout: number;
  value: bigint;
  script: Uint8Array;
  keychain: Keychain;
  index: number;
  /** 0 while unconfirmed. */
  confirmations: number;
  /** Confirmed, or unconfirmed but created by the wallet itself (all inputs ours). */
  trusted: boolean;
  /** Part of the anchor reserve. */
  reserved: boolean;
}

/** Wallet balances in sats. `total = confirmed + unconfirmed + reserved`. */
export interface Balances {
  /** Confirmed and not reserved. */
  confirmed: bigint;
  /** Unconfirmed (own change and incoming). */
  unconfirmed: bigint;
  /** Confirmed coins set aside as the anchor reserve. */
  reserved: bigint;
  total: bigint;
}

/** A send request. */
export interface SendRequest {
  address: string;
  amount: bigint;
  /** Fee rate, sat/kw (>= 253). Default: the chain source's estimate for `target`. */
  feeRate?: bigint;
  /** Confirmation target for the estimate. Default: the wallet's `feeTarget`. */
  target?: number;
  /** May spend reserved coins. Default false. */
  allowReserve?: boolean;
}

/** The outcome of a send / bump / CPFP. */
export interface WalletTxResult {
  txid: string;
  tx: Transaction;
  fee: bigint;
  weight: number;
  vsize: number;
  /** Fee rate actually paid, sat/kw. */
  feeRate: bigint;
  /** Index of our change output, if any. */
  changeVout: number | undefined;
  /** The unsigned PSBT it was built from. */
  psbt: Uint8Array;
}

/** A CPFP result with the package figures. */
export interface CpfpResult extends WalletTxResult {
  /** Fees of the parent side (parent + unconfirmed wallet-known ancestors) and the child. */
  packageFee: bigint;
  /** Sum of the vsizes of the package, as Bitcoin Core counts ancestor size. */
  packageVsize: number;
  /** packageFee over packageVsize, sat/kw. */
  packageFeeRate: bigint;
}

interface KeyRef {
  keychain: Keychain;
  index: number;
}

/** A BIP84 wallet over a chain source. */
export class OnchainWallet {
  readonly network: Network;
  readonly chain: ChainSource;
  readonly gapLimit: number;
  readonly feeTarget: number;
  #reserveSats: bigint;
  readonly #account: Bip84Account;
  readonly #scripts = new Map<string, KeyRef>();
  /** Highest used index per keychain (-1 none). */
  readonly #used: [number, number] = [-1, -1];
  /** Next receive index to hand out. */
  #nextReceive = 0;
  /** Highest watched index per keychain. */
  readonly #watched: [number, number] = [-1, -1];
  #reserved = new Set<string>();
  /** Coins spent by built-but-unbroadcast transactions ({@link buildTx}). */
  readonly #locked = new Set<string>();
  readonly #unsubscribe: () => void;

  constructor(opts: WalletOptions) {
    this.network = opts.network;
    this.chain = opts.chain;
    this.gapLimit = opts.gapLimit ?? 20;
    this.feeTarget = opts.feeTarget ?? 6;
    this.#reserveSats = opts.reserveSats ?? 0n;
    if (this.gapLimit < 1) throw new WalletError('WALLET_BAD_OPTION', 'gap limit must be >= 1');
    this.#account = Bip84Account.fromMnemonic(
      opts.mnemonic,
      opts.network,
      opts.passphrase ?? '',
      opts.account ?? 0,
    );
    this.#extend(0);
    this.#extend(1);
    this.#unsubscribe = this.chain.subscribe((e) => this.#onEvent(e));
  }

  /** Stops listening to the chain source. */
  close(): void {
    this.#unsubscribe();
  }

  /** Polls the chain source (blocks, reorgs, mempool) and returns its events. */
  sync(): Promise<ChainEvent[]> {
    return this.chain.poll();
  }

  /** The account derivation path, e.g. `m/84'/1'/0'`. */
  get accountPath(): string {
    return this.#account.path;
  }

  /** Public data of one key. */
  key(keychain: Keychain, index: number): DerivedKey {
    return this.#account.key(keychain, index);
  }

  /** A fresh receive address (the next index never handed out and never used). */
  newAddress(): string {
    const idx = Math.max(this.#nextReceive, this.#used[0] + 1);
    this.#nextReceive = idx + 1;
    this.#extend(0);
    return this.#account.key(0, idx).address;
  }

  /** Sets the reserve target (sats of confirmed coins kept aside). */
  setReserve(sats: bigint): void {
    if (sats < 0n) throw new WalletError('WALLET_BAD_OPTION', 'reserve must be >= 0');
    this.#reserveSats = sats;
  }

  /** Whether `script` belongs to the wallet. */
  isMine(script: Uint8Array): boolean {
    return this.#scripts.has(toHex(script));
  }

  /** All wallet UTXOs (reserve flags updated). */
  utxos(): WalletUtxo[] {
    const list = this.#rawUtxos();
    this.#updateReserve(list);
    return list.map((u) => ({ ...u, reserved: this.#reserved.has(`${u.txid}:${u.vout}`) }));
  }

  /** Current balances. */
  balances(): Balances {
    let confirmed = 0n;
    let unconfirmed = 0n;
    let reserved = 0n;
    for (const u of this.utxos()) {
      if (u.reserved) reserved += u.value;
      else if (u.confirmations > 0) confirmed += u.value;
      else unconfirmed += u.value;
    }
    return { confirmed, unconfirmed, reserved, total: confirmed + unconfirmed + reserved };
  }

  /** Pays `amount` sats to `address`. */
  async send(req: SendRequest): Promise<WalletTxResult> {
    const p = await this.#plan(this.#parseAddress(req.address), req);
    return this.#signAndBroadcast(p.inputs, p.outputs, p.changeVout);
  }

  /**
   * Coin selection for one payment of `req.amount` to `script` (output 0) with change back to
   * the wallet (output 1, when above dust). Throws DustOutputError / InsufficientFundsError.
   */
  async #plan(
    script: Uint8Array,
    req: { amount: bigint; feeRate?: bigint; target?: number; allowReserve?: boolean },
  ): Promise<{ inputs: WalletUtxo[]; outputs: TxOut[]; changeVout: number | undefined }> {
    const dust = dustLimit(script);
    if (req.amount < dust) throw new DustOutputError(req.amount, dust);
    const feeRate = await this.#feeRate(req.feeRate, req.target);
    const coins = this.#spendable(req.allowReserve ?? false);
    const change = this.#changeKey();
    const sel = selectCoins({
      coins: coins.map(toCoin),
      target: req.amount,
      baseWeight: txBaseWeight(Math.max(1, coins.length), [script.length]),
      feeRate,
      changeWeight: outputWeight(change.script.length),
      changeDustLimit: dustLimit(change.script),
    });
    const outputs: TxOut[] = [{ value: req.amount, scriptPubKey: script }];
    if (sel.change > 0n) outputs.push({ value: sel.change, scriptPubKey: change.script });
    const byId = new Map(coins.map((u) => [`${u.txid}:${u.vout}`, u]));
    return {
      inputs: sel.coins.map((c) => byId.get(c.id)!),
      outputs,
      changeVout: sel.change > 0n ? 1 : undefined,
    };
  }

  /**
   * Builds and signs, but does NOT broadcast, a transaction paying `amount` sats to
   * `scriptPubKey` (e.g. a channel funding P2WSH output, at index 0) with change back to the
   * wallet. The coins it spends are locked (skipped by later sends and builds) until the
   * transaction is broadcast through the chain source or {@link unlockCoins} is called, so a
   * funding transaction waiting for the peer's signature cannot be double-spent by the wallet.
   */
  async buildTx(req: {
    scriptPubKey: Uint8Array;
    amount: bigint;
    feeRate?: bigint;
    target?: number;
    allowReserve?: boolean;
  }): Promise<WalletTxResult & { outputIndex: number }> {
    const { inputs, outputs, changeVout } = await this.#plan(req.scriptPubKey, req);
    const res = this.#sign(inputs, outputs, changeVout);
    for (const u of inputs) this.#locked.add(`${u.txid}:${u.vout}`);
    return { ...res, outputIndex: 0 };
  }

  /** Releases the coins a {@link buildTx} transaction locked (it will not be broadcast). */
  unlockCoins(tx: Transaction): void {
    for (const inp of tx.inputs) this.#locked.delete(`${toHex(inp.txid)}:${inp.vout}`);
  }

  /**
   * Replaces an unconfirmed wallet transaction with one paying `feeRate` (sat/kw): same
   * inputs (plus confirmed coins if the change cannot absorb the bump), same payments, smaller
   * change. Pays at least the evicted fees plus 1 sat/vB of its own size (BIP125 rules 3, 4).
   */
  async bumpFee(txid: string, feeRate: bigint): Promise<WalletTxResult> {
    if (feeRate < MIN_FEERATE_SAT_PER_KW) throw new FeeTooLowError(feeRate, MIN_FEERATE_SAT_PER_KW);
    const orig = this.chain.transaction(txid);
    if (!orig)
      throw new WalletError('WALLET_UNKNOWN_TX', 'transaction not known to the wallet', { details: txid });
    if (orig.confirmations > 0) throw new WalletError('WALLET_CANNOT_BUMP', 'transaction already confirmed');
    const owned = this.#ownOutputsIndex();
    const inputs: WalletUtxo[] = [];
    for (const inp of orig.tx.inputs) {
      const u = owned.get(`${toHex(inp.txid)}:${inp.vout}`);
      if (!u) throw new WalletError('WALLET_CANNOT_BUMP', 'transaction has inputs the wallet does not own');
      inputs.push(u);
    }
    if (!orig.tx.inputs.some((i) => i.sequence <= 0xfffffffd)) {
      throw new WalletError('WALLET_CANNOT_BUMP', 'transaction does not signal replaceability');
    }
    const origFee = sumValues(inputs) - sumOutputs(orig.tx.outputs);
    let replacedFees = origFee;
    const descendants = this.#descendants(txid);
    for (const d of descendants) replacedFees += await this.#feeOf(d.tx);
    let changeVout: number | undefined;
    orig.tx.outputs.forEach((o, i) => {
      if (changeVout === undefined && this.#scripts.get(toHex(o.scriptPubKey))?.keychain === 1)
        changeVout = i;
    });
    const payments = orig.tx.outputs.filter((_, i) => i !== changeVout);
    const changeScript =
      changeVout !== undefined ? orig.tx.outputs[changeVout]!.scriptPubKey : this.#changeKey().script;
    const excluded = new Set([txid, ...descendants.map((d) => d.txid)]);
    const extra = this.#spendable(false).filter((u) => u.confirmations > 0 && !excluded.has(u.txid));
    const plan = planRbf({
      inputs: inputs.map(toCoin),
      payments: payments.map((o) => ({ scriptLen: o.scriptPubKey.length, value: o.value })),
      changeScriptLen: changeScript.length,
      changeDustLimit: dustLimit(changeScript),
      originalFee: origFee,
      originalWeight: txWeight(orig.tx),
      replacedFees,
      feeRate,
      extraCoins: extra.map(toCoin),
    });
    const byId = new Map([...inputs, ...extra].map((u) => [`${u.txid}:${u.vout}`, u]));
    const outputs: TxOut[] = payments.map((o) => ({ value: o.value, scriptPubKey: o.scriptPubKey }));
    if (plan.change > 0n) outputs.push({ value: plan.change, scriptPubKey: changeScript });
    return this.#signAndBroadcast(
      plan.coins.map((c) => byId.get(c.id)!),
      outputs,
      plan.change > 0n ? outputs.length - 1 : undefined,
    );
  }

  /**
   * Child-pays-for-parent: spends our outputs of the unconfirmed `parentTxid` (plus confirmed
   * coins if needed) to a new change address with a fee that lifts the package (parent + its
   * unconfirmed wallet-known ancestors + child) to `feeRate` sat/kw.
   */
  async cpfp(parentTxid: string, feeRate: bigint): Promise<CpfpResult> {
    if (feeRate < MIN_FEERATE_SAT_PER_KW) throw new FeeTooLowError(feeRate, MIN_FEERATE_SAT_PER_KW);
    const parent = this.chain.transaction(parentTxid);
    if (!parent) throw new WalletError('WALLET_UNKNOWN_TX', 'transaction not known to the wallet');
    if (parent.confirmations > 0)
      throw new WalletError('WALLET_CANNOT_BUMP', 'transaction already confirmed');
    const own = this.#rawUtxos().filter((u) => u.txid === parentTxid);
    if (own.length === 0)
      throw new WalletError('WALLET_CANNOT_BUMP', 'no unspent wallet output in the parent');
    let parentVsize = 0;
    let parentFee = 0n;
    for (const a of this.#unconfirmedAncestry(parent)) {
      parentVsize += Math.ceil(txWeight(a.tx) / 4);
      parentFee += await this.#feeOf(a.tx);
    }
    const extra = this.#spendable(false).filter((u) => u.confirmations > 0);
    const change = this.#changeKey();
    const plan = planCpfp({
      parentVsize,
      parentFee,
      parentOutputs: own.map(toCoin),
      extraCoins: extra.map(toCoin),
      feeRate,
      changeScriptLen: change.script.length,
      changeDustLimit: dustLimit(change.script),
    });
    const byId = new Map([...own, ...extra].map((u) => [`${u.txid}:${u.vout}`, u]));
    const res = await this.#signAndBroadcast(
      plan.coins.map((c) => byId.get(c.id)!),
      [{ value: plan.change, scriptPubKey: change.script }],
      0,
    );
    const packageFee = parentFee + res.fee;
    const packageVsize = parentVsize + res.vsize;
    return { ...res, packageFee, packageVsize, packageFeeRate: feeRateOf(packageFee, 4 * packageVsize) };
  }

  /**
   * Funds (and signs its own part of) a transaction that spends foreign inputs the wallet cannot
   * sign — a commitment's anchor (CPFP child) or a zero-fee HTLC transaction's input (BOLT 3
   * option_anchors). `tx` gives the version, locktime, the foreign inputs (kept first, in order)
   * and the outputs to keep (first, in order); the wallet appends its inputs (sequence
   * 0xfffffffd) and a change output so that the result pays `feeRate` (sat/kw) on its final
   * weight plus `extraFee` (e.g. a CPFP parent's deficit). `foreignInputs[i]` gives the amount
   * and the signed weight (non-witness * 4 + witness) of `tx.inputs[i]`. The wallet inputs are
   * signed (SIGHASH_ALL); the caller MUST sign the foreign inputs without changing anything else
   * (their witnesses are not covered by the wallet's signatures) and broadcast the result. A
   * change output is always created when the template has no output. The coins are not locked:
   * broadcast at once. Throws {@link InsufficientFundsError} when the wallet cannot pay.
   */
  async fundForeignTx(req: {
    tx: Transaction;
    foreignInputs: readonly { amountSat: bigint; weight: number }[];
    feeRate: bigint;
    extraFee?: bigint;
    allowReserve?: boolean;
  }): Promise<WalletTxResult & { walletInputs: number }> {
    const t = req.tx;
    if (req.foreignInputs.length !== t.inputs.length)
      throw new WalletError('WALLET_BAD_OPTION', 'one foreignInputs entry per template input');
    if (req.feeRate < MIN_FEERATE_SAT_PER_KW) throw new FeeTooLowError(req.feeRate, MIN_FEERATE_SAT_PER_KW);
    const coins = this.#spendable(req.allowReserve ?? false);
    const change = this.#changeKey();
    const required = req.foreignInputs.map((f, i) => ({
      id: `foreign:${i}`,
      value: f.amountSat,
      inputWeight: f.weight,
    }));
    const sel = selectCoins({
      coins: coins.map(toCoin),
      required,
      target: sumOutputs(t.outputs),
      ...(req.extraFee !== undefined && req.extraFee > 0n ? { extraFee: req.extraFee } : {}),
      baseWeight: txBaseWeight(
        t.inputs.length + Math.max(1, coins.length),
        t.outputs.map((o) => o.scriptPubKey.length),
      ),
      feeRate: req.feeRate,
      changeWeight: outputWeight(change.script.length),
      changeDustLimit: dustLimit(change.script),
      requireChange: t.outputs.length === 0,
    });
    const byId = new Map(coins.map((u) => [`${u.txid}:${u.vout}`, u]));
    const mine = sel.coins.filter((c) => !c.id.startsWith('foreign:')).map((c) => byId.get(c.id)!);
    const tx: Transaction = {
      version: t.version,
      locktime: t.locktime,
      inputs: [
        ...t.inputs.map((i) => ({ ...i, witness: [...i.witness] })),
        ...mine.map((u) => ({
          txid: fromHex(u.txid),
          vout: u.vout,
          scriptSig: new Uint8Array(0),
          sequence: 0xfffffffd,
          witness: [] as Uint8Array[],
        })),
      ],
      outputs: [...t.outputs.map((o) => ({ ...o }))],
    };
    let changeVout: number | undefined;
    if (sel.change > 0n) {
      changeVout = tx.outputs.length;
      tx.outputs.push({ value: sel.change, scriptPubKey: change.script });
    }
    const base = t.inputs.length;
    mine.forEach((u, k) => {
      const priv = this.#account.privateKey(u.keychain, u.index);
      const pub = secp().publicKey(priv);
      const digest = sighashSegwitV0(tx, base + k, p2wpkhScriptCode(pub), u.value, SIGHASH_ALL);
      tx.inputs[base + k]!.witness = [derWithHashType(secp().sign(digest, priv), SIGHASH_ALL), pub];
    });
    let inSum = sumValues(mine);
    for (const f of req.foreignInputs) inSum += f.amountSat;
    const fee = inSum - sumOutputs(tx.outputs);
    const w = txWeight(tx);
    return {
      txid: txidHex(tx),
      tx,
      fee,
      weight: w,
      vsize: Math.ceil(w / 4),
      feeRate: feeRateOf(fee, w),
      changeVout,
      psbt: new Uint8Array(0),
      walletInputs: mine.length,
    };
  }

  /** Fee of any transaction whose prevouts the chain source can find (inputs - outputs). */
  async feeOf(txid: string): Promise<bigint> {
    const tx = await this.chain.fetchTransaction(txid);
    if (!tx) throw new WalletError('WALLET_UNKNOWN_TX', 'transaction not found', { details: txid });
    return this.#feeOf(tx);
  }

  // --- internals ---

  #onEvent(e: ChainEvent): void {
    if (e.type !== 'tx_confirmed' && e.type !== 'tx_mempool') return;
    for (const o of e.tx.outputs) {
      const ref = this.#scripts.get(toHex(o.scriptPubKey));
      if (ref && ref.index > this.#used[ref.keychain]) {
        this.#used[ref.keychain] = ref.index;
        this.#extend(ref.keychain);
      }
    }
  }

  /** Watches keychain scripts up to max(used, handed out) + gap. */
  #extend(k: Keychain): void {
    const last = Math.max(this.#used[k], k === 0 ? this.#nextReceive - 1 : -1);
    const upTo = last + this.gapLimit;
    for (let i = this.#watched[k] + 1; i <= upTo; i++) {
      const key = this.#account.key(k, i);
      this.#scripts.set(toHex(key.script), { keychain: k, index: i });
      this.chain.watchScript(key.script);
    }
    if (upTo > this.#watched[k]) this.#watched[k] = upTo;
  }

  #changeKey(): DerivedKey {
    const idx = this.#used[1] + 1;
    this.#extend(1);
    return this.#account.key(1, idx);
  }

  #parseAddress(address: string): Uint8Array {
    try {
      return addressToScript(address, this.network);
    } catch (e) {
      if (e instanceof DecodeError) throw new InvalidAddressError(address, { cause: e });
      throw e;
    }
  }

  async #feeRate(explicit: bigint | undefined, target: number | undefined): Promise<bigint> {
    const rate = explicit ?? (await this.chain.estimateFeeRate(target ?? this.feeTarget));
    if (rate < MIN_FEERATE_SAT_PER_KW) throw new FeeTooLowError(rate, MIN_FEERATE_SAT_PER_KW);
    return rate;
  }

  /** Own outputs of every tracked tx, spent or not, by `txid:vout`. */
  #ownOutputsIndex(): Map<string, WalletUtxo> {
    const txs = this.chain.transactions();
    const out = new Map<string, WalletUtxo>();
    for (const t of txs) {
      const trusted = t.confirmations > 0 || this.#allInputsOurs(t.tx);
      t.tx.outputs.forEach((o, vout) => {
        const ref = this.#scripts.get(toHex(o.scriptPubKey));
        if (!ref) return;
        out.set(`${t.txid}:${vout}`, {
          txid: t.txid,
          vout,
          value: o.value,
          script: o.scriptPubKey,
          keychain: ref.keychain,
          index: ref.index,
          confirmations: t.confirmations,
          trusted,
          reserved: false,
        });
      });
    }
    return out;
  }

  #allInputsOurs(tx: Transaction): boolean {
    for (const inp of tx.inputs) {
      const prev = this.chain.transaction(toHex(inp.txid));
      const o = prev?.tx.outputs[inp.vout];
      if (!o || !this.#scripts.has(toHex(o.scriptPubKey))) return false;
    }
    return true;
  }

  #rawUtxos(): WalletUtxo[] {
    const spent = new Set<string>();
    for (const t of this.chain.transactions()) {
      for (const inp of t.tx.inputs) spent.add(`${toHex(inp.txid)}:${inp.vout}`);
    }
    return [...this.#ownOutputsIndex().entries()].filter(([k]) => !spent.has(k)).map(([, u]) => u);
  }

  /** Keeps reserved coins that are still confirmed and unspent, then tops the reserve up. */
  #updateReserve(list: WalletUtxo[]): void {
    const confirmed = list.filter((u) => u.confirmations > 0);
    const ids = new Set(confirmed.map((u) => `${u.txid}:${u.vout}`));
    const kept = new Set([...this.#reserved].filter((id) => ids.has(id)));
    let have = 0n;
    for (const u of confirmed) if (kept.has(`${u.txid}:${u.vout}`)) have += u.value;
    if (have < this.#reserveSats) {
      const free = confirmed.filter((u) => !kept.has(`${u.txid}:${u.vout}`));
      const deficit = this.#reserveSats - have;
      // Prefer the smallest single coin covering the deficit; otherwise largest first.
      const single = free.filter((u) => u.value >= deficit).sort((a, b) => cmp(a.value, b.value))[0];
      if (single) kept.add(`${single.txid}:${single.vout}`);
      else {
        for (const u of free.sort((a, b) => cmp(b.value, a.value))) {
          if (have >= this.#reserveSats) break;
          kept.add(`${u.txid}:${u.vout}`);
          have += u.value;
        }
      }
    }
    this.#reserved = kept;
  }

  #spendable(allowReserve: boolean): WalletUtxo[] {
    return this.utxos().filter(
      (u) => u.trusted && (allowReserve || !u.reserved) && !this.#locked.has(`${u.txid}:${u.vout}`),
    );
  }

  /** Unconfirmed tracked txs descending from `txid`. */
  #descendants(txid: string): WatchedTx[] {
    const txs = this.chain.transactions().filter((t) => t.confirmations === 0);
    const found: WatchedTx[] = [];
    const frontier = [txid];
    const seen = new Set(frontier);
    while (frontier.length > 0) {
      const cur = frontier.pop()!;
      for (const t of txs) {
        if (seen.has(t.txid)) continue;
        if (t.tx.inputs.some((i) => toHex(i.txid) === cur)) {
          seen.add(t.txid);
          found.push(t);
          frontier.push(t.txid);
        }
      }
    }
    return found;
  }

  /** `tx` and its unconfirmed tracked ancestors. */
  #unconfirmedAncestry(tx: WatchedTx): WatchedTx[] {
    const out: WatchedTx[] = [];
    const seen = new Set<string>();
    const visit = (t: WatchedTx) => {
      if (seen.has(t.txid)) return;
      seen.add(t.txid);
      out.push(t);
      for (const inp of t.tx.inputs) {
        const p = this.chain.transaction(toHex(inp.txid));
        if (p && p.confirmations === 0) visit(p);
      }
    };
    visit(tx);
    return out;
  }

  async #feeOf(tx: Transaction): Promise<bigint> {
    let inSum = 0n;
    for (const inp of tx.inputs) {
      const prevId = toHex(inp.txid);
      const prev = this.chain.transaction(prevId)?.tx ?? (await this.chain.fetchTransaction(prevId));
      const o = prev?.outputs[inp.vout];
      if (!o)
        throw new WalletError('WALLET_UNKNOWN_PREVOUT', 'cannot find a spent output', { details: prevId });
      inSum += o.value;
    }
    return inSum - sumOutputs(tx.outputs);
  }

  async #signAndBroadcast(
    inputs: WalletUtxo[],
    outputs: TxOut[],
    changeVout: number | undefined,
  ): Promise<WalletTxResult> {
    const res = this.#sign(inputs, outputs, changeVout);
    await this.chain.broadcast(res.tx);
    return res;
  }

  #sign(inputs: WalletUtxo[], outputs: TxOut[], changeVout: number | undefined): WalletTxResult {
    const spend: SpendInput[] = inputs.map((u) => ({
      txid: u.txid,
      vout: u.vout,
      value: u.value,
      script: u.script,
    }));
    const signed: SignedTx = signP2wpkh(
      { inputs: spend, outputs, locktime: this.chain.tip()?.height ?? 0 },
      (i) => this.#account.privateKey(inputs[i]!.keychain, inputs[i]!.index),
    );
    return {
      txid: signed.txid,
      tx: signed.tx,
      fee: signed.fee,
      weight: signed.weight,
      vsize: signed.vsize,
      feeRate: feeRateOf(signed.fee, signed.weight),
      changeVout,
      psbt: signed.psbt,
    };
  }
}

function toCoin(u: WalletUtxo): Coin {
  return { id: `${u.txid}:${u.vout}`, value: u.value, inputWeight: P2WPKH_INPUT_WEIGHT };
}

function sumValues(us: readonly { value: bigint }[]): bigint {
  let s = 0n;
  for (const u of us) s += u.value;
  return s;
}

function sumOutputs(os: readonly TxOut[]): bigint {
  let s = 0n;
  for (const o of os) s += o.value;
  return s;
}

function cmp(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
