// `antctl log-level` and `antctl supportbundle` from the command line to the firmware: parsing, the runner, the
// local API (GET/PUT /v1/loglevel, streamed POST /v1/supportbundle) and the logger that follows the level.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { AgentQueryService, type AgentQueryDeps } from '../../firmware/agent/agent-queries';
import { ApiError } from '../../firmware/core/antctl/api-error';
import {
  isParseError,
  parseArgs,
  runCommand,
  type AntctlBackend,
  type RunnableCommand,
} from '../../firmware/core/antctl/commands';
import {
  parseLogLevel,
  type AgentQueries,
  type SupportBundleRequest,
  type SupportBundleView,
} from '../../firmware/core/antctl/views';
import { silentLogger, type LogLevel } from '../../firmware/core/logger';
import { LocalApiClient, LocalApiServer } from '../../firmware/http/local-api';
import { JsonLogger, RecentLogSink, RuntimeLogLevel } from '../../firmware/log/json-logger';

function runnable(argv: string[]): RunnableCommand {
  const parsed = parseArgs(argv);
  if (isParseError(parsed) || parsed.kind === 'help') assert.fail(`not runnable: ${JSON.stringify(parsed)}`);
  const { globals: _globals, ...command } = parsed;
  return command;
}

const NO_AGENT: AgentQueries = {
  podInterfaces: () => Promise.resolve([]),
  ovsFlows: () => Promise.resolve([]),
  agentInfo: () => Promise.reject(new Error('unused')),
};

describe('log levels', () => {
  it('parses levels in any case, with warning for warn', () => {
    assert.equal(parseLogLevel('DEBUG'), 'debug');
    assert.equal(parseLogLevel(' Info '), 'info');
    assert.equal(parseLogLevel('warning'), 'warn');
    assert.equal(parseLogLevel('error'), 'error');
    assert.equal(parseLogLevel('verbose'), undefined);
    assert.equal(parseLogLevel('4'), undefined);
  });

  it('a JsonLogger and its children follow a run-time level change', () => {
    const lines: string[] = [];
    const level = new RuntimeLogLevel('info');
    const logger = new JsonLogger({ write: (line) => lines.push(line) }, level);
    const child = logger.child({ component: 'x' });
    child.debug('hidden');
    assert.equal(level.set('debug'), 'info');
    child.debug('shown');
    level.set('error');
    logger.warn('hidden too');
    assert.deepEqual(
      lines.map((line) => (JSON.parse(line) as { msg: string }).msg),
      ['shown'],
    );
  });

  it('RecentLogSink passes every line on and keeps only the newest bytes', () => {
    const passed: string[] = [];
    const sink = new RecentLogSink({ write: (line) => passed.push(line) }, 25);
    for (let i = 0; i < 3000; i++) sink.write(`line ${i}\n`);
    assert.equal(passed.length, 3000);
    assert.equal(sink.text(), 'line 2998\nline 2999\n', 'three lines would be 30 bytes');
  });
});

describe('antctl log-level and supportbundle commands', () => {
  it('parses an optional LEVEL and rejects unknown levels and extra words', () => {
    assert.deepEqual(parseArgs(['log-level']), { kind: 'log-level', output: 'table', globals: {} });
    assert.deepEqual(parseArgs(['loglevel', 'Warn', '-o', 'json']), {
      kind: 'log-level',
      level: 'warn',
      output: 'json',
      globals: {},
    });
    const bad = parseArgs(['log-level', 'trace']);
    assert.ok(isParseError(bad));
    assert.equal(bad.code, 'BadArgument');
    assert.equal(bad.message, 'invalid log level "trace": valid levels are debug, info, warn, error');
    const extra = parseArgs(['log-level', 'info', 'debug']);
    assert.ok(isParseError(extra) && extra.code === 'UnexpectedArgument');
  });

  it('parses supportbundle with an optional --dir', () => {
    assert.deepEqual(parseArgs(['supportbundle']), { kind: 'supportbundle', output: 'table', globals: {} });
    assert.deepEqual(parseArgs(['supportbundle', '-d', '/tmp/b']), {
      kind: 'supportbundle',
      dir: '/tmp/b',
      output: 'table',
      globals: {},
    });
    const missing = parseArgs(['supportbundle', '--dir']);
    assert.ok(isParseError(missing) && missing.code === 'MissingFlagValue');
  });

  it('shows and sets the level through the backend', async () => {
    let current: LogLevel = 'info';
    const backend: AntctlBackend = {
      ...NO_AGENT,
      logLevel: () => Promise.resolve({ level: current }),
      setLogLevel: (level) => {
        const previous = current;
        current = level;
        return Promise.resolve({ level, previous });
      },
    };
    const context = { antctlVersion: '0.1.0' };
    assert.equal((await runCommand(runnable(['log-level']), backend, context)).stdout, 'LEVEL\ninfo\n');
    const set = await runCommand(runnable(['log-level', 'debug']), backend, context);
    assert.match(set.stdout, /^LEVEL\s+PREVIOUS\ndebug\s+info\n$/);
    assert.equal(current, 'debug');
    await assert.rejects(
      runCommand(runnable(['log-level']), NO_AGENT, context),
      (error: unknown) => error instanceof ApiError && error.code === 'Unavailable',
    );
  });

  it('prints only the bundle path on stdout; progress goes to the context as it happens, or to stderr', async () => {
    const requests: SupportBundleRequest[] = [];
    const view: SupportBundleView = {
      path: '/tmp/b/antrea-edge-supportbundle_n_1.tar.gz',
      bytes: 100,
      files: ['logs/np.log'],
      failures: ['ovs/ovsdb-dump.txt: the OVS database: no socket'],
    };
    const backend: AntctlBackend = {
      ...NO_AGENT,
      supportBundle: (request, progress) => {
        requests.push(request);
        progress('collecting the firmware log');
        return Promise.resolve(view);
      },
    };
    const live: string[] = [];
    const withProgress = await runCommand(runnable(['supportbundle', '--dir', '/tmp/b']), backend, {
      antctlVersion: '0',
      progress: (line) => live.push(line),
    });
    assert.deepEqual(requests, [{ dir: '/tmp/b' }]);
    assert.deepEqual(live, ['collecting the firmware log']);
    assert.equal(withProgress.stdout, `${view.path}\n`);
    assert.equal(withProgress.stderr, 'not collected: ovs/ovsdb-dump.txt: the OVS database: no socket\n');

    const collected = await runCommand(runnable(['supportbundle', '-o', 'json']), backend, {
      antctlVersion: '0',
    });
    assert.deepEqual(requests[1], {});
    assert.deepEqual(JSON.parse(collected.stdout), view);
    assert.match(collected.stderr, /^collecting the firmware log\nnot collected: /);
  });
});

describe('local API: /v1/loglevel and /v1/supportbundle', () => {
  let dir: string;
  let server: LocalApiServer;
  let client: LocalApiClient;
  let socketPath: string;
  let level: RuntimeLogLevel;
  let bundleRequests: SupportBundleRequest[];
  let bundleOutcome: 'ok' | 'fail';

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-loglevel-'));
    socketPath = path.join(dir, 'antctl.sock');
    level = new RuntimeLogLevel('info');
    bundleRequests = [];
    bundleOutcome = 'ok';
    // The real query service with only the parts these endpoints use.
    const queries = new AgentQueryService({
      logLevel: level,
      supportBundle: {
        supportBundle: async (request: SupportBundleRequest, progress: (line: string) => void) => {
          bundleRequests.push(request);
          progress('collecting one');
          await new Promise((resolve) => setTimeout(resolve, 5));
          progress('collecting two');
          if (bundleOutcome === 'fail')
            throw new ApiError('Conflict', 'a support bundle is being collected already');
          return { path: `${request.dir ?? '/default'}/b.tar.gz`, bytes: 1, files: ['x'], failures: [] };
        },
      },
    } as unknown as AgentQueryDeps);
    server = new LocalApiServer({
      socketPath,
      queries: NO_AGENT,
      logLevel: queries,
      supportBundle: queries,
      logger: silentLogger,
    });
    await server.start();
    client = new LocalApiClient({ socketPath });
  });

  afterEach(async () => {
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const raw = (method: string, urlPath: string, body?: string): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const req = http.request({ socketPath, method, path: urlPath }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      req.end(body);
    });

  it('shows and sets the level, which the logger follows', async () => {
    assert.deepEqual(await client.logLevel(), { level: 'info' });
    assert.deepEqual(await client.setLogLevel('debug'), { level: 'debug', previous: 'info' });
    assert.equal(level.current, 'debug');
    assert.deepEqual(await client.logLevel(), { level: 'debug' });
  });

  it('rejects bad bodies, unknown parameters and other methods', async () => {
    const bad = await raw('PUT', '/v1/loglevel', '{"level":"trace"}');
    assert.equal(bad.status, 400);
    assert.match(bad.body, /debug\|info\|warn\|error/);
    assert.equal((await raw('PUT', '/v1/loglevel', 'not json')).status, 400);
    assert.equal((await raw('GET', '/v1/loglevel?x=1')).status, 400);
    assert.equal((await raw('DELETE', '/v1/loglevel')).status, 405);
    assert.equal(level.current, 'info');
  });

  it('streams support bundle progress, then the result; the client resolves relative dirs', async () => {
    const progress: string[] = [];
    const view = await client.supportBundle({ dir: 'rel/out' }, (line) => progress.push(line));
    assert.deepEqual(progress, ['collecting one', 'collecting two']);
    assert.deepEqual(bundleRequests, [{ dir: path.resolve('rel/out') }]);
    assert.equal(view.path, `${path.resolve('rel/out')}/b.tar.gz`);
    const streamed = await raw('POST', '/v1/supportbundle', '{"dir":"/x"}');
    assert.deepEqual(
      streamed.body
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as unknown),
      [
        { progress: 'collecting one' },
        { progress: 'collecting two' },
        { result: { path: '/x/b.tar.gz', bytes: 1, files: ['x'], failures: [] } },
      ],
    );
  });

  it('turns a failure after progress into the ApiError it was, and a bad request into a 400', async () => {
    bundleOutcome = 'fail';
    const progress: string[] = [];
    await assert.rejects(
      client.supportBundle({ dir: '/x' }, (line) => progress.push(line)),
      (error: unknown) =>
        error instanceof ApiError && error.code === 'Conflict' && /already/.test(error.message),
    );
    assert.equal(progress.length, 2);
    const bad = await raw('POST', '/v1/supportbundle', '{"dir": 5}');
    assert.equal(bad.status, 400);
    assert.equal((JSON.parse(bad.body) as { code: string }).code, 'BadRequest');
  });

  it('answers 503 when the agent offers neither', async () => {
    const bare = new LocalApiServer({
      socketPath: path.join(dir, 'bare.sock'),
      queries: NO_AGENT,
      logger: silentLogger,
    });
    await bare.start();
    try {
      const bareClient = new LocalApiClient({ socketPath: path.join(dir, 'bare.sock') });
      await assert.rejects(
        bareClient.logLevel(),
        (e: unknown) => e instanceof ApiError && e.code === 'Unavailable',
      );
      await assert.rejects(
        bareClient.supportBundle({}, () => undefined),
        (e: unknown) => e instanceof ApiError && e.code === 'Unavailable',
      );
    } finally {
      await bare.stop();
    }
  });
});
