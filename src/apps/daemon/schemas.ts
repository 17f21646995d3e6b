/** Request schemas shared by every REST route module (zod), and the 400 error they produce. */
import { z } from 'zod';
import { FaradError } from '../../protocol/errors.js';

/** A 400 for a request that does not match its schema (code `INVALID_REQUEST`). */
export class RequestError extends FaradError {
  override name = 'RequestError';
}

const MAX_U64 = (1n << 64n) - 1n;

/** A non-negative amount: decimal string (or JSON safe integer) → bigint below 2^64. */
export const amount = z
  .union([z.string().regex(/^\d{1,20}$/, 'must be a decimal integer'), z.number().int().nonnegative()])
  .transform((v, ctx) => {
    const n = BigInt(v);
    if (n > MAX_U64) {
      ctx.addIssue({ code: 'custom', message: 'too large' });
      return z.NEVER;
    }
    return n;
  });

/** A 33-byte compressed public key in hex. */
export const nodeId = z.string().regex(/^0[23][0-9a-fA-F]{64}$/, 'must be a 33-byte hex node id');

/** 32 bytes of hex (channel ids, payment hashes, preimages). */
export const hex32 = z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be 32 bytes of hex');
