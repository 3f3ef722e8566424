// Builders and inspectors shared by the policy controller tests.
import type { ContainerPort, LabelSelector, NamespaceInfo, PodInfo } from '../../firmware/core/api/types';
import type {
  AddressGroup,
  AppliedToGroup,
  ControllerChanges,
  ControllerSnapshot,
  InternalNetworkPolicy,
} from '../../firmware/core/controller/internal-types';
import type { PolicyController } from '../../firmware/core/controller/policy-controller';

export function namespace(name: string, labels: Record<string, string> = {}): NamespaceInfo {
  return { name, labels: { 'kubernetes.io/metadata.name': name, ...labels } };
}

let nextIp = 1;

export function pod(
  ns: string,
  name: string,
  labels: Record<string, string>,
  options: { ip?: string; node?: string; ports?: ContainerPort[] } = {},
): PodInfo {
  return {
    namespace: ns,
    name,
    labels,
    ip: options.ip ?? `10.0.${Math.floor(nextIp / 250)}.${(nextIp++ % 250) + 1}`,
    nodeName: options.node ?? 'node-1',
    containerPorts: options.ports ?? [],
  };
}

export const match = (labels: Record<string, string>): LabelSelector => ({ matchLabels: labels });

export function k8sPolicy(ns: string, name: string, spec: Record<string, unknown>): Record<string, unknown> {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { namespace: ns, name },
    spec,
  };
}

export function antreaPolicy(
  ns: string,
  name: string,
  spec: Record<string, unknown>,
): Record<string, unknown> {
  return {
    apiVersion: 'crd.antrea.io/v1beta1',
    kind: 'NetworkPolicy',
    metadata: { namespace: ns, name },
    spec,
  };
}

export function clusterPolicy(name: string, spec: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: 'crd.antrea.io/v1beta1', kind: 'ClusterNetworkPolicy', metadata: { name }, spec };
}

export function clusterGroup(name: string, spec: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: 'crd.antrea.io/v1beta1', kind: 'ClusterGroup', metadata: { name }, spec };
}

export function group(ns: string, name: string, spec: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: 'crd.antrea.io/v1beta1', kind: 'Group', metadata: { namespace: ns, name }, spec };
}

export function tier(name: string, priority: number): Record<string, unknown> {
  return { apiVersion: 'crd.antrea.io/v1beta1', kind: 'Tier', metadata: { name }, spec: { priority } };
}

export function service(
  ns: string,
  name: string,
  selector?: Record<string, string>,
): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { namespace: ns, name },
    spec: { ...(selector ? { selector } : {}), ports: [{ port: 80 }] },
  };
}

/** The internal policy compiled from the source object `kind/namespace/name`. */
export function policyFor(
  snapshot: ControllerSnapshot,
  type: InternalNetworkPolicy['sourceRef']['type'],
  name: string,
  ns?: string,
): InternalNetworkPolicy {
  for (const policy of snapshot.networkPolicies.values()) {
    if (
      policy.sourceRef.type === type &&
      policy.sourceRef.name === name &&
      policy.sourceRef.namespace === ns
    ) {
      return policy;
    }
  }
  throw new Error(`no internal policy for ${type} ${ns ?? ''}/${name}`);
}

export function addressGroup(snapshot: ControllerSnapshot, name: string | undefined): AddressGroup {
  const found = name === undefined ? undefined : snapshot.addressGroups.get(name);
  if (!found) throw new Error(`no AddressGroup ${name ?? '(undefined)'}`);
  return found;
}

export function appliedToGroup(snapshot: ControllerSnapshot, name: string | undefined): AppliedToGroup {
  const found = name === undefined ? undefined : snapshot.appliedToGroups.get(name);
  if (!found) throw new Error(`no AppliedToGroup ${name ?? '(undefined)'}`);
  return found;
}

export function memberNames(groupObject: AddressGroup | AppliedToGroup): string[] {
  return groupObject.members.map((member) => `${member.namespace}/${member.name}`);
}

/** The pods of the AddressGroups of rule `index` of `policy`. */
export function rulePeerMembers(
  snapshot: ControllerSnapshot,
  policy: InternalNetworkPolicy,
  index: number,
): string[] {
  const rule = policy.rules[index];
  if (!rule) throw new Error(`policy ${policy.name} has no rule ${index}`);
  return rule.peer.addressGroups.flatMap((name) => memberNames(addressGroup(snapshot, name))).sort();
}

export function appliedToMembers(snapshot: ControllerSnapshot, names: readonly string[]): string[] {
  return [...new Set(names.flatMap((name) => memberNames(appliedToGroup(snapshot, name))))].sort();
}

/** Plain, comparable copy of a snapshot (maps to sorted arrays). */
export function plainSnapshot(snapshot: ControllerSnapshot): {
  networkPolicies: [string, InternalNetworkPolicy][];
  addressGroups: [string, AddressGroup][];
  appliedToGroups: [string, AppliedToGroup][];
} {
  const sorted = <T>(map: ReadonlyMap<string, T>): [string, T][] =>
    [...map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    networkPolicies: sorted(snapshot.networkPolicies),
    addressGroups: sorted(snapshot.addressGroups),
    appliedToGroups: sorted(snapshot.appliedToGroups),
  };
}

export function changedNames(changes: ControllerChanges): {
  policies: string[];
  addressGroups: string[];
  appliedToGroups: string[];
  deleted: string[];
} {
  return {
    policies: changes.networkPolicies.upserted.map((policy) => policy.name),
    addressGroups: changes.addressGroups.upserted.map((groupObject) => groupObject.name),
    appliedToGroups: changes.appliedToGroups.upserted.map((groupObject) => groupObject.name),
    deleted: [
      ...changes.networkPolicies.deleted,
      ...changes.addressGroups.deleted,
      ...changes.appliedToGroups.deleted,
    ],
  };
}

export function isEmpty(changes: ControllerChanges): boolean {
  return (
    changes.networkPolicies.upserted.length +
      changes.networkPolicies.deleted.length +
      changes.addressGroups.upserted.length +
      changes.addressGroups.deleted.length +
      changes.appliedToGroups.upserted.length +
      changes.appliedToGroups.deleted.length ===
    0
  );
}

export function applyAll(controller: PolicyController, objects: readonly unknown[]): void {
  for (const object of objects) controller.applyObject(object);
}
