/**
 * One BOLT 8 connection: the Noise_XK handshake over a transport {@link Socket}
 * (08-transport.md), the BOLT 1 `init` exchange, `ping`/`pong` liveness, the per-connection
 * outbound queue with back-pressure, and in-order inbound dispatch.
 *
 * Internal to the peer manager (src/node/peer/manager.ts), which owns identity, handlers and
 * events through the {@link ConnectionHost} interface. A connection never throws into the
 * socket's callbacks: every failure ends the connection with a {@link DisconnectReason}.
 */
import { toHex } from '../../protocol/encoding/bytes.js';
import { DecodeError } from '../../protocol/errors.js';
import { featureBitsFromBytes, featureBytesFromBits } from '../../protocol/features.js';
import {
  ACT_ONE_LEN,
  ACT_THREE_LEN,
  type InitiatorAct2State,
  initiatorAct2,
  initiatorStart,
  type NoiseTransport,
  type ResponderAct3State,
  responderAct1,
  responderAct3,
} from '../../protocol/noise/index.js';
import {
  decodeMessage,
  encodeMessage,
  type Init,
  type Message,
  messageName,
  peekMessageType,
} from '../../protocol/wire/index.js';
import type { Clock, TimerHandle } from '../ports/clock.js';
import type { Socket } from '../ports/transport.js';
import { checkRemoteInit } from './init.js';
import type { DisconnectCode, DisconnectReason, PeerId, PeerInfo, PeerLogger } from './types.js';

/** Resolved peer-manager settings a connection needs. */
export interface ConnectionConfig {
  chainHash: Uint8Array;
  features: ReadonlySet<number>;
  pingIntervalMs: number;
  pongTimeoutMs: number;
  handshakeTimeoutMs: number;
  maxQueueBytes: number;
  gossipDropBytes: number;
  inboxHighWater: number;
}

/** What a connection needs from its manager. */
export interface ConnectionHost {
  readonly secretKey: Uint8Array;
  readonly config: ConnectionConfig;
  readonly clock: Clock;
  readonly log: PeerLogger;
  /** A fresh valid secp256k1 private key (BOLT 8 ephemeral key). */
  ephemeralKey(): Uint8Array;
  /** Random bytes. */
  random(n: number): Uint8Array;
  /** True if a custom handler is registered for this message type. */
  hasCustomHandler(typeNum: number): boolean;
  /** The remote's identity is now authenticated. Return false to drop this connection. */
  handshakeComplete(conn: Connection): boolean;
  /** `init` was accepted; the peer is usable. A returned promise delays further dispatch. */
  activated(conn: Connection): void | Promise<void>;
  /** A post-init, non-control message. A returned promise delays further dispatch. */
  dispatch(conn: Connection, msg: Message): void | Promise<void>;
  /** The connection ended (called exactly once). */
  closed(conn: Connection, reason: DisconnectReason, wasActive: boolean): void;
}

/** Connection phase. */
export type ConnectionState = 'act1' | 'act2' | 'act3' | 'init' | 'active' | 'closed';

/** BOLT 7 gossip and BOLT 4 onion messages: the only ones dropped under back-pressure. */
const DROPPABLE_TYPES = new Set([256, 257, 258, 261, 262, 263, 264, 265, 513]);
/** Largest batch of encrypted frames handed to the socket in one write. */
const WRITE_BATCH_BYTES = 64 * 1024;
/** BOLT #1: a ping with `num_pong_bytes` >= 65532 MUST be ignored. */
const PONG_IGNORE_THRESHOLD = 65532;
const ZERO_CHANNEL_ID = new Uint8Array(32);
const EMPTY = new Uint8Array(0);

interface Queued {
  bytes: Uint8Array;
}

/** A single peer connection (see module doc). */
export class Connection {
  state: ConnectionState;
  readonly inbound: boolean;
  /** Remote static key; known from the start for outbound connections, after act 3 for inbound. */
  remoteKey: Uint8Array | undefined;
  remoteId: PeerId | undefined;
  /** The remote `init` once accepted. */
  remoteInit: Init | undefined;
  remoteFeatures: ReadonlySet<number> = new Set();
  connectedAt = 0;

  private hsBuf: Uint8Array = EMPTY;
  private initiatorState: InitiatorAct2State | undefined;
  private responderState: ResponderAct3State | undefined;
  private noise: NoiseTransport | undefined;

  private readonly urgent: Queued[] = [];
  private readonly queue: Queued[] = [];
  private queueHead = 0;
  private queuedBytesCount = 0;
  private writable = true;
  private flushScheduled = false;

  private readonly inbox: Uint8Array[] = [];
  private inboxHead = 0;
  private busy = false;
  private inboxPaused = false;
  private userPaused = false;

  private handshakeTimer: TimerHandle | undefined;
  private pingTimer: TimerHandle | undefined;
  private pongTimer: TimerHandle | undefined;
  private pingOutstanding: number | undefined;
  private pingSentAt = 0;
  private lastRemoteText: string | undefined;
  private settleCbs: Array<(reason: DisconnectReason | undefined) => void> = [];

  droppedMessages = 0;
  messagesSent = 0;
  messagesReceived = 0;
  pingsSent = 0;
  pongsReceived = 0;
  lastRttMs: number | undefined;

  constructor(
    private readonly host: ConnectionHost,
    readonly socket: Socket,
    remoteKey: Uint8Array | undefined,
  ) {
    this.inbound = remoteKey === undefined;
    this.state = this.inbound ? 'act1' : 'act2';
    if (remoteKey) {
      this.remoteKey = remoteKey;
      this.remoteId = toHex(remoteKey);
    }
  }

  /** Wires the socket, arms the handshake timer and (outbound) sends act one. */
  start(): void {
    this.socket.onData((b) => this.guard(() => this.onData(b)));
    this.socket.onDrain(() => this.guard(() => this.onDrain()));
    this.socket.onClose((e) => this.guard(() => this.onSocketClosed(e)));
    this.handshakeTimer = this.host.clock.setTimeout(
      () => this.guard(() => this.close('handshake_timeout', 'handshake and init not completed in time')),
      this.host.config.handshakeTimeoutMs,
    );
    if (!this.inbound) {
      this.guard(() => {
        const { state, act1 } = initiatorStart(
          this.host.secretKey,
          this.remoteKey!,
          this.host.ephemeralKey(),
        );
        this.initiatorState = state;
        this.socket.write(act1);
      });
    }
  }

  /** Why the connection closed (set once closed). */
  closeReason: DisconnectReason | undefined;

  /** Registers `cb` for the end of the setup phase: `undefined` when active, else the close reason. */
  whenSettled(cb: (reason: DisconnectReason | undefined) => void): void {
    if (this.state === 'active') cb(undefined);
    else if (this.state === 'closed') cb(this.closeReason ?? { code: 'local', message: 'closed' });
    else this.settleCbs.push(cb);
  }

  /** True once closed (a method, so TypeScript does not narrow across calls). */
  isClosed(): boolean {
    return this.state === 'closed';
  }

  /** Plaintext bytes queued but not yet handed to the socket. */
  get queuedBytes(): number {
    return this.queuedBytesCount;
  }

  /** Messages queued but not yet handed to the socket. */
  get queuedMessages(): number {
    return this.urgent.length + this.queue.length - this.queueHead;
  }

  /** A snapshot for the public API. */
  info(): PeerInfo {
    return {
      nodeId: this.remoteId!,
      features: this.remoteFeatures,
      networks: this.remoteInit?.networks,
      inbound: this.inbound,
      address: this.socket.remoteAddress,
      connectedAt: this.connectedAt,
      queuedMessages: this.queuedMessages,
      queuedBytes: this.queuedBytes,
      droppedMessages: this.droppedMessages,
      messagesSent: this.messagesSent,
      messagesReceived: this.messagesReceived,
      pingsSent: this.pingsSent,
      pongsReceived: this.pongsReceived,
      lastRttMs: this.lastRttMs,
    };
  }

  // ------------------------------------------------------------------------------------------
  // Sending

  /**
   * Queues an encoded message. Returns false if it was not queued: the connection is not usable,
   * a droppable (gossip/onion) message met a queue above `gossipDropBytes`, or the queue would
   * pass `maxQueueBytes` (the connection is then closed with `queue_overflow`).
   */
  sendEncoded(bytes: Uint8Array, urgent = false): boolean {
    if (this.state === 'closed' || !this.noise) return false;
    const cfg = this.host.config;
    if (this.queuedBytesCount > 0) {
      if (
        !urgent &&
        this.queuedBytesCount >= cfg.gossipDropBytes &&
        DROPPABLE_TYPES.has(peekMessageType(bytes))
      ) {
        this.droppedMessages++;
        return false;
      }
      // Also bounds pongs: a peer flooding pings while not reading cannot grow memory forever.
      if (this.queuedBytesCount + bytes.length > cfg.maxQueueBytes) {
        this.close('queue_overflow', `outbound queue above ${cfg.maxQueueBytes} bytes`);
        return false;
      }
    }
    (urgent ? this.urgent : this.queue).push({ bytes });
    this.queuedBytesCount += bytes.length;
    this.scheduleFlush();
    return true;
  }

  /** Encodes and queues a message (see {@link sendEncoded}). */
  send(msg: Message, urgent = false): boolean {
    return this.sendEncoded(encodeMessage(msg), urgent);
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || !this.writable) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      this.guard(() => this.flush());
    });
  }

  private nextQueued(): Queued | undefined {
    const u = this.urgent.shift();
    if (u) return u;
    if (this.queueHead >= this.queue.length) return undefined;
    const q = this.queue[this.queueHead]!;
    this.queue[this.queueHead] = undefined as unknown as Queued;
    this.queueHead++;
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
    return q;
  }

  /** Encrypts queued messages in order and writes them while the socket accepts data. */
  private flush(): void {
    const noise = this.noise;
    if (!noise || this.state === 'closed') return;
    while (this.writable) {
      const frames: Uint8Array[] = [];
      let size = 0;
      while (size < WRITE_BATCH_BYTES) {
        const q = this.nextQueued();
        if (!q) break;
        this.queuedBytesCount -= q.bytes.length;
        const f = noise.encrypt(q.bytes);
        frames.push(f);
        size += f.length;
        this.messagesSent++;
      }
      if (frames.length === 0) return;
      this.writable = this.socket.write(frames.length === 1 ? frames[0]! : concatFrames(frames, size));
    }
  }

  private onDrain(): void {
    this.writable = true;
    this.flush();
  }

  // ------------------------------------------------------------------------------------------
  // Receiving

  private onData(bytes: Uint8Array): void {
    if (this.state === 'closed') return;
    if (this.noise) {
      this.onEncrypted(bytes);
      return;
    }
    this.hsBuf = this.hsBuf.length === 0 ? bytes : concatFrames([this.hsBuf, bytes]);
    this.advanceHandshake();
  }

  private advanceHandshake(): void {
    try {
      if (this.state === 'act1' && this.hsBuf.length >= ACT_ONE_LEN) {
        const { state, act2 } = responderAct1(
          this.host.secretKey,
          this.host.ephemeralKey(),
          this.hsBuf.subarray(0, ACT_ONE_LEN),
        );
        this.hsBuf = this.hsBuf.subarray(ACT_ONE_LEN);
        this.responderState = state;
        this.state = 'act3';
        this.socket.write(act2);
      }
      if (this.state === 'act3' && this.hsBuf.length >= ACT_THREE_LEN) {
        const r = responderAct3(this.responderState!, this.hsBuf.subarray(0, ACT_THREE_LEN));
        const rest = this.hsBuf.subarray(ACT_THREE_LEN);
        this.responderState = undefined;
        this.hsBuf = EMPTY;
        this.remoteKey = r.remoteStatic;
        this.remoteId = toHex(r.remoteStatic);
        this.established(r.transport, rest);
        return;
      }
      if (this.state === 'act2' && this.hsBuf.length >= ACT_ONE_LEN) {
        const r = initiatorAct2(this.initiatorState!, this.hsBuf.subarray(0, ACT_ONE_LEN));
        const rest = this.hsBuf.subarray(ACT_ONE_LEN);
        this.initiatorState = undefined;
        this.hsBuf = EMPTY;
        this.socket.write(r.act3);
        this.established(r.transport, rest);
      }
    } catch (e) {
      if (e instanceof DecodeError) {
        this.close('handshake_failed', `BOLT 8 handshake failed: ${e.code}`);
        return;
      }
      throw e;
    }
  }

  /** Handshake done: hand identity to the manager, send `init`, process leftover bytes. */
  private established(transport: NoiseTransport, rest: Uint8Array): void {
    this.noise = transport;
    this.state = 'init';
    if (!this.host.handshakeComplete(this)) {
      if (!this.isClosed()) this.close('replaced', 'a connection to this node already exists');
      return;
    }
    if (this.isClosed()) return;
    // BOLT #1: "MUST send `init` as the first Lightning message for any connection."
    this.send({
      type: 'init',
      globalFeatures: EMPTY,
      features: featureBytesFromBits(this.host.config.features),
      networks: [this.host.config.chainHash],
    });
    if (rest.length > 0) this.onEncrypted(rest);
  }

  private onEncrypted(bytes: Uint8Array): void {
    let msgs: Uint8Array[];
    try {
      msgs = this.noise!.push(bytes);
    } catch (e) {
      if (e instanceof DecodeError) {
        // BOLT #8: a MAC failure MUST terminate the connection (the stream is unusable).
        this.close('protocol_violation', `BOLT 8 decryption failed: ${e.code}`);
        return;
      }
      throw e;
    }
    for (const m of msgs) {
      this.messagesReceived++;
      const t = m.length >= 2 ? (m[0]! << 8) | m[1]! : -1;
      // Liveness messages bypass the in-order inbox once active (their handling does not depend
      // on other messages), so a slow handler or a backlog cannot delay a pong into a timeout.
      if (this.state === 'active' && (t === 18 || t === 19)) {
        this.handleRaw(m);
        if (this.isClosed()) return;
        continue;
      }
      this.inbox.push(m);
    }
    this.pump();
  }

  private inboxLength(): number {
    return this.inbox.length - this.inboxHead;
  }

  /** Processes inbox messages in order, waiting for promise-returning handlers. */
  private pump(): void {
    while (!this.busy && this.state !== 'closed' && this.inboxHead < this.inbox.length) {
      const raw = this.inbox[this.inboxHead]!;
      this.inbox[this.inboxHead] = EMPTY;
      this.inboxHead++;
      let r: void | Promise<void>;
      try {
        r = this.handleRaw(raw);
      } catch (e) {
        this.handlerFailed(e);
        return;
      }
      if (r && typeof (r as Promise<void>).then === 'function') {
        this.busy = true;
        (r as Promise<void>).then(
          () => {
            this.busy = false;
            this.guard(() => this.pump());
          },
          (e: unknown) => {
            this.busy = false;
            this.handlerFailed(e);
          },
        );
      }
    }
    if (this.inboxHead === this.inbox.length) {
      this.inbox.length = 0;
      this.inboxHead = 0;
    } else if (this.inboxHead > 1024 && this.inboxHead * 2 > this.inbox.length) {
      this.inbox.splice(0, this.inboxHead);
      this.inboxHead = 0;
    }
    this.updateReadPause();
  }

  private updateReadPause(): void {
    if (this.state === 'closed') return;
    const n = this.inboxLength();
    const hw = this.host.config.inboxHighWater;
    if (!this.inboxPaused && n >= hw) {
      this.inboxPaused = true;
      this.socket.pause();
    } else if (this.inboxPaused && n <= hw / 4) {
      this.inboxPaused = false;
      if (!this.userPaused) this.socket.resume();
    }
  }

  /** Stops (or resumes) reading from the socket on the application's request. */
  setUserPaused(paused: boolean): void {
    if (this.state === 'closed' || this.userPaused === paused) return;
    this.userPaused = paused;
    if (paused) this.socket.pause();
    else if (!this.inboxPaused) this.socket.resume();
  }

  /** Decodes and handles one message; may return a promise (a handler's). */
  private handleRaw(raw: Uint8Array): void | Promise<void> {
    let msg: Message;
    try {
      const typeNum = peekMessageType(raw);
      if (this.host.hasCustomHandler(typeNum) && messageName(typeNum) === undefined) {
        msg = { type: 'unknown', typeNum, payload: raw.slice(2) };
      } else {
        msg = decodeMessage(raw);
      }
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      if (e.code === 'WIRE_UNKNOWN_EVEN_MESSAGE') {
        // BOLT #1: "upon receiving a message of _even_, unknown type: MUST close the connection"
        this.fail(`unknown even message type ${raw.length >= 2 ? (raw[0]! << 8) | raw[1]! : '?'}`);
      } else {
        this.fail(`malformed message: ${e.code}`);
      }
      return;
    }
    if (this.state === 'init') {
      if (msg.type === 'init') return this.handleInit(msg);
      if (msg.type === 'warning' || msg.type === 'error') {
        this.noteRemoteText(msg.type, msg.data);
        this.close('init_rejected', `peer sent ${msg.type} before init: ${this.lastRemoteText}`);
        return;
      }
      this.fail(`message type ${msg.type === 'unknown' ? msg.typeNum : msg.type} before init`);
      return;
    }
    if (this.state !== 'active') return;
    switch (msg.type) {
      case 'init':
        this.fail('duplicate init');
        return;
      case 'ping':
        // BOLT #1: "if `num_pong_bytes` is less than 65532: MUST respond by sending a `pong`
        // message, with `byteslen` equal to `num_pong_bytes`. otherwise: MUST ignore the `ping`."
        if (msg.numPongBytes < PONG_IGNORE_THRESHOLD) {
          this.send({ type: 'pong', ignored: new Uint8Array(msg.numPongBytes) }, true);
        }
        return;
      case 'pong':
        this.handlePong(msg.ignored.length);
        return;
      case 'warning':
      case 'error':
        this.noteRemoteText(msg.type, msg.data);
        this.host.log.warn(`peer sent ${msg.type}`, {
          peer: this.remoteId,
          channelId: toHex(msg.channelId),
          text: this.lastRemoteText,
        });
        return this.host.dispatch(this, msg);
      case 'unknown':
        if (!this.host.hasCustomHandler(msg.typeNum)) {
          // BOLT #1: "upon receiving a message of _odd_, unknown type: MUST ignore the received message."
          this.host.log.debug('ignoring unknown odd message', { peer: this.remoteId, type: msg.typeNum });
          return;
        }
        return this.host.dispatch(this, msg);
      default:
        return this.host.dispatch(this, msg);
    }
  }

  private handleInit(msg: Init): void | Promise<void> {
    const theirs = featureBitsFromBytes(msg.features);
    for (const b of featureBitsFromBytes(msg.globalFeatures)) theirs.add(b);
    const check = checkRemoteInit(
      this.host.config.features,
      theirs,
      this.host.config.chainHash,
      msg.networks,
    );
    if (!check.ok) {
      this.close('init_rejected', check.reason, { warning: check.reason });
      return;
    }
    this.remoteInit = msg;
    this.remoteFeatures = theirs;
    this.state = 'active';
    this.connectedAt = this.host.clock.now();
    this.handshakeTimer?.cancel();
    this.handshakeTimer = undefined;
    this.schedulePing();
    const r = this.host.activated(this);
    this.settle(undefined);
    return r;
  }

  // ------------------------------------------------------------------------------------------
  // Liveness

  private schedulePing(): void {
    this.pingTimer = this.host.clock.setTimeout(() => {
      this.pingTimer = undefined;
      this.guard(() => {
        if (this.state !== 'active') return;
        if (this.pingOutstanding === undefined) this.sendPing();
        this.schedulePing();
      });
    }, this.host.config.pingIntervalMs);
  }

  /** Sends a ping with a random `num_pong_bytes` (0..255) and arms the pong timeout. */
  sendPing(): void {
    if (this.state !== 'active' || this.pingOutstanding !== undefined) return;
    const n = this.host.random(1)[0]!;
    this.pingOutstanding = n;
    this.pingSentAt = this.host.clock.now();
    this.pingsSent++;
    // BOLT #1: "SHOULD set `ignored` to 0s."
    this.send({ type: 'ping', numPongBytes: n, ignored: EMPTY }, true);
    this.pongTimer = this.host.clock.setTimeout(() => {
      this.pongTimer = undefined;
      this.guard(() => this.close('ping_timeout', `no pong within ${this.host.config.pongTimeoutMs} ms`));
    }, this.host.config.pongTimeoutMs);
  }

  private handlePong(len: number): void {
    if (this.pingOutstanding === undefined) {
      this.host.log.debug('ignoring unsolicited pong', { peer: this.remoteId });
      return;
    }
    // BOLT #1: "if `byteslen` does not correspond to any `ping`'s `num_pong_bytes` value it has
    // sent: MAY close the connection."
    if (len !== this.pingOutstanding) {
      this.fail(`pong length ${len} does not match num_pong_bytes ${this.pingOutstanding}`);
      return;
    }
    this.pingOutstanding = undefined;
    this.pongTimer?.cancel();
    this.pongTimer = undefined;
    this.pongsReceived++;
    this.lastRttMs = this.host.clock.now() - this.pingSentAt;
  }

  // ------------------------------------------------------------------------------------------
  // Closing

  private noteRemoteText(kind: string, data: Uint8Array): void {
    this.lastRemoteText = `${kind}: ${printable(data)}`;
  }

  /** Protocol violation: send a `warning` (all-zero channel id) and close. */
  fail(why: string): void {
    this.host.log.warn('peer protocol violation', { peer: this.remoteId, why });
    this.close('protocol_violation', why, { warning: why });
  }

  private handlerFailed(e: unknown): void {
    this.host.log.error('message handler failed', {
      peer: this.remoteId,
      error: e instanceof Error ? e.message : String(e),
    });
    this.close('handler_failed', `handler failed: ${e instanceof Error ? e.message : String(e)}`, {
      warning: 'internal error',
    });
  }

  private onSocketClosed(e: Error | undefined): void {
    if (this.state === 'closed') return;
    const phase = this.state;
    let message = e ? `connection failed: ${e.message}` : 'remote closed the connection';
    if (this.lastRemoteText) message += ` (last ${this.lastRemoteText})`;
    if (phase === 'act1' || phase === 'act2' || phase === 'act3') {
      this.close('handshake_failed', `${message} during the BOLT 8 handshake`, { socketGone: true });
    } else if (phase === 'init') {
      this.close('init_rejected', `${message} before init completed`, { socketGone: true });
    } else {
      this.close('remote_closed', message, { socketGone: true });
    }
  }

  /**
   * Ends the connection (idempotent). With `warning`, an encrypted `warning` is written after
   * the queued messages and the socket is ended gracefully; `flush` alone flushes the queue.
   */
  close(
    code: DisconnectCode,
    message: string,
    opts: { warning?: string; flush?: boolean; socketGone?: boolean } = {},
  ): void {
    if (this.state === 'closed') return;
    const wasActive = this.state === 'active';
    const graceful =
      !opts.socketGone && this.noise !== undefined && (opts.flush || opts.warning !== undefined);
    if (graceful) {
      try {
        if (opts.warning !== undefined) {
          this.urgent.length = 0; // pending pings/pongs are moot
          this.queue.push({
            bytes: encodeMessage({
              type: 'warning',
              channelId: ZERO_CHANNEL_ID,
              data: new TextEncoder().encode(opts.warning.slice(0, 1000)),
            }),
          });
        }
        this.writable = true;
        const frames: Uint8Array[] = [];
        let size = 0;
        for (let q = this.nextQueued(); q; q = this.nextQueued()) {
          const f = this.noise!.encrypt(q.bytes);
          frames.push(f);
          size += f.length;
        }
        if (frames.length > 0) this.socket.write(concatFrames(frames, size));
      } catch (e) {
        this.host.log.warn('could not flush before closing', { error: String(e) });
      }
    }
    this.state = 'closed';
    this.closeReason = { code, message };
    this.handshakeTimer?.cancel();
    this.pingTimer?.cancel();
    this.pongTimer?.cancel();
    this.urgent.length = 0;
    this.queue.length = 0;
    this.queueHead = 0;
    this.queuedBytesCount = 0;
    this.inbox.length = 0;
    this.inboxHead = 0;
    if (!opts.socketGone) this.socket.close({ flush: graceful });
    this.host.log.debug('connection closed', { peer: this.remoteId, code, message });
    this.host.closed(this, this.closeReason, wasActive);
    this.settle(this.closeReason);
  }

  private settle(reason: DisconnectReason | undefined): void {
    const cbs = this.settleCbs;
    this.settleCbs = [];
    for (const cb of cbs) cb(reason);
  }

  /** Runs `fn`; an unexpected exception closes this connection instead of escaping. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.host.log.error('peer connection error', {
        peer: this.remoteId,
        error: e instanceof Error ? (e.stack ?? e.message) : String(e),
      });
      if (this.state !== 'closed') {
        this.close('protocol_violation', `internal error: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }
}

function concatFrames(frames: Uint8Array[], size?: number): Uint8Array {
  const total = size ?? frames.reduce((n, f) => n + f.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const f of frames) {
    out.set(f, o);
    o += f.length;
  }
  return out;
}

/**
 * BOLT #1: "if `data` is not composed solely of printable ASCII characters ... SHOULD NOT print
 * out `data` verbatim" — non-printable bytes are escaped.
 */
export function printable(data: Uint8Array): string {
  let s = '';
  for (const b of data.subarray(0, 500)) {
    s += b >= 32 && b <= 126 ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return data.length > 500 ? `${s}...` : s;
}
