/**
 * The peer manager: every Lightning connection of a node (BOLT 8 transport, BOLT 1 `init`,
 * `ping`/`pong`, `warning`/`error`), message routing to the channel, gossip, onion and custom
 * handlers, outbound queues with back-pressure, and persistent reconnection with backoff.
 *
 * Shape inspired by LDK's `PeerManager`; the network comes through the transport port
 * (src/node/ports/transport.ts) and time through the clock port.
 *
 * Rules implemented (see also ./connection.ts):
 * - BOLT 8 handshake with a timeout covering the handshake and the `init` exchange; a wrong
 *   remote node id fails the handshake (the responder cannot decrypt act one and hangs up).
 * - BOLT 1 `init` is sent first; any other message before the peer's `init` closes the
 *   connection; feature and `networks` checks per ./init.ts (rejection: `warning`, close).
 * - Unknown odd messages are ignored; unknown even ones, malformed messages and a mismatched
 *   `pong` get a `warning` and a disconnect. Nothing a peer sends can throw out of the manager.
 * - Outbound: messages are encrypted when written; while the socket reports back-pressure they
 *   wait in memory. Above `gossipDropBytes` gossip/onion messages are dropped; channel and
 *   custom messages are never dropped, but a queue above `maxQueueBytes` closes the connection.
 * - Inbound: per-peer strictly in-order dispatch; promise-returning handlers are awaited before
 *   the next message of that peer; reading pauses while too many messages wait.
 * - Duplicate connections to one node: the newest wins (the peer evidently considers the old
 *   one dead), except while the existing connection is still setting up and the two go in
 *   opposite directions (simultaneous connect): then both sides keep the connection initiated by
 *   the node with the greater node id, so they agree without coordination.
 */

import { secp } from '../../protocol/crypto/secp256k1.js';
import { fromHex, toHex } from '../../protocol/encoding/bytes.js';
import { InvalidArgumentError } from '../../protocol/errors.js';
import { MESSAGE_TYPES, type Message } from '../../protocol/wire/index.js';
import { type Clock, systemClock, type TimerHandle } from '../ports/clock.js';
import type { Listener, NetAddress, Socket, Transport } from '../ports/transport.js';
import { type BackoffOptions, backoffDelay, DEFAULT_BACKOFF } from './backoff.js';
import { Connection, type ConnectionConfig, type ConnectionHost } from './connection.js';
import { CHAIN_HASHES, defaultInitFeatures } from './init.js';
import {
  CHANNEL_MESSAGE_NAMES,
  type ChannelMessage,
  type ChannelMessageHandler,
  type CustomMessageHandler,
  type DisconnectReason,
  GOSSIP_MESSAGE_NAMES,
  type GossipMessage,
  type GossipMessageHandler,
  type OnionMessageHandler,
  PeerError,
  type PeerId,
  type PeerInfo,
  type PeerLogger,
  silentLogger,
} from './types.js';

/** Construction options of {@link PeerManager}. */
export interface PeerManagerOptions {
  /** Our node's static private key (32 bytes); our node id is its public key. */
  nodeSecretKey: Uint8Array;
  /** How sockets are opened and accepted. */
  transport: Transport;
  /** Our chain (BOLT 0 `chain_hash`, internal byte order). Default: regtest. */
  chainHash?: Uint8Array;
  /** Our `init` feature bits. Default: {@link defaultInitFeatures}. */
  features?: Iterable<number>;
  /** Time and timers. Default: {@link systemClock}. */
  clock?: Clock;
  /** Random bytes (ephemeral keys, ping sizes, jitter). Default: `crypto.getRandomValues`. */
  random?: (n: number) => Uint8Array;
  logger?: PeerLogger;
  /** Channel messages (BOLT 2, `error`, `warning`). Default: ignore. */
  channelHandler?: ChannelMessageHandler;
  /** BOLT 7 gossip. Default: ignore. */
  gossipHandler?: GossipMessageHandler;
  /** BOLT 4 onion messages. Default: ignore. */
  onionMessageHandler?: OnionMessageHandler;
  /** Interval between our pings (default 30000 ms). */
  pingIntervalMs?: number;
  /** Disconnect when a ping is unanswered this long (default 30000 ms). */
  pongTimeoutMs?: number;
  /** Limit for the BOLT 8 handshake plus the `init` exchange (default 10000 ms). */
  handshakeTimeoutMs?: number;
  /** TCP connect timeout (default 10000 ms). */
  connectTimeoutMs?: number;
  /** Queue size (plaintext bytes) above which gossip/onion messages are dropped (default 128 KiB). */
  gossipDropBytes?: number;
  /** Queue size above which the connection is closed (default 64 MiB). */
  maxQueueBytes?: number;
  /** Messages waiting for dispatch above which reading from the peer pauses (default 1024). */
  inboxHighWater?: number;
  /** Reconnection backoff of persistent peers (default 1 s doubling to 60 s). */
  reconnect?: Partial<BackoffOptions>;
}

/** Listener of `peerConnected`; a returned promise delays dispatch of that peer's messages. */
export type PeerConnectedListener = (peer: PeerId, info: PeerInfo) => void | Promise<void>;
/** Listener of `peerDisconnected`. */
export type PeerDisconnectedListener = (peer: PeerId, reason: DisconnectReason) => void;

interface Persistent {
  host: string;
  port: number;
  failures: number;
  attempts: number;
  timer: TimerHandle | undefined;
}

const CHANNEL_NAMES = new Set<string>(CHANNEL_MESSAGE_NAMES);
const GOSSIP_NAMES = new Set<string>(GOSSIP_MESSAGE_NAMES);
const CUSTOM_MIN_TYPE = 32768;

function defaultRandom(n: number): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}

function parseNodeId(nodeId: PeerId): Uint8Array {
  let key: Uint8Array | undefined;
  try {
    key = /^[0-9a-fA-F]{66}$/.test(nodeId) ? fromHex(nodeId) : undefined;
  } catch {
    key = undefined;
  }
  if (!key || (key[0] !== 2 && key[0] !== 3) || !secp().isPoint(key)) {
    throw new PeerError('PEER_INVALID_NODE_ID', 'node id must be a 33-byte compressed public key in hex', {
      details: nodeId,
    });
  }
  return key;
}

function reasonToError(reason: DisconnectReason): PeerError {
  const code =
    reason.code === 'handshake_failed'
      ? 'PEER_HANDSHAKE_FAILED'
      : reason.code === 'handshake_timeout'
        ? 'PEER_HANDSHAKE_TIMEOUT'
        : reason.code === 'init_rejected'
          ? 'PEER_INIT_REJECTED'
          : reason.code === 'stopped'
            ? 'PEER_STOPPED'
            : 'PEER_DISCONNECTED';
  return new PeerError(code, `connection failed (${reason.code})`, { details: reason.message });
}

/**
 * Manages every peer connection of one node. See the module documentation for the rules.
 *
 * Typical use: construct with the node key, transport and handlers; `listen()`; `connect()` or
 * `connectPersistent()`; `sendMessage()`; subscribe to `onPeerConnected` (send
 * `channel_reestablish` there) and `onPeerDisconnected`; `stop()` on shutdown.
 */
export class PeerManager {
  /** Our node id (hex of the compressed public key). */
  readonly nodeId: PeerId;
  /** Our `init` feature bits. */
  readonly features: ReadonlySet<number>;
  /** Our chain hash. */
  readonly chainHash: Uint8Array;

  private readonly secretKey: Uint8Array;
  private readonly transport: Transport;
  private readonly clock: Clock;
  private readonly randomFn: (n: number) => Uint8Array;
  private readonly log: PeerLogger;
  private readonly channelHandler: ChannelMessageHandler | undefined;
  private readonly gossipHandler: GossipMessageHandler | undefined;
  private readonly onionHandler: OnionMessageHandler | undefined;
  private readonly config: ConnectionConfig;
  private readonly connectTimeoutMs: number;
  private readonly backoff: BackoffOptions;

  private readonly conns = new Set<Connection>();
  private readonly byId = new Map<PeerId, Connection>();
  private readonly dialing = new Map<PeerId, Promise<PeerInfo>>();
  private readonly dialTokens = new Map<PeerId, object>();
  private readonly persistent = new Map<PeerId, Persistent>();
  private readonly listeners: Listener[] = [];
  private readonly customHandlers = new Map<number, CustomMessageHandler>();
  private readonly connectedListeners = new Set<PeerConnectedListener>();
  private readonly disconnectedListeners = new Set<PeerDisconnectedListener>();
  private readonly host: ConnectionHost;
  private stopped = false;

  constructor(opts: PeerManagerOptions) {
    if (!(opts.nodeSecretKey instanceof Uint8Array) || !secp().isPrivateKey(opts.nodeSecretKey)) {
      throw new InvalidArgumentError('nodeSecretKey must be a valid 32-byte private key');
    }
    this.secretKey = opts.nodeSecretKey.slice();
    this.nodeId = toHex(secp().publicKey(this.secretKey));
    this.transport = opts.transport;
    this.clock = opts.clock ?? systemClock;
    this.randomFn = opts.random ?? defaultRandom;
    this.log = opts.logger ?? silentLogger;
    this.channelHandler = opts.channelHandler;
    this.gossipHandler = opts.gossipHandler;
    this.onionHandler = opts.onionMessageHandler;
    this.chainHash = (opts.chainHash ?? CHAIN_HASHES.regtest).slice();
    if (this.chainHash.length !== 32) throw new InvalidArgumentError('chainHash must be 32 bytes');
    this.features = new Set(opts.features ?? defaultInitFeatures());
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 10_000;
    this.backoff = { ...DEFAULT_BACKOFF, ...opts.reconnect };
    this.config = {
      chainHash: this.chainHash,
      features: this.features,
      pingIntervalMs: opts.pingIntervalMs ?? 30_000,
      pongTimeoutMs: opts.pongTimeoutMs ?? 30_000,
      handshakeTimeoutMs: opts.handshakeTimeoutMs ?? 10_000,
      maxQueueBytes: opts.maxQueueBytes ?? 64 * 1024 * 1024,
      gossipDropBytes: opts.gossipDropBytes ?? 128 * 1024,
      inboxHighWater: opts.inboxHighWater ?? 1024,
    };
    this.host = this.makeHost();
  }

  // ------------------------------------------------------------------------------------------
  // Public API

  /** Accepts connections on `host:port` (0 = random port); resolves with the bound address. */
  async listen(host: string, port: number): Promise<NetAddress> {
    if (this.stopped) throw new PeerError('PEER_STOPPED', 'peer manager is stopped');
    const l = await this.transport.listen(host, port, (s) => this.accept(s));
    if (this.stopped) {
      await l.close();
      throw new PeerError('PEER_STOPPED', 'peer manager is stopped');
    }
    this.listeners.push(l);
    return l.address;
  }

  /**
   * Connects to `nodeId` at `host:port` and resolves once `init` has been exchanged. Resolves at
   * once if already connected, and joins a connection already being set up. Rejects with
   * {@link PeerError}.
   */
  connect(nodeId: PeerId, host: string, port: number): Promise<PeerInfo> {
    if (this.stopped) return Promise.reject(new PeerError('PEER_STOPPED', 'peer manager is stopped'));
    let key: Uint8Array;
    try {
      key = parseNodeId(nodeId);
    } catch (e) {
      return Promise.reject(e);
    }
    const id = toHex(key);
    if (id === this.nodeId) {
      return Promise.reject(new PeerError('PEER_INVALID_NODE_ID', 'cannot connect to ourselves'));
    }
    const existing = this.byId.get(id);
    if (existing) return this.waitActive(existing, id);
    const pending = this.dialing.get(id);
    if (pending) return pending;
    const p = this.dial(id, key, host, port);
    this.dialing.set(id, p);
    const clear = () => {
      if (this.dialing.get(id) === p) this.dialing.delete(id);
    };
    p.then(clear, clear);
    return p;
  }

  /**
   * Keeps a connection to `nodeId` at `host:port`: connects now if needed and after every
   * disconnect or failed attempt retries with exponential backoff (with jitter) until
   * {@link disconnect} or {@link stop}. Calling it again updates the address.
   */
  connectPersistent(nodeId: PeerId, host: string, port: number): void {
    const id = toHex(parseNodeId(nodeId));
    if (this.stopped) throw new PeerError('PEER_STOPPED', 'peer manager is stopped');
    const p = this.persistent.get(id);
    if (p) {
      p.host = host;
      p.port = port;
    } else {
      this.persistent.set(id, { host, port, failures: 0, attempts: 0, timer: undefined });
    }
    if (!this.byId.has(id) && !this.dialing.has(id)) this.persistentDial(id);
  }

  /**
   * Disconnects `nodeId` (flushing queued messages) and stops reconnecting to it. Returns false
   * if there was nothing to disconnect or forget.
   */
  disconnect(nodeId: PeerId): boolean {
    const id = nodeId.toLowerCase();
    const p = this.persistent.get(id);
    if (p) {
      p.timer?.cancel();
      this.persistent.delete(id);
    }
    const hadDial = this.dialTokens.delete(id);
    const c = this.byId.get(id);
    c?.close('local', 'disconnect requested', { flush: true });
    return p !== undefined || hadDial || c !== undefined;
  }

  /**
   * Queues `msg` for `nodeId` (encrypted and written in order). Returns false if the peer is not
   * connected (past `init`), if a gossip/onion message was dropped under back-pressure, or if
   * the queue overflowed (the peer is then disconnected). Throws InvalidArgumentError for a
   * message that cannot be encoded.
   */
  sendMessage(nodeId: PeerId, msg: Message): boolean {
    const c = this.byId.get(nodeId.toLowerCase());
    if (c?.state !== 'active') return false;
    return c.send(msg);
  }

  /**
   * Routes messages of `type` (a custom type, >= 32768, e.g. 37913 for LSPS0) to `handler`.
   * Even custom types become acceptable from peers once registered.
   */
  registerCustomHandler(type: number, handler: CustomMessageHandler): void {
    if (!Number.isInteger(type) || type < CUSTOM_MIN_TYPE || type > 0xffff) {
      throw new InvalidArgumentError(`custom message type must be in [32768, 65535], got ${type}`);
    }
    if (this.customHandlers.has(type)) {
      throw new InvalidArgumentError(`a handler for message type ${type} is already registered`);
    }
    this.customHandlers.set(type, handler);
  }

  /** Removes the handler of `type` (returns false if none). */
  unregisterCustomHandler(type: number): boolean {
    return this.customHandlers.delete(type);
  }

  /** Subscribes to peer connections (after `init`); returns an unsubscribe function. */
  onPeerConnected(listener: PeerConnectedListener): () => void {
    this.connectedListeners.add(listener);
    return () => this.connectedListeners.delete(listener);
  }

  /** Subscribes to disconnections of connected peers; returns an unsubscribe function. */
  onPeerDisconnected(listener: PeerDisconnectedListener): () => void {
    this.disconnectedListeners.add(listener);
    return () => this.disconnectedListeners.delete(listener);
  }

  /** Connected peers (past `init`). */
  peers(): PeerInfo[] {
    const out: PeerInfo[] = [];
    for (const c of this.byId.values()) if (c.state === 'active') out.push(c.info());
    return out;
  }

  /** One connected peer, or undefined. */
  peer(nodeId: PeerId): PeerInfo | undefined {
    const c = this.byId.get(nodeId.toLowerCase());
    return c?.state === 'active' ? c.info() : undefined;
  }

  /** True if `nodeId` is connected (past `init`). */
  isConnected(nodeId: PeerId): boolean {
    return this.byId.get(nodeId.toLowerCase())?.state === 'active';
  }

  /** Stops reading from `nodeId` (its messages back up through TCP) until {@link resumeReading}. */
  pauseReading(nodeId: PeerId): boolean {
    const c = this.byId.get(nodeId.toLowerCase());
    c?.setUserPaused(true);
    return c !== undefined;
  }

  /** Resumes reading from `nodeId`. */
  resumeReading(nodeId: PeerId): boolean {
    const c = this.byId.get(nodeId.toLowerCase());
    c?.setUserPaused(false);
    return c !== undefined;
  }

  /** Sends a ping to `nodeId` now (if none is outstanding). */
  ping(nodeId: PeerId): boolean {
    const c = this.byId.get(nodeId.toLowerCase());
    if (c?.state !== 'active') return false;
    c.sendPing();
    return true;
  }

  /** Number of dial attempts made so far for a persistent peer (diagnostics, tests). */
  reconnectAttempts(nodeId: PeerId): number {
    return this.persistent.get(nodeId.toLowerCase())?.attempts ?? 0;
  }

  /** Closes listeners and every connection, and cancels reconnection. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const p of this.persistent.values()) p.timer?.cancel();
    this.persistent.clear();
    this.dialTokens.clear();
    const ls = this.listeners.splice(0);
    for (const c of [...this.conns]) c.close('stopped', 'peer manager stopped');
    await Promise.all(ls.map((l) => l.close()));
  }

  // ------------------------------------------------------------------------------------------
  // Internals

  private makeHost(): ConnectionHost {
    // biome-ignore lint/complexity/noUselessThisAlias: the host object closes over the manager
    const self = this;
    return {
      secretKey: this.secretKey,
      config: this.config,
      clock: this.clock,
      log: this.log,
      ephemeralKey: () => self.ephemeralKey(),
      random: (n) => self.randomFn(n),
      hasCustomHandler: (t) => self.customHandlers.has(t),
      handshakeComplete: (c) => self.handshakeComplete(c),
      activated: (c) => self.activated(c),
      dispatch: (c, m) => self.dispatch(c, m),
      closed: (c, r, a) => self.closed(c, r, a),
    };
  }

  private ephemeralKey(): Uint8Array {
    for (;;) {
      const k = this.randomFn(32);
      if (k.length === 32 && secp().isPrivateKey(k)) return k;
    }
  }

  private rand01(): number {
    const b = this.randomFn(4);
    return (((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0) / 2 ** 32;
  }

  private accept(socket: Socket): void {
    if (this.stopped) {
      socket.close();
      return;
    }
    const c = new Connection(this.host, socket, undefined);
    this.conns.add(c);
    c.start();
  }

  private async dial(id: PeerId, key: Uint8Array, host: string, port: number): Promise<PeerInfo> {
    const token = {};
    this.dialTokens.set(id, token);
    let socket: Socket;
    try {
      socket = await this.transport.connect(host, port, { timeoutMs: this.connectTimeoutMs });
    } catch (e) {
      if (this.dialTokens.get(id) === token) this.dialTokens.delete(id);
      throw new PeerError('PEER_CONNECT_FAILED', `cannot connect to ${host}:${port}`, {
        details: e instanceof Error ? e.message : String(e),
        cause: e,
      });
    }
    if (this.stopped || this.dialTokens.get(id) !== token) {
      socket.close();
      throw new PeerError(
        this.stopped ? 'PEER_STOPPED' : 'PEER_DISCONNECTED',
        'connection attempt cancelled',
      );
    }
    this.dialTokens.delete(id);
    const existing = this.byId.get(id);
    if (existing) {
      // A connection appeared (e.g. the peer dialled us) while we were connecting: use it.
      socket.close();
      return this.waitActive(existing, id);
    }
    const c = new Connection(this.host, socket, key);
    this.conns.add(c);
    this.byId.set(id, c);
    c.start();
    return this.waitActive(c, id);
  }

  /** Resolves when `c` (or the connection that replaced it) completes `init`. */
  private waitActive(c: Connection, id: PeerId): Promise<PeerInfo> {
    return new Promise((resolve, reject) => {
      const onSettled = (conn: Connection) => (reason: DisconnectReason | undefined) => {
        if (!reason) {
          resolve(conn.info());
          return;
        }
        const next = this.byId.get(id);
        if (reason.code === 'replaced' && next && next !== conn && next.state !== 'closed') {
          next.whenSettled(onSettled(next));
          return;
        }
        reject(reasonToError(reason));
      };
      c.whenSettled(onSettled(c));
    });
  }

  private persistentDial(id: PeerId): void {
    const p = this.persistent.get(id);
    if (!p || this.stopped) return;
    if (this.byId.has(id)) return;
    p.attempts++;
    this.connect(id, p.host, p.port).then(
      () => {
        if (this.persistent.get(id) === p) p.failures = 0;
      },
      (e: unknown) => {
        if (this.persistent.get(id) !== p || this.stopped) return;
        p.failures++;
        this.log.info('persistent peer connection failed', {
          peer: id,
          failures: p.failures,
          error: e instanceof Error ? e.message : String(e),
        });
        this.scheduleReconnect(id);
      },
    );
  }

  private scheduleReconnect(id: PeerId): void {
    const p = this.persistent.get(id);
    if (!p || p.timer || this.stopped) return;
    const delay = backoffDelay(p.failures, this.backoff, this.rand01());
    this.log.debug('scheduling reconnection', { peer: id, delayMs: delay });
    p.timer = this.clock.setTimeout(() => {
      p.timer = undefined;
      if (this.persistent.get(id) !== p || this.dialing.has(id)) return;
      this.persistentDial(id);
    }, delay);
  }

  private handshakeComplete(c: Connection): boolean {
    const id = c.remoteId!;
    if (id === this.nodeId) {
      c.close('handshake_failed', 'connection from ourselves');
      return false;
    }
    const existing = this.byId.get(id);
    if (!existing || existing === c) {
      this.byId.set(id, c);
      return true;
    }
    let keepNew = true;
    if (existing.state !== 'active' && existing.inbound !== c.inbound) {
      // Simultaneous connect: keep the connection initiated by the greater node id.
      const weInitiateWinner = this.nodeId > id;
      const newIsOurs = !c.inbound;
      keepNew = weInitiateWinner === newIsOurs;
    }
    if (keepNew) {
      this.byId.set(id, c);
      existing.close('replaced', 'replaced by a newer connection to the same node');
      return true;
    }
    return false;
  }

  private activated(c: Connection): void | Promise<void> {
    const id = c.remoteId!;
    const p = this.persistent.get(id);
    if (p) {
      p.failures = 0;
      p.timer?.cancel();
      p.timer = undefined;
    }
    this.log.info('peer connected', { peer: id, inbound: c.inbound });
    const info = c.info();
    const pending: Promise<void>[] = [];
    for (const l of this.connectedListeners) {
      try {
        const r = l(id, info);
        if (r && typeof (r as Promise<void>).then === 'function') pending.push(r as Promise<void>);
      } catch (e) {
        this.log.error('peerConnected listener failed', { peer: id, error: String(e) });
      }
    }
    if (pending.length === 0) return;
    return Promise.all(pending).then(
      () => undefined,
      (e: unknown) => {
        this.log.error('peerConnected listener failed', { peer: id, error: String(e) });
      },
    );
  }

  private dispatch(c: Connection, msg: Message): void | Promise<void> {
    const id = c.remoteId!;
    const typeNum = msg.type === 'unknown' ? msg.typeNum : MESSAGE_TYPES[msg.type];
    if (typeNum >= CUSTOM_MIN_TYPE) {
      return this.customHandlers.get(typeNum)?.(id, msg);
    }
    if (CHANNEL_NAMES.has(msg.type)) {
      return this.channelHandler?.handleChannelMessage(id, msg as ChannelMessage);
    }
    if (GOSSIP_NAMES.has(msg.type)) {
      return this.gossipHandler?.handleGossipMessage(id, msg as GossipMessage);
    }
    if (msg.type === 'onion_message') {
      return this.onionHandler?.handleOnionMessage(id, msg);
    }
    this.log.debug('no handler for message', { peer: id, type: msg.type });
  }

  private closed(c: Connection, reason: DisconnectReason, wasActive: boolean): void {
    this.conns.delete(c);
    const id = c.remoteId;
    if (id === undefined) return;
    if (this.byId.get(id) === c) this.byId.delete(id);
    if (wasActive) {
      this.log.info('peer disconnected', { peer: id, code: reason.code, message: reason.message });
      for (const l of this.disconnectedListeners) {
        try {
          l(id, reason);
        } catch (e) {
          this.log.error('peerDisconnected listener failed', { peer: id, error: String(e) });
        }
      }
      if (!this.stopped && reason.code !== 'local' && !this.byId.has(id) && this.persistent.has(id)) {
        this.scheduleReconnect(id);
      }
    }
  }
}
