/**
 * BOLT #11 (11-payment-encoding.md) invoices and the bLIP-39 blinded-path field: decode
 * ({@link decodeInvoice}), parse without the signature ({@link parseInvoice}), encode and sign
 * ({@link encodeInvoice}), plus the bech32, human-readable-part and fallback-address helpers.
 */
export * from './address.js';
export * from './bech32.js';
export * from './bolt11.js';
export * from './hrp.js';
