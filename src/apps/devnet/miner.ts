/**
 * The devnet's internal miner wallet: one fixed P2WPKH key that receives block rewards when no
 * address is given, and funds test addresses (`fund`, `devnet_fund`). Deterministic across
 * restarts so a persisted devnet keeps its funds. Devnet only: the key is public knowledge.
 */
import { sha256 } from '../../protocol/crypto/hash.js';
import { secp } from '../../protocol/crypto/secp256k1.js';
import { utf8 } from '../../protocol/encoding/bytes.js';
import { InvalidArgumentError } from '../../protocol/errors.js';
import { scriptToAddress } from '../../protocol/tx/address.js';
import { p2wpkh, p2wpkhScriptCode } from '../../protocol/tx/script.js';
import { derWithHashType } from '../../protocol/tx/signature.js';
import { SIGHASH_ALL, sighashSegwitV0, type Transaction, type TxIn } from '../../protocol/tx/transaction.js';
import type { DevnetChain } from './chain.js';
import { COINBASE_MATURITY, dustThreshold, feeForVsize, MAX_ANCESTORS } from './policy.js';

/** The miner key (sha256 of a fixed label; devnet only). */
export const MINER_PRIVATE_KEY = sha256(utf8('farad devnet miner key'));
export const MINER_PUBLIC_KEY = secp().publicKey(MINER_PRIVATE_KEY);
/** The miner's P2WPKH output script. */
export const MINER_SCRIPT = p2wpkh(MINER_PUBLIC_KEY);
/** The miner's regtest address (bcrt1q...). */
export const MINER_ADDRESS = scriptToAddress(MINER_SCRIPT, 'regtest')!;

interface Spendable {
  txid: string;
  vout: number;
  value: bigint;
  confirmed: boolean;
}

/** Spendable miner coins: mature confirmed ones first, then unconfirmed change in the mempool. */
function minerCoins(chain: DevnetChain): Spendable[] {
  const spendHeight = chain.height + 1;
  const out: Spendable[] = [];
  for (const u of chain.utxosForScript(MINER_SCRIPT)) {
    if (u.coin.coinbase && spendHeight - u.coin.height < COINBASE_MATURITY) continue;
    if (chain.spentInMempool(u.txid, u.vout)) continue;
    out.push({ txid: u.txid, vout: u.vout, value: u.coin.value, confirmed: true });
  }
  out.sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
  for (const e of chain.mempool.values()) {
    e.tx.outputs.forEach((o, vout) => {
      if (
        o.scriptPubKey.length !== MINER_SCRIPT.length ||
        !o.scriptPubKey.every((b, i) => b === MINER_SCRIPT[i])
      )
        return;
      if (chain.spentInMempool(e.txid, vout)) return;
      // Keep unconfirmed chains well inside Core's ancestor limit.
      if (chain.descendants(e.txid).size > 0 || ancestorDepth(chain, e.txid) >= MAX_ANCESTORS - 2) return;
      out.push({ txid: e.txid, vout, value: o.value, confirmed: false });
    });
  }
  return out;
}

function ancestorDepth(chain: DevnetChain, txid: string): number {
  const seen = new Set<string>();
  const stack = [txid];
  while (stack.length) {
    const t = stack.pop()!;
    const e = chain.mempool.get(t);
    if (!e || seen.has(t)) continue;
    seen.add(t);
    for (const i of e.tx.inputs) stack.push(Buffer.from(i.txid).toString('hex'));
  }
  return seen.size;
}

/**
 * Sends `sats` to `script` from the miner wallet and leaves the transaction in the mempool.
 * If the miner has too few mature coins it first mines coinbase-only blocks to itself (so
 * nothing else in the mempool gets confirmed). Fee: the chain's fee estimate for 6 blocks.
 * Returns the txid.
 */
export function fundScript(chain: DevnetChain, script: Uint8Array, sats: bigint): string {
  if (sats <= 0n) throw new InvalidArgumentError('amount must be positive');
  const rate = chain.estimateFeeRate(6);
  for (let mined = 0; ; ) {
    const coins = minerCoins(chain);
    const picked: Spendable[] = [];
    let total = 0n;
    const outputs = [{ value: sats, scriptPubKey: script }];
    // vsize estimate: 11 overhead + 68 per P2WPKH input + outputs (value + len + script), + change.
    const vsizeFor = (nIn: number, withChange: boolean) =>
      11 + 68 * nIn + outputs.reduce((a, o) => a + 9 + o.scriptPubKey.length, 0) + (withChange ? 31 : 0);
    let ok = false;
    for (const c of coins) {
      picked.push(c);
      total += c.value;
      if (total >= sats + feeForVsize(rate, vsizeFor(picked.length, true))) {
        ok = true;
        break;
      }
    }
    if (!ok) {
      if (mined > 2000) throw new InvalidArgumentError('devnet miner cannot fund this amount');
      // Mature one more coinbase (or reach maturity on a fresh chain).
      const need = chain.height < COINBASE_MATURITY ? COINBASE_MATURITY + 1 - chain.height : 1;
      chain.generate(need, MINER_SCRIPT, { includeMempool: false });
      mined += need;
      continue;
    }
    const fee = feeForVsize(rate, vsizeFor(picked.length, true));
    const change = total - sats - fee;
    const outs = [...outputs];
    if (change >= dustThreshold({ value: change, scriptPubKey: MINER_SCRIPT })) {
      outs.push({ value: change, scriptPubKey: MINER_SCRIPT });
    }
    const inputs: TxIn[] = picked.map((p) => ({
      txid: Uint8Array.from(Buffer.from(p.txid, 'hex')),
      vout: p.vout,
      scriptSig: new Uint8Array(0),
      sequence: 0xfffffffd,
      witness: [],
    }));
    const tx: Transaction = { version: 2, inputs, outputs: outs, locktime: 0 };
    const code = p2wpkhScriptCode(MINER_PUBLIC_KEY);
    picked.forEach((p, i) => {
      const h = sighashSegwitV0(tx, i, code, p.value, SIGHASH_ALL);
      inputs[i]!.witness = [
        derWithHashType(secp().sign(h, MINER_PRIVATE_KEY), SIGHASH_ALL),
        MINER_PUBLIC_KEY,
      ];
    });
    return chain.acceptTx(tx).txid;
  }
}
