/**
 * Devnet benchmarks (issue 3): mempool validation throughput (testmempoolaccept-style, no
 * script cache) for 1-in-2-out P2WPKH transactions and for 2-of-2 P2WSH spends, and the time
 * to connect a block of 1,000 transactions (all scripts verified, and with the mempool's
 * script cache warm as when mining).
 */
import { DevnetChain } from '../src/apps/devnet/chain.js';
import { sha256 } from '../src/protocol/crypto/hash.js';
import { secp } from '../src/protocol/crypto/secp256k1.js';
import { fromHex, utf8 } from '../src/protocol/encoding/bytes.js';
import { OP, p2wpkh, p2wpkhScriptCode, p2wsh, script } from '../src/protocol/tx/script.js';
import { derWithHashType } from '../src/protocol/tx/signature.js';
import { SIGHASH_ALL, sighashSegwitV0, type Transaction, txidHex } from '../src/protocol/tx/transaction.js';
import { type BenchRow, formatOps } from './harness.js';

const priv = sha256(utf8('bench key 1'));
const priv2 = sha256(utf8('bench key 2'));
const pub = secp().publicKey(priv);
const pub2 = secp().publicKey(priv2);
const spk = p2wpkh(pub);
const ms = script(OP.OP_2, pub, pub2, OP.OP_2, OP.OP_CHECKMULTISIG);
const msSpk = p2wsh(ms);

function sig(tx: Transaction, i: number, code: Uint8Array, value: bigint, k: Uint8Array): Uint8Array {
  return derWithHashType(secp().sign(sighashSegwitV0(tx, i, code, value, SIGHASH_ALL), k), SIGHASH_ALL);
}

/** A chain with `n` confirmed outputs of `value` paying `out` (fan-outs of a mature coinbase). */
function chainWithOutputs(
  n: number,
  value: bigint,
  out: Uint8Array,
): { chain: DevnetChain; outpoints: { txid: string; vout: number }[] } {
  const chain = new DevnetChain();
  const outpoints: { txid: string; vout: number }[] = [];
  chain.generate(Math.ceil(n / 1000) + 100, spk, { includeMempool: false });
  let h = 1;
  while (outpoints.length < n) {
    const k = Math.min(1000, n - outpoints.length);
    const cbTx = chain.blockAt(h++)!.block.txs[0]!;
    const cbValue = cbTx.outputs[0]!.value;
    const tx: Transaction = {
      version: 2,
      inputs: [
        {
          txid: fromHex(txidHex(cbTx)),
          vout: 0,
          scriptSig: new Uint8Array(0),
          sequence: 0xfffffffd,
          witness: [],
        },
      ],
      outputs: Array.from({ length: k }, () => ({ value, scriptPubKey: out })),
      locktime: 0,
    };
    tx.outputs.push({ value: cbValue - value * BigInt(k) - 100_000n, scriptPubKey: spk });
    tx.inputs[0]!.witness = [sig(tx, 0, p2wpkhScriptCode(pub), cbValue, priv), pub];
    const id = chain.acceptTx(tx).txid;
    for (let v = 0; v < k; v++) outpoints.push({ txid: id, vout: v });
  }
  chain.generate(1, spk);
  return { chain, outpoints };
}

function p2wpkhSpends(outpoints: { txid: string; vout: number }[], value: bigint): Transaction[] {
  return outpoints.map((o) => {
    const tx: Transaction = {
      version: 2,
      inputs: [
        {
          txid: fromHex(o.txid),
          vout: o.vout,
          scriptSig: new Uint8Array(0),
          sequence: 0xfffffffd,
          witness: [],
        },
      ],
      outputs: [
        { value: value / 2n, scriptPubKey: spk },
        { value: value / 2n - 500n, scriptPubKey: spk },
      ],
      locktime: 0,
    };
    tx.inputs[0]!.witness = [sig(tx, 0, p2wpkhScriptCode(pub), value, priv), pub];
    return tx;
  });
}

function msSpends(outpoints: { txid: string; vout: number }[], value: bigint): Transaction[] {
  return outpoints.map((o) => {
    const tx: Transaction = {
      version: 2,
      inputs: [
        {
          txid: fromHex(o.txid),
          vout: o.vout,
          scriptSig: new Uint8Array(0),
          sequence: 0xfffffffd,
          witness: [],
        },
      ],
      outputs: [{ value: value - 500n, scriptPubKey: spk }],
      locktime: 0,
    };
    tx.inputs[0]!.witness = [
      new Uint8Array(0),
      sig(tx, 0, ms, value, priv),
      sig(tx, 0, ms, value, priv2),
      ms,
    ];
    return tx;
  });
}

function rate(n: number, ms: number): string {
  return `${formatOps((n * 1000) / ms)} tx/s`;
}

export default async function devnetBench(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const value = 100_000n;
  {
    const { chain, outpoints } = chainWithOutputs(1000, value, spk);
    const txs = p2wpkhSpends(outpoints, value);
    const t0 = performance.now();
    for (const tx of txs) chain.acceptTx(tx, { testOnly: true });
    rows.push({
      group: 'Devnet',
      name: 'validate 1-in-2-out P2WPKH (testmempoolaccept, 1,000 txs)',
      value: rate(txs.length, performance.now() - t0),
    });

    // Block connection: 1,000 transactions, cold script cache (every input verified).
    for (const tx of txs) chain.acceptTx(tx);
    chain.clearScriptCache();
    const t1 = performance.now();
    const entry = chain.mineBlock(spk);
    const cold = performance.now() - t1;
    rows.push({
      group: 'Devnet',
      name: `connect a block of ${entry.block.txs.length - 1} P2WPKH txs (all scripts verified)`,
      value: `${cold.toFixed(0)} ms`,
    });
  }
  {
    const { chain, outpoints } = chainWithOutputs(1000, value, spk);
    const txs = p2wpkhSpends(outpoints, value);
    for (const tx of txs) chain.acceptTx(tx);
    const t = performance.now();
    const entry = chain.mineBlock(spk);
    rows.push({
      group: 'Devnet',
      name: `mine + connect a block of ${entry.block.txs.length - 1} txs (mempool script cache warm)`,
      value: `${(performance.now() - t).toFixed(0)} ms`,
    });
  }
  {
    const { chain, outpoints } = chainWithOutputs(500, value, msSpk);
    const txs = msSpends(outpoints, value);
    const t0 = performance.now();
    for (const tx of txs) chain.acceptTx(tx, { testOnly: true });
    rows.push({
      group: 'Devnet',
      name: 'validate 2-of-2 P2WSH spend (testmempoolaccept, 500 txs)',
      value: rate(txs.length, performance.now() - t0),
    });
  }
  return rows;
}
