/**
 * TCP implementation of the transport port (src/node/ports/transport.ts) on `node:net`.
 *
 * BOLT 8 runs over it unchanged. Sockets use TCP_NODELAY (Lightning messages are small and
 * latency-sensitive) and keep-alive. Received Buffers are handed out as plain `Uint8Array` views
 * (never pooled slices shared with other reads), so consumers may keep them.
 */
import net from 'node:net';
import {
  type ConnectOptions,
  type Listener,
  type NetAddress,
  type Socket,
  type Transport,
  TransportError,
} from '../../node/ports/transport.js';

/** Options of {@link TcpTransport}. */
export interface TcpTransportOptions {
  /** Default connect timeout in ms when {@link ConnectOptions.timeoutMs} is absent (10 s). */
  connectTimeoutMs?: number;
  /** Writable high-water mark of each socket in bytes (Node default 16 KiB). */
  highWaterMark?: number;
  /** How long a `close({ flush: true })` may take before the socket is destroyed (2 s). */
  flushTimeoutMs?: number;
}

const noop = () => {};

/** A {@link Socket} over a `net.Socket`. */
class TcpSocket implements Socket {
  readonly remoteAddress: NetAddress | undefined;
  private dataCb: (b: Uint8Array) => void = noop;
  private drainCb: () => void = noop;
  private closeCb: (e?: Error) => void = noop;
  private closed = false;
  private error: Error | undefined;

  constructor(
    private readonly sock: net.Socket,
    private readonly flushTimeoutMs: number,
  ) {
    const host = sock.remoteAddress;
    const port = sock.remotePort;
    this.remoteAddress = host !== undefined && port !== undefined ? { host, port } : undefined;
    sock.setNoDelay(true);
    sock.setKeepAlive(true, 30_000);
    sock.on('data', (buf: Buffer) => {
      if (this.closed) return;
      this.dataCb(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
    });
    sock.on('drain', () => {
      if (!this.closed) this.drainCb();
    });
    sock.on('error', (e) => {
      this.error ??= e;
    });
    sock.on('end', () => {
      // Half-close from the remote: BOLT 8 has no half-open use, finish our side too.
      sock.end();
    });
    sock.on('close', () => {
      if (this.closed) return;
      this.closed = true;
      const cb = this.closeCb;
      this.dataCb = noop;
      this.drainCb = noop;
      this.closeCb = noop;
      cb(this.error);
    });
  }

  write(bytes: Uint8Array): boolean {
    if (this.closed || this.sock.destroyed || !this.sock.writable) return false;
    return this.sock.write(bytes);
  }

  onData(cb: (bytes: Uint8Array) => void): void {
    this.dataCb = cb;
  }

  onDrain(cb: () => void): void {
    this.drainCb = cb;
  }

  onClose(cb: (error?: Error) => void): void {
    this.closeCb = cb;
  }

  pause(): void {
    this.sock.pause();
  }

  resume(): void {
    this.sock.resume();
  }

  close(opts: { flush?: boolean } = {}): void {
    if (this.sock.destroyed) return;
    if (opts.flush) {
      this.sock.end();
      const t = setTimeout(() => this.sock.destroy(), this.flushTimeoutMs);
      t.unref();
      this.sock.once('close', () => clearTimeout(t));
    } else {
      this.sock.destroy();
    }
  }
}

/** A {@link Listener} over a `net.Server`. */
class TcpListener implements Listener {
  constructor(
    private readonly server: net.Server,
    readonly address: NetAddress,
  ) {}

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
    });
  }
}

/** The TCP transport (listen/connect on IPv4, IPv6 or host names). */
export class TcpTransport implements Transport {
  private readonly connectTimeoutMs: number;
  private readonly highWaterMark: number | undefined;
  private readonly flushTimeoutMs: number;

  constructor(opts: TcpTransportOptions = {}) {
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 10_000;
    this.highWaterMark = opts.highWaterMark;
    this.flushTimeoutMs = opts.flushTimeoutMs ?? 2_000;
  }

  /** Listens on `host:port` (0 = random free port); the listener reports the bound address. */
  listen(host: string, port: number, onConnection: (socket: Socket) => void): Promise<Listener> {
    return new Promise((resolve, reject) => {
      const server = net.createServer(this.highWaterMark ? { highWaterMark: this.highWaterMark } : {});
      server.on('connection', (s) => onConnection(new TcpSocket(s, this.flushTimeoutMs)));
      const onError = (e: Error) => {
        reject(
          new TransportError('NET_LISTEN_FAILED', `cannot listen on ${host}:${port}`, {
            details: e.message,
            cause: e,
          }),
        );
      };
      server.once('error', onError);
      server.listen({ host, port }, () => {
        server.off('error', onError);
        // Errors after listening (e.g. EMFILE on accept) must not crash the process.
        server.on('error', noop);
        const a = server.address();
        const bound: NetAddress =
          a && typeof a === 'object' ? { host: a.address, port: a.port } : { host, port };
        resolve(new TcpListener(server, bound));
      });
    });
  }

  /** Connects to `host:port`, failing after the connect timeout. */
  connect(host: string, port: number, opts: ConnectOptions = {}): Promise<Socket> {
    const timeoutMs = opts.timeoutMs ?? this.connectTimeoutMs;
    return new Promise((resolve, reject) => {
      const sock = net.connect({
        host,
        port,
        ...(this.highWaterMark ? { highWaterMark: this.highWaterMark } : {}),
      });
      let done = false;
      const timer = setTimeout(() => {
        if (done) return;
        done = true;
        sock.destroy();
        reject(new TransportError('NET_CONNECT_TIMEOUT', `connect to ${host}:${port} timed out`));
      }, timeoutMs);
      sock.once('connect', () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        sock.removeAllListeners('error');
        resolve(new TcpSocket(sock, this.flushTimeoutMs));
      });
      sock.once('error', (e) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        sock.destroy();
        reject(
          new TransportError('NET_CONNECT_FAILED', `connect to ${host}:${port} failed`, {
            details: e.message,
            cause: e,
          }),
        );
      });
    });
  }
}
