/**
 * Lightning wire messages: BOLT 1 (01-messaging.md), BOLT 2 (02-peer-protocol.md), BOLT 7
 * (07-routing-gossip.md), the BOLT 4 `onion_message` envelope and the bLIP-50 LSPS0 transport
 * message, as one table of declarative definitions.
 *
 * BOLT #1 "Lightning Message Format": `[u16:type][payload][extension]`, where the optional
 * `extension` is a TLV stream. Every message here accepts an extension: its known records are
 * flattened into the message object as optional fields, unknown odd records are kept in
 * `unknownTlvs` (and re-encoded), unknown even records fail (`TLV_UNKNOWN_EVEN`).
 *
 * Field conventions: u64 values (amounts, ids, short_channel_id) are bigint; u8/u16/u32 are
 * number; hashes, points, signatures and feature bitfields are raw Uint8Array (features keep
 * their exact wire bytes so signed gossip re-encodes byte-identically; use
 * `featureBitsFromBytes`).
 */

import { Reader } from '../encoding/reader.js';
import type { TlvRecord } from '../encoding/tlv.js';
import { Writer } from '../encoding/writer.js';
import { DecodeError, InvalidArgumentError } from '../errors.js';
import { address, addressList } from './address.js';
import {
  bigsize,
  bytes,
  bytes32,
  type Codec,
  chainHash,
  channelId,
  encodedList,
  type Fields,
  fixedList,
  flag,
  list16,
  point,
  rest,
  type StructOf,
  s64,
  sha256,
  shortChannelId,
  signature,
  sized16,
  struct,
  type TlvSchema,
  type TlvStream,
  type TlvValues,
  tlv,
  tlvStream,
  u8,
  u16,
  u32,
  u64,
  until,
  utf8Rest,
  varbytes,
} from './codec.js';

/** One message definition: type number, body fields in order, known extension TLVs. */
export interface MessageDef<F extends Fields, S extends TlvSchema> {
  readonly typeNum: number;
  readonly fields: F;
  readonly body: Codec<StructOf<F>>;
  /** The typed extension stream, or null when the body consumes the whole payload. */
  readonly ext: TlvStream<S> | null;
}

type NoTlvs = Record<never, never>;

function msg<F extends Fields, S extends TlvSchema = NoTlvs>(
  typeNum: number,
  fields: F,
  tlvs?: S,
  extension = true,
): MessageDef<F, S> {
  return {
    typeNum,
    fields,
    body: struct(fields),
    ext: extension ? tlvStream((tlvs ?? {}) as S) : null,
  };
}

// Shared TLV value shapes.
const attributionData = struct({
  /** BOLT 4 attribution data: 20 hold times (u32, in 100 ms units). */
  htlcHoldTimes: fixedList(20, u32),
  /** 210 truncated (4-byte) HMACs. */
  truncatedHmacs: bytes(840),
});
const openingTlvs = {
  upfrontShutdownScript: tlv(0, rest),
  channelType: tlv(1, rest),
};
const dualOpeningTlvs = { ...openingTlvs, requireConfirmedInputs: tlv(2, flag) };
const rbfTlvs = { fundingOutputContribution: tlv(0, s64), requireConfirmedInputs: tlv(2, flag) };
const closingTlvs = {
  closerOutputOnly: tlv(1, signature),
  closeeOutputOnly: tlv(2, signature),
  closerAndCloseeOutputs: tlv(3, signature),
};
const closingFields = {
  channelId,
  closerScriptpubkey: varbytes,
  closeeScriptpubkey: varbytes,
  feeSatoshis: u64,
  locktime: u32,
};
const scidList = sized16(encodedList(shortChannelId));

/**
 * Every known message, keyed by its spec name. Field names are the spec's in camelCase.
 */
const DEFS = {
  // ---- BOLT 1: setup & control
  warning: msg(1, { channelId, data: varbytes }),
  stfu: msg(2, { channelId, initiator: u8 }),
  peer_storage: msg(7, { blob: varbytes }),
  peer_storage_retrieval: msg(9, { blob: varbytes }),
  init: msg(
    16,
    { globalFeatures: varbytes, features: varbytes },
    { networks: tlv(1, until(chainHash)), remoteAddr: tlv(3, address) },
  ),
  error: msg(17, { channelId, data: varbytes }),
  ping: msg(18, { numPongBytes: u16, ignored: varbytes }),
  pong: msg(19, { ignored: varbytes }),

  // ---- BOLT 2: channel establishment v1
  open_channel: msg(
    32,
    {
      chainHash,
      temporaryChannelId: bytes32,
      fundingSatoshis: u64,
      pushMsat: u64,
      dustLimitSatoshis: u64,
      maxHtlcValueInFlightMsat: u64,
      channelReserveSatoshis: u64,
      htlcMinimumMsat: u64,
      feeratePerKw: u32,
      toSelfDelay: u16,
      maxAcceptedHtlcs: u16,
      fundingPubkey: point,
      revocationBasepoint: point,
      paymentBasepoint: point,
      delayedPaymentBasepoint: point,
      htlcBasepoint: point,
      firstPerCommitmentPoint: point,
      channelFlags: u8,
    },
    openingTlvs,
  ),
  accept_channel: msg(
    33,
    {
      temporaryChannelId: bytes32,
      dustLimitSatoshis: u64,
      maxHtlcValueInFlightMsat: u64,
      channelReserveSatoshis: u64,
      htlcMinimumMsat: u64,
      minimumDepth: u32,
      toSelfDelay: u16,
      maxAcceptedHtlcs: u16,
      fundingPubkey: point,
      revocationBasepoint: point,
      paymentBasepoint: point,
      delayedPaymentBasepoint: point,
      htlcBasepoint: point,
      firstPerCommitmentPoint: point,
    },
    openingTlvs,
  ),
  funding_created: msg(34, {
    temporaryChannelId: bytes32,
    fundingTxid: sha256,
    fundingOutputIndex: u16,
    signature,
  }),
  funding_signed: msg(35, { channelId, signature }),
  channel_ready: msg(
    36,
    { channelId, secondPerCommitmentPoint: point },
    // TLV `short_channel_id` (type 1) carrying the `alias`.
    { alias: tlv(1, shortChannelId) },
  ),

  // ---- BOLT 2: channel close
  shutdown: msg(38, { channelId, scriptpubkey: varbytes }),
  closing_signed: msg(
    39,
    { channelId, feeSatoshis: u64, signature },
    { feeRange: tlv(1, struct({ minFeeSatoshis: u64, maxFeeSatoshis: u64 })) },
  ),
  closing_complete: msg(40, closingFields, closingTlvs),
  closing_sig: msg(41, closingFields, closingTlvs),

  // ---- BOLT 2: channel establishment v2 and interactive transaction construction
  open_channel2: msg(
    64,
    {
      chainHash,
      temporaryChannelId: channelId,
      fundingFeeratePerkw: u32,
      commitmentFeeratePerkw: u32,
      fundingSatoshis: u64,
      dustLimitSatoshis: u64,
      maxHtlcValueInFlightMsat: u64,
      htlcMinimumMsat: u64,
      toSelfDelay: u16,
      maxAcceptedHtlcs: u16,
      locktime: u32,
      fundingPubkey: point,
      revocationBasepoint: point,
      paymentBasepoint: point,
      delayedPaymentBasepoint: point,
      htlcBasepoint: point,
      firstPerCommitmentPoint: point,
      secondPerCommitmentPoint: point,
      channelFlags: u8,
    },
    dualOpeningTlvs,
  ),
  accept_channel2: msg(
    65,
    {
      temporaryChannelId: channelId,
      fundingSatoshis: u64,
      dustLimitSatoshis: u64,
      maxHtlcValueInFlightMsat: u64,
      htlcMinimumMsat: u64,
      minimumDepth: u32,
      toSelfDelay: u16,
      maxAcceptedHtlcs: u16,
      fundingPubkey: point,
      revocationBasepoint: point,
      paymentBasepoint: point,
      delayedPaymentBasepoint: point,
      htlcBasepoint: point,
      firstPerCommitmentPoint: point,
      secondPerCommitmentPoint: point,
    },
    dualOpeningTlvs,
  ),
  tx_add_input: msg(
    66,
    { channelId, serialId: u64, prevtx: varbytes, prevtxVout: u32, sequence: u32 },
    { sharedInputTxid: tlv(0, sha256) },
  ),
  tx_add_output: msg(67, { channelId, serialId: u64, sats: u64, script: varbytes }),
  tx_remove_input: msg(68, { channelId, serialId: u64 }),
  tx_remove_output: msg(69, { channelId, serialId: u64 }),
  tx_complete: msg(70, { channelId }),
  tx_signatures: msg(
    71,
    { channelId, txid: sha256, witnesses: list16(varbytes) },
    { sharedInputSignature: tlv(0, signature) },
  ),
  tx_init_rbf: msg(72, { channelId, locktime: u32, feerate: u32 }, rbfTlvs),
  tx_ack_rbf: msg(73, { channelId }, rbfTlvs),
  tx_abort: msg(74, { channelId, data: varbytes }),

  // ---- BOLT 2: splicing
  splice_locked: msg(77, { channelId, spliceTxid: sha256 }),
  splice_init: msg(
    80,
    {
      channelId,
      fundingContributionSatoshis: s64,
      fundingFeeratePerkw: u32,
      locktime: u32,
      fundingPubkey: point,
    },
    { requireConfirmedInputs: tlv(2, flag) },
  ),
  splice_ack: msg(
    81,
    { channelId, fundingContributionSatoshis: s64, fundingPubkey: point },
    { requireConfirmedInputs: tlv(2, flag) },
  ),

  // ---- BOLT 2: normal operation
  start_batch: msg(127, { channelId, batchSize: u16 }, { messageType: tlv(1, u16) }),
  update_add_htlc: msg(
    128,
    {
      channelId,
      id: u64,
      amountMsat: u64,
      paymentHash: sha256,
      cltvExpiry: u32,
      onionRoutingPacket: bytes(1366),
    },
    {
      /** TLV 0 `blinded_path` carrying `path_key` (formerly `blinding_point`). */
      blindingPoint: tlv(0, point),
      /** bLIP-25 TLV 65537 `extra_fee` (msat taken by an LSP from the forwarded amount). */
      extraFee: tlv(65537, u64),
    },
  ),
  update_fulfill_htlc: msg(
    130,
    { channelId, id: u64, paymentPreimage: bytes32 },
    { attributionData: tlv(1, attributionData) },
  ),
  update_fail_htlc: msg(
    131,
    { channelId, id: u64, reason: varbytes },
    { attributionData: tlv(1, attributionData) },
  ),
  commitment_signed: msg(
    132,
    { channelId, signature, htlcSignatures: list16(signature) },
    { fundingTxid: tlv(1, sha256) },
  ),
  revoke_and_ack: msg(133, { channelId, perCommitmentSecret: bytes32, nextPerCommitmentPoint: point }),
  update_fee: msg(134, { channelId, feeratePerKw: u32 }),
  update_fail_malformed_htlc: msg(135, { channelId, id: u64, sha256OfOnion: sha256, failureCode: u16 }),
  channel_reestablish: msg(
    136,
    {
      channelId,
      nextCommitmentNumber: u64,
      nextRevocationNumber: u64,
      yourLastPerCommitmentSecret: bytes32,
      myCurrentPerCommitmentPoint: point,
    },
    {
      nextFunding: tlv(1, struct({ nextFundingTxid: sha256, retransmitFlags: u8 })),
      myCurrentFundingLocked: tlv(5, struct({ myCurrentFundingLockedTxid: sha256, retransmitFlags: u8 })),
    },
  ),

  // ---- BOLT 7: gossip
  channel_announcement: msg(256, {
    nodeSignature1: signature,
    nodeSignature2: signature,
    bitcoinSignature1: signature,
    bitcoinSignature2: signature,
    features: varbytes,
    chainHash,
    shortChannelId,
    nodeId1: point,
    nodeId2: point,
    bitcoinKey1: point,
    bitcoinKey2: point,
  }),
  node_announcement: msg(257, {
    signature,
    features: varbytes,
    timestamp: u32,
    nodeId: point,
    rgbColor: bytes(3),
    alias: bytes(32),
    addresses: addressList,
  }),
  channel_update: msg(258, {
    signature,
    chainHash,
    shortChannelId,
    timestamp: u32,
    messageFlags: u8,
    channelFlags: u8,
    cltvExpiryDelta: u16,
    htlcMinimumMsat: u64,
    feeBaseMsat: u32,
    feeProportionalMillionths: u32,
    htlcMaximumMsat: u64,
  }),
  announcement_signatures: msg(259, {
    channelId,
    shortChannelId,
    nodeSignature: signature,
    bitcoinSignature: signature,
  }),
  query_short_channel_ids: msg(
    261,
    { chainHash, shortChannelIds: scidList },
    // `encoded_query_flags`: one minimal bigsize per short_channel_id.
    { queryFlags: tlv(1, encodedList(bigsize)) },
  ),
  reply_short_channel_ids_end: msg(262, { chainHash, fullInformation: u8 }),
  query_channel_range: msg(
    263,
    { chainHash, firstBlocknum: u32, numberOfBlocks: u32 },
    { queryOption: tlv(1, bigsize) },
  ),
  reply_channel_range: msg(
    264,
    { chainHash, firstBlocknum: u32, numberOfBlocks: u32, syncComplete: u8, shortChannelIds: scidList },
    {
      timestamps: tlv(1, encodedList(struct({ timestampNodeId1: u32, timestampNodeId2: u32 }))),
      checksums: tlv(3, until(struct({ checksumNodeId1: u32, checksumNodeId2: u32 }))),
    },
  ),
  gossip_timestamp_filter: msg(265, { chainHash, firstTimestamp: u32, timestampRange: u32 }),

  // ---- BOLT 4 / BOLT 7: onion messages
  onion_message: msg(513, { pathKey: point, onionMessagePacket: varbytes }),

  // ---- bLIP-50 (LSPS0): the payload is the UTF-8 text of one JSON-RPC 2.0 object, no extension.
  lsps0_message: msg(37913, { json: utf8Rest }, undefined, false),
};

type Defs = typeof DEFS;
/** Spec name of every known message. */
export type MessageName = keyof Defs;

type Simplify<T> = { [K in keyof T]: T[K] } & {};
type FromDef<N, D> =
  D extends MessageDef<infer F, infer S>
    ? Simplify<{ type: N } & StructOf<F> & TlvValues<S> & { unknownTlvs?: TlvRecord[] }>
    : never;

/** The typed object of each known message, by name. */
export type Messages = { [K in MessageName]: FromDef<K, Defs[K]> };
/** Any known message (discriminated on `type`). */
export type KnownMessage = Messages[MessageName];

/**
 * A message of an odd type we do not know: BOLT #1 "upon receiving a message of _odd_, unknown
 * type: MUST ignore the received message."
 */
export interface UnknownMessage {
  type: 'unknown';
  typeNum: number;
  payload: Uint8Array;
}

/** Any decoded message. */
export type Message = KnownMessage | UnknownMessage;

/** BOLT 1 `warning` (type 1). */
export type Warning = Messages['warning'];
/** BOLT 2 `stfu` (type 2). */
export type Stfu = Messages['stfu'];
/** BOLT 1 `peer_storage` (type 7). */
export type PeerStorage = Messages['peer_storage'];
/** BOLT 1 `peer_storage_retrieval` (type 9). */
export type PeerStorageRetrieval = Messages['peer_storage_retrieval'];
/** BOLT 1 `init` (type 16). */
export type Init = Messages['init'];
/** BOLT 1 `error` (type 17). */
export type ErrorMessage = Messages['error'];
/** BOLT 1 `ping` (type 18). */
export type Ping = Messages['ping'];
/** BOLT 1 `pong` (type 19). */
export type Pong = Messages['pong'];
/** BOLT 2 `open_channel` (type 32). */
export type OpenChannel = Messages['open_channel'];
/** BOLT 2 `accept_channel` (type 33). */
export type AcceptChannel = Messages['accept_channel'];
/** BOLT 2 `funding_created` (type 34). */
export type FundingCreated = Messages['funding_created'];
/** BOLT 2 `funding_signed` (type 35). */
export type FundingSigned = Messages['funding_signed'];
/** BOLT 2 `channel_ready` (type 36). */
export type ChannelReady = Messages['channel_ready'];
/** BOLT 2 `shutdown` (type 38). */
export type Shutdown = Messages['shutdown'];
/** BOLT 2 `closing_signed` (type 39). */
export type ClosingSigned = Messages['closing_signed'];
/** BOLT 2 `closing_complete` (type 40). */
export type ClosingComplete = Messages['closing_complete'];
/** BOLT 2 `closing_sig` (type 41). */
export type ClosingSig = Messages['closing_sig'];
/** BOLT 2 `open_channel2` (type 64). */
export type OpenChannel2 = Messages['open_channel2'];
/** BOLT 2 `accept_channel2` (type 65). */
export type AcceptChannel2 = Messages['accept_channel2'];
/** BOLT 2 `tx_add_input` (type 66). */
export type TxAddInput = Messages['tx_add_input'];
/** BOLT 2 `tx_add_output` (type 67). */
export type TxAddOutput = Messages['tx_add_output'];
/** BOLT 2 `tx_remove_input` (type 68). */
export type TxRemoveInput = Messages['tx_remove_input'];
/** BOLT 2 `tx_remove_output` (type 69). */
export type TxRemoveOutput = Messages['tx_remove_output'];
/** BOLT 2 `tx_complete` (type 70). */
export type TxComplete = Messages['tx_complete'];
/** BOLT 2 `tx_signatures` (type 71). */
export type TxSignatures = Messages['tx_signatures'];
/** BOLT 2 `tx_init_rbf` (type 72). */
export type TxInitRbf = Messages['tx_init_rbf'];
/** BOLT 2 `tx_ack_rbf` (type 73). */
export type TxAckRbf = Messages['tx_ack_rbf'];
/** BOLT 2 `tx_abort` (type 74). */
export type TxAbort = Messages['tx_abort'];
/** BOLT 2 `splice_locked` (type 77). */
export type SpliceLocked = Messages['splice_locked'];
/** BOLT 2 `splice_init` (type 80). */
export type SpliceInit = Messages['splice_init'];
/** BOLT 2 `splice_ack` (type 81). */
export type SpliceAck = Messages['splice_ack'];
/** BOLT 2 `start_batch` (type 127). */
export type StartBatch = Messages['start_batch'];
/** BOLT 2 `update_add_htlc` (type 128). */
export type UpdateAddHtlc = Messages['update_add_htlc'];
/** BOLT 2 `update_fulfill_htlc` (type 130). */
export type UpdateFulfillHtlc = Messages['update_fulfill_htlc'];
/** BOLT 2 `update_fail_htlc` (type 131). */
export type UpdateFailHtlc = Messages['update_fail_htlc'];
/** BOLT 2 `commitment_signed` (type 132). */
export type CommitmentSigned = Messages['commitment_signed'];
/** BOLT 2 `revoke_and_ack` (type 133). */
export type RevokeAndAck = Messages['revoke_and_ack'];
/** BOLT 2 `update_fee` (type 134). */
export type UpdateFee = Messages['update_fee'];
/** BOLT 2 `update_fail_malformed_htlc` (type 135). */
export type UpdateFailMalformedHtlc = Messages['update_fail_malformed_htlc'];
/** BOLT 2 `channel_reestablish` (type 136). */
export type ChannelReestablish = Messages['channel_reestablish'];
/** BOLT 7 `channel_announcement` (type 256). */
export type ChannelAnnouncement = Messages['channel_announcement'];
/** BOLT 7 `node_announcement` (type 257). */
export type NodeAnnouncement = Messages['node_announcement'];
/** BOLT 7 `channel_update` (type 258). */
export type ChannelUpdate = Messages['channel_update'];
/** BOLT 7 `announcement_signatures` (type 259). */
export type AnnouncementSignatures = Messages['announcement_signatures'];
/** BOLT 7 `query_short_channel_ids` (type 261). */
export type QueryShortChannelIds = Messages['query_short_channel_ids'];
/** BOLT 7 `reply_short_channel_ids_end` (type 262). */
export type ReplyShortChannelIdsEnd = Messages['reply_short_channel_ids_end'];
/** BOLT 7 `query_channel_range` (type 263). */
export type QueryChannelRange = Messages['query_channel_range'];
/** BOLT 7 `reply_channel_range` (type 264). */
export type ReplyChannelRange = Messages['reply_channel_range'];
/** BOLT 7 `gossip_timestamp_filter` (type 265). */
export type GossipTimestampFilter = Messages['gossip_timestamp_filter'];
/** BOLT 4 `onion_message` (type 513). */
export type OnionMessage = Messages['onion_message'];
/** bLIP-50 LSPS0 transport message (type 37913). */
export type Lsps0Message = Messages['lsps0_message'];

// biome-ignore lint/suspicious/noExplicitAny: the registry is heterogeneous; each entry is typed above.
type AnyDef = MessageDef<Fields, any>;
const BY_NUM = new Map<number, [MessageName, AnyDef]>();
for (const [name, d] of Object.entries(DEFS) as [MessageName, AnyDef][]) BY_NUM.set(d.typeNum, [name, d]);

/** The message registry: spec name → type number. */
export const MESSAGE_TYPES: { readonly [K in MessageName]: number } = Object.fromEntries(
  Object.entries(DEFS).map(([n, d]) => [n, d.typeNum]),
) as { [K in MessageName]: number };

/** The definition (field codecs, TLV schema) of a known message, for schema walkers. */
export function messageDef(name: MessageName): MessageDef<Fields, TlvSchema> {
  return DEFS[name] as AnyDef;
}

/** Spec name of a type number, or undefined when unknown. */
export function messageName(typeNum: number): MessageName | undefined {
  return BY_NUM.get(typeNum)?.[0];
}

/**
 * Encodes a message to `[u16:type][payload][extension]`. Invalid field values (wrong lengths,
 * out-of-range integers, a message over 65535 bytes) throw {@link InvalidArgumentError}.
 */
export function encodeMessage(m: Message): Uint8Array {
  const w = new Writer(256);
  if (m.type === 'unknown') {
    w.u16(m.typeNum).bytes(m.payload);
  } else {
    const d = DEFS[m.type] as AnyDef | undefined;
    if (!d) throw new InvalidArgumentError(`unknown message type name ${String(m.type)}`);
    w.u16(d.typeNum);
    d.body.write(w, m as never);
    if (d.ext) {
      const ext = m as { unknownTlvs?: TlvRecord[] };
      w.bytes(d.ext.encode(m as never, ext.unknownTlvs));
    }
  }
  // BOLT #8 frames carry at most 65535 bytes of message.
  if (w.length > 0xffff) throw new InvalidArgumentError(`message too large: ${w.length} bytes`);
  return w.finish();
}

/**
 * Decodes one message. Throws only {@link DecodeError}: `DECODE_SHORT_READ` (no type or a
 * truncated known message), `WIRE_UNKNOWN_EVEN_MESSAGE` (BOLT #1: "upon receiving a message of
 * _even_, unknown type: MUST close the connection"), TLV extension errors, and field errors
 * (`WIRE_INVALID_POINT`, `WIRE_ZLIB_UNSUPPORTED`, `UTF8_INVALID`, ...). Unknown odd types
 * decode to {@link UnknownMessage}, which callers ignore.
 */
export function decodeMessage(b: Uint8Array): Message {
  const r = new Reader(b);
  const typeNum = r.u16();
  const entry = BY_NUM.get(typeNum);
  if (!entry) {
    if (typeNum % 2 === 0) {
      throw new DecodeError('WIRE_UNKNOWN_EVEN_MESSAGE', `unknown even message type ${typeNum}`);
    }
    return { type: 'unknown', typeNum, payload: r.rest().slice() };
  }
  const [name, d] = entry;
  const out: Record<string, unknown> = { type: name, ...d.body.read(r) };
  if (d.ext) {
    const { values, unknown } = d.ext.decode(r.rest());
    Object.assign(out, values);
    if (unknown.length > 0) out.unknownTlvs = unknown;
  }
  return out as Message;
}

/** The 2-byte type of an encoded message (DecodeError `DECODE_SHORT_READ` if shorter). */
export function peekMessageType(b: Uint8Array): number {
  return new Reader(b).u16();
}
