/** The pure on-chain wallet core: keys (BIP39/32/84), fee maths, coin selection, signing, RBF/CPFP plans. */
export * from './build.js';
export * from './bump.js';
export * from './coinselect.js';
export * from './errors.js';
export * from './fees.js';
export * from './keys.js';
