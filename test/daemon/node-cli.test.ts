/**
 * The daemon and CLI contract (issue 4 §4) end to end: an in-process devnet and two
 * `farad node start` child processes (A over bitcoind RPC, B over Esplora) with temp data dirs
 * and random ports, driven only through `node bin/farad.js <command> --data-dir ...`: getinfo,
 * newaddress + fund → balance, connect, openchannel (anchors and static_remotekey), listchannels,
 * invoices and payments both ways, listpayments, bad input (wrong token, malformed amount,
 * unknown channel, bad config), SIGKILL during a payment and restart with the same data dir,
 * cooperative close checked on chain to the satoshi, and a clean SIGTERM shutdown.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Devnet, startDevnet } from '../../src/apps/devnet/index.js';
import { sha256 } from '../../src/protocol/crypto/hash.js';
import { fromHex, toHex } from '../../src/protocol/encoding/bytes.js';
import {
  type DaemonProc,
  ensureBuilt,
  farad,
  freePort,
  type Json,
  ok,
  sleep,
  snapshotCli,
  startDaemon,
  until,
} from './helpers.js';

let d: Devnet;
let dir: string;
let a: DaemonProc;
let b: DaemonProc;
let dropSnapshot: (() => void) | undefined;
let anchorsId: string;
let staticId: string;

const dd = (n: DaemonProc) => ['--data-dir', n.dataDir];

async function channels(n: DaemonProc): Promise<Json[]> {
  return (await ok('listchannels', ...dd(n))).channels;
}

async function channel(n: DaemonProc, id: string): Promise<Json> {
  const c = (await channels(n)).find((x) => x.channel_id === id);
  if (!c) throw new Error(`${n.name} has no channel ${id}`);
  return c;
}

/** Both sides agree on every open channel's balances, with no HTLC in flight. */
async function expectAgreement(): Promise<void> {
  const [ca, cb] = await Promise.all([channels(a), channels(b)]);
  for (const x of ca.filter((c) => c.state !== 'CLOSED')) {
    const y = cb.find((c) => c.channel_id === x.channel_id);
    expect(y, x.channel_id).toBeDefined();
    expect(x.local_msat).toBe(y.remote_msat);
    expect(x.remote_msat).toBe(y.local_msat);
    expect(x.pending_htlcs).toBe(0);
    expect(y.pending_htlcs).toBe(0);
  }
}

async function allActive(n: DaemonProc): Promise<boolean> {
  const cs = await channels(n);
  return cs.filter((c) => c.state === 'NORMAL').every((c) => c.active && c.ready);
}

async function nodeArgs(chain: string[]): Promise<string[]> {
  return [
    '--network',
    'regtest',
    '--listen',
    `127.0.0.1:${await freePort()}`,
    '--api',
    `127.0.0.1:${await freePort()}`,
    ...chain,
    '--poll-ms',
    '100',
    '--log-level',
    'warn',
  ];
}

beforeAll(async () => {
  ensureBuilt();
  dropSnapshot = snapshotCli();
  d = await startDevnet();
  d.mine(101);
  dir = mkdtempSync(join(tmpdir(), 'farad-daemon-'));
  [a, b] = await Promise.all([
    startDaemon('A', join(dir, 'a'), await nodeArgs(['--bitcoind', d.rpcUrl])),
    startDaemon('B', join(dir, 'b'), await nodeArgs(['--esplora', d.esploraUrl])),
  ]);
}, 60_000);

afterAll(async () => {
  for (const n of [a, b]) if (n && n.child.exitCode === null) n.child.kill('SIGKILL');
  await d?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  dropSnapshot?.();
});

describe('farad node daemon driven by the CLI', () => {
  it('getinfo reports the node id, network, height, peers and channels', async () => {
    const [ia, ib] = await Promise.all([ok('getinfo', ...dd(a)), ok('getinfo', ...dd(b))]);
    expect(ia.node_id).toBe(a.nodeId);
    expect(ia.node_id).toMatch(/^0[23][0-9a-f]{64}$/);
    expect(ib.node_id).toBe(b.nodeId);
    expect(ia.node_id).not.toBe(ib.node_id);
    for (const i of [ia, ib]) {
      expect(i.network).toBe('regtest');
      expect(i.block_height).toBe(101);
      expect(i.num_peers).toBe(0);
      expect(i.num_channels).toBe(0);
    }
    expect(ia.chain_backend).toBe('bitcoind');
    expect(ib.chain_backend).toBe('esplora');
    // The data dir holds the token (0600) and api.json with the URL.
    const api = JSON.parse(readFileSync(join(a.dataDir, 'api.json'), 'utf8'));
    expect(api.url).toBe(a.api);
    expect(readFileSync(join(a.dataDir, 'api.token'), 'utf8').trim()).toMatch(/^[0-9a-f]{64}$/);
  });

  it('newaddress + devnet fund + mine → balance', async () => {
    const [na, nb] = await Promise.all([ok('newaddress', ...dd(a)), ok('newaddress', ...dd(b))]);
    expect(na.address).toMatch(/^bcrt1q/);
    d.fund(na.address, 2_000_000n);
    d.fund(nb.address, 1_000_000n);
    d.mine(1);
    for (const [n, want] of [
      [a, '2000000'],
      [b, '1000000'],
    ] as const) {
      const bal = await until(async () => {
        const r = await ok('balance', ...dd(n));
        return r.onchain.confirmed_sat === want && r;
      }, `${n.name} balance`);
      expect(bal.onchain.total_sat).toBe(want);
      expect(bal.lightning.local_msat).toBe('0');
    }
  });

  it('connect <node_id>@<host>:<port>', async () => {
    const r = await ok('connect', `${b.nodeId}@${b.listen}`, ...dd(a));
    expect(r.node_id).toBe(b.nodeId);
    await until(async () => (await ok('getinfo', ...dd(b))).num_peers === 1, 'B sees A');
    expect((await ok('getinfo', ...dd(a))).num_peers).toBe(1);
  });

  it('openchannel (anchors from A with push, static_remotekey from B) → mine 6 → NORMAL with the scid', async () => {
    const o1 = await ok('openchannel', b.nodeId, '600000', '--push-msat', '100000000', ...dd(a));
    const o2 = await ok(
      'openchannel',
      a.nodeId,
      '400000',
      '--channel-type',
      'static_remotekey',
      '--private',
      ...dd(b),
    );
    anchorsId = o1.channel_id;
    staticId = o2.channel_id;
    expect(anchorsId).toMatch(/^[0-9a-f]{64}$/);
    expect(o1.funding_txid).toMatch(/^[0-9a-f]{64}$/);
    const pending = await channel(a, anchorsId);
    expect(pending.state).toBe('WAIT_FOR_FUNDING_CONFIRMED');
    expect(pending.short_channel_id).toBeNull();
    d.mine(6);
    for (const n of [a, b]) {
      await until(
        async () => (await channels(n)).filter((c) => c.state === 'NORMAL' && c.ready).length === 2,
        `${n.name} channels ready`,
      );
    }
    const ca = await channel(a, anchorsId);
    const cb = await channel(b, anchorsId);
    const fundingBlock = d.chain.getConfirmedTx(o1.funding_txid)!;
    expect(ca.short_channel_id).toBe(
      `${fundingBlock.entry.height}x${fundingBlock.pos}x${o1.funding_output_index}`,
    );
    expect(cb.short_channel_id).toBe(ca.short_channel_id);
    expect(ca).toMatchObject({
      peer: b.nodeId,
      state: 'NORMAL',
      capacity_sat: '600000',
      local_msat: '500000000',
      remote_msat: '100000000',
      channel_type: 'anchors',
    });
    const sa = await channel(a, staticId);
    expect(sa).toMatchObject({
      peer: b.nodeId,
      capacity_sat: '400000',
      local_msat: '0',
      remote_msat: '400000000',
      channel_type: 'static_remotekey',
    });
    expect(sa.short_channel_id).toMatch(/^\d+x\d+x\d+$/);
    expect((await ok('getinfo', ...dd(a))).num_channels).toBe(2);
  });

  it('invoice on B + pay from A, and back; listpayments', async () => {
    const inv = await ok('invoice', '10000000', '--description', 'coffee', '--expiry', '600', ...dd(b));
    expect(inv.bolt11).toMatch(/^lnbcrt/);
    // decode works offline (no daemon flags at all).
    const dec = await ok('decode', inv.bolt11);
    expect(dec).toMatchObject({
      payment_hash: inv.payment_hash,
      amount_msat: '10000000',
      description: 'coffee',
    });
    expect(dec.payee).toBe(b.nodeId);
    const p = await ok('pay', inv.bolt11, ...dd(a));
    expect(p.status).toBe('succeeded');
    expect(p.fee_msat).toBe('0');
    expect(toHex(sha256(fromHex(p.preimage)))).toBe(inv.payment_hash);

    const back = await ok('invoice', 'any', ...dd(a));
    expect((await ok('decode', back.bolt11)).amount_msat).toBeNull();
    const q = await ok('pay', back.bolt11, '--amount-msat', '3000000', ...dd(b));
    expect(q.status).toBe('succeeded');
    expect(toHex(sha256(fromHex(q.preimage)))).toBe(back.payment_hash);

    const la = (await ok('listpayments', ...dd(a))).payments;
    expect(la.find((x: Json) => x.payment_hash === inv.payment_hash)).toMatchObject({
      direction: 'outgoing',
      status: 'succeeded',
      amount_msat: '10000000',
    });
    expect(la.find((x: Json) => x.payment_hash === back.payment_hash)).toMatchObject({
      direction: 'incoming',
      status: 'succeeded',
      amount_msat: '3000000',
    });
    await until(async () => {
      const c = await channel(b, anchorsId);
      return c.pending_htlcs === 0 && c;
    }, 'HTLCs settled');
    await expectAgreement();
    // B: 100,000 sat pushed + 400,000 sat of its own channel + 10,000 received - 3,000 paid.
    const bal = await ok('balance', ...dd(b));
    expect(bal.lightning.local_msat).toBe('507000000');
    const cb = await Promise.all([channel(b, anchorsId), channel(b, staticId)]);
    expect(BigInt(cb[0].local_msat) + BigInt(cb[1].local_msat)).toBe(507_000_000n);
  });

  it('rejects bad input with a JSON error and a non-zero exit', async () => {
    const wrongToken = await farad('getinfo', '--api', a.api, '--token', '00'.repeat(32));
    expect(wrongToken.code).not.toBe(0);
    expect(wrongToken.error?.code).toBe('UNAUTHORIZED');
    expect(wrongToken.stdout).toBe('');

    const badAmount = await farad('invoice', '12abc', ...dd(b));
    expect(badAmount.code).toBe(1);
    expect(badAmount.error?.code).toBe('INVALID_REQUEST');
    expect(badAmount.error?.message).toMatch(/amount_msat/);
    const badSats = await farad('openchannel', b.nodeId, '1.5', ...dd(a));
    expect(badSats.error?.code).toBe('INVALID_REQUEST');

    const unknown = await farad('closechannel', 'ab'.repeat(32), ...dd(a));
    expect(unknown.code).toBe(1);
    expect(unknown.error?.code).toBe('CHANNEL_NOT_FOUND');

    const badInvoice = await farad('pay', 'lnbcrt1nonsense', ...dd(a));
    expect(badInvoice.code).toBe(1);
    expect(badInvoice.error?.code).toBe('INVOICE_INVALID');

    const noDaemon = await farad('getinfo', '--data-dir', join(dir, 'nothing-here'));
    expect(noDaemon.code).toBe(1);
    expect(noDaemon.error?.code).toBe('DATADIR_NO_DAEMON');

    const badConfig = await farad(
      'node',
      'start',
      '--data-dir',
      join(dir, 'bad'),
      '--network',
      'foonet',
      '--bitcoind',
      d.rpcUrl,
    );
    expect(badConfig.code).toBe(2);
    expect(badConfig.error?.code).toBe('CONFIG_INVALID');
    expect(badConfig.stderr.trim().split('\n')).toHaveLength(1);
    const remoteApi = await farad(
      'node',
      'start',
      '--data-dir',
      join(dir, 'bad'),
      '--api',
      '0.0.0.0:1',
      '--bitcoind',
      d.rpcUrl,
    );
    expect(remoteApi.code).toBe(2);
    expect(remoteApi.error?.message).toMatch(/loopback/);
    const unknownFlag = await farad('getinfo', '--bogus', ...dd(a));
    expect(unknownFlag.code).toBe(2);
    expect(unknownFlag.error?.code).toBe('USAGE');

    // The REST API itself: no token → 401; a bad body → typed 400.
    const token = readFileSync(join(a.dataDir, 'api.token'), 'utf8').trim();
    const r401 = await fetch(`${a.api}/v1/getinfo`);
    expect(r401.status).toBe(401);
    expect(((await r401.json()) as Json).error.code).toBe('UNAUTHORIZED');
    const r400 = await fetch(`${a.api}/v1/invoice`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ amount_msat: -5 }),
    });
    expect(r400.status).toBe(400);
    expect(((await r400.json()) as Json).error.code).toBe('INVALID_REQUEST');
    const badJson = await fetch(`${a.api}/v1/pay`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{',
    });
    expect(badJson.status).toBe(400);
    expect(((await badJson.json()) as Json).error.code).toBe('INVALID_JSON');
  });

  it('SIGKILL of A during a payment, restart with the same data dir: channels reestablish, payments continue', async () => {
    // A stream of payments from A (one CLI process every 10 ms); A is killed as soon as B has
    // received the first one (watched over B's REST API: the CLI is too slow to observe), so the
    // others are somewhere between the API call and the final revoke_and_ack.
    const invs = await Promise.all(
      [1, 2, 3, 4, 5, 6, 7, 8].map((i) => ok('invoice', String(i * 100_000), ...dd(b))),
    );
    const hashes = invs.map((x) => x.payment_hash as string);
    const inflight = invs.map(async (x, i) => {
      await sleep(10 * i);
      return farad('pay', x.bolt11, ...dd(a));
    });
    const tokenB = readFileSync(join(b.dataDir, 'api.token'), 'utf8').trim();
    const deadline = Date.now() + 20_000;
    for (;;) {
      const r = await fetch(`${b.api}/v1/listpayments`, { headers: { authorization: `Bearer ${tokenB}` } });
      const ps = ((await r.json()) as Json).payments as Json[];
      if (ps.some((x) => hashes.includes(x.payment_hash) && x.status === 'succeeded')) break;
      if (Date.now() > deadline) throw new Error('B received no payment');
      await sleep(5);
    }
    a.child.kill('SIGKILL');
    await a.exited;
    await Promise.all(inflight); // whatever they printed: the node died under them
    await until(async () => (await ok('getinfo', ...dd(b))).num_peers === 0, 'B sees A gone');
    expect((await channel(b, anchorsId)).active).toBe(false);
    d.mine(1); // a block while A is down
    a = await startDaemon('A', a.dataDir, a.args);
    await until(async () => (await allActive(a)) && (await allActive(b)), 'channels reestablished');
    expect((await ok('getinfo', ...dd(a))).block_height).toBe(d.chain.height);
    await until(
      async () =>
        (await channels(a)).every((c) => c.pending_htlcs === 0) &&
        (await channels(b)).every((c) => c.pending_htlcs === 0),
      'in-flight HTLCs resolved',
    );
    await expectAgreement();
    // Every killed payment either completed on both sides or on neither; none is left pending.
    const sent = await until(async () => {
      const ps: Json[] = (await ok('listpayments', ...dd(a))).payments.filter((x: Json) =>
        hashes.includes(x.payment_hash),
      );
      return ps.every((x) => x.status !== 'pending') && ps;
    }, 'A settles its payments');
    const recv: Json[] = (await ok('listpayments', ...dd(b))).payments.filter((x: Json) =>
      hashes.includes(x.payment_hash),
    );
    const okA = new Set(sent.filter((x) => x.status === 'succeeded').map((x) => x.payment_hash));
    const okB = new Set(recv.filter((x) => x.status === 'succeeded').map((x) => x.payment_hash));
    expect([...okA].sort()).toEqual([...okB].sort());
    expect(okB.size).toBeGreaterThan(0);
    // Payments continue in both directions.
    const next = await ok('invoice', '1000000', ...dd(b));
    expect((await ok('pay', next.bolt11, ...dd(a))).status).toBe('succeeded');
    const back = await ok('invoice', '500000', ...dd(a));
    expect((await ok('pay', back.bolt11, ...dd(b))).status).toBe('succeeded');
    await until(async () => (await channel(a, anchorsId)).pending_htlcs === 0, 'settled');
    await expectAgreement();
  });

  it('closechannel (cooperative) → mine → CLOSED, on-chain balances to the satoshi', async () => {
    const [before, ca, cb, bb] = await Promise.all([
      ok('balance', ...dd(a)),
      channel(a, anchorsId),
      channel(b, anchorsId),
      ok('balance', ...dd(b)),
    ]);
    const close = await ok('closechannel', anchorsId, ...dd(a));
    expect(close.channel_id).toBe(anchorsId);
    expect(close.closing_txid).toMatch(/^[0-9a-f]{64}$/);
    d.mine(1);
    const t = await until(async () => d.chain.getConfirmedTx(close.closing_txid), 'closing tx mined');
    expect(t.tx.inputs.map((i) => toHex(i.txid))).toEqual([ca.funding_txid]);
    d.mine(5);
    for (const n of [a, b]) {
      await until(async () => (await channel(n, anchorsId)).state === 'CLOSED', `${n.name} CLOSED`);
    }
    const outputs = t.tx.outputs.map((o) => o.value);
    const outputsSum = outputs.reduce((x, y) => x + y, 0n);
    const fee = 600_000n - outputsSum;
    expect(fee).toBeGreaterThan(0n);
    expect(fee).toBeLessThan(10_000n);
    const [after, ba] = await Promise.all([
      until(async () => {
        const r = await ok('balance', ...dd(a));
        return r.onchain.confirmed_sat !== before.onchain.confirmed_sat && r;
      }, 'A on-chain balance'),
      until(async () => {
        const r = await ok('balance', ...dd(b));
        return r.onchain.confirmed_sat !== bb.onchain.confirmed_sat && r;
      }, 'B on-chain balance'),
    ]);
    const toA = BigInt(after.onchain.confirmed_sat) - BigInt(before.onchain.confirmed_sat);
    const toB = BigInt(ba.onchain.confirmed_sat) - BigInt(bb.onchain.confirmed_sat);
    // B (not the opener) gets exactly its channel balance; A its balance minus the whole fee.
    expect(toB).toBe(BigInt(cb.local_msat) / 1000n);
    expect(toA).toBe(BigInt(ca.local_msat) / 1000n - fee);
    expect(toA + toB).toBe(outputsSum);
    expect([...outputs].sort()).toEqual([toA, toB].sort());
    expect((await ok('getinfo', ...dd(a))).num_channels).toBe(1);
  });

  it('closechannel --force: the commitment confirms and both monitors sweep their outputs to the wallets', async () => {
    // The static channel is the only one left open, so this payment gives A a balance on it
    // (earlier payments may have used either channel): both sides then have an output to sweep.
    const inv = await ok('invoice', '5000000', '--description', 'before the force close', ...dd(a));
    expect((await ok('pay', inv.bolt11, ...dd(b))).status).toBe('succeeded');
    await until(async () => {
      const [x, y] = await Promise.all([channel(a, staticId), channel(b, staticId)]);
      return x.pending_htlcs === 0 && y.pending_htlcs === 0 && x.local_msat === y.remote_msat && x;
    }, 'static channel settled');
    const [ca, cb, ba, bb] = await Promise.all([
      channel(a, staticId),
      channel(b, staticId),
      ok('balance', ...dd(a)),
      ok('balance', ...dd(b)),
    ]);
    expect(BigInt(ca.local_msat)).toBeGreaterThan(0n);
    const close = await ok('closechannel', staticId, '--force', ...dd(a));
    expect(close.closing_txid).toMatch(/^[0-9a-f]{64}$/);
    d.mine(1);
    const commit = await until(async () => d.chain.getConfirmedTx(close.closing_txid), 'commitment mined');
    expect(commit.tx.inputs.map((i) => toHex(i.txid))).toEqual([ca.funding_txid]);
    /** The wallet output of the transaction spending the commitment output worth `sat`. */
    const sweptFrom = (sat: bigint): bigint | undefined => {
      const vout = commit.tx.outputs.findIndex((o) => o.value === sat);
      if (vout < 0) throw new Error(`no commitment output of ${sat} sat`);
      const s = d.chain.spenderOf(close.closing_txid, vout);
      const t = s?.confirmed ? d.chain.getConfirmedTx(s.txid) : undefined;
      return t?.tx.outputs[0]?.value;
    };
    // A (not the opener) has its balance in to_local, behind B's to_self_delay (144 blocks).
    const toLocal = BigInt(ca.local_msat) / 1000n;
    const toRemote = commit.tx.outputs.map((o) => o.value).filter((v) => v !== toLocal);
    expect(toRemote.length).toBe(1);
    expect(toRemote[0]!).toBeLessThan(BigInt(cb.local_msat) / 1000n); // the opener paid the fee
    for (
      let i = 0;
      i < 160 && (sweptFrom(toLocal) === undefined || sweptFrom(toRemote[0]!) === undefined);
      i++
    ) {
      d.mine(1);
      await sleep(i < 5 || i > 140 ? 400 : 20);
    }
    const sweptA = sweptFrom(toLocal);
    const sweptB = sweptFrom(toRemote[0]!);
    expect(sweptA).toBeDefined();
    expect(sweptB).toBeDefined();
    expect(sweptA!).toBeLessThan(toLocal);
    expect(sweptB!).toBeLessThan(toRemote[0]!);
    for (const [n, before, swept] of [
      [a, ba, sweptA!],
      [b, bb, sweptB!],
    ] as const) {
      await until(async () => {
        const r = await ok('balance', ...dd(n));
        return BigInt(r.onchain.total_sat) - BigInt(before.onchain.total_sat) === swept;
      }, `${n.name} swept balance`);
    }
    for (const n of [a, b]) {
      await until(async () => (await channel(n, staticId)).state === 'CLOSED', `${n.name} CLOSED`);
    }
  });

  it('SIGTERM stops both nodes cleanly (exit 0, api.json removed)', async () => {
    for (const n of [a, b]) n.child.kill('SIGTERM');
    expect(await a.exited).toBe(0);
    expect(await b.exited).toBe(0);
    expect(existsSync(join(a.dataDir, 'api.json'))).toBe(false);
    expect(existsSync(join(a.dataDir, 'api.token'))).toBe(true);
  });
});
