/**
 * Payments and the node runtime's edges, in-process on the devnet (memory stores): a zero-conf
 * channel from a trusted peer (refused from an untrusted one), BOLT 11 checks on both sides
 * (payer pre-flight checks; payee: unknown hash, wrong payment secret, amount), any-amount
 * invoices, the durable event queue, the MonitorSink contract and a force close whose
 * commitment the devnet accepts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Devnet, startDevnet } from '../../src/apps/devnet/index.js';
import { localSecret } from '../../src/core/channel/keys.js';
import { EventQueue, type MonitorSink, type StoredMonitorUpdate } from '../../src/node/channels/index.js';
import { decodeChannelRecord, fundedData } from '../../src/node/channels/manager.js';
import { NodeKeys } from '../../src/node/keys/index.js';
import { PaymentError } from '../../src/node/payments/index.js';
import type { KVStore } from '../../src/node/ports/store.js';
import { sha256 } from '../../src/protocol/crypto/hash.js';
import { equal, toHex } from '../../src/protocol/encoding/bytes.js';
import { Feature } from '../../src/protocol/features.js';
import { type Bolt11Field, decodeInvoice, encodeInvoice } from '../../src/protocol/invoice/index.js';
import { useFastCrypto } from '../core/channel/harness.js';
import { connect, startNode, stopNode, sync, type TestNode, waitFor } from './helpers.js';

let d: Devnet;
let alice: TestNode;
let bob: TestNode;
let chanId: string;
const sinkLog: Array<{ channelId: string; updates: readonly StoredMonitorUpdate[] }> = [];
const sink: MonitorSink = { monitorUpdates: (channelId, updates) => sinkLog.push({ channelId, updates }) };

/** Bob's store batches and outgoing messages, in order. */
const trace: Array<{ kind: 'batch'; namespaces: string[] } | { kind: 'send'; msg: string; inBatch: number }> =
  [];
let inBatch = 0;
/** Bob's channel records as they became durable (what a restart would find), decoded. */
const durable: Array<ReturnType<typeof decodeChannelRecord>> = [];
/** Bob's commitment_signed / revoke_and_ack that left before the state they depend on was durable. */
const early: string[] = [];
function checkDurableBeforeSend(msg: { type: string } & Record<string, unknown>): void {
  if (msg.type === 'commitment_signed') {
    // The commitment we signed (with this exact signature) is in a durable record.
    const sig = msg.signature as Uint8Array;
    const ok = durable.some((r) => {
      const w = fundedData(r.state)?.commitments.waiting;
      return w !== undefined && equal(w.sent.signature, sig);
    });
    if (!ok) early.push('commitment_signed');
  } else if (msg.type === 'revoke_and_ack') {
    // A durable record already holds the commitment that replaces the one this message revokes.
    const secret = msg.perCommitmentSecret as Uint8Array;
    const ok = durable.some((r) => {
      const c = fundedData(r.state)?.commitments;
      if (!c || c.localCommit.index === 0) return false;
      const keys = bob.keys.channelKeys(r.header.keyIndex);
      for (let k = c.localCommit.index - 1; k >= Math.max(0, c.localCommit.index - 3); k--)
        if (equal(localSecret(keys, k), secret)) return true;
      return false;
    });
    if (!ok) early.push('revoke_and_ack');
  }
}
function recordingStore(s: KVStore): KVStore {
  const pending = new Set<Promise<void>>();
  return {
    barrier: async () => {
      await Promise.all([...pending]);
    },
    read: (n, k) => s.read(n, k),
    write: (n, k, v) => s.write(n, k, v),
    remove: (n, k) => s.remove(n, k),
    list: (n) => s.list(n),
    close: () => s.close(),
    batch: (ops) => {
      // Channel-state batches (those of the single channel's serialised steps) are tracked.
      const chan = ops.some((o) => o.namespace === 'channels') ? 1 : 0;
      inBatch += chan;
      const p = (async () => {
        try {
          await new Promise((r) => setTimeout(r, 1)); // a slow disk
          await s.batch(ops);
          for (const o of ops)
            if (o.op === 'put' && o.namespace === 'channels') durable.push(decodeChannelRecord(o.value));
        } finally {
          inBatch -= chan;
        }
        trace.push({ kind: 'batch', namespaces: [...new Set(ops.map((o) => o.namespace))] });
      })();
      pending.add(p);
      p.finally(() => pending.delete(p)).catch(() => undefined);
      return p;
    },
  };
}

beforeAll(async () => {
  useFastCrypto();
  d = await startDevnet();
  d.mine(101);
  const aliceId = new NodeKeys(new Uint8Array(32).fill(11)).nodeId;
  alice = await startNode(d, 'alice', { seedByte: 11 });
  bob = await startNode(d, 'bob', {
    seedByte: 12,
    trustedPeers: [aliceId],
    monitorSink: sink,
    wrapStore: (s) => recordingStore(s),
    wrapPeers: (p) => ({
      sendMessage: (id, msg) => {
        trace.push({ kind: 'send', msg: msg.type, inBatch });
        checkDurableBeforeSend(msg as unknown as { type: string } & Record<string, unknown>);
        return p.sendMessage(id, msg);
      },
      isConnected: (id) => p.isConnected(id),
      onPeerConnected: (l) => p.onPeerConnected(l),
      onPeerDisconnected: (l) => p.onPeerDisconnected(l),
    }),
  });
  d.fund(alice.wallet.newAddress(), 2_000_000n);
  d.fund(bob.wallet.newAddress(), 2_000_000n);
  d.mine(1);
  await sync(alice, bob);
  await connect(alice, bob);
});

afterAll(async () => {
  for (const n of [alice, bob]) await stopNode(n).catch(() => undefined);
  await d?.stop();
});

/** A BOLT 11 invoice signed by `by` with custom fields (to exercise the payee's checks). */
function craft(
  by: TestNode,
  o: {
    hash: Uint8Array;
    secret: Uint8Array;
    amountMsat: bigint | null;
    timestamp?: number;
    network?: 'regtest' | 'signet';
  },
): string {
  const fields: Bolt11Field[] = [
    { kind: 'payment_hash', value: o.hash },
    { kind: 'payment_secret', value: o.secret },
    { kind: 'description', value: 'crafted' },
    { kind: 'features', value: [Feature.var_onion_optin, Feature.payment_secret] },
  ];
  return encodeInvoice(
    {
      network: o.network ?? 'regtest',
      amountMsat: o.amountMsat,
      timestamp: o.timestamp ?? Math.floor(Date.now() / 1000),
      fields,
    },
    by.keys.nodeSecretKey,
  );
}

describe('zero-conf channels', () => {
  it('a trusted peer opens a zero-conf channel usable before any confirmation', async () => {
    const heightBefore = d.chain.height;
    const r = await alice.cm.openChannel(bob.keys.nodeId, 800_000n, {
      channelType: 'anchors',
      zeroConf: true,
    });
    chanId = r.channelId;
    await waitFor(
      () => alice.cm.channel(chanId)?.state === 'Normal' && bob.cm.channel(chanId)?.state === 'Normal',
    );
    expect(d.chain.height).toBe(heightBefore);
    expect(alice.cm.channel(chanId)!.shortChannelId).toBeUndefined();
    // Aliases were exchanged in channel_ready.
    expect(alice.cm.channel(chanId)!.remoteAlias).toBe(bob.cm.channel(chanId)!.localAlias);
    const inv = await bob.pay.createInvoice({ amountMsat: 5_000_000n, description: 'zero-conf' });
    expect((await alice.pay.pay(inv.bolt11)).status).toBe('succeeded');
    // One confirmation gives the real short_channel_id.
    d.mine(1);
    await sync(alice, bob);
    await waitFor(
      () =>
        alice.cm.channel(chanId)!.shortChannelId !== undefined &&
        bob.cm.channel(chanId)!.shortChannelId !== undefined,
    );
    expect(alice.cm.channel(chanId)!.shortChannelId).toBe(bob.cm.channel(chanId)!.shortChannelId);
  });

  it('a zero-conf open from an untrusted peer is refused', async () => {
    const before = alice.wallet.utxos().length;
    await expect(bob.cm.openChannel(alice.keys.nodeId, 300_000n, { zeroConf: true })).rejects.toMatchObject({
      code: 'CHANNEL_OPEN_FAILED',
    });
    await sync(alice, bob);
    expect(alice.cm.listChannels().length).toBe(1);
    expect(alice.wallet.utxos().length).toBe(before);
    // Bob's wallet coins are not left locked: a normal send still works.
    const sent = await bob.wallet.send({ address: d.minerAddress, amount: 10_000n });
    expect(sent.txid).toHaveLength(64);
  });
});

describe('funding failures', () => {
  it('an open the wallet cannot fund is rejected and leaves no channel behind', async () => {
    const balance = alice.wallet.balances().total;
    expect(balance).toBeLessThan(1_500_000n);
    await expect(alice.cm.openChannel(bob.keys.nodeId, 1_500_000n)).rejects.toMatchObject({
      code: 'CHANNEL_OPEN_FAILED',
    });
    await sync(alice, bob);
    await waitFor(() => bob.cm.listChannels().length === 1, 5000, 'bob forgets the aborted channel');
    expect(alice.cm.listChannels().length).toBe(1);
    expect(alice.wallet.balances().total).toBe(balance);
  });
});

describe('payments', () => {
  it('the invoice is BOLT 11 with payee, secret, features and min_final_cltv_expiry_delta', async () => {
    const inv = await bob.pay.createInvoice({ amountMsat: 1_234_000n, description: 'coffee', expiry: 600 });
    const dec = decodeInvoice(inv.bolt11);
    expect(toHex(dec.payee)).toBe(bob.keys.nodeId);
    expect(toHex(dec.paymentHash)).toBe(inv.paymentHash);
    expect(toHex(sha256(Buffer.from(inv.preimage, 'hex')))).toBe(inv.paymentHash);
    expect(toHex(dec.paymentSecret!)).toBe(inv.paymentSecret);
    expect(dec.features).toEqual([Feature.var_onion_optin, Feature.payment_secret, Feature.basic_mpp + 1]);
    expect(dec.minFinalCltvExpiryDelta).toBeGreaterThanOrEqual(18);
    expect([dec.amountMsat, dec.description, dec.expiry, dec.network]).toEqual([
      1_234_000n,
      'coffee',
      600,
      'regtest',
    ]);
  });

  it('payer pre-flight checks throw PaymentError and send nothing', async () => {
    const secret = new Uint8Array(32).fill(9);
    const codeOf = async (p: Promise<unknown>) => {
      try {
        await p;
        return 'ok';
      } catch (e) {
        expect(e).toBeInstanceOf(PaymentError);
        return (e as PaymentError).code;
      }
    };
    expect(await codeOf(alice.pay.pay('lnbcrt1garbage'))).toBe('INVOICE_INVALID');
    const hash = sha256(new Uint8Array(32).fill(1));
    expect(
      await codeOf(alice.pay.pay(craft(bob, { hash, secret, amountMsat: 1000n, network: 'signet' }))),
    ).toBe('INVOICE_WRONG_NETWORK');
    expect(
      await codeOf(alice.pay.pay(craft(bob, { hash, secret, amountMsat: 1000n, timestamp: 1_000_000 }))),
    ).toBe('INVOICE_EXPIRED');
    const any = await bob.pay.createInvoice({ description: 'any amount' });
    expect(await codeOf(alice.pay.pay(any.bolt11))).toBe('AMOUNT_REQUIRED');
    const fixed = await bob.pay.createInvoice({ amountMsat: 50_000n });
    expect(await codeOf(alice.pay.pay(fixed.bolt11, { amountMsat: 49_999n }))).toBe('AMOUNT_TOO_LOW');
    const own = await alice.pay.createInvoice({ amountMsat: 50_000n });
    expect(await codeOf(alice.pay.pay(own.bolt11))).toBe('SELF_PAYMENT');
    const ok = await alice.pay.pay(fixed.bolt11);
    expect(ok.status).toBe('succeeded');
    expect(await codeOf(alice.pay.pay(fixed.bolt11))).toBe('ALREADY_PAID');
    // An any-amount invoice is paid with the amount given.
    const r = await alice.pay.pay(any.bolt11, { amountMsat: 77_000n });
    expect(r.status).toBe('succeeded');
    expect(bob.pay.invoice(any.paymentHash)!.paidMsat).toBe(77_000n);
  });

  it('the payee fails unknown hashes, wrong secrets and short amounts with incorrect_or_unknown_payment_details', async () => {
    const inv = await bob.pay.createInvoice({ amountMsat: 100_000n });
    const hash = Buffer.from(inv.paymentHash, 'hex');
    const unknownHash = await alice.pay.pay(
      craft(bob, { hash: sha256(hash), secret: Buffer.from(inv.paymentSecret, 'hex'), amountMsat: 100_000n }),
    );
    const wrongSecret = await alice.pay.pay(
      craft(bob, { hash, secret: new Uint8Array(32).fill(7), amountMsat: 100_000n }),
    );
    const tooLittle = await alice.pay.pay(
      craft(bob, { hash, secret: Buffer.from(inv.paymentSecret, 'hex'), amountMsat: 99_999n }),
    );
    for (const r of [unknownHash, wrongSecret, tooLittle]) {
      expect(r.status).toBe('failed');
      expect(r.failureReason).toBe('incorrect_or_unknown_payment_details');
    }
    expect(bob.pay.invoice(inv.paymentHash)!.status).toBe('open');
    const events = alice.cm.events.pending().filter((e) => e.type === 'PaymentFailed');
    expect(events.length).toBe(3);
    await waitFor(
      () => alice.cm.channel(chanId)!.pendingHtlcs === 0 && bob.cm.channel(chanId)!.pendingHtlcs === 0,
    );
    const a = alice.cm.channel(chanId)!;
    const b = bob.cm.channel(chanId)!;
    expect([a.localMsat, a.remoteMsat]).toEqual([b.remoteMsat, b.localMsat]);
  });

  it("peels an offered HTLC's onion while the channel waits for the peer; the settlement uses that result", async () => {
    const before = { ...bob.pay.onionPeels };
    const inv = await bob.pay.createInvoice({ amountMsat: 70_000n });
    const r = await alice.pay.pay(inv.bolt11);
    expect(r.status).toBe('succeeded');
    // One HTLC reached bob, and its onion was ready when it was irrevocably committed.
    expect(bob.pay.onionPeels.ahead - before.ahead).toBe(1);
    expect(bob.pay.onionPeels.onCommit - before.onCommit).toBe(0);
  });
});

describe('node runtime', () => {
  it('persists before sending: every commitment_signed / revoke_and_ack leaves only after the state it commits to is durable', () => {
    const sends = trace.filter((t) => t.kind === 'send');
    const checked = sends.filter(
      (t) => t.kind === 'send' && (t.msg === 'commitment_signed' || t.msg === 'revoke_and_ack'),
    );
    expect(checked.length).toBeGreaterThan(10);
    expect(durable.length).toBeGreaterThan(10);
    // Checked at the moment each message was handed to the peer (see checkDurableBeforeSend).
    expect(early).toEqual([]);
  });

  it('events are durable until acknowledged and replayed by a new queue over the same store', async () => {
    const pending = bob.cm.events.pending();
    expect(pending.map((e) => e.type)).toContain('PaymentReceived');
    const first = pending[0]!;
    expect((await bob.cm.events.next()).id).toBe(first.id);
    expect(await bob.cm.events.ack(first.id)).toBe(true);
    expect(await bob.cm.events.ack(first.id)).toBe(false);
    const replay = new EventQueue(bob.store, () => 0);
    await replay.load();
    expect(replay.pending().map((e) => e.id)).toEqual(pending.slice(1).map((e) => e.id));
    const seen: number[] = [];
    replay.subscribe((e) => seen.push(e.id));
    expect(seen).toEqual(pending.slice(1).map((e) => e.id));
  });

  it('monitor updates are stored before the sink hears of them, in order', async () => {
    const stored = await bob.cm.monitorUpdates(chanId);
    expect(stored[0]!.update.type).toBe('ChannelFunded');
    expect(stored.map((u) => u.seq)).toEqual(stored.map((_, i) => i + 1));
    const types = new Set(stored.map((u) => u.update.type));
    for (const t of ['LocalCommitment', 'RemoteCommitment', 'RemoteRevocation', 'Preimage'])
      expect(types).toContain(t);
    const fromSink = sinkLog
      .filter((l) => l.channelId === chanId)
      .flatMap((l) => l.updates.map((u) => u.seq));
    expect(fromSink).toEqual(stored.map((u) => u.seq));
  });

  it('a force close broadcasts our latest commitment, which the devnet accepts', async () => {
    const { closingTxid } = await bob.cm.closeChannel(chanId, { force: true });
    expect(closingTxid).toBeDefined();
    await sync(alice, bob);
    await waitFor(() => alice.cm.channel(chanId)!.state === 'Closing');
    expect(d.chain.getConfirmedTx(closingTxid!)).toBeUndefined();
    d.mine(1);
    await sync(alice, bob);
    expect(d.chain.getConfirmedTx(closingTxid!)).toBeDefined();
    d.mine(2);
    await sync(alice, bob);
    await waitFor(
      () => alice.cm.channel(chanId)!.state === 'Closed' && bob.cm.channel(chanId)!.state === 'Closed',
    );
    const closed = bob.cm.events.pending().filter((e) => e.type === 'ChannelClosed');
    expect(closed.map((e) => (e as { closeType: string }).closeType)).toContain('local-force');
  });
});
