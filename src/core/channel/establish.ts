/**
 * BOLT #2 "Channel Establishment v1": `channel_type` handling, `open_channel`/`accept_channel`
 * parameter validation (every receiver MUST, and our policy MAYs), `channel_id` derivation and
 * the initial commitments (commitment number 0) both sides sign in `funding_created` /
 * `funding_signed`.
 */
import { obscuringFactor } from '../../protocol/channel/commitment.js';
import type { ChannelType } from '../../protocol/channel/scripts.js';
import { fundingScript } from '../../protocol/channel/scripts.js';
import { secp } from '../../protocol/crypto/secp256k1.js';
import { equal } from '../../protocol/encoding/bytes.js';
import {
  Feature,
  featureBitsFromBytes,
  featureBytesFromBits,
  isDefinedChannelType,
} from '../../protocol/features.js';
import { ShachainStore } from '../../protocol/keys/shachain.js';
import { p2wsh } from '../../protocol/tx/script.js';
import { reverse } from '../../protocol/tx/transaction.js';
import type { AcceptChannel, OpenChannel } from '../../protocol/wire/messages.js';
import { MIN_FEERATE_PER_KW } from './commitments.js';
import { type ChannelError, chErr } from './errors.js';
import { commitTxTotalCostSat } from './spec.js';
import type { ChannelTypeName, OpenRequest } from './state.js';
import type {
  ChannelConfig,
  ChannelParams,
  ChannelPubkeys,
  CommitmentSpec,
  Commitments,
  SideParams,
} from './types.js';

/** BOLT #2: "dust_limit_satoshis is smaller than 354 satoshis" MUST fail. */
export const MIN_DUST_LIMIT_SAT = 354n;
/** BOLT #2: `max_accepted_htlcs` above 483 MUST fail. */
export const MAX_ACCEPTED_HTLCS = 483;
/** 2^24 sat: the limit without `option_support_large_channel`. */
export const LARGE_CHANNEL_THRESHOLD_SAT = 1n << 24n;

/** The channel_type feature bits for an open request (smallest bitmap, even bits only). */
export function channelTypeBitsFor(req: { channelType: ChannelTypeName; zeroConf: boolean }): number[] {
  const bits: number[] = [Feature.option_static_remotekey];
  if (req.channelType === 'anchors_zero_fee_htlc_tx') bits.push(Feature.option_anchors);
  if (req.zeroConf) bits.push(Feature.option_zeroconf);
  return bits.sort((a, b) => a - b);
}

/** Encodes channel_type bits. */
export function encodeChannelType(bits: readonly number[]): Uint8Array {
  return featureBytesFromBits(bits);
}

/**
 * Parses and checks a received `channel_type`: a BOLT 2 defined type whose base we support
 * (static_remotekey, or anchors + static_remotekey).
 */
export function parseChannelType(
  raw: Uint8Array | undefined,
): { ok: true; channelType: ChannelType; bits: number[] } | { ok: false; error: ChannelError } {
  if (raw === undefined)
    return { ok: false, error: chErr('MISSING_CHANNEL_TYPE', 'channel_type is required') };
  let bits: number[];
  try {
    bits = [...featureBitsFromBytes(raw)].sort((a, b) => a - b);
  } catch {
    return { ok: false, error: chErr('INVALID_CHANNEL_TYPE', 'unparsable channel_type') };
  }
  if (!isDefinedChannelType(bits))
    return {
      ok: false,
      error: chErr('INVALID_CHANNEL_TYPE', 'channel_type is not a defined type', bits.join(',')),
    };
  const channelType: ChannelType = bits.includes(Feature.option_anchors)
    ? 'anchors_zero_fee_htlc_tx'
    : 'static_remotekey';
  return { ok: true, channelType, bits };
}

/** `channel_id`: funding txid (wire order) XOR the output index in the last 2 bytes. */
export function deriveChannelId(fundingTxidDisplay: Uint8Array, outputIndex: number): Uint8Array {
  const id = reverse(fundingTxidDisplay);
  id[30]! ^= (outputIndex >> 8) & 0xff;
  id[31]! ^= outputIndex & 0xff;
  return id;
}

/** The reserve we require from the peer: `ratio * funding`, at least both dust limits. */
export function reserveFor(config: ChannelConfig, fundingSat: bigint, ...dustLimits: bigint[]): bigint {
  let r = (fundingSat * BigInt(Math.round(config.reserveRatio * 1_000_000))) / 1_000_000n;
  for (const d of dustLimits) if (r < d) r = d;
  return r;
}

/** Our side's parameters. */
export function localSide(
  config: ChannelConfig,
  pubkeys: ChannelPubkeys,
  dustLimitSat: bigint,
  channelReserveSat: bigint,
): SideParams {
  return {
    ...pubkeys,
    dustLimitSat,
    maxHtlcValueInFlightMsat: config.maxHtlcValueInFlightMsat,
    channelReserveSat,
    htlcMinimumMsat: config.htlcMinimumMsat,
    toSelfDelay: config.toSelfDelay,
    maxAcceptedHtlcs: config.maxAcceptedHtlcs,
    upfrontShutdownScript: undefined,
  };
}

/** The peer's parameters from its `open_channel` or `accept_channel`. */
export function remoteSide(m: OpenChannel | AcceptChannel): SideParams {
  const up = m.upfrontShutdownScript;
  return {
    fundingPubkey: m.fundingPubkey,
    revocationBasepoint: m.revocationBasepoint,
    paymentBasepoint: m.paymentBasepoint,
    delayedPaymentBasepoint: m.delayedPaymentBasepoint,
    htlcBasepoint: m.htlcBasepoint,
    dustLimitSat: m.dustLimitSatoshis,
    maxHtlcValueInFlightMsat: m.maxHtlcValueInFlightMsat,
    channelReserveSat: m.channelReserveSatoshis,
    htlcMinimumMsat: m.htlcMinimumMsat,
    toSelfDelay: m.toSelfDelay,
    maxAcceptedHtlcs: m.maxAcceptedHtlcs,
    upfrontShutdownScript: up && up.length > 0 ? up : undefined,
  };
}

/** Checks the feerate of `open_channel` against our estimate. */
export function checkOpenFeerate(
  feeratePerKw: number,
  channelType: ChannelType,
  estimate: number,
  config: ChannelConfig,
): ChannelError | undefined {
  const low =
    channelType === 'anchors_zero_fee_htlc_tx'
      ? MIN_FEERATE_PER_KW
      : Math.max(MIN_FEERATE_PER_KW, Math.floor(estimate * config.feerateTolerance.ratioLow));
  const high = Math.max(MIN_FEERATE_PER_KW, Math.ceil(estimate * config.feerateTolerance.ratioHigh));
  if (feeratePerKw < low)
    return chErr('FEERATE_TOO_SMALL', 'feerate_per_kw too small', `${feeratePerKw} < ${low}`);
  if (feeratePerKw > high)
    return chErr('FEERATE_TOO_LARGE', 'feerate_per_kw unreasonably large', `${feeratePerKw} > ${high}`);
  return undefined;
}

/** Checks common to the peer's `open_channel` and `accept_channel` fields. */
function checkPeerParams(
  m: OpenChannel | AcceptChannel,
  config: ChannelConfig,
  fundingSat: bigint,
): ChannelError | undefined {
  if (m.toSelfDelay > config.maxToSelfDelay)
    return chErr(
      'TO_SELF_DELAY_TOO_LARGE',
      'to_self_delay unreasonably large',
      `${m.toSelfDelay} > ${config.maxToSelfDelay}`,
    );
  if (m.maxAcceptedHtlcs > MAX_ACCEPTED_HTLCS)
    return chErr(
      'MAX_ACCEPTED_HTLCS_TOO_LARGE',
      'max_accepted_htlcs greater than 483',
      `${m.maxAcceptedHtlcs}`,
    );
  if (m.dustLimitSatoshis < MIN_DUST_LIMIT_SAT)
    return chErr('DUST_LIMIT_TOO_SMALL', 'dust_limit_satoshis smaller than 354', `${m.dustLimitSatoshis}`);
  if (m.dustLimitSatoshis > config.maxDustLimitSat)
    return chErr(
      'DUST_LIMIT_TOO_LARGE',
      'dust_limit_satoshis too large',
      `${m.dustLimitSatoshis} > ${config.maxDustLimitSat}`,
    );
  if (m.htlcMinimumMsat > config.maxHtlcMinimumMsat)
    return chErr('HTLC_MINIMUM_TOO_LARGE', 'htlc_minimum_msat too large', `${m.htlcMinimumMsat}`);
  if (m.maxHtlcValueInFlightMsat < config.minMaxHtlcValueInFlightMsat)
    return chErr(
      'MAX_HTLC_VALUE_IN_FLIGHT_TOO_SMALL',
      'max_htlc_value_in_flight_msat too small',
      `${m.maxHtlcValueInFlightMsat}`,
    );
  const maxReserve = (fundingSat * BigInt(Math.round(config.maxReserveRatio * 1_000_000))) / 1_000_000n;
  if (m.channelReserveSatoshis > maxReserve)
    return chErr(
      'CHANNEL_RESERVE_TOO_HIGH',
      'channel_reserve_satoshis too large',
      `${m.channelReserveSatoshis} > ${maxReserve}`,
    );
  for (const k of [
    m.fundingPubkey,
    m.revocationBasepoint,
    m.paymentBasepoint,
    m.delayedPaymentBasepoint,
    m.htlcBasepoint,
  ]) {
    if (k.length !== 33 || !secp().isPoint(k)) return chErr('INVALID_PUBKEY', 'invalid public key');
  }
  return undefined;
}

/** The opener's and acceptor's balances on the initial commitment (msat), opener first. */
function initialBalances(fundingSat: bigint, pushMsat: bigint): { opener: bigint; acceptor: bigint } {
  return { opener: fundingSat * 1000n - pushMsat, acceptor: pushMsat };
}

/**
 * Validates a received `open_channel` (BOLT #2 "The receiving node MUST fail the channel if"),
 * returning the negotiated channel type and the parameters we answer with.
 */
export function validateOpenChannel(
  open: OpenChannel,
  config: ChannelConfig,
  feerateEstimate: number,
):
  | { ok: true; channelType: ChannelType; bits: number[]; ourDustLimitSat: bigint; ourReserveSat: bigint }
  | { ok: false; error: ChannelError } {
  const bad = (error: ChannelError) => ({ ok: false as const, error });
  if (!equal(open.chainHash, config.chainHash)) return bad(chErr('INVALID_CHAIN_HASH', 'unknown chain_hash'));
  const ct = parseChannelType(open.channelType);
  if (!ct.ok) return ct;
  const announce = (open.channelFlags & 1) === 1;
  if (announce && ct.bits.includes(Feature.option_scid_alias))
    return bad(chErr('INVALID_CHANNEL_TYPE', 'option_scid_alias on an announced channel'));
  if (ct.bits.includes(Feature.option_zeroconf) && !config.trustZeroConf)
    return bad(chErr('ZERO_CONF_NOT_TRUSTED', 'we do not trust this peer with an unconfirmed channel'));
  const f = open.fundingSatoshis;
  if (f < config.minFundingSat)
    return bad(chErr('FUNDING_TOO_SMALL', 'funding_satoshis too small', `${f} < ${config.minFundingSat}`));
  if (f > config.maxFundingSat || (f >= LARGE_CHANNEL_THRESHOLD_SAT && !config.largeChannels))
    return bad(chErr('FUNDING_TOO_LARGE', 'funding_satoshis too large', `${f}`));
  if (open.pushMsat > f * 1000n)
    return bad(chErr('PUSH_TOO_LARGE', 'push_msat greater than funding_satoshis * 1000'));
  const common = checkPeerParams(open, config, f);
  if (common) return bad(common);
  const fee = checkOpenFeerate(open.feeratePerKw, ct.channelType, feerateEstimate, config);
  if (fee) return bad(fee);
  if (open.dustLimitSatoshis > open.channelReserveSatoshis)
    return bad(
      chErr('DUST_LIMIT_ABOVE_RESERVE', 'dust_limit_satoshis greater than channel_reserve_satoshis'),
    );
  // BOLT 2: our dust limit MUST be <= their reserve; our reserve >= their dust limit.
  const ourDust =
    config.dustLimitSat < open.channelReserveSatoshis ? config.dustLimitSat : open.channelReserveSatoshis;
  const ourReserve = reserveFor(config, f, open.dustLimitSatoshis, ourDust);
  const bal = initialBalances(f, open.pushMsat);
  const spec: CommitmentSpec = {
    htlcs: [],
    feeratePerKw: open.feeratePerKw,
    toLocalMsat: bal.opener,
    toRemoteMsat: bal.acceptor,
  };
  const fees = commitTxTotalCostSat(spec, open.dustLimitSatoshis, ct.channelType);
  if (bal.opener / 1000n < fees)
    return bad(
      chErr(
        'OPENER_CANNOT_AFFORD_FEES',
        'the opener cannot pay the initial commitment fee',
        `${bal.opener / 1000n} < ${fees}`,
      ),
    );
  if (bal.opener / 1000n - fees <= ourReserve && bal.acceptor / 1000n <= open.channelReserveSatoshis)
    return bad(chErr('CHANNEL_RESERVE_NOT_MET', 'both initial balances are at or below the channel reserve'));
  return {
    ok: true,
    channelType: ct.channelType,
    bits: ct.bits,
    ourDustLimitSat: ourDust,
    ourReserveSat: ourReserve,
  };
}

/** Validates a received `accept_channel` against our `open_channel` (BOLT #2 receiver requirements). */
export function validateAcceptChannel(
  accept: AcceptChannel,
  open: OpenChannel,
  config: ChannelConfig,
): ChannelError | undefined {
  if (accept.channelType === undefined)
    return chErr('MISSING_CHANNEL_TYPE', 'accept_channel without channel_type');
  if (open.channelType === undefined || !equal(accept.channelType, open.channelType)) {
    const a = parseChannelType(accept.channelType);
    const o = parseChannelType(open.channelType);
    if (!a.ok || !o.ok || a.bits.join(',') !== o.bits.join(','))
      return chErr('CHANNEL_TYPE_MISMATCH', 'accept_channel channel_type differs from open_channel');
  }
  if (accept.minimumDepth > config.maxMinimumDepth)
    return chErr('MINIMUM_DEPTH_TOO_LARGE', 'minimum_depth unreasonably large', `${accept.minimumDepth}`);
  if (accept.channelReserveSatoshis < open.dustLimitSatoshis)
    return chErr(
      'DUST_LIMIT_ABOVE_RESERVE',
      'their channel_reserve_satoshis is below our dust_limit_satoshis',
    );
  if (open.channelReserveSatoshis < accept.dustLimitSatoshis)
    return chErr(
      'DUST_LIMIT_ABOVE_RESERVE',
      'our channel_reserve_satoshis is below their dust_limit_satoshis',
    );
  return checkPeerParams(accept, config, open.fundingSatoshis);
}

/**
 * The commitments at number 0, before either signature is exchanged. `localCommit.remoteSig` is
 * empty until `funding_signed`/`funding_created` provides it.
 */
export function initialCommitments(
  params: ChannelParams,
  pushMsat: bigint,
  feeratePerKw: number,
  remoteFirstPoint: Uint8Array,
): Commitments {
  const bal = initialBalances(params.fundingAmountSat, pushMsat);
  const local: CommitmentSpec = {
    htlcs: [],
    feeratePerKw,
    toLocalMsat: params.isOpener ? bal.opener : bal.acceptor,
    toRemoteMsat: params.isOpener ? bal.acceptor : bal.opener,
  };
  const remote: CommitmentSpec = {
    htlcs: [],
    feeratePerKw,
    toLocalMsat: local.toRemoteMsat,
    toRemoteMsat: local.toLocalMsat,
  };
  const zero = new Uint8Array(32);
  return {
    params,
    changes: {
      localProposed: [],
      localSigned: [],
      localAcked: [],
      remoteProposed: [],
      remoteAcked: [],
      remoteSigned: [],
    },
    localNextHtlcId: 0n,
    remoteNextHtlcId: 0n,
    localCommit: { index: 0, spec: local, txid: zero, remoteSig: new Uint8Array(0), htlcRemoteSigs: [] },
    remoteCommit: { index: 0, spec: remote, txid: zero, remotePerCommitmentPoint: remoteFirstPoint },
    waiting: undefined,
    remoteNextPerCommitmentPoint: undefined,
    remoteSecrets: ShachainStore.empty(),
  };
}

/** Assembles {@link ChannelParams} once the funding outpoint is known. */
export function makeParams(args: {
  isOpener: boolean;
  channelType: ChannelType;
  bits: number[];
  fundingAmountSat: bigint;
  fundingTxid: Uint8Array;
  fundingOutputIndex: number;
  local: SideParams;
  remote: SideParams;
  announce: boolean;
  config: ChannelConfig;
}): ChannelParams {
  const opener = args.isOpener ? args.local : args.remote;
  const acceptor = args.isOpener ? args.remote : args.local;
  return {
    channelId: deriveChannelId(args.fundingTxid, args.fundingOutputIndex),
    channelType: args.channelType,
    channelTypeBits: args.bits,
    isOpener: args.isOpener,
    fundingAmountSat: args.fundingAmountSat,
    fundingTxid: args.fundingTxid,
    fundingOutputIndex: args.fundingOutputIndex,
    local: args.local,
    remote: args.remote,
    obscuringFactor: obscuringFactor(opener.paymentBasepoint, acceptor.paymentBasepoint),
    announce: args.announce,
    maxDustHtlcExposureMsat: args.config.maxDustHtlcExposureMsat,
  };
}

/** The P2WSH funding output script for two funding pubkeys. */
export function fundingScriptPubKey(a: Uint8Array, b: Uint8Array): Uint8Array {
  return p2wsh(fundingScript(a, b));
}

/**
 * BOLT #2 `shutdown` `scriptpubkey` forms: P2WPKH, P2WSH, and with `option_shutdown_anysegwit`
 * a witness program v1..v16 of 2 to 40 bytes.
 */
export function isValidShutdownScript(s: Uint8Array, anySegwit: boolean): boolean {
  if (s.length === 22 && s[0] === 0x00 && s[1] === 0x14) return true;
  if (s.length === 34 && s[0] === 0x00 && s[1] === 0x20) return true;
  if (anySegwit && s.length >= 4 && s.length <= 42) {
    const v = s[0]!;
    const push = s[1]!;
    if (v >= 0x51 && v <= 0x60 && push >= 2 && push <= 40 && s.length === push + 2) return true;
  }
  return false;
}

/** Whether an open request asks for a feature set we can express. */
export function openRequestError(req: OpenRequest, config: ChannelConfig): ChannelError | undefined {
  if (req.fundingSats >= LARGE_CHANNEL_THRESHOLD_SAT && !config.largeChannels)
    return chErr('FUNDING_TOO_LARGE', 'funding >= 2^24 sat needs option_support_large_channel');
  if (req.fundingSats <= 0n) return chErr('FUNDING_TOO_SMALL', 'funding must be positive');
  if (req.pushMsat < 0n || req.pushMsat > req.fundingSats * 1000n)
    return chErr('PUSH_TOO_LARGE', 'push_msat greater than funding_satoshis * 1000');
  return undefined;
}
