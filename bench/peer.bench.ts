/**
 * Peer layer benchmarks over real TCP on 127.0.0.1 (two PeerManagers in one process, noble
 * secp256k1): BOLT 8 connection setup (handshake + init), one-way message throughput through
 * the encrypted queues, and request/response round trips of a custom message.
 */
import { TcpTransport } from '../src/adapters/net/tcp.js';
import { PeerManager } from '../src/node/peer/index.js';
import { secp } from '../src/protocol/crypto/secp256k1.js';
import type { BenchRow } from './harness.js';

function key(): Uint8Array {
  for (;;) {
    const k = globalThis.crypto.getRandomValues(new Uint8Array(32));
    if (secp().isPrivateKey(k)) return k;
  }
}

export default async function peerBench(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const a = new PeerManager({ nodeSecretKey: key(), transport: new TcpTransport() });
  const b = new PeerManager({ nodeSecretKey: key(), transport: new TcpTransport() });
  const addr = await b.listen('127.0.0.1', 0);
  try {
    // Connection setup: handshake + init, then disconnect, repeated.
    const n = 50;
    let t0 = performance.now();
    for (let i = 0; i < n; i++) {
      await a.connect(b.nodeId, addr.host, addr.port);
      a.disconnect(b.nodeId);
      while (b.isConnected(a.nodeId)) await new Promise((r) => setTimeout(r, 1));
    }
    let dt = (performance.now() - t0) / 1000;
    rows.push({
      group: 'Peers (TCP)',
      name: 'connect: BOLT 8 handshake + init',
      value: `${(n / dt).toFixed(0)}/s`,
    });

    await a.connect(b.nodeId, addr.host, addr.port);
    // One-way throughput of 1 KiB custom messages.
    let received = 0;
    b.registerCustomHandler(32769, () => {
      received++;
    });
    const payload = new Uint8Array(1024);
    const total = 50_000;
    t0 = performance.now();
    for (let i = 0; i < total; i++) {
      a.sendMessage(b.nodeId, { type: 'unknown', typeNum: 32769, payload });
      if (i % 1000 === 999) await new Promise((r) => setImmediate(r));
    }
    while (received < total) await new Promise((r) => setTimeout(r, 1));
    dt = (performance.now() - t0) / 1000;
    rows.push({
      group: 'Peers (TCP)',
      name: 'one-way 1 KiB messages (encrypt, queue, TCP, decrypt, dispatch)',
      value: `${Math.round(total / dt).toLocaleString('en-US')} msg/s (${((total * 1024) / dt / 2 ** 20).toFixed(0)} MiB/s)`,
    });

    // Request/response round trips.
    let resolve: (() => void) | undefined;
    b.registerCustomHandler(32771, (peer) => {
      b.sendMessage(peer, { type: 'unknown', typeNum: 32773, payload: new Uint8Array(32) });
    });
    a.registerCustomHandler(32773, () => resolve?.());
    const lat: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const s = performance.now();
      await new Promise<void>((r) => {
        resolve = r;
        a.sendMessage(b.nodeId, { type: 'unknown', typeNum: 32771, payload: new Uint8Array(32) });
      });
      lat.push(performance.now() - s);
    }
    lat.sort((x, y) => x - y);
    const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]!.toFixed(3);
    rows.push({
      group: 'Peers (TCP)',
      name: 'custom message round trip (2,000 sequential)',
      value: `p50 ${q(0.5)} ms, p99 ${q(0.99)} ms`,
    });
  } finally {
    await a.stop();
    await b.stop();
  }
  return rows;
}
