/**
 * BOLT #4 onion routing (04-onion-routing.md): Sphinx packets, payment payloads, per-hop
 * processing, failure messages and returned errors, route blinding and onion messages.
 */
export * from './blinding.js';
export * from './errors.js';
export * from './failure.js';
export * from './keys.js';
export * from './message.js';
export * from './payload.js';
export * from './peel.js';
export * from './sphinx.js';
