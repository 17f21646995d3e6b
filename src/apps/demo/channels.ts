/**
 * The demo's channel story (the mission's RSMC channel, for real): two Farad nodes — each a full
 * daemon composition (SQLite, BOLT 8 over TCP, wallet, chain tracker, BOLT 5 monitors) — open a
 * channel on the devnet, pay each other, close cooperatively; a force close with HTLCs in flight
 * both ways is resolved on chain (a preimage claim and a timeout, every output swept, wallets
 * checked to the satoshi); then a cheater restored from an old copy of his data directory
 * publishes a revoked commitment and loses everything to the penalty.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256 } from '../../protocol/crypto/hash.js';
import { toHex } from '../../protocol/encoding/bytes.js';
import { parseNodeConfig } from '../daemon/config.js';
import { createLogger } from '../daemon/logger.js';
import { FaradNode } from '../daemon/node.js';
import type { Devnet } from '../devnet/index.js';

type Say = (line: string) => void;

const sat = (v: bigint) => `${v.toLocaleString('en-US')} sat`;
const msatToSat = (v: bigint) => sat(v / 1000n);

export class DemoError extends Error {
  override name = 'DemoError';
}

interface Ctx {
  devnet: Devnet;
  dir: string;
  say: Say;
}

async function startNode(ctx: Ctx, name: string): Promise<FaradNode> {
  const cfg = parseNodeConfig({
    dataDir: join(ctx.dir, name),
    network: 'regtest',
    listen: '127.0.0.1:0',
    api: '127.0.0.1:0',
    bitcoind: ctx.devnet.rpcUrl,
    pollMs: '3600000', // the demo polls the chain itself after each block it mines
    logLevel: 'error',
    toSelfDelay: '20', // CSV delay on the peer's own outputs (the default 144 blocks, shortened)
  });
  return FaradNode.start(cfg, createLogger('error', name));
}

/** Polls every node's chain view and waits until channels and monitors are idle. */
async function settle(...nodes: FaradNode[]): Promise<void> {
  for (let round = 0; round < 2; round++) {
    for (const n of nodes) await n.chain.poll();
    for (const n of nodes) {
      await n.channels.whenIdle();
      await n.monitor.whenIdle();
    }
  }
}

async function mine(ctx: Ctx, blocks: number, ...nodes: FaradNode[]): Promise<void> {
  for (let i = 0; i < blocks; i++) {
    ctx.devnet.mine(1);
    await settle(...nodes);
  }
}

async function waitFor(what: string, cond: () => boolean, nodes: FaradNode[], ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new DemoError(`timed out waiting for ${what}`);
    await settle(...nodes);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function channelOf(n: FaradNode, id: string) {
  const c = n.listChannels().find((x) => x.channelId === id);
  if (!c) throw new DemoError(`channel ${id} not found`);
  return c;
}

async function openChannel(
  ctx: Ctx,
  a: FaradNode,
  b: FaradNode,
  sats: bigint,
  pushMsat: bigint,
): Promise<string> {
  const r = await a.openChannel(b.keys.nodeId, sats, { channelType: 'anchors', pushMsat });
  ctx.say(`funding tx ${r.fundingTxid} locks ${sat(sats)} in a 2-of-2 (anchors channel)`);
  await waitFor('funding in mempool', () => ctx.devnet.chain.mempool.has(r.fundingTxid), [a, b]);
  await mine(ctx, 6, a, b);
  await waitFor(
    'channel NORMAL',
    () => channelOf(a, r.channelId).state === 'Normal' && channelOf(b, r.channelId).state === 'Normal',
    [a, b],
  );
  const c = channelOf(a, r.channelId);
  ctx.say(`after 6 blocks: state ${c.state}, short_channel_id ${scid(c.shortChannelId)}`);
  return r.channelId;
}

/** Waits until both sides' commitments have no HTLC in flight and agree on the balances. */
async function quiesce(a: FaradNode, b: FaradNode, id: string): Promise<void> {
  await waitFor('both sides to agree', () => {
    const x = channelOf(a, id);
    const y = channelOf(b, id);
    return (
      x.pendingHtlcs === 0 &&
      y.pendingHtlcs === 0 &&
      x.localMsat === y.remoteMsat &&
      x.remoteMsat === y.localMsat
    );
  }, [a, b]);
}

function scid(v: bigint | undefined): string {
  return v === undefined ? '-' : `${v >> 40n}x${(v >> 16n) & 0xffffffn}x${v & 0xffffn}`;
}

async function payInvoice(payer: FaradNode, payee: FaradNode, msat: bigint, description: string) {
  const inv = await payee.createInvoice({ amountMsat: msat, description });
  const p = await payer.pay(inv.bolt11);
  if (p.status !== 'succeeded') throw new DemoError(`payment failed: ${p.failureReason ?? p.status}`);
  return p;
}

/** The whole story; throws DemoError if any outcome differs from what the protocol guarantees. */
export async function channelStory(devnet: Devnet, say: Say): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'farad-demo-'));
  const ctx: Ctx = { devnet, dir, say };
  let alice: FaradNode | undefined;
  let bob: FaradNode | undefined;
  try {
    say('');
    say('Step A: Alice and Bob start Farad nodes (SQLite, BOLT 8 over TCP, wallet, BOLT 5 monitors)');
    alice = await startNode(ctx, 'alice');
    bob = await startNode(ctx, 'bob');
    say(`  Alice ${alice.keys.nodeId}`);
    say(`  Bob   ${bob.keys.nodeId}`);
    devnet.fund(await alice.newAddress(), 3_000_000n);
    await mine(ctx, 1, alice, bob);
    await alice.connect(bob.keys.nodeId, '127.0.0.1', bob.listenAddress.port);
    say(`  Alice's wallet: ${sat(alice.balance().onchain.confirmed)}; connected to Bob (init exchanged)`);

    say('');
    say('Step B: Alice opens a 1,000,000 sat channel to Bob');
    const ch1 = await openChannel({ ...ctx, say: (l) => say(`  ${l}`) }, alice, bob, 1_000_000n, 0n);

    say('');
    say('Step C: they pay each other off-chain (each payment: HTLC, commitment_signed, revoke_and_ack)');
    for (const amt of [120_000_000n, 80_000_000n, 50_000_000n]) {
      const p = await payInvoice(alice, bob, amt, 'coffee beans');
      say(`  Alice -> Bob ${msatToSat(amt)}: ${p.status}, preimage ${p.preimage?.slice(0, 16)}…`);
    }
    const back = await payInvoice(bob, alice, 30_000_000n, 'refund');
    say(`  Bob -> Alice ${msatToSat(30_000_000n)}: ${back.status}`);
    await quiesce(alice, bob, ch1);
    const c1 = channelOf(alice, ch1);
    say(
      `  channel: Alice ${msatToSat(c1.localMsat)}, Bob ${msatToSat(c1.remoteMsat)} (Bob's view agrees: ${channelOf(bob, ch1).localMsat === c1.remoteMsat})`,
    );

    say('');
    say('Step D: cooperative close — one transaction pays each side its balance');
    const aBefore = alice.balance().onchain.total;
    const bBefore = bob.balance().onchain.total;
    const bobShare = channelOf(bob, ch1).localMsat / 1000n;
    const close = await alice.closeChannel(ch1, false);
    await waitFor('closing tx', () => !!close.closingTxid && devnet.chain.mempool.has(close.closingTxid), [
      alice,
      bob,
    ]);
    await mine(ctx, 1, alice, bob);
    await waitFor('wallets credited', () => bob!.balance().onchain.total > bBefore, [alice, bob]);
    const closeTx = devnet.chain.getConfirmedTx(close.closingTxid!)!.tx;
    const fee = 1_000_000n - closeTx.outputs.reduce((s, o) => s + o.value, 0n);
    const bGain = bob.balance().onchain.total - bBefore;
    const aGain = alice.balance().onchain.total - aBefore;
    say(`  closing tx ${close.closingTxid} confirmed, fee ${sat(fee)} (paid by the opener)`);
    say(
      `  Bob's wallet +${sat(bGain)} (his channel balance ${sat(bobShare)}); Alice's wallet +${sat(aGain)}`,
    );
    if (bGain !== bobShare) throw new DemoError("Bob's close output differs from his balance");
    if (aGain + bGain + fee !== 1_000_000n) throw new DemoError('close does not add up to the capacity');

    say('');
    say('Step E: a force close with HTLCs in flight both ways, resolved on chain');
    const ch3 = await openChannel(
      { ...ctx, say: (l) => say(`  ${l}`) },
      alice,
      bob,
      1_000_000n,
      300_000_000n,
    );
    const random32 = () => globalThis.crypto.getRandomValues(new Uint8Array(32));
    const preB = random32();
    const preA = random32();
    const hashB = toHex(sha256(preB));
    const hashA = toHex(sha256(preA));
    // Hold invoices: the payee accepts the HTLC and decides later (settle with the preimage, or cancel).
    const invB = await bob.payments.createHoldInvoice(hashB, 40_000_000n, { description: 'held by Bob' });
    const invA = await alice.payments.createHoldInvoice(hashA, 25_000_000n, { description: 'held by Alice' });
    const payA = alice.pay(invB.bolt11);
    const payB = bob.pay(invA.bolt11);
    await waitFor(
      'two HTLCs held',
      () =>
        channelOf(alice!, ch3).pendingHtlcs === 2 &&
        channelOf(bob!, ch3).pendingHtlcs === 2 &&
        bob!.payments.invoice(hashB)?.status === 'accepted' &&
        alice!.payments.invoice(hashA)?.status === 'accepted',
      [alice, bob],
    );
    const va = channelOf(alice, ch3);
    const vb = channelOf(bob, ch3);
    say('  in flight: Alice -> Bob 40,000 sat (held by Bob), Bob -> Alice 25,000 sat (held by Alice)');
    say(`  channel: Alice ${msatToSat(va.localMsat)}, Bob ${msatToSat(vb.localMsat)}, HTLCs 65,000 sat`);
    const wa = alice.balance().onchain.total;
    const wb = bob.balance().onchain.total;
    const fc = await alice.closeChannel(ch3, true);
    const commitTxid = fc.closingTxid!;
    await waitFor('commitment in mempool', () => devnet.chain.mempool.has(commitTxid), [alice, bob]);
    await mine(ctx, 1, alice, bob);
    say(`  Alice force-closes: her commitment ${commitTxid} confirms with both HTLC outputs`);
    await bob.payments.settleInvoice(preB);
    say('  Bob settles his invoice: his monitor claims the 40,000 sat HTLC on chain with the preimage');
    await alice.payments.cancelInvoice(hashA);
    say('  Alice cancels hers: the 25,000 sat HTLC goes back to Bob once it expires');
    const resolved = (n: FaradNode) => n.monitor.list().find((m) => m.channelId === ch3)?.resolved === true;
    let blocks = 0;
    while (!resolved(alice) || !resolved(bob)) {
      if (++blocks > 200) throw new DemoError('the force close was not resolved within 200 blocks');
      await mine(ctx, 1, alice, bob);
    }
    const [pa, pb] = await Promise.all([payA, payB]);
    if (pa.status !== 'succeeded' || pa.preimage !== toHex(preB))
      throw new DemoError(
        `Alice's payment did not learn the preimage from the chain: ${JSON.stringify({ status: pa.status, why: pa.failureReason, blocks })}`,
      );
    if (pb.status !== 'failed') throw new DemoError("Bob's held payment did not fail back");
    const claims = (n: FaradNode) => n.monitor.published(ch3).filter((p) => p.kind !== 'local-commitment');
    for (const [who, n] of [
      ['Alice', alice],
      ['Bob', bob],
    ] as const)
      say(
        `  ${who}'s monitor: ${claims(n)
          .map((p) => p.kind)
          .join(', ')} (${blocks} blocks mined)`,
      );
    say(
      `  Alice's payment: succeeded, preimage learnt on chain; Bob's payment: failed (${pb.failureReason})`,
    );
    // Fees from the real transactions (inputs - outputs), through the node's own wallet.
    const commitFee = await alice.wallet.feeOf(commitTxid);
    const fees = async (n: FaradNode) => {
      let f = 0n;
      for (const p of claims(n)) f += await n.wallet.feeOf(p.txid);
      return f;
    };
    const cpfp = claims(alice).filter((p) => p.kind === 'cpfp').length;
    // Alice opened: she pays the commitment fee and both 330 sat anchors (hers comes back through CPFP).
    const aliceWant = va.localMsat / 1000n - commitFee - 660n + 330n * BigInt(cpfp) - (await fees(alice));
    const bobWant = vb.localMsat / 1000n + 40_000n + 25_000n - (await fees(bob));
    const aliceGot = alice.balance().onchain.total - wa;
    const bobGot = bob.balance().onchain.total - wb;
    say(
      `  wallets: Alice +${sat(aliceGot)} (expected ${sat(aliceWant)}), Bob +${sat(bobGot)} (expected ${sat(bobWant)}: balance + both HTLCs - his claim fees)`,
    );
    if (aliceGot !== aliceWant || bobGot !== bobWant)
      throw new DemoError('force-close wallets do not add up');

    say('');
    say('Step F: a cheater — Bob keeps an old copy of his data directory, then publishes a revoked state');
    const ch2 = await openChannel(
      { ...ctx, say: (l) => say(`  ${l}`) },
      alice,
      bob,
      1_000_000n,
      600_000_000n,
    );
    say(`  Bob holds ${msatToSat(channelOf(bob, ch2).localMsat)} in the channel`);
    await bob.stop();
    cpSync(join(dir, 'bob'), join(dir, 'bob-old'), { recursive: true });
    bob = await startNode(ctx, 'bob');
    await bob.connect(alice.keys.nodeId, '127.0.0.1', alice.listenAddress.port);
    await waitFor('reestablish', () => channelOf(alice!, ch2).online && channelOf(bob!, ch2).online, [
      alice,
      bob,
    ]);
    say('  Bob copied his data dir (with the 600,000 sat state), restarted, and then spends:');
    for (let i = 0; i < 4; i++) await payInvoice(bob, alice, 100_000_000n, 'spend');
    await quiesce(alice, bob, ch2);
    say(`  after 4 payments Bob holds ${msatToSat(channelOf(bob, ch2).localMsat)}: the old state is revoked`);
    const aliceBefore = alice.balance().onchain.total;
    await alice.stop();
    alice = undefined;
    await bob.stop();
    rmSync(join(dir, 'bob'), { recursive: true });
    cpSync(join(dir, 'bob-old'), join(dir, 'bob'), { recursive: true });
    bob = await startNode(ctx, 'bob');
    const bobWallet = bob.balance().onchain.total;
    const cheat = await bob.closeChannel(ch2, true);
    await waitFor(
      'revoked commitment in mempool',
      () => !!cheat.closingTxid && devnet.chain.mempool.has(cheat.closingTxid),
      [bob],
    );
    say(`  while Alice is offline, Bob broadcasts the revoked commitment ${cheat.closingTxid}`);
    await mine(ctx, 1, bob);
    alice = await startNode(ctx, 'alice');
    await settle(alice, bob);
    await waitFor('justice transaction', () => alice!.monitor.published().some((p) => p.kind === 'justice'), [
      alice,
      bob,
    ]);
    const justice = alice.monitor.published().find((p) => p.kind === 'justice')!;
    say(`  Alice comes back online, sees the revoked commitment and broadcasts justice tx ${justice.txid}`);
    await mine(ctx, 8, alice, bob);
    await waitFor('justice confirmed', () => devnet.chain.getConfirmedTx(justice.txid) !== undefined, [
      alice,
      bob,
    ]);
    await mine(ctx, 2, alice, bob);
    const aliceGain = alice.balance().onchain.total - aliceBefore;
    const bobGain = bob.balance().onchain.total - bobWallet;
    say(
      `  Alice's wallet +${sat(aliceGain)} of the 1,000,000 sat channel; Bob's wallet ${bobGain <= 0n ? '' : '+'}${sat(bobGain)} (only fees he paid)`,
    );
    if (bobGain > 0n) throw new DemoError('the cheater gained funds');
    if (aliceGain < 990_000n) throw new DemoError('the penalty did not take the channel');
  } finally {
    await alice?.stop().catch(() => undefined);
    await bob?.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
