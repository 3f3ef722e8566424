// Reads and writes a bridge's OpenFlow flows through ovs-ofctl (OpenFlow 1.3). Every write is ONE
// `ovs-ofctl --bundle add-flows <bridge> -` call: OVS applies the whole bundle or, if any flow mod fails
// (a parse error in ovs-ofctl or a rejection by ovs-vswitchd), none of it.
//
// Bundle line kinds, measured on OVS 3.1 with -O OpenFlow13:
//   add <flow>            adds, or replaces the flow with the same table/priority/match; a replacement keeps
//                         the old flow's packet/byte counters and takes the new cookie and actions.
//   delete_strict <sel>   deletes exactly the flow with that table/priority/match.
//   modify_strict <flow>  changes actions only: under OpenFlow 1.3 it never changes the cookie and silently
//                         does nothing when the flow is gone. Plan modifications are therefore written as `add`.
import { spawn } from 'node:child_process';
import type { Logger } from '../core/logger';
import {
  formatCookie,
  formatFlowMod,
  formatFlowSelector,
  inScope,
  parseDumpFlowsLine,
  type CookieScope,
  type Flow,
  type InstalledFlow,
} from '../core/pipeline/flow';
import { isEmptyPlan, planFlows, type FlowPlan } from '../core/plan/flow-plan';

export type { InstalledFlow } from '../core/pipeline/flow';

export interface FlowFilter {
  cookie?: bigint;
  /** Bits of `cookie` that must match; all 64 when only `cookie` is given. */
  cookieMask?: bigint;
  table?: number;
}

export interface FlowTextFilter extends FlowFilter {
  /** Print port names instead of numbers (default true: these lines are for people). */
  names?: boolean;
}

export type FlowWriteErrorCode =
  | 'BUNDLE_REJECTED'
  | 'DUMP_FAILED'
  | 'OFCTL_NOT_RUN'
  /** ovs-ofctl was killed after `timeoutMs`: whether a bundle got committed is unknown; resync. */
  | 'OFCTL_TIMEOUT'
  | 'FLOW_OUT_OF_SCOPE';

export class FlowWriteError extends Error {
  override readonly name = 'FlowWriteError';
  constructor(
    readonly code: FlowWriteErrorCode,
    message: string,
    /** What ovs-ofctl wrote to stderr (empty when it never ran). */
    readonly ofctlMessage = '',
    readonly exitCode: number | null = null,
  ) {
    super(message);
  }
}

export interface FlowWriterOptions {
  bridge: string;
  /** Environment for ovs-ofctl; OVS_RUNDIR must point at the directory holding `<bridge>.mgmt`. */
  env: NodeJS.ProcessEnv;
  logger: Logger;
  ofctlPath?: string;
  /** Kill an ovs-ofctl call that takes longer than this (a wedged ovs-vswitchd). Default 120 s. */
  timeoutMs?: number;
}

interface OfctlResult {
  exitCode: number | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
}

const ALL_COOKIE_BITS = 0xffff_ffff_ffff_ffffn;

export class FlowWriter {
  private readonly ofctlPath: string;
  private readonly timeoutMs: number;
  /** Serialises writes so that one sync's dump and bundle are not interleaved with another write. */
  private writes: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: FlowWriterOptions) {
    this.ofctlPath = options.ofctlPath ?? 'ovs-ofctl';
    this.timeoutMs = options.timeoutMs ?? 120_000;
  }

  async dumpFlows(filter: FlowFilter = {}): Promise<InstalledFlow[]> {
    const lines = await this.dump(filter, false);
    const flows: InstalledFlow[] = [];
    for (const line of lines) {
      const parsed = parseDumpFlowsLine(line);
      if (parsed) flows.push(parsed);
      else if (/\bactions=/.test(line)) this.options.logger.warn('unparsed dump-flows line', { line });
    }
    return flows;
  }

  /** dump-flows lines as a person (antctl) reads them, with port names unless `names: false`. */
  async dumpFlowsText(filter: FlowTextFilter = {}): Promise<string[]> {
    return (await this.dump(filter, filter.names ?? true))
      .filter((l) => /\bactions=/.test(l))
      .map((l) => l.trim());
  }

  /** Applies a plan atomically; an empty plan runs nothing. Throws FlowWriteError and changes nothing on error. */
  apply(plan: FlowPlan): Promise<void> {
    return this.serialise(() => this.applyNow(plan));
  }

  /**
   * Makes the flows selected by `scope` equal to `desired`: dumps only that scope, plans, applies. Flows outside
   * the scope are neither read nor written. Returns the plan it applied (empty: no bundle was sent).
   */
  sync(desired: Flow[], scope: CookieScope): Promise<FlowPlan> {
    const outside = desired.find((f) => !inScope(f.cookie, scope));
    if (outside) {
      const scopeText = `${formatCookie(scope.cookie)}/${formatCookie(scope.cookieMask)}`;
      return Promise.reject(
        new FlowWriteError(
          'FLOW_OUT_OF_SCOPE',
          `desired flow with cookie ${formatCookie(outside.cookie)} is outside the sync scope ${scopeText}`,
        ),
      );
    }
    return this.serialise(async () => {
      const installed = await this.dumpFlows(scope);
      const plan = planFlows(desired, installed);
      await this.applyNow(plan);
      this.options.logger.debug('flows synchronised', {
        scope: `${formatCookie(scope.cookie)}/${formatCookie(scope.cookieMask)}`,
        desired: desired.length,
        installed: installed.length,
        added: plan.add.length,
        modified: plan.modify.length,
        deleted: plan.delete.length,
      });
      return plan;
    });
  }

  private async applyNow(plan: FlowPlan): Promise<void> {
    if (isEmptyPlan(plan)) return;
    // Deletes go first: if OVS regards a deleted flow and an added one as the same flow although their text
    // differs (e.g. `tp_dst=0x35/0xffff` and `tp_dst=53`), the add then wins instead of being deleted again.
    const lines: string[] = [];
    for (const f of plan.delete) lines.push(`delete_strict ${formatFlowSelector(f)}`);
    for (const f of plan.modify) lines.push(`add ${formatFlowMod(f)}`);
    for (const f of plan.add) lines.push(`add ${formatFlowMod(f)}`);
    const args = ['-O', 'OpenFlow13', '--bundle', 'add-flows', this.options.bridge, '-'];
    const result = await this.run(args, `${lines.join('\n')}\n`);
    if (result.exitCode !== 0) {
      const message = result.stderr.trim();
      throw new FlowWriteError(
        'BUNDLE_REJECTED',
        `ovs-ofctl rejected the bundle (${plan.add.length} add, ${plan.modify.length} modify, ${plan.delete.length} delete); nothing was changed: ${message}`,
        message,
        result.exitCode,
      );
    }
    // ovs-ofctl silently drops match fields whose prerequisites are missing and says so only on stderr.
    if (result.stderr.trim().length > 0) {
      this.options.logger.warn('ovs-ofctl reported problems with an applied bundle', {
        stderr: result.stderr.trim(),
      });
    }
  }

  private async dump(filter: FlowFilter, names: boolean): Promise<string[]> {
    const args = ['-O', 'OpenFlow13', 'dump-flows', names ? '--names' : '--no-names', this.options.bridge];
    const selector = formatFilter(filter);
    if (selector) args.push(selector);
    const result = await this.run(args);
    if (result.exitCode !== 0) {
      const message = result.stderr.trim();
      throw new FlowWriteError(
        'DUMP_FAILED',
        `ovs-ofctl dump-flows failed: ${message}`,
        message,
        result.exitCode,
      );
    }
    return result.stdout.split('\n');
  }

  private async run(args: string[], stdin?: string): Promise<OfctlResult> {
    const result = await this.spawnOfctl(args, stdin);
    if (result.timedOut) {
      throw new FlowWriteError(
        'OFCTL_TIMEOUT',
        `ovs-ofctl ${args.slice(2, 4).join(' ')} did not finish within ${this.timeoutMs} ms and was killed`,
        result.stderr.trim(),
      );
    }
    return result;
  }

  private spawnOfctl(args: string[], stdin?: string): Promise<OfctlResult> {
    return new Promise<OfctlResult>((resolve, reject) => {
      const child = spawn(this.ofctlPath, args, { env: this.options.env, stdio: ['pipe', 'pipe', 'pipe'] });
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, this.timeoutMs);
      child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
      child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(new FlowWriteError('OFCTL_NOT_RUN', `cannot run ${this.ofctlPath}: ${err.message}`));
      });
      child.on('close', (exitCode) => {
        clearTimeout(timer);
        const err = Buffer.concat(stderr).toString('utf8');
        resolve({ exitCode, timedOut, stdout: Buffer.concat(stdout).toString('utf8'), stderr: err });
      });
      // A child that dies before reading all of stdin makes the pipe fail with EPIPE; its exit status says why.
      child.stdin.on('error', () => undefined);
      child.stdin.end(stdin ?? '');
    });
  }

  private serialise<T>(work: () => Promise<T>): Promise<T> {
    const run = this.writes.then(work, work);
    this.writes = run.catch(() => undefined);
    return run;
  }
}

function formatFilter(filter: FlowFilter): string {
  const parts: string[] = [];
  if (filter.cookie !== undefined || filter.cookieMask !== undefined) {
    const mask = filter.cookieMask ?? ALL_COOKIE_BITS;
    parts.push(`cookie=${formatCookie((filter.cookie ?? 0n) & mask)}/${formatCookie(mask)}`);
  }
  if (filter.table !== undefined) parts.push(`table=${filter.table}`);
  return parts.join(',');
}
