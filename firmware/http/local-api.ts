// The agent's local API for antctl: JSON over HTTP on a root-only unix socket, plus the matching client.
// ApiError codes become HTTP statuses (and back) only through HTTP_STATUS_BY_CODE below.
import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { ApiError, isApiErrorCode, type ApiErrorCode, type ApiErrorDetails } from '../core/antctl/api-error';
import type {
  AgentApi,
  AddressGroupView,
  AgentCommands,
  AgentInfoView,
  AgentQueries,
  AppliedToGroupView,
  ApplyResultView,
  ControllerInfoView,
  ControllerQueries,
  DeleteResultView,
  GroupFilter,
  NamespaceLabelsView,
  NetworkPolicyEvaluationQuery,
  NetworkPolicyEvaluationView,
  NetworkPolicyFilter,
  NetworkPolicyStatsFilter,
  NetworkPolicyStatsView,
  NetworkPolicyTypeFilter,
  NetworkPolicyView,
  PodLabelsView,
  OvsFlowFilter,
  PodInterfaceFilter,
  PodInterfaceView,
  PolicyCommands,
  PolicyQueries,
  PolicyRef,
  PolicyStatsQueries,
  RuleStatsView,
  LogLevelCommands,
  LogLevelView,
  SupportBundleCommands,
  SupportBundleRequest,
  SupportBundleView,
  TraceflowQueries,
  TraceflowRequest,
  TraceflowResult,
} from '../core/antctl/views';
import { NETWORK_POLICY_TYPE_FILTERS, parseLogLevel, parseNetworkPolicyType } from '../core/antctl/views';
import type { Protocol } from '../core/api/types';
import { DEFAULT_TRACE_TIMEOUT_SECONDS } from '../core/traceflow/types';
import type { LogLevel, Logger } from '../core/logger';

export type { AgentInfoView, AgentQueries, PodInterfaceView } from '../core/antctl/views';

export const LOCAL_API_PATHS = {
  podInterfaces: '/v1/podinterfaces',
  ovsFlows: '/v1/ovsflows',
  agentInfo: '/v1/agentinfo',
  controllerInfo: '/v1/controllerinfo',
  podLabels: '/v1/podlabels',
  namespaceLabels: '/v1/namespacelabels',
  apply: '/v1/apply',
  objects: '/v1/objects',
  networkPolicies: '/v1/networkpolicies',
  addressGroups: '/v1/addressgroups',
  appliedToGroups: '/v1/appliedtogroups',
  networkPolicyEvaluation: '/v1/networkpolicyevaluation',
  networkPolicyStats: '/v1/networkpolicystats',
  ruleStats: '/v1/rulestats',
  auditLog: '/v1/auditlog',
  logLevel: '/v1/loglevel',
  supportBundle: '/v1/supportbundle',
  traceflow: '/v1/traceflow',
  healthz: '/healthz',
} as const;

type HttpMethod = 'GET' | 'PUT' | 'POST' | 'DELETE';

/** Paths that are not read with GET alone. */
const METHODS_BY_PATH: Readonly<Partial<Record<string, readonly HttpMethod[]>>> = {
  [LOCAL_API_PATHS.podLabels]: ['PUT'],
  [LOCAL_API_PATHS.namespaceLabels]: ['GET', 'PUT'],
  [LOCAL_API_PATHS.apply]: ['POST'],
  [LOCAL_API_PATHS.objects]: ['DELETE'],
  [LOCAL_API_PATHS.logLevel]: ['GET', 'PUT'],
  [LOCAL_API_PATHS.supportBundle]: ['POST'],
  [LOCAL_API_PATHS.traceflow]: ['POST'],
};

/** Body of every non-2xx answer. `Internal` marks failures that were not ApiErrors. */
export interface ErrorBody {
  code: ApiErrorCode | 'Internal';
  message: string;
  /** E.g. the field errors of a rejected apply. */
  details?: ApiErrorDetails;
}

const HTTP_STATUS_BY_CODE: Record<ApiErrorCode, number> = {
  BadRequest: 400,
  NotFound: 404,
  Conflict: 409,
  Unavailable: 503,
};

/** The one translation from a query failure to an HTTP answer. */
export function errorResponse(error: unknown): { status: number; body: ErrorBody } {
  if (error instanceof ApiError) {
    const body: ErrorBody = { code: error.code, message: error.message };
    if (error.details !== undefined) body.details = error.details;
    return { status: HTTP_STATUS_BY_CODE[error.code], body };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { status: 500, body: { code: 'Internal', message: `internal error: ${message}` } };
}

/** The inverse of errorResponse, for the client side of the socket. */
export function errorFromResponse(status: number, body: unknown): Error {
  const fields = typeof body === 'object' && body !== null ? (body as Partial<Record<string, unknown>>) : {};
  const message = typeof fields.message === 'string' ? fields.message : `the agent answered HTTP ${status}`;
  const details =
    typeof fields.details === 'object' && fields.details !== null && !Array.isArray(fields.details)
      ? (fields.details as ApiErrorDetails)
      : undefined;
  if (isApiErrorCode(fields.code)) return new ApiError(fields.code, message, details);
  const byStatus = (Object.keys(HTTP_STATUS_BY_CODE) as ApiErrorCode[]).find(
    (code) => HTTP_STATUS_BY_CODE[code] === status,
  );
  return byStatus === undefined ? new Error(message) : new ApiError(byStatus, message);
}

export type LocalApiServerErrorCode = 'AlreadyStarted' | 'SocketInUse' | 'NotASocket';

export class LocalApiServerError extends Error {
  override readonly name = 'LocalApiServerError';

  constructor(
    readonly code: LocalApiServerErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface LocalApiServerOptions {
  socketPath: string;
  queries: AgentQueries;
  /** Absent: the API is read-only. */
  commands?: AgentCommands;
  /**
   * Absent: the agent serves no network policy endpoints (they answer 503). The controller that computes the
   * policies answers controllerinfo too, when it runs in this process (standalone); otherwise that answers 503.
   */
  policies?: PolicyQueries & PolicyCommands & Partial<ControllerQueries>;
  /** Absent: the agent serves no policy statistics (they answer 503). */
  stats?: PolicyStatsQueries;
  /** Absent: the agent serves no audit log (it answers 503). */
  auditLog?: AuditLogSource;
  /** Absent: the log level cannot be shown or changed (503). */
  logLevel?: LogLevelCommands;
  /** Absent: no support bundles (503). */
  supportBundle?: SupportBundleCommands;
  /** Absent: no Traceflow (503). */
  traceflow?: TraceflowQueries;
  logger: Logger;
}

/** The recent NetworkPolicy audit log entries (enableLogging rules), newest first. */
export interface AuditLogSource {
  /** Throws an error with code 'INVALID_QUERY' for a limit outside its range or an unknown disposition. */
  recent(query: { limit?: number; disposition?: 'Allow' | 'Drop' | 'Reject' | 'Pass' }): unknown[];
}

const SOCKET_MODE = 0o600;
const SOCKET_DIR_MODE = 0o755;

export class LocalApiServer {
  private server: http.Server | undefined;
  private socketInode: number | undefined;

  constructor(private readonly options: LocalApiServerOptions) {}

  async start(): Promise<void> {
    if (this.server !== undefined) {
      throw new LocalApiServerError('AlreadyStarted', 'the local API server is already started');
    }
    const { socketPath, logger } = this.options;
    await fs.mkdir(path.dirname(socketPath), { recursive: true, mode: SOCKET_DIR_MODE });
    await removeStaleSocket(socketPath, logger);

    const server = http.createServer((request, response) => {
      void this.handle(request, response);
    });
    await listenPrivately(server, socketPath);
    this.server = server;
    this.socketInode = (await fs.lstat(socketPath)).ino;
    logger.info('local API listening', { socketPath });
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    // Only our own socket file: a newer agent may already have replaced it.
    try {
      const stat = await fs.lstat(this.options.socketPath);
      if (stat.ino === this.socketInode) await fs.unlink(this.options.socketPath);
    } catch (error) {
      if (!isErrno(error, 'ENOENT')) throw error;
    }
    this.options.logger.info('local API stopped', { socketPath: this.options.socketPath });
  }

  private async handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const allowed = METHODS_BY_PATH[url.pathname] ?? ['GET'];
    const method = allowed.find((candidate) => candidate === request.method);
    if (method === undefined) {
      response.setHeader('allow', allowed.join(', '));
      sendJson(response, 405, {
        code: 'BadRequest',
        message: `method ${request.method ?? ''} not allowed; use ${allowed.join(' or ')}`,
      });
      return;
    }
    if (url.pathname === LOCAL_API_PATHS.supportBundle) {
      await this.streamSupportBundle(url, request, response);
      return;
    }
    try {
      const body = await this.dispatch(method, url, request);
      sendJson(response, 200, body);
      this.options.logger.debug('local API request', { path: url.pathname, status: 200 });
    } catch (error) {
      const { status, body } = errorResponse(error);
      const fields = { path: url.pathname, status, error };
      if (status === 500) this.options.logger.error('local API request failed', fields);
      else this.options.logger.debug('local API request failed', fields);
      sendJson(response, status, body);
    }
  }

  private async dispatch(method: HttpMethod, url: URL, request: http.IncomingMessage): Promise<unknown> {
    switch (method) {
      case 'GET':
        return url.pathname === LOCAL_API_PATHS.namespaceLabels
          ? this.policies().namespaceLabels(requiredParam(queryParams(url, ['name']), 'name'))
          : this.route(url);
      case 'PUT':
        return this.routeWrite(url, await readJsonBody(request, MAX_BODY_BYTES));
      case 'POST':
        if (url.pathname === LOCAL_API_PATHS.traceflow) {
          return this.routeTraceflow(url, await readJsonBody(request, MAX_BODY_BYTES));
        }
        return this.routeApply(url, await readJsonBody(request, MAX_APPLY_BODY_BYTES));
      case 'DELETE':
        return this.routeDelete(url);
    }
  }

  /** The body is a TraceflowRequest; the answer a TraceflowResult once the trace ended. */
  private async routeTraceflow(url: URL, body: unknown): Promise<unknown> {
    queryParams(url, []);
    const { traceflow } = this.options;
    if (traceflow === undefined) throw new ApiError('Unavailable', 'this agent does not run Traceflow');
    return traceflow.traceflow(body as TraceflowRequest);
  }

  /**
   * Answers NDJSON as the bundle is collected: `{"progress": "..."}` lines, then `{"result": SupportBundleView}`
   * or `{"error": ErrorBody}`. Errors found before anything is sent (a bad request) are ordinary error answers.
   */
  private async streamSupportBundle(
    url: URL,
    request: http.IncomingMessage,
    response: http.ServerResponse,
  ): Promise<void> {
    let bundleRequest: SupportBundleRequest;
    let source: SupportBundleCommands;
    try {
      queryParams(url, []);
      const body = await readJsonBody(request, MAX_BODY_BYTES);
      const dir = (body as { dir?: unknown } | null)?.dir;
      if (dir !== undefined && (typeof dir !== 'string' || dir === '')) {
        throw new ApiError('BadRequest', 'body must be {"dir": "/absolute/path"} or {}');
      }
      bundleRequest = dir === undefined ? {} : { dir };
      if (this.options.supportBundle === undefined) {
        throw new ApiError('Unavailable', 'this agent cannot make support bundles');
      }
      source = this.options.supportBundle;
    } catch (error) {
      const { status, body } = errorResponse(error);
      sendJson(response, status, body);
      return;
    }
    response.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8' });
    const line = (value: unknown): void => {
      response.write(`${JSON.stringify(value)}\n`);
    };
    try {
      const result = await source.supportBundle(bundleRequest, (progress) => line({ progress }));
      line({ result });
    } catch (error) {
      const answer = errorResponse(error);
      if (answer.status === 500) this.options.logger.error('support bundle failed', { error });
      line({ error: answer.body, status: answer.status });
    }
    response.end();
  }

  private logLevelCommands(): LogLevelCommands {
    const { logLevel } = this.options;
    if (logLevel === undefined) throw new ApiError('Unavailable', 'this agent cannot change its log level');
    return logLevel;
  }

  private async routeWrite(url: URL, body: unknown): Promise<unknown> {
    if (url.pathname === LOCAL_API_PATHS.logLevel) {
      queryParams(url, []);
      const text = (body as { level?: unknown } | null)?.level;
      const level = typeof text === 'string' ? parseLogLevel(text) : undefined;
      if (level === undefined) {
        throw new ApiError('BadRequest', 'body must be {"level": "debug|info|warn|error"}');
      }
      return this.logLevelCommands().setLogLevel(level);
    }
    if (url.pathname === LOCAL_API_PATHS.namespaceLabels) {
      const params = queryParams(url, ['name']);
      const name = requiredParam(params, 'name');
      return this.policies().setNamespaceLabels(name, labelsOf(body));
    }
    const { commands } = this.options;
    if (commands === undefined)
      throw new ApiError('Unavailable', 'this agent accepts no changes over its local API');
    const params = queryParams(url, ['namespace', 'name']);
    if (params.namespace === undefined || params.name === undefined) {
      throw new ApiError('BadRequest', 'namespace and name are required');
    }
    return commands.setPodLabels(params.namespace, params.name, labelsOf(body));
  }

  private async routeApply(url: URL, body: unknown): Promise<unknown> {
    queryParams(url, []);
    const objects = (body as { objects?: unknown } | null)?.objects;
    if (!Array.isArray(objects) || objects.length === 0) {
      throw new ApiError(
        'BadRequest',
        'body must be {"objects": [ {apiVersion, kind, metadata, spec}, ... ]}',
      );
    }
    return this.policies().applyObjects(objects as unknown[]);
  }

  private async routeDelete(url: URL): Promise<unknown> {
    const params = queryParams(url, ['key', 'kind', 'namespace', 'name']);
    if (params.key !== undefined) {
      if (params.kind !== undefined || params.namespace !== undefined || params.name !== undefined) {
        throw new ApiError('BadRequest', 'give either key or kind, namespace and name, not both');
      }
      return this.policies().deleteObject(params.key);
    }
    if (params.kind === undefined || params.name === undefined) {
      throw new ApiError(
        'BadRequest',
        'key, or kind and name (and namespace for namespaced kinds), are required',
      );
    }
    return this.policies().deleteObject(`${params.kind}/${params.namespace ?? ''}/${params.name}`);
  }

  private stats(): PolicyStatsQueries {
    const { stats } = this.options;
    if (stats === undefined)
      throw new ApiError('Unavailable', 'this agent serves no network policy statistics over its local API');
    return stats;
  }

  private policies(): PolicyQueries & PolicyCommands & Partial<ControllerQueries> {
    const { policies } = this.options;
    if (policies === undefined)
      throw new ApiError('Unavailable', 'this agent serves no network policies over its local API');
    return policies;
  }

  private async route(url: URL): Promise<unknown> {
    const { queries } = this.options;
    switch (url.pathname) {
      case LOCAL_API_PATHS.healthz:
        queryParams(url, []);
        return { status: 'ok' };
      case LOCAL_API_PATHS.podInterfaces: {
        const params = queryParams(url, ['name', 'namespace']);
        const filter: PodInterfaceFilter = {};
        if (params.name !== undefined) filter.name = params.name;
        if (params.namespace !== undefined) filter.namespace = params.namespace;
        return queries.podInterfaces(filter);
      }
      case LOCAL_API_PATHS.ovsFlows: {
        const params = queryParams(url, ['pod', 'namespace', 'table', 'networkpolicy', 'type']);
        if (params.pod !== undefined && params.namespace === undefined) {
          throw new ApiError('BadRequest', 'namespace must be provided together with pod');
        }
        if (params.pod !== undefined && params.networkpolicy !== undefined) {
          throw new ApiError('BadRequest', 'give either pod or networkpolicy, not both');
        }
        if (params.type !== undefined && params.networkpolicy === undefined) {
          throw new ApiError('BadRequest', 'type is only used together with networkpolicy');
        }
        const filter: OvsFlowFilter = {};
        if (params.pod !== undefined) filter.pod = params.pod;
        if (params.namespace !== undefined) filter.namespace = params.namespace;
        if (params.table !== undefined) filter.table = params.table;
        if (params.networkpolicy !== undefined) filter.networkPolicy = params.networkpolicy;
        if (params.type !== undefined) filter.type = policyTypeParam(params.type);
        return queries.ovsFlows(filter);
      }
      case LOCAL_API_PATHS.networkPolicyStats: {
        const params = queryParams(url, ['name', 'namespace', 'type']);
        const filter: NetworkPolicyStatsFilter = {};
        if (params.name !== undefined) filter.name = params.name;
        if (params.namespace !== undefined) filter.namespace = params.namespace;
        if (params.type !== undefined) filter.type = policyTypeParam(params.type);
        return this.stats().networkPolicyStats(filter);
      }
      case LOCAL_API_PATHS.ruleStats: {
        const params = queryParams(url, ['name', 'namespace', 'type']);
        const ref: PolicyRef = { name: requiredParam(params, 'name') };
        if (params.namespace !== undefined) ref.namespace = params.namespace;
        if (params.type !== undefined) ref.type = policyTypeParam(params.type);
        return this.stats().ruleStats(ref);
      }
      case LOCAL_API_PATHS.auditLog: {
        const params = queryParams(url, ['limit', 'disposition']);
        const source = this.options.auditLog;
        if (!source) throw new ApiError('Unavailable', 'this agent serves no audit log over its local API');
        const query: Parameters<AuditLogSource['recent']>[0] = {};
        if (params.limit !== undefined) {
          if (!/^\d{1,9}$/.test(params.limit)) throw new ApiError('BadRequest', 'limit must be a number');
          query.limit = Number(params.limit);
        }
        if (params.disposition !== undefined) {
          query.disposition = params.disposition as NonNullable<typeof query.disposition>;
        }
        try {
          return source.recent(query);
        } catch (error) {
          if ((error as { code?: unknown }).code === 'INVALID_QUERY') {
            throw new ApiError('BadRequest', (error as Error).message);
          }
          throw error;
        }
      }
      case LOCAL_API_PATHS.agentInfo:
        queryParams(url, []);
        return queries.agentInfo();
      case LOCAL_API_PATHS.logLevel:
        queryParams(url, []);
        return this.logLevelCommands().logLevel();
      case LOCAL_API_PATHS.controllerInfo: {
        queryParams(url, []);
        const policies = this.policies();
        if (policies.controllerInfo === undefined) {
          throw new ApiError('Unavailable', 'no policy controller runs in this agent');
        }
        return policies.controllerInfo();
      }
      case LOCAL_API_PATHS.networkPolicies: {
        const params = queryParams(url, ['name', 'namespace', 'type']);
        const filter: NetworkPolicyFilter = {};
        if (params.name !== undefined) filter.name = params.name;
        if (params.namespace !== undefined) filter.namespace = params.namespace;
        if (params.type !== undefined) filter.type = policyTypeParam(params.type);
        return this.policies().networkPolicies(filter);
      }
      case LOCAL_API_PATHS.addressGroups:
      case LOCAL_API_PATHS.appliedToGroups: {
        const params = queryParams(url, ['name']);
        const filter: GroupFilter = params.name === undefined ? {} : { name: params.name };
        return url.pathname === LOCAL_API_PATHS.addressGroups
          ? this.policies().addressGroups(filter)
          : this.policies().appliedToGroups(filter);
      }
      case LOCAL_API_PATHS.networkPolicyEvaluation: {
        const params = queryParams(url, ['source', 'destination', 'port', 'protocol']);
        return this.policies().networkPolicyEvaluation({
          source: requiredParam(params, 'source'),
          destination: requiredParam(params, 'destination'),
          port: portParam(requiredParam(params, 'port')),
          protocol: protocolParam(params.protocol ?? 'TCP'),
        });
      }
      default:
        throw new ApiError(
          'NotFound',
          `no endpoint ${url.pathname}; endpoints are ${Object.values(LOCAL_API_PATHS).join(', ')}`,
        );
    }
  }
}

/** Known parameters only, each at most once; empty values count as absent (`?name=`). */
function queryParams<K extends string>(url: URL, allowed: readonly K[]): Partial<Record<K, string>> {
  const result: Partial<Record<K, string>> = {};
  for (const key of new Set(url.searchParams.keys())) {
    if (!(allowed as readonly string[]).includes(key)) {
      const valid = allowed.length === 0 ? 'none' : allowed.join(', ');
      throw new ApiError('BadRequest', `unknown query parameter "${key}"; valid parameters: ${valid}`);
    }
    const values = url.searchParams.getAll(key);
    if (values.length > 1) throw new ApiError('BadRequest', `query parameter "${key}" given more than once`);
    const value = values[0];
    if (value !== undefined && value !== '') result[key as K] = value;
  }
  return result;
}

function requiredParam<K extends string>(params: Partial<Record<K, string>>, key: K): string {
  const value = params[key];
  if (value === undefined) throw new ApiError('BadRequest', `query parameter "${key}" is required`);
  return value;
}

function policyTypeParam(text: string): NetworkPolicyTypeFilter {
  const type = parseNetworkPolicyType(text);
  if (type === undefined) {
    throw new ApiError(
      'BadRequest',
      `unknown policy type "${text}"; valid types: ${NETWORK_POLICY_TYPE_FILTERS.join(', ')}`,
    );
  }
  return type;
}

function portParam(text: string): number {
  const port = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65535)) {
    throw new ApiError('BadRequest', `port "${text}" must be a number between 1 and 65535`);
  }
  return port;
}

const PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP', 'SCTP'];

function protocolParam(text: string): Protocol {
  const protocol = PROTOCOLS.find((candidate) => candidate === text.toUpperCase());
  if (protocol === undefined) {
    throw new ApiError('BadRequest', `protocol "${text}" must be one of ${PROTOCOLS.join(', ')}`);
  }
  return protocol;
}

function labelsOf(body: unknown): Record<string, string> {
  const labels = (body as { labels?: unknown } | null)?.labels;
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) {
    throw new ApiError('BadRequest', 'body must be {"labels": {"key": "value", ...}}');
  }
  for (const [key, value] of Object.entries(labels)) {
    if (typeof value !== 'string')
      throw new ApiError('BadRequest', `label "${key}" must have a string value`);
  }
  return labels as Record<string, string>;
}

const MAX_BODY_BYTES = 64 * 1024;
/** Manifests with many policies are larger than label bodies. */
const MAX_APPLY_BODY_BYTES = 8 * 1024 * 1024;

async function readJsonBody(request: http.IncomingMessage, maxBytes: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new ApiError('BadRequest', `request body larger than ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new ApiError('BadRequest', 'request body is not valid JSON');
  }
}

function sendJson(response: http.ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}

/**
 * A socket file left by a crashed agent blocks listen() with EADDRINUSE. Remove it only when nothing
 * answers on it, and never remove something that is not a socket.
 */
async function removeStaleSocket(socketPath: string, logger: Logger): Promise<void> {
  let stat;
  try {
    stat = await fs.lstat(socketPath);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return;
    throw error;
  }
  if (!stat.isSocket()) {
    throw new LocalApiServerError(
      'NotASocket',
      `${socketPath} exists and is not a socket; refusing to replace it`,
    );
  }
  if (await acceptsConnections(socketPath)) {
    throw new LocalApiServerError('SocketInUse', `another process is already serving ${socketPath}`);
  }
  logger.warn('removing stale local API socket', { socketPath });
  await fs.unlink(socketPath);
}

function acceptsConnections(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/**
 * Binds with umask 0177 so the socket is never reachable by other users, not even between bind() and
 * chmod(); bind() happens synchronously inside listen(), so the umask is restored before any other code
 * runs. The chmod afterwards covers platforms where bind() ignores the umask.
 */
async function listenPrivately(server: http.Server, socketPath: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    const previousUmask = process.umask(0o177);
    try {
      server.listen(socketPath, () => {
        server.off('error', onError);
        resolve();
      });
    } finally {
      process.umask(previousUmask);
    }
  });
  await fs.chmod(socketPath, SOCKET_MODE);
}

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

// ---------------------------------------------------------------------------------------------------
// Client

export interface LocalApiClientOptions {
  socketPath: string;
  /** How long to wait for an answer; the agent may be stuck on a hung ovs-vswitchd. */
  timeoutMs?: number;
}

const DEFAULT_CLIENT_TIMEOUT_MS = 30_000;
const SUPPORT_BUNDLE_IDLE_TIMEOUT_MS = 120_000;

/** AgentQueries over the socket: the CLI runs the same commands as the console, just remotely. */
export class LocalApiClient implements AgentApi {
  constructor(private readonly options: LocalApiClientOptions) {}

  /** Waits as long as the trace may take (its timeout), plus the agent's own work. */
  async traceflow(request: TraceflowRequest): Promise<TraceflowResult> {
    const seconds = request.timeoutSeconds ?? DEFAULT_TRACE_TIMEOUT_SECONDS;
    const timeoutMs = Math.max(this.options.timeoutMs ?? DEFAULT_CLIENT_TIMEOUT_MS, (seconds + 15) * 1000);
    const body = await this.request('POST', LOCAL_API_PATHS.traceflow, {}, request, timeoutMs);
    return expectObject(body, 'traceflow') as TraceflowResult;
  }

  async logLevel(): Promise<LogLevelView> {
    return expectObject(await this.get(LOCAL_API_PATHS.logLevel, {}), 'loglevel') as LogLevelView;
  }

  async setLogLevel(level: LogLevel): Promise<LogLevelView> {
    const body = await this.request('PUT', LOCAL_API_PATHS.logLevel, {}, { level });
    return expectObject(body, 'loglevel') as LogLevelView;
  }

  /**
   * The bundle is written by the agent, on the appliance. A relative `dir` is taken relative to this process's
   * working directory (antctl runs on the appliance too); none means the working directory itself.
   */
  supportBundle(request: SupportBundleRequest, progress: (line: string) => void): Promise<SupportBundleView> {
    const dir = path.resolve(request.dir ?? process.cwd());
    const { socketPath } = this.options;
    return new Promise((resolve, reject) => {
      const httpRequest = http.request(
        {
          method: 'POST',
          socketPath,
          path: LOCAL_API_PATHS.supportBundle,
          headers: { accept: 'application/x-ndjson', 'content-type': 'application/json' },
          // Collecting can take long (large flow dumps); only a silent agent is a failure.
          timeout: SUPPORT_BUNDLE_IDLE_TIMEOUT_MS,
        },
        (response) => {
          const status = response.statusCode ?? 0;
          const streaming = status >= 200 && status < 300;
          let buffered = '';
          let outcome: { result?: SupportBundleView; error?: Error } = {};
          const handleLine = (text: string): void => {
            if (text.trim() === '') return;
            let message: { progress?: unknown; result?: unknown; error?: unknown; status?: unknown };
            try {
              message = JSON.parse(text) as typeof message;
            } catch {
              outcome = { error: new Error('the agent sent a non-JSON support bundle answer') };
              return;
            }
            if (typeof message.progress === 'string') progress(message.progress);
            else if (message.result !== undefined) outcome = { result: message.result as SupportBundleView };
            else if (message.error !== undefined) {
              outcome = {
                error: errorFromResponse(
                  typeof message.status === 'number' ? message.status : 500,
                  message.error,
                ),
              };
            }
          };
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => {
            buffered += chunk;
            if (!streaming) return;
            let newline = buffered.indexOf('\n');
            while (newline >= 0) {
              handleLine(buffered.slice(0, newline));
              buffered = buffered.slice(newline + 1);
              newline = buffered.indexOf('\n');
            }
          });
          response.on('error', reject);
          response.on('end', () => {
            if (!streaming) {
              let body: unknown;
              try {
                body = JSON.parse(buffered);
              } catch {
                body = {};
              }
              reject(errorFromResponse(status, body));
              return;
            }
            handleLine(buffered);
            if (outcome.result !== undefined) resolve(outcome.result);
            else
              reject(
                outcome.error ?? new Error('the agent ended the support bundle answer without a result'),
              );
          });
        },
      );
      httpRequest.on('timeout', () => {
        httpRequest.destroy(
          new ApiError('Unavailable', `the antrea-edge agent at ${socketPath} stopped answering`),
        );
      });
      httpRequest.on('error', (error) => reject(connectionError(error, socketPath)));
      httpRequest.end(JSON.stringify({ dir }));
    });
  }

  async podInterfaces(filter: PodInterfaceFilter): Promise<PodInterfaceView[]> {
    return expectArray<PodInterfaceView>(await this.get(LOCAL_API_PATHS.podInterfaces, { ...filter }));
  }

  async ovsFlows(filter: OvsFlowFilter): Promise<string[]> {
    const { networkPolicy, ...rest } = filter;
    return expectArray<string>(
      await this.get(LOCAL_API_PATHS.ovsFlows, { ...rest, networkpolicy: networkPolicy }),
    );
  }

  async networkPolicyStats(filter: NetworkPolicyStatsFilter): Promise<NetworkPolicyStatsView[]> {
    return expectArray<NetworkPolicyStatsView>(
      await this.get(LOCAL_API_PATHS.networkPolicyStats, { ...filter }),
    );
  }

  async ruleStats(policy: PolicyRef): Promise<RuleStatsView[]> {
    return expectArray<RuleStatsView>(await this.get(LOCAL_API_PATHS.ruleStats, { ...policy }));
  }

  async agentInfo(): Promise<AgentInfoView> {
    const body = await this.get(LOCAL_API_PATHS.agentInfo, {});
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new Error('the agent sent an unexpected answer for agentinfo');
    }
    return body as AgentInfoView;
  }

  async controllerInfo(): Promise<ControllerInfoView> {
    return expectObject(
      await this.get(LOCAL_API_PATHS.controllerInfo, {}),
      'controllerinfo',
    ) as ControllerInfoView;
  }

  async healthz(): Promise<void> {
    await this.get(LOCAL_API_PATHS.healthz, {});
  }

  async setPodLabels(
    namespace: string,
    name: string,
    labels: Record<string, string>,
  ): Promise<PodLabelsView> {
    const body = await this.request('PUT', LOCAL_API_PATHS.podLabels, { namespace, name }, { labels });
    return body as PodLabelsView;
  }

  async networkPolicies(filter: NetworkPolicyFilter): Promise<NetworkPolicyView[]> {
    return expectArray<NetworkPolicyView>(await this.get(LOCAL_API_PATHS.networkPolicies, { ...filter }));
  }

  async addressGroups(filter: GroupFilter): Promise<AddressGroupView[]> {
    return expectArray<AddressGroupView>(await this.get(LOCAL_API_PATHS.addressGroups, { ...filter }));
  }

  async appliedToGroups(filter: GroupFilter): Promise<AppliedToGroupView[]> {
    return expectArray<AppliedToGroupView>(await this.get(LOCAL_API_PATHS.appliedToGroups, { ...filter }));
  }

  async networkPolicyEvaluation(query: NetworkPolicyEvaluationQuery): Promise<NetworkPolicyEvaluationView> {
    const body = await this.get(LOCAL_API_PATHS.networkPolicyEvaluation, {
      source: query.source,
      destination: query.destination,
      port: String(query.port),
      protocol: query.protocol,
    });
    return expectObject(body, 'networkpolicyevaluation') as NetworkPolicyEvaluationView;
  }

  async namespaceLabels(name: string): Promise<NamespaceLabelsView> {
    return expectObject(
      await this.get(LOCAL_API_PATHS.namespaceLabels, { name }),
      'namespacelabels',
    ) as NamespaceLabelsView;
  }

  async setNamespaceLabels(name: string, labels: Record<string, string>): Promise<NamespaceLabelsView> {
    const body = await this.request('PUT', LOCAL_API_PATHS.namespaceLabels, { name }, { labels });
    return expectObject(body, 'namespacelabels') as NamespaceLabelsView;
  }

  async applyObjects(objects: unknown[]): Promise<ApplyResultView[]> {
    return expectArray<ApplyResultView>(await this.request('POST', LOCAL_API_PATHS.apply, {}, { objects }));
  }

  async deleteObject(key: string): Promise<DeleteResultView> {
    return expectObject(
      await this.request('DELETE', LOCAL_API_PATHS.objects, { key }),
      'delete',
    ) as DeleteResultView;
  }

  private get(pathname: string, query: Record<string, string | undefined>): Promise<unknown> {
    return this.request('GET', pathname, query);
  }

  private request(
    method: HttpMethod,
    pathname: string,
    query: Record<string, string | undefined>,
    payload?: unknown,
    requestTimeoutMs?: number,
  ): Promise<unknown> {
    const { socketPath } = this.options;
    const timeoutMs = requestTimeoutMs ?? this.options.timeoutMs ?? DEFAULT_CLIENT_TIMEOUT_MS;
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) if (value !== undefined) search.set(key, value);
    const requestPath = search.size === 0 ? pathname : `${pathname}?${search.toString()}`;

    return new Promise((resolve, reject) => {
      const request = http.request(
        {
          method,
          socketPath,
          path: requestPath,
          headers: { accept: 'application/json', 'content-type': 'application/json' },
          timeout: timeoutMs,
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', reject);
          response.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let body: unknown;
            try {
              body = JSON.parse(text);
            } catch {
              reject(new Error(`the agent sent a non-JSON answer (HTTP ${response.statusCode ?? 0})`));
              return;
            }
            const status = response.statusCode ?? 0;
            if (status >= 200 && status < 300) resolve(body);
            else reject(errorFromResponse(status, body));
          });
        },
      );
      request.on('timeout', () => {
        request.destroy(
          new ApiError(
            'Unavailable',
            `the antrea-edge agent at ${socketPath} did not answer within ${Math.round(timeoutMs / 1000)}s`,
          ),
        );
      });
      request.on('error', (error) => reject(connectionError(error, socketPath)));
      request.end(payload === undefined ? undefined : JSON.stringify(payload));
    });
  }
}

function connectionError(error: Error, socketPath: string): Error {
  if (error instanceof ApiError) return error;
  if (isErrno(error, 'ENOENT') || isErrno(error, 'ECONNREFUSED')) {
    return new ApiError('Unavailable', `cannot reach the antrea-edge agent at ${socketPath}: is it running?`);
  }
  if (isErrno(error, 'EACCES')) {
    return new ApiError('Unavailable', `permission denied on ${socketPath}: antctl must run as root`);
  }
  return error;
}

function expectObject(body: unknown, what: string): object {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new Error(`the agent sent an unexpected answer for ${what}`);
  }
  return body;
}

function expectArray<T>(body: unknown): T[] {
  if (!Array.isArray(body)) throw new Error('the agent sent an unexpected answer: expected a list');
  return body as T[];
}
