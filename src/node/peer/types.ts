/**
 * Public types of the peer layer (BOLT 1/8 connections): handler interfaces for channel, gossip,
 * onion and custom messages, peer information, disconnect reasons, errors, logging.
 */
import { FaradError } from '../../protocol/errors.js';
import type { Message, Messages } from '../../protocol/wire/index.js';
import type { NetAddress } from '../ports/transport.js';

/** A peer's node id: its 33-byte static public key as 66 lowercase hex characters. */
export type PeerId = string;

/**
 * Messages routed to the {@link ChannelMessageHandler}: BOLT 2 channel establishment, normal
 * operation, close, quiescence and reestablish (types 2, 32-255), plus `error` and `warning`
 * (BOLT 1) and `peer_storage`/`peer_storage_retrieval`.
 */
export const CHANNEL_MESSAGE_NAMES = [
  'warning',
  'error',
  'stfu',
  'peer_storage',
  'peer_storage_retrieval',
  'open_channel',
  'accept_channel',
  'funding_created',
  'funding_signed',
  'channel_ready',
  'shutdown',
  'closing_signed',
  'closing_complete',
  'closing_sig',
  'open_channel2',
  'accept_channel2',
  'tx_add_input',
  'tx_add_output',
  'tx_remove_input',
  'tx_remove_output',
  'tx_complete',
  'tx_signatures',
  'tx_init_rbf',
  'tx_ack_rbf',
  'tx_abort',
  'splice_locked',
  'splice_init',
  'splice_ack',
  'start_batch',
  'update_add_htlc',
  'update_fulfill_htlc',
  'update_fail_htlc',
  'commitment_signed',
  'revoke_and_ack',
  'update_fee',
  'update_fail_malformed_htlc',
  'channel_reestablish',
  'announcement_signatures',
] as const;

/** BOLT 7 gossip messages routed to the {@link GossipMessageHandler}. */
export const GOSSIP_MESSAGE_NAMES = [
  'channel_announcement',
  'node_announcement',
  'channel_update',
  'query_short_channel_ids',
  'reply_short_channel_ids_end',
  'query_channel_range',
  'reply_channel_range',
  'gossip_timestamp_filter',
] as const;

/** A message for the channel handler. */
export type ChannelMessage = Messages[(typeof CHANNEL_MESSAGE_NAMES)[number]];
/** A message for the gossip handler. */
export type GossipMessage = Messages[(typeof GOSSIP_MESSAGE_NAMES)[number]];

/**
 * Receives channel messages. Messages from one peer are delivered strictly in order; when the
 * handler returns a promise, the next message from that peer waits until it settles. A throw or
 * rejection disconnects the peer (`handler_failed`) after sending a `warning`.
 */
export interface ChannelMessageHandler {
  handleChannelMessage(peer: PeerId, msg: ChannelMessage): void | Promise<void>;
}

/** Receives BOLT 7 gossip messages (same ordering and failure rules as channel messages). */
export interface GossipMessageHandler {
  handleGossipMessage(peer: PeerId, msg: GossipMessage): void | Promise<void>;
}

/** Receives BOLT 4 `onion_message`s (same ordering and failure rules as channel messages). */
export interface OnionMessageHandler {
  handleOnionMessage(peer: PeerId, msg: Messages['onion_message']): void | Promise<void>;
}

/**
 * Receives one custom message type (>= 32768). Known types (e.g. LSPS0 37913) arrive decoded
 * (`{ type: 'lsps0_message', json }`), others as `{ type: 'unknown', typeNum, payload }`.
 */
export type CustomMessageHandler = (peer: PeerId, msg: Message) => void | Promise<void>;

/** Why a connection ended. */
export type DisconnectCode =
  /** `disconnect()` was called. */
  | 'local'
  /** The remote closed the socket (or it failed). */
  | 'remote_closed'
  /** `stop()` was called. */
  | 'stopped'
  /** A newer connection to the same node replaced this one. */
  | 'replaced'
  /** BOLT 8 handshake failure (bad act, wrong node id: the responder hangs up). */
  | 'handshake_failed'
  /** Handshake plus `init` exchange took longer than `handshakeTimeoutMs`. */
  | 'handshake_timeout'
  /** The remote `init` was unacceptable (features, networks). */
  | 'init_rejected'
  /** Malformed or unexpected message, unknown even type, decryption failure. */
  | 'protocol_violation'
  /** No `pong` within `pongTimeoutMs`. */
  | 'ping_timeout'
  /** The outbound queue passed `maxQueueBytes`. */
  | 'queue_overflow'
  /** A message handler threw. */
  | 'handler_failed';

/** A disconnect code with a human-readable message (includes the peer's last warning/error text). */
export interface DisconnectReason {
  code: DisconnectCode;
  message: string;
}

/** A snapshot of one connected peer. */
export interface PeerInfo {
  nodeId: PeerId;
  /** The peer's `init` feature bits (OR of `globalfeatures` and `features`). */
  features: ReadonlySet<number>;
  /** The peer's `networks` TLV, if sent. */
  networks: readonly Uint8Array[] | undefined;
  /** True if the peer connected to us. */
  inbound: boolean;
  /** Socket remote address. */
  address: NetAddress | undefined;
  /** Clock time when `init` completed. */
  connectedAt: number;
  /** Messages queued but not yet handed to the socket, and their bytes. */
  queuedMessages: number;
  queuedBytes: number;
  /** Gossip/onion messages dropped because the queue was above `gossipDropBytes`. */
  droppedMessages: number;
  messagesSent: number;
  messagesReceived: number;
  pingsSent: number;
  pongsReceived: number;
  /** Round-trip time of the last answered ping, in ms. */
  lastRttMs: number | undefined;
}

/** Minimal structured logger. */
export interface PeerLogger {
  debug(msg: string, ctx?: Record<string, unknown>): void;
  info(msg: string, ctx?: Record<string, unknown>): void;
  warn(msg: string, ctx?: Record<string, unknown>): void;
  error(msg: string, ctx?: Record<string, unknown>): void;
}

/** A logger that discards everything. */
export const silentLogger: PeerLogger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * Peer-layer failures (rejections of `connect`): `PEER_CONNECT_FAILED` (transport),
 * `PEER_HANDSHAKE_FAILED`, `PEER_HANDSHAKE_TIMEOUT`, `PEER_INIT_REJECTED`, `PEER_DISCONNECTED`,
 * `PEER_STOPPED`, `PEER_INVALID_NODE_ID`. `details` carries the {@link DisconnectReason} message.
 */
export class PeerError extends FaradError {
  override name = 'PeerError';
}
