// The Node-RED host's own logic without Node-RED: rate limits, the setup token and page, the appliance account as
// Node-RED's adminAuth and basic auth, the settings object, and NodeRedHost's start-up, failure and routing with a
// fake runtime on a real management server (loopback) and a real store.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  buildConfig,
  ConfigError,
  OPTION_HELP,
  parseOptions,
  validateBoardProfile,
} from '../../firmware/core/config';
import { ConsoleSession } from '../../firmware/core/console/session';
import type { ConsoleAccounts, PasswordState } from '../../firmware/core/console/ports';
import { silentLogger, type LogFields, type Logger } from '../../firmware/core/logger';
import { PasswordAccounts } from '../../firmware/console/password-accounts';
import { HttpRouter, ManagementServer, type HttpHandler } from '../../firmware/http/management-server';
import { AttemptLimiter } from '../../firmware/nodered/host/attempt-limiter';
import { ApplianceAuth, parseBasicAuth } from '../../firmware/nodered/host/appliance-auth';
import {
  buildNodeRedSettings,
  logNodeRedRecord,
  type NodeRedRuntime,
  type NodeRedSettings,
} from '../../firmware/nodered/host/node-red-settings';
import { CREDENTIAL_SECRET_SETTING, NodeRedHost } from '../../firmware/nodered/host/node-red-host';
import { CONSOLE_PASSWORD_RULES, passwordProblem, SetupToken } from '../../firmware/nodered/host/setup-page';
import { openStore, type StoreDatabase } from '../../firmware/store/database';
import { SettingsRepository } from '../../firmware/store/settings-repository';
import { UserRepository } from '../../firmware/store/user-repository';
import {
  FAKE_BOARD,
  FAKE_HOST,
  FakeBackend,
  ManualTimers,
  MemoryAccounts,
  RecordingPower,
} from './console-fakes';

/** Cheap scrypt for tests; the firmware uses DEFAULT_SCRYPT. */
const FAST_SCRYPT = { n: 1024, r: 8, p: 1, keyLength: 32 };

class RecordingLogger implements Logger {
  constructor(
    readonly lines: { level: string; msg: string; fields: LogFields }[] = [],
    private readonly base: LogFields = {},
  ) {}
  debug(msg: string, fields?: LogFields): void {
    this.lines.push({ level: 'debug', msg, fields: { ...this.base, ...fields } });
  }
  info(msg: string, fields?: LogFields): void {
    this.lines.push({ level: 'info', msg, fields: { ...this.base, ...fields } });
  }
  warn(msg: string, fields?: LogFields): void {
    this.lines.push({ level: 'warn', msg, fields: { ...this.base, ...fields } });
  }
  error(msg: string, fields?: LogFields): void {
    this.lines.push({ level: 'error', msg, fields: { ...this.base, ...fields } });
  }
  child(fields: LogFields): Logger {
    return new RecordingLogger(this.lines, { ...this.base, ...fields });
  }
}

/** Accounts whose verify() waits until released, counting how many run at once. */
class SlowAccounts implements ConsoleAccounts {
  running = 0;
  maxRunning = 0;
  verifications = 0;
  private releases: (() => void)[] = [];
  constructor(private readonly password: string | undefined) {}
  passwordState(user: string): Promise<PasswordState> {
    if (user !== 'admin') return Promise.resolve('unknown-user');
    return Promise.resolve(this.password === undefined ? 'unset' : 'set');
  }
  async verify(_user: string, password: string): Promise<boolean> {
    this.verifications++;
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    await new Promise<void>((resolve) => this.releases.push(resolve));
    this.running--;
    return password === this.password;
  }
  setPassword(): Promise<void> {
    return Promise.reject(new Error('not here'));
  }
  /** Lets the oldest waiting check finish. */
  releaseOne(): boolean {
    const release = this.releases.shift();
    release?.();
    return release !== undefined;
  }
}

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('nodered-host: --node-red option', () => {
  const simBoard = validateBoardProfile(
    JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../board/sim/profile.json'), 'utf8')),
    'sim',
  );
  const config = (argv: string[]) => buildConfig(parseOptions(argv) as Map<string, string>, simBoard, 'h');

  it('is on unless told otherwise, takes true|false only, and is documented', () => {
    assert.deepEqual(config([]).nodeRed, { enabled: true });
    assert.deepEqual(config(['--node-red', 'false']).nodeRed, { enabled: false });
    assert.deepEqual(config(['--node-red=true']).nodeRed, { enabled: true });
    assert.throws(() => config(['--node-red', 'no']), ConfigError);
    assert.match(OPTION_HELP, /--node-red true\|false/);
  });
});

describe('nodered-host: attempt limiter', () => {
  it('allows maxAttempts per window and client, then says how long to wait; a new window starts afresh', () => {
    const limiter = new AttemptLimiter({ maxAttempts: 3, windowMs: 1000 });
    for (let i = 0; i < 3; i++) {
      assert.equal(limiter.retryAfterMs('a', 100), 0);
      limiter.record('a', 100);
    }
    assert.equal(limiter.retryAfterMs('a', 400), 700);
    assert.equal(limiter.retryAfterMs('b', 400), 0, 'other clients are not affected');
    assert.equal(limiter.retryAfterMs('a', 1100), 0);
    limiter.record('a', 1100);
    assert.equal(limiter.retryAfterMs('a', 1100), 0);
  });

  it('reset forgets a client; at most maxKeys clients are tracked (oldest dropped)', () => {
    const limiter = new AttemptLimiter({ maxAttempts: 1, windowMs: 10_000, maxKeys: 2 });
    limiter.record('a', 0);
    limiter.reset('a');
    assert.equal(limiter.retryAfterMs('a', 1), 0);
    limiter.record('a', 1);
    limiter.record('b', 2);
    limiter.record('c', 3);
    assert.equal(limiter.retryAfterMs('a', 4), 0, 'the oldest client was dropped');
    assert.ok(limiter.retryAfterMs('b', 4) > 0);
    assert.ok(limiter.retryAfterMs('c', 4) > 0);
  });
});

describe('nodered-host: setup token and password rules', () => {
  it('matches only the issued token, once consumed never, and a restored one again', () => {
    const token = new SetupToken();
    assert.equal(token.matches(''), false, 'nothing matches before a token is issued');
    const value = token.issue();
    assert.ok(value.length >= 24);
    assert.equal(token.matches(value), true);
    assert.equal(token.matches(`${value}x`), false);
    assert.equal(token.matches(value.slice(1)), false);
    token.consume();
    assert.equal(token.current, undefined);
    assert.equal(token.matches(value), false);
    assert.equal(token.matches(''), false);
    token.restore(value);
    assert.equal(token.matches(value), true);
    assert.notEqual(token.issue(), value, 'a new token differs');
  });

  it('uses the console rules: 8 to 256 code points, not the user name', () => {
    assert.equal(CONSOLE_PASSWORD_RULES.minLength, 8);
    assert.match(passwordProblem('admin', 'short', CONSOLE_PASSWORD_RULES) ?? '', /too short: at least 8/);
    assert.equal(passwordProblem('admin', 'long enough', CONSOLE_PASSWORD_RULES), undefined);
    assert.match(passwordProblem('adminadmin', 'adminadmin', CONSOLE_PASSWORD_RULES) ?? '', /user name/);
    assert.match(passwordProblem('admin', 'x'.repeat(257), CONSOLE_PASSWORD_RULES) ?? '', /too long/);
    assert.match(passwordProblem('admin', '🔒🔒🔒🔒', CONSOLE_PASSWORD_RULES) ?? '', /too short/);
  });

  it('parses basic auth headers and rejects malformed ones', () => {
    const header = `Basic ${Buffer.from('admin:pa:ss wörd').toString('base64')}`;
    assert.deepEqual(parseBasicAuth(header), { user: 'admin', password: 'pa:ss wörd' });
    assert.equal(parseBasicAuth(undefined), undefined);
    assert.equal(parseBasicAuth('Bearer abc'), undefined);
    assert.equal(parseBasicAuth(`Basic ${Buffer.from('nocolon').toString('base64')}`), undefined);
  });
});

describe('nodered-host: appliance account for Node-RED', () => {
  const auth = (
    accounts: ConsoleAccounts,
    extra: Partial<ConstructorParameters<typeof ApplianceAuth>[0]> = {},
  ) =>
    new ApplianceAuth({
      accounts,
      user: 'admin',
      failures: new AttemptLimiter({ maxAttempts: 3, windowMs: 60_000 }),
      logger: silentLogger,
      ...extra,
    });

  it('adminAuth: no user while no password is set, admin with all permissions after; wrong passwords refused', async () => {
    const accounts = new MemoryAccounts();
    const adminAuth = auth(accounts).adminAuth(3600);
    assert.equal(adminAuth.type, 'credentials');
    assert.equal(adminAuth.sessionExpiryTime, 3600);
    assert.ok(!('default' in adminAuth), 'never an anonymous default user');
    assert.equal(await adminAuth.users('admin'), null);
    assert.equal(await adminAuth.authenticate('admin', ''), null);
    accounts.passwords.set('admin', 'correct horse');
    assert.deepEqual(await adminAuth.users('admin'), { username: 'admin', permissions: '*' });
    assert.equal(await adminAuth.users('root'), null);
    assert.equal(await adminAuth.authenticate('admin', 'wrong horse'), null);
    assert.equal(await adminAuth.authenticate('root', 'correct horse'), null);
    assert.deepEqual(await adminAuth.authenticate('admin', 'correct horse'), {
      username: 'admin',
      permissions: '*',
    });
  });

  it("checks flows' websocket clients with the same basic auth (401 without, accepted with)", async () => {
    const accounts = new MemoryAccounts();
    const verifier = auth(accounts).webSocketVerifier();
    const verify = (authorization?: string): Promise<[boolean, number | undefined]> =>
      new Promise((resolve) =>
        verifier(
          {
            req: {
              headers: authorization === undefined ? {} : { authorization },
              socket: { remoteAddress: '192.0.2.1' },
            } as unknown as Parameters<typeof verifier>[0]['req'],
          },
          (accept, code) => resolve([accept, code]),
        ),
      );
    const header = `Basic ${Buffer.from('admin:correct horse').toString('base64')}`;
    assert.deepEqual(await verify(header), [false, 503], 'no password yet: setup required');
    accounts.passwords.set('admin', 'correct horse');
    assert.deepEqual(await verify(), [false, 401]);
    assert.deepEqual(await verify(`Basic ${Buffer.from('admin:wrong').toString('base64')}`), [false, 401]);
    assert.deepEqual(await verify(header), [true, undefined]);
  });

  it('runs password checks one at a time, refuses more than maxWaitingChecks as busy, remembers successes', async () => {
    const accounts = new SlowAccounts('correct horse');
    let now = 0;
    const a = auth(accounts, { maxWaitingChecks: 2, verifiedTtlMs: 1000, now: () => now });
    const first = a.verify('admin', 'correct horse');
    const second = a.verify('admin', 'wrong');
    await flush();
    await assert.rejects(a.verify('admin', 'third'), { code: 'AUTH_BUSY' });
    assert.equal(accounts.running, 1);
    assert.ok(accounts.releaseOne());
    assert.equal(await first, true);
    await flush();
    assert.ok(accounts.releaseOne());
    assert.equal(await second, false);
    assert.equal(accounts.maxRunning, 1, 'never two scrypt checks at once');
    assert.equal(accounts.verifications, 2);
    assert.equal(await a.verify('admin', 'correct horse'), true, 'remembered: no check');
    assert.equal(accounts.verifications, 2);
    now = 1001;
    const again = a.verify('admin', 'correct horse');
    await flush();
    assert.ok(accounts.releaseOne(), 'expired: checked again');
    assert.equal(await again, true);
    assert.equal(accounts.verifications, 3);
  });
});

describe('nodered-host: settings', () => {
  const base = (): Parameters<typeof buildNodeRedSettings>[0] => ({
    userDir: '/data/node-red',
    credentialSecret: 'k'.repeat(64),
    adminAuth: new ApplianceAuth({
      accounts: new MemoryAccounts(),
      user: 'admin',
      failures: new AttemptLimiter({ maxAttempts: 1, windowMs: 1 }),
      logger: silentLogger,
    }).adminAuth(60),
    webSocketNodeVerifyClient: (_info, callback) => callback(false),
    logger: silentLogger,
  });

  it('always has adminAuth, never installs from npm, has no telemetry or projects, and owns no port', () => {
    const services = { marker: true };
    const settings = buildNodeRedSettings({ ...base(), paletteDir: '/opt/palette', services });
    assert.equal(settings.adminAuth.type, 'credentials');
    assert.equal(settings.httpAdminRoot, '/red');
    assert.equal(settings.httpNodeRoot, '/api');
    assert.equal(settings['userDir'], '/data/node-red');
    assert.equal(settings['flowFile'], 'flows.json');
    assert.equal(settings['credentialSecret'], 'k'.repeat(64));
    assert.equal(settings['functionExternalModules'], false);
    assert.deepEqual(settings['externalModules'], {
      autoInstall: false,
      palette: { allowInstall: false, allowUpload: false, allowUpdate: false },
      modules: { allowInstall: false },
    });
    assert.deepEqual(settings['telemetry'], { enabled: false, updateNotification: false });
    assert.equal((settings['editorTheme'] as { projects: { enabled: boolean } }).projects.enabled, false);
    assert.deepEqual(settings['nodesDir'], ['/opt/palette']);
    assert.equal(settings['antreaEdge'], services);
    assert.equal(settings['uiPort'], undefined);
    assert.equal(settings['uiHost'], undefined);
    assert.equal(buildNodeRedSettings(base())['nodesDir'], undefined);
    assert.equal(typeof settings['webSocketNodeVerifyClient'], 'function');
  });

  it('routes Node-RED log records to the JSON logger: levels, node fields, one line, audit failures as warnings', () => {
    const logger = new RecordingLogger();
    const settings = buildNodeRedSettings({ ...base(), logger });
    const logging = settings['logging'] as Record<string, { handler: () => (record: unknown) => void }>;
    assert.deepEqual(Object.keys(logging), ['antreaEdge'], 'no console logger of its own');
    const handler = logging['antreaEdge']?.handler();
    assert.ok(handler);
    handler({ level: 40, msg: '\n\nWelcome to Node-RED\n===================\n' });
    handler({ level: 20, msg: new Error('boom'), type: 'exp-node', id: 'n1', z: 't1', name: '' });
    handler({ level: 30, msg: 'careful' });
    handler({ level: 60, msg: 'trace detail' });
    handler({ level: 99, event: 'runtime.memory.rss', value: 1 });
    handler({ level: 98, event: 'auth.login.fail.credentials', username: 'admin' });
    handler({ level: 98, event: 'flows.get', path: '/flows' });
    handler({ level: 40, msg: '' });
    assert.deepEqual(
      logger.lines.map((line) => [line.level, line.msg]),
      [
        ['info', 'Welcome to Node-RED'],
        ['error', 'boom'],
        ['warn', 'careful'],
        ['debug', 'trace detail'],
        ['warn', 'node-red audit'],
        ['debug', 'node-red audit'],
      ],
    );
    assert.deepEqual(logger.lines[1]?.fields, { nodeType: 'exp-node', nodeId: 'n1', flowId: 't1' });
    assert.deepEqual(logger.lines[4]?.fields, { event: 'auth.login.fail.credentials', username: 'admin' });
  });

  it('logNodeRedRecord survives unserialisable messages', () => {
    const logger = new RecordingLogger();
    const circular: Record<string, unknown> = {};
    circular['self'] = circular;
    logNodeRedRecord(logger, { level: 40, msg: circular });
    assert.equal(logger.lines.length, 1);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// NodeRedHost with a fake runtime on a real management server.

interface FakeRuntime extends NodeRedRuntime {
  inits: NodeRedSettings[];
  stops: number;
}

function fakeRuntime(behaviour: { initThrows?: Error; startRejects?: Error } = {}): FakeRuntime {
  const admin: HttpHandler = (request, response) => {
    if (request.url === '/auth/token' && request.method === 'POST') {
      response.writeHead(403, { 'content-type': 'application/json' });
      response.end('{"error":"invalid_grant"}');
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ admin: request.url }));
  };
  const node: HttpHandler = (request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ node: request.url }));
  };
  const runtime: FakeRuntime = {
    inits: [],
    stops: 0,
    init(_server, settings) {
      if (behaviour.initThrows) throw behaviour.initThrows;
      runtime.inits.push(settings);
    },
    start: () => (behaviour.startRejects ? Promise.reject(behaviour.startRejects) : Promise.resolve()),
    stop: () => {
      runtime.stops++;
      return Promise.resolve();
    },
    httpAdmin: admin,
    httpNode: node,
  };
  return runtime;
}

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json(): Record<string, unknown>;
}

describe('nodered-host: NodeRedHost (fake Node-RED runtime)', function () {
  this.timeout(20_000);
  let dir: string;
  let db: StoreDatabase;
  let router: HttpRouter;
  let server: ManagementServer;
  let host: NodeRedHost | undefined;
  let accounts: PasswordAccounts;
  let logger: RecordingLogger;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-nodered-host-'));
    db = openStore(path.join(dir, 'antrea-edge.db'));
    router = new HttpRouter();
    logger = new RecordingLogger();
    server = new ManagementServer({ host: '127.0.0.1', port: 0, router, logger: silentLogger });
    await server.start();
    accounts = new PasswordAccounts({
      users: new UserRepository(db),
      accountNames: ['admin'],
      scrypt: FAST_SCRYPT,
      logger: silentLogger,
    });
  });

  afterEach(async () => {
    await host?.stop();
    host = undefined;
    await server.stop();
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const makeHost = (
    runtime: NodeRedRuntime,
    extra: Partial<ConstructorParameters<typeof NodeRedHost>[0]> = {},
  ): NodeRedHost => {
    host = new NodeRedHost({
      dataDir: dir,
      router,
      server: server.httpServer(),
      address: () => server.address(),
      accounts,
      adminUser: 'admin',
      settings: new SettingsRepository(db),
      logger,
      loadRuntime: () => runtime,
      ...extra,
    });
    return host;
  };

  const request = async (
    urlPath: string,
    init: { method?: string; headers?: Record<string, string>; body?: string } = {},
  ): Promise<Answer> => {
    const address = server.address();
    assert.ok(address);
    const response = await fetch(`http://127.0.0.1:${address.port}${urlPath}`, {
      ...init,
      redirect: 'manual',
    });
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      text,
      json: () => JSON.parse(text) as Record<string, unknown>,
    };
  };

  const setup = (body: Record<string, string>): Promise<Answer> =>
    request('/red/setup', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  const token = (): string => {
    const line = logger.lines.find((entry) => entry.fields['setupToken'] !== undefined);
    assert.ok(line, 'the setup token is logged');
    return String(line.fields['setupToken']);
  };

  it('closes the editor until a password is set on the setup page with the logged token (single use)', async () => {
    const runtime = fakeRuntime();
    const h = makeHost(runtime);
    await h.start();
    assert.deepEqual(await h.settled(), { state: 'running', setupRequired: true });
    assert.equal(h.readinessProblem(), undefined);

    const api = await request('/red/flows');
    assert.equal(api.status, 503);
    assert.deepEqual(api.json(), { error: 'setup required', setup: '/red/setup' });
    const browser = await request('/red/', { headers: { accept: 'text/html,application/xhtml+xml' } });
    assert.equal(browser.status, 303);
    assert.equal(browser.headers.get('location'), '/red/setup');
    const page = await request('/red/setup');
    assert.equal(page.status, 200);
    assert.match(page.text, /<form method="post" action="setup"/);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'/);

    const logged = token();
    assert.match(
      logger.lines.find((l) => l.fields['setupToken'])?.fields['setupUrl'] as string,
      /\/red\/setup$/,
    );
    assert.deepEqual(await h.bannerLines(), [
      `Node-RED setup: http://127.0.0.1:${server.address()?.port}/red/setup  token: ${logged}`,
    ]);
    assert.deepEqual(h.secrets(), [logged]);

    assert.equal(
      (await setup({ token: 'wrong', password: 'long enough', confirm: 'long enough' })).status,
      403,
    );
    const short = await setup({ token: logged, password: 'short', confirm: 'short' });
    assert.equal(short.status, 400);
    assert.match(String(short.json()['error']), /too short/);
    const mismatch = await setup({ token: logged, password: 'long enough', confirm: 'long enougH' });
    assert.equal(mismatch.status, 400);
    assert.match(String(mismatch.json()['error']), /do not match/);
    assert.equal(await accounts.passwordState('admin'), 'unset');

    const done = await setup({ token: logged, password: 'long enough', confirm: 'long enough' });
    assert.equal(done.status, 200);
    assert.deepEqual(done.json(), { ok: true, user: 'admin' });
    assert.equal(await accounts.verify('admin', 'long enough'), true, 'the console account got the password');
    assert.equal((await setup({ token: logged, password: 'other pass', confirm: 'other pass' })).status, 410);
    assert.equal(await accounts.verify('admin', 'long enough'), true, 'a used token changes nothing');
    assert.deepEqual(h.secrets(), []);
    assert.deepEqual(await h.bannerLines(), []);

    const flows = await request('/red/flows');
    assert.equal(flows.status, 200, flows.text);
    assert.deepEqual(flows.json(), { admin: '/flows' });
    assert.equal((await request('/red')).headers.get('location'), '/red/');
    assert.equal(runtime.inits.length, 1);
  });

  it('the browser form: an error re-renders the page, success redirects to the editor', async () => {
    const h = makeHost(fakeRuntime());
    await h.start();
    await h.settled();
    const form = (fields: Record<string, string>): Promise<Answer> =>
      request('/red/setup', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
        body: new URLSearchParams(fields).toString(),
      });
    const wrong = await form({ token: 'nope', password: 'long enough', confirm: 'long enough' });
    assert.equal(wrong.status, 403);
    assert.match(wrong.text, /role="alert">Wrong setup token\./);
    const ok = await form({ token: token(), password: 'long enough', confirm: 'long enough' });
    assert.equal(ok.status, 303);
    assert.equal(ok.headers.get('location'), '/red/');
  });

  it('rate-limits setup attempts per client', async () => {
    const h = makeHost(fakeRuntime(), { setupAttempts: { maxAttempts: 2, windowMs: 60_000 } });
    await h.start();
    assert.equal((await setup({ token: 'a', password: 'long enough', confirm: 'long enough' })).status, 403);
    assert.equal((await setup({ token: 'b', password: 'long enough', confirm: 'long enough' })).status, 403);
    const limited = await setup({ token: token(), password: 'long enough', confirm: 'long enough' });
    assert.equal(limited.status, 429, 'even the right token is refused while limited');
    assert.ok(Number(limited.headers.get('retry-after')) > 0);
    assert.equal(await accounts.passwordState('admin'), 'unset');
  });

  it('a password set on the console opens the editor and retires the token', async () => {
    const h = makeHost(fakeRuntime());
    await h.start();
    await h.settled();
    assert.equal((await h.bannerLines()).length, 1);
    await accounts.setPassword('admin', 'console pass');
    assert.deepEqual(await h.bannerLines(), []);
    assert.deepEqual(h.secrets(), []);
    assert.equal((await request('/red/flows')).status, 200);
    assert.equal(
      (await setup({ token: token(), password: 'long enough', confirm: 'long enough' })).status,
      410,
    );
  });

  it('flow endpoints (/api) need basic auth with the admin account', async () => {
    await accounts.setPassword('admin', 'correct horse');
    const h = makeHost(fakeRuntime(), { loginFailures: { maxAttempts: 2, windowMs: 60_000 } });
    await h.start();
    await h.settled();
    assert.equal(
      logger.lines.some((l) => l.fields['setupToken'] !== undefined),
      false,
      'no token once set',
    );
    const basic = (user: string, password: string): Record<string, string> => ({
      authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
    });
    const none = await request('/api/hello');
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate') ?? '', /^Basic realm="antrea-edge"/);
    const ok = await request('/api/hello?x=1', { headers: basic('admin', 'correct horse') });
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.json(), { node: '/hello?x=1' });
    assert.equal((await request('/api/hello', { headers: basic('admin', 'wrong') })).status, 401);
    assert.equal((await request('/api/hello', { headers: basic('root', 'correct horse') })).status, 401);
    assert.equal((await request('/api/hello', { headers: basic('admin', 'correct horse') })).status, 429);
  });

  it('editor logins: failures from one client are limited', async () => {
    await accounts.setPassword('admin', 'correct horse');
    const h = makeHost(fakeRuntime(), { loginFailures: { maxAttempts: 2, windowMs: 60_000 } });
    await h.start();
    await h.settled();
    const login = (): Promise<Answer> =>
      request('/red/auth/token', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
    assert.equal((await login()).status, 403);
    assert.equal((await login()).status, 403);
    assert.equal((await login()).status, 429);
  });

  it('a Node-RED start that rejects is reported, never thrown; /red answers 503 with the reason', async () => {
    await accounts.setPassword('admin', 'correct horse');
    const h = makeHost(fakeRuntime({ startRejects: new Error('flows exploded') }));
    await h.start();
    const status = await h.settled();
    assert.equal(status.state, 'failed');
    assert.equal(status.error, 'flows exploded');
    assert.equal(h.readinessProblem(), 'Node-RED failed to start: flows exploded');
    const answer = await request('/red/flows');
    assert.equal(answer.status, 503);
    assert.deepEqual(answer.json(), { error: 'node-red failed to start', reason: 'flows exploded' });
    assert.ok(logger.lines.some((l) => l.level === 'error' && /did not start/.test(l.msg)));
  });

  it('init throwing, an unusable userDir or no management server are start failures too', async () => {
    await accounts.setPassword('admin', 'correct horse');
    const h1 = makeHost(fakeRuntime({ initThrows: new Error('bad settings') }));
    await h1.start();
    assert.equal((await h1.settled()).error, 'bad settings');
    await h1.stop();

    fs.rmSync(path.join(dir, 'node-red'), { recursive: true, force: true });
    fs.writeFileSync(path.join(dir, 'node-red'), 'a file where the userDir should be');
    const h2 = makeHost(fakeRuntime());
    await h2.start();
    const second = await h2.settled();
    assert.equal(second.state, 'failed');
    assert.match(second.error ?? '', /EEXIST|ENOTDIR/);
    await h2.stop();

    const h3 = makeHost(fakeRuntime(), { server: undefined });
    await h3.start();
    assert.match((await h3.settled()).error ?? '', /management server is not listening/);
  });

  it('first start copies the default flows; later starts keep the user flows; the credential key is made once', async () => {
    const defaults = path.join(dir, 'policy-editor.json');
    fs.writeFileSync(defaults, '[{"id":"t1","type":"tab","label":"Policy editor"}]');
    const palette = path.join(dir, 'palette');
    fs.mkdirSync(palette);
    fs.writeFileSync(path.join(palette, 'package.json'), '{"name":"p","node-red":{"nodes":{}}}');
    const runtime = fakeRuntime();
    const h = makeHost(runtime, {
      defaultFlowFile: defaults,
      paletteDir: palette,
      paletteServices: undefined,
    });
    await h.start();
    await h.settled();
    const flowFile = path.join(dir, 'node-red', 'flows.json');
    assert.equal(fs.readFileSync(flowFile, 'utf8'), fs.readFileSync(defaults, 'utf8'));
    const secret = new SettingsRepository(db).getOrCreate(CREDENTIAL_SECRET_SETTING, () => 'not this');
    assert.match(secret, /^[0-9a-f]{64}$/);
    assert.equal(runtime.inits[0]?.['credentialSecret'], secret);
    assert.deepEqual(runtime.inits[0]?.['nodesDir'], [palette]);
    await h.stop();
    assert.equal(runtime.stops, 1);

    fs.writeFileSync(flowFile, '[]');
    const missingPalette = path.join(dir, 'no-palette');
    const runtime2 = fakeRuntime();
    const h2 = makeHost(runtime2, { defaultFlowFile: defaults, paletteDir: missingPalette });
    await h2.start();
    await h2.settled();
    assert.equal(fs.readFileSync(flowFile, 'utf8'), '[]', 'user flows are never replaced');
    assert.equal(runtime2.inits[0]?.['credentialSecret'], secret, 'the same key on every start');
    assert.equal(runtime2.inits[0]?.['nodesDir'], undefined, 'a missing palette is left out');
    assert.ok(logger.lines.some((l) => /palette not found/.test(l.msg)));
  });
});

describe('nodered-host: console banner notes', () => {
  it('the banner shows the notes (the Node-RED setup token) before the login prompt', async () => {
    const timers = new ManualTimers();
    let written = '';
    const session = new ConsoleSession({
      write: (text) => {
        written += text;
      },
      backend: new FakeBackend(),
      labels: { podLabels: () => Promise.resolve(undefined) },
      accounts: new MemoryAccounts(),
      power: new RecordingPower(true),
      host: FAKE_HOST,
      board: FAKE_BOARD,
      firmwareVersion: '9.9.9',
      timers,
      logger: silentLogger,
      bannerNotes: () => Promise.resolve(['Node-RED setup: http://x/red/setup  token: T0KEN']),
    });
    session.start();
    await session.settled();
    assert.match(written, /Node status: .*\r\nNode-RED setup: http:\/\/x\/red\/setup {2}token: T0KEN\r\n/);
    assert.ok(written.endsWith('login: '));
    session.stop();
  });
});
