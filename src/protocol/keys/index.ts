/** BOLT #3 keys: per-commitment key derivation and the per-commitment secret chain. */
export * from './derivation.js';
export * from './shachain.js';
