// A Traceflow result for people: a few summary lines and the observations as a table (antctl -o table and the
// serial console). JSON and YAML print the result object itself.
import { formatTable, type TableData } from '../output/format';
import type { TraceflowObservation, TraceflowResult } from './types';

export const OBSERVATION_COLUMNS = [
  'COMPONENT',
  'COMPONENT-INFO',
  'ACTION',
  'TABLE',
  'NETWORK-POLICY',
  'RULE',
  'DETAIL',
] as const;

export function observationTable(observations: readonly TraceflowObservation[]): TableData {
  return {
    columns: [...OBSERVATION_COLUMNS],
    rows: observations.map((o) => [
      o.component,
      o.componentInfo,
      o.action,
      o.tableName,
      policyText(o),
      o.ruleName ?? '',
      detailText(o),
    ]),
  };
}

export function traceflowText(result: TraceflowResult): string {
  const destination =
    result.destination.pod !== undefined
      ? `${result.destination.namespace ?? 'default'}/${result.destination.pod} (${result.destination.ip ?? '?'})`
      : (result.destination.ip ?? 'any');
  const lines = [
    `name:        ${result.name}${result.live ? ' (live traffic)' : ''}`,
    `source:      ${result.source.namespace}/${result.source.pod} (${result.source.ip})`,
    `destination: ${destination}`,
    `packet:      ${result.packet}`,
    `phase:       ${result.phase}${result.reason !== undefined ? ` (${result.reason})` : ''}`,
  ];
  if (result.verdict !== undefined) lines.push(`verdict:     ${result.verdict}`);
  let text = `${lines.join('\n')}\n`;
  if (result.observations.length > 0) {
    const table = observationTable(result.observations);
    text += `\n${formatTable(table.columns, table.rows)}`;
  }
  if (result.tablePath !== undefined && result.tablePath.length > 0) {
    text += `\ntables (ofproto/trace): ${result.tablePath.map((s) => s.tableName).join(' > ')}\n`;
  }
  return text;
}

function policyText(o: TraceflowObservation): string {
  const p = o.networkPolicy;
  if (p === undefined) return '';
  const name = p.namespace !== undefined ? `${p.namespace}/${p.name}` : p.name;
  return `${shortType(p.type)} ${name}`;
}

function shortType(type: string): string {
  switch (type) {
    case 'K8sNetworkPolicy':
      return 'K8sNP';
    case 'AntreaClusterNetworkPolicy':
      return 'ACNP';
    case 'AntreaNetworkPolicy':
      return 'ANNP';
    default:
      return type;
  }
}

function detailText(o: TraceflowObservation): string {
  const parts: string[] = [];
  if (o.direction !== undefined) parts.push(o.direction);
  if (o.pod !== undefined) parts.push(`pod ${o.pod}`);
  if (o.tunnelDstIP !== undefined) parts.push(`tunnel to ${o.tunnelDstIP}`);
  if (o.outputPort !== undefined && o.pod === undefined) parts.push(`port ${o.outputPort}`);
  return parts.join(', ');
}
