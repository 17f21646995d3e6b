/**
 * Public types of the BOLT #7 network graph (07-routing-gossip.md): channels with their
 * per-direction forwarding policies, nodes with their latest `node_announcement`, gossip
 * processing results with typed reasons, and the funding-output check the runtime answers.
 */

/** One direction's forwarding policy, from the latest accepted `channel_update`. */
export interface ChannelPolicy {
  /** `timestamp` of the update (seconds, UNIX time by convention). */
  readonly timestamp: number;
  readonly messageFlags: number;
  readonly channelFlags: number;
  /** `disable` bit (bit 1 of `channel_flags`). */
  readonly disabled: boolean;
  readonly cltvExpiryDelta: number;
  readonly htlcMinimumMsat: bigint;
  readonly htlcMaximumMsat: bigint;
  readonly feeBaseMsat: number;
  readonly feeProportionalMillionths: number;
  /** The signed `channel_update` bytes (absent for policies inserted without a message). */
  readonly raw: Uint8Array | undefined;
  /** `htlcMinimumMsat` as a number (routing hot path). */
  readonly minMsatF: number;
  /** min(`htlcMaximumMsat`, capacity) as a number (routing hot path). */
  readonly maxMsatF: number;
}

/** A node of the graph (present while at least one channel references it). */
export interface GraphNode {
  /** Dense integer index (stable while the node exists; reused after it is removed). */
  readonly index: number;
  /** 33-byte compressed public key. */
  readonly nodeId: Uint8Array;
  /** Lower-case hex of `nodeId`. */
  readonly hex: string;
  /** Channels with this node as an endpoint. */
  readonly channels: readonly GraphChannel[];
  /** Latest accepted `node_announcement`, if any. */
  readonly announcement: NodeAnnouncementInfo | undefined;
  /** True when its announced features have an unknown even bit (BOLT 7: MUST NOT route through). */
  readonly unroutable: boolean;
}

/** What the graph keeps of a node's latest `node_announcement`. */
export interface NodeAnnouncementInfo {
  readonly timestamp: number;
  readonly features: Uint8Array;
  /** The signed message bytes (decode with `decodeMessage` for alias/addresses). */
  readonly raw: Uint8Array;
}

/** A channel of the graph. Direction 0 is `node1` → `node2` (signed by `node1`). */
export interface GraphChannel {
  readonly scid: bigint;
  /** Index of `node_id_1` (lexicographically lesser). */
  readonly n1: number;
  /** Index of `node_id_2`. */
  readonly n2: number;
  readonly capacitySat: bigint;
  /** Capacity in msat as a number (routing hot path). */
  readonly capacityMsatF: number;
  readonly features: Uint8Array;
  /** True when `features` has an unknown even bit (BOLT 7: MUST NOT route through). */
  readonly unroutable: boolean;
  /** The signed `channel_announcement` bytes (absent for channels inserted without one). */
  readonly announcement: Uint8Array | undefined;
  /** Policies by direction: [0] from node1, [1] from node2. */
  readonly policies: readonly [ChannelPolicy | undefined, ChannelPolicy | undefined];
  /** When the channel entered the graph (seconds; 0 when unknown). */
  readonly addedAt: number;
}

/**
 * BOLT #7: the funding output of a `channel_announcement` must be "a P2WSH funding transaction
 * output for those keys" and unspent. The graph cannot see the chain: it returns this request,
 * and the runtime answers with {@link NetworkGraph.resolveFundingCheck}.
 */
export interface FundingCheckRequest {
  readonly shortChannelId: bigint;
  /** Block height, transaction index and output index decoded from the scid. */
  readonly block: number;
  readonly txIndex: number;
  readonly outputIndex: number;
  /** The scriptPubKey the output must have: P2WSH of the 2-of-2 of `bitcoin_key_1/2`. */
  readonly expectedScript: Uint8Array;
}

/** The runtime's answer: the output at the scid (unspent), or undefined if missing/spent. */
export interface FundingOutput {
  readonly valueSat: bigint;
  readonly scriptPubKey: Uint8Array;
}

/** Benign reasons a gossip message is not applied (no peer misbehaviour implied). */
export type GossipIgnoreReason =
  /** `chain_hash` is not ours (BOLT 7: MUST ignore). */
  | 'UNKNOWN_CHAIN'
  /** Same message already known. */
  | 'DUPLICATE'
  /** `timestamp` not newer than the one we have. */
  | 'STALE_TIMESTAMP'
  /** `timestamp` older than the stale limit (14 days). */
  | 'TOO_OLD'
  /** `timestamp` unreasonably far in the future. */
  | 'TIMESTAMP_IN_FUTURE'
  /** `channel_update` for a channel we do not know (BOLT 7: MUST ignore). */
  | 'UNKNOWN_CHANNEL'
  /** `node_announcement` for a node without a known channel (BOLT 7: SHOULD ignore). */
  | 'UNKNOWN_NODE'
  /** The announcement's funding check is already under way. */
  | 'ALREADY_PENDING'
  /** Too many announcements awaiting their funding check. */
  | 'TOO_MANY_PENDING'
  /** Not a gossip message the graph processes. */
  | 'NOT_GOSSIP';

/** Reasons a gossip message is rejected; the runtime SHOULD send a `warning` (BOLT 7). */
export type GossipRejectReason =
  /** The bytes do not decode. */
  | 'MALFORMED'
  /** A signature does not verify. */
  | 'BAD_SIGNATURE'
  /** `node_id_1` is not the lexicographically lesser key, or both ids are equal. */
  | 'BAD_NODE_ORDER'
  /** A different valid announcement exists for this scid. */
  | 'CONFLICTING_ANNOUNCEMENT'
  /** The funding output is missing or spent. */
  | 'FUNDING_OUTPUT_MISSING'
  /** The funding output does not pay the expected 2-of-2 P2WSH. */
  | 'FUNDING_SCRIPT_MISMATCH'
  /** `htlc_maximum_msat` < `htlc_minimum_msat`. */
  | 'HTLC_MAX_BELOW_MIN'
  /** `htlc_maximum_msat` above the channel capacity. */
  | 'HTLC_MAX_ABOVE_CAPACITY'
  /** Same `timestamp` as the stored update but different fields (BOLT 7: MAY blacklist). */
  | 'SAME_TIMESTAMP_DIFFERENT_CONTENT';

/** Outcome of applying one gossip message to the graph. */
export type GossipResult =
  | {
      readonly status: 'accepted';
      /** Raw messages to queue for (rate-limited) rebroadcast; may be empty (e.g. `dont_forward`). */
      readonly rebroadcast: readonly Uint8Array[];
    }
  | { readonly status: 'ignored'; readonly reason: GossipIgnoreReason }
  | { readonly status: 'rejected'; readonly reason: GossipRejectReason }
  | {
      readonly status: 'pending';
      /** Answer with {@link NetworkGraph.resolveFundingCheck}. */
      readonly check: FundingCheckRequest;
    };
