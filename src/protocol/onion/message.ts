/**
 * BOLT #4 onion messages (04-onion-routing.md, "Onion Messages", "The `onion_message` Message"):
 * the `onion_message` wire message (type 513), the `onionmsg_tlv` payload and sending /
 * receiving through a blinded path. BOLT 12 payloads (`invoice_request`, `invoice`,
 * `invoice_error`) are carried as raw bytes here.
 */
import { Reader } from '../encoding/reader.js';
import { decodeTlvStream, encodeTlvStream, type TlvRecord } from '../encoding/tlv.js';
import { Writer } from '../encoding/writer.js';
import { DecodeError, InvalidArgumentError } from '../errors.js';
import {
  type BlindedPath,
  type EncryptedData,
  encodeBlindedPath,
  readBlindedPath,
  unblindHop,
} from './blinding.js';
import { type CreatedOnion, createOnionPacket, PAYMENT_HOP_PAYLOADS_LENGTH, peelSphinx } from './sphinx.js';

/** Wire type of `onion_message`. */
export const ONION_MESSAGE_TYPE = 513;

/** An `onion_message`. */
export interface OnionMessage {
  /** 33-byte `path_key` for the receiving node. */
  pathKey: Uint8Array;
  /** Serialized `onion_message_packet`. */
  packet: Uint8Array;
}

/** Encodes the `onion_message` body (after the 2-byte type). */
export function encodeOnionMessageBody(m: OnionMessage): Uint8Array {
  if (m.pathKey.length !== 33) throw new InvalidArgumentError('path_key must be 33 bytes');
  if (m.packet.length > 0xffff) throw new InvalidArgumentError('onion message packet too long');
  return new Writer(37 + m.packet.length).bytes(m.pathKey).u16(m.packet.length).bytes(m.packet).finish();
}

/** Decodes the `onion_message` body (after the type). DecodeError on truncation or trailing bytes. */
export function decodeOnionMessageBody(bytes: Uint8Array): OnionMessage {
  const r = new Reader(bytes);
  const pathKey = r.bytes(33).slice();
  const packet = r.bytes(r.u16()).slice();
  if (!r.done) throw new DecodeError('ONION_MESSAGE_TRAILING', 'trailing bytes after onion_message');
  return { pathKey, packet };
}

/** Encodes a full `onion_message` including its 2-byte type 513. */
export function encodeOnionMessage(m: OnionMessage): Uint8Array {
  const body = encodeOnionMessageBody(m);
  return new Writer(2 + body.length).u16(ONION_MESSAGE_TYPE).bytes(body).finish();
}

/** Decodes a full `onion_message` (type 513 first; `ONION_MESSAGE_WRONG_TYPE` otherwise). */
export function decodeOnionMessage(bytes: Uint8Array): OnionMessage {
  const r = new Reader(bytes);
  const type = r.u16();
  if (type !== ONION_MESSAGE_TYPE)
    throw new DecodeError('ONION_MESSAGE_WRONG_TYPE', `expected type 513, got ${type}`);
  return decodeOnionMessageBody(r.rest());
}

/** TLV types of `onionmsg_tlv`. */
export const OnionMessageType = {
  replyPath: 2n,
  encryptedRecipientData: 4n,
  invoiceRequest: 64n,
  invoice: 66n,
  invoiceError: 68n,
} as const;

/** A decoded `onionmsg_tlv`. */
export interface OnionMessagePayload {
  replyPath?: BlindedPath;
  encryptedRecipientData?: Uint8Array;
  /** Raw `tlv_invoice_request` (BOLT 12). */
  invoiceRequest?: Uint8Array;
  /** Raw `tlv_invoice` (BOLT 12). */
  invoice?: Uint8Array;
  /** Raw `tlv_invoice_error` (BOLT 12). */
  invoiceError?: Uint8Array;
  /** Unknown odd records, in type order. */
  extra?: TlvRecord[];
}

const KNOWN = new Set<bigint>(Object.values(OnionMessageType));

/** Encodes an `onionmsg_tlv`. */
export function encodeOnionMessagePayload(p: OnionMessagePayload): Uint8Array {
  const T = OnionMessageType;
  const recs: TlvRecord[] = [];
  if (p.replyPath !== undefined) recs.push({ type: T.replyPath, value: encodeBlindedPath(p.replyPath) });
  if (p.encryptedRecipientData !== undefined)
    recs.push({ type: T.encryptedRecipientData, value: p.encryptedRecipientData });
  if (p.invoiceRequest !== undefined) recs.push({ type: T.invoiceRequest, value: p.invoiceRequest });
  if (p.invoice !== undefined) recs.push({ type: T.invoice, value: p.invoice });
  if (p.invoiceError !== undefined) recs.push({ type: T.invoiceError, value: p.invoiceError });
  for (const r of p.extra ?? []) {
    if (KNOWN.has(r.type)) throw new InvalidArgumentError(`extra record uses known type ${r.type}`);
    recs.push(r);
  }
  return encodeTlvStream(recs);
}

/** Decodes an `onionmsg_tlv`; unknown even types fail with `TLV_UNKNOWN_EVEN`. */
export function decodeOnionMessagePayload(bytes: Uint8Array): OnionMessagePayload {
  const T = OnionMessageType;
  const p: OnionMessagePayload = {};
  const extra: TlvRecord[] = [];
  for (const { type, value } of decodeTlvStream(bytes, (t) => KNOWN.has(t))) {
    const v = value.slice();
    switch (type) {
      case T.replyPath: {
        const r = new Reader(v);
        p.replyPath = readBlindedPath(r);
        if (!r.done) throw new DecodeError('BLINDED_PATH_TRAILING', 'trailing bytes after reply_path');
        break;
      }
      case T.encryptedRecipientData:
        p.encryptedRecipientData = v;
        break;
      case T.invoiceRequest:
        p.invoiceRequest = v;
        break;
      case T.invoice:
        p.invoice = v;
        break;
      case T.invoiceError:
        p.invoiceError = v;
        break;
      default:
        extra.push({ type, value: v });
    }
  }
  if (extra.length > 0) p.extra = extra;
  return p;
}

/** Parameters of {@link createOnionMessage}. */
export interface CreateOnionMessageParams {
  /** Fresh 32-byte session key for the Sphinx packet. */
  sessionKey: Uint8Array;
  /**
   * The blinded path to the destination, starting at the node the message is sent to. Its
   * `firstNodeId` must be a node id (resolve a `sciddir` first). To reach the path through
   * hops of your own, prepend a blinded path of your own whose last hop carries
   * `next_path_key_override` = this path's `first_path_key`.
   */
  path: BlindedPath;
  /** Fields for the final hop besides `encrypted_recipient_data` (reply path, BOLT 12 payload...). */
  finalPayload?: Omit<OnionMessagePayload, 'encryptedRecipientData'>;
  /** `onionmsg_payloads` length; default 1300 (the spec suggests a 1366 or 32834-byte packet). */
  packetLength?: number;
}

/** Result of {@link createOnionMessage}. */
export interface CreatedOnionMessage {
  /** Node to send the message to. */
  firstNodeId: Uint8Array;
  message: OnionMessage;
  onion: CreatedOnion;
}

/**
 * Builds an onion message along a blinded path: each hop gets an `onionmsg_tlv` with its
 * `encrypted_recipient_data` (the last also `finalPayload`), encrypted to its blinded node
 * id, with empty associated data (BOLT #4: "MUST NOT use any `associated_data`").
 */
export function createOnionMessage(params: CreateOnionMessageParams): CreatedOnionMessage {
  const { path } = params;
  if (!('nodeId' in path.firstNodeId))
    throw new InvalidArgumentError('resolve the sciddir introduction node to a node id first');
  const n = path.hops.length;
  const hops = path.hops.map((h, i) => ({
    pubkey: h.blindedNodeId,
    payload: encodeOnionMessagePayload({
      ...(i === n - 1 ? (params.finalPayload ?? {}) : {}),
      encryptedRecipientData: h.encryptedRecipientData,
    }),
  }));
  const onion = createOnionPacket({
    sessionKey: params.sessionKey,
    hops,
    associatedData: new Uint8Array(0),
    packetLength: params.packetLength ?? PAYMENT_HOP_PAYLOADS_LENGTH,
  });
  return {
    firstNodeId: path.firstNodeId.nodeId,
    message: { pathKey: path.firstPathKey, packet: onion.packet },
    onion,
  };
}

/** Result of {@link peelOnionMessage}. */
export type PeeledOnionMessage = {
  /** Decoded `onionmsg_tlv` for this node. */
  payload: OnionMessagePayload;
  /** Decrypted `encrypted_data_tlv`. */
  encryptedData: EncryptedData;
} & (
  | {
      final: false;
      /** Where to forward: `next_node_id`, else a `short_channel_id` to resolve. */
      next: { nodeId: Uint8Array } | { shortChannelId: bigint };
      /** The `onion_message` to forward. */
      message: OnionMessage;
    }
  | { final: true }
);

/**
 * Processes a received `onion_message` (BOLT #4 reader requirements): tweaks the node key with
 * `path_key`, peels the packet with empty associated data, decrypts `encrypted_recipient_data`
 * and returns either the message to forward (with the next `path_key`) or the final payload.
 *
 * Throws DecodeError (including {@link OnionPeelError} subclasses) when the message must be
 * ignored: bad packet, missing or undecryptable `encrypted_recipient_data`, non-final hop with
 * other fields or a `path_id`, or no next hop.
 */
export function peelOnionMessage(msg: OnionMessage, nodePrivKey: Uint8Array): PeeledOnionMessage {
  const peeled = peelSphinx(msg.packet, nodePrivKey, new Uint8Array(0), { blindingPoint: msg.pathKey });
  const payload = decodeOnionMessagePayload(peeled.payload);
  const erd = payload.encryptedRecipientData;
  if (erd === undefined)
    throw new DecodeError('ONION_MESSAGE_NO_ENCDATA', 'onion message hop without encrypted_recipient_data');
  const u = unblindHop(nodePrivKey, msg.pathKey, erd, peeled.blindingSharedSecret);
  if (peeled.nextPacket === undefined) return { final: true, payload, encryptedData: u.data };

  const d = u.data;
  // BOLT #4: if it is not the final node: if the `onionmsg_tlv` contains other tlv fields
  // than `encrypted_recipient_data`: MUST ignore the message.
  const others = Object.keys(payload).filter((k) => k !== 'encryptedRecipientData');
  if (others.length > 0)
    throw new DecodeError('ONION_MESSAGE_EXTRA_FIELDS', 'non-final onion message hop has extra fields');
  if (d.pathId !== undefined)
    throw new DecodeError('ONION_MESSAGE_PATH_ID', 'non-final onion message hop has a path_id');
  let next: { nodeId: Uint8Array } | { shortChannelId: bigint };
  if (d.nextNodeId !== undefined) next = { nodeId: d.nextNodeId };
  else if (d.shortChannelId !== undefined) next = { shortChannelId: d.shortChannelId };
  else throw new DecodeError('ONION_MESSAGE_NO_NEXT', 'onion message hop has no next hop');
  return {
    final: false,
    payload,
    encryptedData: d,
    next,
    message: { pathKey: u.nextPathKey, packet: peeled.nextPacket },
  };
}
