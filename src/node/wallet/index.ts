/** The on-chain wallet runtime. */
export * from './wallet.js';
