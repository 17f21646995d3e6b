/**
 * BOLT #3 "Key Derivation" applied to a channel: our basepoints from {@link ChannelKeys}, our
 * per-commitment points/secrets, and the per-commitment keys + transactions of our commitment
 * and of the peer's commitment (roles swapped).
 */
import {
  buildCommitmentTx,
  type CommitmentKeys,
  type CommitmentTx,
} from '../../protocol/channel/commitment.js';
import { secp } from '../../protocol/crypto/secp256k1.js';
import {
  derivePrivkey,
  derivePubkey,
  deriveRevocationPubkey,
  perCommitmentPoint,
} from '../../protocol/keys/derivation.js';
import { perCommitmentSecret } from '../../protocol/keys/shachain.js';
import type { ChannelKeys, ChannelParams, ChannelPubkeys, CommitmentSpec } from './types.js';

/** The public basepoints and funding key of {@link ChannelKeys}. */
export function channelPubkeys(keys: ChannelKeys): ChannelPubkeys {
  const s = secp();
  return {
    fundingPubkey: s.publicKey(keys.fundingPrivkey),
    revocationBasepoint: s.publicKey(keys.revocationBasepointSecret),
    paymentBasepoint: s.publicKey(keys.paymentBasepointSecret),
    delayedPaymentBasepoint: s.publicKey(keys.delayedPaymentBasepointSecret),
    htlcBasepoint: s.publicKey(keys.htlcBasepointSecret),
  };
}

/** Our per-commitment secret for commitment number `n`. */
export function localSecret(keys: ChannelKeys, n: number): Uint8Array {
  return perCommitmentSecret(keys.perCommitmentSeed, n);
}

/** Our per-commitment point for commitment number `n`. */
export function localPoint(keys: ChannelKeys, n: number): Uint8Array {
  return perCommitmentPoint(localSecret(keys, n));
}

/** Per-commitment keys of OUR commitment for our point `point`. */
export function localCommitmentKeys(p: ChannelParams, point: Uint8Array): CommitmentKeys {
  return {
    revocationPubkey: deriveRevocationPubkey(p.remote.revocationBasepoint, point),
    localDelayedPubkey: derivePubkey(p.local.delayedPaymentBasepoint, point),
    remotePaymentPubkey: p.remote.paymentBasepoint,
    localHtlcPubkey: derivePubkey(p.local.htlcBasepoint, point),
    remoteHtlcPubkey: derivePubkey(p.remote.htlcBasepoint, point),
  };
}

/** Per-commitment keys of the PEER's commitment for its point `point`. */
export function remoteCommitmentKeys(p: ChannelParams, point: Uint8Array): CommitmentKeys {
  return {
    revocationPubkey: deriveRevocationPubkey(p.local.revocationBasepoint, point),
    localDelayedPubkey: derivePubkey(p.remote.delayedPaymentBasepoint, point),
    remotePaymentPubkey: p.local.paymentBasepoint,
    localHtlcPubkey: derivePubkey(p.remote.htlcBasepoint, point),
    remoteHtlcPubkey: derivePubkey(p.local.htlcBasepoint, point),
  };
}

/** Our HTLC private key for a commitment with per-commitment point `point` (either side's). */
export function htlcPrivkey(keys: ChannelKeys, p: ChannelParams, point: Uint8Array): Uint8Array {
  return derivePrivkey(keys.htlcBasepointSecret, point, p.local.htlcBasepoint);
}

/**
 * Builds the commitment transaction number `index` owned by `owner` for `spec` (seen from the
 * owner's point of view): its funding key first, its dust limit, the OTHER side's to_self_delay
 * on its to_local output, and the keys derived from the owner's per-commitment `point`.
 */
function buildCommitTxOf(
  owner: 'local' | 'remote',
  p: ChannelParams,
  index: number,
  spec: CommitmentSpec,
  point: Uint8Array,
): CommitmentTx {
  const [own, other] = owner === 'local' ? [p.local, p.remote] : [p.remote, p.local];
  return buildCommitmentTx({
    channelType: p.channelType,
    fundingOutpoint: { txid: p.fundingTxid, vout: p.fundingOutputIndex },
    fundingAmountSat: p.fundingAmountSat,
    localFundingPubkey: own.fundingPubkey,
    remoteFundingPubkey: other.fundingPubkey,
    commitmentNumber: index,
    obscuringFactor: p.obscuringFactor,
    localIsOpener: owner === 'local' ? p.isOpener : !p.isOpener,
    toLocalMsat: spec.toLocalMsat,
    toRemoteMsat: spec.toRemoteMsat,
    feeratePerKw: spec.feeratePerKw,
    dustLimitSat: own.dustLimitSat,
    toSelfDelay: other.toSelfDelay,
    keys: owner === 'local' ? localCommitmentKeys(p, point) : remoteCommitmentKeys(p, point),
    htlcs: spec.htlcs,
  });
}

/** Builds OUR commitment transaction number `index` for `spec` (our point of view). */
export function buildLocalCommitTx(
  p: ChannelParams,
  index: number,
  spec: CommitmentSpec,
  point: Uint8Array,
): CommitmentTx {
  return buildCommitTxOf('local', p, index, spec, point);
}

/** Builds the PEER's commitment transaction number `index` for `spec` (the peer's point of view). */
export function buildRemoteCommitTx(
  p: ChannelParams,
  index: number,
  spec: CommitmentSpec,
  point: Uint8Array,
): CommitmentTx {
  return buildCommitTxOf('remote', p, index, spec, point);
}
