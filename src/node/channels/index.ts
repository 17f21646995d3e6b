/** The channel runtime: {@link ChannelManager}, its ports and the durable node event queue. */
export * from './codec.js';
export * from './events.js';
export * from './manager.js';
export * from './types.js';
