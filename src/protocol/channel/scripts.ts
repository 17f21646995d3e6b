/**
 * BOLT #3 output scripts: the funding 2-of-2, `to_local`, `to_remote`, the anchors, offered and
 * received HTLC outputs, and the HTLC-success/HTLC-timeout output. Each function returns the
 * witness script (wrap with {@link p2wsh} for the output script) unless stated otherwise.
 */
import { hash160, ripemd, sha256 } from '../crypto/hash.js';
import { compare, equal } from '../encoding/bytes.js';
import { InvalidArgumentError } from '../errors.js';
import { num, OP, p2wpkh, p2wsh, raw, script } from '../tx/script.js';

/**
 * The commitment format of a channel. `static_remotekey` covers `option_static_remotekey`
 * channels (and, with a derived `remotepubkey`, legacy channels: the transaction format is the
 * same); `anchors_zero_fee_htlc_tx` is `option_anchors` with zero-fee HTLC transactions.
 */
export type ChannelType = 'static_remotekey' | 'anchors_zero_fee_htlc_tx';

/** True for the anchor-output commitment format. */
export function hasAnchors(channelType: ChannelType): boolean {
  return channelType === 'anchors_zero_fee_htlc_tx';
}

function key(p: Uint8Array, what: string): Uint8Array {
  if (p.length !== 33) throw new InvalidArgumentError(`${what} must be a 33-byte compressed public key`);
  return p;
}

/**
 * Funding output witness script `2 <pubkey1> <pubkey2> 2 OP_CHECKMULTISIG`.
 * BOLT #3: pubkey1 is the lexicographically lesser of the two `funding_pubkey`.
 */
export function fundingScript(fundingPubkeyA: Uint8Array, fundingPubkeyB: Uint8Array): Uint8Array {
  const [p1, p2] = sortedFundingPubkeys(fundingPubkeyA, fundingPubkeyB);
  return script(OP.OP_2, p1, p2, OP.OP_2, OP.OP_CHECKMULTISIG);
}

/** The two funding pubkeys in script order (lesser first). */
export function sortedFundingPubkeys(a: Uint8Array, b: Uint8Array): [Uint8Array, Uint8Array] {
  key(a, 'funding_pubkey');
  key(b, 'funding_pubkey');
  return compare(a, b) <= 0 ? [a, b] : [b, a];
}

/**
 * `to_local` witness script (also the HTLC-success/HTLC-timeout output script):
 * `OP_IF <revocationpubkey> OP_ELSE to_self_delay OP_CSV OP_DROP <local_delayedpubkey> OP_ENDIF OP_CHECKSIG`.
 */
export function toLocalScript(
  revocationPubkey: Uint8Array,
  toSelfDelay: number,
  localDelayedPubkey: Uint8Array,
): Uint8Array {
  if (!Number.isInteger(toSelfDelay) || toSelfDelay < 0 || toSelfDelay > 0xffff)
    throw new InvalidArgumentError('to_self_delay must be a u16');
  return script(
    OP.OP_IF,
    key(revocationPubkey, 'revocationpubkey'),
    OP.OP_ELSE,
    raw(num(toSelfDelay)),
    OP.OP_CHECKSEQUENCEVERIFY,
    OP.OP_DROP,
    key(localDelayedPubkey, 'local_delayedpubkey'),
    OP.OP_ENDIF,
    OP.OP_CHECKSIG,
  );
}

/** The HTLC-success/HTLC-timeout output witness script: identical to {@link toLocalScript}. */
export const htlcOutputScript = toLocalScript;

/**
 * `to_remote` with `option_anchors`: `<remotepubkey> OP_CHECKSIGVERIFY 1 OP_CHECKSEQUENCEVERIFY`
 * (witness script of a P2WSH output).
 */
export function toRemoteAnchorsScript(remotePubkey: Uint8Array): Uint8Array {
  return script(key(remotePubkey, 'remotepubkey'), OP.OP_CHECKSIGVERIFY, OP.OP_1, OP.OP_CHECKSEQUENCEVERIFY);
}

/**
 * The `to_remote` output: P2WPKH to `remotepubkey`, or with anchors a P2WSH of
 * {@link toRemoteAnchorsScript}. Returns the output script and the witness script (if any).
 */
export function toRemoteOutput(
  remotePubkey: Uint8Array,
  channelType: ChannelType,
): { scriptPubKey: Uint8Array; witnessScript: Uint8Array | undefined } {
  if (hasAnchors(channelType)) {
    const ws = toRemoteAnchorsScript(remotePubkey);
    return { scriptPubKey: p2wsh(ws), witnessScript: ws };
  }
  return { scriptPubKey: p2wpkh(key(remotePubkey, 'remotepubkey')), witnessScript: undefined };
}

/**
 * Anchor output witness script (option_anchors):
 * `<funding_pubkey> OP_CHECKSIG OP_IFDUP OP_NOTIF OP_16 OP_CHECKSEQUENCEVERIFY OP_ENDIF`.
 */
export function anchorScript(fundingPubkey: Uint8Array): Uint8Array {
  return script(
    key(fundingPubkey, 'funding_pubkey'),
    OP.OP_CHECKSIG,
    OP.OP_IFDUP,
    OP.OP_NOTIF,
    OP.OP_16,
    OP.OP_CHECKSEQUENCEVERIFY,
    OP.OP_ENDIF,
  );
}

/** Keys shared by both HTLC scripts (from the commitment owner's point of view). */
export interface HtlcScriptKeys {
  revocationPubkey: Uint8Array;
  localHtlcPubkey: Uint8Array;
  remoteHtlcPubkey: Uint8Array;
}

/**
 * `RIPEMD160(SHA256(revocationpubkey))`, memoised for the last two keys (every HTLC script of
 * a commitment uses the same key; builds alternate between our and the peer's commitment).
 * Returns a shared array: callers only copy it into a script.
 */
const revocationHashes: { key: Uint8Array; hash: Uint8Array }[] = [];

function revocationHash160(revocationPubkey: Uint8Array): Uint8Array {
  const k = key(revocationPubkey, 'revocationpubkey');
  for (const e of revocationHashes) if (equal(e.key, k)) return e.hash;
  const e = { key: k.slice(), hash: hash160(k) };
  revocationHashes.unshift(e);
  if (revocationHashes.length > 2) revocationHashes.pop();
  return e.hash;
}

/**
 * `RIPEMD160(payment_hash)` by array identity: an HTLC's hash object is carried from commitment
 * to commitment, and every commitment (ours and the peer's) rebuilds its script. Payment hashes
 * are never mutated. Returns a shared array: callers only copy it into a script.
 */
const paymentHash160 = new WeakMap<Uint8Array, Uint8Array>();

function hashCheck(paymentHash: Uint8Array): Uint8Array {
  if (paymentHash.length !== 32) throw new InvalidArgumentError('payment_hash must be 32 bytes');
  let h = paymentHash160.get(paymentHash);
  if (h === undefined) {
    h = ripemd(paymentHash);
    paymentHash160.set(paymentHash, h);
  }
  return h;
}

/**
 * Offered HTLC witness script (BOLT #3 "Offered HTLC Outputs"); with anchors the
 * `1 OP_CHECKSEQUENCEVERIFY OP_DROP` variant.
 */
export function offeredHtlcScript(
  keys: HtlcScriptKeys,
  paymentHash: Uint8Array,
  channelType: ChannelType,
): Uint8Array {
  const csv = hasAnchors(channelType) ? [OP.OP_1, OP.OP_CHECKSEQUENCEVERIFY, OP.OP_DROP] : [];
  return script(
    OP.OP_DUP,
    OP.OP_HASH160,
    revocationHash160(keys.revocationPubkey),
    OP.OP_EQUAL,
    OP.OP_IF,
    OP.OP_CHECKSIG,
    OP.OP_ELSE,
    key(keys.remoteHtlcPubkey, 'remote_htlcpubkey'),
    OP.OP_SWAP,
    OP.OP_SIZE,
    raw(num(32)),
    OP.OP_EQUAL,
    OP.OP_NOTIF,
    OP.OP_DROP,
    OP.OP_2,
    OP.OP_SWAP,
    key(keys.localHtlcPubkey, 'local_htlcpubkey'),
    OP.OP_2,
    OP.OP_CHECKMULTISIG,
    OP.OP_ELSE,
    OP.OP_HASH160,
    hashCheck(paymentHash),
    OP.OP_EQUALVERIFY,
    OP.OP_CHECKSIG,
    OP.OP_ENDIF,
    ...csv,
    OP.OP_ENDIF,
  );
}

/**
 * Received HTLC witness script (BOLT #3 "Received HTLC Outputs"); with anchors the
 * `1 OP_CHECKSEQUENCEVERIFY OP_DROP` variant.
 */
export function receivedHtlcScript(
  keys: HtlcScriptKeys,
  paymentHash: Uint8Array,
  cltvExpiry: number,
  channelType: ChannelType,
): Uint8Array {
  if (!Number.isInteger(cltvExpiry) || cltvExpiry < 0 || cltvExpiry > 0xffffffff)
    throw new InvalidArgumentError('cltv_expiry must be a u32');
  const csv = hasAnchors(channelType) ? [OP.OP_1, OP.OP_CHECKSEQUENCEVERIFY, OP.OP_DROP] : [];
  return script(
    OP.OP_DUP,
    OP.OP_HASH160,
    revocationHash160(keys.revocationPubkey),
    OP.OP_EQUAL,
    OP.OP_IF,
    OP.OP_CHECKSIG,
    OP.OP_ELSE,
    key(keys.remoteHtlcPubkey, 'remote_htlcpubkey'),
    OP.OP_SWAP,
    OP.OP_SIZE,
    raw(num(32)),
    OP.OP_EQUAL,
    OP.OP_IF,
    OP.OP_HASH160,
    hashCheck(paymentHash),
    OP.OP_EQUALVERIFY,
    OP.OP_2,
    OP.OP_SWAP,
    key(keys.localHtlcPubkey, 'local_htlcpubkey'),
    OP.OP_2,
    OP.OP_CHECKMULTISIG,
    OP.OP_ELSE,
    OP.OP_DROP,
    raw(num(cltvExpiry)),
    OP.OP_CHECKLOCKTIMEVERIFY,
    OP.OP_DROP,
    OP.OP_CHECKSIG,
    OP.OP_ENDIF,
    ...csv,
    OP.OP_ENDIF,
  );
}

/** SHA256 of a payment preimage (the `payment_hash`). */
export function paymentHashOf(preimage: Uint8Array): Uint8Array {
  return sha256(preimage);
}
