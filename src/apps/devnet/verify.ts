/**
 * Script and witness verification for the devnet, through bitcore-lib's `Script.Interpreter`
 * (a port of Bitcoin Core's `VerifyScript`). This is the only place the devnet touches
 * bitcore-lib.
 *
 * Known gaps of bitcore-lib 11.5.1 and how they are handled here:
 * - SCRIPT_VERIFY_CLEANSTACK is broken upstream: it tests the stack left by the *scriptSig*
 *   (so every ordinary spend fails). The flag is therefore never passed to bitcore; instead,
 *   after a successful run, the final stack must hold exactly one element (Core's rule; witness
 *   programs already require it, P2SH checks the redeem-script stack). See {@link verifyInput}.
 * - A witness script leaving more than one stack element fails with EVAL_FALSE in bitcore
 *   (CLEANSTACK in Core): the transaction is rejected either way, only the text differs.
 * - Taproot (BIP341/342) verification is enabled (SCRIPT_VERIFY_TAPROOT) and needs every spent
 *   output, which {@link PreparedTx} attaches to the bitcore transaction. A failing key-path
 *   signature leaves bitcore's errstr empty; it is reported as Core's SCHNORR_SIG text.
 */
import { createRequire } from 'node:module';
import { encodeTx, type Transaction } from '../../protocol/tx/transaction.js';

const require = createRequire(import.meta.url);

/** The subset of bitcore-lib's API used here (bitcore ships no type declarations). */
interface BitcoreScript {
  toBuffer(): Buffer;
}
interface BitcoreTx {
  inputs: { output?: unknown }[];
}
interface BitcoreInterpreter {
  verify(
    scriptSig: BitcoreScript,
    scriptPubkey: BitcoreScript,
    tx: BitcoreTx,
    nin: number,
    flags: number,
    witness: Buffer[],
    satoshis: number,
  ): boolean;
  errstr: string;
  stack: Buffer[];
}
interface Bitcore {
  Transaction: (new (
    raw: Buffer,
  ) => BitcoreTx) & {
    Output: new (o: { script: BitcoreScript; satoshis: number }) => unknown;
  };
  Script: ((buf: Buffer) => BitcoreScript) & {
    fromBuffer(buf: Buffer): BitcoreScript;
    Interpreter: (new () => BitcoreInterpreter) & Record<string, number>;
  };
}

const bitcore = require('bitcore-lib') as Bitcore;
const I = bitcore.Script.Interpreter;

/** Script verification flags (Bitcoin Core's values, as bitcore-lib defines them). */
export const SCRIPT_FLAGS = {
  P2SH: I.SCRIPT_VERIFY_P2SH!,
  STRICTENC: I.SCRIPT_VERIFY_STRICTENC!,
  DERSIG: I.SCRIPT_VERIFY_DERSIG!,
  LOW_S: I.SCRIPT_VERIFY_LOW_S!,
  NULLDUMMY: I.SCRIPT_VERIFY_NULLDUMMY!,
  MINIMALDATA: I.SCRIPT_VERIFY_MINIMALDATA!,
  DISCOURAGE_UPGRADABLE_NOPS: I.SCRIPT_VERIFY_DISCOURAGE_UPGRADABLE_NOPS!,
  CLEANSTACK: I.SCRIPT_VERIFY_CLEANSTACK!,
  CHECKLOCKTIMEVERIFY: I.SCRIPT_VERIFY_CHECKLOCKTIMEVERIFY!,
  CHECKSEQUENCEVERIFY: I.SCRIPT_VERIFY_CHECKSEQUENCEVERIFY!,
  WITNESS: I.SCRIPT_VERIFY_WITNESS!,
  DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM: I.SCRIPT_VERIFY_DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM!,
  MINIMALIF: I.SCRIPT_VERIFY_MINIMALIF!,
  NULLFAIL: I.SCRIPT_VERIFY_NULLFAIL!,
  WITNESS_PUBKEYTYPE: I.SCRIPT_VERIFY_WITNESS_PUBKEYTYPE!,
  CONST_SCRIPTCODE: I.SCRIPT_VERIFY_CONST_SCRIPTCODE!,
  TAPROOT: I.SCRIPT_VERIFY_TAPROOT!,
} as const;

const F = SCRIPT_FLAGS;

/** Consensus ("mandatory") flags: what every block must satisfy (Core's block script flags). */
export const MANDATORY_FLAGS =
  F.P2SH | F.DERSIG | F.NULLDUMMY | F.CHECKLOCKTIMEVERIFY | F.CHECKSEQUENCEVERIFY | F.WITNESS | F.TAPROOT;

/** Policy flags for mempool acceptance (Core's STANDARD_SCRIPT_VERIFY_FLAGS, minus the taproot discouragements). */
export const STANDARD_FLAGS =
  MANDATORY_FLAGS |
  F.STRICTENC |
  F.LOW_S |
  F.MINIMALDATA |
  F.DISCOURAGE_UPGRADABLE_NOPS |
  F.CLEANSTACK |
  F.MINIMALIF |
  F.NULLFAIL |
  F.DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM |
  F.WITNESS_PUBKEYTYPE |
  F.CONST_SCRIPTCODE;

/** Bitcoin Core's `ScriptErrorString` texts, keyed by the SCRIPT_ERR_ name. */
const CORE_TEXT: Record<string, string> = {
  EVAL_FALSE: 'Script evaluated without error but finished with a false/empty top stack element',
  VERIFY: 'Script failed an OP_VERIFY operation',
  EQUALVERIFY: 'Script failed an OP_EQUALVERIFY operation',
  CHECKMULTISIGVERIFY: 'Script failed an OP_CHECKMULTISIGVERIFY operation',
  CHECKSIGVERIFY: 'Script failed an OP_CHECKSIGVERIFY operation',
  NUMEQUALVERIFY: 'Script failed an OP_NUMEQUALVERIFY operation',
  SCRIPT_SIZE: 'Script is too big',
  PUSH_SIZE: 'Push value size limit exceeded',
  OP_COUNT: 'Operation limit exceeded',
  STACK_SIZE: 'Stack size limit exceeded',
  SIG_COUNT: 'Signature count negative or greater than pubkey count',
  PUBKEY_COUNT: 'Pubkey count negative or limit exceeded',
  BAD_OPCODE: 'Opcode missing or not understood',
  DISABLED_OPCODE: 'Attempted to use a disabled opcode',
  INVALID_STACK_OPERATION: 'Operation not valid with the current stack size',
  INVALID_ALTSTACK_OPERATION: 'Operation not valid with the current altstack size',
  OP_RETURN: 'OP_RETURN was encountered',
  UNBALANCED_CONDITIONAL: 'Invalid OP_IF construction',
  NEGATIVE_LOCKTIME: 'Negative locktime',
  UNSATISFIED_LOCKTIME: 'Locktime requirement not satisfied',
  SIG_HASHTYPE: 'Signature hash type missing or not understood',
  SIG_DER: 'Non-canonical DER signature',
  MINIMALDATA: 'Data push larger than necessary',
  SIG_PUSHONLY: 'Only push operators allowed in signatures',
  SIG_HIGH_S: 'Non-canonical signature: S value is unnecessarily high',
  SIG_NULLDUMMY: 'Dummy CHECKMULTISIG argument must be zero',
  MINIMALIF: 'OP_IF/NOTIF argument must be minimal',
  SIG_NULLFAIL: 'Signature must be zero for failed CHECK(MULTI)SIG operation',
  DISCOURAGE_UPGRADABLE_NOPS: 'NOPx reserved for soft-fork upgrades',
  DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM: 'Witness version reserved for soft-fork upgrades',
  DISCOURAGE_UPGRADABLE_TAPROOT_VERSION: 'Taproot version reserved for soft-fork upgrades',
  DISCOURAGE_OP_SUCCESS: 'OP_SUCCESSx reserved for soft-fork upgrades',
  DISCOURAGE_UPGRADABLE_PUBKEYTYPE: 'Public key version reserved for soft-fork upgrades',
  PUBKEYTYPE: 'Public key is neither compressed or uncompressed',
  CLEANSTACK: 'Stack size must be exactly one after execution',
  WITNESS_PROGRAM_WRONG_LENGTH: 'Witness program has incorrect length',
  WITNESS_PROGRAM_WITNESS_EMPTY: 'Witness program was passed an empty witness',
  WITNESS_PROGRAM_MISMATCH: 'Witness program hash mismatch',
  WITNESS_MALLEATED: 'Witness requires empty scriptSig',
  WITNESS_MALLEATED_P2SH: 'Witness requires only-redeemscript scriptSig',
  WITNESS_UNEXPECTED: 'Witness provided for non-witness script',
  WITNESS_PUBKEYTYPE: 'Using non-compressed keys in segwit',
  SCHNORR_SIG_SIZE: 'Invalid Schnorr signature size',
  SCHNORR_SIG_HASHTYPE: 'Invalid Schnorr signature hash type',
  SCHNORR_SIG: 'Invalid Schnorr signature',
  TAPROOT_WRONG_CONTROL_SIZE: 'Invalid Taproot control block size',
  TAPSCRIPT_VALIDATION_WEIGHT: 'Too much signature validation relative to witness weight',
  TAPSCRIPT_MINIMALIF: 'OP_IF/NOTIF argument must be minimal in tapscript',
  OP_CODESEPARATOR: 'Using OP_CODESEPARATOR in non-witness script',
  SIG_FINDANDDELETE: 'Signature is found in scriptCode',
  UNKNOWN_ERROR: 'unknown error',
};

/** bitcore-lib error names that differ from Core's. */
const ALIASES: Record<string, string> = {
  EVAL_FALSE_IN_STACK: 'EVAL_FALSE',
  EVAL_FALSE_NO_RESULT: 'EVAL_FALSE',
  EVAL_FALSE_NO_P2SH_STACK: 'EVAL_FALSE',
  EVAL_FALSE_IN_P2SH_STACK: 'EVAL_FALSE',
  NULLFAIL: 'SIG_NULLFAIL',
  SIG_DER_INVALID_FORMAT: 'SIG_DER',
  SIG_DER_HIGH_S: 'SIG_HIGH_S',
  UNDEFINED_OPCODE: 'BAD_OPCODE',
};

/** Bitcoin Core's text for a bitcore `errstr` (e.g. `SCRIPT_ERR_SIG_NULLFAIL`). */
export function coreScriptError(errstr: string): string {
  const name = errstr.replace(/^SCRIPT_ERR_/, '').replace(/:.*$/, '');
  const key = ALIASES[name] ?? name;
  return CORE_TEXT[key] ?? CORE_TEXT.UNKNOWN_ERROR!;
}

/** A spent output, as the interpreter needs it. */
export interface SpentOutput {
  value: bigint;
  scriptPubKey: Uint8Array;
}

/**
 * A transaction prepared once for verifying all of its inputs (bitcore parses the raw bytes;
 * the spent outputs are attached for taproot sighashes).
 */
export class PreparedTx {
  readonly btx: BitcoreTx;
  constructor(
    readonly tx: Transaction,
    readonly spent: SpentOutput[],
    raw: Uint8Array = encodeTx(tx),
  ) {
    this.btx = new bitcore.Transaction(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength));
    spent.forEach((s, i) => {
      const input = this.btx.inputs[i];
      if (!input) return;
      try {
        input.output = new bitcore.Transaction.Output({
          script: bitcore.Script(Buffer.from(s.scriptPubKey)),
          satoshis: Number(s.value),
        });
      } catch {
        // An unparsable spent script: only taproot sighashes need it, and those fail anyway.
      }
    });
  }
}

function isWitnessProgram(s: Uint8Array): boolean {
  const v = s[0];
  return s.length >= 4 && s.length <= 42 && (v === 0 || (v! >= 0x51 && v! <= 0x60)) && s[1] === s.length - 2;
}

/** A spend of a witness program: native, or P2SH whose scriptSig is one push of a witness program. */
function isWitnessSpend(scriptSig: Uint8Array, spk: Uint8Array): boolean {
  if (isWitnessProgram(spk)) return true;
  const p2sh = spk.length === 23 && spk[0] === 0xa9 && spk[1] === 20 && spk[22] === 0x87;
  return (
    p2sh &&
    scriptSig.length >= 5 &&
    scriptSig[0] === scriptSig.length - 1 &&
    isWitnessProgram(scriptSig.subarray(1))
  );
}

/** Result of one input's verification: `undefined` on success, else Core's error text. */
export type ScriptResult = string | undefined;

/**
 * Verifies input `index` of `p` under `flags`. Returns undefined when valid, or Core's
 * ScriptErrorString text of the failure.
 */
export function verifyInput(p: PreparedTx, index: number, flags: number): ScriptResult {
  const input = p.tx.inputs[index];
  const spent = p.spent[index];
  if (!input || !spent) return CORE_TEXT.UNKNOWN_ERROR;
  const interp = new I();
  let ok: boolean;
  try {
    ok = interp.verify(
      bitcore.Script.fromBuffer(Buffer.from(input.scriptSig)),
      bitcore.Script.fromBuffer(Buffer.from(spent.scriptPubKey)),
      p.btx,
      index,
      flags & ~F.CLEANSTACK,
      input.witness.map((w) => Buffer.from(w)),
      Number(spent.value),
    );
  } catch {
    // bitcore throws on unparsable scripts (e.g. a truncated push): Core reports BAD_OPCODE.
    return CORE_TEXT.BAD_OPCODE;
  }
  if (!ok) {
    // bitcore leaves errstr empty when a taproot key-path signature fails to verify.
    if (!interp.errstr && isWitnessProgram(spent.scriptPubKey)) return CORE_TEXT.SCHNORR_SIG;
    return coreScriptError(interp.errstr || 'SCRIPT_ERR_UNKNOWN_ERROR');
  }
  // CLEANSTACK (policy), done here because bitcore's own check is broken (see module doc).
  // Witness programs (native or P2SH-wrapped) already require a clean stack (Core resizes to 1).
  if (
    flags & F.CLEANSTACK &&
    !isWitnessSpend(input.scriptSig, spent.scriptPubKey) &&
    interp.stack.length !== 1
  )
    return CORE_TEXT.CLEANSTACK;
  return undefined;
}

/**
 * Verifies every input with `flags`. On failure returns the Core reject reason: when the
 * failure is only under policy flags, `non-mandatory-script-verify-flag (...)`, otherwise
 * `mandatory-script-verify-flag-failed (...)` — Core 28's CheckInputScripts logic.
 */
export function verifyAllInputs(p: PreparedTx, flags: number): string | undefined {
  for (let i = 0; i < p.tx.inputs.length; i++) {
    const err = verifyInput(p, i, flags);
    if (err === undefined) continue;
    const nonMandatory = flags & ~MANDATORY_FLAGS;
    if (nonMandatory && verifyInput(p, i, flags & MANDATORY_FLAGS) === undefined)
      return `non-mandatory-script-verify-flag (${err})`;
    return `mandatory-script-verify-flag-failed (${err})`;
  }
  return undefined;
}
