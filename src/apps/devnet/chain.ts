/**
 * The devnet chain: a consensus-strict regtest block tree with a UTXO set (undo data per
 * block for reorgs), a transaction index, and a mempool applying Bitcoin Core 28's default
 * relay policy (min relay fee, dust, standard outputs, full-RBF, ancestor limits, packages).
 *
 * Validation follows Core's order so the first failing rule gives Core's reject reason:
 * CheckTransaction -> IsStandardTx -> IsFinalTx (BIP113 MTP) -> already-in-mempool ->
 * conflicts -> inputs (missing) -> BIP68 sequence locks -> CheckTxInputs (maturity, values)
 * -> min relay fee -> ancestor limits -> replacement (BIP125 rules 2-5, full-RBF) -> scripts
 * (policy flags, then mandatory flags to classify the failure).
 *
 * Blocks (mined here or replayed from disk) go through one path: context-free checks
 * (PoW, merkle root, witness commitment, weight), contextual checks (MTP, BIP34 height,
 * finality) and connection (inputs, maturity, BIP68, scripts with consensus flags, coinbase
 * amount). Single-threaded and synchronous.
 */
import { sha256 } from '../../protocol/crypto/hash.js';
import { toHex } from '../../protocol/encoding/bytes.js';
import {
  type Block,
  type BlockHeader,
  blockHash,
  blockMerkleRoot,
  blockWork,
  encodeBlock,
  encodeHeader,
  findWitnessCommitment,
  hashMeetsTarget,
  MAX_BLOCK_WEIGHT,
  merkleRootWithMutation,
  witnessCommitmentHash,
  witnessCommitmentScript,
  witnessMerkleRoot,
} from '../../protocol/tx/block.js';
import { num, pushData } from '../../protocol/tx/script.js';
import {
  encodeTx,
  hasWitness,
  type Transaction,
  txid as txidOf,
  wtxid as wtxidOf,
} from '../../protocol/tx/transaction.js';
import {
  BLOCK_VERSION,
  BlockRejected,
  blockSubsidy,
  COINBASE_MATURITY,
  DEFAULT_INCREMENTAL_RELAY_FEE,
  DEFAULT_MIN_RELAY_FEE,
  feeForVsize,
  feeRateOf,
  feeRateString,
  formatMoney,
  isPushOnly,
  LOCKTIME_THRESHOLD,
  MAX_ANCESTORS,
  MAX_DESCENDANTS,
  MAX_MONEY,
  MAX_PACKAGE_COUNT,
  MAX_REPLACEMENT_CANDIDATES,
  MAX_STANDARD_SCRIPTSIG_SIZE,
  MAX_STANDARD_TX_WEIGHT,
  MIN_STANDARD_TX_NONWITNESS_SIZE,
  outputPolicy,
  REGTEST_BITS,
  RPC,
  SEQUENCE_FINAL,
  SEQUENCE_LOCKTIME_DISABLE_FLAG,
  SEQUENCE_LOCKTIME_GRANULARITY,
  SEQUENCE_LOCKTIME_MASK,
  SEQUENCE_LOCKTIME_TYPE_FLAG,
  TxRejected,
} from './policy.js';
import { MANDATORY_FLAGS, PreparedTx, STANDARD_FLAGS, verifyAllInputs } from './verify.js';

/** An unspent output. */
export interface Coin {
  value: bigint;
  scriptPubKey: Uint8Array;
  /** Height of the block that created it; the next block's height for mempool outputs. */
  height: number;
  coinbase: boolean;
}

/** A block known to the devnet (on the active chain or a side branch). */
export interface BlockEntry {
  hash: string;
  header: BlockHeader;
  block: Block;
  height: number;
  chainwork: bigint;
  parent: BlockEntry | undefined;
  txids: string[];
  size: number;
  strippedSize: number;
  weight: number;
  /** 'valid' once connected successfully; 'invalid' after a failure or invalidateblock. */
  status: 'valid' | 'unchecked' | 'invalid';
  /** Spent coins of each transaction (index 0 = coinbase, empty), kept after disconnect. */
  undo: Coin[][] | undefined;
  /** Fee of each transaction (coinbase 0). */
  fees: bigint[] | undefined;
  /** Arrival order (ties in chainwork go to the first seen). */
  seq: number;
  /** Median time past of this block (median of it and its 10 ancestors). */
  mtp: number;
}

/** A transaction in the mempool. */
export interface MempoolEntry {
  tx: Transaction;
  txid: string;
  wtxid: string;
  raw: Uint8Array;
  fee: bigint;
  vsize: number;
  weight: number;
  /** Unix time it entered. */
  time: number;
  /** Chain height when it entered. */
  height: number;
  /** The coins it spends, in input order. */
  spent: Coin[];
}

/** Outcome of a successful (test-)acceptance. */
export interface AcceptResult {
  txid: string;
  wtxid: string;
  fee: bigint;
  vsize: number;
  weight: number;
  /** Txids this transaction replaced (RBF), including their descendants. */
  replaced: string[];
}

/** Per-transaction result of {@link DevnetChain.acceptPackage}. */
export interface PackageTxResult {
  txid: string;
  wtxid: string;
  /** Set when accepted (or already in the mempool). */
  fee?: bigint;
  vsize?: number;
  /** Package feerate (sat/kvB) and the wtxids it covers when accepted as a package. */
  effectiveFeeRate?: bigint;
  effectiveIncludes?: string[];
  /** The wtxid of the mempool transaction with the same txid, if one was already there. */
  otherWtxid?: string;
  error?: string;
}

export interface PackageResult {
  /** "success" or the package-level failure. */
  message: string;
  results: PackageTxResult[];
  replaced: string[];
}

export interface DevnetChainOptions {
  /** Unix seconds; defaults to the system clock. */
  clock?: () => number;
  /** Full-RBF (Core 28 default: true). When false, only BIP125-signalling txs are replaceable. */
  fullRbf?: boolean;
  /** Min relay fee in sat/kvB (default 1000). */
  minRelayFee?: bigint;
  /** Base feerate for estimatesmartfee / fee-estimates in sat/kvB (default 2000). */
  feeRate?: bigint;
}

export interface AcceptOptions {
  /** Skip the min-relay-fee check (reorg re-insertion, package members). */
  bypassFee?: boolean;
  /** Validate only; do not add to the mempool. */
  testOnly?: boolean;
}

/** Events for persistence and notification. */
export interface ChainListener {
  blockAdded?(entry: BlockEntry, raw: Uint8Array): void;
  blockInvalidated?(hash: string): void;
  blockReconsidered?(hash: string): void;
}

const ZERO_HASH = new Uint8Array(32);
const MEMPOOL_COIN = -1;

export function outpointKey(txid: string, vout: number): string {
  return `${txid}:${vout}`;
}

function isNullPrevout(i: { txid: Uint8Array; vout: number }): boolean {
  return i.vout === 0xffffffff && i.txid.every((b) => b === 0);
}

/** True if `tx` is a coinbase (one input with the null prevout). */
export function isCoinbase(tx: Transaction): boolean {
  return tx.inputs.length === 1 && isNullPrevout(tx.inputs[0]!);
}

/** BIP125: any input with nSequence < 0xfffffffe signals replaceability. */
export function signalsRbf(tx: Transaction): boolean {
  return tx.inputs.some((i) => i.sequence < 0xfffffffe);
}

/** Core's IsFinalTx. */
export function isFinalTx(tx: Transaction, height: number, time: number): boolean {
  if (tx.locktime === 0) return true;
  if (tx.locktime < (tx.locktime < LOCKTIME_THRESHOLD ? height : time)) return true;
  return tx.inputs.every((i) => i.sequence === SEQUENCE_FINAL);
}

/** Regtest genesis block (Bitcoin Core chainparams: time 1296688602, nonce 2, bits 0x207fffff). */
export function regtestGenesis(): Block {
  const scriptSig = Uint8Array.from(
    Buffer.from(
      '04ffff001d0104455468652054696d65732030332f4a616e2f32303039204368616e63656c6c6f72206f6e206272696e6b206f66207365636f6e64206261696c6f757420666f722062616e6b73',
      'hex',
    ),
  );
  const pk = Uint8Array.from(
    Buffer.from(
      '4104678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac',
      'hex',
    ),
  );
  const coinbase: Transaction = {
    version: 1,
    inputs: [{ txid: new Uint8Array(32), vout: 0xffffffff, scriptSig, sequence: 0xffffffff, witness: [] }],
    outputs: [{ value: 50n * 100_000_000n, scriptPubKey: pk }],
    locktime: 0,
  };
  return {
    header: {
      version: 1,
      prevBlock: new Uint8Array(32),
      merkleRoot: blockMerkleRoot([coinbase]),
      time: 1296688602,
      bits: REGTEST_BITS,
      nonce: 2,
    },
    txs: [coinbase],
  };
}

/** Context-free transaction checks (Core's CheckTransaction). Returns the reject reason. */
export function checkTransaction(tx: Transaction): string | undefined {
  if (tx.inputs.length === 0) return 'bad-txns-vin-empty';
  if (tx.outputs.length === 0) return 'bad-txns-vout-empty';
  if (encodeTx(tx, { witness: false }).length * 4 > MAX_BLOCK_WEIGHT) return 'bad-txns-oversize';
  let total = 0n;
  for (const o of tx.outputs) {
    if (o.value < 0n) return 'bad-txns-vout-negative';
    if (o.value > MAX_MONEY) return 'bad-txns-vout-toolarge';
    total += o.value;
    if (total > MAX_MONEY) return 'bad-txns-txouttotal-toolarge';
  }
  const seen = new Set<string>();
  for (const i of tx.inputs) {
    const k = outpointKey(toHex(i.txid), i.vout);
    if (seen.has(k)) return 'bad-txns-inputs-duplicate';
    seen.add(k);
  }
  if (isCoinbase(tx)) {
    const n = tx.inputs[0]!.scriptSig.length;
    if (n < 2 || n > 100) return 'bad-cb-length';
  } else if (tx.inputs.some(isNullPrevout)) {
    return 'bad-txns-prevout-null';
  }
  return undefined;
}

interface CheckedTx {
  tx: Transaction;
  txid: string;
  wtxid: string;
  raw: Uint8Array;
  fee: bigint;
  vsize: number;
  weight: number;
  spent: Coin[];
  /** Every mempool tx evicted by this one (direct conflicts and their descendants). */
  evict: Set<string>;
}

/** The devnet block tree, UTXO set and mempool. */
export class DevnetChain {
  /** Every known block by hash (display hex). */
  readonly index = new Map<string, BlockEntry>();
  /** The active chain by height. */
  readonly active: BlockEntry[] = [];
  readonly mempool = new Map<string, MempoolEntry>();
  /** Full-RBF policy (Core 28 default on). */
  fullRbf: boolean;
  /** Min relay fee, sat/kvB. */
  minRelayFee: bigint;
  /** Incremental relay fee for replacements, sat/kvB. */
  incrementalRelayFee = DEFAULT_INCREMENTAL_RELAY_FEE;
  /** Base feerate for fee estimates, sat/kvB. */
  feeRate: bigint;
  /** Seconds added to the clock (`setmocktime`-style control over block times). */
  clockOffset = 0;
  /** When set, the clock reads this fixed unix time (Core's `setmocktime`). */
  mockTime = 0;
  readonly listeners: ChainListener[] = [];

  private readonly utxo = new Map<string, Coin>();
  private readonly utxoByScript = new Map<string, Set<string>>();
  private readonly txIndex = new Map<string, { entry: BlockEntry; pos: number }>();
  private readonly spentBy = new Map<string, { txid: string; vin: number }>();
  private readonly scriptHistory = new Map<string, string[]>();
  private readonly mempoolSpends = new Map<string, string>();
  private readonly scriptCache = new Set<string>();
  /** sha256(script) hex (Esplora "scripthash") -> script, for every script seen. */
  private readonly scriptByHash = new Map<string, Uint8Array>();
  private readonly clock: () => number;
  private seq = 0;

  constructor(opts: DevnetChainOptions = {}) {
    this.clock = opts.clock ?? (() => Math.floor(Date.now() / 1000));
    this.fullRbf = opts.fullRbf ?? true;
    this.minRelayFee = opts.minRelayFee ?? DEFAULT_MIN_RELAY_FEE;
    this.feeRate = opts.feeRate ?? 2000n;
    const genesis = regtestGenesis();
    const entry = this.makeEntry(genesis, undefined);
    entry.status = 'valid';
    entry.undo = [[]];
    entry.fees = [0n];
    this.index.set(entry.hash, entry);
    this.active.push(entry);
    // Core never adds the genesis coinbase to the UTXO set (it is unspendable).
    this.txIndex.set(entry.txids[0]!, { entry, pos: 0 });
  }

  // ---- clock and chain queries -------------------------------------------------------------

  /** Current devnet time (unix seconds). */
  now(): number {
    return (this.mockTime || this.clock()) + this.clockOffset;
  }

  get tip(): BlockEntry {
    return this.active[this.active.length - 1]!;
  }

  get height(): number {
    return this.active.length - 1;
  }

  /** The active-chain block at `height`, if any. */
  blockAt(height: number): BlockEntry | undefined {
    return this.active[height];
  }

  /** Any known block by hash. */
  getBlock(hash: string): BlockEntry | undefined {
    return this.index.get(hash);
  }

  /** True if `entry` is on the active chain. */
  isActive(entry: BlockEntry): boolean {
    return this.active[entry.height] === entry;
  }

  /** Confirmations of an active-chain block (0 if not active). */
  confirmations(entry: BlockEntry): number {
    return this.isActive(entry) ? this.height - entry.height + 1 : 0;
  }

  /** Confirmed UTXO lookup. */
  getCoin(txid: string, vout: number): Coin | undefined {
    return this.utxo.get(outpointKey(txid, vout));
  }

  /** True if any output of `txid` is in the confirmed UTXO set (Core's "already in utxo set"). */
  hasUnspentOutputs(txid: string): boolean {
    const e = this.txIndex.get(txid);
    if (!e) return false;
    const tx = e.entry.block.txs[e.pos]!;
    return tx.outputs.some((_, i) => this.utxo.has(outpointKey(txid, i)));
  }

  /** Confirmed transaction lookup (active chain). */
  getConfirmedTx(txid: string): { tx: Transaction; entry: BlockEntry; pos: number } | undefined {
    const e = this.txIndex.get(txid);
    return e ? { tx: e.entry.block.txs[e.pos]!, entry: e.entry, pos: e.pos } : undefined;
  }

  /** Spent coins of a confirmed transaction (undo data), in input order. */
  spentCoinsOf(entry: BlockEntry, pos: number): Coin[] | undefined {
    return entry.undo?.[pos];
  }

  /** Who spends an outpoint: the mempool first, then the active chain. */
  spenderOf(txid: string, vout: number): { txid: string; vin: number; confirmed: boolean } | undefined {
    const k = outpointKey(txid, vout);
    const m = this.mempoolSpends.get(k);
    if (m) {
      const e = this.mempool.get(m)!;
      const vin = e.tx.inputs.findIndex((i) => toHex(i.txid) === txid && i.vout === vout);
      return { txid: m, vin, confirmed: false };
    }
    const c = this.spentBy.get(k);
    return c ? { ...c, confirmed: true } : undefined;
  }

  /** Is the outpoint spent by a mempool transaction? */
  spentInMempool(txid: string, vout: number): boolean {
    return this.mempoolSpends.has(outpointKey(txid, vout));
  }

  /** Confirmed unspent outpoints paying `script`. */
  utxosForScript(script: Uint8Array): { txid: string; vout: number; coin: Coin }[] {
    const keys = this.utxoByScript.get(toHex(script));
    if (!keys) return [];
    return [...keys].map((k) => {
      const [t, v] = k.split(':');
      return { txid: t!, vout: Number(v), coin: this.utxo.get(k)! };
    });
  }

  /** Confirmed txids touching `script` (funding or spending), oldest first. */
  historyForScript(script: Uint8Array): string[] {
    return this.scriptHistory.get(toHex(script)) ?? [];
  }

  /** The script whose sha256 (hex, Esplora's scripthash) is `hash`, if it was ever seen. */
  scriptForHash(hash: string): Uint8Array | undefined {
    return this.scriptByHash.get(hash.toLowerCase());
  }

  private noteScript(s: Uint8Array): void {
    if (this.scriptByHash.size > 1_000_000) return;
    const h = toHex(sha256(s));
    if (!this.scriptByHash.has(h)) this.scriptByHash.set(h, s);
  }

  /** Median time past of the active tip. */
  get mtp(): number {
    return this.tip.mtp;
  }

  // ---- mempool -------------------------------------------------------------------------------

  /** Coin lookup through the mempool view (confirmed UTXO, else an unspent-or-not mempool output). */
  private viewCoin(txid: string, vout: number): Coin | undefined {
    const c = this.utxo.get(outpointKey(txid, vout));
    if (c) return c;
    const m = this.mempool.get(txid);
    const o = m?.tx.outputs[vout];
    return o
      ? { value: o.value, scriptPubKey: o.scriptPubKey, height: MEMPOOL_COIN, coinbase: false }
      : undefined;
  }

  /** In-mempool parents of a transaction. */
  private mempoolParents(tx: Transaction): Set<string> {
    const out = new Set<string>();
    for (const i of tx.inputs) {
      const t = toHex(i.txid);
      if (this.mempool.has(t)) out.add(t);
    }
    return out;
  }

  /** All in-mempool ancestors of a transaction. */
  private ancestors(tx: Transaction): Set<string> {
    const out = new Set<string>();
    const stack = [...this.mempoolParents(tx)];
    while (stack.length) {
      const t = stack.pop()!;
      if (out.has(t)) continue;
      out.add(t);
      for (const p of this.mempoolParents(this.mempool.get(t)!.tx)) stack.push(p);
    }
    return out;
  }

  /** All in-mempool descendants of `txid` (excluding itself). */
  descendants(txid: string): Set<string> {
    const out = new Set<string>();
    const stack = [txid];
    while (stack.length) {
      const t = stack.pop()!;
      const e = this.mempool.get(t);
      if (!e) continue;
      e.tx.outputs.forEach((_, vout) => {
        const s = this.mempoolSpends.get(outpointKey(t, vout));
        if (s && !out.has(s)) {
          out.add(s);
          stack.push(s);
        }
      });
    }
    return out;
  }

  /** BIP68 lock check of `tx` against the coins it spends, for a block at `height` with prev MTP `prevMtp`. */
  private sequenceLocksOk(tx: Transaction, spent: Coin[], height: number, prevMtp: number): boolean {
    if (tx.version < 2) return true;
    let minHeight = -1;
    let minTime = -1;
    tx.inputs.forEach((input, i) => {
      const seq = input.sequence >>> 0;
      if (seq & SEQUENCE_LOCKTIME_DISABLE_FLAG) return;
      const coinHeight = spent[i]!.height === MEMPOOL_COIN ? height : spent[i]!.height;
      if (seq & SEQUENCE_LOCKTIME_TYPE_FLAG) {
        // BIP68: time-based locks count from the MTP of the block *before* the coin's block.
        const base = this.active[Math.max(coinHeight - 1, 0)]?.mtp ?? this.tip.mtp;
        minTime = Math.max(
          minTime,
          base + ((seq & SEQUENCE_LOCKTIME_MASK) << SEQUENCE_LOCKTIME_GRANULARITY) - 1,
        );
      } else {
        minHeight = Math.max(minHeight, coinHeight + (seq & SEQUENCE_LOCKTIME_MASK) - 1);
      }
    });
    return minHeight < height && minTime < prevMtp;
  }

  /**
   * Full mempool validation of `tx` (no state change). Throws {@link TxRejected} with Core's
   * reason; returns what acceptance needs.
   */
  private checkForMempool(tx: Transaction, opts: AcceptOptions): CheckedTx {
    const raw = encodeTx(tx);
    const txid = txidOf(tx);
    const txidHex = toHex(txid);
    const wtxidHex = toHex(wtxidOf(tx));
    const reject = (reason: string, debug?: string, o: { rpcCode?: number; reconsiderable?: boolean } = {}) =>
      new TxRejected(reason, debug, o);

    // CheckTransaction
    const bad = checkTransaction(tx);
    if (bad) throw reject(bad);
    if (isCoinbase(tx)) throw reject('coinbase');

    // IsStandardTx
    if (tx.version < 1 || tx.version > 3) throw reject('version');
    const strippedSize = encodeTx(tx, { witness: false }).length;
    const weight = strippedSize * 3 + raw.length;
    const vsize = Math.ceil(weight / 4);
    if (weight > MAX_STANDARD_TX_WEIGHT) throw reject('tx-size');
    for (const i of tx.inputs) {
      if (i.scriptSig.length > MAX_STANDARD_SCRIPTSIG_SIZE) throw reject('scriptsig-size');
      if (!isPushOnly(i.scriptSig)) throw reject('scriptsig-not-pushonly');
    }
    const outErr = outputPolicy(tx);
    if (outErr) throw reject(outErr);
    if (strippedSize < MIN_STANDARD_TX_NONWITNESS_SIZE) throw reject('tx-size-small');

    // Finality for the next block (BIP113: time locks compare against the tip's MTP).
    if (!isFinalTx(tx, this.height + 1, this.tip.mtp)) throw reject('non-final');

    const existing = this.mempool.get(txidHex);
    if (existing) {
      throw reject(
        existing.wtxid === wtxidHex ? 'txn-already-in-mempool' : 'txn-same-nonwitness-data-in-mempool',
      );
    }

    // Conflicts with mempool transactions.
    const direct = new Set<string>();
    for (const i of tx.inputs) {
      const s = this.mempoolSpends.get(outpointKey(toHex(i.txid), i.vout));
      if (s && !direct.has(s)) {
        if (!this.fullRbf && !signalsRbf(this.mempool.get(s)!.tx)) throw reject('txn-mempool-conflict');
        direct.add(s);
      }
    }

    // Inputs.
    const spent: Coin[] = [];
    for (const i of tx.inputs) {
      const c = this.viewCoin(toHex(i.txid), i.vout);
      if (!c) {
        if (tx.outputs.some((_, v) => this.utxo.has(outpointKey(txidHex, v))))
          throw reject('txn-already-known');
        throw reject('bad-txns-inputs-missingorspent', undefined, { rpcCode: RPC.VERIFY_ERROR });
      }
      spent.push(c);
    }

    // BIP68 (mempool coins count as confirmed in the next block).
    if (!this.sequenceLocksOk(tx, spent, this.height + 1, this.tip.mtp)) throw reject('non-BIP68-final');

    // CheckTxInputs
    const spendHeight = this.height + 1;
    let valueIn = 0n;
    spent.forEach((c) => {
      if (c.coinbase && spendHeight - c.height < COINBASE_MATURITY) {
        throw reject(
          'bad-txns-premature-spend-of-coinbase',
          `tried to spend coinbase at depth ${spendHeight - c.height}`,
        );
      }
      valueIn += c.value;
      if (c.value < 0n || c.value > MAX_MONEY || valueIn > MAX_MONEY)
        throw reject('bad-txns-inputvalues-outofrange');
    });
    const valueOut = tx.outputs.reduce((a, o) => a + o.value, 0n);
    if (valueIn < valueOut) {
      throw reject(
        'bad-txns-in-belowout',
        `value in (${formatMoney(valueIn)}) < value out (${formatMoney(valueOut)})`,
      );
    }
    const fee = valueIn - valueOut;

    // Min relay fee (reconsiderable: a package may pay for it).
    if (!opts.bypassFee) {
      const required = feeForVsize(this.minRelayFee, vsize);
      if (fee < required)
        throw reject('min relay fee not met', `${fee} < ${required}`, { reconsiderable: true });
    }

    // Replacement candidates (direct conflicts plus their descendants).
    const evict = new Set<string>();
    for (const d of direct) {
      evict.add(d);
      for (const x of this.descendants(d)) evict.add(x);
    }

    // Ancestor / descendant limits (the evicted transactions do not count).
    const anc = this.ancestors(tx);
    for (const e of evict) anc.delete(e);
    if (anc.size + 1 > MAX_ANCESTORS) {
      throw reject('too-long-mempool-chain', `too many unconfirmed ancestors [limit: ${MAX_ANCESTORS}]`);
    }
    for (const a of anc) {
      const desc = [...this.descendants(a)].filter((d) => !evict.has(d));
      if (desc.length + 1 >= MAX_DESCENDANTS + 1) {
        throw reject(
          'too-long-mempool-chain',
          `too many descendants for tx ${a} [limit: ${MAX_DESCENDANTS}]`,
        );
      }
    }

    if (direct.size > 0) this.replacementChecks(tx, txidHex, fee, vsize, direct, evict);

    // Scripts: policy flags, then mandatory flags to classify a failure (Core 28 wording).
    if (!this.scriptCache.has(wtxidHex)) {
      const err = verifyAllInputs(new PreparedTx(tx, spent, raw), STANDARD_FLAGS);
      if (err) throw reject(err);
    }

    return { tx, txid: txidHex, wtxid: wtxidHex, raw, fee, vsize, weight, spent, evict };
  }

  /** BIP125 rules as Core 28 applies them (with full-RBF the signalling rule is off). */
  private replacementChecks(
    tx: Transaction,
    txid: string,
    fee: bigint,
    vsize: number,
    direct: Set<string>,
    evict: Set<string>,
  ): void {
    if (evict.size > MAX_REPLACEMENT_CANDIDATES) {
      throw new TxRejected(
        'too many potential replacements',
        `rejecting replacement ${txid}; too many potential replacements (${evict.size} > ${MAX_REPLACEMENT_CANDIDATES})`,
      );
    }
    // Rule 2: no new unconfirmed inputs.
    const parentsOfConflicts = new Set<string>();
    for (const d of direct)
      for (const i of this.mempool.get(d)!.tx.inputs) parentsOfConflicts.add(toHex(i.txid));
    for (const i of tx.inputs) {
      const p = toHex(i.txid);
      if (evict.has(p)) {
        throw new TxRejected('bad-txns-spends-conflicting-tx', `${txid} spends conflicting transaction ${p}`);
      }
      if (!parentsOfConflicts.has(p) && this.mempool.has(p)) {
        throw new TxRejected(
          'replacement-adds-unconfirmed',
          `replacement ${txid} adds unconfirmed input, idx ${tx.inputs.indexOf(i)}`,
        );
      }
    }
    // The replacement's feerate must beat every direct conflict's.
    const newRate = feeRateOf(fee, vsize);
    for (const d of direct) {
      const e = this.mempool.get(d)!;
      const oldRate = feeRateOf(e.fee, e.vsize);
      if (newRate <= oldRate) {
        throw new TxRejected(
          'insufficient fee',
          `rejecting replacement ${txid}; new feerate ${feeRateString(newRate)} <= old feerate ${feeRateString(oldRate)}`,
          { reconsiderable: true },
        );
      }
    }
    // Rules 3 and 4: pay at least the replaced fees plus its own relay bandwidth.
    let original = 0n;
    for (const e of evict) original += this.mempool.get(e)!.fee;
    if (fee < original) {
      throw new TxRejected(
        'insufficient fee',
        `rejecting replacement ${txid}, less fees than conflicting txs; ${formatMoney(fee)} < ${formatMoney(original)}`,
        { reconsiderable: true },
      );
    }
    const additional = fee - original;
    const relay = feeForVsize(this.incrementalRelayFee, vsize);
    if (additional < relay) {
      throw new TxRejected(
        'insufficient fee',
        `rejecting replacement ${txid}, not enough additional fees to relay; ${formatMoney(additional)} < ${formatMoney(relay)}`,
        { reconsiderable: true },
      );
    }
  }

  private addToMempool(c: CheckedTx, time = this.now()): MempoolEntry {
    for (const e of c.evict) this.removeFromMempool(e);
    const entry: MempoolEntry = {
      tx: c.tx,
      txid: c.txid,
      wtxid: c.wtxid,
      raw: c.raw,
      fee: c.fee,
      vsize: c.vsize,
      weight: c.weight,
      time,
      height: this.height,
      spent: c.spent,
    };
    this.mempool.set(c.txid, entry);
    for (const o of c.tx.outputs) this.noteScript(o.scriptPubKey);
    for (const i of c.tx.inputs) this.mempoolSpends.set(outpointKey(toHex(i.txid), i.vout), c.txid);
    this.scriptCache.add(c.wtxid);
    return entry;
  }

  private removeFromMempool(txid: string): void {
    const e = this.mempool.get(txid);
    if (!e) return;
    this.mempool.delete(txid);
    for (const i of e.tx.inputs) {
      const k = outpointKey(toHex(i.txid), i.vout);
      if (this.mempoolSpends.get(k) === txid) this.mempoolSpends.delete(k);
    }
  }

  /**
   * Validates `tx` for the mempool and (unless `testOnly`) adds it, evicting what it replaces.
   * Throws {@link TxRejected} with Core's reject reason and RPC code.
   */
  acceptTx(tx: Transaction, opts: AcceptOptions = {}): AcceptResult {
    const c = this.checkForMempool(tx, opts);
    if (!opts.testOnly) this.addToMempool(c);
    return {
      txid: c.txid,
      wtxid: c.wtxid,
      fee: c.fee,
      vsize: c.vsize,
      weight: c.weight,
      replaced: [...c.evict],
    };
  }

  /**
   * Tests several transactions as `testmempoolaccept` does: in order, each one seeing the
   * earlier accepted ones, then everything is rolled back. Stops at the first failure (later
   * results are `undefined`).
   */
  testAcceptMany(txs: Transaction[]): (AcceptResult | TxRejected | undefined)[] {
    const out: (AcceptResult | TxRejected | undefined)[] = [];
    const added: string[] = [];
    let failed = false;
    for (const tx of txs) {
      if (failed) {
        out.push(undefined);
        continue;
      }
      try {
        const c = this.checkForMempool(tx, {});
        if (c.evict.size > 0 && txs.length > 1) throw new TxRejected('bip125-replacement-disallowed');
        out.push({
          txid: c.txid,
          wtxid: c.wtxid,
          fee: c.fee,
          vsize: c.vsize,
          weight: c.weight,
          replaced: [],
        });
        if (txs.length > 1) {
          this.addToMempool(c);
          added.push(c.txid);
        }
      } catch (e) {
        if (!(e instanceof TxRejected)) throw e;
        out.push(e);
        failed = true;
      }
    }
    for (const t of added.reverse()) {
      const e = this.mempool.get(t);
      this.removeFromMempool(t);
      if (e) this.scriptCache.delete(e.wtxid);
    }
    return out;
  }

  /**
   * Package acceptance (Core 28 `submitpackage`, child-with-parents): each transaction is
   * tried alone; those failing only on fee are evaluated together with their in-package
   * descendants, whose combined feerate must meet the min relay fee (CPFP).
   */
  acceptPackage(txs: Transaction[]): PackageResult {
    if (txs.length === 0 || txs.length > MAX_PACKAGE_COUNT)
      throw new TxRejected('package-too-many-transactions', undefined, { rpcCode: RPC.VERIFY_ERROR });
    const ids = txs.map((t) => toHex(txidOf(t)));
    if (new Set(ids).size !== ids.length)
      throw new TxRejected('package-contains-duplicates', undefined, { rpcCode: RPC.VERIFY_ERROR });
    // Topology: sorted (parents first), no in-package conflicts, and the last tx is the child of all others.
    const pos = new Map(ids.map((t, i) => [t, i]));
    const spends = new Set<string>();
    txs.forEach((tx, i) => {
      for (const input of tx.inputs) {
        const k = outpointKey(toHex(input.txid), input.vout);
        if (spends.has(k))
          throw new TxRejected('conflict-in-package', undefined, { rpcCode: RPC.VERIFY_ERROR });
        spends.add(k);
        const p = pos.get(toHex(input.txid));
        if (p !== undefined && p >= i)
          throw new TxRejected('package-not-sorted', undefined, { rpcCode: RPC.VERIFY_ERROR });
      }
    });
    if (txs.length > 1) {
      const child = txs[txs.length - 1]!;
      const parents = new Set(child.inputs.map((i) => toHex(i.txid)));
      if (!ids.slice(0, -1).every((t) => parents.has(t)))
        throw new TxRejected('package-not-child-with-parents', undefined, { rpcCode: RPC.VERIFY_ERROR });
    }

    const results: PackageTxResult[] = [];
    const tentative: CheckedTx[] = [];
    const replaced: string[] = [];
    let failedAt = -1;
    for (let i = 0; i < txs.length; i++) {
      const tx = txs[i]!;
      const txid = ids[i]!;
      const wtxid = toHex(wtxidOf(tx));
      const existing = this.mempool.get(txid);
      if (existing) {
        results.push({
          txid,
          wtxid,
          fee: existing.fee,
          vsize: existing.vsize,
          ...(existing.wtxid !== wtxid ? { otherWtxid: existing.wtxid } : {}),
        });
        continue;
      }
      const dependsOnTentative = tx.inputs.some((inp) => tentative.some((t) => t.txid === toHex(inp.txid)));
      try {
        if (dependsOnTentative) {
          const c = this.checkForMempool(tx, { bypassFee: true });
          if (c.evict.size > 0) throw new TxRejected('bip125-replacement-disallowed');
          this.addToMempool(c);
          tentative.push(c);
          results.push({ txid, wtxid });
        } else {
          try {
            const c = this.checkForMempool(tx, {});
            this.addToMempool(c);
            replaced.push(...c.evict);
            results.push({ txid, wtxid, fee: c.fee, vsize: c.vsize });
          } catch (e) {
            if (!(e instanceof TxRejected) || !e.reconsiderable || e.reason !== 'min relay fee not met')
              throw e;
            const c = this.checkForMempool(tx, { bypassFee: true });
            if (c.evict.size > 0) throw new TxRejected('bip125-replacement-disallowed');
            this.addToMempool(c);
            tentative.push(c);
            results.push({ txid, wtxid });
          }
        }
      } catch (e) {
        if (!(e instanceof TxRejected)) throw e;
        results.push({ txid, wtxid, error: e.message });
        failedAt = i;
        break;
      }
    }
    const rollbackTentative = () => {
      for (const t of [...tentative].reverse()) {
        this.removeFromMempool(t.txid);
        this.scriptCache.delete(t.wtxid);
      }
    };
    if (failedAt >= 0) {
      rollbackTentative();
      for (let i = failedAt + 1; i < txs.length; i++) {
        results.push({ txid: ids[i]!, wtxid: toHex(wtxidOf(txs[i]!)), error: 'package-not-validated' });
      }
      for (const r of results)
        if (tentative.some((t) => t.txid === r.txid)) r.error = 'package-not-validated';
      return { message: 'transaction failed', results, replaced };
    }
    if (tentative.length > 0) {
      const fee = tentative.reduce((a, t) => a + t.fee, 0n);
      const vsize = tentative.reduce((a, t) => a + t.vsize, 0);
      const required = feeForVsize(this.minRelayFee, vsize);
      const rate = feeRateOf(fee, vsize);
      if (fee < required) {
        rollbackTentative();
        for (const r of results) {
          if (tentative.some((t) => t.txid === r.txid)) r.error = `package-fee-too-low, ${fee} < ${required}`;
        }
        return { message: 'transaction failed', results, replaced };
      }
      const includes = tentative.map((t) => t.wtxid);
      for (const r of results) {
        const t = tentative.find((x) => x.txid === r.txid);
        if (t) {
          r.fee = t.fee;
          r.vsize = t.vsize;
          r.effectiveFeeRate = rate;
          r.effectiveIncludes = includes;
        }
      }
    }
    return { message: 'success', results, replaced };
  }

  // ---- blocks --------------------------------------------------------------------------------

  private makeEntry(block: Block, parent: BlockEntry | undefined): BlockEntry {
    const full = encodeBlock(block);
    const stripped = encodeBlock(block, { witness: false }).length;
    const hash = toHex(blockHash(block.header));
    const times: number[] = [block.header.time];
    for (let p = parent, k = 0; p && k < 10; p = p.parent, k++) times.push(p.header.time);
    times.sort((a, b) => a - b);
    return {
      hash,
      header: block.header,
      block,
      height: parent ? parent.height + 1 : 0,
      chainwork: (parent?.chainwork ?? 0n) + blockWork(block.header.bits),
      parent,
      txids: block.txs.map((t) => toHex(txidOf(t))),
      size: full.length,
      strippedSize: stripped,
      weight: stripped * 3 + full.length,
      status: 'unchecked',
      undo: undefined,
      fees: undefined,
      seq: this.seq++,
      mtp: times[Math.floor(times.length / 2)]!,
    };
  }

  /** Context-free block checks (Core's CheckBlock) plus the header's contextual checks. */
  private checkBlock(block: Block, entry: BlockEntry): void {
    const h = block.header;
    if (h.bits !== REGTEST_BITS) throw new BlockRejected('bad-diffbits', 'incorrect proof of work');
    if (!hashMeetsTarget(blockHash(h), h.bits)) throw new BlockRejected('high-hash', 'proof of work failed');
    if (entry.parent && h.time <= entry.parent.mtp)
      throw new BlockRejected('time-too-old', "block's timestamp is too early");
    if (block.txs.length === 0) throw new BlockRejected('bad-blk-length', 'size limits failed');
    const { root, mutated } = merkleRootWithMutation(entry.txids.map((t) => Buffer.from(t, 'hex')));
    if (toHex(root) !== toHex(h.merkleRoot))
      throw new BlockRejected('bad-txnmrklroot', 'hashMerkleRoot mismatch');
    if (mutated) throw new BlockRejected('bad-txns-duplicate', 'duplicate transaction');
    if (!isCoinbase(block.txs[0]!)) throw new BlockRejected('bad-cb-missing', 'first tx is not coinbase');
    for (let i = 1; i < block.txs.length; i++) {
      if (isCoinbase(block.txs[i]!)) throw new BlockRejected('bad-cb-multiple', 'more than one coinbase');
    }
    for (const tx of block.txs) {
      const bad = checkTransaction(tx);
      if (bad) throw new BlockRejected(bad);
    }
    if (entry.weight > MAX_BLOCK_WEIGHT) throw new BlockRejected('bad-blk-weight', 'weight limit failed');
    // BIP141 witness commitment.
    const cb = block.txs[0]!;
    const idx = findWitnessCommitment(cb);
    if (idx >= 0) {
      const w = cb.inputs[0]!.witness;
      if (w.length !== 1 || w[0]!.length !== 32)
        throw new BlockRejected('bad-witness-nonce-size', 'invalid witness reserved value size');
      const want = witnessCommitmentHash(witnessMerkleRoot(block.txs), w[0]!);
      if (toHex(cb.outputs[idx]!.scriptPubKey.subarray(6, 38)) !== toHex(want))
        throw new BlockRejected('bad-witness-merkle-match', 'witness merkle commitment mismatch');
    } else if (block.txs.some(hasWitness)) {
      throw new BlockRejected('unexpected-witness', 'unexpected witness data found');
    }
  }

  private addCoin(key: string, coin: Coin): void {
    this.utxo.set(key, coin);
    const s = toHex(coin.scriptPubKey);
    let set = this.utxoByScript.get(s);
    if (!set) {
      set = new Set();
      this.utxoByScript.set(s, set);
    }
    set.add(key);
  }

  private spendCoin(key: string): Coin | undefined {
    const c = this.utxo.get(key);
    if (!c) return undefined;
    this.utxo.delete(key);
    const s = toHex(c.scriptPubKey);
    const set = this.utxoByScript.get(s);
    set?.delete(key);
    if (set?.size === 0) this.utxoByScript.delete(s);
    return c;
  }

  /** Connects `entry` on top of the active tip (Core's ConnectBlock). Atomic: rolls back on failure. */
  private connectBlock(entry: BlockEntry): void {
    const block = entry.block;
    const height = entry.height;
    const prevMtp = entry.parent!.mtp;
    // ContextualCheckBlock: BIP34 height and finality (BIP113).
    const heightPush = num(height);
    const cbSig = block.txs[0]!.inputs[0]!.scriptSig;
    if (toHex(cbSig.subarray(0, heightPush.length)) !== toHex(heightPush))
      throw new BlockRejected('bad-cb-height', 'block height mismatch in coinbase');
    for (const tx of block.txs) {
      if (!isFinalTx(tx, height, prevMtp))
        throw new BlockRejected('bad-txns-nonfinal', 'non-final transaction');
    }

    const undo: Coin[][] = [];
    const fees: bigint[] = [];
    const created: string[] = [];
    const spentLog: [string, Coin][] = [];
    const rollback = () => {
      for (const k of created.reverse()) this.spendCoin(k);
      for (const [k, c] of spentLog.reverse()) this.addCoin(k, c);
    };
    try {
      let totalFees = 0n;
      block.txs.forEach((tx, pos) => {
        const id = entry.txids[pos]!;
        if (pos === 0) {
          undo.push([]);
          fees.push(0n);
        } else {
          const spent: Coin[] = [];
          for (const i of tx.inputs) {
            const k = outpointKey(toHex(i.txid), i.vout);
            const c = this.spendCoin(k);
            if (!c)
              throw new BlockRejected(
                'bad-txns-inputs-missingorspent',
                `CheckTxInputs: inputs missing/spent`,
              );
            spentLog.push([k, c]);
            spent.push(c);
            if (c.coinbase && height - c.height < COINBASE_MATURITY) {
              throw new BlockRejected(
                'bad-txns-premature-spend-of-coinbase',
                `tried to spend coinbase at depth ${height - c.height}`,
              );
            }
          }
          const valueIn = spent.reduce((a, c) => a + c.value, 0n);
          const valueOut = tx.outputs.reduce((a, o) => a + o.value, 0n);
          if (valueIn > MAX_MONEY) throw new BlockRejected('bad-txns-inputvalues-outofrange');
          if (valueIn < valueOut) {
            throw new BlockRejected(
              'bad-txns-in-belowout',
              `value in (${formatMoney(valueIn)}) < value out (${formatMoney(valueOut)})`,
            );
          }
          if (!this.sequenceLocksOk(tx, spent, height, prevMtp)) {
            throw new BlockRejected('bad-txns-nonfinal', 'contains a non-BIP68-final transaction');
          }
          const wtxid = toHex(wtxidOf(tx));
          if (!this.scriptCache.has(wtxid)) {
            const err = verifyAllInputs(new PreparedTx(tx, spent), MANDATORY_FLAGS);
            if (err) throw new BlockRejected(err);
          }
          undo.push(spent);
          fees.push(valueIn - valueOut);
          totalFees += valueIn - valueOut;
        }
        tx.outputs.forEach((o, vout) => {
          const k = outpointKey(id, vout);
          if (this.utxo.has(k)) throw new BlockRejected('bad-txns-BIP30', 'tried to overwrite transaction');
          // Provably unspendable outputs never enter the UTXO set.
          if (o.scriptPubKey[0] === 0x6a) return;
          this.addCoin(k, { value: o.value, scriptPubKey: o.scriptPubKey, height, coinbase: pos === 0 });
          created.push(k);
        });
      });
      const cbOut = block.txs[0]!.outputs.reduce((a, o) => a + o.value, 0n);
      const limit = blockSubsidy(height) + totalFees;
      if (cbOut > limit)
        throw new BlockRejected(
          'bad-cb-amount',
          `coinbase pays too much (actual=${cbOut} vs limit=${limit})`,
        );
    } catch (e) {
      rollback();
      throw e;
    }

    entry.undo = undo;
    entry.fees = fees;
    entry.status = 'valid';
    this.active.push(entry);
    block.txs.forEach((tx, pos) => {
      const id = entry.txids[pos]!;
      this.txIndex.set(id, { entry, pos });
      const scripts = new Set<string>(tx.outputs.map((o) => toHex(o.scriptPubKey)));
      for (const o of tx.outputs) this.noteScript(o.scriptPubKey);
      if (pos > 0) {
        tx.inputs.forEach((i, vin) => {
          this.spentBy.set(outpointKey(toHex(i.txid), i.vout), { txid: id, vin });
          scripts.add(toHex(undo[pos]![vin]!.scriptPubKey));
        });
      }
      for (const s of scripts) {
        let h = this.scriptHistory.get(s);
        if (!h) {
          h = [];
          this.scriptHistory.set(s, h);
        }
        h.push(id);
      }
    });
    // Mempool: drop what was confirmed, and what now conflicts (with descendants).
    for (const id of entry.txids) this.removeFromMempool(id);
    for (const tx of block.txs.slice(1)) {
      for (const i of tx.inputs) {
        const s = this.mempoolSpends.get(outpointKey(toHex(i.txid), i.vout));
        if (s) {
          for (const d of this.descendants(s)) this.removeFromMempool(d);
          this.removeFromMempool(s);
        }
      }
    }
  }

  /** Disconnects the active tip (Core's DisconnectBlock); returns its non-coinbase transactions. */
  private disconnectTip(): Transaction[] {
    const entry = this.tip;
    if (!entry.parent) throw new BlockRejected('cannot-disconnect-genesis');
    const block = entry.block;
    for (let pos = block.txs.length - 1; pos >= 0; pos--) {
      const tx = block.txs[pos]!;
      const id = entry.txids[pos]!;
      tx.outputs.forEach((_, vout) => {
        this.spendCoin(outpointKey(id, vout));
      });
      if (pos > 0) {
        tx.inputs.forEach((i, vin) => {
          const k = outpointKey(toHex(i.txid), i.vout);
          this.addCoin(k, entry.undo![pos]![vin]!);
          this.spentBy.delete(k);
        });
      }
      if (this.txIndex.get(id)?.entry === entry) this.txIndex.delete(id);
      const scripts = new Set<string>(tx.outputs.map((o) => toHex(o.scriptPubKey)));
      if (pos > 0) for (const c of entry.undo![pos]!) scripts.add(toHex(c.scriptPubKey));
      for (const s of scripts) {
        const h = this.scriptHistory.get(s);
        if (h && h[h.length - 1] === id) h.pop();
        if (h && h.length === 0) this.scriptHistory.delete(s);
      }
    }
    this.active.pop();
    return block.txs.slice(1);
  }

  private hasInvalidAncestor(e: BlockEntry): boolean {
    for (let p: BlockEntry | undefined = e; p; p = p.parent) if (p.status === 'invalid') return true;
    return false;
  }

  private bestCandidate(): BlockEntry {
    let best = this.tip;
    for (const e of this.index.values()) {
      const better =
        e.chainwork > best.chainwork ||
        (e.chainwork === best.chainwork && best !== this.tip && e.seq < best.seq);
      if (better && !this.hasInvalidAncestor(e)) best = e;
    }
    return best;
  }

  /** Switches to the most-work valid chain (Core's ActivateBestChain), then fixes the mempool. */
  private activateBestChain(alreadyDisconnected: Transaction[] = [], disconnectedAny = false): void {
    const disconnected: Transaction[] = [...alreadyDisconnected];
    let reorged = disconnectedAny;
    for (let guard = 0; guard < 10_000; guard++) {
      const best = this.bestCandidate();
      if (best === this.tip) break;
      // Fork point.
      const path: BlockEntry[] = [];
      let f: BlockEntry | undefined = best;
      while (f && !this.isActive(f)) {
        path.unshift(f);
        f = f.parent;
      }
      const fork = f!;
      while (this.tip !== fork) {
        disconnected.unshift(...this.disconnectTip());
        reorged = true;
      }
      for (const b of path) {
        try {
          this.connectBlock(b);
        } catch (e) {
          if (!(e instanceof BlockRejected)) throw e;
          b.status = 'invalid';
          break;
        }
      }
    }
    // Any disconnect can make mempool txs invalid (immature coinbase spends, time locks).
    if (reorged) this.rebuildMempool(disconnected);
  }

  /**
   * After a reorg: the disconnected transactions go back first (fee checks bypassed, as Core's
   * MaybeUpdateMempoolForReorg does), then the previous mempool is re-validated.
   */
  private rebuildMempool(disconnected: Transaction[]): void {
    const old = [...this.mempool.values()];
    for (const e of old) this.removeFromMempool(e.txid);
    for (const tx of disconnected) {
      try {
        this.acceptTx(tx, { bypassFee: true });
      } catch (e) {
        if (!(e instanceof TxRejected)) throw e;
      }
    }
    for (const e of old) {
      try {
        const c = this.checkForMempool(e.tx, { bypassFee: true });
        this.addToMempool(c, e.time);
      } catch (err) {
        if (!(err instanceof TxRejected)) throw err;
      }
    }
  }

  /**
   * Adds a block to the tree (validating it) and activates the best chain. Returns its entry.
   * Throws {@link BlockRejected} when the block is invalid.
   */
  submitBlock(block: Block): BlockEntry {
    const hash = toHex(blockHash(block.header));
    const known = this.index.get(hash);
    if (known) return known;
    const parent = this.index.get(toHex(block.header.prevBlock));
    if (!parent) throw new BlockRejected('prev-blk-not-found');
    const entry = this.makeEntry(block, parent);
    this.checkBlock(block, entry);
    if (this.hasInvalidAncestor(parent)) throw new BlockRejected('bad-prevblk');
    this.index.set(hash, entry);
    const raw = encodeBlock(block);
    for (const l of this.listeners) l.blockAdded?.(entry, raw);
    this.activateBestChain();
    if (entry.status === 'invalid')
      throw new BlockRejected('block-validation-failed', `block ${hash} is invalid`);
    return entry;
  }

  /** The next block's timestamp: the devnet clock, but strictly after the tip and its MTP. */
  nextBlockTime(): number {
    return Math.max(this.now(), this.tip.header.time + 1, this.tip.mtp + 1);
  }

  /**
   * Builds, grinds and connects one block on the tip paying `payout` the subsidy plus fees.
   * `includeMempool` (default true) takes mempool transactions in order up to the weight limit.
   */
  mineBlock(payout: Uint8Array, opts: { includeMempool?: boolean; txs?: Transaction[] } = {}): BlockEntry {
    const height = this.height + 1;
    const chosen: Transaction[] = [];
    let fees = 0n;
    if (opts.txs) chosen.push(...opts.txs);
    else if (opts.includeMempool ?? true) {
      let weight = 4000;
      const taken = new Set<string>();
      for (const e of this.mempool.values()) {
        if (weight + e.weight > MAX_BLOCK_WEIGHT) continue;
        // Parents must be in the block already (insertion order is topological).
        if (e.tx.inputs.some((i) => this.mempool.has(toHex(i.txid)) && !taken.has(toHex(i.txid)))) continue;
        chosen.push(e.tx);
        taken.add(e.txid);
        weight += e.weight;
        fees += e.fee;
      }
    }
    if (opts.txs) {
      for (const tx of opts.txs) {
        const m = this.mempool.get(toHex(txidOf(tx)));
        if (m) fees += m.fee;
      }
    }
    const extra = new Uint8Array(4);
    // Extra nonce: the arrival counter, so competing branches never repeat a coinbase txid.
    new DataView(extra.buffer).setUint32(0, this.seq >>> 0);
    const coinbase: Transaction = {
      version: 2,
      inputs: [
        {
          txid: new Uint8Array(32),
          vout: 0xffffffff,
          scriptSig: Uint8Array.from([...num(height), ...pushData(extra)]),
          sequence: 0xffffffff,
          witness: [new Uint8Array(32)],
        },
      ],
      outputs: [{ value: blockSubsidy(height) + fees, scriptPubKey: payout }],
      locktime: 0,
    };
    const txs = [coinbase, ...chosen];
    coinbase.outputs.push({
      value: 0n,
      scriptPubKey: witnessCommitmentScript(witnessCommitmentHash(witnessMerkleRoot(txs), ZERO_HASH)),
    });
    const header: BlockHeader = {
      version: BLOCK_VERSION,
      prevBlock: Buffer.from(this.tip.hash, 'hex'),
      merkleRoot: blockMerkleRoot(txs),
      time: this.nextBlockTime(),
      bits: REGTEST_BITS,
      nonce: 0,
    };
    while (!hashMeetsTarget(blockHash(header), header.bits)) header.nonce++;
    const entry = this.submitBlock({ header, txs });
    if (this.tip !== entry) throw new BlockRejected('block-not-connected');
    return entry;
  }

  /** Mines `n` blocks to `payout`; returns their hashes. */
  generate(n: number, payout: Uint8Array, opts: { includeMempool?: boolean } = {}): string[] {
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(this.mineBlock(payout, opts).hash);
    return out;
  }

  /** Marks a block and its descendants invalid and switches to the best remaining chain. */
  invalidateBlock(hash: string): void {
    const entry = this.index.get(hash);
    if (!entry) throw new BlockRejected('block-not-found');
    if (!entry.parent) throw new BlockRejected('cannot-invalidate-genesis');
    const disconnected: Transaction[] = [];
    const wasActive = this.isActive(entry);
    if (wasActive) {
      while (this.tip !== entry.parent) disconnected.unshift(...this.disconnectTip());
    }
    entry.status = 'invalid';
    for (const l of this.listeners) l.blockInvalidated?.(hash);
    this.activateBestChain(disconnected, wasActive);
  }

  /** Clears the invalid mark of a block, its ancestors and descendants; re-activates the best chain. */
  reconsiderBlock(hash: string): void {
    const entry = this.index.get(hash);
    if (!entry) throw new BlockRejected('block-not-found');
    for (let p: BlockEntry | undefined = entry; p; p = p.parent)
      if (p.status === 'invalid') p.status = 'unchecked';
    for (const e of this.index.values()) {
      let p: BlockEntry | undefined = e;
      while (p && p.height > entry.height) p = p.parent;
      if (p === entry && e.status === 'invalid') e.status = 'unchecked';
    }
    for (const l of this.listeners) l.blockReconsidered?.(hash);
    this.activateBestChain();
  }

  /** Chain tips (Core's getchaintips). */
  chainTips(): { entry: BlockEntry; branchlen: number; status: string }[] {
    const hasChild = new Set<string>();
    for (const e of this.index.values()) if (e.parent) hasChild.add(e.parent.hash);
    const tips = [...this.index.values()].filter((e) => !hasChild.has(e.hash) || e === this.tip);
    return tips.map((e) => {
      let f: BlockEntry | undefined = e;
      while (f && !this.isActive(f)) f = f.parent;
      const branchlen = e.height - (f?.height ?? 0);
      const status =
        e === this.tip
          ? 'active'
          : this.hasInvalidAncestor(e)
            ? 'invalid'
            : e.status === 'valid'
              ? 'valid-fork'
              : 'valid-headers';
      return { entry: e, branchlen, status };
    });
  }

  /** Fee estimate in sat/kvB for a confirmation target (devnet model: base x2 / x1.5 / x1). */
  estimateFeeRate(target: number): bigint {
    if (target <= 2) return this.feeRate * 2n;
    if (target <= 6) return (this.feeRate * 3n) / 2n;
    return this.feeRate;
  }

  /** Forgets which transactions already passed script verification (benchmarks, tests). */
  clearScriptCache(): void {
    this.scriptCache.clear();
  }

  /** Header bytes of a block. */
  headerBytes(entry: BlockEntry): Uint8Array {
    return encodeHeader(entry.header);
  }
}
