/**
 * BOLT #8 (08-transport.md): encrypted and authenticated transport, sans-IO.
 * Handshake ({@link initiatorStart}, {@link initiatorAct2}, {@link responderAct1},
 * {@link responderAct3}) and the post-handshake {@link NoiseTransport}.
 */
export * from './cipher.js';
export * from './handshake.js';
export * from './transport.js';
