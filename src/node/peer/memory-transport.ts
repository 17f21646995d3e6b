/**
 * An in-memory implementation of the transport port (src/node/ports/transport.ts): socket pairs
 * connected through a {@link MemoryNetwork}, for deterministic tests of the peer and channel
 * layers (with a `ManualClock`) without TCP.
 *
 * Semantics follow the port's obligations: ordered delivery on a later microtask, `pause()`
 * buffers received data, `write` returns false once more than `highWaterMark` bytes are
 * undelivered (a 'drain' follows when the receiver catches up), close is seen by both ends.
 */
import type { ConnectOptions, Listener, NetAddress, Socket, Transport } from '../ports/transport.js';
import { TransportError } from '../ports/transport.js';

const noop = () => {};

class MemorySocket implements Socket {
  peer: MemorySocket | undefined;
  private dataCb: (b: Uint8Array) => void = noop;
  private drainCb: () => void = noop;
  private closeCb: (e?: Error) => void = noop;
  private inbox: Uint8Array[] = [];
  /** Bytes written by us and not yet delivered to the peer's data callback. */
  undelivered = 0;
  private needDrain = false;
  private paused = false;
  private scheduled = false;
  closed = false;

  constructor(
    readonly remoteAddress: NetAddress,
    private readonly highWaterMark: number,
  ) {}

  write(bytes: Uint8Array): boolean {
    const peer = this.peer;
    if (this.closed || !peer || peer.closed) return false;
    this.undelivered += bytes.length;
    peer.inbox.push(bytes.slice());
    peer.schedule();
    if (this.undelivered > this.highWaterMark) {
      this.needDrain = true;
      return false;
    }
    return true;
  }

  private schedule(): void {
    if (this.scheduled || this.paused || this.closed) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.deliver();
    });
  }

  private deliver(): void {
    const from = this.peer;
    while (!this.paused && !this.closed && this.inbox.length > 0) {
      const b = this.inbox.shift()!;
      if (from) from.delivered(b.length);
      this.dataCb(b);
    }
  }

  private delivered(n: number): void {
    this.undelivered -= n;
    if (this.needDrain && this.undelivered <= this.highWaterMark / 2 && !this.closed) {
      this.needDrain = false;
      queueMicrotask(() => {
        if (!this.closed) this.drainCb();
      });
    }
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
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.schedule();
  }

  close(opts: { flush?: boolean } = {}): void {
    if (this.closed) return;
    const peer = this.peer;
    if (opts.flush && peer && !peer.closed) {
      // Let the peer receive what we wrote, then close both ends.
      peer.afterInbox(() => {
        this.finish();
        peer.finish();
      });
      return;
    }
    this.finish();
    if (peer) peer.finish();
  }

  private afterInbox(fn: () => void): void {
    const check = () => {
      if (this.closed || this.inbox.length === 0 || this.paused) fn();
      else queueMicrotask(check);
    };
    queueMicrotask(check);
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.inbox = [];
    const cb = this.closeCb;
    this.dataCb = noop;
    this.drainCb = noop;
    this.closeCb = noop;
    queueMicrotask(() => cb());
  }
}

/** A set of in-memory listeners reachable by `host:port`. */
export class MemoryNetwork {
  private readonly listeners = new Map<string, (s: Socket) => void>();
  private nextPort = 40000;
  private nextClientPort = 50000;

  constructor(private readonly highWaterMark = 64 * 1024) {}

  /** A transport bound to this network. */
  transport(): Transport {
    return {
      listen: (host, port, onConnection) => this.listen(host, port, onConnection),
      connect: (host, port, opts) => this.connect(host, port, opts),
    };
  }

  private async listen(host: string, port: number, onConnection: (s: Socket) => void): Promise<Listener> {
    const p = port === 0 ? this.nextPort++ : port;
    const key = `${host}:${p}`;
    if (this.listeners.has(key)) throw new TransportError('NET_LISTEN_FAILED', `address in use: ${key}`);
    this.listeners.set(key, onConnection);
    return {
      address: { host, port: p },
      close: async () => {
        if (this.listeners.get(key) === onConnection) this.listeners.delete(key);
      },
    };
  }

  private async connect(host: string, port: number, _opts?: ConnectOptions): Promise<Socket> {
    const accept = this.listeners.get(`${host}:${port}`);
    if (!accept) throw new TransportError('NET_CONNECT_FAILED', `connection refused: ${host}:${port}`);
    const client = new MemorySocket({ host, port }, this.highWaterMark);
    const server = new MemorySocket({ host: '127.0.0.1', port: this.nextClientPort++ }, this.highWaterMark);
    client.peer = server;
    server.peer = client;
    accept(server);
    return client;
  }
}
