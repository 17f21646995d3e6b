/**
 * The contract between the payment layer (which owns the channel manager's HTLC hooks and peels
 * every incoming onion) and a forwarding module (src/node/forwarding): incoming HTLCs whose
 * onion names a next hop go to the forwarder; outcomes of outgoing HTLCs are offered to it
 * first (it answers whether the HTLC was one of its forwards).
 */
import type { HtlcFailure } from '../../core/channel/index.js';
import type { PeeledOnion } from '../../protocol/onion/index.js';
import type { UpdateAddHtlc } from '../../protocol/wire/messages.js';

/** An on-chain HTLC outcome as the chain monitor reports it. */
export interface OnChainHtlcOutcome {
  direction: 'offered' | 'received';
  htlcId: bigint;
  paymentHash: Uint8Array;
  preimage: Uint8Array | undefined;
}

/** What the payment layer needs from a forwarder ({@link ForwardingManager} implements it). */
export interface HtlcForwarder {
  /** Loads its records (called from `PaymentManager.load`). */
  load(): Promise<void>;
  /** Resumes forwards after a restart (called from `PaymentManager.recover`, before payments). */
  recover(): Promise<void>;
  /** An irrevocably committed incoming HTLC whose (authenticated) onion is not for us. */
  forward(channelId: string, add: UpdateAddHtlc, peeled: PeeledOnion, mustFail: boolean): Promise<void>;
  /** True when the outgoing HTLC was a forward (then handled). */
  outgoingFulfilled(
    channelId: string,
    htlcId: bigint,
    paymentHash: Uint8Array,
    preimage: Uint8Array,
  ): Promise<boolean>;
  /** True when the outgoing HTLC was a forward (then handled). */
  outgoingFailed(
    channelId: string,
    htlcId: bigint,
    paymentHash: Uint8Array,
    failure: HtlcFailure,
  ): Promise<boolean>;
  /** True when the HTLC belongs to a forward (then handled). */
  htlcResolvedOnChain(channelId: string, r: OnChainHtlcOutcome): Promise<boolean>;
  /** Whether an incoming HTLC is a forward's (restart recovery must leave it alone). */
  ownsIncoming(channelId: string, htlcId: bigint): boolean;
  /** Whether an outgoing HTLC is a forward's. */
  ownsOutgoing(channelId: string, htlcId: bigint): boolean;
}
