// The OpenFlow table registry of the pipeline, declared as data. Numbers and names are Antrea v0.9's (with the
// Antrea-native policy tables 45–49 and 85–89 enabled), so `antctl get ovsflows -T <name|number>` and flow dumps
// read the same as on an Antrea node.

/** What a table's priority-0 flow does with a packet no other flow of the table matched. */
export type TableMissAction = 'drop' | 'next';

export interface TableDef {
  readonly id: number;
  /** Antrea v0.9's name, as antctl prints it. */
  readonly name: string;
  readonly missAction: TableMissAction;
  /** The table a packet continues in after this one (the target of `missAction: 'next'`). */
  readonly next?: number;
  /** Other names antctl users may type for this table. */
  readonly aliases?: readonly string[];
}

export const Tables = {
  Classification: 0,
  SpoofGuard: 10,
  ARPResponder: 20,
  ConntrackZone: 30,
  ConntrackState: 31,
  DNAT: 40,
  CNPEmergencyEgressRule: 45,
  CNPSecurityOpsEgressRule: 46,
  CNPNetworkOpsEgressRule: 47,
  CNPPlatformEgressRule: 48,
  CNPApplicationEgressRule: 49,
  EgressRule: 50,
  EgressDefaultRule: 60,
  l3Forwarding: 70,
  L2Forwarding: 80,
  CNPEmergencyIngressRule: 85,
  CNPSecurityOpsIngressRule: 86,
  CNPNetworkOpsIngressRule: 87,
  CNPPlatformIngressRule: 88,
  CNPApplicationIngressRule: 89,
  IngressRule: 90,
  IngressDefaultRule: 100,
  ConntrackCommit: 105,
  Output: 110,
} as const;

export type TableName = keyof typeof Tables;
export type TableId = (typeof Tables)[TableName];

/**
 * Every table in pipeline order. Packets that no flow claims fall through the policy tables (CNP tiers,
 * K8s rule and default tables) to the next one; the entry, spoofing and output tables drop them. ARP ends in
 * ARPResponder (NORMAL or a crafted reply), so that table has no successor.
 */
export const PIPELINE_TABLES: readonly TableDef[] = [
  { id: Tables.Classification, name: 'Classification', missAction: 'drop', next: Tables.SpoofGuard },
  { id: Tables.SpoofGuard, name: 'SpoofGuard', missAction: 'drop', next: Tables.ConntrackZone },
  { id: Tables.ARPResponder, name: 'ARPResponder', missAction: 'drop' },
  { id: Tables.ConntrackZone, name: 'ConntrackZone', missAction: 'drop', next: Tables.ConntrackState },
  { id: Tables.ConntrackState, name: 'ConntrackState', missAction: 'next', next: Tables.DNAT },
  {
    id: Tables.DNAT,
    name: 'DNAT',
    missAction: 'next',
    next: Tables.CNPEmergencyEgressRule,
    aliases: ['DNAT(SessionAffinity)'],
  },
  {
    id: Tables.CNPEmergencyEgressRule,
    name: 'CNPEmergencyEgressRule',
    missAction: 'next',
    next: Tables.CNPSecurityOpsEgressRule,
  },
  {
    id: Tables.CNPSecurityOpsEgressRule,
    name: 'CNPSecurityOpsEgressRule',
    missAction: 'next',
    next: Tables.CNPNetworkOpsEgressRule,
  },
  {
    id: Tables.CNPNetworkOpsEgressRule,
    name: 'CNPNetworkOpsEgressRule',
    missAction: 'next',
    next: Tables.CNPPlatformEgressRule,
  },
  {
    id: Tables.CNPPlatformEgressRule,
    name: 'CNPPlatformEgressRule',
    missAction: 'next',
    next: Tables.CNPApplicationEgressRule,
  },
  {
    id: Tables.CNPApplicationEgressRule,
    name: 'CNPApplicationEgressRule',
    missAction: 'next',
    next: Tables.EgressRule,
  },
  { id: Tables.EgressRule, name: 'EgressRule', missAction: 'next', next: Tables.EgressDefaultRule },
  { id: Tables.EgressDefaultRule, name: 'EgressDefaultRule', missAction: 'next', next: Tables.l3Forwarding },
  { id: Tables.l3Forwarding, name: 'l3Forwarding', missAction: 'next', next: Tables.L2Forwarding },
  {
    id: Tables.L2Forwarding,
    name: 'L2Forwarding',
    missAction: 'next',
    next: Tables.CNPEmergencyIngressRule,
  },
  {
    id: Tables.CNPEmergencyIngressRule,
    name: 'CNPEmergencyIngressRule',
    missAction: 'next',
    next: Tables.CNPSecurityOpsIngressRule,
  },
  {
    id: Tables.CNPSecurityOpsIngressRule,
    name: 'CNPSecurityOpsIngressRule',
    missAction: 'next',
    next: Tables.CNPNetworkOpsIngressRule,
  },
  {
    id: Tables.CNPNetworkOpsIngressRule,
    name: 'CNPNetworkOpsIngressRule',
    missAction: 'next',
    next: Tables.CNPPlatformIngressRule,
  },
  {
    id: Tables.CNPPlatformIngressRule,
    name: 'CNPPlatformIngressRule',
    missAction: 'next',
    next: Tables.CNPApplicationIngressRule,
  },
  {
    id: Tables.CNPApplicationIngressRule,
    name: 'CNPApplicationIngressRule',
    missAction: 'next',
    next: Tables.IngressRule,
  },
  { id: Tables.IngressRule, name: 'IngressRule', missAction: 'next', next: Tables.IngressDefaultRule },
  {
    id: Tables.IngressDefaultRule,
    name: 'IngressDefaultRule',
    missAction: 'next',
    next: Tables.ConntrackCommit,
  },
  { id: Tables.ConntrackCommit, name: 'ConntrackCommit', missAction: 'next', next: Tables.Output },
  { id: Tables.Output, name: 'Output', missAction: 'drop' },
];

export const CNP_EGRESS_TABLES: readonly number[] = [
  Tables.CNPEmergencyEgressRule,
  Tables.CNPSecurityOpsEgressRule,
  Tables.CNPNetworkOpsEgressRule,
  Tables.CNPPlatformEgressRule,
  Tables.CNPApplicationEgressRule,
];

export const CNP_INGRESS_TABLES: readonly number[] = [
  Tables.CNPEmergencyIngressRule,
  Tables.CNPSecurityOpsIngressRule,
  Tables.CNPNetworkOpsIngressRule,
  Tables.CNPPlatformIngressRule,
  Tables.CNPApplicationIngressRule,
];

const tablesById = new Map<number, TableDef>(PIPELINE_TABLES.map((t) => [t.id, t]));

export function tableById(id: number): TableDef | undefined {
  return tablesById.get(id);
}

export class TableLookupError extends Error {
  override readonly name = 'TableLookupError';
  constructor(
    readonly code: 'NO_NEXT_TABLE',
    message: string,
  ) {
    super(message);
  }
}

/** The table a packet continues in after `id`; throws for tables where the pipeline ends or branches. */
export function nextTable(id: number): number {
  const next = tableById(id)?.next;
  if (next === undefined)
    throw new TableLookupError('NO_NEXT_TABLE', `table ${id} has no successor in the pipeline`);
  return next;
}

/** Looks a table up by number ("70") or by name, case-insensitively ("l3forwarding", "L3Forwarding"). */
export function resolveTable(nameOrNumber: string): TableDef | undefined {
  const text = nameOrNumber.trim();
  if (/^\d+$/.test(text)) return tableById(Number.parseInt(text, 10));
  const wanted = text.toLowerCase();
  return PIPELINE_TABLES.find(
    (t) => t.name.toLowerCase() === wanted || (t.aliases ?? []).some((a) => a.toLowerCase() === wanted),
  );
}
