/**
 * Lightning wire layer: BOLT 1 framing and TLV codecs, BOLT 1/2/7 messages, BOLT 7 address
 * descriptors and short_channel_id helpers.
 */
export * from './address.js';
export * from './codec.js';
export * from './messages.js';
export * from './scid.js';
