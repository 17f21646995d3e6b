/**
 * BOLT #7 gossip (07-routing-gossip.md), sans-IO: signatures, validation, the network graph,
 * its persistence and gossip query answers.
 */
export * from './crc32c.js';
export * from './graph.js';
export * from './query.js';
export * from './serialize.js';
export * from './signatures.js';
export * from './types.js';
