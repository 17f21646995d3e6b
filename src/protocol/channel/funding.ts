/**
 * BOLT #3 "Funding Transaction Output" and the 2-of-2 funding input shared by commitment and
 * closing transactions: the funding output, a single-funded funding transaction builder
 * (Appendix B: BIP69 order), and signing/witness helpers for spending the funding output.
 */
import { secp } from '../crypto/secp256k1.js';
import { equal } from '../encoding/bytes.js';
import { InvalidArgumentError } from '../errors.js';
import { p2wsh } from '../tx/script.js';
import { derWithHashType } from '../tx/signature.js';
import { SIGHASH_ALL, sighashSegwitV0, type Transaction, type TxIn, type TxOut } from '../tx/transaction.js';
import { compareInputs, sortByOutput } from './bip69.js';
import { fundingScript, sortedFundingPubkeys } from './scripts.js';

/** A transaction outpoint; `txid` in display (RPC) order like {@link TxIn.txid}. */
export interface Outpoint {
  txid: Uint8Array;
  vout: number;
}

/** The funding output: P2WSH of {@link fundingScript} for `amountSat`. */
export function fundingOutput(
  localFundingPubkey: Uint8Array,
  remoteFundingPubkey: Uint8Array,
  amountSat: bigint,
): TxOut {
  return { value: amountSat, scriptPubKey: p2wsh(fundingScript(localFundingPubkey, remoteFundingPubkey)) };
}

/** An input of a funding transaction (unsigned: scriptSig/witness are filled by the wallet). */
export interface FundingInput {
  txid: Uint8Array;
  vout: number;
  /** Defaults to 0xFFFFFFFF. */
  sequence?: number;
}

/** Parameters of {@link buildFundingTx}. */
export interface FundingTxParams {
  inputs: readonly FundingInput[];
  localFundingPubkey: Uint8Array;
  remoteFundingPubkey: Uint8Array;
  fundingAmountSat: bigint;
  /** Optional change output. */
  change?: TxOut;
  /** Defaults to 0. */
  locktime?: number;
}

/** A built funding transaction. */
export interface FundingTx {
  /** Unsigned transaction (empty scriptSigs and witnesses), version 2. */
  tx: Transaction;
  /** Index of the funding output (BIP69 order). */
  fundingOutputIndex: number;
  /** The funding witness script. */
  fundingScript: Uint8Array;
}

/**
 * Builds an unsigned single-funded funding transaction with inputs and outputs in BIP69 order
 * (as in BOLT #3 Appendix B). Signing the wallet inputs is the caller's business.
 */
export function buildFundingTx(p: FundingTxParams): FundingTx {
  if (p.inputs.length === 0) throw new InvalidArgumentError('funding transaction needs inputs');
  const inputs: TxIn[] = [...p.inputs].sort(compareInputs).map((i) => ({
    txid: i.txid,
    vout: i.vout,
    scriptSig: new Uint8Array(0),
    sequence: i.sequence ?? 0xffffffff,
    witness: [],
  }));
  const funding = fundingOutput(p.localFundingPubkey, p.remoteFundingPubkey, p.fundingAmountSat);
  const outputs = sortByOutput(p.change ? [funding, p.change] : [funding], (o) => o);
  return {
    tx: { version: 2, inputs, outputs, locktime: p.locktime ?? 0 },
    fundingOutputIndex: outputs.indexOf(funding),
    fundingScript: fundingScript(p.localFundingPubkey, p.remoteFundingPubkey),
  };
}

/** BIP143 SIGHASH_ALL digest of input 0 spending the funding output. */
export function fundingSighash(
  tx: Transaction,
  fundingWitnessScript: Uint8Array,
  fundingAmountSat: bigint,
): Uint8Array {
  return sighashSegwitV0(tx, 0, fundingWitnessScript, fundingAmountSat, SIGHASH_ALL);
}

/** Signs input 0 (the funding output) with SIGHASH_ALL; returns the 64-byte compact signature. */
export function signFundingInput(
  tx: Transaction,
  fundingWitnessScript: Uint8Array,
  fundingAmountSat: bigint,
  fundingPrivkey: Uint8Array,
): Uint8Array {
  return secp().sign(fundingSighash(tx, fundingWitnessScript, fundingAmountSat), fundingPrivkey);
}

/** Verifies a compact SIGHASH_ALL signature on input 0 (the funding output). */
export function verifyFundingInput(
  tx: Transaction,
  fundingWitnessScript: Uint8Array,
  fundingAmountSat: bigint,
  signature: Uint8Array,
  fundingPubkey: Uint8Array,
): boolean {
  return secp().verify(signature, fundingSighash(tx, fundingWitnessScript, fundingAmountSat), fundingPubkey);
}

/**
 * The funding input witness `0 <signature_for_pubkey1> <signature_for_pubkey2> <script>`:
 * signatures are DER + SIGHASH_ALL, ordered like the pubkeys in the script.
 */
export function fundingWitness(
  localFundingPubkey: Uint8Array,
  localSig: Uint8Array,
  remoteFundingPubkey: Uint8Array,
  remoteSig: Uint8Array,
): Uint8Array[] {
  const [p1] = sortedFundingPubkeys(localFundingPubkey, remoteFundingPubkey);
  const l = derWithHashType(localSig, SIGHASH_ALL);
  const r = derWithHashType(remoteSig, SIGHASH_ALL);
  const [s1, s2] = equal(p1, localFundingPubkey) ? [l, r] : [r, l];
  return [new Uint8Array(0), s1, s2, fundingScript(localFundingPubkey, remoteFundingPubkey)];
}

/** Returns a copy of `tx` with `witness` on input 0. */
export function withInputWitness(tx: Transaction, witness: Uint8Array[]): Transaction {
  const [first, ...rest] = tx.inputs;
  if (!first) throw new InvalidArgumentError('transaction has no input');
  return { ...tx, inputs: [{ ...first, witness }, ...rest] };
}
