// `ovs-appctl ofproto/trace` for the packet a Traceflow injects: the flow text to trace and the per-table path
// read back from its output. ofproto/trace only simulates (no packet, no counters, no packet-in), so it fills in
// the tables between observation points; verdicts come from the real packet only. Conntrack recirculations are
// resumed with ofproto/trace's default ct_state (trk,new), which is what a fresh connection sees.
import { tableById } from '../pipeline/tables';
import { TRACEFLOW_TAG_REG } from './flows';
import type { TracePacketSpec } from './packet';
import type { TablePathStep } from './types';

/** The `ofproto/trace <bridge> <flow>` flow argument for the injected packet, marked with `tag`. */
export function ofprotoTraceFlow(spec: TracePacketSpec, inPort: number, tag: number): string {
  const base = [
    `in_port=${inPort}`,
    `reg${TRACEFLOW_TAG_REG}=${tag}`,
    spec.protocol === 'TCP' ? 'tcp' : spec.protocol === 'UDP' ? 'udp' : 'icmp',
    `dl_src=${spec.srcMac.toLowerCase()}`,
    `dl_dst=${spec.dstMac.toLowerCase()}`,
    `nw_src=${spec.srcIp}`,
    `nw_dst=${spec.dstIp}`,
    `nw_ttl=${spec.ttl ?? 64}`,
  ];
  if (spec.protocol === 'ICMP') base.push('icmp_type=8', 'icmp_code=0');
  else base.push(`tp_src=${spec.srcPort ?? 0}`, `tp_dst=${spec.dstPort ?? 0}`);
  if (spec.protocol === 'TCP') base.push('tcp_flags=syn');
  return base.join(',');
}

const STEP = /^\s*(\d+)\.\s+(.*)$/;

/**
 * The tables the traced packet went through, in order, with the flow that matched in each and its actions.
 * Lines that are not steps or their actions (headers, "->" notes, the final flow and datapath actions) are
 * skipped; an unexpected text yields fewer steps, never an exception.
 */
export function parseOfprotoTrace(text: string): TablePathStep[] {
  const steps: TablePathStep[] = [];
  let current: TablePathStep | undefined;
  for (const line of text.split('\n')) {
    const step = STEP.exec(line);
    if (step) {
      const tableId = Number(step[1]);
      current = {
        tableId,
        tableName: tableById(tableId)?.name ?? String(tableId),
        flow: (step[2] ?? '').trim(),
        actions: [],
      };
      steps.push(current);
      continue;
    }
    const trimmed = line.trim();
    if (
      current === undefined ||
      trimmed === '' ||
      !/^\s{4,}/.test(line) ||
      trimmed.startsWith('->') ||
      trimmed.startsWith('>>>')
    ) {
      if (trimmed === '' || /^[A-Z=]/.test(trimmed)) current = undefined;
      continue;
    }
    current.actions.push(trimmed);
  }
  return steps;
}
