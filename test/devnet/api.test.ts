/**
 * The devnet's HTTP surfaces: JSON-RPC protocol details (auth, 1.0/2.0, batches, named
 * params, error objects), Core's result shapes, and the Esplora REST endpoints.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Devnet, startDevnet } from '../../src/apps/devnet/index.js';
import { sha256, sha256d } from '../../src/protocol/crypto/hash.js';
import { concat, fromHex, toHex } from '../../src/protocol/encoding/bytes.js';
import { blockHash, decodeBlock, decodeHeader } from '../../src/protocol/tx/block.js';
import { decodeTx, reverse, txid } from '../../src/protocol/tx/transaction.js';
import { findOutput, hex, key, type Prevout, RpcClient, spendP2wpkh } from './helpers.js';

let devnet: Devnet;
let rpc: RpcClient;
const alice = key('api-alice');
const bob = key('api-bob');
let fundTxid: string;
let fundBlock: string;
let prev: Prevout;

beforeAll(async () => {
  devnet = await startDevnet();
  rpc = new RpcClient(devnet.rpcUrl);
  fundTxid = devnet.fund(alice.address, 1_000_000n);
  [fundBlock] = devnet.mine(1) as [string];
  prev = await findOutput(rpc, fundTxid, alice.script);
});
afterAll(() => devnet.stop());

const esplora = async (path: string) => {
  const r = await fetch(`${devnet.esploraUrl}${path}`);
  return { status: r.status, text: await r.text(), type: r.headers.get('content-type') };
};

describe('devnet JSON-RPC protocol', () => {
  it('requires HTTP basic auth (401 without or with a wrong password)', async () => {
    const r = await rpc.raw({ method: 'getblockcount', params: [], id: 1 }, false);
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toBe('Basic realm="jsonrpc"');
    const u = new URL(devnet.rpcUrl);
    const wrong = await fetch(`http://${u.host}/`, {
      method: 'POST',
      headers: { Authorization: `Basic ${Buffer.from('farad:nope').toString('base64')}` },
      body: '{"method":"getblockcount","params":[],"id":1}',
    });
    expect(wrong.status).toBe(401);
  });

  it('answers JSON-RPC 1.0, 2.0, batches and named params with Core error objects', async () => {
    const v1 = await (await rpc.raw({ method: 'getblockcount', params: [], id: 'a' })).json();
    expect(v1).toEqual({ result: devnet.chain.height, error: null, id: 'a' });
    const missing = await rpc.raw({ method: 'nosuchmethod', params: [], id: 2 });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({
      result: null,
      error: { code: -32601, message: 'Method not found' },
      id: 2,
    });
    const v2 = await (await rpc.raw({ jsonrpc: '2.0', method: 'getbestblockhash', id: 3 })).json();
    expect(v2).toEqual({ jsonrpc: '2.0', result: devnet.chain.tip.hash, id: 3 });
    const v2err = await rpc.raw({ jsonrpc: '2.0', method: 'getblockhash', params: [100000], id: 4 });
    expect(v2err.status).toBe(200);
    expect(await v2err.json()).toEqual({
      jsonrpc: '2.0',
      error: { code: -8, message: 'Block height out of range' },
      id: 4,
    });
    // biome-ignore lint/suspicious/noExplicitAny: JSON
    const batch: any = await (
      await rpc.raw([
        { method: 'getblockhash', params: [0], id: 1 },
        { method: 'getblockhash', params: { height: 1 }, id: 2 },
      ])
    ).json();
    expect(batch).toHaveLength(2);
    expect(batch[0].result).toBe('0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206');
    expect(batch[1].result).toBe(devnet.chain.blockAt(1)!.hash);
    const parse = await rpc.raw('{not json');
    expect(((await parse.json()) as { error: { code: number } }).error.code).toBe(-32700);
  });

  it('serves blocks and headers in Core shapes (getblock 0/1/2, getblockheader)', async () => {
    const raw = await rpc.call('getblock', fundBlock, 0);
    const block = decodeBlock(fromHex(raw));
    expect(toHex(blockHash(block.header))).toBe(fundBlock);
    const hdrHex = await rpc.call('getblockheader', fundBlock, false);
    expect(hdrHex).toBe(raw.slice(0, 160));
    expect(toHex(blockHash(decodeHeader(fromHex(hdrHex))))).toBe(fundBlock);
    const v1 = await rpc.call('getblock', fundBlock, 1);
    expect(v1).toMatchObject({
      hash: fundBlock,
      confirmations: 1,
      height: devnet.chain.height,
      version: 0x20000000,
      versionHex: '20000000',
      merkleroot: toHex(block.header.merkleRoot),
      time: block.header.time,
      nonce: block.header.nonce,
      bits: '207fffff',
      nTx: 2,
      previousblockhash: toHex(block.header.prevBlock),
      size: fromHex(raw).length,
    });
    expect(v1.tx).toEqual(block.txs.map((t) => toHex(txid(t))));
    expect(v1.nextblockhash).toBeUndefined();
    expect(v1.chainwork).toMatch(/^[0-9a-f]{64}$/);
    expect(typeof v1.mediantime).toBe('number');
    const v2 = await rpc.call('getblock', fundBlock, 2);
    const fundJson = v2.tx[1];
    expect(fundJson.txid).toBe(fundTxid);
    const out = fundJson.vout.find(
      (o: { scriptPubKey: { hex: string } }) => o.scriptPubKey.hex === toHex(alice.script),
    );
    expect(out).toMatchObject({
      value: 0.01,
      scriptPubKey: { address: alice.address, type: 'witness_v0_keyhash' },
    });
    expect(typeof fundJson.fee).toBe('number');
    expect(v2.tx[0].vin[0].coinbase).toMatch(/^[0-9a-f]+$/);
    // Amounts are printed with 8 decimals like Core.
    const text = await (await rpc.raw({ method: 'getblock', params: [fundBlock, 2], id: 1 })).text();
    expect(text).toContain('"value":0.01000000');
  });

  it('serves transactions, outputs and the mempool (getrawtransaction, gettxout, getmempoolentry)', async () => {
    const t = await rpc.call('getrawtransaction', fundTxid, true);
    expect(t).toMatchObject({ txid: fundTxid, blockhash: fundBlock, confirmations: 1 });
    expect(await rpc.call('getrawtransaction', fundTxid)).toBe(t.hex);
    expect(await rpc.error('getrawtransaction', '00'.repeat(32))).toEqual({
      code: -5,
      message: 'No such mempool or blockchain transaction. Use gettransaction for wallet transactions.',
    });
    const txo = await rpc.call('gettxout', fundTxid, prev.vout);
    expect(txo).toMatchObject({
      bestblock: devnet.chain.tip.hash,
      confirmations: 1,
      value: 0.01,
      coinbase: false,
    });
    expect(txo.scriptPubKey).toMatchObject({ hex: toHex(alice.script), address: alice.address });
    const spend = spendP2wpkh(prev, alice, [{ value: 990_000n, scriptPubKey: bob.script }]);
    const tma = await rpc.call('testmempoolaccept', [hex(spend)]);
    expect(tma).toEqual([
      {
        txid: toHex(txid(spend)),
        wtxid: tma[0].wtxid,
        allowed: true,
        vsize: tma[0].vsize,
        fees: {
          base: 0.0001,
          'effective-feerate': tma[0].fees['effective-feerate'],
          'effective-includes': [tma[0].wtxid],
        },
      },
    ]);
    const id = await rpc.call('sendrawtransaction', hex(spend));
    expect(await rpc.call('gettxout', fundTxid, prev.vout)).toBeNull();
    expect((await rpc.call('gettxout', fundTxid, prev.vout, false)).confirmations).toBe(1);
    const entry = await rpc.call('getmempoolentry', id);
    expect(entry).toMatchObject({
      vsize: tma[0].vsize,
      ancestorcount: 1,
      descendantcount: 1,
      fees: { base: 0.0001 },
      'bip125-replaceable': true,
    });
    expect((await rpc.call('getrawmempool', true))[id].wtxid).toBe(tma[0].wtxid);
    expect(await rpc.error('getmempoolentry', fundTxid)).toEqual({
      code: -5,
      message: 'Transaction not in mempool',
    });
    expect(await rpc.error('sendrawtransaction', 'zz')).toEqual({
      code: -22,
      message: 'TX decode failed. Make sure the tx has at least one input.',
    });
    expect(await rpc.call('sendrawtransaction', hex(spend))).toBe(id); // already in mempool: returns txid
    const fee = await rpc.call('estimatesmartfee', 6);
    expect(fee).toEqual({ feerate: Number(devnet.chain.estimateFeeRate(6)) / 1e8, blocks: 6 });
    const info = await rpc.call('getblockchaininfo');
    expect(info).toMatchObject({
      chain: 'regtest',
      blocks: devnet.chain.height,
      bestblockhash: devnet.chain.tip.hash,
    });
    expect((await rpc.call('getnetworkinfo')).relayfee).toBe(0.00001);
  });
});

describe('devnet Esplora REST', () => {
  it('serves tip, block, header, raw and txids', async () => {
    expect((await esplora('/blocks/tip/height')).text).toBe(String(devnet.chain.height));
    expect((await esplora('/blocks/tip/hash')).text).toBe(devnet.chain.tip.hash);
    const h = devnet.chain.getBlock(fundBlock)!.height;
    expect((await esplora(`/block-height/${h}`)).text).toBe(fundBlock);
    expect((await esplora('/block-height/99999')).status).toBe(404);
    const header = (await esplora(`/block/${fundBlock}/header`)).text;
    expect(toHex(blockHash(decodeHeader(fromHex(header))))).toBe(fundBlock);
    const raw = new Uint8Array(
      await (await fetch(`${devnet.esploraUrl}/block/${fundBlock}/raw`)).arrayBuffer(),
    );
    expect(toHex(blockHash(decodeBlock(raw).header))).toBe(fundBlock);
    expect(JSON.parse((await esplora(`/block/${fundBlock}/txids`)).text)[1]).toBe(fundTxid);
    expect(JSON.parse((await esplora(`/block/${fundBlock}/status`)).text)).toEqual({
      in_best_chain: true,
      height: h,
      next_best: devnet.chain.blockAt(h + 1)?.hash ?? null,
    });
  });

  it('serves transactions with status, merkle proof and outspends', async () => {
    expect((await esplora(`/tx/${fundTxid}/hex`)).text).toBe(await rpc.call('getrawtransaction', fundTxid));
    const j = JSON.parse((await esplora(`/tx/${fundTxid}`)).text);
    expect(j).toMatchObject({ txid: fundTxid, status: { confirmed: true, block_hash: fundBlock } });
    expect(j.vout[prev.vout]).toMatchObject({
      scriptpubkey: toHex(alice.script),
      scriptpubkey_type: 'v0_p2wpkh',
      scriptpubkey_address: alice.address,
      value: 1_000_000,
    });
    const proof = JSON.parse((await esplora(`/tx/${fundTxid}/merkle-proof`)).text);
    let node = reverse(fromHex(fundTxid));
    let pos = proof.pos as number;
    for (const sib of proof.merkle as string[]) {
      const s = reverse(fromHex(sib));
      node = pos & 1 ? sha256d(concat(s, node)) : sha256d(concat(node, s));
      pos >>= 1;
    }
    const blk = decodeBlock(fromHex(await rpc.call('getblock', fundBlock, 0)));
    expect(toHex(reverse(node))).toBe(toHex(blk.header.merkleRoot));
    const spender = (await rpc.call('getrawmempool'))[0];
    expect(JSON.parse((await esplora(`/tx/${fundTxid}/outspend/${prev.vout}`)).text)).toEqual({
      spent: true,
      txid: spender,
      vin: 0,
      status: { confirmed: false },
    });
    expect(JSON.parse((await esplora(`/tx/${spender}/outspend/0`)).text)).toEqual({ spent: false });
    expect(JSON.parse((await esplora(`/tx/${spender}/status`)).text)).toEqual({ confirmed: false });
    expect((await esplora(`/tx/${'ab'.repeat(32)}`)).status).toBe(404);
  });

  it('serves address and scripthash UTXOs and history, and fee estimates', async () => {
    const bobUtxo = JSON.parse((await esplora(`/address/${bob.address}/utxo`)).text);
    expect(bobUtxo).toEqual([
      { txid: (await rpc.call('getrawmempool'))[0], vout: 0, status: { confirmed: false }, value: 990_000 },
    ]);
    const sh = toHex(sha256(bob.script));
    expect(JSON.parse((await esplora(`/scripthash/${sh}/utxo`)).text)).toEqual(bobUtxo);
    const aliceTxs = JSON.parse((await esplora(`/address/${alice.address}/txs`)).text) as { txid: string }[];
    expect(aliceTxs.map((t) => t.txid)).toEqual([(await rpc.call('getrawmempool'))[0], fundTxid]);
    expect(JSON.parse((await esplora(`/address/${alice.address}/utxo`)).text)).toEqual([]);
    const fees = JSON.parse((await esplora('/fee-estimates')).text);
    expect(fees['1']).toBe(Number(devnet.chain.estimateFeeRate(1)) / 1000);
    expect(fees['144']).toBe(Number(devnet.chain.estimateFeeRate(144)) / 1000);
    expect((await esplora('/address/notanaddress/utxo')).status).toBe(400);
  });

  it('broadcasts with POST /tx and reports rejections as HTTP 400 with the RPC error', async () => {
    devnet.mine(1);
    const f = devnet.fund(alice.address, 300_000n);
    devnet.mine(1);
    const p = await findOutput(rpc, f, alice.script);
    const low = spendP2wpkh(p, alice, [{ value: 300_000n, scriptPubKey: bob.script }]);
    const bad = await fetch(`${devnet.esploraUrl}/tx`, { method: 'POST', body: hex(low) });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toMatch(
      /^sendrawtransaction RPC error: \{"code":-26,"message":"min relay fee not met, 0 < \d+"\}$/,
    );
    const ok = spendP2wpkh(p, alice, [{ value: 299_000n, scriptPubKey: bob.script }]);
    const res = await fetch(`${devnet.esploraUrl}/tx`, { method: 'POST', body: hex(ok) });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(toHex(txid(decodeTx(fromHex(hex(ok))))));
  });
});
