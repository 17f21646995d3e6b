/**
 * One LDK 0.1 node (npm `lightningdevkit`, WASM) as a child process, driven by its parent (the
 * interop tests) over the Node IPC channel (`child_process.fork`, `serialization: 'advanced'`).
 * LDK's own output (stdout/stderr and its Logger) goes to `<dataDir>/ldk.log`, never to the
 * control channel.
 *
 * The node: KeysManager from a seed; ChannelManager (anchors negotiated, inbound channels
 * accepted manually: anchors accepted, zero-conf from trusted peers); ChainMonitor persisting
 * every ChannelMonitor to `<dataDir>/monitors/`, the ChannelManager to `<dataDir>/manager.bin`
 * (restart = a new process on the same directory); PeerManager on real TCP sockets (our own
 * SocketDescriptor over node:net); blocks pulled from the devnet's bitcoind-compatible RPC
 * (`getblockhash` + `getblock <hash> 0`) and fed through `Listen::block_connected`; transactions
 * broadcast with `sendrawtransaction`; a fixed fee estimator (settable).
 *
 * On-chain wallet: LDK's KeysManager pays cooperative-close outputs to `p2wpkh(m/2')`, and sweeps
 * (SpendableOutputs) go to its destination script `p2wpkh(m/1')` (BIP32 from the same seed, as
 * LDK derives them; checked at start-up). The harness owns both keys: it tracks their outputs in
 * the blocks it feeds LDK and funds channels from them (built and signed with Farad's wallet
 * helpers); it is also LDK's `WalletSource` for anchor bumps (BumpTransactionEventHandler).
 *
 * Payments: claimable payments are claimed at once, or held on request (`hold`/`release`, kept
 * in `held.json` so a restarted process still claims them: LDK does not replay a handled
 * PaymentClaimable).
 *
 * Rules kept: LDK is never called from inside one of its own callbacks (events are collected,
 * then handled); `process_events`, `process_pending_events` and the timers are driven here; a
 * Rust panic (an exception out of the WASM) ends the process.
 */
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { HDKey } from '@scure/bip32';
import * as ldk from 'lightningdevkit';
import { signP2wpkh } from '../../src/core/wallet/build.js';
import { estimateP2wpkhTxWeight, feeForWeight } from '../../src/core/wallet/fees.js';
import { secp } from '../../src/protocol/crypto/secp256k1.js';
import { equal, fromHex, toHex } from '../../src/protocol/encoding/bytes.js';
import { Reader } from '../../src/protocol/encoding/reader.js';
import { decodeBlock } from '../../src/protocol/tx/block.js';
import { p2wpkh, p2wpkhScriptCode } from '../../src/protocol/tx/script.js';
import { derWithHashType } from '../../src/protocol/tx/signature.js';
import {
  decodeTx,
  encodeTx,
  readCompactSize,
  reverse,
  SIGHASH_ALL,
  sighashSegwitV0,
  type Transaction,
  txidHex,
} from '../../src/protocol/tx/transaction.js';
import type {
  LdkBalance,
  LdkChannel,
  LdkCommand,
  LdkEvent,
  LdkEventBody,
  LdkInit,
  LdkReply,
} from './ldk-protocol.js';

// ---------------------------------------------------------------------------------------------
// Plumbing: IPC, logging, fatal errors

const send = (m: LdkReply) => process.send?.(m);
let log = (_s: string) => {};

function fatal(e: unknown): never {
  const msg = e instanceof Error ? `${e.message}\n${e.stack}` : String(e);
  try {
    log(`FATAL ${msg}`);
  } catch {
    // the log may be gone
  }
  send({ type: 'fatal', error: msg });
  // A Rust panic leaves the WASM instance unusable: the process ends.
  setTimeout(() => process.exit(70), 50);
  throw e;
}
process.on('uncaughtException', (e) => fatal(e));
process.on('unhandledRejection', (e) => fatal(e));
process.on('disconnect', () => process.exit(0));

const hex = toHex;
/** The bindings hand u64 values over as signed 64-bit bigints. */
const u64 = (v: bigint) => BigInt.asUintN(64, v);
const txidOf = (o: ldk.OutPoint) => hex(reverse(o.get_txid()));

// ---------------------------------------------------------------------------------------------
// State

interface Utxo {
  txid: string;
  vout: number;
  value: bigint;
  script: Uint8Array;
  /** Seen in a block (else: change of our own unconfirmed funding transaction). */
  confirmed: boolean;
}

let init: LdkInit;
let rpcUrl: URL;
let auth: string;
let keys: ldk.KeysManager;
let cm: ldk.ChannelManager;
let chainMonitor: ldk.ChainMonitor;
let bumper: ldk.BumpTransactionEventHandler;
let pm: ldk.PeerManager;
let server: Server;
let height = 0;
const feerates = new Map<number, number>();
let defaultFeerate = 253;
const events: LdkEvent[] = [];
/** While true, claimable payments are held (their HTLCs stay in flight) until released. */
let holding = false;
const held: { hash: Uint8Array; preimage: ldk.Option_ThirtyTwoBytesZ }[] = [];
const broadcasts: string[] = [];
/** Wallet: the harness's view of the outputs paying to our two scripts. */
const utxos = new Map<string, Utxo>();
const locked = new Set<string>();
let walletKeys: { script: Uint8Array; priv: Uint8Array }[] = [];

function rec(e: LdkEventBody): void {
  events.push({ ...e, seq: events.length });
}

// ---------------------------------------------------------------------------------------------
// Chain: RPC, block feeding, wallet scan

async function rpc<T>(method: string, params: unknown[] = []): Promise<T> {
  const res = await fetch(rpcUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: auth },
    body: JSON.stringify({ jsonrpc: '1.0', id: 1, method, params }),
  });
  const j = (await res.json()) as { result: T; error: { code: number; message: string } | null };
  if (j.error) throw new Error(`${method}: ${j.error.code} ${j.error.message}`);
  return j.result;
}

let syncing: Promise<number> | undefined;
/** Feeds every block from our height + 1 to the devnet tip (no reorg handling: tests do not reorg). */
function syncChain(): Promise<number> {
  syncing ??= (async () => {
    try {
      const tip = await rpc<number>('getblockcount');
      while (height < tip) {
        const h = height + 1;
        const hash = await rpc<string>('getblockhash', [h]);
        const raw = fromHex(await rpc<string>('getblock', [hash, 0]));
        scanBlock(raw);
        chainMonitor.as_Listen().block_connected(raw, h);
        cm.as_Listen().block_connected(raw, h);
        height = h;
        writeFileSync(join(init.dataDir, 'height'), String(height));
        pump();
      }
      return height;
    } finally {
      syncing = undefined;
    }
  })();
  return syncing;
}

function scanBlock(raw: Uint8Array): void {
  const b = decodeBlock(raw);
  for (const tx of b.txs) {
    const id = txidHex(tx);
    for (const i of tx.inputs) {
      const k = `${hex(i.txid)}:${i.vout}`;
      utxos.delete(k);
      locked.delete(k);
    }
    tx.outputs.forEach((o, vout) => {
      if (walletKeys.some((w) => equal(w.script, o.scriptPubKey)))
        utxos.set(`${id}:${vout}`, {
          txid: id,
          vout,
          value: o.value,
          script: o.scriptPubKey,
          confirmed: true,
        });
    });
  }
}

async function broadcastHex(txHex: string): Promise<void> {
  try {
    await rpc<string>('sendrawtransaction', [txHex]);
  } catch (e) {
    log(`broadcast failed: ${(e as Error).message} ${txHex}`);
    rec({ type: 'BroadcastFailed', txid: txidHex(decodeTx(fromHex(txHex))), reason: (e as Error).message });
  }
}

// ---------------------------------------------------------------------------------------------
// Sockets: LDK's SocketDescriptor over node:net

let nextSocketId = 1n;
interface Conn {
  id: bigint;
  sock: Socket;
  desc: ldk.SocketDescriptor;
  /** LDK asked for the disconnect (no socket_disconnected needed). */
  byLdk: boolean;
  closed: boolean;
}
const conns = new Map<bigint, Conn>();

function wrapSocket(sock: Socket): Conn {
  const id = nextSocketId++;
  sock.setNoDelay(true);
  const c = { id, sock, byLdk: false, closed: false } as Conn;
  c.desc = ldk.SocketDescriptor.new_impl({
    send_data(data: Uint8Array, resumeRead: boolean): number {
      if (c.closed) return 0;
      if (data.length > 0) sock.write(data);
      if (resumeRead && sock.isPaused()) sock.resume();
      return data.length;
    },
    disconnect_socket(): void {
      c.byLdk = true;
      c.closed = true;
      sock.destroy();
    },
    eq(other: ldk.SocketDescriptor): boolean {
      return other.hash() === id;
    },
    hash(): bigint {
      return id;
    },
  });
  conns.set(id, c);
  sock.on('data', (buf: Buffer) => {
    if (c.closed) return;
    const r = pm.read_event(c.desc, new Uint8Array(buf));
    if (r instanceof ldk.Result_boolPeerHandleErrorZ_OK) {
      if (r.res) sock.pause();
    } else {
      c.closed = true;
      sock.destroy();
    }
    pump();
  });
  sock.on('error', () => undefined);
  sock.on('close', () => {
    conns.delete(id);
    if (!c.byLdk) pm.socket_disconnected(c.desc);
    c.closed = true;
    pump();
  });
  return c;
}

// ---------------------------------------------------------------------------------------------
// Event loop: peers, events, persistence, timers

let pumping = false;
let pumpAgain = false;
/** Runs LDK's message and event processing until nothing is left (never re-entered). */
function pump(): void {
  if (!cm) return;
  if (pumping) {
    pumpAgain = true;
    return;
  }
  pumping = true;
  try {
    for (let round = 0; round < 20; round++) {
      pumpAgain = false;
      pm.process_events();
      const got: ldk.Event[] = [];
      const handler = ldk.EventHandler.new_impl({
        handle_event(e: ldk.Event): ldk.Result_NoneReplayEventZ {
          got.push(e);
          return ldk.Result_NoneReplayEventZ.constructor_ok();
        },
      });
      chainMonitor.as_EventsProvider().process_pending_events(handler);
      cm.as_EventsProvider().process_pending_events(handler);
      for (const e of got) handleEvent(e);
      persistManager();
      pm.process_events();
      if (got.length === 0 && !pumpAgain) break;
    }
  } finally {
    pumping = false;
  }
}

function persistManager(): void {
  if (!cm.get_and_clear_needs_persistence()) return;
  const p = join(init.dataDir, 'manager.bin');
  writeFileSync(`${p}.tmp`, cm.write());
  renameSync(`${p}.tmp`, p);
}

const chanIdHex = (c: ldk.ChannelId) => hex(c.get_a());

function handleEvent(e: ldk.Event): void {
  if (e instanceof ldk.Event_FundingGenerationReady) {
    const tempId = chanIdHex(e.temporary_channel_id);
    try {
      const tx = buildFunding(e.output_script, e.channel_value_satoshis);
      const r = cm.funding_transaction_generated(e.temporary_channel_id, e.counterparty_node_id, tx.raw);
      if (!(r instanceof ldk.Result_NoneAPIErrorZ_OK)) throw new Error(apiErr(r));
      rec({ type: 'FundingGenerated', channelId: tempId, txid: tx.txid });
    } catch (err) {
      rec({ type: 'FundingFailed', channelId: tempId, reason: (err as Error).message });
    }
  } else if (e instanceof ldk.Event_OpenChannelRequest) {
    const peer = hex(e.counterparty_node_id);
    // Zero-conf only when the opener asked for it (option_zeroconf in channel_type) and we trust it.
    const zeroConf = Boolean(e.channel_type.requires_zero_conf()) && init.trustedPeers.includes(peer);
    const r = zeroConf
      ? cm.accept_inbound_channel_from_trusted_peer_0conf(
          e.temporary_channel_id,
          e.counterparty_node_id,
          BigInt(events.length),
        )
      : cm.accept_inbound_channel(e.temporary_channel_id, e.counterparty_node_id, BigInt(events.length));
    rec({
      type: 'OpenChannelRequest',
      channelId: chanIdHex(e.temporary_channel_id),
      peer,
      fundingSats: e.funding_satoshis,
      anchors: Boolean(e.channel_type.supports_anchors_zero_fee_htlc_tx()),
      zeroConf: Boolean(e.channel_type.requires_zero_conf()),
      accepted: r instanceof ldk.Result_NoneAPIErrorZ_OK,
      ...(r instanceof ldk.Result_NoneAPIErrorZ_OK ? {} : { reason: apiErr(r) }),
    });
  } else if (e instanceof ldk.Event_PendingHTLCsForwardable) {
    cm.process_pending_htlc_forwards();
  } else if (e instanceof ldk.Event_PaymentClaimable) {
    const pre = e.purpose.preimage();
    rec({ type: 'PaymentClaimable', paymentHash: hex(e.payment_hash), amountMsat: e.amount_msat });
    if (holding) {
      held.push({ hash: e.payment_hash, preimage: pre });
      saveHeld();
    } else if (pre instanceof ldk.Option_ThirtyTwoBytesZ_Some) cm.claim_funds(pre.some);
    else cm.fail_htlc_backwards(e.payment_hash);
  } else if (e instanceof ldk.Event_PaymentClaimed) {
    rec({ type: 'PaymentClaimed', paymentHash: hex(e.payment_hash), amountMsat: e.amount_msat });
  } else if (e instanceof ldk.Event_PaymentSent) {
    const fee = e.fee_paid_msat;
    rec({
      type: 'PaymentSent',
      paymentHash: hex(e.payment_hash),
      preimage: hex(e.payment_preimage),
      feeMsat: fee instanceof ldk.Option_u64Z_Some ? fee.some : 0n,
    });
  } else if (e instanceof ldk.Event_PaymentFailed) {
    const h = e.payment_hash;
    rec({
      type: 'PaymentFailed',
      paymentId: hex(e.payment_id),
      paymentHash: h instanceof ldk.Option_ThirtyTwoBytesZ_Some ? hex(h.some) : '',
      reason: String(e.reason instanceof ldk.Option_PaymentFailureReasonZ_Some ? e.reason.some : 'none'),
    });
  } else if (e instanceof ldk.Event_PaymentPathFailed) {
    const scid = e.short_channel_id;
    const f = e.failure;
    let networkUpdate: Extract<LdkEventBody, { type: 'PaymentPathFailed' }>['networkUpdate'];
    if (f instanceof ldk.PathFailure_OnPath && f.network_update instanceof ldk.Option_NetworkUpdateZ_Some) {
      const u = f.network_update.some;
      if (u instanceof ldk.NetworkUpdate_ChannelFailure)
        networkUpdate = {
          kind: 'channel',
          shortChannelId: u64(u.short_channel_id),
          permanent: Boolean(u.is_permanent),
        };
      else if (u instanceof ldk.NetworkUpdate_NodeFailure)
        networkUpdate = { kind: 'node', nodeId: hex(u.node_id), permanent: Boolean(u.is_permanent) };
    }
    rec({
      type: 'PaymentPathFailed',
      paymentHash: hex(e.payment_hash),
      permanent: Boolean(e.payment_failed_permanently),
      ...(scid instanceof ldk.Option_u64Z_Some ? { shortChannelId: u64(scid.some) } : {}),
      ...(networkUpdate ? { networkUpdate } : {}),
      ...(f instanceof ldk.PathFailure_InitialSend ? { initialSend: true } : {}),
    });
  } else if (e instanceof ldk.Event_PaymentForwarded) {
    const fee = e.total_fee_earned_msat;
    const out = e.outbound_amount_forwarded_msat;
    rec({
      type: 'PaymentForwarded',
      prevChannelId: e.prev_channel_id ? chanIdHex(e.prev_channel_id) : '',
      nextChannelId: e.next_channel_id ? chanIdHex(e.next_channel_id) : '',
      feeMsat: fee instanceof ldk.Option_u64Z_Some ? fee.some : undefined,
      outboundMsat: out instanceof ldk.Option_u64Z_Some ? out.some : undefined,
    });
  } else if (e instanceof ldk.Event_HTLCHandlingFailed) {
    rec({
      type: 'HTLCHandlingFailed',
      prevChannelId: chanIdHex(e.prev_channel_id),
      destination: e.failed_next_destination.constructor.name.replace(/^HTLCDestination_/, ''),
    });
  } else if (e instanceof ldk.Event_ChannelPending) {
    rec({
      type: 'ChannelPending',
      channelId: chanIdHex(e.channel_id),
      peer: hex(e.counterparty_node_id),
      fundingTxid: txidOf(e.funding_txo),
      fundingOutputIndex: e.funding_txo.get_index(),
    });
  } else if (e instanceof ldk.Event_ChannelReady) {
    rec({ type: 'ChannelReady', channelId: chanIdHex(e.channel_id), peer: hex(e.counterparty_node_id) });
  } else if (e instanceof ldk.Event_ChannelClosed) {
    rec({
      type: 'ChannelClosed',
      channelId: chanIdHex(e.channel_id),
      peer: hex(e.counterparty_node_id),
      reason: e.reason.constructor.name.replace(/^ClosureReason_/, ''),
      detail: e.reason.to_str(),
    });
  } else if (e instanceof ldk.Event_SpendableOutputs) {
    const dest = walletKeys[0]!.script;
    const r = keys
      .as_OutputSpender()
      .spend_spendable_outputs(e.outputs, [], dest, feerateFor(7), ldk.Option_u32Z.constructor_none());
    if (r instanceof ldk.Result_TransactionNoneZ_OK) {
      const txHex = hex(r.res);
      const id = txidHex(decodeTx(r.res));
      rec({
        type: 'SpendableOutputs',
        channelId: chanIdHex(e.channel_id),
        sweepTxid: id,
        count: e.outputs.length,
      });
      broadcasts.push(id);
      void broadcastHex(txHex);
    } else {
      rec({
        type: 'SpendableOutputs',
        channelId: chanIdHex(e.channel_id),
        sweepTxid: '',
        count: e.outputs.length,
      });
    }
  } else if (e instanceof ldk.Event_BumpTransaction) {
    // Anchor channels: CPFP of our commitment and funding of zero-fee HTLC transactions, with
    // coins of the harness wallet (LDK's Wallet over our WalletSource).
    const b = e.bump_transaction;
    rec({ type: 'BumpTransaction', kind: b.constructor.name.replace(/^BumpTransactionEvent_/, '') });
    bumper.handle_event(b);
  } else if (e instanceof ldk.Event_DiscardFunding) {
    rec({ type: 'DiscardFunding', channelId: chanIdHex(e.channel_id) });
  } else {
    rec({ type: 'Other', name: e.constructor.name.replace(/^Event_/, '') });
  }
}

/**
 * Held payments are written down: a handled `PaymentClaimable` is not generated again after a
 * restart (LDK keeps the HTLCs claimable, the application keeps the decision), so a restarted
 * process claims what its predecessor held.
 */
function saveHeld(): void {
  const list = held.map((h) => ({
    hash: hex(h.hash),
    preimage: h.preimage instanceof ldk.Option_ThirtyTwoBytesZ_Some ? hex(h.preimage.some) : null,
  }));
  writeFileSync(join(init.dataDir, 'held.json'), JSON.stringify(list));
}

function claimHeldFromFile(): void {
  const p = join(init.dataDir, 'held.json');
  if (!existsSync(p)) return;
  const list = JSON.parse(readFileSync(p, 'utf8')) as { hash: string; preimage: string | null }[];
  for (const h of list) {
    if (h.preimage) cm.claim_funds(fromHex(h.preimage));
    else cm.fail_htlc_backwards(fromHex(h.hash));
  }
  writeFileSync(p, '[]');
}

function apiErr(r: unknown): string {
  if (r && typeof r === 'object' && 'err' in r) {
    const err = (r as { err: unknown }).err as Record<string, unknown>;
    const name = (err?.constructor as { name?: string })?.name ?? 'APIError';
    const detail = 'err' in err ? String(err.err) : 'reason' in err ? String(err.reason) : '';
    return `${name}: ${detail}`;
  }
  return 'error';
}

// ---------------------------------------------------------------------------------------------
// Wallet

function spendable(): Utxo[] {
  return [...utxos.entries()]
    .filter(([k]) => !locked.has(k))
    .map(([, u]) => u)
    .sort((a, b) => (a.value > b.value ? -1 : a.value < b.value ? 1 : 0));
}

function buildFunding(script: Uint8Array, sats: bigint): { raw: Uint8Array; txid: string } {
  const change = walletKeys[0]!.script;
  const picked: Utxo[] = [];
  let sum = 0n;
  let fee = 0n;
  for (const u of spendable()) {
    picked.push(u);
    sum += u.value;
    fee = feeForWeight(estimateP2wpkhTxWeight(picked.length, [script.length, change.length]), 1000n);
    if (sum >= sats + fee + 1000n) break;
  }
  if (sum < sats + fee + 1000n) throw new Error(`wallet has ${sum} sat, needs ${sats + fee}`);
  const signed = signP2wpkh(
    {
      inputs: picked.map((u) => ({ txid: u.txid, vout: u.vout, value: u.value, script: u.script })),
      outputs: [
        { value: sats, scriptPubKey: script },
        { value: sum - sats - fee, scriptPubKey: change },
      ],
      locktime: height,
    },
    (i) => walletKeys.find((w) => equal(w.script, picked[i]!.script))!.priv,
  );
  for (const u of picked) locked.add(`${u.txid}:${u.vout}`);
  // The change can fund the next channel before this one confirms.
  utxos.set(`${signed.txid}:1`, {
    txid: signed.txid,
    vout: 1,
    value: sum - sats - fee,
    script: change,
    confirmed: false,
  });
  return { raw: signed.raw, txid: signed.txid };
}

/** LDK's view of the harness wallet, for its anchor bumps (coin selection, change, signing). */
function walletSource(): ldk.WalletSource {
  return ldk.WalletSource.new_impl({
    list_confirmed_utxos(): ldk.Result_CVec_UtxoZNoneZ {
      const list = spendable()
        .filter((u) => u.confirmed)
        .map((u) =>
          ldk.Utxo.constructor_new(
            ldk.OutPoint.constructor_new(reverse(fromHex(u.txid)), u.vout),
            ldk.TxOut.constructor_new(u.value, u.script),
            // empty scriptSig (4 WU) + witness: count, DER signature (<= 73), pubkey (33)
            BigInt(4 + 1 + 1 + 73 + 1 + 33),
          ),
        );
      return ldk.Result_CVec_UtxoZNoneZ.constructor_ok(list);
    },
    get_change_script(): ldk.Result_CVec_u8ZNoneZ {
      return ldk.Result_CVec_u8ZNoneZ.constructor_ok(walletKeys[0]!.script);
    },
    sign_psbt(psbt: Uint8Array): ldk.Result_TransactionNoneZ {
      try {
        const tx = psbtUnsignedTx(psbt);
        tx.inputs.forEach((input, i) => {
          const u = utxos.get(`${hex(input.txid)}:${input.vout}`);
          const w = u && walletKeys.find((k) => equal(k.script, u.script));
          if (!u || !w) return; // not ours (the anchor or HTLC input LDK signs itself)
          const pub = secp().publicKey(w.priv);
          const digest = sighashSegwitV0(tx, i, p2wpkhScriptCode(pub), u.value, SIGHASH_ALL);
          input.witness = [derWithHashType(secp().sign(digest, w.priv), SIGHASH_ALL), pub];
        });
        return ldk.Result_TransactionNoneZ.constructor_ok(encodeTx(tx));
      } catch (err) {
        log(`sign_psbt: ${(err as Error).message}`);
        return ldk.Result_TransactionNoneZ.constructor_err();
      }
    },
  });
}

/** The unsigned transaction of a BIP 174 PSBT (global key type 0x00). */
function psbtUnsignedTx(psbt: Uint8Array): Transaction {
  const r = new Reader(psbt);
  if (hex(r.bytes(5)) !== '70736274ff') throw new Error('not a PSBT');
  for (;;) {
    const klen = readCompactSize(r);
    if (klen === 0) break;
    const key = r.bytes(klen);
    const val = r.bytes(readCompactSize(r));
    if (key.length === 1 && key[0] === 0) return decodeTx(val);
  }
  throw new Error('PSBT without unsigned transaction');
}

// ---------------------------------------------------------------------------------------------
// Start-up

function feerateFor(target: number): number {
  return feerates.get(target) ?? defaultFeerate;
}

function userConfig(anchors: boolean): ldk.UserConfig {
  const cfg = ldk.UserConfig.constructor_default();
  const hs = ldk.ChannelHandshakeConfig.constructor_default();
  hs.set_negotiate_anchors_zero_fee_htlc_tx(anchors);
  hs.set_minimum_depth(init.minimumDepth);
  hs.set_max_inbound_htlc_value_in_flight_percent_of_channel(100);
  hs.set_our_max_accepted_htlcs(50);
  cfg.set_channel_handshake_config(hs);
  const lim = ldk.ChannelHandshakeLimits.constructor_default();
  lim.set_trust_own_funding_0conf(true);
  cfg.set_channel_handshake_limits(lim);
  // LDK counts the commitment transaction's fee growth from HTLCs as "dust exposure" (default
  // limit 10_000 x the feerate estimate, ~2.5k sat at 253 sat/kw): 25 HTLCs on a commitment at
  // Farad's 500 sat/kw exceed it. The tests need more HTLCs in flight: a fixed 100k sat limit.
  const cc = ldk.ChannelConfig.constructor_default();
  cc.set_max_dust_htlc_exposure(ldk.MaxDustHTLCExposure.constructor_fixed_limit_msat(100_000_000n));
  cfg.set_channel_config(cc);
  // Our channels are unannounced: let LDK forward over them (multihop.test.ts routes through them).
  cfg.set_accept_forwards_to_priv_channels(true);
  cfg.set_manually_accept_inbound_channels(true);
  cfg.set_accept_inbound_channels(true);
  return cfg;
}

async function start(i: LdkInit): Promise<{ nodeId: string; port: number; height: number }> {
  init = i;
  mkdirSync(join(i.dataDir, 'monitors'), { recursive: true });
  const out = createWriteStream(join(i.dataDir, 'ldk.log'), { flags: 'a' });
  log = (s) => void out.write(`${new Date().toISOString()} ${s}\n`);
  rpcUrl = new URL(i.rpcUrl);
  auth = `Basic ${Buffer.from(`${decodeURIComponent(rpcUrl.username)}:${decodeURIComponent(rpcUrl.password)}`).toString('base64')}`;
  rpcUrl.username = '';
  rpcUrl.password = '';
  const wasm = readFileSync(createRequire(import.meta.url).resolve('lightningdevkit/liblightningjs.wasm'));
  await ldk.initializeWasmFromBinary(wasm);
  // Fee estimates: 253 sat/kw (the floor) everywhere except the commitment fee of non-anchor
  // channels, which follows the devnet's estimatesmartfee(6) as Farad's does (Farad refuses an
  // open_channel feerate below half its own estimate).
  const est = await rpc<{ feerate: number }>('estimatesmartfee', [6]);
  feerates.set(
    ldk.ConfirmationTarget.LDKConfirmationTarget_NonAnchorChannelFee,
    Math.max(253, Math.round((est.feerate * 1e8) / 4)),
  );

  const seed = fromHex(i.seed);
  const now = Date.now();
  keys = ldk.KeysManager.constructor_new(seed, BigInt(Math.floor(now / 1000)), (now % 1000) * 1_000_000);
  // LDK's KeysManager: BIP32 master from the seed; m/0' node key, m/1' destination (sweeps),
  // m/2' shutdown (cooperative close) key. The harness wallet owns m/1' and m/2'.
  const master = HDKey.fromMasterSeed(seed);
  const node = master.derive("m/0'");
  const nid = keys.as_NodeSigner().get_node_id(ldk.Recipient.LDKRecipient_Node);
  if (!(nid instanceof ldk.Result_PublicKeyNoneZ_OK)) throw new Error('no node id');
  const nodeId = hex(nid.res);
  if (hex(secp().publicKey(node.privateKey!)) !== nodeId) throw new Error('KeysManager derivation differs');
  walletKeys = ["m/1'", "m/2'"].map((p) => {
    const priv = master.derive(p).privateKey!;
    return { priv, script: p2wpkh(secp().publicKey(priv)) };
  });
  const dest = keys.as_SignerProvider().get_destination_script(new Uint8Array(32));
  if (!(dest instanceof ldk.Result_CVec_u8ZNoneZ_OK) || !equal(dest.res, walletKeys[0]!.script))
    throw new Error('destination script differs');
  const shut = keys.as_SignerProvider().get_shutdown_scriptpubkey();
  if (
    !(shut instanceof ldk.Result_ShutdownScriptNoneZ_OK) ||
    !equal(shut.res.as_legacy_pubkey() ?? new Uint8Array(), secp().publicKey(walletKeys[1]!.priv))
  )
    throw new Error('shutdown script differs');

  const logger = ldk.Logger.new_impl({
    log(r: ldk.Record): void {
      if (r.get_level() >= ldk.Level.LDKLevel_Debug)
        log(`${ldk.Level[r.get_level()]} ${r.get_module_path()} ${r.get_args()}`);
    },
  });
  const feeEst = ldk.FeeEstimator.new_impl({
    get_est_sat_per_1000_weight(t: ldk.ConfirmationTarget): number {
      return feerateFor(t);
    },
  });
  const broadcaster = ldk.BroadcasterInterface.new_impl({
    broadcast_transactions(txs: Uint8Array[]): void {
      for (const t of txs) {
        const id = txidHex(decodeTx(t));
        broadcasts.push(id);
        log(`broadcast ${id}`);
        void broadcastHex(hex(t));
      }
    },
  });
  const monDir = join(i.dataDir, 'monitors');
  const writeMonitor = (o: ldk.OutPoint, m: ldk.ChannelMonitor) => {
    const p = join(monDir, `${txidOf(o)}_${o.get_index()}.bin`);
    writeFileSync(`${p}.tmp`, m.write());
    renameSync(`${p}.tmp`, p);
    return ldk.ChannelMonitorUpdateStatus.LDKChannelMonitorUpdateStatus_Completed;
  };
  const persister = ldk.Persist.new_impl({
    persist_new_channel: (o: ldk.OutPoint, m: ldk.ChannelMonitor) => writeMonitor(o, m),
    update_persisted_channel: (o: ldk.OutPoint, _u: ldk.ChannelMonitorUpdate | null, m: ldk.ChannelMonitor) =>
      writeMonitor(o, m),
    archive_persisted_channel(o: ldk.OutPoint): void {
      const p = join(monDir, `${txidOf(o)}_${o.get_index()}.bin`);
      if (existsSync(p)) renameSync(p, `${p}.archived`);
    },
  });
  bumper = ldk.BumpTransactionEventHandler.constructor_new(
    broadcaster,
    ldk.Wallet.constructor_new(walletSource(), logger).as_CoinSelectionSource(),
    keys.as_SignerProvider(),
    logger,
  );
  chainMonitor = ldk.ChainMonitor.constructor_new(
    ldk.Option_FilterZ.constructor_none(),
    broadcaster,
    logger,
    feeEst,
    persister,
  );
  const graph = ldk.NetworkGraph.constructor_new(ldk.Network.LDKNetwork_Regtest, logger);
  const scorer = ldk.ProbabilisticScorer.constructor_new(
    ldk.ProbabilisticScoringDecayParameters.constructor_default(),
    graph,
    logger,
  );
  const score = ldk.MultiThreadedLockableScore.constructor_new(scorer.as_Score());
  const router = ldk.DefaultRouter.constructor_new(
    graph,
    logger,
    keys.as_EntropySource(),
    score.as_LockableScore(),
    ldk.ProbabilisticScoringFeeParameters.constructor_default(),
  );
  const msgRouter = ldk.DefaultMessageRouter.constructor_new(graph, keys.as_EntropySource());
  const config = userConfig(true);

  const managerPath = join(i.dataDir, 'manager.bin');
  if (existsSync(managerPath)) {
    // Restart: monitors first, then the manager that references them, then hand the monitors to
    // the chain monitor and catch up with the chain.
    const monitors: ldk.ChannelMonitor[] = [];
    for (const f of readdirSync(monDir).filter((n) => n.endsWith('.bin'))) {
      const r = ldk.UtilMethods.constructor_C2Tuple_ThirtyTwoBytesChannelMonitorZ_read(
        readFileSync(join(monDir, f)),
        keys.as_EntropySource(),
        keys.as_SignerProvider(),
      );
      if (!(r instanceof ldk.Result_C2Tuple_ThirtyTwoBytesChannelMonitorZDecodeErrorZ_OK))
        throw new Error(`cannot read monitor ${f}`);
      monitors.push(r.res.get_b());
    }
    const r = ldk.UtilMethods.constructor_C2Tuple_ThirtyTwoBytesChannelManagerZ_read(
      readFileSync(managerPath),
      keys.as_EntropySource(),
      keys.as_NodeSigner(),
      keys.as_SignerProvider(),
      feeEst,
      chainMonitor.as_Watch(),
      broadcaster,
      router.as_Router(),
      msgRouter.as_MessageRouter(),
      logger,
      config,
      monitors,
    );
    if (!(r instanceof ldk.Result_C2Tuple_ThirtyTwoBytesChannelManagerZDecodeErrorZ_OK))
      throw new Error('cannot read the channel manager');
    cm = r.res.get_b();
    for (const m of monitors) {
      const w = chainMonitor.as_Watch().watch_channel(m.get_funding_txo().get_a(), m);
      if (!(w instanceof ldk.Result_ChannelMonitorUpdateStatusNoneZ_OK))
        throw new Error('watch_channel failed');
    }
    claimHeldFromFile();
    height = cm.current_best_block().get_height();
    for (const m of monitors) height = Math.min(height, m.current_best_block().get_height());
    // Rebuild the wallet from the chain (the harness keeps no wallet file).
    for (let h = 1; h <= height; h++)
      scanBlock(fromHex(await rpc<string>('getblock', [await rpc<string>('getblockhash', [h]), 0])));
  } else {
    const tip = await rpc<number>('getblockcount');
    const hash = await rpc<string>('getblockhash', [tip]);
    for (let h = 1; h <= tip; h++)
      scanBlock(fromHex(await rpc<string>('getblock', [await rpc<string>('getblockhash', [h]), 0])));
    height = tip;
    const params = ldk.ChainParameters.constructor_new(
      ldk.Network.LDKNetwork_Regtest,
      ldk.BestBlock.constructor_new(reverse(fromHex(hash)), tip),
    );
    const header = await rpc<{ time: number }>('getblockheader', [hash, true]);
    cm = ldk.ChannelManager.constructor_new(
      feeEst,
      chainMonitor.as_Watch(),
      broadcaster,
      router.as_Router(),
      msgRouter.as_MessageRouter(),
      logger,
      keys.as_EntropySource(),
      keys.as_NodeSigner(),
      keys.as_SignerProvider(),
      config,
      params,
      header.time,
    );
    persistManager();
  }

  const ignorer = ldk.IgnoringMessageHandler.constructor_new();
  pm = ldk.PeerManager.constructor_new(
    cm.as_ChannelMessageHandler(),
    ignorer.as_RoutingMessageHandler(),
    ignorer.as_OnionMessageHandler(),
    ignorer.as_CustomMessageHandler(),
    Math.floor(Date.now() / 1000),
    keys.as_EntropySource().get_secure_random_bytes(),
    logger,
    keys.as_NodeSigner(),
  );
  await syncChain();

  server = createServer((s) => {
    const c = wrapSocket(s);
    const r = pm.new_inbound_connection(c.desc, ldk.Option_SocketAddressZ.constructor_none());
    if (!(r instanceof ldk.Result_NonePeerHandleErrorZ_OK)) {
      c.byLdk = true;
      s.destroy();
    }
  });
  const port = await new Promise<number>((resolve) => {
    server.listen(i.port ?? 0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
  });
  setInterval(() => pump(), 25).unref();
  setInterval(() => void syncChain().catch((e) => log(`sync: ${e}`)), 250).unref();
  // LDK's timers (ping/pong liveness, channel housekeeping), as its background processor does.
  setInterval(() => {
    pm.timer_tick_occurred();
    pump();
  }, 10_000).unref();
  setInterval(() => {
    cm.timer_tick_occurred();
    pump();
  }, 60_000).unref();
  return { nodeId, port, height };
}

// ---------------------------------------------------------------------------------------------
// Commands

function channels(): LdkChannel[] {
  return cm.list_channels().map((c) => {
    const f = c.get_funding_txo();
    const scid = c.get_short_channel_id();
    const inA = c.get_inbound_scid_alias();
    const outA = c.get_outbound_scid_alias();
    const fr = c.get_feerate_sat_per_1000_weight();
    const conf = c.get_confirmations();
    const t = c.get_channel_type();
    const fwd = c.get_counterparty().get_forwarding_info();
    return {
      channelId: chanIdHex(c.get_channel_id()),
      peer: hex(c.get_counterparty().get_node_id()),
      fundingTxid: f ? txidOf(f) : undefined,
      fundingOutputIndex: f ? f.get_index() : undefined,
      capacitySat: c.get_channel_value_satoshis(),
      outboundCapacityMsat: c.get_outbound_capacity_msat(),
      inboundCapacityMsat: c.get_inbound_capacity_msat(),
      isOutbound: Boolean(c.get_is_outbound()),
      isReady: Boolean(c.get_is_channel_ready()),
      isUsable: Boolean(c.get_is_usable()),
      shortChannelId: scid instanceof ldk.Option_u64Z_Some ? u64(scid.some) : undefined,
      inboundScidAlias: inA instanceof ldk.Option_u64Z_Some ? u64(inA.some) : undefined,
      outboundScidAlias: outA instanceof ldk.Option_u64Z_Some ? u64(outA.some) : undefined,
      feeratePerKw: fr instanceof ldk.Option_u32Z_Some ? fr.some : undefined,
      confirmations: conf instanceof ldk.Option_u32Z_Some ? conf.some : undefined,
      anchors: t ? Boolean(t.supports_anchors_zero_fee_htlc_tx()) : false,
      zeroConf: t ? Boolean(t.requires_zero_conf()) : false,
      pendingInboundHtlcs: c.get_pending_inbound_htlcs().length,
      pendingOutboundHtlcs: c.get_pending_outbound_htlcs().length,
      forwardingFeeBaseMsat: c.get_config()?.get_forwarding_fee_base_msat() ?? -1,
      forwardingFeeProportionalMillionths: c.get_config()?.get_forwarding_fee_proportional_millionths() ?? -1,
      cltvExpiryDelta: c.get_config()?.get_cltv_expiry_delta() ?? -1,
      counterpartyForwarding: fwd
        ? {
            feeBaseMsat: fwd.get_fee_base_msat(),
            feeProportionalMillionths: fwd.get_fee_proportional_millionths(),
            cltvExpiryDelta: fwd.get_cltv_expiry_delta(),
          }
        : undefined,
    };
  });
}

/**
 * LDK's claimable balances per funding outpoint ("txid:vout"), read from the persisted monitors
 * (written synchronously on every update, so current): `ChainMonitor::get_claimable_balances`
 * does not say which channel a balance belongs to.
 */
function balances(): Record<string, LdkBalance[]> {
  const res: Record<string, LdkBalance[]> = {};
  const dir = join(init.dataDir, 'monitors');
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.bin'))) {
    const r = ldk.UtilMethods.constructor_C2Tuple_ThirtyTwoBytesChannelMonitorZ_read(
      readFileSync(join(dir, f)),
      keys.as_EntropySource(),
      keys.as_SignerProvider(),
    );
    if (!(r instanceof ldk.Result_C2Tuple_ThirtyTwoBytesChannelMonitorZDecodeErrorZ_OK)) continue;
    const m = r.res.get_b();
    const o = m.get_funding_txo().get_a();
    res[`${txidOf(o)}:${o.get_index()}`] = m.get_claimable_balances().map((b) => ({
      kind: b.constructor.name.replace(/^Balance_/, ''),
      amountSat: b.claimable_amount_satoshis(),
      ...(b instanceof ldk.Balance_ClaimableOnChannelClose ? { feeSat: b.transaction_fee_satoshis } : {}),
    }));
  }
  return res;
}

function findChannel(id: string): ldk.ChannelDetails {
  const c = cm.list_channels().find((x) => chanIdHex(x.get_channel_id()) === id.toLowerCase());
  if (!c) throw new Error(`no channel ${id}`);
  return c;
}

async function run(cmd: LdkCommand): Promise<unknown> {
  switch (cmd.cmd) {
    case 'init':
      return start(cmd.init);
    case 'sync':
      await syncChain();
      pump();
      return height;
    case 'connect': {
      const sock = tcpConnect({ host: cmd.host, port: cmd.port });
      await new Promise<void>((resolve, reject) => {
        sock.once('connect', () => resolve());
        sock.once('error', reject);
      });
      const c = wrapSocket(sock);
      const r = pm.new_outbound_connection(
        fromHex(cmd.nodeId),
        c.desc,
        ldk.Option_SocketAddressZ.constructor_none(),
      );
      if (!(r instanceof ldk.Result_CVec_u8ZPeerHandleErrorZ_OK)) {
        c.byLdk = true;
        sock.destroy();
        throw new Error('new_outbound_connection failed');
      }
      sock.write(r.res);
      pump();
      return true;
    }
    case 'disconnect':
      pm.disconnect_by_node_id(fromHex(cmd.nodeId));
      pump();
      return true;
    case 'peers':
      return pm.list_peers().map((p) => ({
        nodeId: hex(p.get_counterparty_node_id()),
        inbound: Boolean(p.get_is_inbound_connection()),
        features: hex(p.get_init_features().write()),
      }));
    case 'openChannel': {
      const r = cm.create_channel(
        fromHex(cmd.nodeId),
        cmd.sats,
        cmd.pushMsat ?? 0n,
        BigInt(events.length),
        null,
        userConfig(cmd.anchors),
      );
      if (!(r instanceof ldk.Result_ChannelIdAPIErrorZ_OK)) throw new Error(apiErr(r));
      pump();
      return chanIdHex(r.res);
    }
    case 'listChannels':
      return channels();
    case 'balances':
      return balances();
    case 'wallet': {
      let confirmed = 0n;
      for (const u of utxos.values()) if (u.confirmed) confirmed += u.value;
      return { confirmedSat: confirmed, utxos: utxos.size, scripts: walletKeys.map((w) => hex(w.script)) };
    }
    case 'createInvoice': {
      const d = ldk.Description.constructor_new(cmd.description ?? '');
      if (!(d instanceof ldk.Result_DescriptionCreationErrorZ_OK)) throw new Error('bad description');
      const r = cm.create_bolt11_invoice(
        cmd.amountMsat === undefined
          ? ldk.Option_u64Z.constructor_none()
          : ldk.Option_u64Z.constructor_some(cmd.amountMsat),
        ldk.Bolt11InvoiceDescription.constructor_direct(d.res),
        ldk.Option_u32Z.constructor_some(cmd.expiry ?? 3600),
        ldk.Option_u16Z.constructor_none(),
        ldk.Option_ThirtyTwoBytesZ.constructor_none(),
      );
      if (!(r instanceof ldk.Result_Bolt11InvoiceSignOrCreationErrorZ_OK))
        throw new Error('invoice creation failed');
      return r.res.to_str();
    }
    case 'pay': {
      const inv = ldk.Bolt11Invoice.constructor_from_str(cmd.bolt11);
      if (!(inv instanceof ldk.Result_Bolt11InvoiceParseOrSemanticErrorZ_OK))
        throw new Error('cannot parse invoice');
      const p =
        cmd.amountMsat === undefined
          ? ldk.UtilMethods.constructor_payment_parameters_from_invoice(inv.res)
          : ldk.UtilMethods.constructor_payment_parameters_from_variable_amount_invoice(
              inv.res,
              cmd.amountMsat,
            );
      if (!(p instanceof ldk.Result_C3Tuple_ThirtyTwoBytesRecipientOnionFieldsRouteParametersZNoneZ_OK))
        throw new Error('payment_parameters_from_invoice failed');
      const hash = p.res.get_a();
      const routeParams = p.res.get_c();
      if (cmd.hints?.length) {
        const pp = routeParams.get_payment_params();
        const payee = pp.get_payee();
        if (!(payee instanceof ldk.Payee_Clear)) throw new Error('not a BOLT 11 payee');
        const extra = cmd.hints.map((h) =>
          ldk.RouteHint.constructor_new(
            h.map((x) =>
              ldk.RouteHintHop.constructor_new(
                fromHex(x.nodeId),
                x.shortChannelId,
                ldk.RoutingFees.constructor_new(x.feeBaseMsat, x.feeProportionalMillionths),
                x.cltvExpiryDelta,
                ldk.Option_u64Z.constructor_none(),
                ldk.Option_u64Z.constructor_none(),
              ),
            ),
          ),
        );
        pp.set_payee(
          ldk.Payee.constructor_clear(
            payee.node_id,
            [...payee.route_hints, ...extra],
            payee.features,
            payee.final_cltv_expiry_delta,
          ),
        );
        routeParams.set_payment_params(pp);
      }
      const r = cm.send_payment(hash, p.res.get_b(), hash, routeParams, ldk.Retry.constructor_attempts(0));
      if (!(r instanceof ldk.Result_NoneRetryableSendFailureZ_OK))
        throw new Error(`send_payment failed: ${(r as { err?: unknown }).err}`);
      pump();
      return hex(hash);
    }
    case 'close': {
      const c = findChannel(cmd.channelId);
      const id = c.get_channel_id();
      const peer = c.get_counterparty().get_node_id();
      const r = cmd.force
        ? cm.force_close_broadcasting_latest_txn(id, peer, 'interop test')
        : cm.close_channel(id, peer);
      if (!(r instanceof ldk.Result_NoneAPIErrorZ_OK)) throw new Error(apiErr(r));
      pump();
      return true;
    }
    case 'setFeerate':
      if (cmd.target === undefined) defaultFeerate = cmd.satPerKw;
      else feerates.set(ldk.ConfirmationTarget[cmd.target], cmd.satPerKw);
      return true;
    case 'hold':
      holding = true;
      return true;
    case 'release': {
      // Without a hash: stop holding and settle everything held; with one: settle that payment.
      if (cmd.hash === undefined) holding = false;
      const pick = held.filter((h) => cmd.hash === undefined || hex(h.hash) === cmd.hash);
      const n = pick.length;
      for (const h of pick) {
        held.splice(held.indexOf(h), 1);
        if (cmd.fail || !(h.preimage instanceof ldk.Option_ThirtyTwoBytesZ_Some))
          cm.fail_htlc_backwards(h.hash);
        else cm.claim_funds(h.preimage.some);
      }
      saveHeld();
      pump();
      return n;
    }
    case 'tick':
      cm.timer_tick_occurred();
      pm.timer_tick_occurred();
      pump();
      return true;
    case 'events':
      return events.slice(cmd.since ?? 0);
    case 'broadcasts':
      return [...broadcasts];
    case 'stop':
      persistManager();
      setTimeout(() => process.exit(0), 10);
      return true;
  }
}

process.on('message', (raw) => {
  const m = raw as { id: number; body: LdkCommand };
  run(m.body).then(
    (result) => send({ type: 'reply', id: m.id, ok: true, result }),
    (e: unknown) => {
      // A Rust panic surfaces as a WebAssembly trap: the instance is unusable from then on.
      if (e instanceof Error && e.name === 'RuntimeError') fatal(e);
      send({ type: 'reply', id: m.id, ok: false, error: e instanceof Error ? e.message : String(e) });
    },
  );
});
send({ type: 'ready' });
