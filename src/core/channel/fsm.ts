/**
 * The BOLT #2 channel state machine (02-peer-protocol.md), sans-IO: `step(state, input, ctx)`
 * returns the next state and the effects the runtime must execute, in order (see ./state.ts for
 * the ordering contract). A thin layer over the pure operations of ./commitments.ts.
 *
 * Covered: establishment v1 (opener and acceptor, zero-conf with SCID alias), normal operation
 * with automatic re-signing (after a revocation or a commitment with pending changes), update_fee,
 * shutdown and legacy `closing_signed` negotiation with `fee_range`, `channel_reestablish` with
 * data-loss protection, `error`/`warning`, HTLC timeouts and force close.
 */

import { verifyCommitmentSig } from '../../protocol/channel/commitment.js';
import { fundingScript } from '../../protocol/channel/scripts.js';
import { equal, utf8 } from '../../protocol/encoding/bytes.js';
import { Feature } from '../../protocol/features.js';
import { txid as txidOf } from '../../protocol/tx/transaction.js';
import type {
  ChannelReestablish,
  ClosingSigned,
  ErrorMessage,
  KnownMessage,
  OpenChannel,
  Shutdown,
} from '../../protocol/wire/messages.js';
import {
  type CommitmentsEnv,
  discardUnsignedUpdates,
  incomingCrossSigned,
  incomingHtlcWithinDustExposure,
  isQuiescentAndEmpty,
  latestRemoteCommit,
  localCommitmentUpdate,
  localHasChanges,
  receiveAdd,
  receiveCommit,
  receiveFail,
  receiveFee,
  receiveFulfill,
  receiveRevocation,
  remoteCommitmentUpdate,
  sendAdd,
  sendCommit,
  sendFail,
  sendFailMalformed,
  sendFee,
  sendFulfill,
  sendRevocation,
  signedLocalCommitTx,
  signRemoteCommit,
} from './commitments.js';
import { type ChannelError, chErr } from './errors.js';
import {
  channelTypeBitsFor,
  encodeChannelType,
  fundingScriptPubKey,
  initialCommitments,
  isValidShutdownScript,
  localSide,
  makeParams,
  openRequestError,
  parseChannelType,
  remoteSide,
  reserveFor,
  validateAcceptChannel,
  validateOpenChannel,
} from './establish.js';
import { buildLocalCommitTx, channelPubkeys, localPoint, localSecret } from './keys.js';
import type { MonitorUpdate } from './monitor-update.js';
import {
  finalizeMutualClose,
  makeClosingSigned,
  ourFeeRange,
  preferredFee,
  verifyPeerClosing,
} from './negotiate.js';
import { commitTxTotalCostSat } from './spec.js';
import type {
  ChannelCommand,
  ChannelEffect,
  ChannelInput,
  ChannelState,
  CloseFeerates,
  CloseType,
  FundedData,
  Negotiation,
  OnlineFundedState,
  PendingSettlement,
  PreFundingState,
  StepContext,
  StepResult,
} from './state.js';
import type { ChannelConfig, Commitments } from './types.js';

const ZERO32 = new Uint8Array(32);

/** Collects effects in contract order: pre, monitor updates, persist, I/O, notifications. */
class Fx {
  readonly pre: ChannelEffect[] = [];
  readonly monitor: MonitorUpdate[] = [];
  persist = false;
  readonly io: ChannelEffect[] = [];
  readonly post: ChannelEffect[] = [];
  send(msg: KnownMessage): void {
    this.io.push({ type: 'SendMessage', msg });
  }
  done(state: ChannelState): StepResult {
    const effects: ChannelEffect[] = [...this.pre];
    for (const update of this.monitor) effects.push({ type: 'MonitorUpdate', update });
    if (this.persist) effects.push({ type: 'PersistChannel', state });
    effects.push(...this.io, ...this.post);
    return { state, effects };
  }
}

function isCommand(input: ChannelInput): input is ChannelCommand {
  return input.type.startsWith('Cmd');
}

function rejected(
  state: ChannelState,
  command: ChannelCommand['type'] | 'FundingTxBuilt',
  error: ChannelError,
): StepResult {
  return { state, effects: [{ type: 'CommandRejected', command, error }] };
}

function env(d: FundedData, ctx: StepContext): CommitmentsEnv {
  return {
    keys: ctx.keys,
    blockHeight: ctx.blockHeight,
    feeratePerKw: ctx.feeratePerKw,
    feerateTolerance: d.config.feerateTolerance,
    maxExpiryDelta: d.config.maxExpiryDelta,
  };
}

function errorMessage(channelId: Uint8Array, e: ChannelError): ErrorMessage {
  return { type: 'error', channelId, data: utf8(`${e.code}: ${e.message}`) };
}

/** Advances the channel by one input. Pure: `state` is never mutated. */
export function step(state: ChannelState, input: ChannelInput, ctx: StepContext): StepResult {
  switch (state.kind) {
    case 'WaitForOpenChannel':
    case 'WaitForAcceptChannel':
    case 'WaitForFundingTx':
    case 'WaitForFundingCreated':
    case 'WaitForFundingSigned':
      return stepPreFunding(state, input, ctx);
    case 'WaitForFundingConfirmed':
    case 'WaitForChannelReady':
    case 'Normal':
    case 'Shutdown':
    case 'Negotiating':
      return stepOnline(state, input, ctx);
    case 'Offline':
      return stepOffline(state, input, ctx);
    case 'Closing':
      return stepClosing(state, input);
    case 'Closed':
      if (isCommand(input))
        return rejected(state, input.type, chErr('CHANNEL_UNAVAILABLE', 'channel is closed'));
      return { state, effects: [] };
  }
}

// =================================================================================================
// Establishment

function abort(
  state: PreFundingState,
  reason: ChannelError,
  opts: { sendError: Uint8Array | undefined; violation: boolean },
): StepResult {
  const effects: ChannelEffect[] = [];
  if (opts.violation) effects.push({ type: 'ProtocolViolation', error: reason });
  if (opts.sendError) effects.push({ type: 'SendMessage', msg: errorMessage(opts.sendError, reason) });
  const channelId = state.kind === 'WaitForFundingSigned' ? state.commitments.params.channelId : undefined;
  effects.push({ type: 'ChannelClosed', channelId, closeType: 'aborted', reason: reason.message });
  return { state: { kind: 'Closed', channelId, closeType: 'aborted' }, effects };
}

function tempId(state: PreFundingState): Uint8Array | undefined {
  switch (state.kind) {
    case 'WaitForOpenChannel':
      return undefined;
    case 'WaitForAcceptChannel':
    case 'WaitForFundingTx':
    case 'WaitForFundingCreated':
      return state.open.temporaryChannelId;
    case 'WaitForFundingSigned':
      return state.temporaryChannelId;
  }
}

function stepPreFunding(state: PreFundingState, input: ChannelInput, ctx: StepContext): StepResult {
  // Common: a disconnect, an error or a force close before funding simply forgets the channel.
  if (input.type === 'Disconnected')
    return abort(state, chErr('CHANNEL_UNAVAILABLE', 'disconnected before funding'), {
      sendError: undefined,
      violation: false,
    });
  if (input.type === 'error')
    return abort(state, chErr('PEER_SENT_ERROR', 'peer sent error'), {
      sendError: undefined,
      violation: false,
    });
  if (input.type === 'CmdForceClose')
    return abort(state, chErr('FORCE_CLOSE_REQUESTED', 'aborted by us'), {
      sendError: tempId(state),
      violation: false,
    });
  if (input.type === 'warning' || input.type === 'BlockConnected' || input.type === 'Connected')
    return { state, effects: [] };

  switch (state.kind) {
    case 'WaitForOpenChannel':
      if (input.type === 'CmdOpen') return startOpen(state.config, input, ctx, state);
      if (input.type === 'open_channel') return acceptOpen(state.config, input, ctx);
      break;
    case 'WaitForAcceptChannel':
      if (input.type === 'accept_channel') {
        if (!equal(input.temporaryChannelId, state.open.temporaryChannelId)) return { state, effects: [] };
        const err = validateAcceptChannel(input, state.open, state.config);
        if (err) return abort(state, err, { sendError: state.open.temporaryChannelId, violation: true });
        const remote = remoteSide(input);
        const pub = channelPubkeys(ctx.keys);
        return {
          state: {
            kind: 'WaitForFundingTx',
            config: state.config,
            request: state.request,
            open: state.open,
            accept: input,
            channelTypeBits: state.channelTypeBits,
            remote,
          },
          effects: [
            {
              type: 'BuildFundingTx',
              scriptPubKey: fundingScriptPubKey(pub.fundingPubkey, remote.fundingPubkey),
              amountSat: state.open.fundingSatoshis,
              feeratePerKw: ctx.feeratePerKw,
            },
          ],
        };
      }
      break;
    case 'WaitForFundingTx':
      if (input.type === 'FundingTxBuilt') return fundingTxBuilt(state, input.tx, input.outputIndex, ctx);
      break;
    case 'WaitForFundingCreated':
      if (input.type === 'funding_created') return fundingCreated(state, input, ctx);
      break;
    case 'WaitForFundingSigned':
      if (input.type === 'funding_signed') return fundingSigned(state, input.channelId, input.signature, ctx);
      break;
  }
  if (isCommand(input))
    return rejected(state, input.type, chErr('COMMAND_UNAVAILABLE_IN_STATE', `not in ${state.kind}`));
  if (input.type === 'FundingTxBuilt')
    return rejected(state, 'FundingTxBuilt', chErr('COMMAND_UNAVAILABLE_IN_STATE', `not in ${state.kind}`));
  return { state, effects: [] };
}

function startOpen(
  config: ChannelConfig,
  cmd: Extract<ChannelInput, { type: 'CmdOpen' }>,
  ctx: StepContext,
  state: ChannelState,
): StepResult {
  const err = openRequestError(cmd, config);
  if (err) return rejected(state, 'CmdOpen', err);
  if (!ctx.randomBytes)
    return rejected(state, 'CmdOpen', chErr('INVALID_TEMPORARY_CHANNEL_ID', 'CmdOpen needs ctx.randomBytes'));
  const temporaryChannelId = ctx.randomBytes(32);
  const bits = channelTypeBitsFor(cmd);
  const ct = cmd.channelType;
  const reserve = reserveFor(config, cmd.fundingSats, config.dustLimitSat);
  const spec = {
    htlcs: [],
    feeratePerKw: ctx.feeratePerKw,
    toLocalMsat: cmd.fundingSats * 1000n - cmd.pushMsat,
    toRemoteMsat: cmd.pushMsat,
  };
  const fees = commitTxTotalCostSat(spec, config.dustLimitSat, ct);
  if (spec.toLocalMsat / 1000n < fees)
    return rejected(
      state,
      'CmdOpen',
      chErr('OPENER_CANNOT_AFFORD_FEES', 'funding cannot pay the commitment fee'),
    );
  const pub = channelPubkeys(ctx.keys);
  const open: OpenChannel = {
    type: 'open_channel',
    chainHash: config.chainHash,
    temporaryChannelId,
    fundingSatoshis: cmd.fundingSats,
    pushMsat: cmd.pushMsat,
    dustLimitSatoshis: config.dustLimitSat,
    maxHtlcValueInFlightMsat: config.maxHtlcValueInFlightMsat,
    channelReserveSatoshis: reserve,
    htlcMinimumMsat: config.htlcMinimumMsat,
    feeratePerKw: ctx.feeratePerKw,
    toSelfDelay: config.toSelfDelay,
    maxAcceptedHtlcs: config.maxAcceptedHtlcs,
    fundingPubkey: pub.fundingPubkey,
    revocationBasepoint: pub.revocationBasepoint,
    paymentBasepoint: pub.paymentBasepoint,
    delayedPaymentBasepoint: pub.delayedPaymentBasepoint,
    htlcBasepoint: pub.htlcBasepoint,
    firstPerCommitmentPoint: localPoint(ctx.keys, 0),
    channelFlags: cmd.announce ? 1 : 0,
    // BOLT 2: "if it includes open_channel_tlvs: MUST include upfront_shutdown_script".
    upfrontShutdownScript: new Uint8Array(0),
    channelType: encodeChannelType(bits),
  };
  const request = {
    fundingSats: cmd.fundingSats,
    pushMsat: cmd.pushMsat,
    channelType: cmd.channelType,
    zeroConf: cmd.zeroConf,
    announce: cmd.announce,
  };
  return {
    state: { kind: 'WaitForAcceptChannel', config, request, open, channelTypeBits: bits },
    effects: [{ type: 'SendMessage', msg: open }],
  };
}

function acceptOpen(config: ChannelConfig, open: OpenChannel, ctx: StepContext): StepResult {
  const v = validateOpenChannel(open, config, ctx.feeratePerKw);
  const state: ChannelState = { kind: 'WaitForOpenChannel', config };
  if (!v.ok) return abort(state, v.error, { sendError: open.temporaryChannelId, violation: true });
  const pub = channelPubkeys(ctx.keys);
  const local = localSide(config, pub, v.ourDustLimitSat, v.ourReserveSat);
  const zeroConf = v.bits.includes(Feature.option_zeroconf);
  const accept = {
    type: 'accept_channel' as const,
    temporaryChannelId: open.temporaryChannelId,
    dustLimitSatoshis: local.dustLimitSat,
    maxHtlcValueInFlightMsat: local.maxHtlcValueInFlightMsat,
    channelReserveSatoshis: local.channelReserveSat,
    htlcMinimumMsat: local.htlcMinimumMsat,
    // BOLT 2: "if channel_type includes option_zeroconf: MUST set minimum_depth to zero".
    minimumDepth: zeroConf ? 0 : config.minimumDepth,
    toSelfDelay: local.toSelfDelay,
    maxAcceptedHtlcs: local.maxAcceptedHtlcs,
    fundingPubkey: pub.fundingPubkey,
    revocationBasepoint: pub.revocationBasepoint,
    paymentBasepoint: pub.paymentBasepoint,
    delayedPaymentBasepoint: pub.delayedPaymentBasepoint,
    htlcBasepoint: pub.htlcBasepoint,
    firstPerCommitmentPoint: localPoint(ctx.keys, 0),
    upfrontShutdownScript: new Uint8Array(0),
    // BOLT 2: "MUST set channel_type to the channel_type from open_channel".
    channelType: open.channelType!,
  };
  return {
    state: {
      kind: 'WaitForFundingCreated',
      config,
      open,
      accept,
      channelTypeBits: v.bits,
      local,
      remote: remoteSide(open),
    },
    effects: [{ type: 'SendMessage', msg: accept }],
  };
}

function fundingTxBuilt(
  state: Extract<ChannelState, { kind: 'WaitForFundingTx' }>,
  tx: import('../../protocol/tx/transaction.js').Transaction,
  outputIndex: number,
  ctx: StepContext,
): StepResult {
  const pub = channelPubkeys(ctx.keys);
  const spk = fundingScriptPubKey(pub.fundingPubkey, state.remote.fundingPubkey);
  const out = tx.outputs[outputIndex];
  if (!out || out.value !== state.open.fundingSatoshis || !equal(out.scriptPubKey, spk))
    return rejected(
      state,
      'FundingTxBuilt',
      chErr('INVALID_FUNDING_TX', 'funding output does not pay the 2-of-2 the agreed amount'),
    );
  const ct = parseChannelType(state.open.channelType);
  if (!ct.ok) return rejected(state, 'FundingTxBuilt', ct.error);
  const local = localSide(state.config, pub, state.open.dustLimitSatoshis, state.open.channelReserveSatoshis);
  const params = makeParams({
    isOpener: true,
    channelType: ct.channelType,
    bits: ct.bits,
    fundingAmountSat: state.open.fundingSatoshis,
    fundingTxid: txidOf(tx),
    fundingOutputIndex: outputIndex,
    local,
    remote: state.remote,
    announce: (state.open.channelFlags & 1) === 1,
    config: state.config,
  });
  const c = initialCommitments(
    params,
    state.open.pushMsat,
    state.open.feeratePerKw,
    state.accept.firstPerCommitmentPoint,
  );
  const s = signRemoteCommit(c, c.remoteCommit, ctx.keys);
  const commitments: Commitments = { ...c, remoteCommit: { ...c.remoteCommit, txid: s.tx.txid } };
  return {
    state: {
      kind: 'WaitForFundingSigned',
      config: state.config,
      commitments,
      fundingTx: tx,
      minDepth: state.accept.minimumDepth,
      temporaryChannelId: state.open.temporaryChannelId,
    },
    effects: [
      {
        type: 'ChannelIdAssigned',
        temporaryChannelId: state.open.temporaryChannelId,
        channelId: params.channelId,
      },
      {
        type: 'SendMessage',
        msg: {
          type: 'funding_created',
          temporaryChannelId: state.open.temporaryChannelId,
          fundingTxid: Uint8Array.from(params.fundingTxid).reverse(),
          fundingOutputIndex: outputIndex,
          signature: s.signature,
        },
      },
    ],
  };
}

/** Monitor updates for a freshly funded channel (static data + both commitments #0). */
function fundedMonitorUpdates(d: FundedData, ctx: StepContext): MonitorUpdate[] {
  const c = d.commitments;
  const p = c.params;
  const point0 = localPoint(ctx.keys, 0);
  const localTx = buildLocalCommitTx(p, 0, c.localCommit.spec, point0);
  const remote = signRemoteCommit(c, c.remoteCommit, ctx.keys);
  return [
    {
      type: 'ChannelFunded',
      channelId: p.channelId,
      channelType: p.channelType,
      isOpener: p.isOpener,
      fundingTxid: p.fundingTxid,
      fundingOutputIndex: p.fundingOutputIndex,
      fundingAmountSat: p.fundingAmountSat,
      fundingScript: fundingScript(p.local.fundingPubkey, p.remote.fundingPubkey),
      obscuringFactor: p.obscuringFactor,
      local: { ...pick(p.local), dustLimitSat: p.local.dustLimitSat, ownOutputsDelay: p.remote.toSelfDelay },
      remote: {
        ...pick(p.remote),
        dustLimitSat: p.remote.dustLimitSat,
        ownOutputsDelay: p.local.toSelfDelay,
      },
      localShutdownScript: d.config.shutdownScript,
    },
    localCommitmentUpdate(c, 0, point0, localTx, c.localCommit.remoteSig, [], ctx.keys),
    remoteCommitmentUpdate(c, c.remoteCommit, remote.tx),
  ];
}

function pick(s: FundedData['commitments']['params']['local']) {
  return {
    fundingPubkey: s.fundingPubkey,
    revocationBasepoint: s.revocationBasepoint,
    paymentBasepoint: s.paymentBasepoint,
    delayedPaymentBasepoint: s.delayedPaymentBasepoint,
    htlcBasepoint: s.htlcBasepoint,
  };
}

function newFundedData(
  config: ChannelConfig,
  commitments: Commitments,
  minDepth: number,
  fundingTx: FundedData['fundingTx'],
  ctx: StepContext,
): FundedData {
  return {
    config,
    commitments,
    minDepth,
    createdAtHeight: ctx.blockHeight,
    fundingTx,
    shortChannelId: undefined,
    localAlias: config.localAlias,
    remoteAlias: undefined,
    localReady: false,
    remoteReady: false,
    localShutdown: undefined,
    remoteShutdown: undefined,
    closeFeerates: undefined,
    pendingSettlements: [],
  };
}

function channelReadyMsg(d: FundedData, ctx: StepContext): KnownMessage {
  return {
    type: 'channel_ready',
    channelId: d.commitments.params.channelId,
    secondPerCommitmentPoint: localPoint(ctx.keys, 1),
    ...(d.localAlias !== undefined ? { alias: d.localAlias } : {}),
  };
}

/** After funding: watch the funding output; with zero-conf send `channel_ready` right away. */
function enterFunded(d: FundedData, fx: Fx, ctx: StepContext): ChannelState {
  const p = d.commitments.params;
  fx.monitor.push(...fundedMonitorUpdates(d, ctx));
  fx.persist = true;
  fx.io.push({
    type: 'WatchFunding',
    txid: p.fundingTxid,
    outputIndex: p.fundingOutputIndex,
    minDepth: Math.max(1, d.minDepth),
    scriptPubKey: fundingScriptPubKey(p.local.fundingPubkey, p.remote.fundingPubkey),
    amountSat: p.fundingAmountSat,
  });
  if (d.minDepth === 0) {
    fx.send(channelReadyMsg(d, ctx));
    return { kind: 'WaitForChannelReady', data: { ...d, localReady: true } };
  }
  return { kind: 'WaitForFundingConfirmed', data: d };
}

function fundingCreated(
  state: Extract<ChannelState, { kind: 'WaitForFundingCreated' }>,
  msg: Extract<ChannelInput, { type: 'funding_created' }>,
  ctx: StepContext,
): StepResult {
  if (!equal(msg.temporaryChannelId, state.open.temporaryChannelId)) return { state, effects: [] };
  const ct = parseChannelType(state.open.channelType);
  if (!ct.ok) return abort(state, ct.error, { sendError: state.open.temporaryChannelId, violation: true });
  const params = makeParams({
    isOpener: false,
    channelType: ct.channelType,
    bits: ct.bits,
    fundingAmountSat: state.open.fundingSatoshis,
    fundingTxid: Uint8Array.from(msg.fundingTxid).reverse(),
    fundingOutputIndex: msg.fundingOutputIndex,
    local: state.local,
    remote: state.remote,
    announce: (state.open.channelFlags & 1) === 1,
    config: state.config,
  });
  const c0 = initialCommitments(
    params,
    state.open.pushMsat,
    state.open.feeratePerKw,
    state.open.firstPerCommitmentPoint,
  );
  const point0 = localPoint(ctx.keys, 0);
  const localTx = buildLocalCommitTx(params, 0, c0.localCommit.spec, point0);
  // BOLT 2: "if signature is incorrect OR non-compliant with LOW-S-standard rule: ... send an error and fail the channel".
  if (!verifyCommitmentSig(localTx, msg.signature, params.remote.fundingPubkey))
    return abort(state, chErr('INVALID_COMMITMENT_SIGNATURE', 'invalid funding_created signature'), {
      sendError: state.open.temporaryChannelId,
      violation: true,
    });
  const s = signRemoteCommit(c0, c0.remoteCommit, ctx.keys);
  const commitments: Commitments = {
    ...c0,
    localCommit: { ...c0.localCommit, txid: localTx.txid, remoteSig: msg.signature },
    remoteCommit: { ...c0.remoteCommit, txid: s.tx.txid },
  };
  const d = newFundedData(state.config, commitments, state.accept.minimumDepth, undefined, ctx);
  const fx = new Fx();
  fx.pre.push({
    type: 'ChannelIdAssigned',
    temporaryChannelId: state.open.temporaryChannelId,
    channelId: params.channelId,
  });
  // funding_signed goes first (before a zero-conf channel_ready).
  fx.send({ type: 'funding_signed', channelId: params.channelId, signature: s.signature });
  return fx.done(enterFunded(d, fx, ctx));
}

function fundingSigned(
  state: Extract<ChannelState, { kind: 'WaitForFundingSigned' }>,
  channelId: Uint8Array,
  signature: Uint8Array,
  ctx: StepContext,
): StepResult {
  const c = state.commitments;
  if (!equal(channelId, c.params.channelId)) return { state, effects: [] };
  const localTx = buildLocalCommitTx(c.params, 0, c.localCommit.spec, localPoint(ctx.keys, 0));
  if (!verifyCommitmentSig(localTx, signature, c.params.remote.fundingPubkey))
    return abort(state, chErr('INVALID_COMMITMENT_SIGNATURE', 'invalid funding_signed signature'), {
      sendError: c.params.channelId,
      violation: true,
    });
  const commitments: Commitments = {
    ...c,
    localCommit: { ...c.localCommit, txid: localTx.txid, remoteSig: signature },
  };
  const d = newFundedData(state.config, commitments, state.minDepth, state.fundingTx, ctx);
  const fx = new Fx();
  // BOLT 2: "MUST NOT broadcast the funding transaction before receipt of a valid funding_signed".
  fx.io.push({ type: 'BroadcastFundingTx', tx: state.fundingTx });
  const next = enterFunded(d, fx, ctx);
  return fx.done(next);
}

// =================================================================================================
// Funded, connected

function withData(state: OnlineFundedState, data: FundedData): OnlineFundedState {
  return { ...state, data };
}

function stepOnline(state: OnlineFundedState, input: ChannelInput, ctx: StepContext): StepResult {
  const d = state.data;
  switch (input.type) {
    case 'Disconnected':
      return goOffline(state);
    case 'Connected':
    case 'warning':
    case 'channel_reestablish':
      return { state, effects: [] };
    case 'error':
      return failChannel(d, chErr('PEER_SENT_ERROR', 'peer sent error'), ctx, new Fx(), {
        sendError: false,
        violation: false,
      });
    case 'CmdForceClose':
      return failChannel(d, chErr('FORCE_CLOSE_REQUESTED', 'force close requested'), ctx, new Fx(), {
        sendError: true,
        violation: false,
      });
    case 'BlockConnected': {
      const err = timeoutError(d, input.height);
      if (err) return failChannel(d, err, ctx, new Fx(), { sendError: true, violation: false });
      if (
        state.kind === 'WaitForFundingConfirmed' &&
        !d.commitments.params.isOpener &&
        input.height > d.createdAtHeight + d.config.fundingTimeoutBlocks
      ) {
        const e = chErr('FUNDING_TIMEOUT', 'funding transaction did not confirm in time');
        const cid = d.commitments.params.channelId;
        return {
          state: { kind: 'Closed', channelId: cid, closeType: 'aborted' },
          effects: [
            { type: 'SendMessage', msg: errorMessage(cid, e) },
            { type: 'ChannelClosed', channelId: cid, closeType: 'aborted', reason: e.message },
          ],
        };
      }
      return { state, effects: [] };
    }
    case 'FundingConfirmed':
      return fundingConfirmed(state, input.depth, input.scid, ctx);
    case 'channel_ready':
      return channelReady(state, input, ctx);
    default:
      break;
  }
  if (state.kind === 'Normal' || state.kind === 'Shutdown') return stepNormal(state, input, ctx);
  if (state.kind === 'Negotiating') return stepNegotiating(state, input, ctx);
  // WaitForFundingConfirmed / WaitForChannelReady.
  if (input.type === 'shutdown' || input.type === 'CmdClose') return stepNormal(state, input, ctx);
  if (isCommand(input))
    return rejected(state, input.type, chErr('CHANNEL_UNAVAILABLE', `channel not ready (${state.kind})`));
  if (input.type === 'FundingTxBuilt')
    return rejected(state, 'FundingTxBuilt', chErr('COMMAND_UNAVAILABLE_IN_STATE', 'funding already built'));
  return { state, effects: [] };
}

function readyEffect(d: FundedData): ChannelEffect {
  return {
    type: 'ChannelReady',
    channelId: d.commitments.params.channelId,
    shortChannelId: d.shortChannelId,
    localAlias: d.localAlias,
    remoteAlias: d.remoteAlias,
  };
}

function fundingConfirmed(
  state: OnlineFundedState,
  depth: number,
  scid: bigint,
  ctx: StepContext,
): StepResult {
  let d: FundedData = { ...state.data, shortChannelId: scid, fundingTx: undefined };
  const fx = new Fx();
  fx.persist = true;
  if (state.kind === 'WaitForFundingConfirmed' && depth >= d.minDepth && !d.localReady) {
    d = { ...d, localReady: true };
    fx.send(channelReadyMsg(d, ctx));
    if (d.remoteReady) {
      fx.post.push(readyEffect(d));
      return fx.done({ kind: 'Normal', data: d });
    }
    return fx.done({ kind: 'WaitForChannelReady', data: d });
  }
  return fx.done(withData(state, d));
}

function channelReady(
  state: OnlineFundedState,
  msg: Extract<ChannelInput, { type: 'channel_ready' }>,
  _ctx: StepContext,
): StepResult {
  const d0 = state.data;
  if (d0.remoteReady) {
    // BOLT 2: "MUST ignore any redundant channel_ready" (a new alias is still remembered).
    if (msg.alias !== undefined && msg.alias !== d0.remoteAlias)
      return { state: withData(state, { ...d0, remoteAlias: msg.alias }), effects: [] };
    return { state, effects: [] };
  }
  const d: FundedData = {
    ...d0,
    remoteReady: true,
    remoteAlias: msg.alias ?? d0.remoteAlias,
    commitments: { ...d0.commitments, remoteNextPerCommitmentPoint: msg.secondPerCommitmentPoint },
  };
  const fx = new Fx();
  fx.persist = true;
  if (d.localReady && (state.kind === 'WaitForChannelReady' || state.kind === 'WaitForFundingConfirmed')) {
    fx.post.push(readyEffect(d));
    return fx.done({ kind: 'Normal', data: d });
  }
  return fx.done(withData(state, d));
}

/** Outgoing HTLCs past expiry, or fulfilled incoming ones about to expire, force the channel on chain. */
function timeoutError(d: FundedData, height: number): ChannelError | undefined {
  const c = d.commitments;
  const outgoing = [
    ...c.localCommit.spec.htlcs.filter((h) => h.direction === 'offered'),
    ...c.remoteCommit.spec.htlcs.filter((h) => h.direction === 'received'),
    ...(c.waiting?.nextRemoteCommit.spec.htlcs.filter((h) => h.direction === 'received') ?? []),
  ];
  for (const h of outgoing) {
    if (height >= h.cltvExpiry)
      return chErr('HTLC_TIMED_OUT', 'an outgoing HTLC timed out', `id ${h.id} expiry ${h.cltvExpiry}`);
  }
  const fulfilled = new Set<bigint>();
  const ch = c.changes;
  for (const u of [...ch.localProposed, ...ch.localSigned, ...ch.localAcked])
    if (u.type === 'update_fulfill_htlc') fulfilled.add(u.id);
  for (const s of d.pendingSettlements) if (s.type === 'fulfill') fulfilled.add(s.id);
  for (const h of c.localCommit.spec.htlcs) {
    if (
      h.direction === 'received' &&
      fulfilled.has(h.id) &&
      height >= h.cltvExpiry - d.config.fulfillSafetyBeforeTimeout
    )
      return chErr(
        'FULFILLED_HTLC_ABOUT_TO_TIME_OUT',
        'a fulfilled incoming HTLC is about to time out',
        `id ${h.id}`,
      );
  }
  return undefined;
}

/**
 * Fails the channel: our latest commitment goes on chain (BOLT 5 via the monitor). Before the
 * peer signed anything (commitment #0 without a signature) there is nothing to publish.
 */
function failChannel(
  d: FundedData,
  error: ChannelError,
  ctx: StepContext,
  fx: Fx,
  opts: { sendError: boolean; violation: boolean },
): StepResult {
  const c = d.commitments;
  const cid = c.params.channelId;
  if (opts.violation) fx.pre.push({ type: 'ProtocolViolation', error });
  const err = errorMessage(cid, error);
  for (const u of c.changes.localProposed) {
    if (u.type === 'update_add_htlc')
      fx.post.push({
        type: 'HtlcFailed',
        id: u.id,
        paymentHash: u.paymentHash,
        amountMsat: u.amountMsat,
        failure: { kind: 'local', error: chErr('CHANNEL_UNAVAILABLE', 'channel closing') },
      });
  }
  const commitment = signedLocalCommitTx(c, ctx.keys);
  const next: ChannelState = {
    kind: 'Closing',
    data: d,
    closeType: 'local-force',
    tx: commitment.commitTx,
    error: err,
  };
  fx.persist = true;
  if (opts.sendError) fx.send(err);
  fx.io.push({ type: 'ForceClose', reason: error, commitment });
  fx.post.push({ type: 'ChannelClosed', channelId: cid, closeType: 'local-force', reason: error.message });
  return fx.done(next);
}

function violation(d: FundedData, error: ChannelError, ctx: StepContext, fx = new Fx()): StepResult {
  return failChannel(d, error, ctx, fx, { sendError: true, violation: true });
}

// ------------------------------------------------------------------------------------------------
// Normal / Shutdown

function stepNormal(state: OnlineFundedState, input: ChannelInput, ctx: StepContext): StepResult {
  const d = state.data;
  const c = d.commitments;
  const e = env(d, ctx);
  const fx = new Fx();
  const closing = d.localShutdown !== undefined || d.remoteShutdown !== undefined;
  let next: FundedData = d;
  switch (input.type) {
    case 'CmdAddHtlc': {
      if (closing)
        return rejected(state, input.type, chErr('NO_MORE_HTLCS_CLOSING_IN_PROGRESS', 'closing in progress'));
      const r = sendAdd(c, input, e);
      if (!r.ok) return rejected(state, input.type, r.error);
      return {
        state: withData(state, { ...d, commitments: r.commitments }),
        effects: [{ type: 'SendMessage', msg: r.msg }],
      };
    }
    case 'CmdFulfill': {
      const r = sendFulfill(c, input.id, input.preimage);
      if (!r.ok) return rejected(state, input.type, r.error);
      fx.monitor.push({
        type: 'Preimage',
        channelId: c.params.channelId,
        paymentHash: r.htlc.paymentHash,
        preimage: input.preimage,
      });
      fx.send(r.msg);
      return fx.done(withData(state, { ...d, commitments: r.commitments }));
    }
    case 'CmdFail': {
      const r = sendFail(c, input.id, input.reason);
      if (!r.ok) return rejected(state, input.type, r.error);
      return {
        state: withData(state, { ...d, commitments: r.commitments }),
        effects: [{ type: 'SendMessage', msg: r.msg }],
      };
    }
    case 'CmdFailMalformed': {
      const r = sendFailMalformed(c, input.id, input.sha256OfOnion, input.failureCode);
      if (!r.ok) return rejected(state, input.type, r.error);
      return {
        state: withData(state, { ...d, commitments: r.commitments }),
        effects: [{ type: 'SendMessage', msg: r.msg }],
      };
    }
    case 'CmdUpdateFee': {
      const r = sendFee(c, input.feeratePerKw, e);
      if (!r.ok) return rejected(state, input.type, r.error);
      return {
        state: withData(state, { ...d, commitments: r.commitments }),
        effects: [{ type: 'SendMessage', msg: r.msg }],
      };
    }
    case 'CmdSign': {
      // Without changes, or while waiting for a revocation (we re-sign when it arrives), a no-op.
      if (!localHasChanges(c) || c.waiting || !c.remoteNextPerCommitmentPoint) return { state, effects: [] };
      next = signInto(next, fx, ctx);
      break;
    }
    case 'CmdClose': {
      if (d.localShutdown)
        return rejected(state, input.type, chErr('CLOSING_ALREADY_IN_PROGRESS', 'shutdown already sent'));
      const script = input.scriptPubKey ?? d.config.shutdownScript;
      if (!isValidShutdownScript(script, d.config.anySegwit))
        return rejected(state, input.type, chErr('INVALID_SHUTDOWN_SCRIPT', 'invalid shutdown scriptpubkey'));
      // BOLT 2: "if there are updates pending on the receiving node's commitment: MUST NOT send a shutdown".
      if (c.changes.localProposed.length > 0) {
        if (c.waiting || !c.remoteNextPerCommitmentPoint)
          return rejected(
            state,
            input.type,
            chErr('CANNOT_CLOSE_WITH_UNSIGNED_UPDATES', 'sign pending updates first'),
          );
        next = signInto(next, fx, ctx);
      }
      const shutdown: Shutdown = { type: 'shutdown', channelId: c.params.channelId, scriptpubkey: script };
      next = { ...next, localShutdown: shutdown, closeFeerates: input.feerates ?? next.closeFeerates };
      fx.persist = true;
      fx.send(shutdown);
      break;
    }
    case 'update_add_htlc': {
      if (d.remoteShutdown)
        return violation(
          d,
          chErr('NO_MORE_HTLCS_CLOSING_IN_PROGRESS', 'update_add_htlc after shutdown'),
          ctx,
        );
      if (state.kind !== 'Normal')
        return violation(d, chErr('UNEXPECTED_MESSAGE', `update_add_htlc in ${state.kind}`), ctx);
      const r = receiveAdd(c, input);
      if (!r.ok) return violation(d, r.error, ctx);
      return { state: withData(state, { ...d, commitments: r.commitments }), effects: [] };
    }
    case 'update_fulfill_htlc': {
      const r = receiveFulfill(c, input);
      if (!r.ok) return violation(d, r.error, ctx);
      fx.monitor.push({
        type: 'Preimage',
        channelId: c.params.channelId,
        paymentHash: r.htlc.paymentHash,
        preimage: input.paymentPreimage,
      });
      fx.post.push({
        type: 'HtlcFulfilled',
        id: input.id,
        paymentHash: r.htlc.paymentHash,
        amountMsat: r.htlc.amountMsat,
        preimage: input.paymentPreimage,
      });
      return fx.done(withData(state, { ...d, commitments: r.commitments }));
    }
    case 'update_fail_htlc':
    case 'update_fail_malformed_htlc': {
      const r = receiveFail(c, input);
      if (!r.ok) return violation(d, r.error, ctx);
      return { state: withData(state, { ...d, commitments: r.commitments }), effects: [] };
    }
    case 'update_fee': {
      const r = receiveFee(c, input, e);
      if (!r.ok) return violation(d, r.error, ctx);
      return { state: withData(state, { ...d, commitments: r.commitments }), effects: [] };
    }
    case 'commitment_signed': {
      if (state.kind !== 'Normal' && state.kind !== 'Shutdown')
        return violation(d, chErr('UNEXPECTED_MESSAGE', `commitment_signed in ${state.kind}`), ctx);
      const r = receiveCommit(c, input, ctx.keys);
      if (!r.ok) return violation(d, r.error, ctx);
      fx.monitor.push(r.monitor);
      fx.persist = true;
      fx.send(r.revocation);
      next = { ...d, commitments: r.commitments };
      if (localHasChanges(next.commitments) && !next.commitments.waiting)
        next = autoSign(state, next, fx, ctx);
      break;
    }
    case 'revoke_and_ack': {
      const r = receiveRevocation(c, input);
      if (!r.ok) return violation(d, r.error, ctx);
      fx.monitor.push(r.monitor);
      fx.persist = true;
      next = { ...d, commitments: r.commitments };
      for (const add of r.committed.adds) {
        const htlc = {
          direction: 'received' as const,
          id: add.id,
          amountMsat: add.amountMsat,
          paymentHash: add.paymentHash,
          cltvExpiry: add.cltvExpiry,
        };
        const ok = incomingHtlcWithinDustExposure(r.commitments, htlc);
        fx.post.push({
          type: 'HtlcReceived',
          add,
          mustFail: ok
            ? undefined
            : chErr('DUST_EXPOSURE_EXCEEDED', 'incoming dust HTLC exceeds max_dust_htlc_exposure_msat'),
        });
      }
      for (const f of r.committed.fails) {
        // The HTLC is gone from our commitment already; the peer's previous one still has it.
        const h = c.remoteCommit.spec.htlcs.find((x) => x.direction === 'received' && x.id === f.id);
        const orig = h ?? { paymentHash: ZERO32, amountMsat: 0n };
        fx.post.push({
          type: 'HtlcFailed',
          id: f.id,
          paymentHash: orig.paymentHash,
          amountMsat: orig.amountMsat,
          failure:
            f.type === 'update_fail_htlc'
              ? { kind: 'remote', reason: f.reason }
              : { kind: 'malformed', sha256OfOnion: f.sha256OfOnion, failureCode: f.failureCode },
        });
      }
      if (localHasChanges(next.commitments)) next = autoSign(state, next, fx, ctx);
      break;
    }
    case 'shutdown': {
      const err = checkRemoteShutdown(d, input);
      if (err === 'ignore') return { state, effects: [] };
      if (err) {
        if (err.code === 'CANNOT_CLOSE_WITH_UNSIGNED_UPDATES') return violation(d, err, ctx);
        // BOLT 2: "SHOULD send a warning" for a bad script; the shutdown is ignored.
        return {
          state,
          effects: [
            {
              type: 'SendMessage',
              msg: { type: 'warning', channelId: c.params.channelId, data: utf8(err.message) },
            },
          ],
        };
      }
      next = { ...d, remoteShutdown: input };
      fx.persist = true;
      if (
        !next.localShutdown &&
        c.changes.localProposed.length > 0 &&
        !c.waiting &&
        c.remoteNextPerCommitmentPoint
      )
        next = signInto(next, fx, ctx);
      break;
    }
    case 'closing_signed': {
      if (d.localShutdown && d.remoteShutdown && isQuiescentAndEmpty(c))
        return stepNegotiating({ kind: 'Negotiating', data: d, negotiation: emptyNegotiation() }, input, ctx);
      return violation(d, chErr('UNEXPECTED_MESSAGE', 'closing_signed before shutdown completed'), ctx);
    }
    default:
      if (isCommand(input))
        return rejected(state, input.type, chErr('COMMAND_UNAVAILABLE_IN_STATE', `not in ${state.kind}`));
      return { state, effects: [] };
  }
  return afterUpdate(state, next, fx, ctx);
}

/**
 * Signs pending changes after a received commitment_signed / revoke_and_ack, or defers them to
 * the next round when they are only HTLC removals and the caller asked for batching
 * ({@link StepContext.deferRemovalSigning}): a removal does not hold up any payment (the payer
 * already has the preimage or the failure), so it can ride with the next HTLC added.
 */
function autoSign(state: ChannelState, d: FundedData, fx: Fx, ctx: StepContext): FundedData {
  if (ctx.deferRemovalSigning && state.kind === 'Normal' && onlyRemovalsToSign(d.commitments)) {
    fx.post.push({ type: 'SignDeferred' });
    return d;
  }
  return signInto(d, fx, ctx);
}

/** Whether every change our next commitment_signed would carry is an HTLC fulfill or fail. */
function onlyRemovalsToSign(c: Commitments): boolean {
  const removal = (u: { type: string }) =>
    u.type === 'update_fulfill_htlc' ||
    u.type === 'update_fail_htlc' ||
    u.type === 'update_fail_malformed_htlc';
  return c.changes.localProposed.every(removal) && c.changes.remoteAcked.every(removal);
}

/** Signs our pending changes (auto-resign), appending the effects. */
function signInto(d: FundedData, fx: Fx, ctx: StepContext): FundedData {
  const r = sendCommit(d.commitments, ctx.keys);
  if (!r.ok) return d;
  fx.monitor.push(r.monitor);
  fx.persist = true;
  fx.send(r.msg);
  return { ...d, commitments: r.commitments };
}

/** BOLT 2 checks on a received `shutdown`: 'ignore' for a redundant one, an error, or undefined. */
function checkRemoteShutdown(d: FundedData, msg: Shutdown): ChannelError | 'ignore' | undefined {
  if (d.remoteShutdown) return 'ignore';
  if (!isValidShutdownScript(msg.scriptpubkey, d.config.anySegwit))
    return chErr('INVALID_SHUTDOWN_SCRIPT', 'invalid shutdown scriptpubkey');
  const up = d.commitments.params.remote.upfrontShutdownScript;
  if (up && !equal(up, msg.scriptpubkey))
    return chErr(
      'UPFRONT_SHUTDOWN_SCRIPT_MISMATCH',
      'shutdown scriptpubkey differs from upfront_shutdown_script',
    );
  if (
    d.commitments.changes.remoteProposed.some((u) => u.type === 'update_add_htlc' || u.type === 'update_fee')
  )
    return chErr(
      'CANNOT_CLOSE_WITH_UNSIGNED_UPDATES',
      'shutdown with unsigned updates pending on our commitment',
    );
  return undefined;
}

function emptyNegotiation(): Negotiation {
  return { lastSentFeeSat: undefined, lastSentRange: undefined, lastReceivedFeeSat: undefined };
}

function defaultCloseFeerates(d: FundedData, ctx: StepContext): CloseFeerates {
  if (d.closeFeerates) return d.closeFeerates;
  const pref = Math.max(253, ctx.feeratePerKw);
  return { preferred: pref, min: 253, max: pref * 2 };
}

/**
 * After any update in Normal/Shutdown: reply to the peer's shutdown once our side is clean,
 * enter Shutdown when both sent one, and Negotiating (the opener speaks first) once no HTLC and
 * no update is left on either side.
 */
function afterUpdate(state: OnlineFundedState, d0: FundedData, fx: Fx, ctx: StepContext): StepResult {
  let d = d0;
  const c = d.commitments;
  if (d.remoteShutdown && !d.localShutdown && c.changes.localProposed.length === 0) {
    // BOLT 2: "once there are no outstanding updates on the peer, UNLESS it has already sent a shutdown: MUST reply".
    const shutdown: Shutdown = {
      type: 'shutdown',
      channelId: c.params.channelId,
      scriptpubkey: d.config.shutdownScript,
    };
    d = { ...d, localShutdown: shutdown };
    fx.persist = true;
    fx.send(shutdown);
  }
  if (d.localShutdown && d.remoteShutdown) {
    if (isQuiescentAndEmpty(d.commitments)) {
      fx.persist = true;
      return fx.done(startNegotiating(d, fx, ctx));
    }
    if (state.kind !== 'Shutdown') fx.persist = true;
    return fx.done({ kind: 'Shutdown', data: d });
  }
  return fx.done(withData(state, d));
}

function startNegotiating(d: FundedData, fx: Fx, ctx: StepContext): ChannelState {
  // BOLT 2: "The funding node: after shutdown has been received, AND no HTLCs remain: SHOULD send a closing_signed".
  if (!d.commitments.params.isOpener)
    return { kind: 'Negotiating', data: d, negotiation: emptyNegotiation() };
  const feerates = defaultCloseFeerates(d, ctx);
  const range = ourFeeRange(d, feerates);
  const fee = preferredFee(d, feerates, range.min, range.max);
  fx.send(makeClosingSigned(d, fee, range, ctx.keys));
  return {
    kind: 'Negotiating',
    data: d,
    negotiation: { lastSentFeeSat: fee, lastSentRange: range, lastReceivedFeeSat: undefined },
  };
}

// ------------------------------------------------------------------------------------------------
// Negotiating

function stepNegotiating(
  state: Extract<ChannelState, { kind: 'Negotiating' }>,
  input: ChannelInput,
  ctx: StepContext,
): StepResult {
  const d = state.data;
  if (input.type === 'shutdown') return { state, effects: [] };
  if (input.type === 'CmdClose') {
    if (input.feerates)
      return { state: { ...state, data: { ...d, closeFeerates: input.feerates } }, effects: [] };
    return rejected(state, input.type, chErr('CLOSING_ALREADY_IN_PROGRESS', 'negotiation in progress'));
  }
  if (isCommand(input))
    return rejected(state, input.type, chErr('NO_MORE_HTLCS_CLOSING_IN_PROGRESS', 'negotiating the close'));
  if (input.type !== 'closing_signed') {
    if (
      input.type.startsWith('update_') ||
      input.type === 'commitment_signed' ||
      input.type === 'revoke_and_ack'
    )
      return violation(d, chErr('UNEXPECTED_MESSAGE', `${input.type} while negotiating the close`), ctx);
    return { state, effects: [] };
  }
  return onClosingSigned(state, input, ctx);
}

function onClosingSigned(
  state: Extract<ChannelState, { kind: 'Negotiating' }>,
  msg: ClosingSigned,
  ctx: StepContext,
): StepResult {
  const d = state.data;
  const p = d.commitments.params;
  const n = state.negotiation;
  const fee = msg.feeSatoshis;
  const s = d.commitments.localCommit.spec;
  const openerBalance = (p.isOpener ? s.toLocalMsat : s.toRemoteMsat) / 1000n;
  if (fee > openerBalance)
    return violation(d, chErr('INVALID_CLOSE_FEE', 'closing fee above the opener balance'), ctx);
  const variant = verifyPeerClosing(d, fee, msg.signature);
  if (!variant)
    return violation(d, chErr('INVALID_CLOSE_SIGNATURE', 'invalid closing_signed signature'), ctx);
  const complete = (reply: boolean): StepResult => {
    const fx = new Fx();
    const { tx, ourSig } = finalizeMutualClose(d, variant, msg.signature, ctx.keys);
    fx.monitor.push({ type: 'MutualClose', channelId: p.channelId, tx });
    fx.persist = true;
    if (reply)
      fx.send({ type: 'closing_signed', channelId: p.channelId, feeSatoshis: fee, signature: ourSig });
    fx.io.push({ type: 'BroadcastTx', tx });
    fx.post.push({
      type: 'ChannelClosed',
      channelId: p.channelId,
      closeType: 'mutual',
      reason: 'mutual close',
    });
    return fx.done({ kind: 'Closing', data: d, closeType: 'mutual', tx, error: undefined });
  };
  // BOLT 2: "if fee_satoshis is equal to its previously sent fee_satoshis: SHOULD sign and broadcast".
  if (n.lastSentFeeSat === fee) return complete(false);
  const feerates = defaultCloseFeerates(d, ctx);
  const propose = (f: bigint, range: { min: bigint; max: bigint } | undefined): StepResult => {
    const fx = new Fx();
    fx.send(makeClosingSigned(d, f, range, ctx.keys));
    return fx.done({
      ...state,
      negotiation: { lastSentFeeSat: f, lastSentRange: range, lastReceivedFeeSat: fee },
    });
  };
  if (msg.feeRange) {
    const ours = ourFeeRange(d, feerates, msg.feeRange);
    const lo = ours.min > msg.feeRange.minFeeSatoshis ? ours.min : msg.feeRange.minFeeSatoshis;
    const hi = ours.max < msg.feeRange.maxFeeSatoshis ? ours.max : msg.feeRange.maxFeeSatoshis;
    if (lo > hi) {
      const e = chErr('FEE_RANGE_NO_OVERLAP', 'no overlap between fee ranges');
      return {
        state: { ...state, negotiation: { ...n, lastReceivedFeeSat: fee } },
        effects: [
          { type: 'SendMessage', msg: { type: 'warning', channelId: p.channelId, data: utf8(e.message) } },
        ],
      };
    }
    if (p.isOpener) {
      // BOLT 2: funder: "if fee_satoshis is not in the overlap ...: MUST fail the channel; otherwise MUST reply with the same fee_satoshis".
      if (fee < lo || fee > hi)
        return violation(d, chErr('INVALID_CLOSE_FEE', 'closing fee outside the fee range overlap'), ctx);
      return complete(true);
    }
    if (n.lastSentFeeSat !== undefined)
      return violation(d, chErr('INVALID_CLOSE_FEE', 'closing fee differs from ours'), ctx);
    if (fee >= lo && fee <= hi) return complete(true);
    return propose(preferredFee(d, feerates, lo, hi), ours);
  }
  // Legacy negotiation without fee_range: agree, or propose strictly between.
  const ours = ourFeeRange(d, feerates);
  const agree = p.isOpener ? fee <= ours.max : fee >= ours.min;
  if (agree) return complete(true);
  const mine = n.lastSentFeeSat ?? preferredFee(d, feerates, ours.min, ours.max);
  const mid = (mine + fee) / 2n;
  if (mid === fee || mid === mine) return complete(true);
  return propose(mid, undefined);
}

// =================================================================================================
// Offline and channel_reestablish

function goOffline(state: OnlineFundedState): StepResult {
  const d = state.data;
  const r = discardUnsignedUpdates(d.commitments);
  const fx = new Fx();
  const pending: PendingSettlement[] = [...d.pendingSettlements];
  for (const u of r.discardedLocal) {
    if (u.type === 'update_add_htlc')
      fx.post.push({
        type: 'HtlcFailed',
        id: u.id,
        paymentHash: u.paymentHash,
        amountMsat: u.amountMsat,
        failure: {
          kind: 'local',
          error: chErr('CHANNEL_UNAVAILABLE', 'disconnected before the HTLC was signed'),
        },
      });
    else if (u.type === 'update_fulfill_htlc')
      pending.push({ type: 'fulfill', id: u.id, preimage: u.paymentPreimage });
    else if (u.type === 'update_fail_htlc') pending.push({ type: 'fail', id: u.id, reason: u.reason });
    else if (u.type === 'update_fail_malformed_htlc')
      pending.push({
        type: 'fail_malformed',
        id: u.id,
        sha256OfOnion: u.sha256OfOnion,
        failureCode: u.failureCode,
      });
  }
  const data: FundedData = { ...d, commitments: r.commitments, pendingSettlements: pending };
  const inner: OnlineFundedState =
    state.kind === 'Negotiating' ? { ...state, data, negotiation: emptyNegotiation() } : { ...state, data };
  if (pending.length !== d.pendingSettlements.length) fx.persist = true;
  return fx.done({ kind: 'Offline', inner, phase: 'disconnected' });
}

/** Our `channel_reestablish` (BOLT 2 "Message Retransmission", sending node). */
export function makeReestablish(d: FundedData, ctx: StepContext): ChannelReestablish {
  const c = d.commitments;
  const rc = c.remoteCommit.index;
  return {
    type: 'channel_reestablish',
    channelId: c.params.channelId,
    nextCommitmentNumber: BigInt(c.localCommit.index + 1),
    nextRevocationNumber: BigInt(rc),
    yourLastPerCommitmentSecret: rc > 0 ? (c.remoteSecrets.secretForCommitment(rc - 1) ?? ZERO32) : ZERO32,
    myCurrentPerCommitmentPoint: localPoint(ctx.keys, c.localCommit.index),
  };
}

type OfflineState = Extract<ChannelState, { kind: 'Offline' }>;

function stepOffline(state: OfflineState, input: ChannelInput, ctx: StepContext): StepResult {
  const inner = state.inner;
  const d = inner.data;
  switch (input.type) {
    case 'Connected':
      return {
        state: { ...state, phase: 'syncing' },
        effects: [{ type: 'SendMessage', msg: makeReestablish(d, ctx) }],
      };
    case 'Disconnected':
      return { state: { ...state, phase: 'disconnected' }, effects: [] };
    case 'channel_reestablish': {
      const pre: ChannelEffect[] =
        state.phase === 'disconnected' ? [{ type: 'SendMessage', msg: makeReestablish(d, ctx) }] : [];
      const r = handleReestablish(inner, input, ctx);
      return { state: r.state, effects: [...pre, ...r.effects] };
    }
    case 'error':
      return failChannel(d, chErr('PEER_SENT_ERROR', 'peer sent error'), ctx, new Fx(), {
        sendError: false,
        violation: false,
      });
    case 'CmdForceClose':
      return failChannel(d, chErr('FORCE_CLOSE_REQUESTED', 'force close requested'), ctx, new Fx(), {
        sendError: false,
        violation: false,
      });
    case 'BlockConnected': {
      const err = timeoutError(d, input.height);
      if (err) return failChannel(d, err, ctx, new Fx(), { sendError: false, violation: false });
      return { state, effects: [] };
    }
    case 'FundingConfirmed': {
      let nd: FundedData = { ...d, shortChannelId: input.scid, fundingTx: undefined };
      const fx = new Fx();
      fx.persist = true;
      let ni: OnlineFundedState = withData(inner, nd);
      if (inner.kind === 'WaitForFundingConfirmed' && input.depth >= d.minDepth && !d.localReady) {
        // Sent on reconnection (channel_reestablish with next_commitment_number 1 retransmits it).
        nd = { ...nd, localReady: true };
        if (nd.remoteReady) {
          ni = { kind: 'Normal', data: nd };
          fx.post.push(readyEffect(nd));
        } else ni = { kind: 'WaitForChannelReady', data: nd };
      }
      return fx.done({ ...state, inner: ni });
    }
    case 'CmdFulfill':
    case 'CmdFail':
    case 'CmdFailMalformed': {
      const r = incomingCrossSigned(d.commitments, input.id);
      if (!r.ok) return rejected(state, input.type, r.error);
      if (d.pendingSettlements.some((s) => s.id === input.id))
        return rejected(state, input.type, chErr('HTLC_ALREADY_SETTLED', 'settlement already queued'));
      const fx = new Fx();
      let s: PendingSettlement;
      if (input.type === 'CmdFulfill') {
        const fr = sendFulfill(d.commitments, input.id, input.preimage);
        if (!fr.ok) return rejected(state, input.type, fr.error);
        fx.monitor.push({
          type: 'Preimage',
          channelId: d.commitments.params.channelId,
          paymentHash: r.htlc.paymentHash,
          preimage: input.preimage,
        });
        s = { type: 'fulfill', id: input.id, preimage: input.preimage };
      } else if (input.type === 'CmdFail') s = { type: 'fail', id: input.id, reason: input.reason };
      else {
        const fr = sendFailMalformed(d.commitments, input.id, input.sha256OfOnion, input.failureCode);
        if (!fr.ok) return rejected(state, input.type, fr.error);
        s = {
          type: 'fail_malformed',
          id: input.id,
          sha256OfOnion: input.sha256OfOnion,
          failureCode: input.failureCode,
        };
      }
      fx.persist = true;
      return fx.done({
        ...state,
        inner: withData(inner, { ...d, pendingSettlements: [...d.pendingSettlements, s] }),
      });
    }
    case 'CmdSign':
      return { state, effects: [] };
    default:
      if (isCommand(input))
        return rejected(state, input.type, chErr('CHANNEL_UNAVAILABLE', 'peer is offline'));
      return { state, effects: [] };
  }
}

/**
 * BOLT 2 "Message Retransmission", receiving `channel_reestablish`: data-loss detection
 * (option_data_loss_protect), checks of the peer's counters, and retransmission of
 * `channel_ready`, `revoke_and_ack` and `commitment_signed` (with its updates) in the original
 * relative order; then `shutdown`, queued settlements and a fresh closing negotiation.
 */
function handleReestablish(inner: OnlineFundedState, msg: ChannelReestablish, ctx: StepContext): StepResult {
  const d = inner.data;
  const c = d.commitments;
  const fx = new Fx();
  const theirNextCommit = Number(msg.nextCommitmentNumber);
  const theirNextRev = Number(msg.nextRevocationNumber);
  const cid = c.params.channelId;
  // BOLT 2: "if next_commitment_number is zero: MUST immediately fail the channel and broadcast".
  if (theirNextCommit === 0)
    return violation(d, chErr('COMMITMENT_SYNC_ERROR', 'next_commitment_number is zero'), ctx, fx);
  const latestRemote = latestRemoteCommit(c);
  if (theirNextRev > c.localCommit.index || theirNextCommit > latestRemote.index + 1) {
    // The peer claims a state we do not know: if its proof is right, WE lost data.
    if (theirNextRev > 0 && equal(msg.yourLastPerCommitmentSecret, localSecret(ctx.keys, theirNextRev - 1))) {
      const e = chErr(
        'PEER_HAS_NEWER_STATE',
        'peer proved a newer state: we lost data; waiting for its commitment',
      );
      fx.pre.push({
        type: 'DataLossDetected',
        channelId: cid,
        remotePerCommitmentPoint: msg.myCurrentPerCommitmentPoint,
      });
      const err = errorMessage(cid, e);
      fx.persist = true;
      // BOLT 2: "MUST NOT broadcast its commitment transaction; SHOULD send an error to request the peer to fail the channel".
      fx.send(err);
      fx.post.push({ type: 'ChannelClosed', channelId: cid, closeType: 'data-loss', reason: e.message });
      return fx.done({ kind: 'Closing', data: d, closeType: 'data-loss', tx: undefined, error: err });
    }
    return violation(
      d,
      chErr('INVALID_REVOKED_COMMIT_PROOF', 'peer claims a future state without a valid proof'),
      ctx,
      fx,
    );
  }
  if (theirNextRev > 0 && !equal(msg.yourLastPerCommitmentSecret, localSecret(ctx.keys, theirNextRev - 1)))
    return violation(
      d,
      chErr('INVALID_REVOKED_COMMIT_PROOF', 'your_last_per_commitment_secret is wrong'),
      ctx,
      fx,
    );
  // Our revocations.
  let resendRev = false;
  if (c.localCommit.index === theirNextRev + 1) resendRev = true;
  else if (c.localCommit.index !== theirNextRev)
    return violation(d, chErr('REVOCATION_SYNC_ERROR', 'peer is behind on our revocations'), ctx, fx);
  // Our commitment_signed.
  let resendCommit = false;
  if (c.waiting) {
    if (theirNextCommit === c.waiting.nextRemoteCommit.index) resendCommit = true;
    else if (theirNextCommit !== c.waiting.nextRemoteCommit.index + 1)
      return violation(d, chErr('COMMITMENT_SYNC_ERROR', 'next_commitment_number out of sync'), ctx, fx);
  } else if (theirNextCommit !== c.remoteCommit.index + 1)
    return violation(d, chErr('COMMITMENT_SYNC_ERROR', 'next_commitment_number out of sync'), ctx, fx);

  // BOLT 2: "if next_commitment_number is 1 in both ...: MUST retransmit channel_ready".
  if (theirNextCommit === 1 && c.localCommit.index === 0 && d.localReady) fx.send(channelReadyMsg(d, ctx));
  if (resendCommit && c.waiting) {
    const rev = resendRev ? sendRevocation(c, ctx.keys) : undefined;
    const revWasLast = c.localCommit.index > c.waiting.sentAfterLocalCommitIndex;
    if (rev && !revWasLast) fx.send(rev);
    for (const u of c.changes.localSigned) fx.send(u);
    fx.send(c.waiting.sent);
    if (rev && revWasLast) fx.send(rev);
  } else if (resendRev) fx.send(sendRevocation(c, ctx.keys));
  // BOLT 2: "if it has sent a previous shutdown: MUST retransmit shutdown".
  if (d.localShutdown) fx.send(d.localShutdown);

  let next: FundedData = d;
  if (inner.kind === 'Negotiating') {
    // Negotiation restarts on reconnection.
    const st = startNegotiating(d, fx, ctx);
    return fx.done(st);
  }
  if (inner.kind === 'Normal' || inner.kind === 'Shutdown') {
    let cm = next.commitments;
    const left: PendingSettlement[] = [];
    for (const s of next.pendingSettlements) {
      const r =
        s.type === 'fulfill'
          ? sendFulfill(cm, s.id, s.preimage)
          : s.type === 'fail'
            ? sendFail(cm, s.id, s.reason)
            : sendFailMalformed(cm, s.id, s.sha256OfOnion, s.failureCode);
      if (r.ok) {
        cm = r.commitments;
        fx.send(r.msg);
      } else if (r.error.code !== 'UNKNOWN_HTLC_ID' && r.error.code !== 'HTLC_ALREADY_SETTLED') left.push(s);
    }
    if (next.pendingSettlements.length > 0) fx.persist = true;
    next = { ...next, commitments: cm, pendingSettlements: left };
    if (localHasChanges(cm) && !cm.waiting && cm.remoteNextPerCommitmentPoint) next = signInto(next, fx, ctx);
    return afterUpdate(inner, next, fx, ctx);
  }
  return fx.done(inner);
}

// =================================================================================================
// Closing

function stepClosing(state: Extract<ChannelState, { kind: 'Closing' }>, input: ChannelInput): StepResult {
  switch (input.type) {
    case 'ClosingTxConfirmed': {
      const cid = state.data.commitments.params.channelId;
      return {
        state: { kind: 'Closed', channelId: cid, closeType: state.closeType as CloseType },
        effects: [],
      };
    }
    case 'Connected':
    case 'channel_reestablish':
      // BOLT 2: "if a channel is in an error state: SHOULD retransmit the error packet".
      if (state.error && input.type === 'Connected')
        return { state, effects: [{ type: 'SendMessage', msg: state.error }] };
      return { state, effects: [] };
    default:
      if (isCommand(input))
        return rejected(state, input.type, chErr('CHANNEL_UNAVAILABLE', 'channel is closing'));
      return { state, effects: [] };
  }
}
