import { describe, expect, it } from 'vitest';
import { signP2wpkh } from '../../src/core/wallet/build.js';
import {
  clampFeeRate,
  dustLimit,
  estimateP2wpkhTxWeight,
  feeForWeight,
  minRelayFee,
  P2WPKH_INPUT_WEIGHT,
  txBaseWeight,
} from '../../src/core/wallet/fees.js';
import { Bip84Account } from '../../src/core/wallet/keys.js';
import { fromHex } from '../../src/protocol/encoding/bytes.js';
import { OP, p2pkhFromHash, p2shFromHash, script } from '../../src/protocol/tx/script.js';

const acct = Bip84Account.fromMnemonic(
  'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about',
  'regtest',
);

describe('fee maths', () => {
  it('rounds fees up and clamps rates to 253 sat/kw', () => {
    expect(feeForWeight(1000, 253n)).toBe(253n);
    expect(feeForWeight(1001, 253n)).toBe(254n);
    expect(feeForWeight(0, 5000n)).toBe(0n);
    expect(clampFeeRate(1n)).toBe(253n);
    expect(clampFeeRate(300n)).toBe(300n);
  });

  it('min relay fee is 1 sat per vbyte of ceil(weight/4)', () => {
    expect(minRelayFee(437)).toBe(110n);
    expect(minRelayFee(440)).toBe(110n);
  });

  it('253 sat/kw on the estimated weight always meets the 1 sat/vB relay minimum', () => {
    for (let n = 1; n <= 30; n++) {
      for (let m = 1; m <= 5; m++) {
        const w = estimateP2wpkhTxWeight(n, Array(m).fill(22));
        expect(feeForWeight(w, 253n)).toBeGreaterThanOrEqual(minRelayFee(w));
      }
    }
  });

  // Bitcoin Core policy/policy.cpp: with the default 3000 sat/kvB dust relay fee, dust is an
  // output below 546 sat for P2PKH and below 294 sat for P2WPKH.
  it("computes Core's dust thresholds", () => {
    const h20 = new Uint8Array(20);
    expect(dustLimit(acct.key(0, 0).script)).toBe(294n);
    expect(dustLimit(p2pkhFromHash(h20))).toBe(546n);
    expect(dustLimit(p2shFromHash(h20))).toBe(540n);
    expect(dustLimit(script(OP.OP_0, new Uint8Array(32)))).toBe(330n);
    expect(dustLimit(script(OP.OP_RETURN, fromHex('00')))).toBe(0n);
  });

  it('the weight estimate is an upper bound of the signed weight (within 1 WU per input)', () => {
    for (let n = 1; n <= 4; n++) {
      const inputs = Array.from({ length: n }, (_, i) => ({
        txid: `${(i + 1).toString(16).padStart(2, '0')}`.repeat(32),
        vout: i,
        value: 100_000n,
        script: acct.key(0, i).script,
      }));
      const outputs = [
        { value: 50_000n, scriptPubKey: acct.key(1, 0).script },
        { value: 40_000n, scriptPubKey: acct.key(1, 1).script },
      ];
      const s = signP2wpkh({ inputs, outputs, locktime: 0 }, (i) => acct.privateKey(0, i));
      const est = txBaseWeight(n, [22, 22]) + n * P2WPKH_INPUT_WEIGHT;
      expect(est).toBe(estimateP2wpkhTxWeight(n, [22, 22]));
      expect(s.weight).toBeLessThanOrEqual(est);
      expect(s.weight).toBeGreaterThanOrEqual(est - n);
    }
  });
});
