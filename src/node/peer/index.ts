/**
 * The peer layer: BOLT 8 connections over the transport port, BOLT 1 `init`/`ping`/`pong`,
 * message routing, back-pressure and reconnection ({@link PeerManager}).
 */
export * from './backoff.js';
export { printable } from './connection.js';
export * from './init.js';
export * from './manager.js';
export * from './types.js';
