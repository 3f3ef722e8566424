// Plain JSON requests to the Kubernetes API with the kubeconfig's credentials (the client's own agent, TLS and
// auth headers). The client's typed APIs are not used for our objects: their models rename wire fields
// (NetworkPolicy `from` is `_from`) and drop fields they do not know, so a policy would not survive the round trip.
import * as http from 'node:http';
import * as https from 'node:https';
import type * as k8s from '@kubernetes/client-node';

export type KubeRequestErrorCode = 'KubeUnreachable' | 'KubeRequestFailed';

/** A failed request: the server's Status (code, reason, message) or why the server could not be reached. */
export class KubeRequestError extends Error {
  override readonly name = 'KubeRequestError';

  constructor(
    readonly code: KubeRequestErrorCode,
    message: string,
    /** HTTP status; 0 when the server was not reached. */
    readonly status = 0,
    /** The Status reason: NotFound, AlreadyExists, Conflict, Invalid, Forbidden... */
    readonly reason = '',
  ) {
    super(message);
  }
}

export interface KubeRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path and query, e.g. `/api/v1/pods?limit=500`. */
  path: string;
  body?: unknown;
  /** Default application/json; PATCH needs application/merge-patch+json or application/json-patch+json. */
  contentType?: string;
}

/** Requests without a watch: answers are small and quick; a stalled server must not hang a caller forever. */
const REQUEST_TIMEOUT_MS = 30_000;

export class KubeRestClient {
  constructor(
    private readonly kubeConfig: k8s.KubeConfig,
    private readonly timeoutMs = REQUEST_TIMEOUT_MS,
  ) {}

  /** The API server's URL as the kubeconfig names it. */
  get server(): string {
    return this.kubeConfig.getCurrentCluster()?.server ?? '';
  }

  async request<T = unknown>(request: KubeRequest): Promise<T> {
    const server = this.server;
    if (server === '') throw new KubeRequestError('KubeUnreachable', 'the kubeconfig names no cluster');
    const options: https.RequestOptions = {};
    await this.kubeConfig.applyToHTTPSOptions(options);
    const url = new URL(server.replace(/\/$/, '') + request.path);
    const payload = request.body === undefined ? undefined : JSON.stringify(request.body);
    const headers: Record<string, string> = { Accept: 'application/json' };
    for (const [key, value] of Object.entries(options.headers ?? {})) {
      if (typeof value === 'string' || typeof value === 'number') headers[key] = String(value);
    }
    if (options.auth) headers['Authorization'] = `Basic ${Buffer.from(options.auth).toString('base64')}`;
    if (payload !== undefined) {
      headers['Content-Type'] = request.contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(payload));
    }
    const send = url.protocol === 'http:' ? http.request : https.request;
    return new Promise<T>((resolve, reject) => {
      const req = send(url, { agent: options.agent, method: request.method, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (error) => reject(unreachable(request, error)));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          let parsed: unknown;
          try {
            parsed = text === '' ? undefined : JSON.parse(text);
          } catch {
            parsed = undefined;
          }
          if (status >= 200 && status < 300) resolve(parsed as T);
          else reject(failed(request, status, parsed, text));
        });
      });
      req.setTimeout(this.timeoutMs, () =>
        req.destroy(new Error(`no answer within ${this.timeoutMs / 1000} s`)),
      );
      req.on('error', (error) => reject(unreachable(request, error)));
      req.end(payload);
    });
  }
}

function unreachable(request: KubeRequest, error: Error): KubeRequestError {
  const code = (error as NodeJS.ErrnoException).code;
  return new KubeRequestError(
    'KubeUnreachable',
    `Kubernetes API server unreachable (${request.method} ${request.path}): ${code ?? error.message}`,
  );
}

function failed(request: KubeRequest, status: number, body: unknown, text: string): KubeRequestError {
  const statusBody = (typeof body === 'object' && body !== null ? body : {}) as {
    message?: unknown;
    reason?: unknown;
  };
  const message = typeof statusBody.message === 'string' ? statusBody.message : text.slice(0, 200);
  const reason = typeof statusBody.reason === 'string' ? statusBody.reason : '';
  return new KubeRequestError(
    'KubeRequestFailed',
    `Kubernetes API ${request.method} ${request.path} failed (${status}${reason ? ` ${reason}` : ''}): ${message}`,
    status,
    reason,
  );
}
