/**
 * The channel hot path's faster equivalents are byte-identical to the plain definitions:
 * SHA-256 (vs @noble/hashes), the memoising shachain generator (vs BOLT 3 `generate_from_seed`,
 * Appendix D vectors), secret-assisted key derivation (vs BOLT 3 formulas, Appendix E vectors),
 * HTLC scripts with the memoised revocation hash, and HTLC transactions built in bulk.
 */
import { hmac as nobleHmac } from '@noble/hashes/hmac.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildCommitmentTx,
  buildHtlcTx,
  buildHtlcTxs,
  type CommitmentHtlc,
  commitmentSighash,
  fundingSighash,
  obscuringFactor,
  offeredHtlcScript,
  receivedHtlcScript,
  signCommitmentTx,
  verifyCommitmentSig,
} from '../../src/protocol/channel/index.js';
import { hash160, hmacSha256, sha256, sha256d } from '../../src/protocol/crypto/hash.js';
import { secp } from '../../src/protocol/crypto/secp256k1.js';
import {
  derivePubkey,
  derivePubkeyFromSecret,
  deriveRevocationPubkey,
  deriveRevocationPubkeyWithSecret,
  generateFromSeed,
  perCommitmentPoint,
  SHACHAIN_MAX_INDEX,
  ShachainGenerator,
} from '../../src/protocol/keys/index.js';
import { hex, loadVector, toHex } from '../helpers/vectors.js';

/** A valid secp256k1 scalar from arbitrary bytes (hash until valid). */
function scalarOf(b: Uint8Array): Uint8Array {
  let s = sha256(b);
  while (!secp().isPrivateKey(s)) s = sha256(s);
  return s;
}

const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 });

describe('SHA-256 (one-shot implementation)', () => {
  it('matches @noble/hashes on every length around the block and padding boundaries', () => {
    for (let len = 0; len <= 300; len++) {
      const d = Uint8Array.from({ length: len }, (_, i) => (i * 131 + len * 7) & 0xff);
      expect(toHex(sha256(d))).toBe(toHex(nobleSha256(d)));
    }
  });
  it('matches @noble/hashes on random inputs (and double SHA-256 / HASH160)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (d) => {
        expect(toHex(sha256(d))).toBe(toHex(nobleSha256(d)));
        expect(toHex(sha256d(d))).toBe(toHex(nobleSha256(nobleSha256(d))));
        expect(hash160(d)).toHaveLength(20);
      }),
      { numRuns: 300 },
    );
  });
  it('does not alias its output or depend on earlier calls', () => {
    const a = sha256(new Uint8Array(100).fill(1));
    const b = sha256(new Uint8Array(3));
    expect(toHex(a)).toBe(toHex(nobleSha256(new Uint8Array(100).fill(1))));
    expect(toHex(b)).toBe(toHex(nobleSha256(new Uint8Array(3))));
  });
});

describe('HMAC-SHA256 (on the one-shot SHA-256)', () => {
  it('matches @noble/hashes for keys and messages around the block boundaries', () => {
    for (const kl of [0, 1, 3, 32, 63, 64, 65, 100, 200])
      for (const dl of [0, 1, 32, 55, 56, 63, 64, 65, 1366, 1398]) {
        const k = new Uint8Array(kl).map((_, i) => (i * 7 + kl) & 0xff);
        const d = new Uint8Array(dl).map((_, i) => (i * 13 + dl) & 0xff);
        expect(toHex(hmacSha256(k, d))).toBe(toHex(nobleHmac(nobleSha256, k, d)));
      }
  });

  it('matches @noble/hashes on random inputs and leaves its inputs unchanged', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 150 }), fc.uint8Array({ maxLength: 300 }), (k, d) => {
        const k0 = toHex(k);
        const d0 = toHex(d);
        expect(toHex(hmacSha256(k, d))).toBe(toHex(nobleHmac(nobleSha256, k, d)));
        expect(toHex(k)).toBe(k0);
        expect(toHex(d)).toBe(d0);
      }),
      { numRuns: 200 },
    );
  });
});

describe('ShachainGenerator (memoised generate_from_seed)', () => {
  it('gives the BOLT 3 Appendix D generation vectors', () => {
    const V = loadVector('bolt03/per-commitment-secret-generation.json');
    let n = 0;
    for (const tc of V.cases) {
      const gen = new ShachainGenerator(hex(tc.seed));
      const index = tc.index as number;
      expect(toHex(gen.secret(index)), tc.name).toBe(tc.output);
      // Again after another index (memo state in between).
      gen.secret(index === 0 ? 1 : index - 1);
      expect(toHex(gen.secret(index)), tc.name).toBe(tc.output);
      n++;
    }
    expect(n).toBe(V.cases.length);
  });
  it('equals generate_from_seed for any sequence of indices', () => {
    const index = fc.oneof(
      fc.integer({ min: 0, max: SHACHAIN_MAX_INDEX }),
      fc.integer({ min: SHACHAIN_MAX_INDEX - 2000, max: SHACHAIN_MAX_INDEX }),
    );
    fc.assert(
      fc.property(bytes32, fc.array(index, { minLength: 1, maxLength: 30 }), (seed, indices) => {
        const gen = new ShachainGenerator(seed);
        for (const i of indices) expect(toHex(gen.secret(i))).toBe(toHex(generateFromSeed(seed, i)));
      }),
      { numRuns: 60 },
    );
  });
  it('walks consecutive commitments (and back) like perCommitmentSecret', () => {
    const seed = sha256(Uint8Array.of(9));
    const gen = new ShachainGenerator(seed);
    for (const n of [0, 1, 2, 3, 2, 4, 5, 1000, 999, 1001, 65535, 65536, 65534]) {
      const out = gen.forCommitment(n);
      expect(toHex(out)).toBe(toHex(generateFromSeed(seed, SHACHAIN_MAX_INDEX - n)));
      out.fill(0); // callers get copies: corrupting one changes nothing
    }
    expect(toHex(gen.forCommitment(5))).toBe(toHex(generateFromSeed(seed, SHACHAIN_MAX_INDEX - 5)));
  });
});

describe('secret-assisted key derivation', () => {
  it('gives the BOLT 3 Appendix E localpubkey and revocationpubkey vectors', () => {
    const V = loadVector('bolt03/key-derivation.json');
    const c = V.common;
    const byName = new Map<string, string>(
      V.cases.map((x: { output_name: string; output: string }) => [x.output_name, x.output]),
    );
    const base = hex(c.base_point);
    const point = hex(c.per_commitment_point);
    expect(toHex(derivePubkeyFromSecret(hex(c.base_secret), base, point))).toBe(byName.get('localpubkey'));
    expect(
      toHex(deriveRevocationPubkeyWithSecret(base, point, { revocationBasepointSecret: hex(c.base_secret) })),
    ).toBe(byName.get('revocationpubkey'));
    expect(
      toHex(
        deriveRevocationPubkeyWithSecret(base, point, { perCommitmentSecret: hex(c.per_commitment_secret) }),
      ),
    ).toBe(byName.get('revocationpubkey'));
  });
  it('equals the public formulas for random secrets', () => {
    fc.assert(
      fc.property(bytes32, bytes32, (a, b) => {
        const baseSecret = scalarOf(a);
        const pcSecret = scalarOf(b);
        const base = secp().publicKey(baseSecret);
        const point = perCommitmentPoint(pcSecret);
        expect(toHex(derivePubkeyFromSecret(baseSecret, base, point))).toBe(toHex(derivePubkey(base, point)));
        const plain = toHex(deriveRevocationPubkey(base, point));
        expect(
          toHex(deriveRevocationPubkeyWithSecret(base, point, { revocationBasepointSecret: baseSecret })),
        ).toBe(plain);
        expect(toHex(deriveRevocationPubkeyWithSecret(base, point, { perCommitmentSecret: pcSecret }))).toBe(
          plain,
        );
      }),
      { numRuns: 25 },
    );
  });
});

describe('HTLC scripts and transactions built on the hot path', () => {
  const keysOf = (i: number) => ({
    revocationPubkey: secp().publicKey(scalarOf(Uint8Array.of(1, i))),
    localHtlcPubkey: secp().publicKey(scalarOf(Uint8Array.of(2, i))),
    remoteHtlcPubkey: secp().publicKey(scalarOf(Uint8Array.of(3, i))),
  });
  it('carry HASH160(revocationpubkey) for whichever key, in any order (memo of the last two)', () => {
    const ks = [keysOf(0), keysOf(1), keysOf(2)];
    const ph = sha256(Uint8Array.of(7));
    for (const i of [0, 1, 0, 2, 1, 2, 0, 0, 1]) {
      const k = ks[i]!;
      const o = offeredHtlcScript(k, ph, 'anchors_zero_fee_htlc_tx');
      const r = receivedHtlcScript(k, ph, 500, 'static_remotekey');
      // OP_DUP OP_HASH160 <20 bytes> ...
      expect(toHex(o.subarray(3, 23))).toBe(toHex(hash160(k.revocationPubkey)));
      expect(toHex(r.subarray(3, 23))).toBe(toHex(hash160(k.revocationPubkey)));
    }
  });

  it('buildHtlcTxs equals buildHtlcTx per output; the memoised commitment sighash equals the plain one', () => {
    const k = keysOf(5);
    const htlcs: CommitmentHtlc[] = Array.from({ length: 6 }, (_, i) => ({
      id: BigInt(i),
      direction: i % 2 === 0 ? 'offered' : 'received',
      amountMsat: 2_000_000n + BigInt(i) * 1000n,
      paymentHash: sha256(Uint8Array.of(i)),
      cltvExpiry: 700 + i,
    }));
    const sum = htlcs.reduce((s, h) => s + h.amountMsat, 0n);
    const fundingPriv = scalarOf(Uint8Array.of(8));
    const fundingPub = secp().publicKey(fundingPriv);
    const remoteFundingPub = secp().publicKey(scalarOf(Uint8Array.of(9)));
    const c = buildCommitmentTx({
      channelType: 'anchors_zero_fee_htlc_tx',
      fundingOutpoint: { txid: sha256(Uint8Array.of(1)), vout: 1 },
      fundingAmountSat: 1_000_000n,
      localFundingPubkey: fundingPub,
      remoteFundingPubkey: remoteFundingPub,
      commitmentNumber: 7,
      obscuringFactor: obscuringFactor(fundingPub, remoteFundingPub),
      localIsOpener: true,
      toLocalMsat: 600_000_000n - sum,
      toRemoteMsat: 400_000_000n,
      feeratePerKw: 253,
      dustLimitSat: 546n,
      toSelfDelay: 144,
      keys: {
        revocationPubkey: k.revocationPubkey,
        localDelayedPubkey: secp().publicKey(scalarOf(Uint8Array.of(4))),
        remotePaymentPubkey: secp().publicKey(scalarOf(Uint8Array.of(6))),
        localHtlcPubkey: k.localHtlcPubkey,
        remoteHtlcPubkey: k.remoteHtlcPubkey,
      },
      htlcs,
    });
    const bulk = buildHtlcTxs(c);
    expect(bulk).toHaveLength(6);
    c.htlcOutputs.forEach((output, i) => {
      const one = buildHtlcTx({
        channelType: c.params.channelType,
        commitmentTxid: c.txid,
        output,
        feeratePerKw: c.params.feeratePerKw,
        toSelfDelay: c.params.toSelfDelay,
        revocationPubkey: c.params.keys.revocationPubkey,
        localDelayedPubkey: c.params.keys.localDelayedPubkey,
      });
      expect(bulk[i]).toEqual(one);
    });
    const plain = toHex(fundingSighash(c.tx, c.fundingScript, c.params.fundingAmountSat));
    expect(toHex(commitmentSighash(c))).toBe(plain);
    commitmentSighash(c).fill(0); // a copy each time: the memo is not corrupted
    expect(toHex(commitmentSighash(c))).toBe(plain);
    const sig = signCommitmentTx(c, fundingPriv);
    expect(toHex(sig)).toBe(toHex(secp().sign(hex(plain), fundingPriv)));
    expect(verifyCommitmentSig(c, sig, fundingPub)).toBe(true);
    expect(verifyCommitmentSig(c, sig, remoteFundingPub)).toBe(false);
  });
});
