/**
 * The JSON shapes of the REST API (and so of the CLI output): snake_case keys, amounts as decimal
 * strings (`*_sat`, `*_msat`; they are bigint in Farad), bytes as hex, short_channel_ids as
 * `BLOCKxTXxOUTPUT`, times in Unix seconds (`*_at`).
 */
import type { ChannelInfo } from '../../node/channels/index.js';
import type { InvoiceRecord, PaymentRecord } from '../../node/payments/index.js';
import { formatShortChannelId } from '../../protocol/invoice/index.js';
import { formatHostPort } from './config.js';
import type { NodeBalance, NodeInfo } from './node.js';

/** `Normal` → `NORMAL`, `WaitForFundingConfirmed` → `WAIT_FOR_FUNDING_CONFIRMED`. */
export function stateName(kind: string): string {
  return kind.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

const scid = (v: bigint | undefined) => (v === undefined ? null : formatShortChannelId(v));

/** `GET /v1/getinfo`. */
export function infoJson(i: NodeInfo): Record<string, unknown> {
  return {
    node_id: i.nodeId,
    network: i.network,
    block_height: i.blockHeight,
    block_hash: i.blockHash ?? null,
    num_peers: i.numPeers,
    num_channels: i.numChannels,
    num_active_channels: i.numActiveChannels,
    listen: formatHostPort(i.listen),
    chain_backend: i.chainBackend,
  };
}

/** `GET /v1/balance`. */
export function balanceJson(b: NodeBalance): Record<string, unknown> {
  return {
    onchain: {
      confirmed_sat: b.onchain.confirmed.toString(),
      unconfirmed_sat: b.onchain.unconfirmed.toString(),
      reserved_sat: b.onchain.reserved.toString(),
      total_sat: b.onchain.total.toString(),
    },
    lightning: {
      local_msat: b.lightning.localMsat.toString(),
      remote_msat: b.lightning.remoteMsat.toString(),
      usable_msat: b.lightning.usableMsat.toString(),
      pending_open_msat: b.lightning.pendingOpenMsat.toString(),
    },
  };
}

/**
 * One channel of `GET /v1/listchannels`. `state` is the state machine's state (for an offline
 * channel: the state it resumes), `active` whether the peer is connected and the channel
 * reestablished, `ready` whether it can carry payments now (`NORMAL` and active).
 */
export function channelJson(c: ChannelInfo): Record<string, unknown> {
  const state = stateName(c.innerState);
  return {
    channel_id: c.channelId,
    short_channel_id: scid(c.shortChannelId),
    peer: c.peer,
    state,
    active: c.online,
    ready: c.state === 'Normal',
    capacity_sat: c.capacitySat.toString(),
    local_msat: c.localMsat.toString(),
    remote_msat: c.remoteMsat.toString(),
    channel_type: c.channelType ?? null,
    is_opener: c.isOpener,
    pending_htlcs: c.pendingHtlcs,
    local_alias: scid(c.localAlias),
    remote_alias: scid(c.remoteAlias),
    funding_txid: c.fundingTxid ?? null,
    funding_output_index: c.fundingOutputIndex ?? null,
    closing_txid: c.closingTxid ?? null,
  };
}

/** `POST /v1/invoice`. */
export function invoiceJson(inv: InvoiceRecord): Record<string, unknown> {
  return {
    bolt11: inv.bolt11,
    payment_hash: inv.paymentHash,
    payment_secret: inv.paymentSecret,
    amount_msat: inv.amountMsat === null ? null : inv.amountMsat.toString(),
    description: inv.description,
    created_at: inv.createdAt,
    expires_at: inv.createdAt + inv.expiry,
    status: inv.status,
  };
}

/** A payment (`POST /v1/pay`, `GET /v1/listpayments`). */
export function paymentJson(p: PaymentRecord): Record<string, unknown> {
  return {
    payment_hash: p.paymentHash,
    direction: p.direction,
    status: p.status,
    amount_msat: p.amountMsat.toString(),
    fee_msat: p.feeMsat.toString(),
    preimage: p.preimage ?? null,
    bolt11: p.bolt11 ?? null,
    peer: p.peer ?? null,
    channel_id: p.channelId ?? null,
    created_at: Math.floor(p.createdAt / 1000),
    settled_at: p.settledAt === undefined ? null : Math.floor(p.settledAt / 1000),
    failure_reason: p.failureReason ?? null,
  };
}
