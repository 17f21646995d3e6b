/**
 * Network routes of the REST API (issue 6: payments across the network), registered by
 * {@link startApi}; same bearer token and error conventions:
 *
 * - `POST /v1/keysend {node_id, amount_msat, max_fee_msat?}` → waits; the payment (bLIP-3
 *   keysend: the payee must run with `--accept-keysend`).
 * - `GET  /v1/listforwards` → forwards [{id, payment_hash, in_channel_id, in_htlc_id,
 *   in_amount_msat, out_channel_id, out_htlc_id, out_amount_msat, fee_msat, status,
 *   failure_reason, requested_scid, created_at, resolved_at}], fees_earned_msat (settled forwards).
 * - `GET  /v1/describegraph` → nodes [{node_id, alias, color, addresses, features, last_update}],
 *   channels [{short_channel_id (BOLT 7 `BLOCKxTXxOUT`), scid (u64 decimal), node1, node2,
 *   capacity_sat, features, policies: [node1's, node2's] (null when not yet announced)}] — the
 *   graph as learnt from gossip (BOLT 7).
 * - `POST /v1/queryroutes {node_id, amount_msat, final_cltv_delta?, max_fee_msat?}` → route
 *   {amount_msat, total_amount_msat, fee_msat, total_cltv_delta, hops [{node_id,
 *   short_channel_id, scid, amount_msat, expiry_delta, fee_msat}]}; the route the router would
 *   take now (first hop = one of our channels; `fee_msat` of hop i is what the node at the start
 *   of that channel keeps, 0 for the first). `NO_ROUTE` (400) with the router's reason otherwise.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ForwardInfo } from '../../node/forwarding/index.js';
import { toHex } from '../../protocol/encoding/bytes.js';
import { FaradError } from '../../protocol/errors.js';
import { formatShortChannelId } from '../../protocol/invoice/index.js';
import { paymentJson } from './json.js';
import type { FaradNode } from './node.js';
import { amount, nodeId, RequestError } from './schemas.js';

/** A route query without an answer (code `NO_ROUTE`). */
export class RouteQueryError extends FaradError {
  override name = 'RouteQueryError';
}

const schemas = {
  keysend: z.object({ node_id: nodeId, amount_msat: amount, max_fee_msat: amount.optional() }).strict(),
  queryroutes: z
    .object({
      node_id: nodeId,
      amount_msat: amount,
      final_cltv_delta: z.number().int().min(1).max(2016).optional(),
      max_fee_msat: amount.optional(),
    })
    .strict(),
};

function parse<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  const r = schema.safeParse(body ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  throw new RequestError('INVALID_REQUEST', `${where}${issue?.message ?? 'invalid request'}`);
}

/** The JSON form of a forward. */
export function forwardJson(f: ForwardInfo): Record<string, unknown> {
  return {
    id: f.id,
    payment_hash: f.paymentHash,
    in_channel_id: f.inChannelId,
    in_htlc_id: f.inHtlcId.toString(),
    in_amount_msat: f.inAmountMsat.toString(),
    in_cltv_expiry: f.inCltvExpiry,
    requested_scid: formatShortChannelId(f.requestedScid),
    out_channel_id: f.outChannelId ?? null,
    out_htlc_id: f.outHtlcId?.toString() ?? null,
    out_amount_msat: f.outAmountMsat.toString(),
    out_cltv_expiry: f.outCltvExpiry,
    fee_msat: f.feeMsat.toString(),
    status: f.status,
    failure_reason: f.failureReason ?? null,
    created_at: f.createdAt,
    resolved_at: f.resolvedAt ?? null,
  };
}

/** Registers the network routes (see the module documentation). */
export function registerNetworkRoutes(app: FastifyInstance, node: FaradNode): void {
  app.post('/v1/keysend', async (req) => {
    const b = parse(schemas.keysend, req.body);
    return paymentJson(
      await node.keysend(
        b.node_id.toLowerCase(),
        b.amount_msat,
        b.max_fee_msat !== undefined ? { maxFeeMsat: b.max_fee_msat } : {},
      ),
    );
  });

  app.get('/v1/listforwards', async () => ({
    forwards: node.listForwards().map(forwardJson),
    fees_earned_msat: node.forwarding.feesEarnedMsat().toString(),
  }));

  app.get('/v1/describegraph', async () => {
    const g = node.describeGraph();
    return {
      nodes: g.nodes.map((n) => ({
        node_id: n.nodeId,
        alias: n.alias ?? null,
        color: n.color ?? null,
        addresses: n.addresses,
        features: n.features ?? null,
        last_update: n.lastUpdate ?? null,
      })),
      channels: g.channels.map((c) => ({
        short_channel_id: c.scid,
        scid: c.shortChannelId,
        node1: c.node1,
        node2: c.node2,
        capacity_sat: c.capacitySat,
        features: c.features,
        policies: c.policies.map((p) =>
          p
            ? {
                timestamp: p.timestamp,
                disabled: p.disabled,
                cltv_expiry_delta: p.cltvExpiryDelta,
                htlc_minimum_msat: p.htlcMinimumMsat,
                htlc_maximum_msat: p.htlcMaximumMsat,
                fee_base_msat: p.feeBaseMsat,
                fee_proportional_millionths: p.feeProportionalMillionths,
              }
            : null,
        ),
      })),
    };
  });

  app.post('/v1/queryroutes', async (req) => {
    const b = parse(schemas.queryroutes, req.body);
    const r = node.queryRoutes(b.node_id.toLowerCase(), b.amount_msat, {
      ...(b.final_cltv_delta !== undefined ? { finalCltvDelta: b.final_cltv_delta } : {}),
      ...(b.max_fee_msat !== undefined ? { maxFeeMsat: b.max_fee_msat } : {}),
    });
    if (!r.ok) throw new RouteQueryError('NO_ROUTE', `no route: ${r.reason}`);
    const route = r.route;
    return {
      route: {
        amount_msat: route.amountMsat.toString(),
        total_amount_msat: route.totalAmountMsat.toString(),
        fee_msat: route.feeMsat.toString(),
        total_cltv_delta: route.totalCltvDelta,
        hops: route.hops.map((h) => ({
          node_id: toHex(h.nodeId),
          short_channel_id: formatShortChannelId(h.shortChannelId),
          scid: h.shortChannelId.toString(),
          amount_msat: h.amountMsat.toString(),
          expiry_delta: h.relativeExpiry,
          fee_msat: h.feeMsat.toString(),
        })),
      },
    };
  });
}
