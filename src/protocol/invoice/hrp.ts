/**
 * BOLT #11 § "Human-Readable Part": `ln` + currency prefix + optional amount with multiplier.
 *
 * Errors ({@link DecodeError}): `BOLT11_UNKNOWN_PREFIX`, `BOLT11_INVALID_MULTIPLIER` (the amount is
 * followed by anything but `m`/`u`/`n`/`p`, or contains a non-digit), `BOLT11_INVALID_AMOUNT`
 * (zero, or too large), `BOLT11_SUB_MILLISATOSHI_PRECISION` (`p` amount
 * whose last decimal is not 0).
 */
import { DecodeError, InvalidArgumentError } from '../errors.js';

/** Networks a BOLT 11 prefix can name. */
export type Bolt11Network = 'bitcoin' | 'testnet' | 'signet' | 'regtest';

/** BIP-173 currency prefix per network (BOLT 11: `lnbc`, `lntb`, `lntbs`, `lnbcrt`). */
export const BOLT11_CURRENCY_PREFIX: Readonly<Record<Bolt11Network, string>> = {
  bitcoin: 'bc',
  testnet: 'tb',
  signet: 'tbs',
  regtest: 'bcrt',
};

// Longest prefixes first so that `bcrt` wins over `bc` and `tbs` over `tb`.
const PREFIXES: Array<[string, Bolt11Network]> = [
  ['bcrt', 'regtest'],
  ['tbs', 'signet'],
  ['bc', 'bitcoin'],
  ['tb', 'testnet'],
];

/** msat per unit of each multiplier, times 10 (so that `p`, a tenth of a msat, is an integer). */
const TENTHS_MSAT_PER_UNIT: Record<string, bigint> = {
  '': 1_000_000_000_000n, // 1 BTC = 10^11 msat
  m: 1_000_000_000n,
  u: 1_000_000n,
  n: 1_000n,
  p: 1n,
};

/** Largest amount we accept: 21 million BTC in msat (anything above cannot be paid). */
export const BOLT11_MAX_AMOUNT_MSAT = 21_000_000n * 100_000_000_000n;

/** A parsed human-readable part. */
export interface ParsedHrp {
  network: Bolt11Network;
  /** Requested amount in millisatoshi, or null when the invoice leaves it open. */
  amountMsat: bigint | null;
}

/** Parses a lowercase BOLT 11 human-readable part (e.g. `lnbc2500u`). */
export function parseHrp(hrp: string): ParsedHrp {
  if (!hrp.startsWith('ln'))
    throw new DecodeError('BOLT11_UNKNOWN_PREFIX', 'invoice prefix does not start with "ln"', {
      details: hrp,
    });
  let network: Bolt11Network | undefined;
  let rest = '';
  for (const [p, net] of PREFIXES) {
    if (hrp.startsWith(p, 2)) {
      network = net;
      rest = hrp.slice(2 + p.length);
      break;
    }
  }
  // BOLT #11: "if it does NOT understand the `prefix`: MUST fail the payment."
  if (network === undefined || (rest.length > 0 && !isDigit(rest.charCodeAt(0))))
    throw new DecodeError('BOLT11_UNKNOWN_PREFIX', 'unknown invoice currency prefix', { details: hrp });
  if (rest.length === 0) return { network, amountMsat: null };

  let digitsEnd = 0;
  while (digitsEnd < rest.length && isDigit(rest.charCodeAt(digitsEnd))) digitsEnd++;
  const multiplier = rest.slice(digitsEnd);
  const tenths = TENTHS_MSAT_PER_UNIT[multiplier];
  // BOLT #11: "if `amount` contains a non-digit OR is followed by anything except a `multiplier`: MUST fail the payment."
  if (tenths === undefined)
    throw new DecodeError('BOLT11_INVALID_MULTIPLIER', 'invalid amount multiplier', { details: hrp });
  if (digitsEnd > 30) throw new DecodeError('BOLT11_INVALID_AMOUNT', 'amount is too large', { details: hrp });
  const amount = BigInt(rest.slice(0, digitsEnd));
  // BOLT #11: "if multiplier is `p` and the last decimal of `amount` is not 0: MUST fail the payment."
  if (multiplier === 'p' && amount % 10n !== 0n)
    throw new DecodeError('BOLT11_SUB_MILLISATOSHI_PRECISION', 'pico-bitcoin amount is not a whole msat', {
      details: hrp,
    });
  // BOLT #11: a writer "MUST encode `amount` as a positive decimal integer"; a zero amount would be
  // easy to confuse with "no amount", so it is rejected.
  if (amount === 0n) throw new DecodeError('BOLT11_INVALID_AMOUNT', 'amount is zero', { details: hrp });
  const amountMsat = (amount * tenths) / 10n;
  if (amountMsat > BOLT11_MAX_AMOUNT_MSAT)
    throw new DecodeError('BOLT11_INVALID_AMOUNT', 'amount exceeds 21 million BTC', { details: hrp });
  return { network, amountMsat };
}

/**
 * Formats the human-readable part. The amount uses the largest multiplier that represents it
 * exactly (BOLT 11 writer: "SHOULD use the shortest representation possible"). `amountMsat` must be
 * positive (a writer "MUST encode `amount` as a positive decimal integer").
 */
export function formatHrp(network: Bolt11Network, amountMsat: bigint | null): string {
  const prefix = `ln${BOLT11_CURRENCY_PREFIX[network]}`;
  if (amountMsat === null) return prefix;
  if (amountMsat <= 0n || amountMsat > BOLT11_MAX_AMOUNT_MSAT)
    throw new InvalidArgumentError('invoice amount must be positive and at most 21M BTC');
  const tenths = amountMsat * 10n;
  for (const m of ['', 'm', 'u', 'n', 'p']) {
    const unit = TENTHS_MSAT_PER_UNIT[m]!;
    if (tenths % unit === 0n) return `${prefix}${tenths / unit}${m}`;
  }
  /* c8 ignore next */
  throw new InvalidArgumentError('unreachable: p always divides');
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
