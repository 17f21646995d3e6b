/**
 * Typed errors shared by every layer (viem-style base error).
 *
 * Every error Farad raises on bad input is a {@link FaradError} subclass with a stable
 * `code`, a one-line `shortMessage` and optional `details`/`cause`. Callers branch on
 * `name`/`code`, never on message text.
 */

export interface FaradErrorOptions {
  /** Extra context (offending value, limits) kept out of the short message. */
  details?: string;
  /** The underlying error, if any. */
  cause?: unknown;
}

/** Base class of every Farad error. */
export class FaradError extends Error {
  override name = 'FaradError';
  /** Stable machine-readable code, e.g. `DECODE_SHORT_READ`. */
  readonly code: string;
  /** One-line human-readable message, without details. */
  readonly shortMessage: string;
  readonly details: string | undefined;

  constructor(code: string, shortMessage: string, opts: FaradErrorOptions = {}) {
    super(opts.details ? `${shortMessage} (${opts.details})` : shortMessage, { cause: opts.cause });
    this.code = code;
    this.shortMessage = shortMessage;
    this.details = opts.details;
  }

  /** Walks the `cause` chain and returns the deepest error (or the first matching `fn`). */
  walk(fn?: (err: unknown) => boolean): unknown {
    let cur: unknown = this;
    for (;;) {
      if (fn?.(cur)) return cur;
      const next = cur instanceof Error ? cur.cause : undefined;
      if (next === undefined) return fn ? undefined : cur;
      cur = next;
    }
  }
}

/**
 * Raised by every decoder in `protocol` on malformed input. Decoders MUST NOT throw
 * anything else for any byte string (property-tested).
 */
export class DecodeError extends FaradError {
  override name = 'DecodeError';
}

/** Raised when a caller passes an invalid argument to a protocol function (a programming error). */
export class InvalidArgumentError extends FaradError {
  override name = 'InvalidArgumentError';
  constructor(shortMessage: string, opts: FaradErrorOptions = {}) {
    super('INVALID_ARGUMENT', shortMessage, opts);
  }
}

/**
 * Runs `fn` and converts any non-{@link DecodeError} exception into a DecodeError with `code`.
 * Use at decoder boundaries that call third-party parsers which throw plain Errors.
 */
export function asDecodeError<T>(code: string, message: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof DecodeError) throw e;
    throw new DecodeError(code, message, { details: e instanceof Error ? e.message : String(e), cause: e });
  }
}
