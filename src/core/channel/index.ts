/**
 * The BOLT #2 channel state machine (sans-IO): `step(state, input, ctx)` over pure
 * Commitments operations, the MonitorUpdate contract for the BOLT #5 monitor, and the
 * persistence codec of channel states.
 */
export * from './commitments.js';
export * from './errors.js';
export * from './establish.js';
export * from './fsm.js';
export * from './keys.js';
export * from './monitor-update.js';
export * from './negotiate.js';
export * from './serialize.js';
export * from './spec.js';
export * from './state.js';
export * from './types.js';
