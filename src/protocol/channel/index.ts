/** BOLT #3 channel transactions: scripts, fees, funding, commitment, HTLC and closing transactions. */
export * from './bip69.js';
export * from './closing.js';
export * from './commitment.js';
export * from './fees.js';
export * from './funding.js';
export * from './htlc-tx.js';
export * from './scripts.js';
