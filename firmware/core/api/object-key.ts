// One key per stored policy object, "<Kind>/<namespace>/<name>". Kubernetes and Antrea both have a kind called
// NetworkPolicy, so the key spells the API family out (K8sNetworkPolicy vs AntreaNetworkPolicy); cluster-scoped
// kinds leave the namespace empty ("ClusterNetworkPolicy//name").
import type { PolicyObject } from './types';

export type ObjectKind =
  | 'K8sNetworkPolicy'
  | 'AntreaNetworkPolicy'
  | 'ClusterNetworkPolicy'
  | 'Tier'
  | 'ClusterGroup'
  | 'Group'
  | 'Service';

export const OBJECT_KINDS: readonly ObjectKind[] = [
  'K8sNetworkPolicy',
  'AntreaNetworkPolicy',
  'ClusterNetworkPolicy',
  'Tier',
  'ClusterGroup',
  'Group',
  'Service',
];

const NAMESPACED_KINDS: ReadonlySet<ObjectKind> = new Set<ObjectKind>([
  'K8sNetworkPolicy',
  'AntreaNetworkPolicy',
  'Group',
  'Service',
]);

export function isNamespacedKind(kind: ObjectKind): boolean {
  return NAMESPACED_KINDS.has(kind);
}

/** The key kind of an object: NetworkPolicy is told apart by its API group. */
export function objectKind(obj: Pick<PolicyObject, 'apiVersion' | 'kind'>): ObjectKind {
  if (obj.kind === 'NetworkPolicy') {
    return obj.apiVersion === 'networking.k8s.io/v1' ? 'K8sNetworkPolicy' : 'AntreaNetworkPolicy';
  }
  return obj.kind;
}

export function objectKey(obj: PolicyObject): string {
  const kind = objectKind(obj);
  const namespace = isNamespacedKind(kind) ? (obj.metadata.namespace ?? '') : '';
  return `${kind}/${namespace}/${obj.metadata.name}`;
}

export interface ParsedObjectKey {
  kind: ObjectKind;
  /** Absent for cluster-scoped kinds. */
  namespace?: string;
  name: string;
}

export class ObjectKeyError extends Error {
  readonly code = 'ObjectKeyInvalid';
  constructor(readonly key: string) {
    super(
      `invalid object key "${key}": expected "<Kind>/<namespace>/<name>" with Kind one of ${OBJECT_KINDS.join(', ')}`,
    );
    this.name = 'ObjectKeyError';
  }
}

/** Inverse of `objectKey`; throws ObjectKeyError on a malformed key. */
export function parseObjectKey(key: string): ParsedObjectKey {
  const parts = key.split('/');
  if (parts.length !== 3) throw new ObjectKeyError(key);
  const [kindText, namespace, name] = parts as [string, string, string];
  const kind = OBJECT_KINDS.find((candidate) => candidate === kindText);
  if (kind === undefined || name === '') throw new ObjectKeyError(key);
  if (isNamespacedKind(kind) !== (namespace !== '')) throw new ObjectKeyError(key);
  return namespace === '' ? { kind, name } : { kind, namespace, name };
}
