/**
 * `farad demo`: the main job. Starts an embedded devnet and narrates, step by step, what Farad
 * does today with real bytes and real (regtest) transactions: two wallets over the two chain
 * sources, a payment, an RBF bump, the devnet refusing an invalid spend, a channel's 2-of-2
 * funding script, a BOLT 8 session, a BOLT 11 invoice and a BOLT 4 onion.
 */
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { BitcoindBackend, bitcoindChainSource } from '../../adapters/chain/bitcoind.js';
import { esploraChainSource } from '../../adapters/chain/esplora.js';
import { mnemonicFromEntropy } from '../../core/wallet/keys.js';
import { OnchainWallet } from '../../node/wallet/wallet.js';
import { fundingScript } from '../../protocol/channel/scripts.js';
import { sha256 } from '../../protocol/crypto/hash.js';
import { secp } from '../../protocol/crypto/secp256k1.js';
import { fromHex, toHex } from '../../protocol/encoding/bytes.js';
import { featureBytesFromBits } from '../../protocol/features.js';
import { decodeInvoice, encodeInvoice } from '../../protocol/invoice/index.js';
import { initiatorAct2, initiatorStart, responderAct1, responderAct3 } from '../../protocol/noise/index.js';
import { createOnionPacket, encodePaymentPayload, peelOnion } from '../../protocol/onion/index.js';
import { addressToScript, scriptToAddress } from '../../protocol/tx/address.js';
import { p2wpkh, p2wpkhScriptCode, p2wsh } from '../../protocol/tx/script.js';
import { derWithHashType } from '../../protocol/tx/signature.js';
import { encodeTx, SIGHASH_ALL, sighashSegwitV0, type Transaction } from '../../protocol/tx/transaction.js';
import { decodeMessage, encodeMessage, type Message } from '../../protocol/wire/index.js';
import { type Devnet, startDevnet } from '../devnet/index.js';
import { channelStory } from './channels.js';

type Say = (line: string) => void;
const sats = (v: bigint) => `${v.toLocaleString('en-US')} sat`;
const key = () => {
  for (;;) {
    const k = randomBytes(32);
    if (secp().isPrivateKey(k)) return new Uint8Array(k);
  }
};

interface Ctx {
  devnet: Devnet;
  alice: OnchainWallet;
  bob: OnchainWallet;
}

/** One narrated step of the demo. */
interface DemoStep {
  title: string;
  run(say: Say, ctx: Ctx): Promise<void> | void;
}

const steps: DemoStep[] = [
  {
    title: 'Alice (over bitcoind JSON-RPC) and Bob (over Esplora) receive coins',
    async run(say, { devnet, alice, bob }) {
      const a = alice.newAddress();
      const txid = devnet.fund(a, 1_000_000n);
      say(`devnet pays 1,000,000 sat to Alice's ${a} in tx ${txid}`);
      await alice.sync();
      say(`Alice before mining: ${JSON.stringify(fmt(alice.balances()))}`);
      devnet.mine(1);
      await Promise.all([alice.sync(), bob.sync()]);
      say(`Alice after one block:  ${JSON.stringify(fmt(alice.balances()))}`);
    },
  },
  {
    title: 'Alice pays Bob 250,000 sat at a low fee, then bumps it with RBF',
    async run(say, { devnet, alice, bob }) {
      const before = alice.balances().total;
      const first = await alice.send({ address: bob.newAddress(), amount: 250_000n, feeRate: 253n });
      say(`first tx ${first.txid}: fee ${sats(first.fee)} (${first.vsize} vB, 1 sat/vB)`);
      const bump = await alice.bumpFee(first.txid, 2_500n);
      say(`replacement ${bump.txid}: fee ${sats(bump.fee)} (10 sat/vB), same inputs`);
      devnet.mine(1);
      await Promise.all([alice.sync(), bob.sync()]);
      const after = alice.balances().total;
      say(`Alice: ${sats(before)} - 250,000 - ${bump.fee} fee = ${sats(after)}`);
      say(`Bob:   ${sats(bob.balances().total)} (confirmed ${sats(bob.balances().confirmed)})`);
      if (after !== before - 250_000n - bump.fee) throw new Error('balance mismatch');
    },
  },
  {
    title: 'The devnet checks every script like Bitcoin Core: a tampered signature is refused',
    async run(say, { devnet, bob }) {
      const k = key();
      const pub = secp().publicKey(k);
      const fundTxid = devnet.fund(scriptToAddress(p2wpkh(pub), 'regtest')!, 100_000n);
      devnet.mine(1);
      const prev = devnet.chain.getConfirmedTx(fundTxid)!.tx;
      const vout = prev.outputs.findIndex((o) => toHex(o.scriptPubKey) === toHex(p2wpkh(pub)));
      const tx: Transaction = {
        version: 2,
        locktime: 0,
        inputs: [
          { txid: fromHex(fundTxid), vout, scriptSig: new Uint8Array(0), sequence: 0xfffffffd, witness: [] },
        ],
        outputs: [{ value: 99_000n, scriptPubKey: addressToScript(bob.newAddress(), 'regtest') }],
      };
      const digest = sighashSegwitV0(tx, 0, p2wpkhScriptCode(pub), 100_000n, SIGHASH_ALL);
      const sig = derWithHashType(secp().sign(digest, k), SIGHASH_ALL);
      const rpc = new BitcoindBackend({ url: devnet.rpcUrl });
      const bad = sig.slice();
      bad[bad.length - 2]! ^= 1;
      tx.inputs[0]!.witness = [bad, pub];
      try {
        await rpc.broadcast(encodeTx(tx));
        say('unexpected: the tampered transaction was accepted');
      } catch (e) {
        say(`tampered signature: ${(e as Error).message}`);
      }
      tx.inputs[0]!.witness = [sig, pub];
      say(`correct signature: accepted as ${await rpc.broadcast(encodeTx(tx))}`);
      devnet.mine(1);
    },
  },
  {
    title: "A channel's funding output: a 2-of-2 P2WSH both nodes must sign to spend",
    run(say) {
      const ws = fundingScript(secp().publicKey(key()), secp().publicKey(key()));
      say(`funding witness script: ${toHex(ws)}`);
      say(`funding address (regtest): ${scriptToAddress(p2wsh(ws), 'regtest')}`);
    },
  },
  {
    title: 'BOLT 8: a Noise_XK handshake, then an encrypted init message',
    run(say) {
      const [ls, rs] = [key(), key()];
      const i = initiatorStart(ls, secp().publicKey(rs), key());
      const r = responderAct1(rs, key(), i.act1);
      const i2 = initiatorAct2(i.state, r.act2);
      const r2 = responderAct3(r.state, i2.act3);
      say(`acts of 50, 50 and 66 bytes; responder learned ${toHex(r2.remoteStatic).slice(0, 16)}…`);
      const init: Message = {
        type: 'init',
        globalFeatures: new Uint8Array(0),
        features: featureBytesFromBits([1, 9, 13, 15]),
        unknownTlvs: [],
      };
      const wire = i2.transport.encrypt(encodeMessage(init));
      const [plain] = r2.transport.push(wire);
      const got = decodeMessage(plain!);
      say(
        `${wire.length} encrypted bytes decrypt to a '${got.type}' message (Alice's init reached Bob intact)`,
      );
    },
  },
  {
    title: 'BOLT 11: Bob issues an invoice; anyone can decode it and recover his node id',
    run(say) {
      const node = key();
      const preimage = key();
      const inv = encodeInvoice(
        {
          network: 'regtest',
          amountMsat: 50_000_000n,
          timestamp: 1_700_000_000,
          fields: [
            { kind: 'payment_hash', value: sha256(preimage) },
            { kind: 'payment_secret', value: key() },
            { kind: 'description', value: 'coffee' },
            { kind: 'features', value: [8, 14] },
          ],
        },
        node,
      );
      const d = decodeInvoice(inv);
      say(inv);
      say(
        `amount ${d.amountMsat} msat, payee ${toHex(d.payee)} (matches: ${toHex(d.payee) === toHex(secp().publicKey(node))})`,
      );
    },
  },
  {
    title: 'BOLT 4: a 3-hop onion; each hop peels its layer and learns only its own instructions',
    run(say) {
      const hops = [key(), key(), key()];
      const assoc = sha256(new Uint8Array([1]));
      const { packet: onion } = createOnionPacket({
        sessionKey: key(),
        associatedData: assoc,
        hops: hops.map((h, n) => ({
          pubkey: secp().publicKey(h),
          payload: encodePaymentPayload({
            amtToForward: 1000n * BigInt(3 - n),
            outgoingCltvValue: 500 + 40 * (2 - n),
            ...(n < 2 ? { shortChannelId: BigInt(n + 1) } : {}),
          }),
        })),
      });
      let packet = onion;
      for (const [n, h] of hops.entries()) {
        const p = peelOnion(packet, h, assoc);
        say(`hop ${n + 1}: forward ${p.payload.amtToForward} msat${p.nextPacket ? '' : ' (final hop)'}`);
        if (p.nextPacket) packet = p.nextPacket;
      }
    },
  },
];

function fmt(b: object): Record<string, string> {
  return Object.fromEntries(Object.entries(b).map(([k, v]) => [k, String(v)]));
}

export async function runDemo(say: Say = (l) => console.log(l)): Promise<void> {
  say(`Farad demo (secp256k1 backend: ${secp().name})`);
  const devnet = await startDevnet();
  say(`devnet up: JSON-RPC ${devnet.rpcUrl}  Esplora ${devnet.esploraUrl}`);
  try {
    devnet.mine(101);
    const start = devnet.chain.height;
    const alice = new OnchainWallet({
      mnemonic: mnemonicFromEntropy(key().subarray(0, 16)),
      network: 'regtest',
      chain: bitcoindChainSource({ url: devnet.rpcUrl, startHeight: start }),
    });
    const bob = new OnchainWallet({
      mnemonic: mnemonicFromEntropy(key().subarray(0, 16)),
      network: 'regtest',
      chain: esploraChainSource({ url: devnet.esploraUrl, network: 'regtest', startHeight: start }),
    });
    let n = 1;
    for (const step of steps) {
      say('');
      say(`Step ${n++}: ${step.title}`);
      await step.run((l) => say(`  ${l}`), { devnet, alice, bob });
    }
    alice.close();
    bob.close();
    say('');
    say('The channel story: two Farad nodes, a channel, payments, a cooperative close and a cheater');
    await channelStory(devnet, say);
  } finally {
    await devnet.stop();
  }
  say('');
  say('Demo complete.');
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run the narrated end-to-end demo on an embedded devnet (the main job)')
    .action(async () => {
      await runDemo();
    });
}
