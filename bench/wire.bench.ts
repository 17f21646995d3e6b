/** BOLT 1/2/7 wire codec throughput: encode/decode of common messages. */
import { secp } from '../src/protocol/crypto/secp256k1.js';
import { featureBitsFromBytes } from '../src/protocol/features.js';
import { decodeMessage, encodeMessage, type KnownMessage } from '../src/protocol/wire/messages.js';
import type { BenchCase } from './harness.js';

const key = (i: number) => {
  const k = new Uint8Array(32);
  k[31] = i;
  return secp().publicKey(k);
};

const channelUpdate: KnownMessage = {
  type: 'channel_update',
  signature: new Uint8Array(64).fill(1),
  chainHash: new Uint8Array(32).fill(2),
  shortChannelId: (800000n << 40n) | (1234n << 16n) | 1n,
  timestamp: 1_700_000_000,
  messageFlags: 1,
  channelFlags: 0,
  cltvExpiryDelta: 144,
  htlcMinimumMsat: 1000n,
  feeBaseMsat: 1000,
  feeProportionalMillionths: 100,
  htlcMaximumMsat: 990_000_000n,
};
const channelAnnouncement: KnownMessage = {
  type: 'channel_announcement',
  nodeSignature1: new Uint8Array(64),
  nodeSignature2: new Uint8Array(64),
  bitcoinSignature1: new Uint8Array(64),
  bitcoinSignature2: new Uint8Array(64),
  features: new Uint8Array(0),
  chainHash: new Uint8Array(32),
  shortChannelId: 1n,
  nodeId1: key(1),
  nodeId2: key(2),
  bitcoinKey1: key(3),
  bitcoinKey2: key(4),
};
const addHtlc: KnownMessage = {
  type: 'update_add_htlc',
  channelId: new Uint8Array(32),
  id: 7n,
  amountMsat: 100_000n,
  paymentHash: new Uint8Array(32),
  cltvExpiry: 800_100,
  onionRoutingPacket: new Uint8Array(1366),
};
const cu = encodeMessage(channelUpdate);
const ca = encodeMessage(channelAnnouncement);
const ah = encodeMessage(addHtlc);
const features = new Uint8Array([0x08, 0xa0, 0x00, 0x0a, 0x69, 0xa2]);

const cases: BenchCase[] = [
  { group: 'Wire (BOLT 1/2/7)', name: 'decode channel_update', fn: () => decodeMessage(cu) },
  { group: 'Wire (BOLT 1/2/7)', name: 'encode channel_update', fn: () => encodeMessage(channelUpdate) },
  {
    group: 'Wire (BOLT 1/2/7)',
    name: 'decode channel_announcement (4 point checks)',
    fn: () => decodeMessage(ca),
  },
  { group: 'Wire (BOLT 1/2/7)', name: 'decode update_add_htlc', fn: () => decodeMessage(ah) },
  { group: 'Wire (BOLT 1/2/7)', name: 'encode update_add_htlc', fn: () => encodeMessage(addHtlc) },
  {
    group: 'Wire (BOLT 1/2/7)',
    name: 'featureBitsFromBytes (6 bytes)',
    fn: () => featureBitsFromBytes(features),
  },
];
export default cases;
