/**
 * Network commands of `farad` over the REST API (routes in src/apps/daemon/network.ts, issue 6):
 *
 * - `keysend <node_id> <amount_msat> [--max-fee-msat N]` → waits; the payment (exit 1 if failed)
 * - `listforwards` → forwards [{in_channel_id, out_channel_id, in_amount_msat, out_amount_msat,
 *   fee_msat, status, ...}], fees_earned_msat
 * - `describegraph` → nodes [...], channels [...] (the gossip graph, with both directions' policies)
 * - `queryroutes <node_id> <amount_msat> [--final-cltv-delta N] [--max-fee-msat N]` → route
 *   {hops [{node_id, short_channel_id, amount_msat, expiry_delta, fee_msat}], fee_msat, ...}
 *
 * Same access options and output conventions as ./node-commands.ts.
 */
import type { Command } from 'commander';
import { type AccessOptions, callApi, intOrRaw, resolveAccess, withAccess } from './client.js';
import { action, CliError, printJson } from './output.js';

/** Registers the network commands on the `farad` program. */
export function registerNetworkCommands(program: Command): void {
  withAccess(
    program
      .command('keysend')
      .description('send to a node without an invoice (bLIP-3 keysend); waits for the outcome')
      .argument('<node_id>', 'the payee')
      .argument('<amount_msat>', 'amount in millisatoshis')
      .option('--max-fee-msat <msat>', 'total routing fee limit (default 5% + 1000 msat)'),
  ).action(
    action(async (nodeId: string, amount: string, o: AccessOptions & { maxFeeMsat?: string }) => {
      const r = await callApi(resolveAccess(o), 'POST', '/v1/keysend', {
        node_id: nodeId,
        amount_msat: amount,
        ...(o.maxFeeMsat !== undefined ? { max_fee_msat: o.maxFeeMsat } : {}),
      });
      printJson(r);
      if (r.status !== 'succeeded') {
        const reason = typeof r.failure_reason === 'string' ? r.failure_reason : String(r.status);
        throw new CliError('PAYMENT_FAILED', `payment ${String(r.status)}: ${reason}`);
      }
    }),
  );

  withAccess(
    program.command('listforwards').description('HTLCs forwarded through this node, with their fees'),
  ).action(
    action(async (o: AccessOptions) => {
      printJson(await callApi(resolveAccess(o), 'GET', '/v1/listforwards'));
    }),
  );

  withAccess(
    program.command('describegraph').description('the network graph learnt from gossip (nodes and channels)'),
  ).action(
    action(async (o: AccessOptions) => {
      printJson(await callApi(resolveAccess(o), 'GET', '/v1/describegraph'));
    }),
  );

  withAccess(
    program
      .command('queryroutes')
      .description('the route a payment to a node would take now, hop by hop')
      .argument('<node_id>', 'the destination')
      .argument('<amount_msat>', 'amount delivered, in millisatoshis')
      .option('--final-cltv-delta <blocks>', "the payee's min_final_cltv_expiry_delta (default 18)")
      .option('--max-fee-msat <msat>', 'total fee limit'),
  ).action(
    action(
      async (
        nodeId: string,
        amount: string,
        o: AccessOptions & { finalCltvDelta?: string; maxFeeMsat?: string },
      ) => {
        printJson(
          await callApi(resolveAccess(o), 'POST', '/v1/queryroutes', {
            node_id: nodeId,
            amount_msat: amount,
            ...(o.finalCltvDelta !== undefined ? { final_cltv_delta: intOrRaw(o.finalCltvDelta) } : {}),
            ...(o.maxFeeMsat !== undefined ? { max_fee_msat: o.maxFeeMsat } : {}),
          }),
        );
      },
    ),
  );
}
