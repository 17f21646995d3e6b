import { Transaction as PsbtTx } from '@scure/btc-signer';
import { describe, expect, it } from 'vitest';
import { SEQUENCE_RBF, signP2wpkh } from '../../src/core/wallet/build.js';
import { planCpfp, planRbf } from '../../src/core/wallet/bump.js';
import { FeeTooLowError, InsufficientFundsError } from '../../src/core/wallet/errors.js';
import {
  feeForVsize,
  feeForWeight,
  feeRateOf,
  outputWeight,
  weightToVsize,
} from '../../src/core/wallet/fees.js';
import { Bip84Account } from '../../src/core/wallet/keys.js';
import { CURVE_ORDER, secp } from '../../src/protocol/crypto/secp256k1.js';
import { toHex } from '../../src/protocol/encoding/bytes.js';
import { p2wpkhScriptCode } from '../../src/protocol/tx/script.js';
import { derToCompact } from '../../src/protocol/tx/signature.js';
import { encodeTx, SIGHASH_ALL, sighashSegwitV0 } from '../../src/protocol/tx/transaction.js';

const acct = Bip84Account.fromMnemonic(
  'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about',
  'regtest',
);
// n / 2 for secp256k1 (BIP62 low-S bound).
const N_HALF = CURVE_ORDER / 2n;

describe('P2WPKH signing through a PSBT', () => {
  const inputs = [0, 1, 2].map((i) => ({
    txid: `${(i + 7).toString(16).padStart(2, '0')}`.repeat(32),
    vout: i,
    value: 40_000n + BigInt(i),
    script: acct.key(0, i).script,
  }));
  const outputs = [{ value: 100_000n, scriptPubKey: acct.key(1, 5).script }];
  const s = signP2wpkh({ inputs, outputs, locktime: 123 }, (i) => acct.privateKey(0, i));

  it('produces valid low-S strict-DER BIP143 signatures with the right pubkeys', () => {
    expect(s.tx.locktime).toBe(123);
    s.tx.inputs.forEach((inp, i) => {
      expect(inp.sequence).toBe(SEQUENCE_RBF);
      expect(inp.scriptSig.length).toBe(0);
      const [sigWithType, pub] = inp.witness as [Uint8Array, Uint8Array];
      expect(toHex(pub)).toBe(toHex(acct.key(0, i).publicKey));
      expect(sigWithType[sigWithType.length - 1]).toBe(SIGHASH_ALL);
      const compact = derToCompact(sigWithType.subarray(0, -1));
      const sBig = BigInt(`0x${toHex(compact.subarray(32))}`);
      expect(sBig <= N_HALF).toBe(true);
      const digest = sighashSegwitV0(s.tx, i, p2wpkhScriptCode(pub), inputs[i]!.value, SIGHASH_ALL);
      expect(secp().verify(compact, digest, pub)).toBe(true);
      // One byte changed in the digest (i.e. a different amount) must not verify.
      const other = sighashSegwitV0(s.tx, i, p2wpkhScriptCode(pub), inputs[i]!.value + 1n, SIGHASH_ALL);
      expect(secp().verify(compact, other, pub)).toBe(false);
    });
  });

  it('reports fee, weight and vsize of the signed bytes', () => {
    expect(s.fee).toBe(40_000n * 3n + 3n - 100_000n);
    expect(toHex(s.raw)).toBe(toHex(encodeTx(s.tx)));
    expect(s.vsize).toBe(Math.ceil(s.weight / 4));
  });

  it('keeps the unsigned PSBT with witness UTXOs', () => {
    const p = PsbtTx.fromPSBT(s.psbt);
    expect(p.inputsLength).toBe(3);
    expect(p.getInput(1).witnessUtxo?.amount).toBe(40_001n);
    expect(p.isFinal).toBe(false);
  });

  it('refuses a key that does not match the input script, and negative fees', () => {
    expect(() => signP2wpkh({ inputs, outputs, locktime: 0 }, () => acct.privateKey(1, 0))).toThrow(
      /does not match/,
    );
    expect(() =>
      signP2wpkh(
        { inputs, outputs: [{ value: 10n ** 6n, scriptPubKey: acct.key(0, 0).script }], locktime: 0 },
        (i) => acct.privateKey(0, i),
      ),
    ).toThrow(expect.objectContaining({ code: 'WALLET_NEGATIVE_FEE' }));
  });
});

describe('RBF planning (BIP125 rules 3, 4, 6)', () => {
  const coin = (id: string, value: bigint) => ({ id, value, inputWeight: 272 });
  const payments = [{ scriptLen: 22, value: 50_000n }];

  it('reduces the change so the replacement pays replaced fees + 1 sat/vB of its size', () => {
    const inputs = [coin('a', 100_000n)];
    const origWeight = 561;
    const origFee = 141n;
    const plan = planRbf({
      inputs,
      payments,
      changeScriptLen: 22,
      changeDustLimit: 294n,
      originalFee: origFee,
      originalWeight: origWeight,
      replacedFees: origFee,
      feeRate: 300n,
    });
    expect(plan.coins.map((c) => c.id)).toEqual(['a']);
    expect(plan.fee).toBeGreaterThanOrEqual(origFee + feeForVsize(weightToVsize(plan.weight), 1000n));
    expect(feeRateOf(plan.fee, plan.weight)).toBeGreaterThan(feeRateOf(origFee, origWeight));
    expect(100_000n).toBe(50_000n + plan.fee + plan.change);
  });

  it('honours the requested rate when it is above the floor', () => {
    const plan = planRbf({
      inputs: [coin('a', 100_000n)],
      payments,
      changeScriptLen: 22,
      changeDustLimit: 294n,
      originalFee: 141n,
      originalWeight: 561,
      replacedFees: 141n,
      feeRate: 10_000n,
    });
    expect(plan.fee).toBe(feeForWeight(plan.weight, 10_000n));
  });

  it('adds a confirmed coin when the change cannot absorb the bump, else fails typed', () => {
    const base = {
      inputs: [coin('a', 50_500n)],
      payments,
      changeScriptLen: 22,
      changeDustLimit: 294n,
      originalFee: 500n,
      originalWeight: 437,
      replacedFees: 500n,
      feeRate: 5_000n,
    };
    expect(() => planRbf(base)).toThrow(InsufficientFundsError);
    const plan = planRbf({ ...base, extraCoins: [coin('x', 20_000n)] });
    expect(plan.coins.map((c) => c.id)).toEqual(['a', 'x']);
    expect(plan.fee).toBeGreaterThanOrEqual(feeForWeight(plan.weight, 5_000n));
    expect(() => planRbf({ ...base, feeRate: 100n })).toThrow(FeeTooLowError);
  });
});

describe('CPFP planning', () => {
  it('lifts the package fee rate (fees over summed vsizes, as Core counts ancestors) to the target', () => {
    const parentVsize = 141;
    const parentFee = 141n;
    const plan = planCpfp({
      parentVsize,
      parentFee,
      parentOutputs: [{ id: 'p:1', value: 40_000n, inputWeight: 272 }],
      feeRate: 5_000n,
      changeScriptLen: 22,
      changeDustLimit: 294n,
    });
    expect(plan.weight).toBe(4 * (4 + 1 + 1 + 4) + 2 + 272 + outputWeight(22));
    expect(plan.packageVsize).toBe(parentVsize + weightToVsize(plan.weight));
    expect(plan.packageFee).toBe(parentFee + plan.fee);
    // 20 sat/vB on the summed vsizes, and not more than 2 sat above it (per-part rounding).
    expect(plan.packageFee).toBeGreaterThanOrEqual(20n * BigInt(plan.packageVsize));
    expect(plan.packageFee - 20n * BigInt(plan.packageVsize)).toBeLessThanOrEqual(2n);
    expect(plan.packageFeeRate).toBeGreaterThanOrEqual(5_000n);
    expect(40_000n).toBe(plan.fee + plan.change);
  });
});
