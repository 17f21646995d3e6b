/** Payments over the network: BOLT 11 invoices (hold invoices), routed and multi-part payments, keysend, probes ({@link PaymentManager}). */
export * from './forwarder.js';
export * from './manager.js';
export * from './routing.js';
