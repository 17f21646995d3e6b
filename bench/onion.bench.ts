/** BOLT 4 onion benchmarks: building a 5-hop payment onion and peeling one layer. */
import { secp } from '../src/protocol/crypto/secp256k1.js';
import { createOnionPacket, encodePaymentPayload, peelOnion } from '../src/protocol/onion/index.js';
import type { BenchCase } from './harness.js';

const privs = [0x41, 0x42, 0x43, 0x44, 0x45].map((b) => new Uint8Array(32).fill(b));
const hops = privs.map((p, i) => ({
  pubkey: secp().publicKey(p),
  payload: encodePaymentPayload({
    amtToForward: 100_000n - BigInt(i) * 1000n,
    outgoingCltvValue: 800_000 - i * 40,
    ...(i < privs.length - 1 ? { shortChannelId: BigInt(i + 1) } : {}),
  }),
}));
const sessionKey = new Uint8Array(32).fill(0x61);
const associatedData = new Uint8Array(32).fill(0x42);
const { packet } = createOnionPacket({ sessionKey, hops, associatedData });

const cases: BenchCase[] = [
  {
    group: 'BOLT 4',
    name: 'onion build, 5 hops',
    fn: () => createOnionPacket({ sessionKey, hops, associatedData }),
  },
  {
    group: 'BOLT 4',
    name: 'onion peel (one hop)',
    fn: () => peelOnion(packet, privs[0]!, associatedData),
    target: '>= 200/s',
    targetOps: 200,
  },
];
export default cases;
