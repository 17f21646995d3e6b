/** Direct-peer payments: BOLT 11 invoices and single-hop BOLT 4 payments ({@link PaymentManager}). */
export * from './manager.js';
