/**
 * Building and signing P2WPKH wallet transactions through a PSBT (BIP174).
 *
 * The unsigned transaction is held as a PSBT (@scure/btc-signer) with each input's
 * `witnessUtxo`; each input is signed with our own BIP143 sighash and the crypto port
 * (`secp()`: RFC 6979, low-S), stored as a PSBT partial signature (strict DER + SIGHASH_ALL),
 * then finalized and extracted. The extracted bytes are re-parsed and checked against our own
 * codec (txid, outputs) so a library bug cannot sign something else.
 */
import { Transaction as PsbtTx } from '@scure/btc-signer';
import { secp } from '../../protocol/crypto/secp256k1.js';
import { equal, fromHex, toHex } from '../../protocol/encoding/bytes.js';
import { InvalidArgumentError } from '../../protocol/errors.js';
import { p2wpkh, p2wpkhScriptCode } from '../../protocol/tx/script.js';
import { derWithHashType } from '../../protocol/tx/signature.js';
import {
  decodeTx,
  SIGHASH_ALL,
  sighashSegwitV0,
  type Transaction,
  type TxOut,
  txidHex,
  weight,
} from '../../protocol/tx/transaction.js';
import { WalletError } from './errors.js';

/** nSequence that signals BIP125 replaceability and enables nLockTime. */
export const SEQUENCE_RBF = 0xfffffffd;

/** An input the wallet can sign: a P2WPKH output it owns. */
export interface SpendInput {
  /** Previous txid (hex, display order). */
  txid: string;
  vout: number;
  /** Value of the spent output (BIP143 commits to it). */
  value: bigint;
  /** The spent output's script (P2WPKH). */
  script: Uint8Array;
  /** nSequence; default {@link SEQUENCE_RBF}. */
  sequence?: number;
}

/** A transaction to build. */
export interface SpendPlan {
  inputs: readonly SpendInput[];
  outputs: readonly TxOut[];
  /** nLockTime (anti fee sniping: the current tip height). */
  locktime: number;
  /** Transaction version, default 2. */
  version?: number;
}

/** A signed transaction and its accounting. */
export interface SignedTx {
  tx: Transaction;
  raw: Uint8Array;
  txid: string;
  /** Inputs minus outputs, sats. */
  fee: bigint;
  weight: number;
  vsize: number;
  /** The unsigned PSBT (BIP174) the transaction was built from. */
  psbt: Uint8Array;
}

/** The unsigned transaction of `plan` in our own codec. */
export function unsignedTx(plan: SpendPlan): Transaction {
  if (plan.inputs.length === 0) throw new InvalidArgumentError('transaction has no inputs');
  if (plan.outputs.length === 0) throw new InvalidArgumentError('transaction has no outputs');
  return {
    version: plan.version ?? 2,
    locktime: plan.locktime,
    inputs: plan.inputs.map((i) => ({
      txid: fromHex(i.txid),
      vout: i.vout,
      scriptSig: new Uint8Array(0),
      sequence: i.sequence ?? SEQUENCE_RBF,
      witness: [],
    })),
    outputs: plan.outputs.map((o) => ({ value: o.value, scriptPubKey: o.scriptPubKey })),
  };
}

/** The unsigned PSBT of `plan` (inputs carry `witnessUtxo`). */
export function createPsbt(plan: SpendPlan): PsbtTx {
  const t = new PsbtTx({ version: plan.version ?? 2, lockTime: plan.locktime, allowUnknownOutputs: true });
  for (const i of plan.inputs) {
    t.addInput({
      txid: fromHex(i.txid),
      index: i.vout,
      sequence: i.sequence ?? SEQUENCE_RBF,
      witnessUtxo: { script: i.script, amount: i.value },
    });
  }
  for (const o of plan.outputs) t.addOutput({ script: o.scriptPubKey, amount: o.value });
  return t;
}

/**
 * Builds, signs (SIGHASH_ALL) and finalizes `plan`. `privateKeyFor(i)` returns the 32-byte key of
 * input `i`; its P2WPKH script must equal the input's script. Throws WalletError
 * `WALLET_NEGATIVE_FEE` when outputs exceed inputs.
 */
export function signP2wpkh(plan: SpendPlan, privateKeyFor: (index: number) => Uint8Array): SignedTx {
  const tx = unsignedTx(plan);
  let inSum = 0n;
  for (const i of plan.inputs) inSum += i.value;
  let outSum = 0n;
  for (const o of plan.outputs) outSum += o.value;
  if (outSum > inSum) throw new WalletError('WALLET_NEGATIVE_FEE', 'outputs exceed inputs');
  const psbtTx = createPsbt(plan);
  const psbt = psbtTx.toPSBT();
  plan.inputs.forEach((input, idx) => {
    const priv = privateKeyFor(idx);
    const pub = secp().publicKey(priv);
    if (!equal(p2wpkh(pub), input.script)) {
      throw new InvalidArgumentError(`key for input ${idx} does not match its script`);
    }
    const digest = sighashSegwitV0(tx, idx, p2wpkhScriptCode(pub), input.value, SIGHASH_ALL);
    const sig = secp().sign(digest, priv);
    if (!secp().verify(sig, digest, pub))
      throw new WalletError('WALLET_SIGN_FAILED', 'signature self-check failed');
    psbtTx.updateInput(idx, { partialSig: [[pub, derWithHashType(sig, SIGHASH_ALL)]] });
  });
  psbtTx.finalize();
  const raw = psbtTx.extract();
  const signed = decodeTx(raw);
  if (txidHex(signed) !== txidHex(tx) || signed.outputs.length !== tx.outputs.length) {
    throw new WalletError('WALLET_SIGN_FAILED', 'finalized PSBT does not match the planned transaction');
  }
  const w = weight(signed);
  return {
    tx: signed,
    raw,
    txid: txidHex(signed),
    fee: inSum - outSum,
    weight: w,
    vsize: Math.ceil(w / 4),
    psbt,
  };
}

/** Hex of a signed transaction (for RPC). */
export function rawHex(s: SignedTx): string {
  return toHex(s.raw);
}
