// The one Kubernetes object the heartbeat writes, behind a narrow interface: get, create and replace of an
// AntreaAgentInfo (crd.antrea.io/v1beta1, cluster-scoped). KubeAgentInfoApi implements it with the real
// @kubernetes/client-node; its failures are translated to AgentInfoApiError here, in one place.
import * as k8s from '@kubernetes/client-node';

export const AGENT_INFO_GROUP = 'crd.antrea.io';
export const AGENT_INFO_VERSION = 'v1beta1';
export const AGENT_INFO_PLURAL = 'antreaagentinfos';

/** An AntreaAgentInfo as the API server stores it: our fields plus whatever metadata the server keeps. */
export interface StoredAgentInfo {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    resourceVersion?: string;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

export type AgentInfoApiErrorCode =
  /** The object does not exist (get, replace). */
  | 'NotFound'
  /** create: another writer created it first. */
  | 'AlreadyExists'
  /** replace: the resourceVersion sent is not the stored one. */
  | 'Conflict'
  /** The API server refused the request (401, 403, 422, ...): retrying the same request will not help. */
  | 'Rejected'
  /** No answer, a 5xx, 429, or a transport failure: the API server is down or overloaded. */
  | 'Unavailable';

export class AgentInfoApiError extends Error {
  override readonly name = 'AgentInfoApiError';

  constructor(
    readonly code: AgentInfoApiErrorCode,
    message: string,
    /** The HTTP status when the server answered. */
    readonly status?: number,
  ) {
    super(message);
  }
}

/** What the heartbeat needs from the API server. Implementations reject with AgentInfoApiError only. */
export interface AgentInfoApi {
  /** undefined when the object does not exist. */
  get(name: string): Promise<StoredAgentInfo | undefined>;
  create(body: StoredAgentInfo): Promise<StoredAgentInfo>;
  /** Optimistic concurrency: `body.metadata.resourceVersion` must be the stored one, or Conflict. */
  replace(body: StoredAgentInfo): Promise<StoredAgentInfo>;
}

/** AgentInfoApi over a KubeConfig the caller loaded (in-cluster, a kubeconfig file, ...). */
export class KubeAgentInfoApi implements AgentInfoApi {
  private client: k8s.CustomObjectsApi | undefined;

  constructor(private readonly kubeConfig: k8s.KubeConfig) {}

  async get(name: string): Promise<StoredAgentInfo | undefined> {
    try {
      return asStored(await this.api().getClusterCustomObject({ ...this.resource(), name }), `get ${name}`);
    } catch (error) {
      const translated = translateError(error, `get AntreaAgentInfo ${name}`);
      if (translated.code === 'NotFound') return undefined;
      throw translated;
    }
  }

  async create(body: StoredAgentInfo): Promise<StoredAgentInfo> {
    try {
      return asStored(
        await this.api().createClusterCustomObject({ ...this.resource(), body }),
        `create ${body.metadata.name}`,
      );
    } catch (error) {
      throw translateError(error, `create AntreaAgentInfo ${body.metadata.name}`);
    }
  }

  async replace(body: StoredAgentInfo): Promise<StoredAgentInfo> {
    const name = body.metadata.name;
    try {
      return asStored(
        await this.api().replaceClusterCustomObject({ ...this.resource(), name, body }),
        `replace ${name}`,
      );
    } catch (error) {
      throw translateError(error, `replace AntreaAgentInfo ${name}`);
    }
  }

  private api(): k8s.CustomObjectsApi {
    this.client ??= this.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
    return this.client;
  }

  private resource(): { group: string; version: string; plural: string } {
    return { group: AGENT_INFO_GROUP, version: AGENT_INFO_VERSION, plural: AGENT_INFO_PLURAL };
  }
}

function asStored(value: unknown, what: string): StoredAgentInfo {
  const metadata = isRecord(value) ? value.metadata : undefined;
  if (!isRecord(metadata) || typeof metadata.name !== 'string') {
    throw new AgentInfoApiError('Unavailable', `${what}: the API server answered without an object`);
  }
  return value as StoredAgentInfo;
}

/** The client throws ApiException for HTTP answers (its body is the Status, sometimes as text). */
function translateError(error: unknown, what: string): AgentInfoApiError {
  if (error instanceof AgentInfoApiError) return error;
  if (!(error instanceof k8s.ApiException)) {
    const detail = error instanceof Error ? error.message : String(error);
    return new AgentInfoApiError('Unavailable', `${what}: ${detail}`);
  }
  const status = statusBody(error.body);
  const message = `${what}: ${status.message ?? `HTTP ${error.code}`}`;
  const code = error.code;
  if (code === 404) return new AgentInfoApiError('NotFound', message, code);
  if (code === 409) {
    return new AgentInfoApiError(
      status.reason === 'AlreadyExists' ? 'AlreadyExists' : 'Conflict',
      message,
      code,
    );
  }
  if (code === 429 || code >= 500) return new AgentInfoApiError('Unavailable', message, code);
  return new AgentInfoApiError('Rejected', message, code);
}

function statusBody(body: unknown): { reason?: string; message?: string } {
  let parsed: unknown = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return { message: body.slice(0, 200) };
    }
  }
  if (!isRecord(parsed)) return {};
  return {
    ...(typeof parsed.reason === 'string' ? { reason: parsed.reason } : {}),
    ...(typeof parsed.message === 'string' ? { message: parsed.message } : {}),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
