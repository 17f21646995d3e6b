/**
 * BOLT #3 "Keys" / "Key Derivation": per-commitment points and the per-commitment keys
 * (`localpubkey`, `local_htlcpubkey`, `remote_htlcpubkey`, `local_delayedpubkey`,
 * `remote_delayedpubkey`) and the blinded `revocationpubkey`, with their private keys.
 *
 * All curve math goes through {@link secp} (the crypto port). Keys are 33-byte compressed
 * points; secrets are 32-byte scalars. Test vectors: BOLT #3 Appendix E.
 */

import { sha256 } from '../crypto/hash.js';
import { secp } from '../crypto/secp256k1.js';
import { concat } from '../encoding/bytes.js';
import { InvalidArgumentError } from '../errors.js';

function checkPoint(p: Uint8Array, what: string): void {
  if (p.length !== 33) throw new InvalidArgumentError(`${what} must be a 33-byte compressed point`);
}

function checkSecret(s: Uint8Array, what: string): void {
  if (s.length !== 32) throw new InvalidArgumentError(`${what} must be 32 bytes`);
}

/**
 * `per_commitment_point = per_commitment_secret * G` (BOLT #3 "revocationpubkey Derivation").
 */
export function perCommitmentPoint(perCommitmentSecret: Uint8Array): Uint8Array {
  checkSecret(perCommitmentSecret, 'per_commitment_secret');
  return secp().publicKey(perCommitmentSecret);
}

/** The tweak `SHA256(per_commitment_point || basepoint)` shared by {@link derivePubkey}/{@link derivePrivkey}. */
export function derivationTweak(basepoint: Uint8Array, perCommitmentPoint: Uint8Array): Uint8Array {
  checkPoint(basepoint, 'basepoint');
  checkPoint(perCommitmentPoint, 'per_commitment_point');
  return sha256(concat(perCommitmentPoint, basepoint));
}

/**
 * `pubkey = basepoint + SHA256(per_commitment_point || basepoint) * G`.
 *
 * Used for `localpubkey` (from `payment_basepoint`, only without `option_static_remotekey`),
 * `local_htlcpubkey`/`remote_htlcpubkey` (from `htlc_basepoint`) and
 * `local_delayedpubkey`/`remote_delayedpubkey` (from `delayed_payment_basepoint`).
 */
export function derivePubkey(basepoint: Uint8Array, perCommitmentPoint: Uint8Array): Uint8Array {
  return secp().pointAddTweak(basepoint, derivationTweak(basepoint, perCommitmentPoint));
}

/**
 * `privkey = basepoint_secret + SHA256(per_commitment_point || basepoint)` (mod n): the private
 * key of {@link derivePubkey}. `basepoint` is `basepointSecret * G` (computed when omitted).
 */
export function derivePrivkey(
  basepointSecret: Uint8Array,
  perCommitmentPoint: Uint8Array,
  basepoint: Uint8Array = secp().publicKey(basepointSecret),
): Uint8Array {
  checkSecret(basepointSecret, 'basepoint_secret');
  return secp().privAdd(basepointSecret, derivationTweak(basepoint, perCommitmentPoint));
}

/**
 * The two revocation tweaks: `SHA256(revocation_basepoint || per_commitment_point)` and
 * `SHA256(per_commitment_point || revocation_basepoint)`.
 */
function revocationTweaks(
  revocationBasepoint: Uint8Array,
  perCommitmentPoint: Uint8Array,
): [Uint8Array, Uint8Array] {
  checkPoint(revocationBasepoint, 'revocation_basepoint');
  checkPoint(perCommitmentPoint, 'per_commitment_point');
  return [
    sha256(concat(revocationBasepoint, perCommitmentPoint)),
    sha256(concat(perCommitmentPoint, revocationBasepoint)),
  ];
}

/**
 * `revocationpubkey = revocation_basepoint * SHA256(revocation_basepoint || per_commitment_point)
 *   + per_commitment_point * SHA256(per_commitment_point || revocation_basepoint)`.
 *
 * `revocationBasepoint` is the basepoint of the node that will be able to punish (the
 * counterparty of the commitment owner); `perCommitmentPoint` is the commitment owner's point.
 */
export function deriveRevocationPubkey(
  revocationBasepoint: Uint8Array,
  perCommitmentPoint: Uint8Array,
): Uint8Array {
  const [h1, h2] = revocationTweaks(revocationBasepoint, perCommitmentPoint);
  const s = secp();
  return s.pointAdd(s.pointMul(revocationBasepoint, h1), s.pointMul(perCommitmentPoint, h2));
}

/**
 * `revocationprivkey = revocation_basepoint_secret * SHA256(revocation_basepoint || per_commitment_point)
 *   + per_commitment_secret * SHA256(per_commitment_point || revocation_basepoint)` (mod n).
 *
 * Only computable once the commitment owner has revealed `per_commitment_secret` (revocation).
 */
export function deriveRevocationPrivkey(
  revocationBasepointSecret: Uint8Array,
  perCommitmentSecret: Uint8Array,
): Uint8Array {
  checkSecret(revocationBasepointSecret, 'revocation_basepoint_secret');
  checkSecret(perCommitmentSecret, 'per_commitment_secret');
  const s = secp();
  const revocationBasepoint = s.publicKey(revocationBasepointSecret);
  const [h1, h2] = revocationTweaks(revocationBasepoint, s.publicKey(perCommitmentSecret));
  return s.privAdd(s.privMul(revocationBasepointSecret, h1), s.privMul(perCommitmentSecret, h2));
}

/**
 * {@link derivePubkey} when the basepoint's secret is known: `(basepoint_secret + tweak) * G`,
 * one generator multiplication instead of a multiplication and a point addition. The caller
 * MUST pass the secret of `basepoint` (`basepoint = basepointSecret * G`); the result is then
 * byte-identical to `derivePubkey(basepoint, perCommitmentPoint)`.
 */
export function derivePubkeyFromSecret(
  basepointSecret: Uint8Array,
  basepoint: Uint8Array,
  perCommitmentPoint: Uint8Array,
): Uint8Array {
  return secp().publicKey(derivePrivkey(basepointSecret, perCommitmentPoint, basepoint));
}

/** One of the two secrets behind a revocation pubkey, for {@link deriveRevocationPubkeyWithSecret}. */
export type RevocationKnownSecret =
  | { revocationBasepointSecret: Uint8Array }
  | { perCommitmentSecret: Uint8Array };

/**
 * {@link deriveRevocationPubkey} when one of its two secrets is known: that half becomes a
 * generator term `(secret * h) * G` (added with `pointAddTweak`) instead of a variable-base
 * multiplication. The caller MUST
 * pass the secret of `revocationBasepoint` or of `perCommitmentPoint`; the result is then
 * byte-identical to `deriveRevocationPubkey(revocationBasepoint, perCommitmentPoint)`.
 */
export function deriveRevocationPubkeyWithSecret(
  revocationBasepoint: Uint8Array,
  perCommitmentPoint: Uint8Array,
  known: RevocationKnownSecret,
): Uint8Array {
  const [h1, h2] = revocationTweaks(revocationBasepoint, perCommitmentPoint);
  const s = secp();
  if ('revocationBasepointSecret' in known) {
    checkSecret(known.revocationBasepointSecret, 'revocation_basepoint_secret');
    return s.pointAddTweak(
      s.pointMul(perCommitmentPoint, h2),
      s.privMul(known.revocationBasepointSecret, h1),
    );
  }
  checkSecret(known.perCommitmentSecret, 'per_commitment_secret');
  return s.pointAddTweak(s.pointMul(revocationBasepoint, h1), s.privMul(known.perCommitmentSecret, h2));
}
