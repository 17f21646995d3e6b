/**
 * BOLT 1 `init` (01-messaging.md § "The `init` Message") and BOLT 9 feature negotiation for the
 * peer manager: Farad's init feature vector, chain hashes for the `networks` TLV, and the checks
 * a received `init` must pass before the connection is usable.
 */
import { fromHex } from '../../protocol/encoding/bytes.js';
import { Feature, featureInfo, hasFeature } from '../../protocol/features.js';

/** BOLT 0 `chain_hash` (genesis block hash in internal byte order) from its display (RPC) hex. */
function chainHashFromDisplayHex(hex: string): Uint8Array {
  return fromHex(hex).reverse();
}

/**
 * `chain_hash` of each Bitcoin network (BOLT 0: the genesis block hash, internal byte order,
 * i.e. the reverse of the hex `bitcoin-cli getblockhash 0` prints).
 */
export const CHAIN_HASHES = {
  mainnet: chainHashFromDisplayHex('000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f'),
  testnet: chainHashFromDisplayHex('000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943'),
  signet: chainHashFromDisplayHex('00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6'),
  regtest: chainHashFromDisplayHex('0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206'),
} as const;

/** A network name with a known chain hash. */
export type NetworkName = keyof typeof CHAIN_HASHES;

/**
 * Features Farad sets as REQUIRED (even bit) in `init`: the ones LDK (0.1+) requires of its peers
 * (`provided_init_features` sets them required and LDK disconnects peers that do not offer
 * every bit it requires).
 */
export const REQUIRED_INIT_FEATURES: readonly number[] = [
  Feature.option_data_loss_protect,
  Feature.var_onion_optin,
  Feature.option_static_remotekey,
  Feature.payment_secret,
  Feature.option_channel_type,
];

/** Features Farad offers as OPTIONAL (odd bit) in `init`. */
export const OPTIONAL_INIT_FEATURES: readonly number[] = [
  Feature.gossip_queries,
  Feature.basic_mpp,
  Feature.option_anchors_zero_fee_htlc_tx,
  Feature.option_route_blinding,
  Feature.option_shutdown_anysegwit,
  Feature.option_onion_messages,
  Feature.option_scid_alias,
  Feature.option_zeroconf,
];

/** Farad's default `init` feature bits (required even bits + optional odd bits). */
export function defaultInitFeatures(): Set<number> {
  return new Set([...REQUIRED_INIT_FEATURES, ...OPTIONAL_INIT_FEATURES.map((f) => f + 1)]);
}

/** Outcome of {@link checkRemoteInit}. */
export type InitCheck = { ok: true } | { ok: false; reason: string };

/**
 * Checks a peer's `init` against ours (BOLT 1 receiver requirements):
 * - BOLT #1: "upon receiving unknown _even_ feature bits that are non-zero: MUST close the
 *   connection" — any even bit whose pair we do not offer counts as unknown to us;
 * - a feature WE require that the peer does not offer at all: close (the peer should have closed
 *   per the same rule; LDK checks it too);
 * - BOLT #1: "if the feature vector does not set all known, transitive dependencies: MUST close
 *   the connection" (BOLT 9 table, current dependencies);
 * - BOLT #1: "upon receiving `networks` containing no common chains: MAY close the connection" —
 *   we do, when `networks` is present and lacks our chain.
 * `theirs` is the OR of `globalfeatures` and `features`.
 */
export function checkRemoteInit(
  ours: ReadonlySet<number>,
  theirs: ReadonlySet<number>,
  ourChain: Uint8Array,
  networks: readonly Uint8Array[] | undefined,
): InitCheck {
  for (const bit of theirs) {
    if (bit % 2 === 0 && !ours.has(bit) && !ours.has(bit + 1)) {
      const name = featureInfo(bit)?.name ?? 'unknown';
      return { ok: false, reason: `peer requires feature bit ${bit} (${name}) we do not support` };
    }
  }
  for (const bit of ours) {
    if (bit % 2 === 0 && !hasFeature(theirs, bit)) {
      const name = featureInfo(bit)?.name ?? 'unknown';
      return { ok: false, reason: `we require feature bit ${bit} (${name}) the peer does not offer` };
    }
  }
  for (const bit of theirs) {
    const info = featureInfo(bit);
    if (!info) continue;
    for (const dep of info.deps) {
      if (!hasFeature(theirs, dep)) {
        return {
          ok: false,
          reason: `peer feature ${info.name} lacks its dependency ${featureInfo(dep)?.name ?? dep}`,
        };
      }
    }
  }
  if (networks !== undefined && !networks.some((c) => sameBytes(c, ourChain))) {
    return { ok: false, reason: 'peer networks do not include our chain' };
  }
  return { ok: true };
}

/**
 * BOLT 1: a feature is *negotiated* "if either both peers offered it, or the local node offered
 * it as even".
 */
export function isNegotiated(
  ours: ReadonlySet<number>,
  theirs: ReadonlySet<number>,
  feature: number,
): boolean {
  const even = feature & ~1;
  return ours.has(even) || (hasFeature(ours, even) && hasFeature(theirs, even));
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
