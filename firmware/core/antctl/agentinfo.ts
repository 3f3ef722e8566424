// The agent's info as Antrea shapes it: AntreaAgentInfo for `get agentinfo -o json|yaml`, and the key/value tree
// of `kubectl describe antreaagentinfos` for `describe agentinfo`. The local API keeps sending AgentInfoView (the
// table's fields), so scripts and the Node-RED palette that read it are unaffected.
import { PIPELINE_TABLES, resolveTable, tableById } from '../pipeline/tables';
import {
  firmwareRefs,
  type AgentConditionView,
  type AgentInfoView,
  type AntreaAgentInfoView,
  type ObjectReferenceView,
} from './views';

export function antreaAgentInfo(view: AgentInfoView): AntreaAgentInfoView {
  const info: AntreaAgentInfoView = {
    apiVersion: 'crd.antrea.io/v1beta1',
    kind: 'AntreaAgentInfo',
    metadata: { name: view.nodeName },
    ...(view.version === undefined ? {} : { version: view.version }),
    ...firmwareRefs(view.podName, view.nodeName),
    nodeSubnets: [...view.nodeSubnets],
    ovsInfo: {
      ...(view.ovsdbConnectionUp === false ? {} : { version: view.ovsVersion }),
      bridgeName: view.bridgeName,
      flowTable: flowTableById(view.flowsPerTable),
    },
    networkPolicyControllerInfo: {
      networkPolicyNum: view.networkPolicies,
      addressGroupNum: view.addressGroups,
      appliedToGroupNum: view.appliedToGroups,
    },
    localPodNum: view.localPods,
  };
  if (view.heartbeatTime !== undefined) info.agentConditions = agentConditions(view, view.heartbeatTime);
  return info;
}

/**
 * Antrea's AgentHealthy is always True (its heartbeat is the health signal); here the agent knows when it is not
 * healthy (starting, resynchronising after an ovs-vswitchd restart), so it says False then.
 */
function agentConditions(view: AgentInfoView, lastHeartbeatTime: string): AgentConditionView[] {
  const status = (up: boolean): AgentConditionView['status'] => (up ? 'True' : 'False');
  const conditions: AgentConditionView[] = [
    { type: 'AgentHealthy', status: status(view.status === 'Healthy'), lastHeartbeatTime },
  ];
  if (view.ovsdbConnectionUp !== undefined) {
    conditions.push({ type: 'OVSDBConnectionUp', status: status(view.ovsdbConnectionUp), lastHeartbeatTime });
  }
  if (view.openflowConnectionUp !== undefined) {
    conditions.push({
      type: 'OpenflowConnectionUp',
      status: status(view.openflowConnectionUp),
      lastHeartbeatTime,
    });
  }
  return conditions;
}

/** Every pipeline table (0 when it has no flows), plus any other table that has flows; keys are numbers. */
function flowTableById(flowsPerTable: Readonly<Record<string, number>>): Record<string, number> {
  const counts = new Map<number, number>(PIPELINE_TABLES.map((table) => [table.id, 0]));
  for (const [key, count] of Object.entries(flowsPerTable)) {
    const id = resolveTable(key)?.id ?? (/^\d+$/.test(key) ? Number(key) : undefined);
    if (id !== undefined) counts.set(id, (counts.get(id) ?? 0) + count);
  }
  const flowTable: Record<string, number> = {};
  for (const id of [...counts.keys()].sort((a, b) => a - b)) flowTable[String(id)] = counts.get(id) ?? 0;
  return flowTable;
}

// ---------------------------------------------------------------------------------------------------
// describe

/** A line of the tree: a value, nested lines, or lines printed as they are (a list, a table). */
type DescribeEntry = readonly [label: string, value: string | readonly DescribeEntry[] | { lines: string[] }];

const NONE = '<none>';

/**
 * kubectl describe's layout: `Label:` then the value, values of consecutive lines aligned, nested fields
 * indented by two spaces. Flow tables are listed in pipeline order with their names; conditions as a table, as
 * kubectl describe node prints them.
 */
export function describeAgentInfo(info: AntreaAgentInfoView): string {
  const counts = info.networkPolicyControllerInfo;
  const entries: DescribeEntry[] = [
    ['Name', info.metadata.name],
    ['Version', info.version ?? NONE],
    ['Node Ref', referenceEntries(info.nodeRef)],
    ['Pod Ref', referenceEntries(info.podRef)],
    ['Node Subnets', info.nodeSubnets.length === 0 ? NONE : { lines: info.nodeSubnets }],
    [
      'OVS Info',
      [
        ['Version', info.ovsInfo.version ?? NONE],
        ['Bridge Name', info.ovsInfo.bridgeName],
        ['Flow Table', flowTableEntries(info.ovsInfo.flowTable)],
      ],
    ],
    [
      'Network Policy Controller Info',
      [
        ['Network Policy Num', String(counts.networkPolicyNum)],
        ['Address Group Num', String(counts.addressGroupNum)],
        ['Applied To Group Num', String(counts.appliedToGroupNum)],
      ],
    ],
    ['Local Pod Num', String(info.localPodNum)],
    ['Agent Conditions', conditionLines(info.agentConditions ?? [])],
  ];
  return renderEntries(entries, '')
    .map((line) => `${line}\n`)
    .join('');
}

function referenceEntries(ref: ObjectReferenceView): DescribeEntry[] {
  return [
    ['Kind', ref.kind],
    ...(ref.namespace === undefined ? [] : [['Namespace', ref.namespace] as const]),
    ['Name', ref.name],
  ];
}

function flowTableEntries(flowTable: Readonly<Record<string, number>>): DescribeEntry[] | string {
  const ids = Object.keys(flowTable)
    .map(Number)
    .sort((a, b) => a - b);
  if (ids.length === 0) return NONE;
  return ids.map((id): DescribeEntry => {
    const name = tableById(id)?.name;
    return [name === undefined ? String(id) : `${id} ${name}`, String(flowTable[String(id)] ?? 0)];
  });
}

function conditionLines(conditions: readonly AgentConditionView[]): { lines: string[] } | string {
  if (conditions.length === 0) return NONE;
  const rows = [
    ['Type', 'Status', 'LastHeartbeatTime', 'Reason', 'Message'],
    ['----', '------', '-----------------', '------', '-------'],
    ...conditions.map((c) => [c.type, c.status, c.lastHeartbeatTime, c.reason ?? '', c.message ?? '']),
  ];
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  return {
    lines: rows.map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join('   ')
        .trimEnd(),
    ),
  };
}

function renderEntries(entries: readonly DescribeEntry[], indent: string): string[] {
  const lines: string[] = [];
  // A run of consecutive label/value lines shares one value column.
  let run: (readonly [string, string])[] = [];
  const flushRun = (): void => {
    const width = Math.max(...run.map(([label]) => label.length)) + 1;
    for (const [label, value] of run) lines.push(`${indent}${`${label}:`.padEnd(width)}  ${value}`);
    run = [];
  };
  for (const [label, value] of entries) {
    if (typeof value === 'string') {
      run.push([label, value]);
      continue;
    }
    flushRun();
    lines.push(`${indent}${label}:`);
    const nested = `${indent}  `;
    if ('lines' in value) lines.push(...value.lines.map((line) => `${nested}${line}`));
    else lines.push(...renderEntries(value, nested));
  }
  flushRun();
  return lines;
}
