/**
 * The transport port: byte-stream sockets between Lightning nodes (BOLT 8 runs on top of it),
 * independent of the network stack (TCP in src/adapters/net/tcp.ts; Tor or in-memory pipes fit
 * the same shape).
 *
 * Obligations of every implementation:
 * - bytes written with {@link Socket.write} are delivered in order, unmodified, or the socket
 *   closes; `write` never throws after close (it returns false and drops the bytes);
 * - `write` returns false once the socket's own buffer is above its high-water mark; the writer
 *   SHOULD then wait for the `onDrain` callback before writing more (back-pressure);
 * - `onData` chunks are fresh `Uint8Array`s the receiver may keep; chunk boundaries carry no
 *   meaning;
 * - `onClose` fires exactly once, after the last `onData`, whoever closed the socket;
 * - after `pause()` no `onData` fires until `resume()`.
 */
import { FaradError } from '../../protocol/errors.js';

/** A host/port pair (IPv6 hosts without brackets). */
export interface NetAddress {
  host: string;
  port: number;
}

/** One bidirectional byte stream. Each `on*` registration replaces the previous callback. */
export interface Socket {
  /** Remote endpoint, when known. */
  readonly remoteAddress: NetAddress | undefined;
  /**
   * Queues `bytes` for sending. Returns false when the socket's buffer is above its high-water
   * mark (wait for `onDrain`), or when the socket is closed (the bytes are dropped).
   */
  write(bytes: Uint8Array): boolean;
  /** Called with every received chunk. */
  onData(cb: (bytes: Uint8Array) => void): void;
  /** Called when the send buffer drained below the high-water mark after `write` returned false. */
  onDrain(cb: () => void): void;
  /** Called once when the socket is closed (`error` set when it closed because of an error). */
  onClose(cb: (error?: Error) => void): void;
  /** Stops delivering received data (the peer's sends back up through the network). */
  pause(): void;
  /** Resumes delivering received data. */
  resume(): void;
  /**
   * Closes the socket. With `flush` the bytes already written are sent first (then the stream
   * is ended); without it, the socket is destroyed at once. Idempotent.
   */
  close(opts?: { flush?: boolean }): void;
}

/** A listening endpoint. */
export interface Listener {
  /** The bound address (the real port when 0 was requested). */
  readonly address: NetAddress;
  /** Stops accepting connections (established sockets stay open). */
  close(): Promise<void>;
}

/** Options for {@link Transport.connect}. */
export interface ConnectOptions {
  /** Fail with `NET_CONNECT_TIMEOUT` if the connection is not established within this many ms. */
  timeoutMs?: number;
}

/** The transport port: listen for and open sockets. */
export interface Transport {
  /**
   * Listens on `host:port` (port 0 = any free port) and calls `onConnection` for each accepted
   * socket. Rejects with {@link TransportError} `NET_LISTEN_FAILED`.
   */
  listen(host: string, port: number, onConnection: (socket: Socket) => void): Promise<Listener>;
  /**
   * Opens a connection. Rejects with {@link TransportError} `NET_CONNECT_FAILED` or
   * `NET_CONNECT_TIMEOUT`.
   */
  connect(host: string, port: number, opts?: ConnectOptions): Promise<Socket>;
}

/** Errors of a transport: `NET_LISTEN_FAILED`, `NET_CONNECT_FAILED`, `NET_CONNECT_TIMEOUT`. */
export class TransportError extends FaradError {
  override name = 'TransportError';
}
