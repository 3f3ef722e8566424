// Lives in scripts/lib so that scripts (the cluster testbed, conformance --nodes, bench cluster) can use it;
// test/support/fake-apiserver.ts re-exports it for the tests.
// An in-process Kubernetes API server for tests, faithful to what @kubernetes/client-node informers and
// typed APIs rely on: list/watch with one global resourceVersion (like etcd), a bounded watch history
// (expired versions answer 410 Expired as the real watch cache does), bookmarks, label/field selectors,
// create/replace/patch/delete with real Status bodies. No TLS, no auth, no admission beyond the namespace
// existence check, no garbage collection (deleting a namespace leaves its objects), no graceful deletion,
// no server-side apply, no resourceVersionMatch on lists (a list is always the latest state).
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    generateName?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    creationTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

export interface ResourceType {
  group: string; // '' for the core group
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
  /** Extra field selectors the real server registers for this kind (metadata.name/namespace always work). */
  fields?: string[];
}

const POD_FIELDS = ['spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName'];
const RESOURCE_TABLE: [string, string, string, boolean, string[]?][] = [
  ['v1', 'namespaces', 'Namespace', false, ['status.phase']],
  ['v1', 'pods', 'Pod', true, [...POD_FIELDS, 'status.phase', 'status.podIP']],
  ['v1', 'nodes', 'Node', false, ['spec.unschedulable']],
  ['v1', 'services', 'Service', true, ['spec.clusterIP', 'spec.type']],
  ['networking.k8s.io/v1', 'networkpolicies', 'NetworkPolicy', true],
  ['crd.antrea.io/v1beta1', 'clusternetworkpolicies', 'ClusterNetworkPolicy', false],
  ['crd.antrea.io/v1beta1', 'networkpolicies', 'NetworkPolicy', true],
  ['crd.antrea.io/v1beta1', 'tiers', 'Tier', false],
  ['crd.antrea.io/v1beta1', 'clustergroups', 'ClusterGroup', false],
  ['crd.antrea.io/v1beta1', 'groups', 'Group', true],
  ['crd.antrea.io/v1beta1', 'antreaagentinfos', 'AntreaAgentInfo', false],
];

export const DEFAULT_RESOURCES: ResourceType[] = RESOURCE_TABLE.map(
  ([apiVersion, plural, kind, namespaced, fields]) => {
    const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
    return {
      group: group ?? '',
      version: version ?? '',
      plural,
      kind,
      namespaced,
      ...(fields ? { fields } : {}),
    };
  },
);

export interface FakeApiServerOptions {
  resources?: ResourceType[];
  /** Events kept for watches; older resourceVersions get 410 Expired (the real watch cache keeps ~100 per type). */
  historySize?: number;
  /** Interval of BOOKMARK events on watches that ask for them (the real server sends one about every minute). */
  bookmarkIntervalMs?: number;
}

export interface RequestLogEntry {
  method: string;
  url: string;
  status: number;
  watch: boolean;
}

export interface RestartOptions {
  /** Drop the watch history too, so every client resuming from its last resourceVersion gets 410. */
  forgetHistory?: boolean;
  /** Runs while the server is "down": requests arriving meanwhile wait until it is back. */
  whileDown?: () => void | Promise<void>;
}

export class KubeApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';
interface StoredEvent {
  rv: number;
  resource: ResourceType;
  type: EventType;
  previous: KubeObject | undefined;
  object: KubeObject;
}

interface Watcher {
  resource: ResourceType;
  namespace: string | undefined;
  matches: (obj: KubeObject) => boolean;
  response: http.ServerResponse;
  close: () => void;
}

type Selector = (obj: KubeObject) => boolean;

function clone<T>(value: T): T {
  return structuredClone(value);
}

function withoutMetadataAndStatus(obj: KubeObject): string {
  const { metadata: _m, status: _s, ...rest } = obj;
  return JSON.stringify(rest);
}

function withoutResourceVersion(obj: KubeObject): string {
  return JSON.stringify({ ...obj, metadata: { ...obj.metadata, resourceVersion: undefined } });
}

function apiVersionOf(r: ResourceType): string {
  return r.group === '' ? r.version : `${r.group}/${r.version}`;
}

/** The resource name the real server uses in messages: "pods", "clusternetworkpolicies.crd.antrea.io". */
function qualifiedName(r: ResourceType): string {
  return r.group === '' ? r.plural : `${r.plural}.${r.group}`;
}

function fieldValue(obj: KubeObject, path: string): string {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[part] : undefined;
  }
  return typeof cur === 'string' || typeof cur === 'number' || typeof cur === 'boolean' ? String(cur) : '';
}

/** Splits "a in (x,y),b" at top-level commas only. */
function splitTerms(selector: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      terms.push(current.trim());
      current = '';
    } else current += ch;
  }
  if (current.trim() !== '') terms.push(current.trim());
  return terms;
}

// Mirrors k8s.io/apimachinery/pkg/labels: =, ==, !=, in, notin, exists, !exists.
export function parseLabelSelector(selector: string): Selector {
  const tests = splitTerms(selector).map((term): Selector => {
    const labelsOf = (o: KubeObject): Record<string, string> => o.metadata?.labels ?? {};
    let m = /^(\S+?)\s+(in|notin)\s+\((.*)\)$/.exec(term);
    if (m) {
      const [, key = '', op, list = ''] = m;
      const values = list.split(',').map((v) => v.trim());
      return op === 'in'
        ? (o) => values.includes(labelsOf(o)[key] ?? '\0')
        : (o) => !values.includes(labelsOf(o)[key] ?? '\0');
    }
    m = /^([^!=\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term);
    if (m) {
      const [, key = '', op, value = ''] = m;
      return op === '!=' ? (o) => labelsOf(o)[key] !== value : (o) => labelsOf(o)[key] === value;
    }
    m = /^(!?)([^!=\s()]+)$/.exec(term);
    if (m) {
      const [, not, key = ''] = m;
      return not ? (o) => !(key in labelsOf(o)) : (o) => key in labelsOf(o);
    }
    throw new KubeApiError(400, 'BadRequest', `unable to parse requirement: ${term}`);
  });
  return (o) => tests.every((t) => t(o));
}

// Mirrors k8s.io/apimachinery/pkg/fields: only fields registered for the kind are accepted.
export function parseFieldSelector(selector: string, resource: ResourceType): Selector {
  const allowed = new Set(['metadata.name', 'metadata.namespace', ...(resource.fields ?? [])]);
  const tests = splitTerms(selector).map((term): Selector => {
    const m = /^([^!=]+?)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!m)
      throw new KubeApiError(
        400,
        'BadRequest',
        `invalid selector: '${selector}'; can't understand '${term}'`,
      );
    const [, field = '', op, value = ''] = m;
    if (!allowed.has(field)) {
      throw new KubeApiError(400, 'BadRequest', `field label not supported: ${field}`);
    }
    return op === '!=' ? (o) => fieldValue(o, field) !== value : (o) => fieldValue(o, field) === value;
  });
  return (o) => tests.every((t) => t(o));
}

// RFC 7386; strategic merge patch is treated the same (no patchMergeKey list merging).
function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const result: Record<string, unknown> =
    target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

// RFC 6902 (add/remove/replace/test/move/copy), the client's default patch content type.
function jsonPatch(target: KubeObject, ops: unknown): KubeObject {
  if (!Array.isArray(ops)) throw new KubeApiError(400, 'BadRequest', 'json patch must be an array');
  const doc = clone(target) as Record<string, unknown>;
  const locate = (pointer: string): [Record<string, unknown> | unknown[], string] => {
    const parts = pointer
      .split('/')
      .slice(1)
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = parts.pop();
    let cur: unknown = doc;
    for (const p of parts) cur = (cur as Record<string, unknown> | undefined)?.[p];
    if (last === undefined || cur === null || typeof cur !== 'object') {
      throw new KubeApiError(422, 'Invalid', `jsonpatch: path not found: ${pointer}`);
    }
    return [cur as Record<string, unknown>, last];
  };
  const get = (pointer: string): unknown => {
    const [parent, key] = locate(pointer);
    return (parent as Record<string, unknown>)[key];
  };
  const remove = (pointer: string): void => {
    const [parent, key] = locate(pointer);
    if (Array.isArray(parent)) parent.splice(Number(key), 1);
    else if (key in parent) delete parent[key];
    else throw new KubeApiError(422, 'Invalid', `jsonpatch remove operation does not apply: ${pointer}`);
  };
  const add = (pointer: string, value: unknown): void => {
    const [parent, key] = locate(pointer);
    if (Array.isArray(parent)) parent.splice(key === '-' ? parent.length : Number(key), 0, value);
    else parent[key] = value;
  };
  for (const op of ops as { op: string; path: string; from?: string; value?: unknown }[]) {
    switch (op.op) {
      case 'add':
        add(op.path, clone(op.value));
        break;
      case 'remove':
        remove(op.path);
        break;
      case 'replace':
        remove(op.path);
        add(op.path, clone(op.value));
        break;
      case 'test':
        if (JSON.stringify(get(op.path)) !== JSON.stringify(op.value)) {
          throw new KubeApiError(422, 'Invalid', `testing value ${op.path} failed`);
        }
        break;
      case 'move':
      case 'copy': {
        const value = clone(get(op.from ?? ''));
        if (op.op === 'move') remove(op.from ?? '');
        add(op.path, value);
        break;
      }
      default:
        throw new KubeApiError(400, 'BadRequest', `unexpected kind of patch operation: ${op.op}`);
    }
  }
  return doc;
}

/** Status.details as the real server fills them: kind is the resource (plural), group only outside core. */
function details(r: ResourceType, name: string): Record<string, unknown> {
  return { name, ...(r.group ? { group: r.group } : {}), kind: r.plural };
}

function statusBody(err: KubeApiError): Record<string, unknown> {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: err.message,
    reason: err.reason,
    ...(err.details ? { details: err.details } : {}),
    code: err.code,
  };
}

interface ParsedPath {
  resource: ResourceType;
  namespace: string | undefined;
  name: string | undefined;
  subresource: string | undefined;
}

export class FakeApiServer {
  private readonly resources: ResourceType[];
  private readonly historySize: number;
  private readonly bookmarkIntervalMs: number;
  private readonly objects = new Map<string, KubeObject>();
  private history: StoredEvent[] = [];
  private oldestServableRv = 0;
  private currentRv = 0;
  private readonly watchers = new Set<Watcher>();
  private server: http.Server | undefined;
  private port = 0;
  private parked: (() => void)[] | undefined;
  readonly requestLog: RequestLogEntry[] = [];

  constructor(options: FakeApiServerOptions = {}) {
    this.resources = options.resources ?? DEFAULT_RESOURCES;
    this.historySize = options.historySize ?? 1000;
    this.bookmarkIntervalMs = options.bookmarkIntervalMs ?? 60_000;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get resourceVersion(): string {
    return String(this.currentRv);
  }

  get watchCount(): number {
    return this.watchers.size;
  }

  /** Listens on a random port the first time, and on the same port after stop() so clients can come back. */
  async start(): Promise<void> {
    const server = http.createServer((req, res) => {
      if (this.parked) this.parked.push(() => this.handle(req, res));
      else this.handle(req, res);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    this.dropWatches();
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  /**
   * Like an API server rollout behind a stable address: every watch ends cleanly (clients resume from their
   * last resourceVersion), data is kept, requests arriving meanwhile wait instead of being refused.
   */
  async restart(options: RestartOptions = {}): Promise<void> {
    this.parked = [];
    this.dropWatches();
    if (options.forgetHistory) this.compactHistory();
    try {
      await options.whileDown?.();
    } finally {
      const parked = this.parked;
      this.parked = undefined;
      parked.forEach((resume) => resume());
    }
  }

  /** Forgets all events, like etcd compaction: any watch from an older resourceVersion gets 410 Expired. */
  compactHistory(): void {
    this.history = [];
    this.oldestServableRv = this.currentRv;
  }

  /** Kubeconfig text (JSON is YAML) for KubeConfig.loadFromString(). */
  kubeconfig(): string {
    return JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      // The client refuses plain http unless TLS verification is explicitly skipped.
      clusters: [{ name: 'fake', cluster: { server: this.url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'fake', user: { token: 'fake' } }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'fake' } }],
      'current-context': 'fake',
    });
  }

  /** Creates or replaces an object directly (no admission checks); returns the stored copy. */
  seed(input: object): KubeObject {
    // A JSON round trip, like the wire: typed client objects (Date fields) become plain API JSON.
    const obj = JSON.parse(JSON.stringify(input)) as KubeObject;
    const resource = this.resourceForKind(obj.apiVersion, obj.kind);
    const name = obj.metadata?.name ?? '';
    const namespace = resource.namespaced ? (obj.metadata?.namespace ?? 'default') : undefined;
    const existing = this.objects.get(this.key(resource, namespace, name));
    const body = { ...obj, metadata: { ...obj.metadata, resourceVersion: undefined } };
    return existing
      ? this.update(resource, namespace, name, body)
      : this.create(resource, namespace, body, false);
  }

  remove(kind: string, namespace: string | undefined, name: string, apiVersion?: string): KubeObject {
    const resource = this.resourceForKind(apiVersion, kind);
    return this.delete(resource, resource.namespaced ? namespace : undefined, name);
  }

  get(
    kind: string,
    namespace: string | undefined,
    name: string,
    apiVersion?: string,
  ): KubeObject | undefined {
    const resource = this.resourceForKind(apiVersion, kind);
    const obj = this.objects.get(this.key(resource, resource.namespaced ? namespace : undefined, name));
    return obj && clone(obj);
  }

  list(kind: string, apiVersion?: string): KubeObject[] {
    const resource = this.resourceForKind(apiVersion, kind);
    return this.listObjects(resource, undefined).map(clone);
  }

  private resourceForKind(apiVersion: string | undefined, kind: string | undefined): ResourceType {
    const matches = this.resources.filter(
      (r) => r.kind === kind && (apiVersion === undefined || apiVersionOf(r) === apiVersion),
    );
    if (matches.length !== 1) {
      throw new Error(`FakeApiServer: ${matches.length} resource types for ${apiVersion ?? '*'} ${kind}`);
    }
    return matches[0] as ResourceType;
  }

  private key(r: ResourceType, namespace: string | undefined, name: string): string {
    return `${qualifiedName(r)}/${namespace ?? ''}/${name}`;
  }

  private listObjects(r: ResourceType, namespace: string | undefined): KubeObject[] {
    const prefix = `${qualifiedName(r)}/${namespace ?? ''}`;
    return [...this.objects.entries()]
      .filter(([k]) =>
        namespace === undefined ? k.startsWith(`${qualifiedName(r)}/`) : k.startsWith(`${prefix}/`),
      )
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, o]) => o);
  }

  private notFound(r: ResourceType, name: string): KubeApiError {
    return new KubeApiError(404, 'NotFound', `${qualifiedName(r)} "${name}" not found`, details(r, name));
  }

  private record(
    r: ResourceType,
    type: EventType,
    previous: KubeObject | undefined,
    object: KubeObject,
  ): void {
    const event: StoredEvent = { rv: this.currentRv, resource: r, type, previous, object };
    this.history.push(event);
    while (this.history.length > this.historySize) {
      const dropped = this.history.shift();
      if (dropped) this.oldestServableRv = dropped.rv;
    }
    for (const watcher of this.watchers) this.deliver(watcher, event);
  }

  private create(
    r: ResourceType,
    namespace: string | undefined,
    body: KubeObject,
    admit: boolean,
  ): KubeObject {
    const meta = body.metadata ?? {};
    let name = meta.name ?? '';
    if (!name && meta.generateName) name = meta.generateName + randomUUID().slice(0, 5);
    if (!name)
      throw new KubeApiError(422, 'Invalid', `${r.kind} "" is invalid: metadata.name: Required value`);
    if (meta.namespace !== undefined && namespace !== undefined && meta.namespace !== namespace) {
      throw new KubeApiError(
        400,
        'BadRequest',
        'the namespace of the provided object does not match the namespace sent on the request',
      );
    }
    // NamespaceLifecycle admission: no objects in namespaces that do not exist.
    if (admit && namespace !== undefined && !this.objects.has(`namespaces//${namespace}`)) {
      throw new KubeApiError(404, 'NotFound', `namespaces "${namespace}" not found`, {
        name: namespace,
        kind: 'namespaces',
      });
    }
    const key = this.key(r, namespace, name);
    if (this.objects.has(key)) {
      const message = `${qualifiedName(r)} "${name}" already exists`;
      throw new KubeApiError(409, 'AlreadyExists', message, details(r, name));
    }
    this.currentRv++;
    const stored: KubeObject = {
      ...clone(body),
      apiVersion: apiVersionOf(r),
      kind: r.kind,
      metadata: {
        ...clone(meta),
        name,
        ...(namespace !== undefined ? { namespace } : {}),
        uid: randomUUID(),
        resourceVersion: String(this.currentRv),
        generation: 1,
        creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      },
    };
    if (namespace === undefined) delete stored.metadata?.namespace;
    this.objects.set(key, stored);
    this.record(r, 'ADDED', undefined, clone(stored));
    return clone(stored);
  }

  private update(
    r: ResourceType,
    namespace: string | undefined,
    name: string,
    body: KubeObject,
    subresource?: string,
  ): KubeObject {
    const key = this.key(r, namespace, name);
    const existing = this.objects.get(key);
    if (!existing) throw this.notFound(r, name);
    if (body.metadata?.name !== undefined && body.metadata.name !== name) {
      throw new KubeApiError(
        400,
        'BadRequest',
        `the name of the object (${body.metadata.name}) does not match the name on the URL (${name})`,
      );
    }
    const precondition = body.metadata?.resourceVersion;
    if (
      precondition !== undefined &&
      precondition !== '' &&
      precondition !== existing.metadata?.resourceVersion
    ) {
      throw new KubeApiError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${qualifiedName(r)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
        details(r, name),
      );
    }
    // The status subresource changes only status; the main resource keeps everything else the client sent.
    const source =
      subresource === 'status' ? { ...clone(existing), status: clone(body.status) } : clone(body);
    const candidate: KubeObject = {
      ...source,
      apiVersion: apiVersionOf(r),
      kind: r.kind,
      metadata: {
        ...(subresource === 'status' ? existing.metadata : source.metadata),
        name,
        uid: existing.metadata?.uid,
        creationTimestamp: existing.metadata?.creationTimestamp,
        generation: existing.metadata?.generation ?? 1,
        resourceVersion: existing.metadata?.resourceVersion,
      },
    };
    if (namespace !== undefined && candidate.metadata) candidate.metadata.namespace = namespace;
    // A no-op update does not bump resourceVersion and sends no event.
    if (withoutResourceVersion(candidate) === withoutResourceVersion(existing)) return clone(existing);
    if (withoutMetadataAndStatus(candidate) !== withoutMetadataAndStatus(existing) && candidate.metadata) {
      candidate.metadata.generation = (existing.metadata?.generation ?? 1) + 1;
    }
    this.currentRv++;
    if (candidate.metadata) candidate.metadata.resourceVersion = String(this.currentRv);
    this.objects.set(key, candidate);
    this.record(r, 'MODIFIED', clone(existing), clone(candidate));
    return clone(candidate);
  }

  private delete(r: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const key = this.key(r, namespace, name);
    const existing = this.objects.get(key);
    if (!existing) throw this.notFound(r, name);
    this.objects.delete(key);
    // Like etcd, the DELETED event carries the revision of the deletion.
    this.currentRv++;
    const last = clone(existing);
    if (last.metadata) last.metadata.resourceVersion = String(this.currentRv);
    this.record(r, 'DELETED', clone(existing), last);
    return clone(last);
  }

  private dropWatches(): void {
    for (const watcher of [...this.watchers]) watcher.close();
  }

  private parsePath(pathname: string): ParsedPath | undefined {
    const segments = pathname
      .split('/')
      .filter((s) => s !== '')
      .map(decodeURIComponent);
    let group: string;
    let version: string;
    let rest: string[];
    if (segments[0] === 'api' && segments.length >= 2) {
      [group, version, rest] = ['', segments[1] ?? '', segments.slice(2)];
    } else if (segments[0] === 'apis' && segments.length >= 3) {
      [group, version, rest] = [segments[1] ?? '', segments[2] ?? '', segments.slice(3)];
    } else return undefined;
    const find = (plural: string | undefined): ResourceType | undefined =>
      this.resources.find((r) => r.group === group && r.version === version && r.plural === plural);
    if (rest[0] === 'namespaces' && rest.length >= 3 && find(rest[2])?.namespaced) {
      const resource = find(rest[2]) as ResourceType;
      return { resource, namespace: rest[1], name: rest[3], subresource: rest[4] };
    }
    const resource = find(rest[0]);
    if (!resource || rest.length > 3) return undefined;
    return { resource, namespace: undefined, name: rest[1], subresource: rest[2] };
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const isWatch = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
    const logEntry: RequestLogEntry = {
      method: req.method ?? '',
      url: req.url ?? '',
      status: 0,
      watch: isWatch,
    };
    this.requestLog.push(logEntry);
    const send = (status: number, body: unknown): void => {
      logEntry.status = status;
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        const parsed = this.parsePath(url.pathname);
        if (!parsed || (parsed.subresource !== undefined && parsed.subresource !== 'status')) {
          throw new KubeApiError(404, 'NotFound', 'the server could not find the requested resource');
        }
        const { resource, namespace, name, subresource } = parsed;
        const text = Buffer.concat(chunks).toString('utf8');
        const body = (): KubeObject => {
          try {
            return JSON.parse(text) as KubeObject;
          } catch {
            throw new KubeApiError(400, 'BadRequest', 'the body of the request was in an unknown format');
          }
        };
        const method = req.method ?? 'GET';
        if (method === 'GET' && name === undefined && isWatch) {
          logEntry.status = 200;
          this.startWatch(resource, namespace, url.searchParams, res);
        } else if (method === 'GET' && name === undefined) {
          send(200, this.listResponse(resource, namespace, url.searchParams));
        } else if (method === 'GET' && name !== undefined) {
          const obj = this.objects.get(this.key(resource, namespace, name));
          if (!obj) throw this.notFound(resource, name);
          send(200, obj);
        } else if (method === 'POST' && name === undefined) {
          send(201, this.create(resource, namespace, body(), true));
        } else if (method === 'PUT' && name !== undefined) {
          send(200, this.update(resource, namespace, name, body(), subresource));
        } else if (method === 'PATCH' && name !== undefined) {
          const existing = this.objects.get(this.key(resource, namespace, name));
          if (!existing) throw this.notFound(resource, name);
          const contentType = (req.headers['content-type'] ?? '').split(';')[0]?.trim();
          let patched: KubeObject;
          if (contentType === 'application/json-patch+json') patched = jsonPatch(existing, body());
          else if (
            contentType === 'application/merge-patch+json' ||
            contentType === 'application/strategic-merge-patch+json'
          ) {
            patched = mergePatch(existing, body()) as KubeObject;
            // A merge patch without resourceVersion must not trip the optimistic-concurrency check.
            const patchRv = body().metadata?.resourceVersion;
            if (patched.metadata) patched.metadata.resourceVersion = patchRv;
          } else {
            throw new KubeApiError(
              415,
              'UnsupportedMediaType',
              `the body of the request was in an unknown format`,
            );
          }
          if (contentType === 'application/json-patch+json' && patched.metadata) {
            const unchanged = patched.metadata.resourceVersion === existing.metadata?.resourceVersion;
            if (unchanged) patched.metadata.resourceVersion = undefined;
          }
          send(200, this.update(resource, namespace, name, patched, subresource));
        } else if (method === 'DELETE' && name !== undefined) {
          const deleted = this.delete(resource, namespace, name);
          // Pods (ReturnDeletedObject) answer with the object; other resources with a Success Status.
          send(
            200,
            resource.kind === 'Pod'
              ? deleted
              : {
                  kind: 'Status',
                  apiVersion: 'v1',
                  metadata: {},
                  status: 'Success',
                  details: { ...details(resource, name), uid: deleted.metadata?.uid },
                },
          );
        } else {
          throw new KubeApiError(
            405,
            'MethodNotAllowed',
            `the server does not allow this method on the requested resource`,
          );
        }
      } catch (err) {
        if (err instanceof KubeApiError) send(err.code, statusBody(err));
        else send(500, statusBody(new KubeApiError(500, 'InternalError', String(err))));
      }
    });
  }

  private selectorFor(resource: ResourceType, params: URLSearchParams): Selector {
    const label = params.get('labelSelector');
    const field = params.get('fieldSelector');
    const byLabel = label ? parseLabelSelector(label) : () => true;
    const byField = field ? parseFieldSelector(field, resource) : () => true;
    return (o) => byLabel(o) && byField(o);
  }

  private listResponse(
    resource: ResourceType,
    namespace: string | undefined,
    params: URLSearchParams,
  ): unknown {
    const matches = this.selectorFor(resource, params);
    let items = this.listObjects(resource, namespace).filter(matches);
    // Pagination: the continue token is the last key returned (the real one also pins a snapshot revision).
    const continueFrom = params.get('continue');
    if (continueFrom) {
      const after = Buffer.from(continueFrom, 'base64').toString('utf8');
      items = items.filter((o) => this.key(resource, o.metadata?.namespace, o.metadata?.name ?? '') > after);
    }
    const limit = Number(params.get('limit') ?? '0');
    let next: string | undefined;
    if (limit > 0 && items.length > limit) {
      items = items.slice(0, limit);
      const last = items[items.length - 1] as KubeObject;
      next = Buffer.from(this.key(resource, last.metadata?.namespace, last.metadata?.name ?? '')).toString(
        'base64',
      );
    }
    return {
      kind: `${resource.kind}List`,
      apiVersion: apiVersionOf(resource),
      metadata: { resourceVersion: String(this.currentRv), ...(next ? { continue: next } : {}) },
      items,
    };
  }

  private startWatch(
    resource: ResourceType,
    namespace: string | undefined,
    params: URLSearchParams,
    res: http.ServerResponse,
  ): void {
    const matches = this.selectorFor(resource, params);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const rvParam = params.get('resourceVersion') ?? '';
    const from = Number(rvParam);
    if (rvParam !== '' && rvParam !== '0' && (!Number.isInteger(from) || from < this.oldestServableRv)) {
      // The real watch cache answers an expired version with 200 and one ERROR event, then closes.
      const expired = new KubeApiError(
        410,
        'Expired',
        `too old resource version: ${rvParam} (${this.oldestServableRv})`,
      );
      res.end(JSON.stringify({ type: 'ERROR', object: statusBody(expired) }) + '\n');
      return;
    }
    let bookmarkTimer: NodeJS.Timeout | undefined;
    let timeoutTimer: NodeJS.Timeout | undefined;
    const watcher: Watcher = {
      resource,
      namespace,
      matches,
      response: res,
      close: () => {
        clearTimeout(bookmarkTimer);
        clearTimeout(timeoutTimer);
        if (this.watchers.delete(watcher)) res.end();
      },
    };
    res.on('close', () => watcher.close());
    this.watchers.add(watcher);
    if (rvParam === '' || rvParam === '0') {
      // No version: synthetic ADDED events for the current state, then live events.
      for (const object of this.listObjects(resource, namespace).filter(matches)) {
        res.write(JSON.stringify({ type: 'ADDED', object }) + '\n');
      }
    } else {
      for (const event of this.history) if (event.rv > from) this.deliver(watcher, event);
    }
    if (params.get('allowWatchBookmarks') === 'true') {
      // A bookmark carries only kind, apiVersion and the latest resourceVersion, so clients resume from it.
      const bookmark = (): void => {
        const metadata = { resourceVersion: String(this.currentRv) };
        const object = { kind: resource.kind, apiVersion: apiVersionOf(resource), metadata };
        res.write(JSON.stringify({ type: 'BOOKMARK', object }) + '\n');
        bookmarkTimer = setTimeout(bookmark, this.bookmarkIntervalMs);
      };
      bookmarkTimer = setTimeout(bookmark, this.bookmarkIntervalMs);
    }
    const timeoutSeconds = Number(params.get('timeoutSeconds') ?? '0');
    if (timeoutSeconds > 0) timeoutTimer = setTimeout(() => watcher.close(), timeoutSeconds * 1000);
  }

  // Mirrors the watch cache's filtering: an object moving out of a selector is DELETED for that watch,
  // moving into it is ADDED.
  private deliver(watcher: Watcher, event: StoredEvent): void {
    if (event.resource !== watcher.resource) return;
    if (watcher.namespace !== undefined && event.object.metadata?.namespace !== watcher.namespace) return;
    const wasIn = event.previous !== undefined && watcher.matches(event.previous);
    const isIn = event.type !== 'DELETED' && watcher.matches(event.object);
    let type: EventType | undefined;
    if (event.type === 'DELETED') type = wasIn ? 'DELETED' : undefined;
    else if (isIn) type = wasIn ? 'MODIFIED' : 'ADDED';
    else if (wasIn) type = 'DELETED';
    if (type) watcher.response.write(JSON.stringify({ type, object: event.object }) + '\n');
  }
}
