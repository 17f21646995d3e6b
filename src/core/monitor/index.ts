/**
 * The per-channel BOLT #5 on-chain monitor (sans-IO): `monitorStep(state, input, ctx)` over the
 * channel's MonitorUpdates and the chain, the claim builders/signers, and the state codec.
 */
export * from './analyze.js';
export * from './claims.js';
export * from './monitor.js';
export * from './serialize.js';
export * from './types.js';
