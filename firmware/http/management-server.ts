// The management HTTP server on the management NIC: /metrics (Prometheus), /healthz, /readyz, and whatever else
// is mounted later (Node-RED's Express apps). Routing is a small prefix router with connect's mount semantics:
// a handler mounted at `/red` sees `req.url` without the prefix and `req.originalUrl` with it, and calls `next()`
// to pass the request on, so an Express 4 app (`app(req, res, next)`) mounts as it is.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../core/logger';
import type { Readiness } from '../observability/readiness';

export type NextFunction = (error?: unknown) => void;

/** The shape of connect/Express middleware and of an Express app. */
export type HttpHandler = (
  request: http.IncomingMessage & { originalUrl?: string },
  response: http.ServerResponse,
  next: NextFunction,
) => void;

export class HttpRouterError extends Error {
  override readonly name = 'HttpRouterError';
  constructor(
    readonly code: 'INVALID_PREFIX',
    message: string,
  ) {
    super(message);
  }
}

interface Mount {
  prefix: string;
  handler: HttpHandler;
}

export class HttpRouter {
  private readonly mounts: Mount[] = [];

  /**
   * Handles requests for `prefix` and below (`/metrics` gets `/metrics`, `/metrics/x`, `/metrics?x`, not
   * `/metricsx`). Longer prefixes are tried first; mounts of one prefix in the order they were added.
   */
  mount(prefix: string, handler: HttpHandler): void {
    if (!prefix.startsWith('/') || (prefix.length > 1 && prefix.endsWith('/')) || /[?#]/.test(prefix)) {
      throw new HttpRouterError(
        'INVALID_PREFIX',
        `mount prefix "${prefix}" must start with "/" and not end with one (except "/" itself)`,
      );
    }
    this.mounts.push({ prefix, handler });
    // Stable sort: equal prefixes keep their order.
    this.mounts.sort((a, b) => b.prefix.length - a.prefix.length);
  }

  /** Runs the matching mounts in turn; answers 404 when none handles the request, 500 when one fails. */
  handle(request: http.IncomingMessage & { originalUrl?: string }, response: http.ServerResponse): void {
    const url = request.url ?? '/';
    request.originalUrl ??= url;
    const queryStart = url.search(/[?#]/);
    const pathname = queryStart < 0 ? url : url.slice(0, queryStart);
    const candidates = this.mounts.filter((mount) => matches(mount.prefix, pathname));
    let index = 0;
    const next: NextFunction = (error?: unknown) => {
      request.url = url;
      if (error !== undefined) {
        sendText(response, 500, 'internal error\n');
        return;
      }
      const mount = candidates[index++];
      if (mount === undefined) {
        sendText(response, 404, `no handler for ${pathname}\n`);
        return;
      }
      const rest = mount.prefix === '/' ? url : url.slice(mount.prefix.length);
      request.url = rest.startsWith('/') ? rest : `/${rest}`;
      try {
        mount.handler(request, response, next);
      } catch (thrown) {
        next(thrown ?? new Error('handler threw'));
      }
    };
    next();
  }
}

function matches(prefix: string, pathname: string): boolean {
  if (prefix === '/') return true;
  return pathname === prefix || pathname.startsWith(`${prefix}/`);
}

export interface MetricsSource {
  readonly contentType: string;
  metrics(): Promise<string>;
}

/** GET/HEAD only; anything else is 405. Returns false when it answered. */
function readOnly(request: http.IncomingMessage, response: http.ServerResponse): boolean {
  if (request.method === 'GET' || request.method === 'HEAD') return true;
  response.setHeader('allow', 'GET, HEAD');
  sendText(response, 405, `method ${request.method ?? ''} not allowed\n`);
  return false;
}

/** `/healthz`: the process is up and its event loop answers. */
export function healthzHandler(): HttpHandler {
  return (request, response, next) => {
    if (request.url !== '/' && !request.url?.startsWith('/?')) return next();
    if (readOnly(request, response)) sendText(response, 200, 'ok');
  };
}

/** `/readyz`: 200 "ok" when every check passes, otherwise 503 with the report as JSON. */
export function readyzHandler(readiness: Pick<Readiness, 'report'>): HttpHandler {
  return (request, response, next) => {
    if (request.url !== '/' && !request.url?.startsWith('/?')) return next();
    if (!readOnly(request, response)) return;
    const report = readiness.report();
    if (report.ready) {
      sendText(response, 200, 'ok');
      return;
    }
    const body = `${JSON.stringify(report)}\n`;
    response.writeHead(503, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    response.end(body);
  };
}

/** `/metrics`: the registry's text exposition, collected at scrape time. */
export function metricsHandler(source: MetricsSource, logger: Logger): HttpHandler {
  return (request, response, next) => {
    if (request.url !== '/' && !request.url?.startsWith('/?')) return next();
    if (!readOnly(request, response)) return;
    source.metrics().then(
      (text) => {
        response.writeHead(200, {
          'content-type': source.contentType,
          'content-length': Buffer.byteLength(text),
        });
        response.end(request.method === 'HEAD' ? undefined : text);
      },
      (error: unknown) => {
        logger.warn('metrics collection failed', { error });
        sendText(response, 500, 'metrics collection failed\n');
      },
    );
  };
}

function sendText(response: http.ServerResponse, status: number, text: string): void {
  if (response.headersSent) {
    response.end();
    return;
  }
  response.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}

export class ManagementServerError extends Error {
  override readonly name = 'ManagementServerError';
  constructor(
    readonly code: 'ALREADY_STARTED' | 'LISTEN_FAILED',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface ManagementServerOptions {
  host: string;
  /** 0: any free port (tests); see `address()`. */
  port: number;
  router: HttpRouter;
  logger: Logger;
}

export class ManagementServer {
  private server: http.Server | undefined;

  constructor(private readonly options: ManagementServerOptions) {}

  async start(): Promise<void> {
    if (this.server !== undefined) {
      throw new ManagementServerError('ALREADY_STARTED', 'the management server is already started');
    }
    const { host, port, router, logger } = this.options;
    const server = http.createServer((request, response) => router.handle(request, response));
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void =>
        reject(
          new ManagementServerError(
            'LISTEN_FAILED',
            `management server cannot listen on ${formatHostPort(host, port)}: ${error.message}`,
            { cause: error },
          ),
        );
      server.once('error', onError);
      server.listen(port, host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    server.on('error', (error) => logger.warn('management server error', { error }));
    this.server = server;
    const bound = this.address();
    logger.info('management server listening', {
      address: bound === undefined ? undefined : formatHostPort(bound.host, bound.port),
    });
  }

  /** Where it listens; undefined when stopped. */
  address(): { host: string; port: number } | undefined {
    const address = this.server?.address() as AddressInfo | null | undefined;
    if (address === null || address === undefined) return undefined;
    return { host: address.address, port: address.port };
  }

  /** The node:http server while started: Node-RED attaches its editor websocket to its upgrade events. */
  httpServer(): http.Server | undefined {
    return this.server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}

export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
