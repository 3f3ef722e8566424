// What tests do to a running dev node through its own tools: antctl over the local socket (apply, wait for
// realization, JSON answers), the policy flows as OVS dumps them, and the firmware's JSON log.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DevNode } from '../../scripts/lib/dev-node';
import type { NetworkPolicyView } from '../../firmware/core/antctl/views';
import { run, type RunResult } from './run';

/** Runs antctl against the node's socket; `input` goes to its stdin. Never throws on a failed command. */
export type Antctl = (args: string[], input?: string) => Promise<RunResult>;

export interface AntctlRunnerOptions {
  /** 0 (default): antctl may take as long as it takes. */
  timeoutMs?: number;
}

export function antctlRunner(node: DevNode, options: AntctlRunnerOptions = {}): Antctl {
  return (args, input) => {
    const [cmd, ...prefix] = node.antctlCommand();
    return run(cmd ?? 'node', [...prefix, '--socket', node.antctlSocket, ...args], {
      timeoutMs: options.timeoutMs ?? 0,
      input: input ?? '',
    });
  };
}

/** Runs antctl, asserts it succeeded and parses its stdout as JSON (pass `-o json` in args). */
export async function antctlJson<T>(antctl: Antctl, args: string[]): Promise<T> {
  const result = await antctl(args);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as T;
}

/** Writes `yaml` to <dir>/<name>.yaml and asserts `antctl apply -f` of it succeeds. */
export async function applyYaml(antctl: Antctl, dir: string, name: string, yaml: string): Promise<void> {
  const file = path.join(dir, `${name}.yaml`);
  fs.writeFileSync(file, yaml);
  const applied = await antctl(['apply', '-f', file]);
  assert.equal(applied.code, 0, applied.stderr);
}

export function listPolicies(antctl: Antctl): Promise<NetworkPolicyView[]> {
  return antctlJson<NetworkPolicyView[]>(antctl, ['get', 'networkpolicy', '-o', 'json']);
}

/**
 * Which policies waitRealized waits for: source policy names, or only how many there are.
 * - `{ exactly: names }`: these are all the source policies, and every one is realized;
 * - `{ atLeast: names }`: these are realized; others may exist, realized or not;
 * - `{ count: n }`: there are n policies, and every one is realized.
 */
export type RealizedWanted =
  { exactly: readonly string[] } | { atLeast: readonly string[] } | { count: number };

export interface WaitRealizedOptions {
  /** Keep polling through failed listings (e.g. while the firmware restarts) instead of failing at once. */
  tolerateErrors?: boolean;
}

/** Polls `antctl get networkpolicy` (100 ms, 30 s at most) until `wanted` holds; returns that listing. */
export async function waitRealized(
  antctl: Antctl,
  wanted: RealizedWanted,
  options: WaitRealizedOptions = {},
): Promise<NetworkPolicyView[]> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const listed = await antctl(['get', 'networkpolicy', '-o', 'json']);
    if (!options.tolerateErrors) assert.equal(listed.code, 0, listed.stderr);
    const views = JSON.parse(listed.stdout || '[]') as NetworkPolicyView[];
    if (realizedAsWanted(views, wanted)) return views;
    if (Date.now() > deadline) throw new Error(`policies not realized: ${listed.stdout}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function realizedAsWanted(views: readonly NetworkPolicyView[], wanted: RealizedWanted): boolean {
  const allRealized = views.every((v) => v.realization?.realized === true);
  if ('count' in wanted) return views.length === wanted.count && allRealized;
  if ('atLeast' in wanted) {
    const realized = views.filter((v) => v.realization?.realized === true).map((v) => v.sourceRef.name);
    return wanted.atLeast.every((name) => realized.includes(name));
  }
  const names = views.map((v) => v.sourceRef.name).sort();
  return JSON.stringify(names) === JSON.stringify([...wanted.exactly].sort()) && allRealized;
}

/** The cookie match of every flow the agent installs for NetworkPolicies (category 0x06). */
export const POLICY_COOKIES = 'cookie=0x0600000000000000/0xff00000000000000';

export interface DumpedFlow {
  /** The flow line without its counters and ages: what identifies the flow and what it does. */
  text: string;
  /** -1 when the line has none. */
  packets: number;
  durationSeconds: number;
}

/** Fields that change while a flow stays the same. */
const COUNTER_FIELDS = ['duration', 'n_packets', 'n_bytes', 'idle_age', 'hard_age', 'idle_time'];

export interface ParseFlowDumpOptions {
  /** More fields to leave out of `text`, e.g. 'cookie'. */
  omitFields?: readonly string[];
}

/** The flows of an `ovs-ofctl dump-flows` output, sorted by text. */
export function parseFlowDump(dump: string, options: ParseFlowDumpOptions = {}): DumpedFlow[] {
  const omitted = new Set([...COUNTER_FIELDS, ...(options.omitFields ?? [])]);
  return dump
    .split('\n')
    .filter((line) => line.includes('actions='))
    .map((line) => ({
      text: line
        .trim()
        .split(/,\s*|\s+/)
        .filter((part) => !omitted.has(/^([a-z0-9_]+)=/.exec(part)?.[1] ?? ''))
        .join(','),
      packets: Number(/n_packets=(\d+)/.exec(line)?.[1] ?? -1),
      durationSeconds: Number(/duration=([\d.]+)s/.exec(line)?.[1] ?? -1),
    }))
    .sort((a, b) => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0));
}

/** The node's policy flows with up-to-date counters (revalidators flushed first). */
export async function policyFlows(node: DevNode): Promise<DumpedFlow[]> {
  await node.ovs.appctl(['revalidator/wait']);
  return parseFlowDump(await node.ovs.ofctl(['dump-flows', 'br-int', POLICY_COOKIES]));
}

/** The firmware log's JSON records, from byte `offset` of the file on. */
export function firmwareLog(node: DevNode, offset = 0): Record<string, unknown>[] {
  return fs
    .readFileSync(node.logFile, 'utf8')
    .slice(offset)
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** The firmware log's records whose message is `msg`. */
export function logRecords(node: DevNode, msg: string): Record<string, unknown>[] {
  return firmwareLog(node).filter((record) => record['msg'] === msg);
}
