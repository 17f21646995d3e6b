/**
 * BOLT #7 gossip signatures (07-routing-gossip.md): the double-SHA256 digests each gossip
 * message is signed over, verification of `channel_announcement` (four signatures),
 * `node_announcement` and `channel_update`, and the helpers a node needs to announce its own
 * channels (`announcement_signatures` content, assembling the final `channel_announcement`,
 * creating signed `channel_update`s and `node_announcement`s).
 *
 * Digests are taken over the exact wire bytes. The wire codec keeps unknown TLVs (and unknown
 * address descriptors), so a decoded message re-encodes byte-identically; callers that still
 * hold the received bytes may pass them as `raw` to skip the re-encoding.
 */
import { sha256d } from '../../protocol/crypto/hash.js';
import { secp } from '../../protocol/crypto/secp256k1.js';
import { compare, equal } from '../../protocol/encoding/bytes.js';
import { InvalidArgumentError } from '../../protocol/errors.js';
import {
  type AnnouncementSignatures,
  type ChannelAnnouncement,
  type ChannelUpdate,
  encodeMessage,
  type NodeAnnouncement,
} from '../../protocol/wire/index.js';

/** A gossip message that carries signatures. */
export type SignedGossip = ChannelAnnouncement | NodeAnnouncement | ChannelUpdate;

// Offsets in the full wire message (2-byte type included) where the signed part starts.
// BOLT #7: channel_announcement "beginning at offset 256" of the payload (after the 4 signatures);
// node_announcement / channel_update: "the entire remaining packet after `signature`".
const SIGNED_FROM = { channel_announcement: 2 + 256, node_announcement: 2 + 64, channel_update: 2 + 64 };

const ZERO_SIG = new Uint8Array(64);

function rawOf(msg: SignedGossip, raw?: Uint8Array): Uint8Array {
  return raw ?? encodeMessage(msg);
}

/**
 * The digest `h` a gossip message is signed over: double-SHA256 of the wire bytes after the
 * signature field(s), including any unknown trailing fields. `raw` (the full message with its
 * 2-byte type) is used when given; otherwise the message is re-encoded.
 */
export function gossipDigest(msg: SignedGossip, raw?: Uint8Array): Uint8Array {
  const b = rawOf(msg, raw);
  const from = SIGNED_FROM[msg.type];
  if (b.length < from) throw new InvalidArgumentError('gossip message shorter than its signatures');
  return sha256d(b.subarray(from));
}

/** The digest of raw gossip bytes of a known signed type (by the 2-byte type). */
export function gossipDigestOfRaw(raw: Uint8Array): Uint8Array {
  const t = raw.length >= 2 ? (raw[0]! << 8) | raw[1]! : -1;
  const from = t === 256 ? SIGNED_FROM.channel_announcement : t === 257 || t === 258 ? 66 : -1;
  if (from < 0 || raw.length < from) throw new InvalidArgumentError('not a signed gossip message');
  return sha256d(raw.subarray(from));
}

/**
 * Verifies the four signatures of a `channel_announcement`. BOLT #7: the receiving node "MUST
 * verify the integrity AND authenticity of the message by verifying the signatures":
 * `node_signature_1/2` by `node_id_1/2` and `bitcoin_signature_1/2` by `bitcoin_key_1/2`, all
 * over the same digest. High-S signatures are rejected.
 */
export function verifyChannelAnnouncement(ann: ChannelAnnouncement, raw?: Uint8Array): boolean {
  const h = gossipDigest(ann, raw);
  const s = secp();
  return (
    s.verify(ann.nodeSignature1, h, ann.nodeId1) &&
    s.verify(ann.nodeSignature2, h, ann.nodeId2) &&
    s.verify(ann.bitcoinSignature1, h, ann.bitcoinKey1) &&
    s.verify(ann.bitcoinSignature2, h, ann.bitcoinKey2)
  );
}

/** Verifies a `node_announcement` signature against its own `node_id`. */
export function verifyNodeAnnouncement(ann: NodeAnnouncement, raw?: Uint8Array): boolean {
  return secp().verify(ann.signature, gossipDigest(ann, raw), ann.nodeId);
}

/**
 * Verifies a `channel_update` signature. BOLT #7: the signing `node_id` is `node_id_1` of the
 * channel's announcement when the `direction` bit (bit 0 of `channel_flags`) is 0, `node_id_2`
 * otherwise — the caller passes that key (see {@link channelUpdateSigner}).
 */
export function verifyChannelUpdate(update: ChannelUpdate, nodeId: Uint8Array, raw?: Uint8Array): boolean {
  return secp().verify(update.signature, gossipDigest(update, raw), nodeId);
}

/** The node that must have signed `update`: `node_id_1` for direction 0, `node_id_2` for 1. */
export function channelUpdateSigner(
  update: Pick<ChannelUpdate, 'channelFlags'>,
  ann: Pick<ChannelAnnouncement, 'nodeId1' | 'nodeId2'>,
): Uint8Array {
  return (update.channelFlags & 1) === 0 ? ann.nodeId1 : ann.nodeId2;
}

/** Parameters of {@link buildChannelAnnouncement}. */
export interface ChannelAnnouncementParams {
  chainHash: Uint8Array;
  shortChannelId: bigint;
  /** Channel feature bits (minimal-length bitfield); default empty. */
  features?: Uint8Array;
  localNodeId: Uint8Array;
  remoteNodeId: Uint8Array;
  /** Our `funding_pubkey`. */
  localBitcoinKey: Uint8Array;
  /** The peer's `funding_pubkey`. */
  remoteBitcoinKey: Uint8Array;
}

/** An unsigned `channel_announcement` and our position in it. */
export interface UnsignedChannelAnnouncement {
  /** The announcement with four all-zero signatures (the digest does not cover them). */
  announcement: ChannelAnnouncement;
  /** True when our node id is `node_id_1` (the lexicographically lesser key). */
  localIsNode1: boolean;
}

/**
 * Builds the `channel_announcement` both endpoints sign. BOLT #7: "MUST set `node_id_1` and
 * `node_id_2` to the public keys of the two nodes operating the channel, such that `node_id_1`
 * is the lexicographically-lesser of the two compressed keys", with `bitcoin_key_1/2` their
 * respective funding pubkeys.
 */
export function buildChannelAnnouncement(p: ChannelAnnouncementParams): UnsignedChannelAnnouncement {
  const c = compare(p.localNodeId, p.remoteNodeId);
  if (c === 0) throw new InvalidArgumentError('channel endpoints must differ');
  const localIsNode1 = c < 0;
  const announcement: ChannelAnnouncement = {
    type: 'channel_announcement',
    nodeSignature1: ZERO_SIG,
    nodeSignature2: ZERO_SIG,
    bitcoinSignature1: ZERO_SIG,
    bitcoinSignature2: ZERO_SIG,
    features: p.features ?? new Uint8Array(0),
    chainHash: p.chainHash,
    shortChannelId: p.shortChannelId,
    nodeId1: localIsNode1 ? p.localNodeId : p.remoteNodeId,
    nodeId2: localIsNode1 ? p.remoteNodeId : p.localNodeId,
    bitcoinKey1: localIsNode1 ? p.localBitcoinKey : p.remoteBitcoinKey,
    bitcoinKey2: localIsNode1 ? p.remoteBitcoinKey : p.localBitcoinKey,
  };
  return { announcement, localIsNode1 };
}

/**
 * Our `announcement_signatures` for `announcement` (BOLT #7 "The `announcement_signatures`
 * Message": "created by constructing a `channel_announcement` ... and signing it with the
 * secrets matching an endpoint's `node_id` and `bitcoin_key`"). The caller sends it only after
 * `channel_ready` was exchanged and the funding has 6 confirmations.
 */
export function createAnnouncementSignatures(p: {
  channelId: Uint8Array;
  announcement: ChannelAnnouncement;
  nodeSecret: Uint8Array;
  bitcoinSecret: Uint8Array;
}): AnnouncementSignatures {
  const h = gossipDigest(p.announcement);
  return {
    type: 'announcement_signatures',
    channelId: p.channelId,
    shortChannelId: p.announcement.shortChannelId,
    nodeSignature: secp().sign(h, p.nodeSecret),
    bitcoinSignature: secp().sign(h, p.bitcoinSecret),
  };
}

/** Why a peer's `announcement_signatures` is not acceptable (BOLT #7 recipient checks). */
export type AnnouncementSignaturesError =
  | 'WRONG_SHORT_CHANNEL_ID'
  | 'BAD_NODE_SIGNATURE'
  | 'BAD_BITCOIN_SIGNATURE';

/**
 * Checks the peer's `announcement_signatures` against the announcement we built. BOLT #7: if
 * the `short_channel_id` is NOT correct the recipient SHOULD warn/close; if a signature is NOT
 * correct it MAY. Returns undefined when valid.
 */
export function checkAnnouncementSignatures(
  announcement: ChannelAnnouncement,
  msg: AnnouncementSignatures,
  remoteNodeId: Uint8Array,
  remoteBitcoinKey: Uint8Array,
): AnnouncementSignaturesError | undefined {
  if (msg.shortChannelId !== announcement.shortChannelId) return 'WRONG_SHORT_CHANNEL_ID';
  const h = gossipDigest(announcement);
  if (!secp().verify(msg.nodeSignature, h, remoteNodeId)) return 'BAD_NODE_SIGNATURE';
  if (!secp().verify(msg.bitcoinSignature, h, remoteBitcoinKey)) return 'BAD_BITCOIN_SIGNATURE';
  return undefined;
}

/**
 * The final, fully signed `channel_announcement` from both sides' `announcement_signatures`
 * (ours and the peer's), each placed in its node's slot.
 */
export function assembleChannelAnnouncement(
  unsigned: UnsignedChannelAnnouncement,
  local: Pick<AnnouncementSignatures, 'nodeSignature' | 'bitcoinSignature'>,
  remote: Pick<AnnouncementSignatures, 'nodeSignature' | 'bitcoinSignature'>,
): ChannelAnnouncement {
  const [one, two] = unsigned.localIsNode1 ? [local, remote] : [remote, local];
  return {
    ...unsigned.announcement,
    nodeSignature1: one.nodeSignature,
    nodeSignature2: two.nodeSignature,
    bitcoinSignature1: one.bitcoinSignature,
    bitcoinSignature2: two.bitcoinSignature,
  };
}

/** Parameters of {@link createChannelUpdate} (every field but the signature). */
export interface ChannelUpdateParams {
  chainHash: Uint8Array;
  shortChannelId: bigint;
  /** Must be greater than 0 and than any previous update of ours for this channel. */
  timestamp: number;
  /** Our direction: 0 if we are `node_id_1`, 1 otherwise. */
  direction: 0 | 1;
  disabled?: boolean;
  /** `dont_forward` (private channels / SCID aliases). */
  dontForward?: boolean;
  cltvExpiryDelta: number;
  htlcMinimumMsat: bigint;
  htlcMaximumMsat: bigint;
  feeBaseMsat: number;
  feeProportionalMillionths: number;
}

/**
 * Creates and signs a `channel_update` with our node key. BOLT #7: "MUST set `must_be_one` in
 * `message_flags` to 1", "MUST set bits ... that are not assigned a meaning to 0", `dont_forward`
 * for updates of unannounced channels, `timestamp` greater than 0, `htlc_maximum_msat` at least
 * `htlc_minimum_msat`.
 */
export function createChannelUpdate(p: ChannelUpdateParams, nodeSecret: Uint8Array): ChannelUpdate {
  if (!Number.isInteger(p.timestamp) || p.timestamp <= 0 || p.timestamp > 0xffffffff) {
    throw new InvalidArgumentError('channel_update timestamp must be a positive u32');
  }
  if (p.htlcMaximumMsat < p.htlcMinimumMsat) {
    throw new InvalidArgumentError('htlc_maximum_msat must be >= htlc_minimum_msat');
  }
  const update: ChannelUpdate = {
    type: 'channel_update',
    signature: ZERO_SIG,
    chainHash: p.chainHash,
    shortChannelId: p.shortChannelId,
    timestamp: p.timestamp,
    messageFlags: 1 | (p.dontForward ? 2 : 0),
    channelFlags: p.direction | (p.disabled ? 2 : 0),
    cltvExpiryDelta: p.cltvExpiryDelta,
    htlcMinimumMsat: p.htlcMinimumMsat,
    feeBaseMsat: p.feeBaseMsat,
    feeProportionalMillionths: p.feeProportionalMillionths,
    htlcMaximumMsat: p.htlcMaximumMsat,
  };
  return { ...update, signature: secp().sign(gossipDigest(update), nodeSecret) };
}

/** Signs (or re-signs) a `node_announcement` with `nodeSecret`; `nodeId` must be its public key. */
export function signNodeAnnouncement(
  ann: Omit<NodeAnnouncement, 'signature' | 'type'>,
  nodeSecret: Uint8Array,
): NodeAnnouncement {
  if (!equal(secp().publicKey(nodeSecret), ann.nodeId)) {
    throw new InvalidArgumentError('node secret does not match node_id');
  }
  const unsigned: NodeAnnouncement = { ...ann, type: 'node_announcement', signature: ZERO_SIG };
  return { ...unsigned, signature: secp().sign(gossipDigest(unsigned), nodeSecret) };
}
