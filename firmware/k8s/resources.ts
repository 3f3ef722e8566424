// The Kubernetes resources cluster mode watches, where they live in the API, and what of each object we keep.
// Projections keep only the fields the controller, the node routes and the writers need (no managedFields,
// annotations, status of policies, container images...): the informer caches, the SQLite copy and the memory
// they take grow with the number of objects, not with how verbose the objects are.
import type { ObjectKind } from '../core/api/object-key';

export type ResourceName =
  | 'nodes'
  | 'namespaces'
  | 'pods'
  | 'services'
  | 'k8snetworkpolicies'
  | 'clusternetworkpolicies'
  | 'antreanetworkpolicies'
  | 'tiers'
  | 'clustergroups'
  | 'groups';

export interface ProjectedMetadata {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** An object reduced to what we use; still shaped as the API object (apiVersion, kind, metadata, spec...). */
export interface ProjectedObject {
  apiVersion: string;
  kind: string;
  metadata: ProjectedMetadata;
  spec?: unknown;
  status?: unknown;
}

export interface KubeResource {
  name: ResourceName;
  /** '' for the core group. */
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
  /** The controller's key kind, for policy objects and Services. */
  objectKind?: ObjectKind;
  /** undefined: not an object of this resource (no name), dropped. */
  project(raw: unknown): ProjectedObject | undefined;
}

type Json = Record<string, unknown>;

function isJson(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringMap(value: unknown): Record<string, string> | undefined {
  if (!isJson(value)) return undefined;
  const entries = Object.entries(value).filter(
    (entry): entry is [string, string] => typeof entry[1] === 'string',
  );
  return entries.length === 0 ? undefined : Object.fromEntries(entries);
}

function metadataOf(raw: Json, options: { annotationPrefix?: string } = {}): ProjectedMetadata | undefined {
  const metadata = isJson(raw['metadata']) ? raw['metadata'] : {};
  const name = metadata['name'];
  if (typeof name !== 'string' || name === '') return undefined;
  const projected: ProjectedMetadata = { name };
  if (typeof metadata['namespace'] === 'string') projected.namespace = metadata['namespace'];
  if (typeof metadata['uid'] === 'string') projected.uid = metadata['uid'];
  if (typeof metadata['resourceVersion'] === 'string')
    projected.resourceVersion = metadata['resourceVersion'];
  if (typeof metadata['generation'] === 'number') projected.generation = metadata['generation'];
  const labels = stringMap(metadata['labels']);
  if (labels) projected.labels = labels;
  const prefix = options.annotationPrefix;
  if (prefix !== undefined) {
    const annotations = Object.entries(stringMap(metadata['annotations']) ?? {}).filter(([key]) =>
      key.startsWith(prefix),
    );
    if (annotations.length > 0) projected.annotations = Object.fromEntries(annotations);
  }
  return projected;
}

function withHeader(
  raw: Json,
  apiVersion: string,
  kind: string,
  metadata: ProjectedMetadata,
): ProjectedObject {
  return {
    apiVersion: typeof raw['apiVersion'] === 'string' ? raw['apiVersion'] : apiVersion,
    kind,
    metadata,
  };
}

/** Policy kinds: the whole spec (the controller validates it), never status (the controller's own writes). */
function projectPolicy(apiVersion: string, kind: string) {
  return (raw: unknown): ProjectedObject | undefined => {
    if (!isJson(raw)) return undefined;
    const metadata = metadataOf(raw);
    if (!metadata) return undefined;
    const projected = withHeader(raw, apiVersion, kind, metadata);
    if (raw['spec'] !== undefined) projected.spec = raw['spec'];
    return projected;
  };
}

function pick(source: unknown, fields: readonly string[]): Json | undefined {
  if (!isJson(source)) return undefined;
  const picked: Json = {};
  for (const field of fields) if (source[field] !== undefined) picked[field] = source[field];
  return picked;
}

function projectNamespace(raw: unknown): ProjectedObject | undefined {
  if (!isJson(raw)) return undefined;
  const metadata = metadataOf(raw);
  return metadata && withHeader(raw, 'v1', 'Namespace', metadata);
}

/** Pods: identity, labels, node, address and container ports (named ports resolve against them). */
function projectPod(raw: unknown): ProjectedObject | undefined {
  if (!isJson(raw)) return undefined;
  const metadata = metadataOf(raw);
  if (!metadata) return undefined;
  const projected = withHeader(raw, 'v1', 'Pod', metadata);
  const spec = isJson(raw['spec']) ? raw['spec'] : {};
  const containers = (Array.isArray(spec['containers']) ? spec['containers'] : [])
    .map((container): unknown[] =>
      isJson(container) && Array.isArray(container['ports']) ? (container['ports'] as unknown[]) : [],
    )
    .filter((ports) => ports.length > 0)
    .map((ports) => ({
      ports: ports.map((port) => pick(port, ['name', 'containerPort', 'protocol']) ?? {}),
    }));
  projected.spec = {
    ...pick(spec, ['nodeName', 'hostNetwork']),
    ...(containers.length > 0 ? { containers } : {}),
  };
  const status = pick(raw['status'], ['podIP', 'podIPs', 'phase']);
  if (status && Object.keys(status).length > 0) projected.status = status;
  return projected;
}

function projectService(raw: unknown): ProjectedObject | undefined {
  if (!isJson(raw)) return undefined;
  const metadata = metadataOf(raw);
  if (!metadata) return undefined;
  const projected = withHeader(raw, 'v1', 'Service', metadata);
  const spec = pick(raw['spec'], ['selector', 'ports', 'clusterIP']) ?? {};
  if (Array.isArray(spec['ports'])) {
    spec['ports'] = spec['ports'].map((port) => pick(port, ['name', 'protocol', 'port', 'targetPort']) ?? {});
  }
  projected.spec = spec;
  return projected;
}

/** Nodes: what node routes and tunnels need (pod CIDRs, addresses, Antrea's node annotations). */
function projectNode(raw: unknown): ProjectedObject | undefined {
  if (!isJson(raw)) return undefined;
  const metadata = metadataOf(raw, { annotationPrefix: 'node.antrea.io/' });
  if (!metadata) return undefined;
  const projected = withHeader(raw, 'v1', 'Node', metadata);
  projected.spec = pick(raw['spec'], ['podCIDR', 'podCIDRs']) ?? {};
  const status = isJson(raw['status']) ? raw['status'] : {};
  if (Array.isArray(status['addresses'])) {
    projected.status = { addresses: status['addresses'].map((a) => pick(a, ['type', 'address']) ?? {}) };
  }
  return projected;
}

const ANTREA = { group: 'crd.antrea.io', version: 'v1beta1' } as const;

/** In dependency order: Tiers before the policies in them, groups before their users (see cluster-source). */
export const CLUSTER_RESOURCES: readonly KubeResource[] = [
  {
    name: 'nodes',
    group: '',
    version: 'v1',
    plural: 'nodes',
    kind: 'Node',
    namespaced: false,
    project: projectNode,
  },
  {
    name: 'namespaces',
    group: '',
    version: 'v1',
    plural: 'namespaces',
    kind: 'Namespace',
    namespaced: false,
    project: projectNamespace,
  },
  {
    name: 'pods',
    group: '',
    version: 'v1',
    plural: 'pods',
    kind: 'Pod',
    namespaced: true,
    project: projectPod,
  },
  {
    name: 'services',
    group: '',
    version: 'v1',
    plural: 'services',
    kind: 'Service',
    namespaced: true,
    objectKind: 'Service',
    project: projectService,
  },
  {
    name: 'tiers',
    ...ANTREA,
    plural: 'tiers',
    kind: 'Tier',
    namespaced: false,
    objectKind: 'Tier',
    project: projectPolicy('crd.antrea.io/v1beta1', 'Tier'),
  },
  {
    name: 'clustergroups',
    ...ANTREA,
    plural: 'clustergroups',
    kind: 'ClusterGroup',
    namespaced: false,
    objectKind: 'ClusterGroup',
    project: projectPolicy('crd.antrea.io/v1beta1', 'ClusterGroup'),
  },
  {
    name: 'groups',
    ...ANTREA,
    plural: 'groups',
    kind: 'Group',
    namespaced: true,
    objectKind: 'Group',
    project: projectPolicy('crd.antrea.io/v1beta1', 'Group'),
  },
  {
    name: 'k8snetworkpolicies',
    group: 'networking.k8s.io',
    version: 'v1',
    plural: 'networkpolicies',
    kind: 'NetworkPolicy',
    namespaced: true,
    objectKind: 'K8sNetworkPolicy',
    project: projectPolicy('networking.k8s.io/v1', 'NetworkPolicy'),
  },
  {
    name: 'antreanetworkpolicies',
    ...ANTREA,
    plural: 'networkpolicies',
    kind: 'NetworkPolicy',
    namespaced: true,
    objectKind: 'AntreaNetworkPolicy',
    project: projectPolicy('crd.antrea.io/v1beta1', 'NetworkPolicy'),
  },
  {
    name: 'clusternetworkpolicies',
    ...ANTREA,
    plural: 'clusternetworkpolicies',
    kind: 'ClusterNetworkPolicy',
    namespaced: false,
    objectKind: 'ClusterNetworkPolicy',
    project: projectPolicy('crd.antrea.io/v1beta1', 'ClusterNetworkPolicy'),
  },
];

export function resourceByName(name: ResourceName): KubeResource {
  const resource = CLUSTER_RESOURCES.find((candidate) => candidate.name === name);
  if (!resource) throw new Error(`unknown resource ${name}`);
  return resource;
}

export function resourceForObjectKind(kind: ObjectKind): KubeResource {
  const resource = CLUSTER_RESOURCES.find((candidate) => candidate.objectKind === kind);
  if (!resource) throw new Error(`no resource holds ${kind}`);
  return resource;
}

/** `/api/v1/pods`, `/apis/crd.antrea.io/v1beta1/namespaces/ns1/groups/g`... */
export function resourcePath(resource: KubeResource, namespace?: string, name?: string): string {
  const base =
    resource.group === '' ? `/api/${resource.version}` : `/apis/${resource.group}/${resource.version}`;
  const scope =
    resource.namespaced && namespace !== undefined ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  const item = name === undefined ? '' : `/${encodeURIComponent(name)}`;
  return `${base}${scope}/${resource.plural}${item}`;
}

/** "namespace/name" or "name": the key of an object within its resource. */
export function objectName(metadata: { name: string; namespace?: string }): string {
  return metadata.namespace === undefined || metadata.namespace === ''
    ? metadata.name
    : `${metadata.namespace}/${metadata.name}`;
}
