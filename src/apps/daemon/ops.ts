/**
 * Operator routes of the REST API (issue 4 §4 and issue 6 CLI contract), registered by
 * {@link startApi} next to the core ones; same bearer token and error conventions:
 *
 * - `POST /v1/updatefee {channel_id, feerate_per_kw}` → channel_id, feerate_per_kw. Opener only
 *   (BOLT 2 `update_fee`); signed at once (`commitment_signed`). Refusals: `CHANNEL_NOT_FOUND`,
 *   `CHANNEL_COMMAND_REJECTED` (message: the state machine's reason).
 * - `POST /v1/disconnect {node_id}` → node_id, disconnected. Closes the connection and stops
 *   reconnecting to the peer (until the next `connect` or restart with stored peers).
 *   `PEER_NOT_FOUND` when there was nothing to disconnect.
 * - `POST /v1/holdinvoice {payment_hash, amount_msat, description?, expiry?}` → the invoice
 *   (status `open`, then `accepted` once HTLCs arrive; they are held until settle/cancel).
 * - `POST /v1/settleinvoice {preimage}` → the invoice (`paid`).
 * - `POST /v1/cancelinvoice {payment_hash}` → the invoice (`canceled`).
 * - `GET  /v1/listinvoices` → invoices [...] (with `status`: open, accepted, paid, canceled).
 * - `GET  /v1/listmonitors` → monitors [{channel_id, height, close_kind, resolved, published:
 *   [{txid, kind}]}] (the BOLT 5 chain monitors; `published` lists the transactions of ours the
 *   chain backend accepted since this process started).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { fundedData } from '../../node/channels/index.js';
import { FaradError } from '../../protocol/errors.js';
import { invoiceJson } from './json.js';
import type { FaradNode } from './node.js';
import { amount, hex32, nodeId, RequestError } from './schemas.js';

/** A refused operator request: `PEER_NOT_FOUND`, `CHANNEL_COMMAND_REJECTED`. */
export class OpsError extends FaradError {
  override name = 'OpsError';
}

const schemas = {
  updatefee: z
    .object({ channel_id: hex32, feerate_per_kw: z.number().int().min(253).max(0xffffffff) })
    .strict(),
  disconnect: z.object({ node_id: nodeId }).strict(),
  holdinvoice: z
    .object({
      payment_hash: hex32,
      amount_msat: z.union([z.literal('any'), z.null(), amount]),
      description: z.string().max(639).optional(),
      expiry: z.number().int().min(1).max(31_536_000).optional(),
    })
    .strict(),
  settleinvoice: z.object({ preimage: hex32 }).strict(),
  cancelinvoice: z.object({ payment_hash: hex32 }).strict(),
};

function parse<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  const r = schema.safeParse(body ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  throw new RequestError('INVALID_REQUEST', `${where}${issue?.message ?? 'invalid request'}`);
}

/** The commitment feerate of a channel (our current commitment), or null. */
export function channelFeerate(node: FaradNode, channelId: string): number | null {
  const s = node.channels.channelState(channelId);
  const d = s ? fundedData(s) : undefined;
  return d ? d.commitments.localCommit.spec.feeratePerKw : null;
}

/** Registers the operator routes (see the module documentation). */
export function registerOpsRoutes(app: FastifyInstance, node: FaradNode): void {
  app.post('/v1/updatefee', async (req) => {
    const b = parse(schemas.updatefee, req.body);
    const id = b.channel_id.toLowerCase();
    const fx = await node.channels.command(id, { type: 'CmdUpdateFee', feeratePerKw: b.feerate_per_kw });
    const rej = fx.find((e) => e.type === 'CommandRejected');
    if (rej?.type === 'CommandRejected')
      throw new OpsError('CHANNEL_COMMAND_REJECTED', `update_fee refused: ${rej.error.message}`, {
        details: rej.error.code,
      });
    await node.channels.command(id, { type: 'CmdSign' });
    return { channel_id: id, feerate_per_kw: b.feerate_per_kw };
  });

  app.post('/v1/disconnect', async (req) => {
    const b = parse(schemas.disconnect, req.body);
    const id = b.node_id.toLowerCase();
    if (!node.peers.disconnect(id)) throw new OpsError('PEER_NOT_FOUND', 'not connected to that peer');
    return { node_id: id, disconnected: true };
  });

  app.post('/v1/holdinvoice', async (req) => {
    const b = parse(schemas.holdinvoice, req.body);
    const inv = await node.payments.createHoldInvoice(
      b.payment_hash.toLowerCase(),
      b.amount_msat === 'any' || b.amount_msat === null ? null : b.amount_msat,
      {
        ...(b.description !== undefined ? { description: b.description } : {}),
        ...(b.expiry !== undefined ? { expiry: b.expiry } : {}),
      },
    );
    return invoiceJson(inv);
  });

  app.post('/v1/settleinvoice', async (req) => {
    const b = parse(schemas.settleinvoice, req.body);
    return invoiceJson(await node.payments.settleInvoice(b.preimage.toLowerCase()));
  });

  app.post('/v1/cancelinvoice', async (req) => {
    const b = parse(schemas.cancelinvoice, req.body);
    return invoiceJson(await node.payments.cancelInvoice(b.payment_hash.toLowerCase()));
  });

  app.get('/v1/listinvoices', async () => ({ invoices: node.payments.listInvoices().map(invoiceJson) }));

  app.get('/v1/listmonitors', async () => ({
    monitors: node.monitor.list().map((m) => ({
      channel_id: m.channelId,
      height: m.height,
      close_kind: m.closeKind ?? null,
      resolved: m.resolved,
      published: node.monitor.published(m.channelId).map((p) => ({ txid: p.txid, kind: p.kind })),
    })),
  }));
}
