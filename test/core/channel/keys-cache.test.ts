/**
 * Memoised channel key derivations (src/core/channel/keys.ts, NodeKeys.channelKeys) give the
 * same bytes as the plain BOLT 3 derivations, across evictions and for inputs the memo does not
 * know (other keys, foreign points, parameters that do not match the keys).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  channelPubkeys,
  localCommitmentKeys,
  localPoint,
  localSecret,
  RECENT_COMMITMENTS_MEMO,
  remoteCommitmentKeys,
} from '../../../src/core/channel/keys.js';
import type { ChannelKeys, ChannelParams } from '../../../src/core/channel/types.js';
import { CHANNEL_KEYS_CACHE_SIZE, NodeKeys } from '../../../src/node/keys/index.js';
import { sha256 } from '../../../src/protocol/crypto/hash.js';
import { secp } from '../../../src/protocol/crypto/secp256k1.js';
import { toHex, utf8 } from '../../../src/protocol/encoding/bytes.js';
import {
  derivePubkey,
  deriveRevocationPubkey,
  perCommitmentPoint,
  perCommitmentSecret,
} from '../../../src/protocol/keys/index.js';
import { hexJson as hexKeys, keysFrom, Pair, useFastCrypto } from './harness.js';

useFastCrypto();

/** The plain BOLT 3 formulas (no secrets). */
function plainLocal(p: ChannelParams, point: Uint8Array) {
  return {
    revocationPubkey: deriveRevocationPubkey(p.remote.revocationBasepoint, point),
    localDelayedPubkey: derivePubkey(p.local.delayedPaymentBasepoint, point),
    remotePaymentPubkey: p.remote.paymentBasepoint,
    localHtlcPubkey: derivePubkey(p.local.htlcBasepoint, point),
    remoteHtlcPubkey: derivePubkey(p.remote.htlcBasepoint, point),
  };
}

function plainRemote(p: ChannelParams, point: Uint8Array) {
  return {
    revocationPubkey: deriveRevocationPubkey(p.local.revocationBasepoint, point),
    localDelayedPubkey: derivePubkey(p.remote.delayedPaymentBasepoint, point),
    remotePaymentPubkey: p.local.paymentBasepoint,
    localHtlcPubkey: derivePubkey(p.remote.htlcBasepoint, point),
    remoteHtlcPubkey: derivePubkey(p.local.htlcBasepoint, point),
  };
}

describe('per-commitment secrets and points (memoised per ChannelKeys)', () => {
  it('equal perCommitmentSecret / perCommitmentPoint for random commitment sequences, with evictions', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 8 }),
        fc.array(fc.integer({ min: 0, max: 3 * RECENT_COMMITMENTS_MEMO }), { minLength: 1, maxLength: 40 }),
        (seed, ns) => {
          const keys = keysFrom(seed);
          for (const n of ns) {
            const s = localSecret(keys, n);
            expect(toHex(s)).toBe(toHex(perCommitmentSecret(keys.perCommitmentSeed, n)));
            const p = localPoint(keys, n);
            expect(toHex(p)).toBe(toHex(perCommitmentPoint(s)));
            // Copies: corrupting them leaves the memo intact.
            s.fill(0);
            p.fill(0);
          }
        },
      ),
      { numRuns: 30 },
    );
  });

  it('evicts beyond the memo size and recomputes the same values', () => {
    const keys = keysFrom('evict');
    const first = toHex(localPoint(keys, 0));
    for (let n = 1; n <= 3 * RECENT_COMMITMENTS_MEMO; n++) localPoint(keys, n);
    expect(toHex(localPoint(keys, 0))).toBe(first);
    expect(first).toBe(toHex(perCommitmentPoint(perCommitmentSecret(keys.perCommitmentSeed, 0))));
  });

  it('follows a replaced seed field (no stale memo)', () => {
    const keys: ChannelKeys = { ...keysFrom('a') };
    const before = toHex(localSecret(keys, 3));
    keys.perCommitmentSeed = keysFrom('b').perCommitmentSeed;
    const after = toHex(localSecret(keys, 3));
    expect(after).not.toBe(before);
    expect(after).toBe(toHex(perCommitmentSecret(keys.perCommitmentSeed, 3)));
  });

  it('channelPubkeys equals the public keys of the secrets (fresh copies)', () => {
    const keys = keysFrom('pub');
    const a = channelPubkeys(keys);
    expect(toHex(a.htlcBasepoint)).toBe(toHex(secp().publicKey(keys.htlcBasepointSecret)));
    expect(toHex(a.fundingPubkey)).toBe(toHex(secp().publicKey(keys.fundingPrivkey)));
    a.htlcBasepoint.fill(0);
    expect(toHex(channelPubkeys(keys).htlcBasepoint)).toBe(toHex(secp().publicKey(keys.htlcBasepointSecret)));
  });
});

describe('per-commitment key sets with our secrets', () => {
  const p = new Pair();
  p.open();
  const alice = p.alice;
  const params = alice.commitments.params;

  it('local and remote keys equal the plain formulas (our points, peer points, foreign points)', () => {
    for (let n = 0; n < 12; n++) {
      const ours = localPoint(alice.keys, n);
      const theirs = localPoint(p.bob.keys, n);
      const foreign = perCommitmentPoint(sha256(utf8(`foreign/${n}`)));
      expect(hexKeys(localCommitmentKeys(params, ours, alice.keys, n))).toBe(
        hexKeys(plainLocal(params, ours)),
      );
      expect(hexKeys(localCommitmentKeys(params, ours))).toBe(hexKeys(plainLocal(params, ours)));
      // A point that is not ours for `n`: the secret is not used.
      expect(hexKeys(localCommitmentKeys(params, foreign, alice.keys, n))).toBe(
        hexKeys(plainLocal(params, foreign)),
      );
      expect(hexKeys(localCommitmentKeys(params, ours, alice.keys, n + 1))).toBe(
        hexKeys(plainLocal(params, ours)),
      );
      expect(hexKeys(remoteCommitmentKeys(params, theirs, alice.keys))).toBe(
        hexKeys(plainRemote(params, theirs)),
      );
      expect(hexKeys(remoteCommitmentKeys(params, foreign, alice.keys))).toBe(
        hexKeys(plainRemote(params, foreign)),
      );
    }
  });

  it('keys that do not match the parameters fall back to the public formulas', () => {
    const other = keysFrom('somebody else');
    const ours = localPoint(alice.keys, 2);
    const theirs = localPoint(p.bob.keys, 2);
    expect(hexKeys(localCommitmentKeys(params, ours, other, 2))).toBe(hexKeys(plainLocal(params, ours)));
    expect(hexKeys(remoteCommitmentKeys(params, theirs, other))).toBe(hexKeys(plainRemote(params, theirs)));
  });
});

describe('NodeKeys.channelKeys cache', () => {
  const seed = sha256(utf8('node seed for the cache test'));

  it('returns the same frozen object per index, equal to a fresh derivation', () => {
    const k = new NodeKeys(seed);
    const a = k.channelKeys(3);
    expect(k.channelKeys(3)).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    expect(hexKeys(a)).toBe(hexKeys(new NodeKeys(seed).channelKeys(3)));
    expect(hexKeys(k.channelKeys(4))).not.toBe(hexKeys(a));
  });

  it('stays correct after evictions', () => {
    const k = new NodeKeys(seed);
    const first = hexKeys(k.channelKeys(0));
    for (let i = 1; i <= CHANNEL_KEYS_CACHE_SIZE + 1; i++) k.channelKeys(i);
    const again = k.channelKeys(0);
    expect(hexKeys(again)).toBe(first);
    expect(hexKeys(again)).toBe(hexKeys(new NodeKeys(seed).channelKeys(0)));
  });
});
