/**
 * BOLT 9: assigned feature flags (09-features.md), their contexts and dependencies, and the
 * big-endian feature bitfield used on the wire (BOLT 1 `init`, BOLT 7 announcements, BOLT 11
 * invoices, BOLT 2 `channel_type`).
 *
 * Bits come in pairs: the even bit means "required" (compulsory), the odd bit "supported"
 * (optional). Bit 0 is the least significant bit of the LAST byte of the field.
 *
 * Features marked ASSUMED by the spec (e.g. `var_onion_optin`, `payment_secret`) have an empty
 * Context column today but every implementation still sets them where they used to live; we
 * accept them in their historical contexts (listed per feature below).
 */
import { DecodeError, InvalidArgumentError } from './errors.js';

/** Where a feature vector appears (BOLT 9 "Context" column: I, N, 9, T, C, B). */
export type FeatureContext = 'init' | 'node' | 'invoice' | 'channel_type' | 'channel' | 'blinded_path';

/**
 * Known feature bit numbers, keyed by BOLT 9 name. The value is the even ("required") bit of
 * the pair; the optional bit is `value + 1`. Exception: `initial_routing_sync` only ever had the
 * odd bit 3.
 */
export const Feature = {
  option_data_loss_protect: 0,
  initial_routing_sync: 3,
  option_upfront_shutdown_script: 4,
  gossip_queries: 6,
  var_onion_optin: 8,
  gossip_queries_ex: 10,
  option_static_remotekey: 12,
  payment_secret: 14,
  basic_mpp: 16,
  option_support_large_channel: 18,
  option_anchors: 22,
  /** Old name of {@link Feature.option_anchors} (bits 22/23). */
  option_anchors_zero_fee_htlc_tx: 22,
  option_route_blinding: 24,
  option_shutdown_anysegwit: 26,
  option_dual_fund: 28,
  option_quiesce: 34,
  option_attribution_data: 36,
  option_onion_messages: 38,
  option_provide_storage: 42,
  option_channel_type: 44,
  option_scid_alias: 46,
  option_payment_metadata: 48,
  option_zeroconf: 50,
  option_simple_close: 60,
  option_splice: 62,
} as const;

/** A BOLT 9 feature name (key of {@link Feature}). */
export type FeatureName = keyof typeof Feature;

/** One row of the BOLT 9 table. */
export interface FeatureInfo {
  /** Canonical BOLT 9 name. */
  name: string;
  /** The even bit of the pair (for `initial_routing_sync`: 2, which is never valid on its own). */
  pair: number;
  /** Contexts where the feature may appear (current spec, plus historical ones for ASSUMED). */
  contexts: readonly FeatureContext[];
  /** Features (by even bit) that must also be set, per the current BOLT 9 table. */
  deps: readonly number[];
  /** Dependencies the table listed before the dependency became ASSUMED (opt-in check). */
  legacyDeps: readonly number[];
  /** True for features the spec marks ASSUMED. */
  assumed: boolean;
}

const IN: FeatureContext[] = ['init', 'node'];
const IN9: FeatureContext[] = ['init', 'node', 'invoice'];
const INT: FeatureContext[] = ['init', 'node', 'channel_type'];

function row(
  name: string,
  pair: number,
  contexts: FeatureContext[],
  deps: number[] = [],
  legacyDeps: number[] = [],
  assumed = false,
): FeatureInfo {
  return { name, pair, contexts, deps, legacyDeps, assumed };
}

// BOLT #9 table (lightning/bolts a377265). Historical contexts for ASSUMED rows are taken from
// the table as it was before each feature became ASSUMED.
const TABLE: FeatureInfo[] = [
  row('option_data_loss_protect', 0, IN, [], [], true),
  row('initial_routing_sync', 2, ['init'], [], [], true),
  row('option_upfront_shutdown_script', 4, IN),
  row('gossip_queries', 6, IN, [], [], true),
  row('var_onion_optin', 8, IN9, [], [], true),
  row('gossip_queries_ex', 10, IN, [], [6]),
  row('option_static_remotekey', 12, INT, [], [], true),
  row('payment_secret', 14, IN9, [], [8], true),
  row('basic_mpp', 16, IN9, [14]),
  row('option_support_large_channel', 18, IN),
  row('option_anchors', 22, INT, [], [12]),
  row('option_route_blinding', 24, IN9, [], [8]),
  row('option_shutdown_anysegwit', 26, IN),
  row('option_dual_fund', 28, IN),
  row('option_quiesce', 34, IN),
  row('option_attribution_data', 36, IN9),
  row('option_onion_messages', 38, IN),
  row('option_provide_storage', 42, IN),
  row('option_channel_type', 44, IN, [], [], true),
  row('option_scid_alias', 46, INT),
  row('option_payment_metadata', 48, ['invoice']),
  row('option_zeroconf', 50, INT, [46]),
  row('option_simple_close', 60, IN, [26]),
  row('option_splice', 62, IN),
];

const BY_PAIR = new Map<number, FeatureInfo>(TABLE.map((f) => [f.pair, f]));

/** The BOLT 9 row for `bit` (either bit of the pair), or undefined when unknown. */
export function featureInfo(bit: number): FeatureInfo | undefined {
  if (bit === 2) return undefined; // initial_routing_sync never had a required bit
  return BY_PAIR.get(bit & ~1);
}

/** Every known feature row (a copy of the BOLT 9 table). */
export function knownFeatures(): FeatureInfo[] {
  return TABLE.map((f) => ({ ...f }));
}

/**
 * Parses a wire feature bitfield (big-endian; bit 0 = least significant bit of the last byte)
 * into the set of bit numbers. Never throws.
 */
export function featureBitsFromBytes(b: Uint8Array): Set<number> {
  const out = new Set<number>();
  const n = b.length;
  for (let i = 0; i < n; i++) {
    const byte = b[n - 1 - i]!;
    if (byte === 0) continue;
    for (let j = 0; j < 8; j++) if (byte & (1 << j)) out.add(i * 8 + j);
  }
  return out;
}

/**
 * Encodes bit numbers as a minimal-length big-endian bitfield (no leading zero bytes; empty for
 * no bits). Negative or non-integer bits are a programming error.
 */
export function featureBytesFromBits(bits: Iterable<number>): Uint8Array {
  let max = -1;
  const list: number[] = [];
  for (const bit of bits) {
    if (!Number.isInteger(bit) || bit < 0 || bit > 0xffff * 8) {
      throw new InvalidArgumentError(`invalid feature bit ${bit}`);
    }
    list.push(bit);
    if (bit > max) max = bit;
  }
  const len = max < 0 ? 0 : (max >> 3) + 1;
  const out = new Uint8Array(len);
  for (const bit of list) out[len - 1 - (bit >> 3)]! |= 1 << (bit & 7);
  return out;
}

/** One described bit: its BOLT 9 name (`unknown_<bit>` when unassigned) and whether it is even. */
export interface FeatureDescription {
  bit: number;
  name: string;
  required: boolean;
}

/** Names every set bit, ascending. */
export function describeFeatures(bits: Iterable<number>): FeatureDescription[] {
  return [...new Set(bits)]
    .sort((a, b) => a - b)
    .map((bit) => ({ bit, name: featureInfo(bit)?.name ?? `unknown_${bit}`, required: bit % 2 === 0 }));
}

function toSet(bits: Iterable<number>): ReadonlySet<number> {
  return bits instanceof Set ? bits : new Set(bits);
}

/** True if either bit of `feature`'s pair is set (`feature` may be the even or the odd bit). */
export function hasFeature(bits: Iterable<number>, feature: number): boolean {
  const s = toSet(bits);
  const even = feature & ~1;
  return s.has(even) || s.has(even | 1);
}

/** True if the required (even) bit of `feature`'s pair is set. */
export function requiresFeature(bits: Iterable<number>, feature: number): boolean {
  return toSet(bits).has(feature & ~1);
}

/** Options for {@link validateFeatures}. */
export interface ValidateFeaturesOptions {
  /**
   * Also enforce dependencies the BOLT 9 table dropped when their target became ASSUMED
   * (`payment_secret`/`option_route_blinding` → `var_onion_optin`, `gossip_queries_ex` →
   * `gossip_queries`, `option_anchors` → `option_static_remotekey`). Default false.
   */
  legacyDependencies?: boolean;
}

/**
 * Validates a received feature vector for `context` (BOLT 9 "Requirements", BOLT 1 `init`).
 * Throws {@link DecodeError}:
 * - `FEATURE_UNKNOWN_REQUIRED`: an even bit we do not know (BOLT 1: MUST fail the connection);
 *   in `channel_type`, any unknown bit.
 * - `FEATURE_BAD_CONTEXT`: a known feature set in a context the table does not list it for;
 *   in `channel_type`, also any odd bit (channel types use even bits only).
 * - `FEATURE_MISSING_DEPENDENCY`: a set feature whose dependency is not set (not checked for
 *   `channel_type`, whose allowed combinations are an explicit list: {@link isDefinedChannelType}).
 * Both bits of a pair being set is accepted (treated as required).
 */
export function validateFeatures(
  bits: Iterable<number>,
  context: FeatureContext,
  opts: ValidateFeaturesOptions = {},
): void {
  const set = toSet(bits);
  for (const bit of set) {
    const info = featureInfo(bit);
    if (!info) {
      if (bit % 2 === 0 || context === 'channel_type') {
        throw new DecodeError('FEATURE_UNKNOWN_REQUIRED', `unknown feature bit ${bit} set`, {
          details: `context ${context}`,
        });
      }
      continue;
    }
    if (!info.contexts.includes(context) || (context === 'channel_type' && bit % 2 === 1)) {
      throw new DecodeError('FEATURE_BAD_CONTEXT', `feature ${info.name} (bit ${bit}) not allowed`, {
        details: `context ${context}`,
      });
    }
  }
  if (context === 'channel_type') return;
  for (const bit of set) {
    const info = featureInfo(bit);
    if (!info) continue;
    const deps = opts.legacyDependencies ? [...info.deps, ...info.legacyDeps] : info.deps;
    for (const dep of deps) {
      // BOLT #9: MUST set all transitive feature dependencies.
      if (!hasFeature(set, dep)) {
        throw new DecodeError(
          'FEATURE_MISSING_DEPENDENCY',
          `feature ${info.name} requires ${featureInfo(dep)?.name ?? dep}`,
          { details: `context ${context}` },
        );
      }
    }
  }
}

/**
 * BOLT 2 "Defined Channel Types": `option_static_remotekey`, or `option_anchors` +
 * `option_static_remotekey`, each optionally with `option_scid_alias` and/or `option_zeroconf`
 * (even bits only).
 */
export function isDefinedChannelType(bits: Iterable<number>): boolean {
  const set = toSet(bits);
  if (!set.has(Feature.option_static_remotekey)) return false;
  const allowed = new Set<number>([
    Feature.option_static_remotekey,
    Feature.option_anchors,
    Feature.option_scid_alias,
    Feature.option_zeroconf,
  ]);
  for (const b of set) if (!allowed.has(b)) return false;
  return true;
}
