// Applies flow plans over the agent's own OpenFlow 1.3 connection, as ONE atomic ONF bundle per plan, instead
// of starting `ovs-ofctl --bundle add-flows` for every change (~20 ms of process start, library loading,
// connection and negotiation even for one flow). The messages are the ones ovs-ofctl would send for the same
// text (firmware/core/openflow/flow-mod.ts), so `dump-flows` prints the flows back the same way.
//
// One plan = open, delete_strict mods, then add mods (modifications are adds, see flow-writer.ts), a barrier;
// commit once the barrier is answered without error, discard otherwise. The barrier is needed because OVS does
// not invalidate a bundle when one of its messages fails: it answers that message with an error and leaves it
// out, and a commit would apply the rest (lib/vconn.c vconn_bundle_transact does the same).
//
// Falls back to the ovs-ofctl FlowWriter (whole plan, same semantics) when the channel is not connected, when a
// flow has a token flow-mod.ts cannot encode, or when the connection is lost during the exchange (re-applying a
// plan is harmless: adds replace, deleting a missing flow is no error). Dumps always use ovs-ofctl.
import type { Logger } from '../core/logger';
import {
  BundleControlType,
  FlowModEncoder,
  ONF_EXPERIMENTER_ID,
  OnfType,
  OFP_VERSION_1_3,
  encodeBundleControl,
  onfBundleErrorName,
  type FlowMod,
} from '../core/openflow/flow-mod';
import { OFPET_EXPERIMENTER } from '../core/openflow/errors';
import type { OpenFlowMessage } from '../core/openflow/messages';
import { formatFlowMod, formatFlowSelector } from '../core/pipeline/flow';
import { isEmptyPlan, type FlowPlan } from '../core/plan/flow-plan';
import type { FlowFilter, FlowTextFilter, FlowWriter, InstalledFlow } from './flow-writer';
import {
  OpenFlowChannelError,
  type OpenFlowChannel,
  type OpenFlowSwitchError,
  type TransactResult,
} from './openflow-channel';

export type OpenFlowFlowWriteErrorCode =
  /** The switch rejected a flow mod (or the bundle); the bundle was discarded: nothing changed. */
  | 'BUNDLE_REJECTED'
  /** No answer in time; whether a commit took effect is unknown: resync. */
  | 'OPENFLOW_TIMEOUT';

export class OpenFlowFlowWriteError extends Error {
  override readonly name = 'OpenFlowFlowWriteError';
  constructor(
    readonly code: OpenFlowFlowWriteErrorCode,
    message: string,
    /** The switch's error, e.g. OFPET_BAD_INSTRUCTION / OFPBIC_BAD_TABLE_ID (undefined for timeouts). */
    readonly switchError: { type: string; code: string } | undefined,
    /** The bundle line the switch rejected (`add cookie=…` / `delete_strict table=…`), when known. */
    readonly flowText: string | undefined,
  ) {
    super(message);
  }
}

/** The channel operations this writer needs (an OpenFlowChannel created with version 'OpenFlow13'). */
export type FlowModChannel = Pick<
  OpenFlowChannel,
  'isConnected' | 'protocolVersion' | 'allocateXids' | 'transact'
>;

/** The ovs-ofctl writer's operations this writer delegates. */
export type FallbackFlowWriter = Pick<FlowWriter, 'apply' | 'dumpFlows' | 'dumpFlowsText'>;

export interface OpenFlowFlowWriterOptions {
  channel: FlowModChannel;
  fallback: FallbackFlowWriter;
  logger: Logger;
  /** Longest wait for the barrier and for the commit reply. Default 60 s (35k flows take ~1 s). */
  timeoutMs?: number;
}

export interface OpenFlowFlowWriterStats {
  /** Plans applied as a bundle over the channel. */
  bundles: number;
  /** Plans handed to ovs-ofctl, by reason. */
  fallbackNotConnected: number;
  fallbackUnsupported: number;
  fallbackConnectionLost: number;
  rejected: number;
}

/** Where the time of the last bundle went (ms). */
export interface BundleTimings {
  mods: number;
  bytes: number;
  /** Text → wire bytes. */
  encodeMs: number;
  /** Sending open, adds and barrier until the barrier reply (the switch checked every flow mod). */
  stageMs: number;
  /** Commit until its reply (the switch applied the bundle). */
  commitMs: number;
}

export class OpenFlowFlowWriter {
  private readonly logger: Logger;
  private readonly encoder = new FlowModEncoder();
  private readonly timeoutMs: number;
  private writes: Promise<unknown> = Promise.resolve();
  private nextBundleId = 1;
  private lastTimings: BundleTimings | undefined;
  private readonly counters: OpenFlowFlowWriterStats = {
    bundles: 0,
    fallbackNotConnected: 0,
    fallbackUnsupported: 0,
    fallbackConnectionLost: 0,
    rejected: 0,
  };

  constructor(private readonly options: OpenFlowFlowWriterOptions) {
    this.logger = options.logger.child({ component: 'openflow-flow-writer' });
    this.timeoutMs = options.timeoutMs ?? 60_000;
  }

  get stats(): Readonly<OpenFlowFlowWriterStats> {
    return { ...this.counters };
  }

  /** The last bundle applied over the channel. */
  get lastBundle(): BundleTimings | undefined {
    return this.lastTimings;
  }

  dumpFlows(filter: FlowFilter = {}): Promise<InstalledFlow[]> {
    return this.options.fallback.dumpFlows(filter);
  }

  dumpFlowsText(filter: FlowTextFilter = {}): Promise<string[]> {
    return this.options.fallback.dumpFlowsText(filter);
  }

  /**
   * Applies a plan atomically (deletes first, then adds and modifications); an empty plan sends nothing.
   * Throws OpenFlowFlowWriteError (BUNDLE_REJECTED: nothing changed) or whatever the ovs-ofctl fallback throws.
   */
  apply(plan: FlowPlan): Promise<void> {
    const run = this.writes.then(
      () => this.applyNow(plan),
      () => this.applyNow(plan),
    );
    this.writes = run.catch(() => undefined);
    return run;
  }

  private async applyNow(plan: FlowPlan): Promise<void> {
    if (isEmptyPlan(plan)) return;
    const channel = this.options.channel;
    if (!channel.isConnected || channel.protocolVersion !== OFP_VERSION_1_3) {
      this.counters.fallbackNotConnected++;
      this.logger.debug('OpenFlow channel not connected: flows go through ovs-ofctl');
      return this.options.fallback.apply(plan);
    }
    const mods: FlowMod[] = [];
    for (const flow of plan.delete) mods.push({ command: 'delete_strict', flow });
    for (const flow of plan.modify) mods.push({ command: 'add', flow });
    for (const flow of plan.add) mods.push({ command: 'add', flow });

    // open, adds, barrier, then commit or discard: one xid each.
    const firstXid = channel.allocateXids(mods.length + 3);
    const bundleId = this.allocateBundleId();
    const t0 = performance.now();
    const encoded = this.encoder.encodeBundle(mods, { bundleId, firstXid });
    if (!encoded.ok) {
      this.counters.fallbackUnsupported++;
      this.logger.debug('flow not encodable here: plan goes through ovs-ofctl', {
        token: encoded.token,
        reason: encoded.reason,
      });
      return this.options.fallback.apply(plan);
    }
    const lineOf = (xid: number): string | undefined => {
      const mod = mods[xid - encoded.firstAddXid];
      return mod === undefined ? undefined : bundleLine(mod);
    };
    const finalXid = encoded.barrierXid + 1;
    const errorXids = { first: firstXid, count: mods.length + 3 };
    let committing = false;
    const t1 = performance.now();
    let t2 = t1;
    try {
      const staged = await channel.transact(encoded.bytes, {
        replyXid: encoded.barrierXid,
        errorXids,
        what: 'bundle barrier',
        timeoutMs: this.timeoutMs,
      });
      if (staged.errors.length > 0) {
        await this.discard(bundleId, finalXid, errorXids);
        throw this.rejection(staged.errors, lineOf, mods.length);
      }
      committing = true;
      t2 = performance.now();
      const committed = await channel.transact(
        encodeBundleControl(finalXid, bundleId, BundleControlType.CommitRequest),
        { replyXid: finalXid, errorXids, what: 'bundle commit', timeoutMs: this.timeoutMs },
      );
      this.checkCommit(committed, bundleId, lineOf, mods.length);
    } catch (err) {
      if (err instanceof OpenFlowChannelError) {
        if (err.code === 'OPENFLOW_TIMEOUT') {
          throw new OpenFlowFlowWriteError(
            'OPENFLOW_TIMEOUT',
            `${committing ? 'bundle commit' : 'bundle'} of ${mods.length} flow mods unanswered after ${this.timeoutMs} ms${committing ? '; whether it was applied is unknown' : ''}`,
            undefined,
            undefined,
          );
        }
        // The connection went away (the switch drops uncommitted bundles with it) or was never usable.
        this.counters.fallbackConnectionLost++;
        this.logger.warn(
          'OpenFlow connection lost while writing flows: applying the plan through ovs-ofctl',
          {
            error: err.message,
            committing,
          },
        );
        return this.options.fallback.apply(plan);
      }
      throw err;
    }
    this.counters.bundles++;
    const t3 = performance.now();
    this.lastTimings = {
      mods: mods.length,
      bytes: encoded.bytes.length,
      encodeMs: t1 - t0,
      stageMs: t2 - t1,
      commitMs: t3 - t2,
    };
    this.logger.debug('flow bundle applied', { ...this.lastTimings });
  }

  private allocateBundleId(): number {
    const id = this.nextBundleId;
    this.nextBundleId = id >= 0xffff_fffe ? 1 : id + 1;
    return id;
  }

  /** Best effort: a bundle that stays open is dropped with the connection anyway. */
  private async discard(
    bundleId: number,
    xid: number,
    errorXids: { first: number; count: number },
  ): Promise<void> {
    try {
      await this.options.channel.transact(
        encodeBundleControl(xid, bundleId, BundleControlType.DiscardRequest),
        { replyXid: xid, errorXids, what: 'bundle discard', timeoutMs: this.timeoutMs },
      );
    } catch (err) {
      this.logger.debug('bundle discard failed', { error: (err as Error).message });
    }
  }

  private checkCommit(
    result: TransactResult,
    bundleId: number,
    lineOf: (xid: number) => string | undefined,
    count: number,
  ): void {
    if (result.errors.length > 0) throw this.rejection(result.errors, lineOf, count);
    const reply = result.reply;
    if (!reply || !isBundleReply(reply, bundleId, BundleControlType.CommitReply)) {
      this.counters.rejected++;
      throw new OpenFlowFlowWriteError(
        'BUNDLE_REJECTED',
        `unexpected answer to the bundle commit: ${reply?.type ?? 'none'}`,
        undefined,
        undefined,
      );
    }
  }

  /** The error naming a flow (the switch answers a failing flow mod first, then the commit or barrier). */
  private rejection(
    errors: readonly OpenFlowSwitchError[],
    lineOf: (xid: number) => string | undefined,
    count: number,
  ): OpenFlowFlowWriteError {
    this.counters.rejected++;
    const first = errors.find((e) => lineOf(e.xid) !== undefined) ?? errors[0];
    if (!first)
      return new OpenFlowFlowWriteError(
        'BUNDLE_REJECTED',
        'the switch rejected the bundle',
        undefined,
        undefined,
      );
    const name = switchErrorName(first);
    const line = lineOf(first.xid);
    const message = `the switch rejected the bundle (${count} flow mods); nothing was changed: ${name.type}/${name.code}${line ? ` for "${line}"` : ''}`;
    this.logger.warn('flow bundle rejected', { errorType: name.type, errorCode: name.code, flow: line });
    return new OpenFlowFlowWriteError('BUNDLE_REJECTED', message, name, line);
  }
}

function bundleLine(mod: FlowMod): string {
  return mod.command === 'delete_strict'
    ? `delete_strict ${formatFlowSelector(mod.flow)}`
    : `add ${formatFlowMod(mod.flow)}`;
}

/** Names ONF experimenter bundle errors (2300+) the generic table does not know. */
function switchErrorName(error: OpenFlowSwitchError): { type: string; code: string } {
  const m = error.message;
  if (m.errorType === OFPET_EXPERIMENTER && m.experimenter === ONF_EXPERIMENTER_ID) {
    return { type: 'ONF_BUNDLE', code: onfBundleErrorName(m.errorCode) ?? `ONF_${m.errorCode}` };
  }
  return { type: error.errorType, code: error.errorCode };
}

function isBundleReply(message: OpenFlowMessage, bundleId: number, type: number): boolean {
  if (message.type !== 'unknown') return false;
  if (message.experimenter !== ONF_EXPERIMENTER_ID || message.experimenterType !== OnfType.BundleControl)
    return false;
  const body = message.body;
  if (body.length < 8) return false;
  const v = new DataView(body.buffer, body.byteOffset, body.byteLength);
  return v.getUint32(0) === bundleId && v.getUint16(4) === type;
}
