/**
 * `farad decode <bolt11>`: decodes and authenticates a BOLT 11 invoice (11-payment-encoding.md,
 * plus bLIP-39 blinded paths) and prints one JSON object. On invalid input it prints a one-line
 * reason (with the DecodeError code) on stderr, nothing on stdout, and exits with status 1.
 */
import type { Command } from 'commander';
import { toHex } from '../../protocol/encoding/bytes.js';
import { DecodeError } from '../../protocol/errors.js';
import { describeFeatures } from '../../protocol/features.js';
import { type Bolt11Invoice, decodeInvoice, formatShortChannelId } from '../../protocol/invoice/index.js';

/** The JSON shape printed by `farad decode` (amounts as decimal strings, bytes as hex). */
export function invoiceToJson(inv: Bolt11Invoice): Record<string, unknown> {
  const out: Record<string, unknown> = {
    network: inv.network,
    amount_msat: inv.amountMsat === null ? null : inv.amountMsat.toString(),
    payment_hash: toHex(inv.paymentHash),
    payment_secret: inv.paymentSecret === null ? null : toHex(inv.paymentSecret),
    payee: toHex(inv.payee),
  };
  if (inv.description !== null) out.description = inv.description;
  if (inv.descriptionHash !== null) out.description_hash = toHex(inv.descriptionHash);
  Object.assign(out, {
    timestamp: inv.timestamp,
    expiry: inv.expiry,
    expires_at: inv.timestamp + inv.expiry,
    min_final_cltv_expiry_delta: inv.minFinalCltvExpiryDelta,
    route_hints: inv.routeHints.map((hops) =>
      hops.map((h) => ({
        pubkey: toHex(h.pubkey),
        short_channel_id: formatShortChannelId(h.shortChannelId),
        fee_base_msat: h.feeBaseMsat,
        fee_proportional_millionths: h.feeProportionalMillionths,
        cltv_expiry_delta: h.cltvExpiryDelta,
      })),
    ),
    features: describeFeatures(inv.features),
    fallbacks: inv.fallbacks.map((f) => ({ version: f.version, type: f.type, address: f.address })),
  });
  if (inv.metadata !== null) out.metadata = toHex(inv.metadata);
  if (inv.blindedPaths.length > 0) {
    out.blinded_paths = inv.blindedPaths.map((p) => ({
      fee_base_msat: p.feeBaseMsat,
      fee_proportional_millionths: p.feeProportionalMillionths,
      cltv_expiry_delta: p.cltvExpiryDelta,
      htlc_minimum_msat: p.htlcMinimumMsat.toString(),
      htlc_maximum_msat: p.htlcMaximumMsat.toString(),
      features: toHex(p.features),
      first_ephemeral_blinding_point: toHex(p.firstEphemeralBlindingPoint),
      hops: p.hops.map((h) => ({
        blinded_node_id: toHex(h.blindedNodeId),
        encrypted_data: toHex(h.encryptedData),
      })),
    }));
  }
  return out;
}

/** Registers `decode <bolt11>` on the `farad` program. Accepts an optional `lightning:` URI prefix. */
export function registerDecode(program: Command): void {
  program
    .command('decode')
    .description('decode and verify a BOLT 11 invoice; prints one JSON object')
    .argument('<bolt11>', 'the invoice (optionally prefixed with "lightning:")')
    .action((arg: string) => {
      const text = arg.trim().replace(/^lightning:/i, '');
      let inv: Bolt11Invoice;
      try {
        inv = decodeInvoice(text);
      } catch (e) {
        if (!(e instanceof DecodeError)) throw e;
        process.stderr.write(`invalid invoice: ${e.shortMessage} [${e.code}]\n`);
        process.exitCode = 1;
        return;
      }
      process.stdout.write(`${JSON.stringify(invoiceToJson(inv), null, 2)}\n`);
    });
}
