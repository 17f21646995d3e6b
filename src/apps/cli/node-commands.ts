/**
 * The `farad` commands that drive a running node through its REST API (issue 4 §4 contract):
 *
 * - `getinfo` → node_id, network, block_height, num_peers, num_channels, ...
 * - `connect <node_id>@<host>:<port>`
 * - `newaddress` → address
 * - `balance` → onchain {..._sat}, lightning {..._msat}
 * - `openchannel <node_id> <sats> [--push-msat N] [--channel-type anchors|static_remotekey]
 *    [--zero-conf] [--private]` → channel_id, funding_txid, funding_output_index
 * - `listchannels` → channels [{channel_id, short_channel_id, peer, state, capacity_sat,
 *    local_msat, remote_msat, channel_type, ...}]
 * - `invoice <amount_msat|any> [--description D] [--expiry SECONDS]` → bolt11, payment_hash, ...
 * - `pay <bolt11> [--amount-msat N] [--max-fee-msat N]` → waits; status, preimage, fee_msat, ...
 *   (exit 1 if failed)
 * - `listpayments` → payments [...]
 * - `closechannel <channel_id> [--force]` → channel_id, closing_txid
 *
 * Each takes `--data-dir DIR` or `--api URL --token T`, prints JSON on stdout, and on failure a
 * one-line `{"error":{"code","message"}}` on stderr with exit status 1 (2 for bad usage).
 * Argument values are passed to the API as given; the API validates them (typed 400 errors).
 */
import type { Command } from 'commander';
import { type AccessOptions, callApi, intOrRaw, resolveAccess, withAccess } from './client.js';
import { action, CliError, printJson } from './output.js';

/** Registers the node commands on the `farad` program. */
export function registerNodeCommands(program: Command): void {
  withAccess(
    program.command('getinfo').description('node id, network, chain height, peers, channels'),
  ).action(
    action(async (o: AccessOptions) => {
      printJson(await callApi(resolveAccess(o), 'GET', '/v1/getinfo'));
    }),
  );

  withAccess(
    program
      .command('connect')
      .description('connect to a peer (kept connected, also across restarts)')
      .argument('<peer>', '<node_id>@<host>:<port>'),
  ).action(
    action(async (peer: string, o: AccessOptions) => {
      printJson(await callApi(resolveAccess(o), 'POST', '/v1/connect', { peer }));
    }),
  );

  withAccess(program.command('newaddress').description('a fresh on-chain receive address')).action(
    action(async (o: AccessOptions) => {
      printJson(await callApi(resolveAccess(o), 'POST', '/v1/newaddress', {}));
    }),
  );

  withAccess(program.command('balance').description('on-chain and Lightning balances')).action(
    action(async (o: AccessOptions) => {
      printJson(await callApi(resolveAccess(o), 'GET', '/v1/balance'));
    }),
  );

  withAccess(
    program
      .command('openchannel')
      .description('open a channel to a connected peer, funded from the on-chain wallet')
      .argument('<node_id>', 'the peer')
      .argument('<sats>', 'channel capacity in satoshis')
      .option('--push-msat <msat>', 'amount given to the peer at opening')
      .option('--channel-type <type>', 'anchors or static_remotekey (default anchors)')
      .option('--zero-conf', 'usable before the funding confirms (the peer must trust us)')
      .option('--private', 'do not announce the channel'),
  ).action(
    action(
      async (
        nodeId: string,
        sats: string,
        o: AccessOptions & { pushMsat?: string; channelType?: string; zeroConf?: boolean; private?: boolean },
      ) => {
        printJson(
          await callApi(resolveAccess(o), 'POST', '/v1/openchannel', {
            node_id: nodeId,
            amount_sat: sats,
            ...(o.pushMsat !== undefined ? { push_msat: o.pushMsat } : {}),
            ...(o.channelType !== undefined ? { channel_type: o.channelType } : {}),
            ...(o.zeroConf ? { zero_conf: true } : {}),
            ...(o.private ? { private: true } : {}),
          }),
        );
      },
    ),
  );

  withAccess(program.command('listchannels').description('every channel with its state and balances')).action(
    action(async (o: AccessOptions) => {
      printJson(await callApi(resolveAccess(o), 'GET', '/v1/listchannels'));
    }),
  );

  withAccess(
    program
      .command('invoice')
      .description('create a BOLT 11 invoice')
      .argument('<amount_msat>', 'amount in millisatoshis, or "any"')
      .option('--description <text>', 'description')
      .option('--expiry <seconds>', 'expiry in seconds (default 3600)'),
  ).action(
    action(async (amount: string, o: AccessOptions & { description?: string; expiry?: string }) => {
      printJson(
        await callApi(resolveAccess(o), 'POST', '/v1/invoice', {
          amount_msat: amount,
          ...(o.description !== undefined ? { description: o.description } : {}),
          ...(o.expiry !== undefined ? { expiry: intOrRaw(o.expiry) } : {}),
        }),
      );
    }),
  );

  withAccess(
    program
      .command('pay')
      .description('pay a BOLT 11 invoice over any route (retrying others on failure); waits for the outcome')
      .argument('<bolt11>', 'the invoice')
      .option('--amount-msat <msat>', 'amount for an invoice without one (or to overpay)')
      .option('--max-fee-msat <msat>', 'total routing fee limit (default 5% + 1000 msat)'),
  ).action(
    action(async (bolt11: string, o: AccessOptions & { amountMsat?: string; maxFeeMsat?: string }) => {
      const r = await callApi(resolveAccess(o), 'POST', '/v1/pay', {
        bolt11,
        ...(o.amountMsat !== undefined ? { amount_msat: o.amountMsat } : {}),
        ...(o.maxFeeMsat !== undefined ? { max_fee_msat: o.maxFeeMsat } : {}),
      });
      printJson(r);
      if (r.status !== 'succeeded') {
        const reason = typeof r.failure_reason === 'string' ? r.failure_reason : String(r.status);
        throw new CliError('PAYMENT_FAILED', `payment ${String(r.status)}: ${reason}`);
      }
    }),
  );

  withAccess(program.command('listpayments').description('every payment, sent and received')).action(
    action(async (o: AccessOptions) => {
      printJson(await callApi(resolveAccess(o), 'GET', '/v1/listpayments'));
    }),
  );

  withAccess(
    program
      .command('closechannel')
      .description('close a channel cooperatively, or unilaterally with --force')
      .argument('<channel_id>', 'the channel id (hex)')
      .option('--force', 'publish our latest commitment (unilateral close)'),
  ).action(
    action(async (channelId: string, o: AccessOptions & { force?: boolean }) => {
      printJson(
        await callApi(resolveAccess(o), 'POST', '/v1/closechannel', {
          channel_id: channelId,
          ...(o.force ? { force: true } : {}),
        }),
      );
    }),
  );
}
