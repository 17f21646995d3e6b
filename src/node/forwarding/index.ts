/** HTLC forwarding with an interception point ({@link ForwardingManager}). */
export * from './manager.js';
export * from './types.js';
