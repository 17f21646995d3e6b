/**
 * BOLT #3 "Key Derivation" applied to a channel: our basepoints from {@link ChannelKeys}, our
 * per-commitment points/secrets, and the per-commitment keys + transactions of our commitment
 * and of the peer's commitment (roles swapped).
 *
 * Hot path (every `commitment_signed`/`revoke_and_ack`): derivations are memoised per
 * {@link ChannelKeys} object (a WeakMap, so the memo dies with the keys): the public basepoints,
 * the shachain generator state and the last few per-commitment secrets/points. When our own
 * secrets are known, per-commitment keys use generator multiplications instead of variable-base
 * ones. Every result is byte-identical to the plain BOLT #3 formulas (see the tests). Callers
 * MUST NOT mutate a {@link ChannelKeys} object after first use.
 */
import {
  buildCommitmentTx,
  type CommitmentKeys,
  type CommitmentTx,
} from '../../protocol/channel/commitment.js';
import { secp } from '../../protocol/crypto/secp256k1.js';
import { equal } from '../../protocol/encoding/bytes.js';
import {
  derivePrivkey,
  derivePubkey,
  derivePubkeyFromSecret,
  deriveRevocationPubkey,
  deriveRevocationPubkeyWithSecret,
  perCommitmentPoint,
} from '../../protocol/keys/derivation.js';
import { ShachainGenerator } from '../../protocol/keys/shachain.js';
import type { ChannelKeys, ChannelParams, ChannelPubkeys, CommitmentSpec, SideParams } from './types.js';

/** How many recent per-commitment secrets/points are memoised per {@link ChannelKeys}. */
export const RECENT_COMMITMENTS_MEMO = 8;

/** How many derived per-commitment key sets are memoised per {@link ChannelKeys}. */
export const DERIVED_KEYS_MEMO = 4;

/**
 * A memoised per-commitment key set: valid for the same owner, point and the same party
 * parameter objects (so a channel whose parameters were replaced, e.g. after a reload, misses).
 */
interface DerivedKeys {
  owner: 'local' | 'remote';
  point: Uint8Array;
  local: SideParams;
  remote: SideParams;
  keys: CommitmentKeys;
}

interface PerCommitment {
  secret: Uint8Array;
  point: Uint8Array | undefined;
}

/** Memoised derivations of one {@link ChannelKeys} object. */
interface KeysMemo {
  /** The seed the generator was built from (identity check against a replaced field). */
  seed: Uint8Array;
  gen: ShachainGenerator;
  /** Commitment number → secret (+ point once asked), least recently used first. */
  recent: Map<number, PerCommitment>;
  pubkeys: ChannelPubkeys | undefined;
  /** Derived per-commitment key sets, least recently used first. */
  derived: DerivedKeys[];
}

const memos = new WeakMap<ChannelKeys, KeysMemo>();

function memoOf(keys: ChannelKeys): KeysMemo {
  let m = memos.get(keys);
  if (!m || m.seed !== keys.perCommitmentSeed) {
    m = {
      seed: keys.perCommitmentSeed,
      gen: new ShachainGenerator(keys.perCommitmentSeed),
      recent: new Map(),
      pubkeys: undefined,
      derived: [],
    };
    memos.set(keys, m);
  }
  return m;
}

function perCommitment(keys: ChannelKeys, n: number): PerCommitment {
  const m = memoOf(keys);
  let e = m.recent.get(n);
  if (e) {
    m.recent.delete(n);
  } else {
    e = { secret: m.gen.forCommitment(n), point: undefined };
    if (m.recent.size >= RECENT_COMMITMENTS_MEMO) {
      const oldest = m.recent.keys().next();
      if (!oldest.done) m.recent.delete(oldest.value);
    }
  }
  m.recent.set(n, e);
  return e;
}

function derivedPubkeys(keys: ChannelKeys): ChannelPubkeys {
  const m = memoOf(keys);
  if (!m.pubkeys) {
    const s = secp();
    m.pubkeys = {
      fundingPubkey: s.publicKey(keys.fundingPrivkey),
      revocationBasepoint: s.publicKey(keys.revocationBasepointSecret),
      paymentBasepoint: s.publicKey(keys.paymentBasepointSecret),
      delayedPaymentBasepoint: s.publicKey(keys.delayedPaymentBasepointSecret),
      htlcBasepoint: s.publicKey(keys.htlcBasepointSecret),
    };
  }
  return m.pubkeys;
}

/** The public basepoints and funding key of {@link ChannelKeys} (a fresh copy; memoised). */
export function channelPubkeys(keys: ChannelKeys): ChannelPubkeys {
  const p = derivedPubkeys(keys);
  return {
    fundingPubkey: p.fundingPubkey.slice(),
    revocationBasepoint: p.revocationBasepoint.slice(),
    paymentBasepoint: p.paymentBasepoint.slice(),
    delayedPaymentBasepoint: p.delayedPaymentBasepoint.slice(),
    htlcBasepoint: p.htlcBasepoint.slice(),
  };
}

/** Our per-commitment secret for commitment number `n` (a fresh copy; memoised). */
export function localSecret(keys: ChannelKeys, n: number): Uint8Array {
  return perCommitment(keys, n).secret.slice();
}

/** Our per-commitment point for commitment number `n` (a fresh copy; memoised). */
export function localPoint(keys: ChannelKeys, n: number): Uint8Array {
  const e = perCommitment(keys, n);
  e.point ??= perCommitmentPoint(e.secret);
  return e.point.slice();
}

/**
 * Our secrets usable for `point`, our commitment `n`'s per-commitment point: the per-commitment
 * secret when `point` is indeed ours for `n`, and the basepoint secrets whose public keys are the
 * ones in `p.local` (checked, so a mismatch only falls back to the public formulas).
 */
interface KnownSecrets {
  perCommitmentSecret: Uint8Array | undefined;
  revocation: Uint8Array | undefined;
  delayed: Uint8Array | undefined;
  htlc: Uint8Array | undefined;
}

function knownSecrets(
  keys: ChannelKeys,
  p: ChannelParams,
  localIndex: number | undefined,
  point: Uint8Array,
): KnownSecrets {
  const pub = derivedPubkeys(keys);
  let perCommitmentSecret: Uint8Array | undefined;
  if (localIndex !== undefined) {
    const e = perCommitment(keys, localIndex);
    e.point ??= perCommitmentPoint(e.secret);
    if (equal(e.point, point)) perCommitmentSecret = e.secret;
  }
  return {
    perCommitmentSecret,
    revocation: equal(pub.revocationBasepoint, p.local.revocationBasepoint)
      ? keys.revocationBasepointSecret
      : undefined,
    delayed: equal(pub.delayedPaymentBasepoint, p.local.delayedPaymentBasepoint)
      ? keys.delayedPaymentBasepointSecret
      : undefined,
    htlc: equal(pub.htlcBasepoint, p.local.htlcBasepoint) ? keys.htlcBasepointSecret : undefined,
  };
}

/** No secret known: every key by the public BOLT 3 formulas. */
const NO_SECRETS: KnownSecrets = {
  perCommitmentSecret: undefined,
  revocation: undefined,
  delayed: undefined,
  htlc: undefined,
};

function ourDerived(secret: Uint8Array | undefined, basepoint: Uint8Array, point: Uint8Array): Uint8Array {
  return secret ? derivePubkeyFromSecret(secret, basepoint, point) : derivePubkey(basepoint, point);
}

/**
 * Per-commitment keys of OUR commitment for our point `point`. With `keys` (and `index`, the
 * commitment number of `point`), our secrets speed the derivation up; same result.
 */
export function localCommitmentKeys(
  p: ChannelParams,
  point: Uint8Array,
  keys?: ChannelKeys,
  index?: number,
): CommitmentKeys {
  const k = keys ? knownSecrets(keys, p, index, point) : NO_SECRETS;
  return {
    revocationPubkey: k.perCommitmentSecret
      ? deriveRevocationPubkeyWithSecret(p.remote.revocationBasepoint, point, {
          perCommitmentSecret: k.perCommitmentSecret,
        })
      : deriveRevocationPubkey(p.remote.revocationBasepoint, point),
    localDelayedPubkey: ourDerived(k.delayed, p.local.delayedPaymentBasepoint, point),
    remotePaymentPubkey: p.remote.paymentBasepoint,
    localHtlcPubkey: ourDerived(k.htlc, p.local.htlcBasepoint, point),
    remoteHtlcPubkey: derivePubkey(p.remote.htlcBasepoint, point),
  };
}

/**
 * Per-commitment keys of the PEER's commitment for its point `point`. With `keys`, our
 * basepoint secrets speed the derivation up; same result.
 */
export function remoteCommitmentKeys(
  p: ChannelParams,
  point: Uint8Array,
  keys?: ChannelKeys,
): CommitmentKeys {
  const k = keys ? knownSecrets(keys, p, undefined, point) : NO_SECRETS;
  return {
    revocationPubkey: k.revocation
      ? deriveRevocationPubkeyWithSecret(p.local.revocationBasepoint, point, {
          revocationBasepointSecret: k.revocation,
        })
      : deriveRevocationPubkey(p.local.revocationBasepoint, point),
    localDelayedPubkey: derivePubkey(p.remote.delayedPaymentBasepoint, point),
    remotePaymentPubkey: p.local.paymentBasepoint,
    localHtlcPubkey: derivePubkey(p.remote.htlcBasepoint, point),
    remoteHtlcPubkey: ourDerived(k.htlc, p.local.htlcBasepoint, point),
  };
}

/**
 * The per-commitment keys of `owner`'s commitment for `point`, memoised per `keys` (the
 * derivation costs several elliptic-curve operations; each commitment's keys are needed when
 * it is signed or verified, and {@link precomputeCommitmentKeys} may have derived them ahead).
 * The returned object and its arrays are shared with the memo: callers MUST NOT mutate them.
 */
function memoisedCommitmentKeys(
  owner: 'local' | 'remote',
  p: ChannelParams,
  point: Uint8Array,
  keys: ChannelKeys,
  index: number,
): { keys: CommitmentKeys; derived: boolean } {
  const d = memoOf(keys).derived;
  for (let i = d.length - 1; i >= 0; i--) {
    const e = d[i]!;
    if (e.owner === owner && e.local === p.local && e.remote === p.remote && equal(e.point, point)) {
      if (i !== d.length - 1) {
        d.splice(i, 1);
        d.push(e);
      }
      return { keys: e.keys, derived: false };
    }
  }
  const k =
    owner === 'local' ? localCommitmentKeys(p, point, keys, index) : remoteCommitmentKeys(p, point, keys);
  if (d.length >= DERIVED_KEYS_MEMO) d.shift();
  d.push({ owner, point: point.slice(), local: p.local, remote: p.remote, keys: k });
  return { keys: k, derived: true };
}

/**
 * Derives ahead of time (and memoises) the keys of the next commitments a channel will sign or
 * verify: our commitment `localIndex` (whose point is ours) and, when known, the peer's next
 * commitment for its announced point `remotePoint`. A node calls this while it waits for the
 * peer, so the next `commitment_signed` it sends or receives finds its keys ready. Pure
 * memoisation: results are the same with or without it. Returns how many key sets were derived
 * (0 when both were already memoised).
 */
export function precomputeCommitmentKeys(
  p: ChannelParams,
  keys: ChannelKeys,
  localIndex: number,
  remotePoint: Uint8Array | undefined,
): number {
  let derived = 0;
  if (memoisedCommitmentKeys('local', p, localPoint(keys, localIndex), keys, localIndex).derived) derived++;
  if (remotePoint && memoisedCommitmentKeys('remote', p, remotePoint, keys, -1).derived) derived++;
  return derived;
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
  keys: ChannelKeys | undefined,
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
    keys: keys
      ? memoisedCommitmentKeys(owner, p, point, keys, index).keys
      : owner === 'local'
        ? localCommitmentKeys(p, point, undefined, index)
        : remoteCommitmentKeys(p, point),
    htlcs: spec.htlcs,
  });
}

/**
 * Builds OUR commitment transaction number `index` for `spec` (our point of view). `keys`
 * (optional) only speeds up the key derivation; the result is the same.
 */
export function buildLocalCommitTx(
  p: ChannelParams,
  index: number,
  spec: CommitmentSpec,
  point: Uint8Array,
  keys?: ChannelKeys,
): CommitmentTx {
  return buildCommitTxOf('local', p, index, spec, point, keys);
}

/**
 * Builds the PEER's commitment transaction number `index` for `spec` (the peer's point of
 * view). `keys` (optional) only speeds up the key derivation; the result is the same.
 */
export function buildRemoteCommitTx(
  p: ChannelParams,
  index: number,
  spec: CommitmentSpec,
  point: Uint8Array,
  keys?: ChannelKeys,
): CommitmentTx {
  return buildCommitTxOf('remote', p, index, spec, point, keys);
}
