/**
 * BOLT 3: the cost of a `commitment_signed`: build the commitment transaction, sign it, build
 * every HTLC transaction and sign each one (as the counterparty). Keys from the Appendix C params.
 */
import {
  buildCommitmentTx,
  buildHtlcTxs,
  type ChannelType,
  type CommitmentHtlc,
  obscuringFactor,
  signCommitmentTx,
  signHtlcTx,
} from '../src/protocol/channel/index.js';
import { sha256 } from '../src/protocol/crypto/hash.js';
import { fromHex as hex } from '../src/protocol/encoding/bytes.js';
import type { BenchCase } from './harness.js';

// BOLT 3 Appendix C parameters.
const P = {
  fundingTxid: '8984484a580b825b9972d7adb15050b3ab624ccd731946b3eeddb92f4e7ef6be',
  localFundingPrivkey: '30ff4956bbdd3222d44cc5e8a1261dab1e07957bdac5ae88fe3261ef321f3749',
  localFundingPubkey: '023da092f6980e58d2c037173180e9a465476026ee50f96695963e8efe436f54eb',
  remoteFundingPubkey: '030e9f7b623d2ccc7c9bd44d66d5ce21ce504c0acf6385a132cec6d3c39fa711c1',
  localPaymentBasepoint: '034f355bdcb7cc0af728ef3cceb9615d90684bb5b2ca5f859ab0f0b704075871aa',
  remotePaymentBasepoint: '032c0b7cf95324a07d05398b240174dc0c2be444d96b159aa6c7f7b1e668680991',
  remoteHtlcPrivkey: '8deba327a7cc6d638ab0eb025770400a6184afcba6713c210d8d10e199ff2fda',
  localHtlcPubkey: '030d417a46946384f88d5f3337267c5e579765875dc4daca813e21734b140639e7',
  remoteHtlcPubkey: '0394854aa6eab5b2a8122cc726e9dded053a2184d88256816826d6231c068d4a5b',
  localDelayedPubkey: '03fd5960528dc152014952efdb702a88f71e3c1653b2314431701ec77e57fde83c',
  revocationPubkey: '0212a140cd0c6539d07cd08dfe09984dec3251ea808b892efeac3ede9402bf2b19',
};

function commitmentSigned(channelType: ChannelType, n: number): () => unknown {
  const fundingSat = 10_000_000n;
  const htlcs: CommitmentHtlc[] = Array.from({ length: n }, (_, i) => ({
    id: BigInt(i),
    direction: i % 2 === 0 ? 'offered' : 'received',
    amountMsat: 5_000_000n + BigInt(i) * 1000n,
    paymentHash: sha256(Uint8Array.of(i & 0xff, i >> 8)),
    cltvExpiry: 800_000 + i,
  }));
  const htlcSum = htlcs.reduce((s, h) => s + h.amountMsat, 0n);
  const fundingPriv = hex(P.localFundingPrivkey);
  const htlcPriv = hex(P.remoteHtlcPrivkey);
  const params = {
    channelType,
    fundingOutpoint: { txid: hex(P.fundingTxid), vout: 0 },
    fundingAmountSat: fundingSat,
    localFundingPubkey: hex(P.localFundingPubkey),
    remoteFundingPubkey: hex(P.remoteFundingPubkey),
    commitmentNumber: 42,
    obscuringFactor: obscuringFactor(hex(P.localPaymentBasepoint), hex(P.remotePaymentBasepoint)),
    localIsOpener: true,
    toLocalMsat: 7_000_000_000n - htlcSum,
    toRemoteMsat: 3_000_000_000n,
    feeratePerKw: 253,
    dustLimitSat: 546n,
    toSelfDelay: 144,
    keys: {
      revocationPubkey: hex(P.revocationPubkey),
      localDelayedPubkey: hex(P.localDelayedPubkey),
      remotePaymentPubkey: hex(P.remotePaymentBasepoint),
      localHtlcPubkey: hex(P.localHtlcPubkey),
      remoteHtlcPubkey: hex(P.remoteHtlcPubkey),
    },
    htlcs,
  };
  return () => {
    const c = buildCommitmentTx(params);
    const sig = signCommitmentTx(c, fundingPriv);
    const htlcSigs = buildHtlcTxs(c).map((h) => signHtlcTx(h, htlcPriv, 'counterparty'));
    if (htlcSigs.length !== n) throw new Error('unexpected trimming');
    return sig;
  };
}

const cases: BenchCase[] = [];
for (const ct of ['static_remotekey', 'anchors_zero_fee_htlc_tx'] as const) {
  for (const n of [0, 10, 483]) {
    cases.push({
      group: 'BOLT 3',
      name: `commitment tx build + sign, ${n} HTLCs (${ct === 'static_remotekey' ? 'static_remotekey' : 'anchors'})`,
      fn: commitmentSigned(ct, n),
      ...(n === 483 ? { seconds: 3 } : {}),
    });
  }
}

export default cases;
