/**
 * An in-memory ChainBackend for unit tests: a chain of blocks with a mempool, mining and
 * reorgs on demand. Validation is minimal (inputs must exist and be unspent, no negative fee,
 * min relay fee 1 sat/vB); the real consensus checks live in the devnet.
 */

import {
  type BackendBlock,
  type BackendTxStatus,
  type BlockRef,
  broadcastErrorFrom,
  type ChainBackend,
  type WatchQuery,
} from '../../src/node/ports/chain.js';
import { sha256 } from '../../src/protocol/crypto/hash.js';
import { fromHex, toHex, utf8 } from '../../src/protocol/encoding/bytes.js';
import { decodeTx, type Transaction, txidHex, vsize } from '../../src/protocol/tx/transaction.js';

let counter = 0;

export class FakeBackend implements ChainBackend {
  readonly name = 'fake';
  blocks: BackendBlock[] = [];
  mempool = new Map<string, Transaction>();
  feeRate: bigint | undefined = undefined;
  calls = 0;

  constructor() {
    this.blocks.push({ hash: nextHash(), prevHash: '00'.repeat(32), time: 1_600_000_000, txs: [] });
  }

  get height(): number {
    return this.blocks.length - 1;
  }

  /** Mines `n` blocks; the first includes the mempool (or `txs` when given). */
  mine(n = 1, txs?: Transaction[]): string[] {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const include = i === 0 ? (txs ?? [...this.mempool.values()]) : [];
      for (const t of include) this.mempool.delete(txidHex(t));
      const prev = this.blocks[this.blocks.length - 1]!;
      const b = { hash: nextHash(), prevHash: prev.hash, time: prev.time + 600, txs: include };
      this.blocks.push(b);
      out.push(b.hash);
    }
    return out;
  }

  /** Removes the top `depth` blocks; their txs return to the mempool unless `dropTxs`. */
  invalidate(depth: number, dropTxs = false): void {
    const gone = this.blocks.splice(this.blocks.length - depth, depth);
    if (!dropTxs) for (const b of gone) for (const t of b.txs) this.mempool.set(txidHex(t), t);
  }

  /** A coinbase-like funding tx paying `value` to `script` (no inputs checked). */
  fundTx(script: Uint8Array, value: bigint): Transaction {
    counter++;
    return {
      version: 2,
      locktime: 0,
      inputs: [
        {
          txid: sha256(utf8(`fund${counter}`)),
          vout: 0,
          scriptSig: new Uint8Array(0),
          sequence: 0,
          witness: [],
        },
      ],
      outputs: [{ value, scriptPubKey: script }],
    };
  }

  fund(script: Uint8Array, value: bigint): string {
    const tx = this.fundTx(script, value);
    this.mempool.set(txidHex(tx), tx);
    return txidHex(tx);
  }

  #find(txid: string): { tx: Transaction; confirmed: boolean } | undefined {
    const m = this.mempool.get(txid);
    if (m) return { tx: m, confirmed: false };
    for (const b of this.blocks)
      for (const t of b.txs) if (txidHex(t) === txid) return { tx: t, confirmed: true };
    return undefined;
  }

  async getTip(): Promise<BlockRef> {
    this.calls++;
    return { height: this.height, hash: this.blocks[this.height]!.hash };
  }
  async getBlockHash(height: number): Promise<string | undefined> {
    this.calls++;
    return this.blocks[height]?.hash;
  }
  async getBlock(hash: string): Promise<BackendBlock> {
    this.calls++;
    const b = this.blocks.find((x) => x.hash === hash);
    if (!b) throw new Error('no block');
    return b;
  }
  async getTransaction(txid: string): Promise<Transaction | undefined> {
    return this.#find(txid)?.tx;
  }
  async mempoolTransactions(q: WatchQuery): Promise<Transaction[]> {
    const scripts = new Set(q.scripts.map(toHex));
    const ops = new Set(q.outpoints.map((o) => `${o.txid}:${o.vout}`));
    return [...this.mempool.values()].filter(
      (t) =>
        t.outputs.some((o) => scripts.has(toHex(o.scriptPubKey))) ||
        t.inputs.some((i) => ops.has(`${toHex(i.txid)}:${i.vout}`)),
    );
  }
  async txStatus(txid: string): Promise<BackendTxStatus> {
    const f = this.#find(txid);
    return !f ? 'unknown' : f.confirmed ? 'confirmed' : 'mempool';
  }
  async estimateFeeRate(): Promise<bigint | undefined> {
    return this.feeRate;
  }
  async broadcast(raw: Uint8Array): Promise<string> {
    const tx = decodeTx(raw);
    const txid = txidHex(tx);
    if (this.#find(txid)?.confirmed) throw broadcastErrorFrom(-27, 'Transaction outputs already in utxo set');
    let inSum = 0n;
    const conflicts: string[] = [];
    for (const inp of tx.inputs) {
      const prevId = toHex(inp.txid);
      const prev = this.#find(prevId);
      const o = prev?.tx.outputs[inp.vout];
      if (!o) throw broadcastErrorFrom(-25, 'bad-txns-inputs-missingorspent');
      for (const b of this.blocks)
        for (const t of b.txs)
          if (t.inputs.some((i) => toHex(i.txid) === prevId && i.vout === inp.vout))
            throw broadcastErrorFrom(-25, 'bad-txns-inputs-missingorspent');
      for (const [id, t] of this.mempool)
        if (t.inputs.some((i) => toHex(i.txid) === prevId && i.vout === inp.vout)) conflicts.push(id);
      inSum += o.value;
    }
    let outSum = 0n;
    for (const o of tx.outputs) outSum += o.value;
    const fee = inSum - outSum;
    if (fee < BigInt(vsize(tx)))
      throw broadcastErrorFrom(-26, `min relay fee not met, ${fee} < ${vsize(tx)}`);
    for (const c of conflicts) this.#evict(c);
    this.mempool.set(txid, tx);
    return txid;
  }
  #evict(txid: string): void {
    this.mempool.delete(txid);
    for (const [id, t] of [...this.mempool])
      if (t.inputs.some((i) => toHex(i.txid) === txid)) this.#evict(id);
  }
}

function nextHash(): string {
  counter++;
  return toHex(sha256(fromHex(counter.toString(16).padStart(8, '0'))));
}
