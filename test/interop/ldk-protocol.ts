/**
 * The control protocol between the interop tests and an LDK node process (ldk-node.ts): commands
 * go down the IPC channel as `{ id, body: LdkCommand }`, replies come back as {@link LdkReply}.
 * Amounts are bigint (the channel uses the structured-clone serialization); ids and keys are hex.
 */

/** Start-up parameters of an LDK node. */
export interface LdkInit {
  /** 32-byte seed (hex) of LDK's KeysManager. */
  seed: string;
  /** Directory of the manager, monitors and log (reused on restart). */
  dataDir: string;
  /** The devnet's bitcoind-compatible RPC URL (with credentials). */
  rpcUrl: string;
  /** Node ids (hex) whose channel opens are accepted as zero-conf. */
  trustedPeers: string[];
  /** `minimum_depth` LDK asks of channels it accepts. */
  minimumDepth: number;
  /** TCP port to listen on (127.0.0.1); 0 or absent picks one. */
  port?: number;
}

export type LdkCommand =
  | { cmd: 'init'; init: LdkInit }
  | { cmd: 'sync' }
  | { cmd: 'connect'; nodeId: string; host: string; port: number }
  | { cmd: 'disconnect'; nodeId: string }
  | { cmd: 'peers' }
  | { cmd: 'openChannel'; nodeId: string; sats: bigint; pushMsat?: bigint; anchors: boolean }
  | { cmd: 'listChannels' }
  | { cmd: 'balances' }
  | { cmd: 'wallet' }
  | { cmd: 'createInvoice'; amountMsat?: bigint; description?: string; expiry?: number }
  /**
   * Pays an invoice with LDK's router (its usable channels as first hops); `hints` are extra
   * BOLT 11 route hints (private channels LDK does not know of), added to the invoice's own.
   */
  | { cmd: 'pay'; bolt11: string; amountMsat?: bigint; hints?: LdkRouteHintHop[][] }
  | { cmd: 'close'; channelId: string; force: boolean }
  /** Sets the estimate of one `ConfirmationTarget` (enum key name), or the default of all others. */
  | { cmd: 'setFeerate'; satPerKw: number; target?: LdkConfirmationTarget }
  /** Hold claimable payments (their HTLCs stay in flight) ... */
  | { cmd: 'hold' }
  /** ... until released: claimed, or failed back (`incorrect_or_unknown_payment_details`). */
  | { cmd: 'release'; fail: boolean; hash?: string }
  | { cmd: 'tick' }
  | { cmd: 'events'; since?: number }
  | { cmd: 'broadcasts' }
  | { cmd: 'stop' };

export type LdkReply =
  | { type: 'ready' }
  | { type: 'fatal'; error: string }
  | { type: 'reply'; id: number; ok: true; result: unknown }
  | { type: 'reply'; id: number; ok: false; error: string };

/** One hop of a BOLT 11 route hint (the channel from `nodeId` towards the next hop). */
export interface LdkRouteHintHop {
  nodeId: string;
  shortChannelId: bigint;
  feeBaseMsat: number;
  feeProportionalMillionths: number;
  cltvExpiryDelta: number;
}

/** A channel as LDK's `list_channels` reports it. */
export interface LdkChannel {
  channelId: string;
  peer: string;
  fundingTxid: string | undefined;
  fundingOutputIndex: number | undefined;
  capacitySat: bigint;
  outboundCapacityMsat: bigint;
  inboundCapacityMsat: bigint;
  isOutbound: boolean;
  isReady: boolean;
  isUsable: boolean;
  shortChannelId: bigint | undefined;
  inboundScidAlias: bigint | undefined;
  outboundScidAlias: bigint | undefined;
  feeratePerKw: number | undefined;
  confirmations: number | undefined;
  anchors: boolean;
  zeroConf: boolean;
  pendingInboundHtlcs: number;
  pendingOutboundHtlcs: number;
  /** LDK's forwarding policy on this channel (its `ChannelConfig`: what its `channel_update` says). */
  forwardingFeeBaseMsat: number;
  forwardingFeeProportionalMillionths: number;
  cltvExpiryDelta: number;
  /** The peer's policy from its `channel_update` (undefined until one arrived). */
  counterpartyForwarding:
    | { feeBaseMsat: number; feeProportionalMillionths: number; cltvExpiryDelta: number }
    | undefined;
}

/** One of LDK's `Balance`s of a channel monitor. */
export interface LdkBalance {
  /** `ClaimableOnChannelClose`, `ClaimableAwaitingConfirmations`, ... */
  kind: string;
  amountSat: bigint;
  /** ClaimableOnChannelClose: the commitment fee we pay (0 when the peer opened). */
  feeSat?: bigint;
}

/** What the LDK node reports (LDK events plus the harness's own). */
export type LdkEventBody =
  | { type: 'FundingGenerated'; channelId: string; txid: string }
  | { type: 'FundingFailed'; channelId: string; reason: string }
  | {
      type: 'OpenChannelRequest';
      channelId: string;
      peer: string;
      fundingSats: bigint;
      anchors: boolean;
      zeroConf: boolean;
      accepted: boolean;
      reason?: string;
    }
  | { type: 'PaymentClaimable'; paymentHash: string; amountMsat: bigint }
  | { type: 'PaymentClaimed'; paymentHash: string; amountMsat: bigint }
  | { type: 'PaymentSent'; paymentHash: string; preimage: string; feeMsat: bigint }
  | { type: 'PaymentFailed'; paymentId: string; paymentHash: string; reason: string }
  | {
      type: 'PaymentPathFailed';
      paymentHash: string;
      permanent: boolean;
      /** The channel LDK blames (to avoid on a retry), if any. */
      shortChannelId?: bigint;
      /** `PathFailure::OnPath`'s network update: a channel or a node failure, if any. */
      networkUpdate?:
        | { kind: 'channel'; shortChannelId: bigint; permanent: boolean }
        | { kind: 'node'; nodeId: string; permanent: boolean };
      /** `PathFailure::InitialSend` (nothing left this node). */
      initialSend?: boolean;
    }
  | {
      type: 'PaymentForwarded';
      prevChannelId: string;
      nextChannelId: string;
      feeMsat: bigint | undefined;
      outboundMsat: bigint | undefined;
    }
  | { type: 'HTLCHandlingFailed'; prevChannelId: string; destination: string }
  | {
      type: 'ChannelPending';
      channelId: string;
      peer: string;
      fundingTxid: string;
      fundingOutputIndex: number;
    }
  | { type: 'ChannelReady'; channelId: string; peer: string }
  | { type: 'ChannelClosed'; channelId: string; peer: string; reason: string; detail: string }
  | { type: 'SpendableOutputs'; channelId: string; sweepTxid: string; count: number }
  | { type: 'DiscardFunding'; channelId: string }
  | { type: 'BumpTransaction'; kind: string }
  | { type: 'BroadcastFailed'; txid: string; reason: string }
  | { type: 'Other'; name: string };

/** An event with its sequence number (position in the node's event log). */
export type LdkEvent = LdkEventBody & { seq: number };

/** LDK's `ConfirmationTarget` names (the enum keys of the bindings). */
export type LdkConfirmationTarget =
  | 'LDKConfirmationTarget_MaximumFeeEstimate'
  | 'LDKConfirmationTarget_UrgentOnChainSweep'
  | 'LDKConfirmationTarget_MinAllowedAnchorChannelRemoteFee'
  | 'LDKConfirmationTarget_MinAllowedNonAnchorChannelRemoteFee'
  | 'LDKConfirmationTarget_AnchorChannelFee'
  | 'LDKConfirmationTarget_NonAnchorChannelFee'
  | 'LDKConfirmationTarget_ChannelCloseMinimum'
  | 'LDKConfirmationTarget_OutputSpendingFee';
