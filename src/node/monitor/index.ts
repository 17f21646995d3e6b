/** The BOLT #5 chain monitor runtime (one sans-IO monitor per channel, fed by the chain tracker). */
export * from './manager.js';
