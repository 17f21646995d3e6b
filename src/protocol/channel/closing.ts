/**
 * BOLT #3 "Legacy Closing Transaction" (the `closing_signed` variant): one funding input with
 * sequence 0xFFFFFFFF, locktime 0, an output per side (the opener's minus `fee_satoshis`),
 * outputs below the signer's dust limit removed, BIP69 order.
 */
import { secp } from '../crypto/secp256k1.js';
import { InvalidArgumentError } from '../errors.js';
import type { Transaction, TxOut } from '../tx/transaction.js';
import { sortByOutput } from './bip69.js';
import { fundingSighash, fundingWitness, type Outpoint, withInputWitness } from './funding.js';
import { fundingScript } from './scripts.js';

/** Parameters of {@link buildClosingTx} (local = the node producing the signature). */
export interface ClosingParams {
  fundingOutpoint: Outpoint;
  fundingAmountSat: bigint;
  localFundingPubkey: Uint8Array;
  remoteFundingPubkey: Uint8Array;
  /** `scriptpubkey` from our `shutdown`. */
  localScriptPubKey: Uint8Array;
  /** `scriptpubkey` from the peer's `shutdown`. */
  remoteScriptPubKey: Uint8Array;
  toLocalMsat: bigint;
  toRemoteMsat: bigint;
  /** `fee_satoshis` from `closing_signed`. */
  feeSat: bigint;
  /** True if we opened (funded) the channel: the fee comes out of our output. */
  localIsOpener: boolean;
  /** Our own `dust_limit_satoshis`. */
  dustLimitSat: bigint;
  /** BOLT #3: MAY eliminate its own output. */
  omitLocalOutput?: boolean;
}

/** A built (unsigned) closing transaction. */
export interface ClosingTx {
  tx: Transaction;
  localOutputIndex: number | undefined;
  remoteOutputIndex: number | undefined;
  fundingScript: Uint8Array;
  params: ClosingParams;
}

/**
 * Builds the legacy closing transaction. Each output is rounded down to whole satoshis, the fee
 * is subtracted from the opener's output, and outputs below `dustLimitSat` are removed.
 */
export function buildClosingTx(p: ClosingParams): ClosingTx {
  if (p.feeSat < 0n) throw new InvalidArgumentError('negative closing fee');
  let toLocal = p.toLocalMsat / 1000n;
  let toRemote = p.toRemoteMsat / 1000n;
  if (p.localIsOpener) toLocal -= p.feeSat;
  else toRemote -= p.feeSat;
  const local: TxOut = { value: toLocal, scriptPubKey: p.localScriptPubKey };
  const remote: TxOut = { value: toRemote, scriptPubKey: p.remoteScriptPubKey };
  const outs: TxOut[] = [];
  if (!p.omitLocalOutput && toLocal >= p.dustLimitSat) outs.push(local);
  if (toRemote >= p.dustLimitSat) outs.push(remote);
  const outputs = sortByOutput(outs, (o) => o);
  const tx: Transaction = {
    version: 2,
    inputs: [
      {
        txid: p.fundingOutpoint.txid,
        vout: p.fundingOutpoint.vout,
        scriptSig: new Uint8Array(0),
        sequence: 0xffffffff,
        witness: [],
      },
    ],
    outputs,
    locktime: 0,
  };
  const li = outputs.indexOf(local);
  const ri = outputs.indexOf(remote);
  return {
    tx,
    localOutputIndex: li < 0 ? undefined : li,
    remoteOutputIndex: ri < 0 ? undefined : ri,
    fundingScript: fundingScript(p.localFundingPubkey, p.remoteFundingPubkey),
    params: p,
  };
}

/** Signs the closing transaction with a funding private key (64-byte compact signature). */
export function signClosingTx(c: ClosingTx, fundingPrivkey: Uint8Array): Uint8Array {
  return secp().sign(fundingSighash(c.tx, c.fundingScript, c.params.fundingAmountSat), fundingPrivkey);
}

/** The fully signed closing transaction from both compact signatures. */
export function finalizeClosingTx(c: ClosingTx, localSig: Uint8Array, remoteSig: Uint8Array): Transaction {
  return withInputWitness(
    c.tx,
    fundingWitness(c.params.localFundingPubkey, localSig, c.params.remoteFundingPubkey, remoteSig),
  );
}
