/**
 * The node daemon's runtime: wires one Farad node from a {@link NodeConfig} — data dir (mnemonic,
 * birthday), SQLite store, chain backend (bitcoind RPC or Esplora) behind a ChainTracker, the
 * on-chain wallet, NodeKeys, ChannelManager, PaymentManager and PeerManager over TCP — and exposes
 * the operations the REST API serves.
 *
 * Start-up order (the channel runtime's documented wiring):
 * 1. The chain tracker starts scanning at `min(wallet birthday, ChannelManager.rescanHeight)` so
 *    nothing that happened while the node was down is missed. The birthday (tip height when the
 *    mnemonic was created) is persisted in the data dir on first start.
 * 2. Before the first poll, every stored channel's funding output (and, while unconfirmed, the
 *    funding script) is watched, so that the first scan records the funding and closing
 *    transactions of the rescanned blocks (the channel manager arms its own watches only after
 *    that first poll).
 * 3. The BOLT 5 chain monitor ({@link ChainMonitorManager}) is the channel manager's monitor sink
 *    and is attached to the channel and payment managers.
 * 4. `pay.load()`, `cm.start(pm)`, `gossip.start(pm)`, `monitor.start()`, `pay.recover()`, then
 *    listen, reconnect to the stored peers (persistent, with backoff), and poll the chain on a timer.
 * 5. Network payments (issue 6): one {@link NetworkGraph} (loaded from the gossip store) is shared
 *    by the {@link GossipManager} (BOLT 7; the PeerManager's gossip handler, our channels'
 *    `channel_update`s carry the forwarding policy) and the PaymentManager's router; the
 *    {@link ForwardingManager} (BOLT 4) attaches to the PaymentManager. Invoices carry route
 *    hints for our private channels. On stop, gossip is stopped (graph saved) before the store
 *    closes.
 *
 * Peers connected through {@link FaradNode.connect} are stored (namespace `daemon-peers`) and
 * reconnected on every start. Node events are logged and acknowledged.
 */
import { BitcoindBackend } from '../../adapters/chain/bitcoind.js';
import { EsploraBackend } from '../../adapters/chain/esplora.js';
import { TcpTransport } from '../../adapters/net/tcp.js';
import { SqliteStore } from '../../adapters/store/sqlite.js';
import { NetworkGraph } from '../../core/gossip/graph.js';
import { deserializeGraph } from '../../core/gossip/serialize.js';
import { findRoute, type Route } from '../../core/router/index.js';
import { type Poller, startPolling } from '../../node/chain/poller.js';
import { ChainTracker } from '../../node/chain/tracker.js';
import { type ChannelInfo, ChannelManager, type NodeEvent } from '../../node/channels/index.js';
import { type ForwardInfo, ForwardingManager } from '../../node/forwarding/index.js';
import { GOSSIP_NAMESPACE, GossipManager, type GraphDescription } from '../../node/gossip/index.js';
import { NodeKeys } from '../../node/keys/index.js';
import { ChainMonitorManager, type MonitorEvent } from '../../node/monitor/index.js';
import {
  firstHops,
  type InvoiceRecord,
  PaymentManager,
  type PaymentRecord,
} from '../../node/payments/index.js';
import { CHAIN_HASHES, PeerManager } from '../../node/peer/index.js';
import type { ChainBackend } from '../../node/ports/chain.js';
import type { KVStore } from '../../node/ports/store.js';
import type { NetAddress } from '../../node/ports/transport.js';
import { type Balances, OnchainWallet } from '../../node/wallet/index.js';
import { equal, fromHex, fromUtf8, utf8 } from '../../protocol/encoding/bytes.js';
import { DecodeError, FaradError } from '../../protocol/errors.js';
import type { NodeConfig } from './config.js';
import { type DataDirPaths, nodeSeedFromMnemonic, openDataDir, readOrCreateBirthday } from './datadir.js';
import type { DaemonLogger } from './logger.js';

/** Store namespaces of the daemon. */
export const DAEMON_NS = { peers: 'daemon-peers', state: 'daemon' } as const;

/** Failures of daemon operations: `NODE_STOPPED`, `CHAIN_UNREACHABLE`. */
export class NodeError extends FaradError {
  override name = 'NodeError';
}

/** Summary returned by {@link FaradNode.info}. */
export interface NodeInfo {
  nodeId: string;
  network: string;
  blockHeight: number;
  blockHash: string | undefined;
  numPeers: number;
  numChannels: number;
  numActiveChannels: number;
  listen: NetAddress;
  chainBackend: string;
}

/** Balances returned by {@link FaradNode.balance}. */
export interface NodeBalance {
  onchain: Balances;
  lightning: {
    /** Our side of every channel not closing or closed. */
    localMsat: bigint;
    remoteMsat: bigint;
    /** Our side of the channels usable for payments now (`Normal` and online). */
    usableMsat: bigint;
    /** Our side of channels waiting for their funding to confirm. */
    pendingOpenMsat: bigint;
  };
}

/**
 * The network graph stored by the gossip layer (namespace `gossip`, key `graph`), or an empty
 * one (none yet, another chain, unreadable).
 */
async function loadGraph(store: KVStore, chainHash: Uint8Array, log: DaemonLogger): Promise<NetworkGraph> {
  const raw = await store.read(GOSSIP_NAMESPACE, 'graph');
  if (raw) {
    try {
      const g = deserializeGraph(raw);
      if (equal(g.chainHash, chainHash)) return g;
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      log.warn('stored graph unreadable: starting empty', { error: e.message });
    }
  }
  return new NetworkGraph(chainHash);
}

/** A running node (see the module documentation). */
export class FaradNode {
  readonly config: NodeConfig;
  readonly paths: DataDirPaths;
  readonly keys: NodeKeys;
  readonly store: KVStore;
  readonly chain: ChainTracker;
  readonly wallet: OnchainWallet;
  readonly channels: ChannelManager;
  readonly payments: PaymentManager;
  readonly peers: PeerManager;
  readonly monitor: ChainMonitorManager;
  /** BOLT 7 gossip: our announcements, the network graph, private route hints. */
  readonly gossip: GossipManager;
  /** BOLT 4 forwarding (attached to {@link payments}). */
  readonly forwarding: ForwardingManager;
  readonly log: DaemonLogger;
  #listen: NetAddress = { host: '', port: 0 };
  #poller: Poller | undefined;
  #unsubEvents: (() => void) | undefined;
  #unsubMonitor: (() => void) | undefined;
  #stopping: Promise<void> | undefined;
  #nextReceive = 0;
  /**
   * Settles (never rejects) with the error that makes running on unsafe: a store write failed,
   * so the state in memory is ahead of the disk. The process should stop and be restarted.
   */
  fatal: Promise<Error> = new Promise(() => undefined);

  private constructor(
    config: NodeConfig,
    paths: DataDirPaths,
    parts: {
      keys: NodeKeys;
      store: KVStore;
      chain: ChainTracker;
      wallet: OnchainWallet;
      channels: ChannelManager;
      payments: PaymentManager;
      peers: PeerManager;
      monitor: ChainMonitorManager;
      gossip: GossipManager;
      forwarding: ForwardingManager;
    },
    log: DaemonLogger,
  ) {
    this.config = config;
    this.paths = paths;
    this.keys = parts.keys;
    this.store = parts.store;
    this.chain = parts.chain;
    this.wallet = parts.wallet;
    this.channels = parts.channels;
    this.payments = parts.payments;
    this.peers = parts.peers;
    this.monitor = parts.monitor;
    this.gossip = parts.gossip;
    this.forwarding = parts.forwarding;
    this.log = log;
  }

  /** Builds and starts a node; on failure everything opened so far is closed again. */
  static async start(config: NodeConfig, log: DaemonLogger): Promise<FaradNode> {
    const backend: ChainBackend =
      config.chain.kind === 'bitcoind'
        ? new BitcoindBackend({ url: config.chain.url })
        : new EsploraBackend({ url: config.chain.url, network: config.network });
    const tipHeight = async () => {
      try {
        return (await backend.getTip()).height;
      } catch (e) {
        throw new NodeError('CHAIN_UNREACHABLE', `cannot reach the ${backend.name} chain backend`, {
          details: e instanceof Error ? e.message : String(e),
          cause: e,
        });
      }
    };
    await tipHeight(); // fail early (before touching the data dir) when the backend is down
    const { paths, mnemonic, created } = openDataDir(config.dataDir);
    const birthday = await readOrCreateBirthday(paths, created, tipHeight);
    const store = new SqliteStore(paths.db, { groupCommit: true });
    let onFatal: (e: Error) => void = () => undefined;
    const fatal = new Promise<Error>((resolve) => {
      onFatal = resolve;
    });
    let peers: PeerManager | undefined;
    let channels: ChannelManager | undefined;
    let monitor: ChainMonitorManager | undefined;
    let gossip: GossipManager | undefined;
    let forwarding: ForwardingManager | undefined;
    try {
      const rescan = await ChannelManager.rescanHeight(store);
      const startHeight = Math.min(birthday, rescan ?? birthday);
      log.info('chain', { backend: backend.name, birthday, startHeight });
      const chain = new ChainTracker(backend, { startHeight });
      const wallet = new OnchainWallet({ mnemonic, network: config.network, chain });
      // Addresses handed out before a restart stay handed out (and watched).
      const next = await store.read(DAEMON_NS.state, 'next-receive');
      const nextReceive = next ? Number(fromUtf8(next)) : 0;
      for (let i = 0; i < nextReceive; i++) wallet.newAddress();
      const keys = new NodeKeys(nodeSeedFromMnemonic(mnemonic));
      monitor = new ChainMonitorManager({ keys, store, chain, wallet, logger: log.child('monitor') });
      channels = new ChannelManager({
        keys,
        store,
        chain,
        wallet,
        chainHash: CHAIN_HASHES[config.network],
        trustedPeers: config.trustedPeers,
        logger: log.child('channels'),
        monitorSink: monitor,
        onStoreFailure: (e) => {
          log.error('store write failed: the node must stop and be restarted', { error: e.message });
          onFatal(e);
        },
        ...(config.toSelfDelay !== undefined ? { channelConfig: { toSelfDelay: config.toSelfDelay } } : {}),
      });
      // One graph, shared by the gossip layer (which keeps it up to date) and the router.
      const graph = await loadGraph(store, CHAIN_HASHES[config.network], log);
      const payments = new PaymentManager({
        channels,
        keys,
        graph,
        acceptKeysend: config.acceptKeysend ?? false,
      });
      const policy = {
        ...(config.feeBaseMsat !== undefined ? { feeBaseMsat: config.feeBaseMsat } : {}),
        ...(config.feePpm !== undefined ? { feeProportionalMillionths: config.feePpm } : {}),
        ...(config.cltvDelta !== undefined ? { cltvExpiryDelta: config.cltvDelta } : {}),
      };
      const fwd = new ForwardingManager({
        channels,
        keys,
        payments,
        logger: log.child('forwarding'),
        defaultPolicy: policy,
      });
      forwarding = fwd;
      gossip = new GossipManager({
        keys,
        store,
        chain,
        channels,
        chainHash: CHAIN_HASHES[config.network],
        logger: log.child('gossip'),
        graph,
        policy,
        policyFor: (c) => fwd.channelPolicy(c.channelId),
        ...(config.gossipFlushMs !== undefined ? { flushIntervalMs: config.gossipFlushMs } : {}),
      });
      monitor.attach({ channels, payments });
      peers = new PeerManager({
        nodeSecretKey: keys.nodeSecretKey,
        transport: new TcpTransport(),
        chainHash: CHAIN_HASHES[config.network],
        channelHandler: channels,
        gossipHandler: gossip,
        logger: log.child('peers'),
        reconnect: { initialDelayMs: 500, maxDelayMs: 10_000 },
      });
      const node = new FaradNode(
        config,
        paths,
        { keys, store, chain, wallet, channels, payments, peers, monitor, gossip, forwarding },
        log,
      );
      node.#nextReceive = nextReceive;
      node.fatal = fatal;
      await payments.load();
      await channels.start(peers);
      await gossip.start(peers);
      await monitor.start();
      await payments.recover();
      node.#unsubEvents = channels.events.subscribe((e) => node.#onEvent(e));
      node.#unsubMonitor = monitor.subscribe((e) => node.#onMonitorEvent(e));
      node.#listen = await peers.listen(config.listen.host, config.listen.port);
      for (const id of await store.list(DAEMON_NS.peers)) {
        const v = await store.read(DAEMON_NS.peers, id);
        if (!v) continue;
        const a = JSON.parse(fromUtf8(v)) as { host: string; port: number };
        peers.connectPersistent(id, a.host, a.port);
      }
      node.#poller = startPolling(chain, {
        intervalMs: config.pollMs,
        onError: (e) => log.warn('chain poll failed', { error: e instanceof Error ? e.message : String(e) }),
      });
      log.info('node started', {
        nodeId: keys.nodeId,
        network: config.network,
        listen: node.#listen,
        height: chain.tip()?.height,
      });
      return node;
    } catch (e) {
      await peers?.stop().catch(() => undefined);
      await gossip?.stop().catch(() => undefined);
      forwarding?.close();
      await channels?.stop().catch(() => undefined);
      await monitor?.stop().catch(() => undefined);
      await store.close().catch(() => undefined);
      throw e;
    }
  }

  /** The bound Lightning listen address. */
  get listenAddress(): NetAddress {
    return { ...this.#listen };
  }

  /** Stops the poller, the peers, the channel runtime and the monitor, then closes the store. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      await this.#poller?.stop();
      this.#unsubEvents?.();
      this.#unsubMonitor?.();
      await this.peers.stop();
      await this.gossip.stop();
      this.forwarding.close();
      await this.channels.stop();
      await this.monitor.stop();
      this.wallet.close();
      await this.store.close();
      this.log.info('node stopped');
    })();
    return this.#stopping;
  }

  #checkRunning(): void {
    if (this.#stopping) throw new NodeError('NODE_STOPPED', 'the node is shutting down');
  }

  #onEvent(e: NodeEvent): void {
    const { id: _id, time: _t, ...body } = e;
    this.log.info('event', body as Record<string, unknown>);
    void this.channels.events.ack(e.id).catch(() => undefined);
  }

  #onMonitorEvent(e: MonitorEvent): void {
    this.log.info('monitor', e as unknown as Record<string, unknown>);
  }

  // ---------------------------------------------------------------------------------------------
  // Operations served by the API

  /** Node id, network, chain height, peer and channel counts. */
  info(): NodeInfo {
    const chans = this.channels.listChannels();
    const tip = this.chain.tip();
    return {
      nodeId: this.keys.nodeId,
      network: this.config.network,
      blockHeight: tip?.height ?? this.channels.blockHeight,
      blockHash: tip?.hash,
      numPeers: this.peers.peers().length,
      numChannels: chans.filter((c) => c.state !== 'Closing' && c.state !== 'Closed').length,
      numActiveChannels: chans.filter((c) => c.state === 'Normal').length,
      listen: this.listenAddress,
      chainBackend: this.chain.backendName,
    };
  }

  /**
   * Connects to a peer (resolves once `init` was exchanged), remembers its address and keeps
   * the connection up (reconnecting with backoff, also after restarts).
   */
  async connect(nodeId: string, host: string, port: number): Promise<{ nodeId: string; inbound: boolean }> {
    this.#checkRunning();
    const info = await this.peers.connect(nodeId, host, port);
    await this.store.write(DAEMON_NS.peers, info.nodeId, utf8(JSON.stringify({ host, port })));
    this.peers.connectPersistent(info.nodeId, host, port);
    return { nodeId: info.nodeId, inbound: info.inbound };
  }

  /** A fresh receive address of the on-chain wallet (the index is persisted). */
  async newAddress(): Promise<string> {
    this.#checkRunning();
    const address = this.wallet.newAddress();
    this.#nextReceive++;
    await this.store.write(DAEMON_NS.state, 'next-receive', utf8(String(this.#nextReceive)));
    return address;
  }

  /** On-chain wallet balances and the Lightning balance over the channels. */
  balance(): NodeBalance {
    let localMsat = 0n;
    let remoteMsat = 0n;
    let usableMsat = 0n;
    let pendingOpenMsat = 0n;
    for (const c of this.channels.listChannels()) {
      if (c.state === 'Closing' || c.state === 'Closed') continue;
      localMsat += c.localMsat;
      remoteMsat += c.remoteMsat;
      if (c.state === 'Normal') usableMsat += c.localMsat;
      if (c.innerState === 'WaitForFundingConfirmed' || c.innerState === 'WaitForChannelReady')
        pendingOpenMsat += c.localMsat;
    }
    return {
      onchain: this.wallet.balances(),
      lightning: { localMsat, remoteMsat, usableMsat, pendingOpenMsat },
    };
  }

  /** Opens a channel funded from the wallet; resolves once the funding transaction is broadcast. */
  openChannel(
    nodeId: string,
    amountSat: bigint,
    o: {
      pushMsat?: bigint;
      channelType?: 'anchors' | 'static_remotekey';
      zeroConf?: boolean;
      private?: boolean;
    },
  ): Promise<{ channelId: string; fundingTxid: string; fundingOutputIndex: number }> {
    this.#checkRunning();
    return this.channels.openChannel(nodeId, amountSat, {
      ...(o.pushMsat !== undefined ? { pushMsat: o.pushMsat } : {}),
      ...(o.channelType ? { channelType: o.channelType } : {}),
      zeroConf: o.zeroConf ?? false,
      announce: !(o.private ?? false),
    });
  }

  /** Every channel (closed ones included). */
  listChannels(): ChannelInfo[] {
    return this.channels.listChannels();
  }

  /** Closes a channel cooperatively, or unilaterally with `force`. */
  closeChannel(channelId: string, force: boolean): Promise<{ closingTxid: string | undefined }> {
    this.#checkRunning();
    return this.channels.closeChannel(channelId, { force });
  }

  /** Creates an invoice (`amountMsat` null: any amount). */
  createInvoice(o: {
    amountMsat: bigint | null;
    description?: string;
    expiry?: number;
  }): Promise<InvoiceRecord> {
    this.#checkRunning();
    // Private channels are reachable through route hints (the peer's alias and policy).
    const hints = this.gossip.privateRouteHints();
    return this.payments.createInvoice({
      amountMsat: o.amountMsat,
      ...(hints.length > 0 ? { routeHints: hints } : {}),
      ...(o.description !== undefined ? { description: o.description } : {}),
      ...(o.expiry !== undefined ? { expiry: o.expiry } : {}),
    });
  }

  /** Pays an invoice (over any route of the graph, with retries) and waits for the outcome. */
  pay(bolt11: string, amountMsat?: bigint, o: { maxFeeMsat?: bigint } = {}): Promise<PaymentRecord> {
    this.#checkRunning();
    return this.payments.pay(bolt11, {
      ...(amountMsat !== undefined ? { amountMsat } : {}),
      ...(o.maxFeeMsat !== undefined ? { maxFeeMsat: o.maxFeeMsat } : {}),
    });
  }

  /** Sends `amountMsat` to `nodeId` without an invoice (bLIP-3 keysend) and waits for the outcome. */
  keysend(nodeId: string, amountMsat: bigint, o: { maxFeeMsat?: bigint } = {}): Promise<PaymentRecord> {
    this.#checkRunning();
    return this.payments.keysend(
      nodeId,
      amountMsat,
      o.maxFeeMsat !== undefined ? { maxFeeMsat: o.maxFeeMsat } : {},
    );
  }

  /** Every forward through this node, oldest first. */
  listForwards(): ForwardInfo[] {
    return this.forwarding.listForwards();
  }

  /** The network graph as known from gossip. */
  describeGraph(): GraphDescription {
    return this.gossip.describeGraph();
  }

  /**
   * The route a payment of `amountMsat` to `nodeId` would take now (our channels' exact balances
   * as first hops, the scorer's liquidity knowledge), or the router's reason for none.
   */
  queryRoutes(
    nodeId: string,
    amountMsat: bigint,
    o: { finalCltvDelta?: number; maxFeeMsat?: bigint } = {},
  ): { ok: true; route: Route } | { ok: false; reason: string } {
    this.#checkRunning();
    const fh = firstHops(this.channels);
    const r = findRoute({
      graph: this.payments.graph,
      source: this.keys.nodePublicKey,
      target: fromHex(nodeId),
      amountMsat,
      finalCltvDelta: o.finalCltvDelta ?? 18,
      firstHops: fh.hops,
      scorer: this.payments.scorer,
      now: Math.floor(Date.now() / 1000),
      ...(o.maxFeeMsat !== undefined ? { maxFeeMsat: o.maxFeeMsat } : {}),
    });
    return r.ok ? { ok: true, route: r.route } : { ok: false, reason: r.reason };
  }

  /** Every payment, oldest first. */
  listPayments(): PaymentRecord[] {
    return this.payments.listPayments();
  }
}
