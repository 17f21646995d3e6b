/**
 * Operator commands of `farad` over the REST API (routes in src/apps/daemon/ops.ts):
 *
 * - `updatefee <channel_id> <feerate_per_kw>` → channel_id, feerate_per_kw (opener only)
 * - `disconnect <node_id>` → node_id, disconnected (and stop reconnecting)
 * - `holdinvoice <payment_hash> <amount_msat|any> [--description D] [--expiry SECONDS]` → the
 *   invoice; its HTLCs are held until `settleinvoice` or `cancelinvoice`
 * - `settleinvoice <preimage>` → the invoice (`paid`)
 * - `cancelinvoice <payment_hash>` → the invoice (`canceled`)
 * - `listinvoices` → invoices [...]
 * - `listmonitors` → the BOLT 5 chain monitors with the transactions they published
 *
 * Same access options and output conventions as ./node-commands.ts.
 */
import type { Command } from 'commander';
import { type AccessOptions, callApi, intOrRaw, resolveAccess, withAccess } from './client.js';
import { action, printJson } from './output.js';

/** Registers the operator commands on the `farad` program. */
export function registerOpsCommands(program: Command): void {
  withAccess(
    program
      .command('updatefee')
      .description('change the commitment feerate of a channel we opened (update_fee)')
      .argument('<channel_id>', 'the channel id (hex)')
      .argument('<feerate_per_kw>', 'new feerate in sat per 1000 weight units'),
  ).action(
    action(async (channelId: string, feerate: string, o: AccessOptions) => {
      printJson(
        await callApi(resolveAccess(o), 'POST', '/v1/updatefee', {
          channel_id: channelId,
          feerate_per_kw: intOrRaw(feerate),
        }),
      );
    }),
  );

  withAccess(
    program
      .command('disconnect')
      .description('disconnect a peer and stop reconnecting to it')
      .argument('<node_id>', 'the peer'),
  ).action(
    action(async (nodeId: string, o: AccessOptions) => {
      printJson(await callApi(resolveAccess(o), 'POST', '/v1/disconnect', { node_id: nodeId }));
    }),
  );

  withAccess(
    program
      .command('holdinvoice')
      .description('create a hold invoice: its HTLCs wait for settleinvoice/cancelinvoice')
      .argument('<payment_hash>', 'the payment hash (hex)')
      .argument('<amount_msat>', 'amount in millisatoshis, or "any"')
      .option('--description <text>', 'description')
      .option('--expiry <seconds>', 'expiry in seconds (default 3600)'),
  ).action(
    action(
      async (hash: string, amount: string, o: AccessOptions & { description?: string; expiry?: string }) => {
        printJson(
          await callApi(resolveAccess(o), 'POST', '/v1/holdinvoice', {
            payment_hash: hash,
            amount_msat: amount,
            ...(o.description !== undefined ? { description: o.description } : {}),
            ...(o.expiry !== undefined ? { expiry: intOrRaw(o.expiry) } : {}),
          }),
        );
      },
    ),
  );

  withAccess(
    program
      .command('settleinvoice')
      .description('settle an accepted hold invoice with its preimage')
      .argument('<preimage>', 'the preimage (hex)'),
  ).action(
    action(async (preimage: string, o: AccessOptions) => {
      printJson(await callApi(resolveAccess(o), 'POST', '/v1/settleinvoice', { preimage }));
    }),
  );

  withAccess(
    program
      .command('cancelinvoice')
      .description('cancel an invoice (held HTLCs fail back)')
      .argument('<payment_hash>', 'the payment hash (hex)'),
  ).action(
    action(async (hash: string, o: AccessOptions) => {
      printJson(await callApi(resolveAccess(o), 'POST', '/v1/cancelinvoice', { payment_hash: hash }));
    }),
  );

  withAccess(program.command('listinvoices').description('every invoice with its status')).action(
    action(async (o: AccessOptions) => {
      printJson(await callApi(resolveAccess(o), 'GET', '/v1/listinvoices'));
    }),
  );

  withAccess(
    program.command('listmonitors').description('the on-chain (BOLT 5) monitors and what they published'),
  ).action(
    action(async (o: AccessOptions) => {
      printJson(await callApi(resolveAccess(o), 'GET', '/v1/listmonitors'));
    }),
  );
}
