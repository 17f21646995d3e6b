/**
 * The node's JSON REST API (fastify), under `/v1`, on the `--api` address (loopback unless
 * `--api-allow-remote`). Every route requires `Authorization: Bearer <token>` (the token file of
 * the data dir); otherwise 401.
 *
 * Routes (bodies are JSON objects; amounts are decimal strings, also accepted as JSON integers):
 * - `GET  /v1/getinfo` → node_id, network, block_height, block_hash, num_peers, num_channels, ...
 * - `POST /v1/connect {peer: "<node_id>@<host>:<port>"}` (or `{node_id, host, port}`) → node_id
 * - `POST /v1/newaddress {}` → address
 * - `GET  /v1/balance` → onchain {confirmed_sat, unconfirmed_sat, reserved_sat, total_sat},
 *   lightning {local_msat, remote_msat, usable_msat, pending_open_msat}
 * - `POST /v1/openchannel {node_id, amount_sat, push_msat?, channel_type?: "anchors"|
 *   "static_remotekey", zero_conf?, private?}` → channel_id, funding_txid, funding_output_index
 * - `GET  /v1/listchannels` → channels [{channel_id, short_channel_id, peer, state, capacity_sat,
 *   local_msat, remote_msat, channel_type, active, ready, ...}]
 * - `POST /v1/invoice {amount_msat: "<n>"|"any", description?, expiry?}` → bolt11, payment_hash, ...
 * - `POST /v1/pay {bolt11, amount_msat?, max_fee_msat?}` → waits (routes over the whole graph,
 *   retrying other routes); payment_hash, status, preimage, fee_msat, ...
 * - `GET  /v1/listpayments` → payments [...]
 * - `POST /v1/closechannel {channel_id, force?}` → channel_id, closing_txid
 * - `POST /v1/decode {bolt11}` → the `farad decode` object
 * - operator routes (updatefee, disconnect, hold invoices, listinvoices, listmonitors): ./ops.ts
 * - network routes (keysend, listforwards, describegraph, queryroutes): ./network.ts
 * - with `--dev` only: `GET /v1/dev/stats`, `POST /v1/dev/paybatch` (see ./dev.ts)
 *
 * Errors: `{"error": {"code", "message"}}` with 400 (bad request / refused by the node: code
 * `INVALID_REQUEST`, `INVALID_JSON` or the node's typed error code), 401 `UNAUTHORIZED`, 404
 * (`NOT_FOUND` route, `CHANNEL_NOT_FOUND`), 502 (peer or chain backend unreachable), 503
 * `NODE_STOPPED`, 500 `INTERNAL`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { z } from 'zod';
import { DecodeError, FaradError } from '../../protocol/errors.js';
import { decodeInvoice } from '../../protocol/invoice/index.js';
import { invoiceToJson } from '../cli/decode.js';
import { formatHostPort, type HostPort } from './config.js';
import { registerDevRoutes } from './dev.js';
import { balanceJson, channelJson, infoJson, invoiceJson, paymentJson } from './json.js';
import { registerNetworkRoutes } from './network.js';
import type { FaradNode } from './node.js';
import { channelFeerate, registerOpsRoutes } from './ops.js';
import { amount, nodeId, RequestError } from './schemas.js';

const channelId = z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be a 32-byte hex channel id');

const PEER_RE = /^(0[23][0-9a-fA-F]{64})@(?:\[([^\]]+)\]|([^:@[\]]+)):(\d{1,5})$/;

const schemas = {
  connect: z.union([
    z.object({ peer: z.string().regex(PEER_RE, 'must be <node_id>@<host>:<port>') }).strict(),
    z.object({ node_id: nodeId, host: z.string().min(1), port: z.number().int().min(1).max(65535) }).strict(),
  ]),
  empty: z.object({}).strict(),
  openchannel: z
    .object({
      node_id: nodeId,
      amount_sat: amount,
      push_msat: amount.optional(),
      channel_type: z.enum(['anchors', 'static_remotekey']).optional(),
      zero_conf: z.boolean().optional(),
      private: z.boolean().optional(),
    })
    .strict(),
  invoice: z
    .object({
      amount_msat: z.union([z.literal('any'), z.null(), amount]),
      description: z.string().max(639).optional(),
      expiry: z.number().int().min(1).max(31_536_000).optional(),
    })
    .strict(),
  pay: z
    .object({
      bolt11: z.string().min(1).max(7089),
      amount_msat: amount.optional(),
      max_fee_msat: amount.optional(),
    })
    .strict(),
  closechannel: z.object({ channel_id: channelId, force: z.boolean().optional() }).strict(),
  decode: z.object({ bolt11: z.string().min(1).max(7089) }).strict(),
};

function parse<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  const r = schema.safeParse(body ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  throw new RequestError('INVALID_REQUEST', `${where}${issue?.message ?? 'invalid request'}`);
}

/** HTTP status of a typed node error. */
export function statusOf(e: FaradError): number {
  const c = e.code;
  if (e.name === 'RequestError' || e.name === 'DecodeError') return 400;
  if (c.endsWith('_NOT_FOUND')) return 404;
  if (c === 'NODE_STOPPED' || c === 'PEER_STOPPED') return 503;
  if (c.startsWith('CHAIN_') || c === 'PEER_CONNECT_FAILED' || c.startsWith('PEER_HANDSHAKE')) return 502;
  if (e.name === 'StoreError') return 500;
  return 400;
}

function sendError(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply.code(status).send({ error: { code, message } });
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** A running API server. */
export interface ApiServer {
  /** `http://host:port` */
  url: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

/** Starts the API for `node` on `addr`, requiring `token`. */
export async function startApi(node: FaradNode, addr: HostPort, token: string): Promise<ApiServer> {
  const app = Fastify({
    logger: false,
    forceCloseConnections: true,
    bodyLimit: 1 << 20,
    requestTimeout: 0,
    return503OnClosing: true,
  });
  const want = digest(`Bearer ${token}`);
  const log = node.log.child('api');

  app.addHook('onRequest', async (req, reply) => {
    const got = req.headers.authorization;
    if (typeof got !== 'string' || !timingSafeEqual(digest(got), want))
      return sendError(
        reply,
        401,
        'UNAUTHORIZED',
        'missing or wrong API token (Authorization: Bearer <token>)',
      );
  });

  app.setNotFoundHandler((req, reply) => {
    sendError(reply, 404, 'NOT_FOUND', `no route ${req.method} ${req.url}`);
  });

  app.setErrorHandler((err, req, reply) => {
    if (err instanceof FaradError) {
      const status = statusOf(err);
      if (status >= 500) log.warn('request failed', { url: req.url, code: err.code, error: err.message });
      return sendError(reply, status, err.code, err.message);
    }
    const fe = err as { statusCode?: number; code?: string; message?: string };
    if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
      const code = fe.code?.startsWith('FST_ERR_CTP') ? 'INVALID_JSON' : 'INVALID_REQUEST';
      return sendError(reply, fe.statusCode, code, fe.message ?? 'bad request');
    }
    log.error('internal error', { url: req.url, error: err instanceof Error ? err.stack : String(err) });
    return sendError(reply, 500, 'INTERNAL', err instanceof Error ? err.message : String(err));
  });

  app.get('/v1/getinfo', async () => infoJson(node.info()));

  app.post('/v1/connect', async (req) => {
    const b = parse(schemas.connect, req.body);
    let id: string;
    let host: string;
    let port: number;
    if ('peer' in b) {
      const m = PEER_RE.exec(b.peer)!;
      id = m[1]!;
      host = (m[2] ?? m[3])!;
      port = Number(m[4]);
      if (port < 1 || port > 65535) throw new RequestError('INVALID_REQUEST', 'peer: port out of range');
    } else {
      id = b.node_id;
      host = b.host;
      port = b.port;
    }
    const r = await node.connect(id.toLowerCase(), host, port);
    return { node_id: r.nodeId, address: formatHostPort({ host, port }), inbound: r.inbound };
  });

  app.post('/v1/newaddress', async (req) => {
    parse(schemas.empty, req.body);
    return { address: await node.newAddress() };
  });

  app.get('/v1/balance', async () => balanceJson(node.balance()));

  app.post('/v1/openchannel', async (req) => {
    const b = parse(schemas.openchannel, req.body);
    const r = await node.openChannel(b.node_id.toLowerCase(), b.amount_sat, {
      ...(b.push_msat !== undefined ? { pushMsat: b.push_msat } : {}),
      ...(b.channel_type ? { channelType: b.channel_type } : {}),
      ...(b.zero_conf !== undefined ? { zeroConf: b.zero_conf } : {}),
      ...(b.private !== undefined ? { private: b.private } : {}),
    });
    return {
      channel_id: r.channelId,
      funding_txid: r.fundingTxid,
      funding_output_index: r.fundingOutputIndex,
    };
  });

  app.get('/v1/listchannels', async () => ({
    channels: node
      .listChannels()
      .map((c) => ({ ...channelJson(c), feerate_per_kw: channelFeerate(node, c.channelId) })),
  }));

  app.post('/v1/invoice', async (req) => {
    const b = parse(schemas.invoice, req.body);
    const inv = await node.createInvoice({
      amountMsat: b.amount_msat === 'any' || b.amount_msat === null ? null : b.amount_msat,
      ...(b.description !== undefined ? { description: b.description } : {}),
      ...(b.expiry !== undefined ? { expiry: b.expiry } : {}),
    });
    return invoiceJson(inv);
  });

  app.post('/v1/pay', async (req) => {
    const b = parse(schemas.pay, req.body);
    return paymentJson(
      await node.pay(
        b.bolt11.trim().replace(/^lightning:/i, ''),
        b.amount_msat,
        b.max_fee_msat !== undefined ? { maxFeeMsat: b.max_fee_msat } : {},
      ),
    );
  });

  app.get('/v1/listpayments', async () => ({ payments: node.listPayments().map(paymentJson) }));

  app.post('/v1/closechannel', async (req) => {
    const b = parse(schemas.closechannel, req.body);
    const r = await node.closeChannel(b.channel_id.toLowerCase(), b.force ?? false);
    return { channel_id: b.channel_id.toLowerCase(), closing_txid: r.closingTxid ?? null };
  });

  app.post('/v1/decode', async (req) => {
    const b = parse(schemas.decode, req.body);
    try {
      return invoiceToJson(decodeInvoice(b.bolt11.trim().replace(/^lightning:/i, '')));
    } catch (e) {
      if (e instanceof DecodeError) throw new RequestError(e.code, `invalid invoice: ${e.shortMessage}`);
      throw e;
    }
  });

  if (node.config.dev) registerDevRoutes(app, node);

  registerOpsRoutes(app, node);
  registerNetworkRoutes(app, node);

  await app.listen({ host: addr.host, port: addr.port });
  const a = app.server.address();
  const port = a !== null && typeof a === 'object' ? a.port : addr.port;
  const url = `http://${formatHostPort({ host: addr.host, port })}`;
  return {
    url,
    app,
    close: () => app.close(),
  };
}
