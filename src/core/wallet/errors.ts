/**
 * Typed errors of the on-chain wallet (issue 3 §3). Callers branch on the class or `code`.
 */
import { FaradError, type FaradErrorOptions } from '../../protocol/errors.js';

/** Base class of wallet errors. */
export class WalletError extends FaradError {
  override name = 'WalletError';
}

/** The spendable coins cannot pay `needed` sats (outputs + fee); only `available` sats are spendable. */
export class InsufficientFundsError extends WalletError {
  override name = 'InsufficientFundsError';
  constructor(
    readonly needed: bigint,
    readonly available: bigint,
    opts: FaradErrorOptions = {},
  ) {
    super('WALLET_INSUFFICIENT_FUNDS', `insufficient funds: need ${needed} sat, have ${available} sat`, opts);
  }
}

/** An output would be below its dust threshold (Bitcoin Core `GetDustThreshold`, 3 sat/vB dust relay fee). */
export class DustOutputError extends WalletError {
  override name = 'DustOutputError';
  constructor(
    readonly value: bigint,
    readonly dustLimit: bigint,
    opts: FaradErrorOptions = {},
  ) {
    super('WALLET_DUST_OUTPUT', `output of ${value} sat is below the dust limit of ${dustLimit} sat`, opts);
  }
}

/** A requested fee rate (sat/kw) is below the minimum relay fee rate (253 sat/kw = 1 sat/vB). */
export class FeeTooLowError extends WalletError {
  override name = 'FeeTooLowError';
  constructor(
    readonly feeRate: bigint,
    readonly minFeeRate: bigint,
    opts: FaradErrorOptions = {},
  ) {
    super('WALLET_FEE_TOO_LOW', `fee rate ${feeRate} sat/kw is below the minimum ${minFeeRate} sat/kw`, opts);
  }
}

/** An address does not parse or is for another network. */
export class InvalidAddressError extends WalletError {
  override name = 'InvalidAddressError';
  constructor(
    readonly address: string,
    opts: FaradErrorOptions = {},
  ) {
    super('WALLET_INVALID_ADDRESS', 'invalid address for this network', { details: address, ...opts });
  }
}
