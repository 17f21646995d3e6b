/**
 * Node key derivation (src/node/keys): deterministic from the seed, documented construction
 * (recomputed here from its definition), distinct per channel, valid scalars, and the node id is
 * the BOLT 8 static key the peer manager announces.
 */
import { describe, expect, it } from 'vitest';
import { NodeKeys } from '../../src/node/keys/index.js';
import { PeerManager } from '../../src/node/peer/index.js';
import { MemoryNetwork } from '../../src/node/peer/memory-transport.js';
import { hmacSha256 } from '../../src/protocol/crypto/hash.js';
import { secp } from '../../src/protocol/crypto/secp256k1.js';
import { concat, toHex, utf8 } from '../../src/protocol/encoding/bytes.js';
import { InvalidArgumentError } from '../../src/protocol/errors.js';

const seed = Uint8Array.from({ length: 32 }, (_, i) => i);

describe('node keys', () => {
  it('derive the node key as documented', () => {
    const k = new NodeKeys(seed);
    const expected = hmacSha256(seed, concat(utf8('farad/node-key/v1'), new Uint8Array(4)));
    expect(toHex(k.nodeSecretKey)).toBe(toHex(expected));
    expect(k.nodeId).toBe(toHex(secp().publicKey(expected)));
    const pm = new PeerManager({
      nodeSecretKey: k.nodeSecretKey,
      transport: new MemoryNetwork().transport(),
    });
    expect(pm.nodeId).toBe(k.nodeId);
  });

  it('derive channel keys as documented, deterministic and distinct per index', () => {
    const k = new NodeKeys(seed);
    const idx = new Uint8Array(8);
    idx[7] = 5;
    const base = hmacSha256(seed, concat(utf8('farad/channel/v1'), idx));
    const ck = k.channelKeys(5);
    expect(toHex(ck.fundingPrivkey)).toBe(
      toHex(hmacSha256(base, concat(utf8('funding'), new Uint8Array(4)))),
    );
    expect(toHex(ck.htlcBasepointSecret)).toBe(
      toHex(hmacSha256(base, concat(utf8('htlc'), new Uint8Array(4)))),
    );
    expect(toHex(ck.perCommitmentSeed)).toBe(toHex(hmacSha256(base, utf8('per_commitment_seed'))));
    expect(new NodeKeys(seed).channelKeys(5)).toEqual(ck);
    const all = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const c = k.channelKeys(i);
      for (const v of Object.values(c)) all.add(toHex(v));
      for (const s of [
        c.fundingPrivkey,
        c.revocationBasepointSecret,
        c.paymentBasepointSecret,
        c.delayedPaymentBasepointSecret,
        c.htlcBasepointSecret,
      ])
        expect(secp().isPrivateKey(s)).toBe(true);
    }
    expect(all.size).toBe(20 * 6);
    expect(toHex(new NodeKeys(new Uint8Array(32).fill(1)).channelKeys(0).fundingPrivkey)).not.toBe(
      toHex(k.channelKeys(0).fundingPrivkey),
    );
  });

  it('reject bad seeds and indexes', () => {
    expect(() => new NodeKeys(new Uint8Array(31))).toThrow(InvalidArgumentError);
    expect(() => new NodeKeys(seed).channelKeys(-1)).toThrow(InvalidArgumentError);
    expect(() => new NodeKeys(seed).channelKeys(1.5)).toThrow(InvalidArgumentError);
  });
});
