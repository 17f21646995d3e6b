/**
 * Parent side of the LDK peer harness: starts an LDK node process (ldk-node.ts under tsx, with an
 * IPC control channel; LDK's output goes to `<dataDir>/ldk.log`) and offers typed commands.
 * {@link LdkNode.kill} ends the process abruptly (SIGKILL); {@link LdkNode.restart} starts a new
 * one on the same data directory (manager + monitors are reloaded).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type {
  LdkBalance,
  LdkChannel,
  LdkCommand,
  LdkConfirmationTarget,
  LdkEvent,
  LdkInit,
  LdkReply,
  LdkRouteHintHop,
} from './ldk-protocol.js';

const CHILD = fileURLToPath(new URL('./ldk-node.ts', import.meta.url));

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  what: string;
}

/** A running LDK node (one child process). */
export class LdkNode {
  nodeId = '';
  port = 0;
  readonly init: LdkInit;
  #child: ChildProcess | undefined;
  #next = 1;
  #pending = new Map<number, Pending>();
  #dead: string | undefined;

  private constructor(init: LdkInit) {
    this.init = init;
  }

  /** Starts an LDK node process and waits until it listens. */
  static async start(init: LdkInit): Promise<LdkNode> {
    const n = new LdkNode(init);
    await n.#spawn();
    return n;
  }

  async #spawn(): Promise<void> {
    const fd = openSync(join(this.init.dataDir, 'stdout.log'), 'a');
    this.#dead = undefined;
    const child = fork(CHILD, [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', fd, fd, 'ipc'],
      serialization: 'advanced',
    });
    closeSync(fd);
    this.#child = child;
    const ready = new Promise<void>((resolve, reject) => {
      child.on('message', (raw) => {
        const m = raw as LdkReply;
        if (m.type === 'ready') resolve();
        else if (m.type === 'fatal') this.#dead = m.error;
        else if (m.type === 'reply') {
          const p = this.#pending.get(m.id);
          if (!p) return;
          this.#pending.delete(m.id);
          if (m.ok) p.resolve(m.result);
          else p.reject(new Error(`ldk ${p.what}: ${m.error}`));
        }
      });
      child.on('exit', (code, signal) => {
        const why = this.#dead ?? `LDK process exited (${code ?? signal})`;
        this.#dead = why;
        reject(new Error(why));
        for (const p of this.#pending.values()) p.reject(new Error(`ldk ${p.what}: ${why}`));
        this.#pending.clear();
      });
    });
    await ready;
    const r = (await this.call({ cmd: 'init', init: this.init })) as { nodeId: string; port: number };
    this.nodeId = r.nodeId;
    this.port = r.port;
    this.init.port = r.port; // a restart listens on the same port
  }

  /** Sends one command and waits for its reply. */
  call(body: LdkCommand, timeoutMs = 30_000): Promise<unknown> {
    const child = this.#child;
    if (!child || this.#dead)
      return Promise.reject(new Error(`ldk ${body.cmd}: ${this.#dead ?? 'not running'}`));
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`ldk ${body.cmd}: timed out`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (v) => {
          clearTimeout(t);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
        what: body.cmd,
      });
      child.send({ id, body });
    });
  }

  /** Why the process died (a panic or exit), if it did. */
  get dead(): string | undefined {
    return this.#dead;
  }

  sync(): Promise<number> {
    return this.call({ cmd: 'sync' }) as Promise<number>;
  }
  async connect(nodeId: string, port: number): Promise<void> {
    await this.call({ cmd: 'connect', nodeId, host: '127.0.0.1', port });
  }
  async disconnect(nodeId: string): Promise<void> {
    await this.call({ cmd: 'disconnect', nodeId });
  }
  peers(): Promise<{ nodeId: string; inbound: boolean; features: string }[]> {
    return this.call({ cmd: 'peers' }) as Promise<{ nodeId: string; inbound: boolean; features: string }[]>;
  }
  openChannel(nodeId: string, sats: bigint, opts: { anchors: boolean; pushMsat?: bigint }): Promise<string> {
    return this.call({
      cmd: 'openChannel',
      nodeId,
      sats,
      anchors: opts.anchors,
      ...(opts.pushMsat !== undefined ? { pushMsat: opts.pushMsat } : {}),
    }) as Promise<string>;
  }
  listChannels(): Promise<LdkChannel[]> {
    return this.call({ cmd: 'listChannels' }) as Promise<LdkChannel[]>;
  }
  async channel(channelId: string): Promise<LdkChannel | undefined> {
    return (await this.listChannels()).find((c) => c.channelId === channelId);
  }
  /** Claimable balances per funding outpoint "txid:vout". */
  balances(): Promise<Record<string, LdkBalance[]>> {
    return this.call({ cmd: 'balances' }) as Promise<Record<string, LdkBalance[]>>;
  }
  /** The harness wallet: confirmed coins on LDK's destination and shutdown scripts. */
  wallet(): Promise<{ confirmedSat: bigint; utxos: number; scripts: string[] }> {
    return this.call({ cmd: 'wallet' }) as Promise<{
      confirmedSat: bigint;
      utxos: number;
      scripts: string[];
    }>;
  }
  createInvoice(amountMsat?: bigint, description = 'ldk'): Promise<string> {
    return this.call({
      cmd: 'createInvoice',
      description,
      ...(amountMsat !== undefined ? { amountMsat } : {}),
    }) as Promise<string>;
  }
  /** Starts paying an invoice; resolves with the payment hash (watch the events for the outcome). */
  pay(bolt11: string, amountMsat?: bigint, hints?: LdkRouteHintHop[][]): Promise<string> {
    return this.call({
      cmd: 'pay',
      bolt11,
      ...(amountMsat !== undefined ? { amountMsat } : {}),
      ...(hints ? { hints } : {}),
    }) as Promise<string>;
  }
  async close(channelId: string, force = false): Promise<void> {
    await this.call({ cmd: 'close', channelId, force });
  }
  /** Sets LDK's fee estimate for `target` (or the default of every target without its own). */
  async setFeerate(satPerKw: number, target?: LdkConfirmationTarget): Promise<void> {
    await this.call({ cmd: 'setFeerate', satPerKw, ...(target ? { target } : {}) });
  }
  /** Holds every claimable payment (HTLCs stay in flight) until {@link release}. */
  async hold(): Promise<void> {
    await this.call({ cmd: 'hold' });
  }
  /**
   * Claims (or fails back) the held payments and stops holding; with `hash`, only that payment
   * (holding continues). Returns how many were settled.
   */
  release(fail = false, hash?: string): Promise<number> {
    return this.call({ cmd: 'release', fail, ...(hash ? { hash } : {}) }) as Promise<number>;
  }
  async tick(): Promise<void> {
    await this.call({ cmd: 'tick' });
  }
  events(since = 0): Promise<LdkEvent[]> {
    return this.call({ cmd: 'events', since }) as Promise<LdkEvent[]>;
  }
  broadcasts(): Promise<string[]> {
    return this.call({ cmd: 'broadcasts' }) as Promise<string[]>;
  }

  /** Ends the process at once (no chance to persist anything more). */
  async kill(): Promise<void> {
    const c = this.#child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGKILL');
    await gone;
  }

  /** Asks the process to persist and exit. */
  async stop(): Promise<void> {
    const c = this.#child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise<void>((r) => c.once('exit', () => r()));
    await this.call({ cmd: 'stop' }).catch(() => undefined);
    await Promise.race([gone, new Promise((r) => setTimeout(r, 2000))]);
    await this.kill();
  }

  /** Starts a new process on the same data directory (after {@link kill} or {@link stop}). */
  async restart(): Promise<void> {
    await this.kill();
    await this.#spawn();
  }
}
