/** BOLT 9 feature bits: wire bitfield, names, contexts and dependencies. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError, InvalidArgumentError } from '../../src/protocol/errors.js';
import {
  describeFeatures,
  Feature,
  type FeatureContext,
  featureBitsFromBytes,
  featureBytesFromBits,
  featureInfo,
  hasFeature,
  isDefinedChannelType,
  knownFeatures,
  requiresFeature,
  validateFeatures,
} from '../../src/protocol/features.js';
import { hex, toHex } from '../helpers/vectors.js';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    expect(e).toBeInstanceOf(DecodeError);
    return (e as DecodeError).code;
  }
}

describe('feature bitfield', () => {
  it('numbers bits from the least significant bit of the last byte (BOLT 9)', () => {
    expect([...featureBitsFromBytes(hex('01'))]).toEqual([0]);
    expect([...featureBitsFromBytes(hex('0100'))]).toEqual([8]);
    expect([...featureBitsFromBytes(hex('8000'))].sort()).toEqual([15]);
    expect(toHex(featureBytesFromBits([0]))).toBe('01');
    expect(toHex(featureBytesFromBits([8, 15]))).toBe('8100');
    expect(toHex(featureBytesFromBits([]))).toBe('');
    // Leading zero bytes are ignored on read; writing is minimal.
    expect([...featureBitsFromBytes(hex('000002'))]).toEqual([1]);
    expect(toHex(featureBytesFromBits(featureBitsFromBytes(hex('000002'))))).toBe('02');
  });

  it('round-trips any bit set', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.nat(600), { maxLength: 40 }), (bits) => {
        const b = featureBytesFromBits(bits);
        expect([...featureBitsFromBytes(b)].sort((x, y) => x - y)).toEqual([...bits].sort((x, y) => x - y));
        if (bits.length > 0) expect(b[0]).not.toBe(0);
      }),
    );
  });

  it('rejects invalid bit numbers as a programming error', () => {
    expect(() => featureBytesFromBits([-1])).toThrow(InvalidArgumentError);
    expect(() => featureBytesFromBits([1.5])).toThrow(InvalidArgumentError);
  });
});

describe('feature names', () => {
  it('uses the BOLT 9 table names and even bits', () => {
    expect(Feature.var_onion_optin).toBe(8);
    expect(Feature.payment_secret).toBe(14);
    expect(Feature.basic_mpp).toBe(16);
    expect(Feature.option_anchors).toBe(22);
    expect(Feature.option_anchors_zero_fee_htlc_tx).toBe(22);
    expect(Feature.option_route_blinding).toBe(24);
    expect(Feature.option_onion_messages).toBe(38);
    expect(Feature.option_zeroconf).toBe(50);
    expect(Feature.option_simple_close).toBe(60);
    for (const [name, bit] of Object.entries(Feature)) {
      if (name === 'initial_routing_sync') expect(bit).toBe(3);
      else expect(bit % 2).toBe(0);
      if (name !== 'option_anchors_zero_fee_htlc_tx') expect(featureInfo(bit)?.name).toBe(name);
    }
    expect(knownFeatures().length).toBeGreaterThan(20);
  });

  it('describes bits with required flags and unknown names', () => {
    expect(describeFeatures([17, 14, 101, 8])).toEqual([
      { bit: 8, name: 'var_onion_optin', required: true },
      { bit: 14, name: 'payment_secret', required: true },
      { bit: 17, name: 'basic_mpp', required: false },
      { bit: 101, name: 'unknown_101', required: false },
    ]);
    expect(describeFeatures([2, 3])).toEqual([
      { bit: 2, name: 'unknown_2', required: true },
      { bit: 3, name: 'initial_routing_sync', required: false },
    ]);
  });

  it('hasFeature accepts either bit of a pair', () => {
    const bits = new Set([9, 14]);
    expect(hasFeature(bits, Feature.var_onion_optin)).toBe(true);
    expect(hasFeature(bits, Feature.var_onion_optin + 1)).toBe(true);
    expect(hasFeature([15], Feature.payment_secret)).toBe(true);
    expect(hasFeature(bits, Feature.basic_mpp)).toBe(false);
    expect(requiresFeature(bits, Feature.payment_secret)).toBe(true);
    expect(requiresFeature(bits, Feature.var_onion_optin)).toBe(false);
  });
});

describe('validateFeatures', () => {
  const ctx = (bits: number[], c: FeatureContext, legacy = false) =>
    code(() => validateFeatures(bits, c, { legacyDependencies: legacy }));

  it('accepts typical init, node and invoice vectors', () => {
    expect(ctx([1, 7, 8, 13, 14, 17, 23, 27, 39, 45, 47, 51], 'init')).toBeUndefined();
    expect(ctx([8, 14, 17], 'invoice')).toBeUndefined();
    expect(ctx([8, 14, 49], 'invoice')).toBeUndefined();
    expect(ctx([], 'channel')).toBeUndefined();
    // both bits of a pair: treated as required, not an error
    expect(ctx([14, 15], 'init')).toBeUndefined();
  });

  it('enforces the BOLT 9 dependencies', () => {
    expect(ctx([17], 'init')).toBe('FEATURE_MISSING_DEPENDENCY'); // basic_mpp → payment_secret
    expect(ctx([16], 'invoice')).toBe('FEATURE_MISSING_DEPENDENCY');
    expect(ctx([15, 17], 'invoice')).toBeUndefined();
    expect(ctx([51], 'init')).toBe('FEATURE_MISSING_DEPENDENCY'); // zeroconf → scid_alias
    expect(ctx([47, 51], 'node')).toBeUndefined();
    expect(ctx([61], 'init')).toBe('FEATURE_MISSING_DEPENDENCY'); // simple_close → shutdown_anysegwit
    expect(ctx([27, 61], 'init')).toBeUndefined();
  });

  it('enforces pre-ASSUMED dependencies only on request', () => {
    expect(ctx([25], 'init')).toBeUndefined();
    expect(ctx([25], 'init', true)).toBe('FEATURE_MISSING_DEPENDENCY'); // route_blinding → var_onion_optin
    expect(ctx([9, 25], 'init', true)).toBeUndefined();
    expect(ctx([11], 'init', true)).toBe('FEATURE_MISSING_DEPENDENCY'); // gossip_queries_ex → gossip_queries
    expect(ctx([23], 'init', true)).toBe('FEATURE_MISSING_DEPENDENCY'); // anchors → static_remotekey
    expect(ctx([15], 'invoice', true)).toBe('FEATURE_MISSING_DEPENDENCY'); // payment_secret → var_onion_optin
    expect(ctx([7, 11, 13, 23], 'init', true)).toBeUndefined();
  });

  it('rejects unknown required bits and accepts unknown optional ones', () => {
    expect(ctx([100], 'init')).toBe('FEATURE_UNKNOWN_REQUIRED');
    expect(ctx([2], 'init')).toBe('FEATURE_UNKNOWN_REQUIRED');
    expect(ctx([101], 'init')).toBeUndefined();
    expect(ctx([101], 'invoice')).toBeUndefined();
  });

  it('rejects features outside their contexts', () => {
    expect(ctx([49], 'init')).toBe('FEATURE_BAD_CONTEXT'); // payment_metadata: invoice only
    expect(ctx([17, 14], 'channel')).toBe('FEATURE_BAD_CONTEXT');
    expect(ctx([39], 'invoice')).toBe('FEATURE_BAD_CONTEXT'); // onion_messages: IN
    expect(ctx([25], 'blinded_path')).toBe('FEATURE_BAD_CONTEXT');
    expect(ctx([3], 'node')).toBe('FEATURE_BAD_CONTEXT'); // initial_routing_sync: I only
    expect(ctx([3], 'init')).toBeUndefined();
  });

  it('checks channel_type vectors', () => {
    expect(ctx([12], 'channel_type')).toBeUndefined();
    expect(ctx([12, 22, 46, 50], 'channel_type')).toBeUndefined();
    expect(ctx([50, 12], 'channel_type')).toBeUndefined(); // no dependency check in channel_type
    expect(ctx([13], 'channel_type')).toBe('FEATURE_BAD_CONTEXT'); // odd bit
    expect(ctx([12, 16], 'channel_type')).toBe('FEATURE_BAD_CONTEXT'); // basic_mpp is not T
    expect(ctx([12, 101], 'channel_type')).toBe('FEATURE_UNKNOWN_REQUIRED');
    expect(isDefinedChannelType([12])).toBe(true);
    expect(isDefinedChannelType([12, 22, 46, 50])).toBe(true);
    expect(isDefinedChannelType([22])).toBe(false);
    expect(isDefinedChannelType([12, 13])).toBe(false);
  });

  it('only ever throws DecodeError', () => {
    const contexts: FeatureContext[] = ['init', 'node', 'invoice', 'channel_type', 'channel', 'blinded_path'];
    fc.assert(
      fc.property(fc.uniqueArray(fc.nat(200), { maxLength: 20 }), fc.constantFrom(...contexts), (bits, c) => {
        code(() => validateFeatures(bits, c));
      }),
    );
  });
});
