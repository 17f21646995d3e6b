/** The gossip runtime (BOLT 7): {@link GossipManager}, its ports and the funding-output lookup. */
export * from './funding.js';
export * from './manager.js';
export * from './types.js';
