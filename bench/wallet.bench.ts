/** Wallet and chain-source hot paths: coin selection, P2WPKH signing, block scanning. */
import { signP2wpkh } from '../src/core/wallet/build.js';
import { type Coin, selectCoins } from '../src/core/wallet/coinselect.js';
import { outputWeight, P2WPKH_INPUT_WEIGHT, txBaseWeight } from '../src/core/wallet/fees.js';
import { Bip84Account } from '../src/core/wallet/keys.js';
import { ChainTracker } from '../src/node/chain/tracker.js';
import type { BackendBlock, ChainBackend } from '../src/node/ports/chain.js';
import { fromHex } from '../src/protocol/encoding/bytes.js';
import type { Transaction } from '../src/protocol/tx/transaction.js';
import type { BenchCase } from './harness.js';

const acct = new Bip84Account(fromHex('42'.repeat(32)), 'regtest');
const coins: Coin[] = Array.from({ length: 500 }, (_, i) => ({
  id: `c${i}`,
  value: BigInt(10_000 + ((i * 7919) % 90_000)),
  inputWeight: P2WPKH_INPUT_WEIGHT,
}));
const inputs = Array.from({ length: 10 }, (_, i) => ({
  txid: (i + 16).toString(16).repeat(64).slice(0, 64),
  vout: i,
  value: 50_000n,
  script: acct.key(0, i).script,
}));
const outputs = [{ value: 400_000n, scriptPubKey: acct.key(1, 0).script }];

// A 1,000-transaction block and a tracker watching 40 wallet scripts (none match: pure scan cost).
const blockTxs: Transaction[] = Array.from({ length: 1000 }, (_, i) => ({
  version: 2,
  locktime: 0,
  inputs: [
    {
      txid: fromHex((i % 250).toString(16).padStart(2, '0').repeat(32)),
      vout: i,
      scriptSig: new Uint8Array(0),
      sequence: 0,
      witness: [],
    },
  ],
  outputs: [
    { value: 1000n, scriptPubKey: acct.key(0, 1000 + i).script },
    { value: 2000n, scriptPubKey: acct.key(1, 1000 + i).script },
  ],
}));
let height = 0;
const fake: ChainBackend = {
  name: 'bench',
  getTip: async () => ({ height, hash: height.toString(16).padStart(64, '0') }),
  getBlockHash: async (h) => (h <= height ? h.toString(16).padStart(64, '0') : undefined),
  getBlock: async (hash): Promise<BackendBlock> => {
    const h = Number.parseInt(hash, 16);
    return { hash, prevHash: (h - 1).toString(16).padStart(64, '0'), time: h, txs: blockTxs };
  },
  getTransaction: async () => undefined,
  mempoolTransactions: async () => [],
  txStatus: async () => 'unknown',
  estimateFeeRate: async () => undefined,
  broadcast: async () => '',
};
const tracker = new ChainTracker(fake);
for (let i = 0; i < 40; i++) tracker.watchScript(acct.key(i % 2 === 0 ? 0 : 1, i).script);

const cases: BenchCase[] = [
  {
    group: 'Wallet',
    name: 'coin selection over 500 UTXOs (BnB + fallback)',
    fn: () =>
      selectCoins({
        coins,
        target: 1_234_567n,
        baseWeight: txBaseWeight(500, [22]),
        feeRate: 2_500n,
        changeWeight: outputWeight(22),
        changeDustLimit: 294n,
      }),
  },
  {
    group: 'Wallet',
    name: 'build + sign a 10-input P2WPKH tx via PSBT',
    fn: () => signP2wpkh({ inputs, outputs, locktime: 0 }, (i) => acct.privateKey(0, i)),
  },
  {
    group: 'Chain source',
    name: 'connect + scan a 1,000-tx block (40 watched scripts)',
    fn: async () => {
      height++;
      await tracker.poll();
    },
  },
];

export default cases;
