/**
 * Test helpers for the peer layer: PeerManagers on real TCP (127.0.0.1, random ports), an event
 * recorder, and a scripted raw BOLT 8 peer that can send anything (garbage, malformed or
 * out-of-order messages) to exercise the manager's error paths.
 */
import net from 'node:net';
import { TcpTransport } from '../../src/adapters/net/tcp.js';
import { type DisconnectReason, PeerManager, type PeerManagerOptions } from '../../src/node/peer/index.js';
import { CHAIN_HASHES, defaultInitFeatures } from '../../src/node/peer/init.js';
import { secp } from '../../src/protocol/crypto/secp256k1.js';
import { toHex } from '../../src/protocol/encoding/bytes.js';
import { featureBytesFromBits } from '../../src/protocol/features.js';
import { initiatorAct2, initiatorStart, type NoiseTransport } from '../../src/protocol/noise/index.js';
import { decodeMessage, encodeMessage, type Message } from '../../src/protocol/wire/index.js';

export function randomKey(): Uint8Array {
  for (;;) {
    const k = globalThis.crypto.getRandomValues(new Uint8Array(32));
    if (secp().isPrivateKey(k)) return k;
  }
}

export function pubHex(k: Uint8Array): string {
  return toHex(secp().publicKey(k));
}

export interface TestNode {
  pm: PeerManager;
  id: string;
  port: number;
  key: Uint8Array;
  connected: string[];
  disconnected: Array<{ peer: string; reason: DisconnectReason }>;
}

/** A PeerManager listening on 127.0.0.1 (random port unless `port` is given), events recorded. */
export async function makeNode(
  opts: Partial<PeerManagerOptions> & { port?: number } = {},
): Promise<TestNode> {
  const key = opts.nodeSecretKey ?? randomKey();
  const { port: wantPort, ...rest } = opts;
  const pm = new PeerManager({ transport: new TcpTransport(), ...rest, nodeSecretKey: key });
  const node: TestNode = { pm, id: pm.nodeId, port: 0, key, connected: [], disconnected: [] };
  pm.onPeerConnected((p) => {
    node.connected.push(p);
  });
  pm.onPeerDisconnected((p, reason) => {
    node.disconnected.push({ peer: p, reason });
  });
  const addr = await pm.listen('127.0.0.1', wantPort ?? 0);
  node.port = addr.port;
  return node;
}

/** Polls `cond` every 10 ms until true or `timeoutMs` passes (then throws with `what`). */
export async function waitUntil(cond: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A scripted BOLT 8 initiator over a raw `net.Socket`. */
export class RawPeer {
  readonly received: Message[] = [];
  readonly receivedTypes: number[] = [];
  closed = false;
  private noise: NoiseTransport | undefined;
  private waiters: Array<() => void> = [];

  private constructor(
    readonly sock: net.Socket,
    readonly key: Uint8Array,
  ) {}

  get id(): string {
    return pubHex(this.key);
  }

  /**
   * Connects and completes the handshake with `remoteId` at 127.0.0.1:`port`. Unless
   * `sendInit` is false, sends an `init` with `features` (default Farad's) and `networks`.
   */
  static async connect(
    remoteId: string,
    port: number,
    opts: { key?: Uint8Array; features?: Iterable<number>; networks?: Uint8Array[]; sendInit?: boolean } = {},
  ): Promise<RawPeer> {
    const sock = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((res, rej) => {
      sock.once('connect', () => res());
      sock.once('error', rej);
    });
    const peer = new RawPeer(sock, opts.key ?? randomKey());
    const { state, act1 } = initiatorStart(
      peer.key,
      Uint8Array.from(Buffer.from(remoteId, 'hex')),
      randomKey(),
    );
    let buf: Uint8Array = new Uint8Array(0);
    await new Promise<void>((res, rej) => {
      const onData = (d: Buffer) => {
        buf = concat(buf, d);
        if (buf.length < 50) return;
        sock.off('data', onData);
        const r = initiatorAct2(state, buf.subarray(0, 50));
        sock.write(r.act3);
        peer.noise = r.transport;
        const rest = buf.subarray(50);
        peer.attach();
        if (rest.length > 0) peer.onData(rest);
        res();
      };
      sock.on('data', onData);
      sock.once('close', () => rej(new Error('closed during handshake')));
      sock.write(act1);
    });
    sock.removeAllListeners('close');
    sock.on('close', () => {
      peer.closed = true;
      peer.wake();
    });
    sock.on('error', () => {});
    if (opts.sendInit !== false) {
      peer.send({
        type: 'init',
        globalFeatures: new Uint8Array(0),
        features: featureBytesFromBits(opts.features ?? defaultInitFeatures()),
        networks: opts.networks ?? [CHAIN_HASHES.regtest],
      });
    }
    return peer;
  }

  private attach(): void {
    this.sock.on('data', (d: Buffer) => this.onData(new Uint8Array(d)));
  }

  private onData(d: Uint8Array): void {
    for (const m of this.noise!.push(d)) {
      this.receivedTypes.push((m[0]! << 8) | m[1]!);
      try {
        this.received.push(decodeMessage(m));
      } catch {
        this.received.push({ type: 'unknown', typeNum: (m[0]! << 8) | m[1]!, payload: m.slice(2) });
      }
    }
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Encrypts and sends a message (object or raw encoded bytes). */
  send(m: Message | Uint8Array): void {
    const bytes = m instanceof Uint8Array ? m : encodeMessage(m);
    this.sock.write(this.noise!.encrypt(bytes));
  }

  /** Writes raw (unencrypted) bytes. */
  sendRaw(bytes: Uint8Array): void {
    this.sock.write(bytes);
  }

  /** Waits for a received message matching `pred`. */
  async waitFor(pred: (m: Message) => boolean, timeoutMs = 3000): Promise<Message> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const m = this.received.find(pred);
      if (m) return m;
      if (this.closed) throw new Error('raw peer closed while waiting');
      const left = end - Date.now();
      if (left <= 0) throw new Error('timed out waiting for message');
      await new Promise<void>((res) => {
        const t = setTimeout(res, left);
        this.waiters.push(() => {
          clearTimeout(t);
          res();
        });
      });
    }
  }

  /** Waits until the remote closes the socket. */
  async waitClosed(timeoutMs = 3000): Promise<void> {
    await waitUntil(() => this.closed, timeoutMs, 'raw peer close');
  }

  close(): void {
    this.sock.destroy();
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
