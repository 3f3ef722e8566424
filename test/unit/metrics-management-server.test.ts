// The management server's router (connect mount semantics, so Express apps mount as they are), its endpoints
// (/healthz, /readyz, /metrics) on a real loopback socket, and the readiness checks behind /readyz.
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { Gauge, Registry } from 'prom-client';
import { silentLogger } from '../../firmware/core/logger';
import {
  healthzHandler,
  HttpRouter,
  HttpRouterError,
  ManagementServer,
  ManagementServerError,
  metricsHandler,
  readyzHandler,
  type HttpHandler,
} from '../../firmware/http/management-server';
import { Readiness, ReadinessError } from '../../firmware/observability/readiness';
import { parsePrometheusText, sampleValue } from './metrics-text-format';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(port: number, method: string, urlPath: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('management HTTP router', () => {
  let server: ManagementServer;
  let router: HttpRouter;
  let port: number;

  beforeEach(async () => {
    router = new HttpRouter();
    server = new ManagementServer({ host: '127.0.0.1', port: 0, router, logger: silentLogger });
    await server.start();
    port = server.address()?.port ?? 0;
  });

  afterEach(() => server.stop());

  it('strips the mount prefix like connect, keeps originalUrl, and restores url for the next mount', async () => {
    const seen: { url?: string; originalUrl?: string }[] = [];
    // What an Express 4 app mounted at /red does: route on req.url, pass unknown paths on with next().
    const expressLike: HttpHandler = (req, res, next) => {
      seen.push({ url: req.url, originalUrl: req.originalUrl });
      if (req.url?.startsWith('/admin')) res.end('red admin');
      else next();
    };
    const fallback: HttpHandler = (req, res) => res.end(`fallback ${req.url ?? ''}`);
    router.mount('/red', expressLike);
    router.mount('/', fallback);

    const admin = await request(port, 'GET', '/red/admin?x=1');
    assert.equal(admin.body, 'red admin');
    assert.deepEqual(seen[0], { url: '/admin?x=1', originalUrl: '/red/admin?x=1' });

    const passed = await request(port, 'GET', '/red/other');
    assert.equal(passed.body, 'fallback /red/other', 'the next mount sees the original url');

    const root = await request(port, 'GET', '/red');
    assert.equal(seen[2]?.url, '/', 'the mount point itself is "/" inside the app');
    assert.equal(root.body, 'fallback /red');

    const notPrefix = await request(port, 'GET', '/redder');
    assert.equal(notPrefix.body, 'fallback /redder', '/redder is not under /red');
    assert.equal(seen.length, 3);
  });

  it('answers 404 when no mount handles a path and 500 when a handler fails', async () => {
    router.mount('/boom', () => {
      throw new Error('handler bug');
    });
    router.mount('/fail', (_req, _res, next) => next(new Error('async failure')));
    assert.equal((await request(port, 'GET', '/nowhere')).status, 404);
    assert.equal((await request(port, 'GET', '/boom')).status, 500);
    assert.equal((await request(port, 'GET', '/fail/x')).status, 500);
  });

  it('tries longer prefixes first', async () => {
    router.mount('/a', (_req, res) => res.end('a'));
    router.mount('/a/b', (_req, res) => res.end('a/b'));
    assert.equal((await request(port, 'GET', '/a/b/c')).body, 'a/b');
    assert.equal((await request(port, 'GET', '/a/c')).body, 'a');
  });

  it('rejects prefixes that cannot match', () => {
    for (const prefix of ['metrics', '/metrics/', '/a?b']) {
      assert.throws(
        () => router.mount(prefix, () => undefined),
        (error: unknown) => error instanceof HttpRouterError && error.code === 'INVALID_PREFIX',
      );
    }
  });
});

describe('management endpoints', () => {
  let server: ManagementServer;
  let port: number;
  let registry: Registry;
  let readiness: Readiness;
  let ovsdbUp: boolean;

  beforeEach(async () => {
    registry = new Registry();
    new Gauge({ name: 'antrea_edge_test_value', help: 'A test gauge.', registers: [registry] }).set(7);
    readiness = new Readiness();
    ovsdbUp = false;
    readiness.add('ovsdb', () => (ovsdbUp ? undefined : 'OVSDB connection is down'));
    readiness.add('agent', () => undefined);
    const router = new HttpRouter();
    router.mount('/healthz', healthzHandler());
    router.mount('/readyz', readyzHandler(readiness));
    router.mount(
      '/metrics',
      metricsHandler({ contentType: registry.contentType, metrics: () => registry.metrics() }, silentLogger),
    );
    server = new ManagementServer({ host: '127.0.0.1', port: 0, router, logger: silentLogger });
    await server.start();
    port = server.address()?.port ?? 0;
  });

  afterEach(() => server.stop());

  it('/healthz answers ok, GET and HEAD only', async () => {
    const health = await request(port, 'GET', '/healthz');
    assert.equal(health.status, 200);
    assert.equal(health.body, 'ok');
    const post = await request(port, 'POST', '/healthz');
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
    assert.equal((await request(port, 'GET', '/healthz/deeper')).status, 404);
  });

  it('/readyz lists the failing checks with 503, then answers 200', async () => {
    const notReady = await request(port, 'GET', '/readyz');
    assert.equal(notReady.status, 503);
    assert.match(notReady.headers['content-type'] ?? '', /^application\/json/);
    assert.deepEqual(JSON.parse(notReady.body), {
      ready: false,
      checks: { ovsdb: 'OVSDB connection is down', agent: 'ok' },
    });
    ovsdbUp = true;
    const ready = await request(port, 'GET', '/readyz');
    assert.equal(ready.status, 200);
    assert.equal(ready.body, 'ok');
  });

  it('/metrics serves the registry in the Prometheus text format', async () => {
    const metrics = await request(port, 'GET', '/metrics');
    assert.equal(metrics.status, 200);
    assert.equal(metrics.headers['content-type'], registry.contentType);
    assert.equal(sampleValue(parsePrometheusText(metrics.body), 'antrea_edge_test_value'), 7);
    const head = await request(port, 'HEAD', '/metrics');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
  });

  it('answers 500 when collection fails, and keeps serving', async () => {
    new Gauge({
      name: 'antrea_edge_broken',
      help: 'Fails to collect.',
      registers: [registry],
      collect() {
        throw new Error('collector bug');
      },
    });
    assert.equal((await request(port, 'GET', '/metrics')).status, 500);
    assert.equal((await request(port, 'GET', '/healthz')).status, 200);
  });

  it('refuses a second start and reports a port in use with its code', async () => {
    await assert.rejects(
      server.start(),
      (error: unknown) => error instanceof ManagementServerError && error.code === 'ALREADY_STARTED',
    );
    const clash = new ManagementServer({
      host: '127.0.0.1',
      port,
      router: new HttpRouter(),
      logger: silentLogger,
    });
    await assert.rejects(
      clash.start(),
      (error: unknown) =>
        error instanceof ManagementServerError &&
        error.code === 'LISTEN_FAILED' &&
        error.message.includes(`127.0.0.1:${port}`),
    );
  });

  it('reports no address once stopped', async () => {
    await server.stop();
    assert.equal(server.address(), undefined);
  });
});

describe('readiness checks', () => {
  it('refuses two checks of one name and reports a throwing check as failing', () => {
    const readiness = new Readiness();
    readiness.add('a', () => {
      throw new Error('broken check');
    });
    assert.throws(
      () => readiness.add('a', () => undefined),
      (error: unknown) => error instanceof ReadinessError && error.code === 'DUPLICATE_CHECK',
    );
    assert.deepEqual(readiness.report(), { ready: false, checks: { a: 'check failed: broken check' } });
    assert.deepEqual(new Readiness().report(), { ready: true, checks: {} });
  });
});
