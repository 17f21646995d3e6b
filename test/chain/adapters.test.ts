import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BitcoindBackend,
  bitcoindChainSource,
  btcPerKvbToSatPerKw,
} from '../../src/adapters/chain/bitcoind.js';
import { EsploraBackend, esploraChainSource, satPerVbToSatPerKw } from '../../src/adapters/chain/esplora.js';
import { BroadcastError, broadcastErrorFrom, type ChainBackend } from '../../src/node/ports/chain.js';
import { sha256 } from '../../src/protocol/crypto/hash.js';
import { toHex, utf8 } from '../../src/protocol/encoding/bytes.js';
import { scriptToAddress } from '../../src/protocol/tx/address.js';
import { p2wpkh } from '../../src/protocol/tx/script.js';
import { type Transaction, txidHex } from '../../src/protocol/tx/transaction.js';
import { makeBlock, type StubChain, startBitcoindStub, startEsploraStub } from './stub-servers.js';

const script = (n: number) => p2wpkh(Uint8Array.of(2, ...sha256(utf8(`s${n}`))));
let nonce = 0;
function payTx(to: Uint8Array, value: bigint): Transaction {
  nonce++;
  return {
    version: 2,
    locktime: 0,
    inputs: [
      {
        txid: sha256(utf8(`in${nonce}`)),
        vout: 0,
        scriptSig: new Uint8Array(0),
        sequence: 0xfffffffd,
        witness: [Uint8Array.of(1)],
      },
    ],
    outputs: [{ value, scriptPubKey: to }],
  };
}

function newChain(): StubChain {
  const genesis = makeBlock('00'.repeat(32), 1_600_000_000, [payTx(script(0), 1n)]);
  const chain: StubChain = { blocks: [genesis], mempool: [] };
  return chain;
}

function mine(chain: StubChain, txs: Transaction[] = []): void {
  const prev = chain.blocks[chain.blocks.length - 1]!;
  chain.blocks.push(
    makeBlock(prev.hash, 1_600_000_000 + chain.blocks.length * 600, [payTx(script(0), 1n), ...txs]),
  );
}

// Messages as Bitcoin Core returns them (src/util/error.cpp, validation.cpp reject reasons).
describe('broadcast error mapping', () => {
  const cases: [number | undefined, string, string][] = [
    [-26, 'min relay fee not met, 0 < 110', 'min-relay-fee'],
    [-26, 'mempool min fee not met, 100 < 200', 'min-relay-fee'],
    [
      -26,
      'insufficient fee, rejecting replacement abcd; new feerate 0.00001 <= old feerate 0.00001',
      'insufficient-fee',
    ],
    [-25, 'bad-txns-inputs-missingorspent', 'missing-inputs'],
    [-25, 'Inputs missing or spent', 'missing-inputs'],
    [-25, 'Missing inputs', 'missing-inputs'],
    [-27, 'Transaction outputs already in utxo set', 'already-in-chain'],
    [-27, 'Transaction already in block chain', 'already-in-chain'],
    [
      -26,
      'mandatory-script-verify-flag-failed (Signature must be zero for failed CHECK(MULTI)SIG operation)',
      'script-verify',
    ],
    [-26, 'non-mandatory-script-verify-flag (Non-canonical DER signature)', 'script-verify'],
    [-26, 'non-BIP68-final', 'non-final'],
    [-26, 'non-final', 'non-final'],
    [-26, 'txn-mempool-conflict', 'conflict'],
    [-26, 'dust', 'dust'],
    [-26, 'bad-txns-premature-spend-of-coinbase, tried to spend coinbase at depth 5', 'premature-coinbase'],
    [-26, 'txn-already-in-mempool', 'already-in-mempool'],
    [-26, 'tx-size', 'other'],
    [-22, 'TX decode failed', 'other'],
  ];
  for (const [code, msg, reason] of cases) {
    it(`${code} "${msg.slice(0, 40)}" -> ${reason}`, () => {
      const e = broadcastErrorFrom(code, msg);
      expect(e).toBeInstanceOf(BroadcastError);
      expect(e.reason).toBe(reason);
      expect(e.rpcCode).toBe(code);
      expect(e.rejectMessage).toBe(msg);
    });
  }
});

describe('fee unit conversions', () => {
  it('converts BTC/kvB (estimatesmartfee) and sat/vB (Esplora) to sat/kw, rounding up', () => {
    expect(btcPerKvbToSatPerKw(0.00001)).toBe(250n); // 1000 sat/kvB = 1 sat/vB = 250 sat/kw
    expect(btcPerKvbToSatPerKw(0.00012345)).toBe(3087n); // 12345 / 4 = 3086.25
    expect(satPerVbToSatPerKw(1)).toBe(250n);
    expect(satPerVbToSatPerKw(1.027)).toBe(257n); // 256.75
    expect(satPerVbToSatPerKw(87.882)).toBe(21971n); // 21970.5
  });
});

for (const kind of ['bitcoind', 'esplora'] as const) {
  describe(`${kind} adapter against a stub server with the documented formats`, () => {
    let chain: StubChain;
    let stop: () => Promise<void>;
    let url: string;
    let backend: ChainBackend;
    beforeAll(async () => {
      chain = newChain();
      for (let i = 0; i < 3; i++) mine(chain);
      const s =
        kind === 'bitcoind'
          ? await startBitcoindStub(chain)
          : await startEsploraStub(chain, (sc) => scriptToAddress(sc, 'regtest'));
      stop = s.stop;
      url = s.url;
      backend =
        kind === 'bitcoind' ? new BitcoindBackend({ url }) : new EsploraBackend({ url, network: 'regtest' });
    });
    afterAll(() => stop());

    it('reads the tip, block hashes (undefined above the tip) and full blocks', async () => {
      expect(await backend.getTip()).toEqual({ height: 3, hash: chain.blocks[3]!.hash });
      expect(await backend.getBlockHash(2)).toBe(chain.blocks[2]!.hash);
      expect(await backend.getBlockHash(99)).toBeUndefined();
      const b = await backend.getBlock(chain.blocks[2]!.hash);
      expect(b.prevHash).toBe(chain.blocks[1]!.hash);
      expect(b.txs.map(txidHex)).toEqual(chain.blocks[2]!.txs.map(txidHex));
      await expect(backend.getBlock('11'.repeat(32))).rejects.toMatchObject({ code: 'CHAIN_NOT_FOUND' });
    });

    it('finds mempool txs for watched scripts and outpoints, and tx status', async () => {
      const s = script(1);
      const a = payTx(s, 5_000n);
      const spender = payTx(script(2), 1_000n);
      spender.inputs[0] = { ...spender.inputs[0]!, txid: sha256(utf8('watched')), vout: 3 };
      const other = payTx(script(3), 7_000n);
      chain.mempool.push(a, spender, other);
      const got = await backend.mempoolTransactions({
        scripts: [s],
        outpoints: [{ txid: toHex(sha256(utf8('watched'))), vout: 3 }],
      });
      expect(got.map(txidHex).sort()).toEqual([txidHex(a), txidHex(spender)].sort());
      expect(await backend.txStatus(txidHex(a))).toBe('mempool');
      expect(await backend.txStatus('22'.repeat(32))).toBe('unknown');
      expect(txidHex((await backend.getTransaction(txidHex(other)))!)).toBe(txidHex(other));
      expect(await backend.getTransaction('22'.repeat(32))).toBeUndefined();
      chain.mempool = [];
    });

    it('estimates fees in sat/kw, or undefined without data', async () => {
      expect(await backend.estimateFeeRate(6)).toBeUndefined();
      chain.feeBtcPerKvb = 0.00002;
      chain.feeSatPerVb = { '2': 20, '6': 2, '144': 1 };
      expect(await backend.estimateFeeRate(6)).toBe(kind === 'bitcoind' ? 500n : 500n);
      if (kind === 'esplora') {
        expect(await backend.estimateFeeRate(1)).toBe(5000n); // no target 1: the fastest available
        expect(await backend.estimateFeeRate(3)).toBe(5000n); // largest target <= 3 is 2
        expect(await backend.estimateFeeRate(1000)).toBe(250n);
      }
    });

    it('maps broadcast rejections to typed BroadcastErrors', async () => {
      const tx = payTx(script(4), 1_000n);
      const raw = (await import('../../src/protocol/tx/transaction.js')).encodeTx(tx);
      expect(await backend.broadcast(raw)).toBe(txidHex(tx));
      chain.reject = { code: -26, message: 'min relay fee not met, 0 < 110' };
      const e = await backend.broadcast(raw).catch((x) => x);
      expect(e).toBeInstanceOf(BroadcastError);
      expect(e.reason).toBe('min-relay-fee');
      expect(e.rpcCode).toBe(-26);
      chain.reject = { code: -25, message: 'bad-txns-inputs-missingorspent' };
      expect((await backend.broadcast(raw).catch((x) => x)).reason).toBe('missing-inputs');
      chain.reject = { code: -27, message: 'Transaction outputs already in utxo set' };
      expect((await backend.broadcast(raw).catch((x) => x)).reason).toBe('already-in-chain');
      chain.reject = undefined;
    });

    it('drives a ChainTracker through a reorg', async () => {
      const s = script(9);
      const t =
        kind === 'bitcoind' ? bitcoindChainSource({ url }) : esploraChainSource({ url, network: 'regtest' });
      t.watchScript(s);
      await t.poll();
      const pay = payTx(s, 12_345n);
      mine(chain, [pay]);
      const ev1 = await t.poll();
      expect(ev1.map((e) => e.type)).toEqual(['block_connected', 'tx_confirmed']);
      const oldHash = chain.blocks[chain.blocks.length - 1]!.hash;
      chain.blocks.pop();
      mine(chain);
      mine(chain);
      const ev2 = await t.poll();
      expect(ev2.map((e) => e.type)).toEqual([
        'tx_unconfirmed',
        'block_disconnected',
        'block_connected',
        'block_connected',
        'tx_dropped',
      ]);
      expect(ev2[1]).toMatchObject({ block: { hash: oldHash } });
    });
  });
}

describe('bitcoind transport errors', () => {
  it('reports bad credentials and unreachable servers as ChainSourceError', async () => {
    const chain = newChain();
    const s = await startBitcoindStub(chain);
    const bad = new BitcoindBackend({ url: s.url.replace('u:', 'x:') });
    await expect(bad.getTip()).rejects.toMatchObject({ code: 'CHAIN_AUTH' });
    await expect(new BitcoindBackend({ url: s.url }).call('nosuchmethod')).rejects.toMatchObject({
      code: 'CHAIN_RPC_ERROR',
      rpcCode: -32601,
    });
    await s.stop();
    await expect(new BitcoindBackend({ url: s.url, timeoutMs: 2000 }).getTip()).rejects.toMatchObject({
      code: 'CHAIN_UNREACHABLE',
    });
  });
});
