// Cluster mode's writes: what antctl, the console and Node-RED apply, delete or relabel becomes a Kubernetes API
// request instead of a SQLite write. The change reaches the controller the way every change does, through the
// watch; a write waits (bounded) for it so that a `get` right after an apply already shows it.
// Objects are validated by the controller first (a dry run, all or nothing), then written one by one with
// optimistic concurrency: a replace carries the resourceVersion this node last saw (or the one the caller gave),
// so a concurrent edit by someone else is a Conflict, never silently overwritten.
import { ApiError } from '../core/antctl/api-error';
import type {
  AgentCommands,
  ApplyResultView,
  DeleteResultView,
  NamespaceLabelsView,
  PodLabelsView,
  PolicyCommands,
} from '../core/antctl/views';
import { OBJECT_KINDS, parseObjectKey, ObjectKeyError } from '../core/api/object-key';
import { describeObject, labelValueProblems, qualifiedNameProblems } from '../core/api/validation';
import type { Logger } from '../core/logger';
import { toApiError } from '../agent/agent-queries';
import type { PolicyService } from '../agent/policy-service';
import { NAMESPACE_NAME_LABEL } from '../store/policy-repository';
import type { ClusterPolicySource } from './cluster-source';
import { KubeRequestError, type KubeRestClient } from './kube-rest';
import {
  objectName,
  resourceByName,
  resourceForObjectKind,
  resourcePath,
  type KubeResource,
  type ProjectedObject,
  type ResourceName,
} from './resources';

export interface ClusterWritesDeps {
  rest: Pick<KubeRestClient, 'request'>;
  policies: Pick<PolicyService, 'apply'>;
  source: Pick<ClusterPolicySource, 'object' | 'waitFor'>;
  logger: Logger;
  /** How long a write waits for its change to come back through the watch; default 5000 ms. */
  echoTimeoutMs?: number;
}

type Json = Record<string, unknown>;

export class ClusterWrites implements PolicyCommands, AgentCommands {
  private readonly echoTimeoutMs: number;

  constructor(private readonly deps: ClusterWritesDeps) {
    this.echoTimeoutMs = deps.echoTimeoutMs ?? 5000;
  }

  async applyObjects(objects: unknown[]): Promise<ApplyResultView[]> {
    let results;
    try {
      results = this.deps.policies.apply(
        objects.map((object) => this.withServerMetadata(object)),
        { dryRun: true },
      );
    } catch (error) {
      throw toApiError(error);
    }
    const written: string[] = [];
    for (const result of results) {
      if (result.result === 'unchanged') continue;
      const resource = resourceForObjectKind(result.kind);
      const name = objectName(result);
      try {
        const stored = await this.write(resource, result.namespace, result.name, objects[result.index]);
        await this.echo(resource.name, name, stored);
      } catch (error) {
        const rest = results.filter((other) => other.index > result.index && other.result !== 'unchanged');
        throw apiErrorOf(error, [
          `${result.kind} ${name} not written`,
          written.length > 0 ? `already written: ${written.join(', ')}` : 'nothing was written',
          ...(rest.length > 0 ? [`not attempted: ${rest.map((other) => other.key).join(', ')}`] : []),
        ]);
      }
      written.push(result.key);
      this.deps.logger.info(`policy object ${result.result} in the Kubernetes API`, { key: result.key });
    }
    return results;
  }

  /**
   * For the dry run only: the controller holds objects as the API server stored them (uid, generation,
   * resourceVersion), so a re-apply of the same manifest must carry them to be seen as unchanged.
   */
  private withServerMetadata(object: unknown): unknown {
    const described = describeObject(object);
    const kind = OBJECT_KINDS.find((candidate) => candidate === described.kind);
    if (kind === undefined || typeof object !== 'object' || object === null) return object;
    const resource = resourceForObjectKind(kind);
    const namespace = resource.namespaced ? (described.namespace ?? 'default') : undefined;
    const known = this.deps.source.object(
      resource.name,
      objectName({ name: described.name, ...(namespace === undefined ? {} : { namespace }) }),
    );
    if (known === undefined) return object;
    const source = object as Json;
    const metadata = { ...((source['metadata'] ?? {}) as Json) };
    for (const field of ['uid', 'generation', 'resourceVersion'] as const) {
      if (metadata[field] === undefined && known.metadata[field] !== undefined)
        metadata[field] = known.metadata[field];
    }
    return { ...source, metadata };
  }

  async deleteObject(key: string): Promise<DeleteResultView> {
    let parsed;
    try {
      parsed = parseObjectKey(key);
    } catch (error) {
      if (error instanceof ObjectKeyError) throw new ApiError('BadRequest', error.message);
      throw error;
    }
    const resource = resourceForObjectKind(parsed.kind);
    try {
      await this.deps.rest.request({
        method: 'DELETE',
        path: resourcePath(resource, parsed.namespace, parsed.name),
      });
    } catch (error) {
      throw apiErrorOf(error, []);
    }
    await this.echo(resource.name, objectName(parsed), undefined);
    this.deps.logger.info('policy object deleted in the Kubernetes API', { key });
    const result: DeleteResultView = { key, kind: parsed.kind, name: parsed.name, result: 'deleted' };
    if (parsed.namespace !== undefined) result.namespace = parsed.namespace;
    return result;
  }

  /** The Pod's labels become exactly these (a JSON patch of metadata.labels). */
  async setPodLabels(
    namespace: string,
    name: string,
    labels: Record<string, string>,
  ): Promise<PodLabelsView> {
    checkLabels(labels);
    await this.patchLabels(resourceByName('pods'), namespace, name, labels);
    return { namespace, name, labels };
  }

  /** `kubernetes.io/metadata.name` always equals the name, as the API server keeps it. */
  async setNamespaceLabels(name: string, labels: Record<string, string>): Promise<NamespaceLabelsView> {
    checkLabels(labels);
    const all = { ...labels, [NAMESPACE_NAME_LABEL]: name };
    await this.patchLabels(resourceByName('namespaces'), undefined, name, all);
    return { name, labels: all };
  }

  private async patchLabels(
    resource: KubeResource,
    namespace: string | undefined,
    name: string,
    labels: Record<string, string>,
  ): Promise<void> {
    let stored: ProjectedObject | undefined;
    try {
      stored = resource.project(
        await this.deps.rest.request({
          method: 'PATCH',
          path: resourcePath(resource, namespace, name),
          contentType: 'application/json-patch+json',
          // "add" replaces an existing member: the labels become exactly these.
          body: [{ op: 'add', path: '/metadata/labels', value: labels }],
        }),
      );
    } catch (error) {
      throw apiErrorOf(error, []);
    }
    await this.echo(resource.name, namespace === undefined ? name : `${namespace}/${name}`, stored);
  }

  /** Creates the object, or replaces it with the resourceVersion the caller gave or this node last saw. */
  private async write(
    resource: KubeResource,
    namespace: string | undefined,
    name: string,
    object: unknown,
  ): Promise<ProjectedObject | undefined> {
    const body = structuredClone(object) as Json;
    const metadata = { ...((body['metadata'] ?? {}) as Json) };
    // Defaulted by the dry run ("default" namespace); the API version is the one the resource is served at.
    if (namespace !== undefined) metadata['namespace'] = namespace;
    body['apiVersion'] = resource.group === '' ? resource.version : `${resource.group}/${resource.version}`;
    body['kind'] = resource.kind;
    const known = this.deps.source.object(
      resource.name,
      objectName({ name, ...(namespace ? { namespace } : {}) }),
    );
    const resourceVersion =
      typeof metadata['resourceVersion'] === 'string' && metadata['resourceVersion'] !== ''
        ? metadata['resourceVersion']
        : known?.metadata.resourceVersion;
    if (resourceVersion === undefined) {
      delete metadata['resourceVersion'];
      body['metadata'] = metadata;
      return resource.project(
        await this.deps.rest.request({ method: 'POST', path: resourcePath(resource, namespace), body }),
      );
    }
    metadata['resourceVersion'] = resourceVersion;
    body['metadata'] = metadata;
    return resource.project(
      await this.deps.rest.request({ method: 'PUT', path: resourcePath(resource, namespace, name), body }),
    );
  }

  /** Waits until the watch brought `stored` (or, without it, the deletion) back; a late echo is only logged. */
  private async echo(
    resource: ResourceName,
    name: string,
    stored: ProjectedObject | undefined,
  ): Promise<void> {
    const wanted = stored?.metadata.resourceVersion;
    const seen = await this.deps.source.waitFor(
      resource,
      name,
      (object) =>
        stored === undefined ? object === undefined : object !== undefined && atLeast(object, wanted),
      this.echoTimeoutMs,
    );
    if (!seen) {
      this.deps.logger.warn('written to the Kubernetes API; the watch has not brought the change back yet', {
        resource,
        name,
        resourceVersion: wanted,
      });
    }
  }
}

/** resourceVersions are opaque, but etcd's are increasing integers: a later one also proves we saw ours. */
function atLeast(object: ProjectedObject, wanted: string | undefined): boolean {
  const have = object.metadata.resourceVersion;
  if (wanted === undefined || have === wanted) return true;
  return /^\d+$/.test(have ?? '') && /^\d+$/.test(wanted) && BigInt(have ?? '0') >= BigInt(wanted);
}

function checkLabels(labels: Record<string, string>): void {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(labels)) {
    for (const problem of qualifiedNameProblems(key)) problems.push(`label key "${key}": ${problem}`);
    for (const problem of labelValueProblems(value))
      problems.push(`label "${key}" value "${value}": ${problem}`);
  }
  if (problems.length > 0) throw new ApiError('BadRequest', problems.join('; '));
}

/** The one translation of API server failures to the local API's vocabulary. */
function apiErrorOf(error: unknown, context: readonly string[]): Error {
  if (!(error instanceof KubeRequestError)) return error instanceof Error ? error : new Error(String(error));
  const message = [error.message, ...context].join('; ');
  if (error.code === 'KubeUnreachable') return new ApiError('Unavailable', message);
  switch (error.status) {
    case 404:
      return new ApiError('NotFound', message);
    case 409:
      return new ApiError('Conflict', message);
    case 400:
    case 422:
      return new ApiError('BadRequest', message);
    default:
      return new ApiError('Unavailable', message);
  }
}

/**
 * The agent's API with cluster mode's writes: every read goes to `local`, the four writes to the API server.
 * Built on `local` as prototype, so methods added to the agent's API later are served without change here.
 */
export function withClusterWrites<T extends PolicyCommands & AgentCommands>(
  local: T,
  writes: ClusterWrites,
): T {
  const api = Object.create(local) as T;
  api.applyObjects = (objects) => writes.applyObjects(objects);
  api.deleteObject = (key) => writes.deleteObject(key);
  api.setPodLabels = (namespace, name, labels) => writes.setPodLabels(namespace, name, labels);
  api.setNamespaceLabels = (name, labels) => writes.setNamespaceLabels(name, labels);
  return api;
}
