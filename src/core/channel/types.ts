/**
 * Data types of the BOLT #2 channel state machine: node policy ({@link ChannelConfig}), the
 * secret material passed in by the caller ({@link ChannelKeys}), the static parameters both
 * peers agreed on ({@link ChannelParams}), commitment specs and the pending-update bookkeeping
 * ({@link Commitments}, Eclair-style: proposed → signed → acked on each side).
 *
 * All values are plain data (bigint, Uint8Array, arrays, records) plus the immutable
 * {@link ShachainStore}, so a whole channel serialises with ./serialize.ts.
 */
import type { ChannelType } from '../../protocol/channel/scripts.js';
import type { ShachainStore } from '../../protocol/keys/shachain.js';
import type {
  CommitmentSigned,
  UpdateAddHtlc,
  UpdateFailHtlc,
  UpdateFailMalformedHtlc,
  UpdateFee,
  UpdateFulfillHtlc,
} from '../../protocol/wire/messages.js';

/**
 * The channel's secret material (a signer port will replace it). Passed in every
 * {@link StepContext}; never stored in the channel state.
 */
export interface ChannelKeys {
  fundingPrivkey: Uint8Array;
  revocationBasepointSecret: Uint8Array;
  paymentBasepointSecret: Uint8Array;
  delayedPaymentBasepointSecret: Uint8Array;
  htlcBasepointSecret: Uint8Array;
  /** BOLT #3 per-commitment seed (`generate_from_seed`). */
  perCommitmentSeed: Uint8Array;
}

/** The public side of {@link ChannelKeys} (what `open_channel`/`accept_channel` carry). */
export interface ChannelPubkeys {
  fundingPubkey: Uint8Array;
  revocationBasepoint: Uint8Array;
  paymentBasepoint: Uint8Array;
  delayedPaymentBasepoint: Uint8Array;
  htlcBasepoint: Uint8Array;
}

/** Fee-rate sanity bounds relative to the caller's estimate (`ctx.feeratePerKw`). */
export interface FeerateTolerance {
  /** Reject a peer feerate below `estimate * ratioLow` (non-anchor channels only). */
  ratioLow: number;
  /** Reject a peer feerate above `estimate * ratioHigh`. */
  ratioHigh: number;
}

/**
 * Local node policy for one channel: what we announce in `open_channel`/`accept_channel` and
 * what we accept from the peer. Amounts in sat/msat (bigint).
 */
export interface ChannelConfig {
  /** `chain_hash` of the chain we operate on. */
  chainHash: Uint8Array;
  /** Our `dust_limit_satoshis` (>= 354). */
  dustLimitSat: bigint;
  /** Our `max_htlc_value_in_flight_msat` (cap on HTLCs the peer offers us). */
  maxHtlcValueInFlightMsat: bigint;
  /** Our `htlc_minimum_msat`. */
  htlcMinimumMsat: bigint;
  /** Our `to_self_delay`: the CSV delay imposed on the peer's outputs. */
  toSelfDelay: number;
  /** Our `max_accepted_htlcs` (<= 483). */
  maxAcceptedHtlcs: number;
  /** Reserve we require from the peer, as a fraction of the funding amount (BOLT 2 suggests 1%). */
  reserveRatio: number;
  /** Acceptor: `minimum_depth` we ask for (ignored for zero-conf, which uses 0). */
  minimumDepth: number;
  /** Opener: the largest `minimum_depth` we accept. */
  maxMinimumDepth: number;
  /** The largest `to_self_delay` we accept from the peer. */
  maxToSelfDelay: number;
  /** Smallest/largest funding we accept as acceptor. */
  minFundingSat: bigint;
  maxFundingSat: bigint;
  /** Whether we (and the peer) support `option_support_large_channel` (funding >= 2^24 sat). */
  largeChannels: boolean;
  /** Largest reserve (fraction of funding) we accept to keep for the peer. */
  maxReserveRatio: number;
  /** Largest `htlc_minimum_msat` we accept from the peer. */
  maxHtlcMinimumMsat: bigint;
  /** Smallest `max_htlc_value_in_flight_msat` we accept from the peer. */
  minMaxHtlcValueInFlightMsat: bigint;
  /** Largest `dust_limit_satoshis` we accept from the peer. */
  maxDustLimitSat: bigint;
  /**
   * Acceptor policy: accept `option_zeroconf` channels (minimum_depth 0) from this peer. BOLT 2:
   * MUST fail the channel if it "does not trust the sender to open an unconfirmed channel".
   */
  trustZeroConf: boolean;
  /** Our default `scriptpubkey` for `shutdown` (the wallet's final script). */
  shutdownScript: Uint8Array;
  /** `option_shutdown_anysegwit` negotiated with the peer. */
  anySegwit: boolean;
  /** Cap on the total of trimmed (dust) HTLCs on either commitment (`max_dust_htlc_exposure_msat`). */
  maxDustHtlcExposureMsat: bigint;
  feerateTolerance: FeerateTolerance;
  /** Our `short_channel_id` alias for `channel_ready` (the runtime allocates unique ones). */
  localAlias?: bigint;
  /** Largest accepted `cltv_expiry - blockHeight` on our own adds. */
  maxExpiryDelta: number;
  /** Force-close when an HTLC we fulfilled is this close to its expiry and still unsettled. */
  fulfillSafetyBeforeTimeout: number;
  /** Acceptor: forget an unconfirmed channel after this many blocks (BOLT 2: 2016). */
  fundingTimeoutBlocks: number;
}

/** Sensible defaults (regtest-friendly); callers override fields. */
export function defaultChannelConfig(chainHash: Uint8Array, shutdownScript: Uint8Array): ChannelConfig {
  return {
    chainHash,
    dustLimitSat: 546n,
    maxHtlcValueInFlightMsat: 0xffffffffffffffffn,
    htlcMinimumMsat: 1n,
    toSelfDelay: 144,
    maxAcceptedHtlcs: 483,
    reserveRatio: 0.01,
    minimumDepth: 3,
    maxMinimumDepth: 144,
    maxToSelfDelay: 2016,
    minFundingSat: 20_000n,
    maxFundingSat: 1n << 24n,
    largeChannels: false,
    maxReserveRatio: 0.2,
    maxHtlcMinimumMsat: 1_000_000n,
    minMaxHtlcValueInFlightMsat: 1_000n,
    maxDustLimitSat: 50_000n,
    trustZeroConf: false,
    shutdownScript,
    anySegwit: true,
    maxDustHtlcExposureMsat: 50_000_000n,
    feerateTolerance: { ratioLow: 0.5, ratioHigh: 10 },
    maxExpiryDelta: 2016,
    fulfillSafetyBeforeTimeout: 6,
    fundingTimeoutBlocks: 2016,
  };
}

/** One side's `open_channel`/`accept_channel` parameters. */
export interface SideParams extends ChannelPubkeys {
  dustLimitSat: bigint;
  maxHtlcValueInFlightMsat: bigint;
  /** The reserve this side requires the OTHER side to keep. */
  channelReserveSat: bigint;
  htlcMinimumMsat: bigint;
  /** The CSV delay this side imposes on the OTHER side's outputs. */
  toSelfDelay: number;
  maxAcceptedHtlcs: number;
  /** Non-empty `upfront_shutdown_script`, if sent. */
  upfrontShutdownScript: Uint8Array | undefined;
}

/** Parameters fixed at funding time. */
export interface ChannelParams {
  channelId: Uint8Array;
  channelType: ChannelType;
  /** The full negotiated channel_type feature bits (including zeroconf/scid_alias). */
  channelTypeBits: number[];
  isOpener: boolean;
  fundingAmountSat: bigint;
  /** Funding outpoint, `txid` in display order. */
  fundingTxid: Uint8Array;
  fundingOutputIndex: number;
  local: SideParams;
  remote: SideParams;
  obscuringFactor: bigint;
  /** `announce_channel` bit of `channel_flags`. */
  announce: boolean;
  /** Our `max_dust_htlc_exposure_msat`. */
  maxDustHtlcExposureMsat: bigint;
}

/** An HTLC in a commitment spec; `direction` is relative to the spec's owner. */
export interface SpecHtlc {
  direction: 'offered' | 'received';
  id: bigint;
  amountMsat: bigint;
  paymentHash: Uint8Array;
  cltvExpiry: number;
}

/** The content of one commitment transaction, from its owner's point of view. */
export interface CommitmentSpec {
  htlcs: SpecHtlc[];
  feeratePerKw: number;
  /** Owner's balance (msat), excluding HTLCs and fees. */
  toLocalMsat: bigint;
  /** Counterparty's balance (msat), excluding HTLCs and fees. */
  toRemoteMsat: bigint;
}

/** An update message (what `proposed`/`signed`/`acked` lists hold). */
export type UpdateMessage =
  | UpdateAddHtlc
  | UpdateFulfillHtlc
  | UpdateFailHtlc
  | UpdateFailMalformedHtlc
  | UpdateFee;

/**
 * Pending changes (Eclair's `LocalChanges`/`RemoteChanges`):
 * - local.proposed: sent, not yet signed; local.signed: in the commitment_signed we sent, waiting
 *   for the revocation; local.acked: revoked by the peer, not yet in our own commitment.
 * - remote.proposed: received, not yet signed by the peer; remote.acked: in our commitment (we
 *   revoked), not yet in theirs; remote.signed: in the commitment_signed we sent to them.
 */
export interface Changes {
  localProposed: UpdateMessage[];
  localSigned: UpdateMessage[];
  localAcked: UpdateMessage[];
  remoteProposed: UpdateMessage[];
  remoteAcked: UpdateMessage[];
  remoteSigned: UpdateMessage[];
}

/** Our current commitment (signed by the peer). */
export interface LocalCommit {
  index: number;
  spec: CommitmentSpec;
  txid: Uint8Array;
  /** The peer's signature on it. */
  remoteSig: Uint8Array;
  /** The peer's HTLC signatures, in commitment output order. */
  htlcRemoteSigs: Uint8Array[];
}

/** The peer's commitment (signed by us). `spec` is from the PEER's point of view. */
export interface RemoteCommit {
  index: number;
  spec: CommitmentSpec;
  txid: Uint8Array;
  remotePerCommitmentPoint: Uint8Array;
}

/** We signed the peer's next commitment and wait for its `revoke_and_ack`. */
export interface WaitingForRevocation {
  nextRemoteCommit: RemoteCommit;
  /** The exact `commitment_signed` sent (retransmitted on reestablish). */
  sent: CommitmentSigned;
  /** Our local commitment index when we sent it (orders retransmission against revoke_and_ack). */
  sentAfterLocalCommitIndex: number;
}

/** The whole off-chain state of a funded channel (pure data; see ./commitments.ts). */
export interface Commitments {
  params: ChannelParams;
  changes: Changes;
  localNextHtlcId: bigint;
  remoteNextHtlcId: bigint;
  localCommit: LocalCommit;
  remoteCommit: RemoteCommit;
  /** Set while waiting for the peer's revocation. */
  waiting: WaitingForRevocation | undefined;
  /** The peer's next per-commitment point (to sign its next commitment); unknown before channel_ready. */
  remoteNextPerCommitmentPoint: Uint8Array | undefined;
  /** The per-commitment secrets the peer revealed. */
  remoteSecrets: ShachainStore;
}
