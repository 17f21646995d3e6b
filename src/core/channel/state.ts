/**
 * The channel state machine's vocabulary (BOLT #2, sans-IO): {@link ChannelState} (a
 * discriminated union on `kind`), {@link ChannelInput} (peer messages, commands, chain/link
 * events), {@link ChannelEffect} (what the runtime must do) and {@link StepContext}.
 *
 * Effect ordering contract: within one step's effect list, `MonitorUpdate`s come first, then
 * `PersistChannel`, then `SendMessage`s / broadcasts, then notifications. The runtime MUST apply
 * them in order and MUST NOT let a `SendMessage` leave before every preceding `PersistChannel`
 * and `MonitorUpdate` is durable (BOLT #2 retransmission relies on it).
 */
import type { Transaction } from '../../protocol/tx/transaction.js';
import type {
  AcceptChannel,
  ChannelReady,
  ChannelReestablish,
  ClosingSigned,
  CommitmentSigned,
  ErrorMessage,
  FundingCreated,
  FundingSigned,
  KnownMessage,
  OpenChannel,
  RevokeAndAck,
  Shutdown,
  UpdateAddHtlc,
  UpdateFailHtlc,
  UpdateFailMalformedHtlc,
  UpdateFee,
  UpdateFulfillHtlc,
  Warning,
} from '../../protocol/wire/messages.js';
import type { ChannelError } from './errors.js';
import type { LocalCommitmentUpdate, MonitorUpdate } from './monitor-update.js';
import type { ChannelConfig, ChannelKeys, Commitments, SideParams } from './types.js';

/** Commitment format requested by {@link CmdOpen}. */
export type ChannelTypeName = 'static_remotekey' | 'anchors_zero_fee_htlc_tx';

/** What we asked for in `open_channel` (opener). */
export interface OpenRequest {
  fundingSats: bigint;
  pushMsat: bigint;
  channelType: ChannelTypeName;
  zeroConf: boolean;
  announce: boolean;
}

/** A fulfill/fail we must (re)send once the link is back (survives disconnects). */
export type PendingSettlement =
  | { type: 'fulfill'; id: bigint; preimage: Uint8Array }
  | { type: 'fail'; id: bigint; reason: Uint8Array }
  | { type: 'fail_malformed'; id: bigint; sha256OfOnion: Uint8Array; failureCode: number };

/** Feerates (sat/kw) for closing negotiation. */
export interface CloseFeerates {
  preferred: number;
  min: number;
  max: number;
}

/** The data of every state after the first commitments were signed. */
export interface FundedData {
  config: ChannelConfig;
  commitments: Commitments;
  /** Confirmations required before `channel_ready` (0: zero-conf). */
  minDepth: number;
  /** Block height when the channel was funded (acceptor funding timeout). */
  createdAtHeight: number;
  /** Opener: the funding transaction (kept for rebroadcast until confirmed). */
  fundingTx: Transaction | undefined;
  /** Real short_channel_id once confirmed. */
  shortChannelId: bigint | undefined;
  localAlias: bigint | undefined;
  remoteAlias: bigint | undefined;
  /** We sent (or decided to send, while offline) `channel_ready`. */
  localReady: boolean;
  /** We received the peer's `channel_ready`. */
  remoteReady: boolean;
  localShutdown: Shutdown | undefined;
  remoteShutdown: Shutdown | undefined;
  closeFeerates: CloseFeerates | undefined;
  /** Settlements dropped by a disconnect (or given while offline), replayed after reestablish. */
  pendingSettlements: PendingSettlement[];
}

/** Legacy `closing_signed` negotiation progress. */
export interface Negotiation {
  lastSentFeeSat: bigint | undefined;
  lastSentRange: { min: bigint; max: bigint } | undefined;
  lastReceivedFeeSat: bigint | undefined;
}

/** How a channel reached `Closing`. */
export type CloseType = 'mutual' | 'local-force' | 'data-loss' | 'aborted';

/** States before funding: nothing is at stake, nothing is persisted. */
export type PreFundingState =
  | {
      /** Initial state of every channel: accepts `CmdOpen` (opener) or `open_channel` (acceptor). */
      kind: 'WaitForOpenChannel';
      config: ChannelConfig;
    }
  | {
      kind: 'WaitForAcceptChannel';
      config: ChannelConfig;
      request: OpenRequest;
      open: OpenChannel;
      channelTypeBits: number[];
    }
  | {
      /** Opener: the runtime builds the funding transaction (`FundingTxBuilt`). */
      kind: 'WaitForFundingTx';
      config: ChannelConfig;
      request: OpenRequest;
      open: OpenChannel;
      accept: AcceptChannel;
      channelTypeBits: number[];
      remote: SideParams;
    }
  | {
      kind: 'WaitForFundingCreated';
      config: ChannelConfig;
      open: OpenChannel;
      accept: AcceptChannel;
      channelTypeBits: number[];
      local: SideParams;
      remote: SideParams;
    }
  | {
      kind: 'WaitForFundingSigned';
      config: ChannelConfig;
      /** Commitments whose local commitment still lacks the peer's signature. */
      commitments: Commitments;
      fundingTx: Transaction;
      minDepth: number;
      temporaryChannelId: Uint8Array;
    };

/** Funded states while connected. */
export type OnlineFundedState =
  | { kind: 'WaitForFundingConfirmed'; data: FundedData }
  | { kind: 'WaitForChannelReady'; data: FundedData }
  | { kind: 'Normal'; data: FundedData }
  | { kind: 'Shutdown'; data: FundedData }
  | { kind: 'Negotiating'; data: FundedData; negotiation: Negotiation };

/** Every channel state (discriminated on `kind`). */
export type ChannelState =
  | PreFundingState
  | OnlineFundedState
  | {
      /** Disconnected (`phase` 'disconnected') or reconnected and waiting for `channel_reestablish` ('syncing'). */
      kind: 'Offline';
      inner: OnlineFundedState;
      phase: 'disconnected' | 'syncing';
    }
  | {
      kind: 'Closing';
      data: FundedData;
      closeType: CloseType;
      /** The mutual close or our commitment transaction, when we have one to watch. */
      tx: Transaction | undefined;
      /** The `error` we sent, retransmitted on reconnection. */
      error: ErrorMessage | undefined;
    }
  | { kind: 'Closed'; channelId: Uint8Array | undefined; closeType: CloseType };

// ------------------------------------------------------------------------------------------------
// Inputs

/** Channel messages the state machine consumes. */
export type ChannelMessage =
  | OpenChannel
  | AcceptChannel
  | FundingCreated
  | FundingSigned
  | ChannelReady
  | UpdateAddHtlc
  | UpdateFulfillHtlc
  | UpdateFailHtlc
  | UpdateFailMalformedHtlc
  | CommitmentSigned
  | RevokeAndAck
  | UpdateFee
  | ChannelReestablish
  | Shutdown
  | ClosingSigned
  | ErrorMessage
  | Warning;

/** Open a channel as opener (sends `open_channel`). */
export interface CmdOpen extends OpenRequest {
  type: 'CmdOpen';
}
/** Offer an HTLC (`update_add_htlc`; signed by a later `CmdSign`). */
export interface CmdAddHtlc {
  type: 'CmdAddHtlc';
  amountMsat: bigint;
  paymentHash: Uint8Array;
  cltvExpiry: number;
  onion: Uint8Array;
  blindingPoint?: Uint8Array;
}
/** Fulfill an incoming HTLC with its preimage. */
export interface CmdFulfill {
  type: 'CmdFulfill';
  id: bigint;
  preimage: Uint8Array;
}
/** Fail an incoming HTLC with an encrypted BOLT #4 reason. */
export interface CmdFail {
  type: 'CmdFail';
  id: bigint;
  reason: Uint8Array;
}
/** Fail an incoming HTLC whose onion is unparsable (BADONION code). */
export interface CmdFailMalformed {
  type: 'CmdFailMalformed';
  id: bigint;
  sha256OfOnion: Uint8Array;
  failureCode: number;
}
/** Sign pending changes into the peer commitment (`commitment_signed`); a no-op when nothing is pending. */
export interface CmdSign {
  type: 'CmdSign';
}
/** Opener: change the commitment feerate (`update_fee`). */
export interface CmdUpdateFee {
  type: 'CmdUpdateFee';
  feeratePerKw: number;
}
/** Start a cooperative close (`shutdown`, then `closing_signed` negotiation). */
export interface CmdClose {
  type: 'CmdClose';
  /** Defaults to `config.shutdownScript`. */
  scriptPubKey?: Uint8Array;
  /** Defaults to `ctx.feeratePerKw` (preferred), half of it (min) and 2x (max). */
  feerates?: CloseFeerates;
}
/** Publish our latest commitment (sends `error`). */
export interface CmdForceClose {
  type: 'CmdForceClose';
}
/** Every command. */
export type ChannelCommand =
  | CmdOpen
  | CmdAddHtlc
  | CmdFulfill
  | CmdFail
  | CmdFailMalformed
  | CmdSign
  | CmdUpdateFee
  | CmdClose
  | CmdForceClose;

/** Every chain/link event. */
export type ChannelEvent =
  | { type: 'FundingTxBuilt'; tx: Transaction; outputIndex: number }
  | { type: 'FundingConfirmed'; depth: number; scid: bigint }
  | { type: 'Disconnected' }
  | { type: 'Connected' }
  | { type: 'BlockConnected'; height: number }
  | { type: 'ClosingTxConfirmed'; txid: Uint8Array };

/**
 * Anything {@link step} consumes: any known wire message for this channel (messages the
 * current state does not expect are ignored or treated as a protocol violation), a command or
 * an event.
 */
export type ChannelInput = KnownMessage | ChannelCommand | ChannelEvent;

// ------------------------------------------------------------------------------------------------
// Effects

/** Why an outgoing HTLC failed. */
export type HtlcFailure =
  | { kind: 'remote'; reason: Uint8Array }
  | { kind: 'malformed'; sha256OfOnion: Uint8Array; failureCode: number }
  | { kind: 'local'; error: ChannelError };

/** Everything the runtime must do after a step (see the ordering contract in the module doc). */
export type ChannelEffect =
  | { type: 'SendMessage'; msg: KnownMessage }
  | { type: 'PersistChannel'; state: ChannelState }
  | { type: 'MonitorUpdate'; update: MonitorUpdate }
  /** Opener: fund `amountSat` to `scriptPubKey` from the wallet, then input `FundingTxBuilt`. */
  | { type: 'BuildFundingTx'; scriptPubKey: Uint8Array; amountSat: bigint; feeratePerKw: number }
  | { type: 'BroadcastFundingTx'; tx: Transaction }
  | {
      type: 'WatchFunding';
      /** Display order. */
      txid: Uint8Array;
      outputIndex: number;
      /** Report `FundingConfirmed` from this depth on (>= 1; zero-conf channels still learn their scid). */
      minDepth: number;
      scriptPubKey: Uint8Array;
      amountSat: bigint;
    }
  | { type: 'BroadcastTx'; tx: Transaction }
  /** The channel_id replaced the temporary one (route further messages by it). */
  | { type: 'ChannelIdAssigned'; temporaryChannelId: Uint8Array; channelId: Uint8Array }
  /**
   * An incoming HTLC is irrevocably committed: the payment layer fulfills or fails it. If
   * `mustFail` is set (dust exposure exceeded), it MUST fail it and MUST NOT reveal the preimage.
   */
  | { type: 'HtlcReceived'; add: UpdateAddHtlc; mustFail: ChannelError | undefined }
  /** An outgoing HTLC was fulfilled (may repeat after a reconnection; idempotent). */
  | { type: 'HtlcFulfilled'; id: bigint; paymentHash: Uint8Array; amountMsat: bigint; preimage: Uint8Array }
  /** An outgoing HTLC failed and is irrevocably removed (or was never signed: `local`). */
  | { type: 'HtlcFailed'; id: bigint; paymentHash: Uint8Array; amountMsat: bigint; failure: HtlcFailure }
  | {
      type: 'ChannelReady';
      channelId: Uint8Array;
      shortChannelId: bigint | undefined;
      localAlias: bigint | undefined;
      remoteAlias: bigint | undefined;
    }
  | { type: 'ChannelClosed'; channelId: Uint8Array | undefined; closeType: CloseType; reason: string }
  /** The peer broke the protocol; an `error` follows (and a force close once funded). */
  | { type: 'ProtocolViolation'; error: ChannelError }
  /**
   * Only HTLC removals are waiting to be signed and the step left them for the next round
   * ({@link StepContext.deferRemovalSigning}): the runtime MUST input `CmdSign` within a short
   * delay (it is a no-op if something else signed them first).
   */
  | { type: 'SignDeferred' }
  /** A command could not be executed; the state is unchanged. */
  | { type: 'CommandRejected'; command: ChannelCommand['type'] | 'FundingTxBuilt'; error: ChannelError }
  /** Publish our latest commitment and resolve it on chain (the monitor's job). */
  | { type: 'ForceClose'; reason: ChannelError; commitment: LocalCommitmentUpdate }
  /**
   * The peer proved it has a newer state than ours: we lost data. We MUST NOT broadcast our
   * commitment; wait for the peer's and claim our output with its `remotePerCommitmentPoint`.
   */
  | { type: 'DataLossDetected'; channelId: Uint8Array; remotePerCommitmentPoint: Uint8Array };

/** What each step gets from the caller: no clock, no randomness, no I/O taken from globals. */
export interface StepContext {
  /** Current chain tip height. */
  blockHeight: number;
  /** This channel's secrets (a signer port later). */
  keys: ChannelKeys;
  /** Current feerate estimate (sat/kw) for new commitments and sanity checks. */
  feeratePerKw: number;
  /** Random bytes source (temporary channel ids); required by `CmdOpen`. */
  randomBytes?: (n: number) => Uint8Array;
  /**
   * Batch removals into the next commitment round: when a received `commitment_signed` or
   * `revoke_and_ack` leaves only HTLC removals (fulfills/fails) to sign in a `Normal` channel,
   * the step does not sign them at once but emits `SignDeferred`; the runtime sends `CmdSign`
   * soon after (or sooner, with the next HTLC it adds). Default false: sign at once.
   */
  deferRemovalSigning?: boolean;
}

/** The result of {@link step}. */
export interface StepResult {
  state: ChannelState;
  effects: ChannelEffect[];
}
