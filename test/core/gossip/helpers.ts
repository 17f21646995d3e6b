/** Shared fixtures for the gossip tests: deterministic keys and a fully signed channel. */
import {
  assembleChannelAnnouncement,
  buildChannelAnnouncement,
  createAnnouncementSignatures,
  createChannelUpdate,
  signNodeAnnouncement,
} from '../../../src/core/gossip/index.js';
import { fundingScript } from '../../../src/protocol/channel/scripts.js';
import { sha256 } from '../../../src/protocol/crypto/hash.js';
import { secp } from '../../../src/protocol/crypto/secp256k1.js';
import { utf8 } from '../../../src/protocol/encoding/bytes.js';
import { p2wsh } from '../../../src/protocol/tx/script.js';
import {
  type ChannelAnnouncement,
  type ChannelUpdate,
  encodeMessage,
  type NodeAnnouncement,
  scidFromParts,
} from '../../../src/protocol/wire/index.js';

export const CHAIN = sha256(utf8('farad-test-chain'));

export interface Party {
  nodeSecret: Uint8Array;
  nodeId: Uint8Array;
  bitcoinSecret: Uint8Array;
  bitcoinKey: Uint8Array;
}

export function party(name: string): Party {
  const nodeSecret = sha256(utf8(`node:${name}`));
  const bitcoinSecret = sha256(utf8(`funding:${name}`));
  return {
    nodeSecret,
    nodeId: secp().publicKey(nodeSecret),
    bitcoinSecret,
    bitcoinKey: secp().publicKey(bitcoinSecret),
  };
}

export interface SignedChannel {
  ann: ChannelAnnouncement;
  raw: Uint8Array;
  scid: bigint;
  /** [node1 party, node2 party]. */
  ends: [Party, Party];
  script: Uint8Array;
}

export function signedChannel(a: Party, b: Party, block = 700_000, tx = 1, out = 0): SignedChannel {
  const scid = scidFromParts(block, tx, out);
  const u = buildChannelAnnouncement({
    chainHash: CHAIN,
    shortChannelId: scid,
    localNodeId: a.nodeId,
    remoteNodeId: b.nodeId,
    localBitcoinKey: a.bitcoinKey,
    remoteBitcoinKey: b.bitcoinKey,
  });
  const channelId = new Uint8Array(32);
  const sa = createAnnouncementSignatures({
    channelId,
    announcement: u.announcement,
    nodeSecret: a.nodeSecret,
    bitcoinSecret: a.bitcoinSecret,
  });
  const sb = createAnnouncementSignatures({
    channelId,
    announcement: u.announcement,
    nodeSecret: b.nodeSecret,
    bitcoinSecret: b.bitcoinSecret,
  });
  const ann = assembleChannelAnnouncement(u, sa, sb);
  const ends: [Party, Party] = u.localIsNode1 ? [a, b] : [b, a];
  return {
    ann,
    raw: encodeMessage(ann),
    scid,
    ends,
    script: p2wsh(fundingScript(a.bitcoinKey, b.bitcoinKey)),
  };
}

export function update(
  ch: SignedChannel,
  direction: 0 | 1,
  timestamp: number,
  over: Partial<{
    feeBaseMsat: number;
    feeProportionalMillionths: number;
    cltvExpiryDelta: number;
    htlcMinimumMsat: bigint;
    htlcMaximumMsat: bigint;
    disabled: boolean;
    dontForward: boolean;
  }> = {},
  signer?: Party,
): ChannelUpdate {
  return createChannelUpdate(
    {
      chainHash: CHAIN,
      shortChannelId: ch.scid,
      timestamp,
      direction,
      cltvExpiryDelta: over.cltvExpiryDelta ?? 40,
      htlcMinimumMsat: over.htlcMinimumMsat ?? 1000n,
      htlcMaximumMsat: over.htlcMaximumMsat ?? 500_000_000n,
      feeBaseMsat: over.feeBaseMsat ?? 1000,
      feeProportionalMillionths: over.feeProportionalMillionths ?? 100,
      ...(over.disabled ? { disabled: true } : {}),
      ...(over.dontForward ? { dontForward: true } : {}),
    },
    (signer ?? ch.ends[direction]).nodeSecret,
  );
}

export function nodeAnn(p: Party, timestamp: number, features = new Uint8Array(0)): NodeAnnouncement {
  const alias = new Uint8Array(32);
  alias.set(utf8('farad'));
  return signNodeAnnouncement(
    {
      features,
      timestamp,
      nodeId: p.nodeId,
      rgbColor: new Uint8Array([1, 2, 3]),
      alias,
      addresses: [{ type: 'ipv4', addr: new Uint8Array([127, 0, 0, 1]), port: 9735 }],
    },
    p.nodeSecret,
  );
}
