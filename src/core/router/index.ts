/**
 * Pathfinding and payment helpers (sans-IO): the router over the BOLT #7 graph, the
 * liquidity-learning scorer, MPP splitting, the retry policy and onion payload building.
 */
export * from './find-route.js';
export * from './heap.js';
export * from './mpp.js';
export * from './payloads.js';
export * from './retry.js';
export * from './scorer.js';
export * from './types.js';
