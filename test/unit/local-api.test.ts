import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { ApiError } from '../../firmware/core/antctl/api-error';
import type { OvsFlowFilter, PodInterfaceFilter } from '../../firmware/core/antctl/views';
import { silentLogger } from '../../firmware/core/logger';
import {
  errorFromResponse,
  errorResponse,
  LocalApiClient,
  LocalApiServer,
  LocalApiServerError,
  type AgentInfoView,
  type AgentQueries,
  type PodInterfaceView,
} from '../../firmware/http/local-api';

const POD: PodInterfaceView = {
  namespace: 'default',
  name: 'web',
  interfaceName: 'web-2a41f0',
  ip: '10.10.0.5',
  mac: 'aa:bb:cc:00:00:05',
  portUuid: '1b2c3d4e-0000-4000-8000-000000000005',
  ofport: 5,
  containerId: 'c0ffee',
};

const AGENT_INFO: AgentInfoView = {
  podName: 'antrea-edge-node1',
  nodeName: 'node1',
  status: 'Unhealthy',
  nodeSubnets: ['10.10.0.0/24'],
  networkPolicies: 0,
  addressGroups: 0,
  appliedToGroups: 0,
  localPods: 1,
  ovsVersion: '3.1.0',
  bridgeName: 'br-int',
  flowsPerTable: { Classification: 3 },
};

const TABLES = [
  { name: 'Classification', number: 0 },
  { name: 'SpoofGuard', number: 10 },
];

/** Answers from fixtures and records what the server asked; `failWith` makes every query reject. */
class FakeQueries implements AgentQueries {
  readonly podInterfaceFilters: PodInterfaceFilter[] = [];
  readonly flowFilters: OvsFlowFilter[] = [];
  failWith: unknown;

  podInterfaces(filter: PodInterfaceFilter): Promise<PodInterfaceView[]> {
    this.podInterfaceFilters.push(filter);
    return this.answer([POD]);
  }

  ovsFlows(filter: OvsFlowFilter): Promise<string[]> {
    this.flowFilters.push(filter);
    if (
      filter.table !== undefined &&
      !TABLES.some((t) => t.name === filter.table || String(t.number) === filter.table)
    ) {
      return Promise.reject(ApiError.unknownTable(filter.table, TABLES));
    }
    return this.answer(['table=0, priority=0 actions=drop']);
  }

  agentInfo(): Promise<AgentInfoView> {
    return this.answer(AGENT_INFO);
  }

  private answer<T>(value: T): Promise<T> {
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- tests throw non-Errors on purpose
    return this.failWith === undefined ? Promise.resolve(value) : Promise.reject(this.failWith);
  }
}

function request(
  socketPath: string,
  requestPath: string,
  method = 'GET',
): Promise<{ status: number; body: unknown; contentType: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, path: requestPath, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown,
          contentType: res.headers['content-type'],
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('LocalApiServer', () => {
  let dir: string;
  let socketPath: string;
  let queries: FakeQueries;
  let server: LocalApiServer;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'antctl-api-'));
    socketPath = path.join(dir, 'run', 'antctl.sock');
    queries = new FakeQueries();
    server = new LocalApiServer({ socketPath, queries, logger: silentLogger });
    await server.start();
  });

  after(async () => {
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    queries.failWith = undefined;
    queries.podInterfaceFilters.length = 0;
    queries.flowFilters.length = 0;
  });

  it('creates the socket directory and a socket only root can use', () => {
    const stat = fs.lstatSync(socketPath);
    assert.ok(stat.isSocket());
    assert.equal(stat.mode & 0o777, 0o600);
  });

  it('answers /healthz', async () => {
    const answer = await request(socketPath, '/healthz');
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body, { status: 'ok' });
    assert.match(answer.contentType ?? '', /^application\/json/);
  });

  it('passes podinterface filters through, empty values meaning absent', async () => {
    const filtered = await request(socketPath, '/v1/podinterfaces?name=web&namespace=default');
    assert.equal(filtered.status, 200);
    assert.deepEqual(filtered.body, [POD]);
    await request(socketPath, '/v1/podinterfaces');
    await request(socketPath, '/v1/podinterfaces?name=&namespace=kube-system');
    assert.deepEqual(queries.podInterfaceFilters, [
      { name: 'web', namespace: 'default' },
      {},
      { namespace: 'kube-system' },
    ]);
  });

  it('passes ovsflows filters through', async () => {
    const answer = await request(socketPath, '/v1/ovsflows?pod=web&namespace=default&table=SpoofGuard');
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body, ['table=0, priority=0 actions=drop']);
    await request(socketPath, '/v1/ovsflows?table=10');
    assert.deepEqual(queries.flowFilters, [
      { pod: 'web', namespace: 'default', table: 'SpoofGuard' },
      { table: '10' },
    ]);
  });

  it('answers an unknown table with 400 and the valid table names', async () => {
    const answer = await request(socketPath, '/v1/ovsflows?table=Nope');
    assert.equal(answer.status, 400);
    assert.deepEqual(answer.body, {
      code: 'BadRequest',
      message: 'unknown table "Nope": valid tables are Classification (0), SpoofGuard (10)',
    });
  });

  it('rejects a pod without its namespace before asking the agent', async () => {
    const answer = await request(socketPath, '/v1/ovsflows?pod=web');
    assert.equal(answer.status, 400);
    assert.deepEqual(queries.flowFilters, []);
  });

  it('answers /v1/agentinfo', async () => {
    const answer = await request(socketPath, '/v1/agentinfo');
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body, AGENT_INFO);
  });

  it('translates each ApiError code to its HTTP status', async () => {
    const cases: [ApiError, number][] = [
      [new ApiError('NotFound', 'pod default/ghost not found'), 404],
      [new ApiError('BadRequest', 'bad'), 400],
      [new ApiError('Unavailable', 'ovs-vswitchd is not running'), 503],
    ];
    for (const [error, status] of cases) {
      queries.failWith = error;
      const answer = await request(socketPath, '/v1/podinterfaces?name=ghost');
      assert.equal(answer.status, status, error.code);
      assert.deepEqual(answer.body, { code: error.code, message: error.message });
    }
  });

  it('answers 500 for failures that are not ApiErrors', async () => {
    queries.failWith = new TypeError('boom');
    const answer = await request(socketPath, '/v1/agentinfo');
    assert.equal(answer.status, 500);
    assert.deepEqual(answer.body, { code: 'Internal', message: 'internal error: boom' });
  });

  it('rejects unknown paths, parameters and methods', async () => {
    assert.equal((await request(socketPath, '/v1/pods')).status, 404);
    const unknownParam = await request(socketPath, '/v1/podinterfaces?pod=web');
    assert.equal(unknownParam.status, 400);
    assert.deepEqual(unknownParam.body, {
      code: 'BadRequest',
      message: 'unknown query parameter "pod"; valid parameters: name, namespace',
    });
    assert.equal((await request(socketPath, '/v1/podinterfaces?name=a&name=b')).status, 400);
    assert.equal((await request(socketPath, '/v1/agentinfo', 'POST')).status, 405);
    assert.deepEqual(queries.podInterfaceFilters, []);
  });

  it('refuses to start twice', async () => {
    await assert.rejects(
      server.start(),
      (error: unknown) => error instanceof LocalApiServerError && error.code === 'AlreadyStarted',
    );
  });

  it('does not take over a socket another server is answering on', async () => {
    const second = new LocalApiServer({ socketPath, queries, logger: silentLogger });
    await assert.rejects(
      second.start(),
      (error: unknown) => error instanceof LocalApiServerError && error.code === 'SocketInUse',
    );
    assert.equal((await request(socketPath, '/healthz')).status, 200);
  });
});

describe('LocalApiServer socket file handling', () => {
  let dir: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'antctl-sock-'));
  });

  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('replaces a stale socket left by a crashed agent and removes its own on stop', async () => {
    const socketPath = path.join(dir, 'antctl.sock');
    await makeStaleSocket(socketPath);
    assert.ok(fs.lstatSync(socketPath).isSocket());
    const server = new LocalApiServer({ socketPath, queries: new FakeQueries(), logger: silentLogger });
    await server.start();
    try {
      assert.equal((await request(socketPath, '/healthz')).status, 200);
    } finally {
      await server.stop();
    }
    assert.equal(fs.existsSync(socketPath), false);
    await server.stop();
  });

  it('never deletes a file that is not a socket', async () => {
    const socketPath = path.join(dir, 'antctl.sock');
    fs.writeFileSync(socketPath, 'precious');
    const server = new LocalApiServer({ socketPath, queries: new FakeQueries(), logger: silentLogger });
    await assert.rejects(
      server.start(),
      (error: unknown) => error instanceof LocalApiServerError && error.code === 'NotASocket',
    );
    assert.equal(fs.readFileSync(socketPath, 'utf8'), 'precious');
  });
});

describe('LocalApiServer stop', () => {
  it('does not wait for, or crash on, a query still running', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'antctl-stop-'));
    const socketPath = path.join(dir, 'antctl.sock');
    let release: (views: PodInterfaceView[]) => void = () => undefined;
    let started: () => void = () => undefined;
    const queryStarted = new Promise<void>((resolve) => (started = resolve));
    const queries = new FakeQueries();
    queries.podInterfaces = () => {
      started();
      return new Promise((resolve) => (release = resolve));
    };
    const server = new LocalApiServer({ socketPath, queries, logger: silentLogger });
    await server.start();
    try {
      const pending = request(socketPath, '/v1/podinterfaces');
      await queryStarted;
      await server.stop();
      await assert.rejects(pending, /socket hang up/);
      assert.equal(fs.existsSync(socketPath), false);
      release([POD]);
      await new Promise<void>((resolve) => setImmediate(resolve));
    } finally {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** A socket file nobody listens on: a hard link to a listening socket outlives the listener's unlink. */
async function makeStaleSocket(socketPath: string): Promise<void> {
  const listenPath = `${socketPath}.live`;
  const listener = net.createServer();
  await new Promise<void>((resolve) => listener.listen(listenPath, resolve));
  fs.linkSync(listenPath, socketPath);
  await new Promise<void>((resolve) => listener.close(() => resolve()));
  fs.rmSync(listenPath, { force: true });
}

describe('LocalApiClient', () => {
  let dir: string;
  let socketPath: string;
  let queries: FakeQueries;
  let server: LocalApiServer;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'antctl-client-'));
    socketPath = path.join(dir, 'antctl.sock');
    queries = new FakeQueries();
    server = new LocalApiServer({ socketPath, queries, logger: silentLogger });
    await server.start();
  });

  after(async () => {
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('is an AgentQueries over the socket', async () => {
    const client = new LocalApiClient({ socketPath });
    assert.deepEqual(await client.podInterfaces({ name: 'web', namespace: 'default' }), [POD]);
    assert.deepEqual(queries.podInterfaceFilters.at(-1), { name: 'web', namespace: 'default' });
    assert.deepEqual(await client.ovsFlows({ pod: 'web', namespace: 'default' }), [
      'table=0, priority=0 actions=drop',
    ]);
    assert.deepEqual(queries.flowFilters.at(-1), { pod: 'web', namespace: 'default' });
    assert.deepEqual(await client.agentInfo(), AGENT_INFO);
    await client.healthz();
  });

  it('turns error answers back into the same ApiError', async () => {
    const client = new LocalApiClient({ socketPath });
    await assert.rejects(
      client.ovsFlows({ table: 'Nope' }),
      (error: unknown) =>
        error instanceof ApiError &&
        error.code === 'BadRequest' &&
        error.message.startsWith('unknown table "Nope"'),
    );
    queries.failWith = new ApiError('NotFound', 'pod default/ghost not found');
    await assert.rejects(
      client.podInterfaces({ name: 'ghost' }),
      (error: unknown) => error instanceof ApiError && error.code === 'NotFound',
    );
    queries.failWith = undefined;
  });

  it('reports a missing agent as Unavailable with the socket path', async () => {
    const missing = path.join(dir, 'nobody.sock');
    await assert.rejects(
      new LocalApiClient({ socketPath: missing }).agentInfo(),
      (error: unknown) =>
        error instanceof ApiError &&
        error.code === 'Unavailable' &&
        error.message === `cannot reach the antrea-edge agent at ${missing}: is it running?`,
    );
  });

  it('gives up on an agent that accepts but never answers', async () => {
    const hungPath = path.join(dir, 'hung.sock');
    const accepted: net.Socket[] = [];
    const hung = net.createServer((socket) => accepted.push(socket));
    await new Promise<void>((resolve) => hung.listen(hungPath, resolve));
    try {
      await assert.rejects(
        new LocalApiClient({ socketPath: hungPath, timeoutMs: 200 }).agentInfo(),
        (error: unknown) =>
          error instanceof ApiError && error.code === 'Unavailable' && /did not answer/.test(error.message),
      );
    } finally {
      // The accepted sockets are never read, so they would not notice the client leaving on their own.
      for (const socket of accepted) socket.destroy();
      await new Promise<void>((resolve) => hung.close(() => resolve()));
    }
  });
});

describe('HTTP error translation', () => {
  it('round-trips every ApiError code and leaves other failures as plain errors', () => {
    for (const code of ['NotFound', 'BadRequest', 'Unavailable'] as const) {
      const { status, body } = errorResponse(new ApiError(code, `it is ${code}`));
      const back = errorFromResponse(status, body);
      assert.ok(back instanceof ApiError, code);
      assert.equal(back.code, code);
      assert.equal(back.message, `it is ${code}`);
    }
    const internal = errorResponse('not even an Error');
    assert.equal(internal.status, 500);
    const back = errorFromResponse(internal.status, internal.body);
    assert.equal(back instanceof ApiError, false);
    assert.equal(back.message, 'internal error: not even an Error');
  });

  it('falls back to the status when the body has no code', () => {
    const error = errorFromResponse(404, 'not json object');
    assert.ok(error instanceof ApiError);
    assert.equal(error.code, 'NotFound');
  });
});
