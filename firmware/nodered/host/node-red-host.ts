// Node-RED 4 embedded in the firmware process on the management server: the editor and admin API under `/red`,
// flows' HTTP endpoints under `/api`, userDir on the data partition. Authentication is always on and uses the
// appliance's admin account (the console's); while that account has no password the editor is closed and a
// one-time setup page (token from the log / console banner) sets it.
//
// Node-RED is optional equipment: anything that goes wrong with it (userDir unusable, a node that throws, a start
// that rejects) is logged and reported through status() (the firmware's /readyz), never thrown into the
// firmware, which keeps enforcing policy. Node-RED's runtime is a process-wide module: it can be started once
// per process.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import type * as http from 'node:http';
import * as path from 'node:path';
import type { ConsoleAccounts } from '../../core/console/ports';
import type { Logger } from '../../core/logger';
import { formatHostPort, type HttpRouter } from '../../http/management-server';
import type { SettingsRepository } from '../../store/settings-repository';
import type { PaletteServices } from '../palette/services';
import { AttemptLimiter, type AttemptLimiterOptions } from './attempt-limiter';
import { ApplianceAuth, clientAddress, sendJson } from './appliance-auth';
import {
  buildNodeRedSettings,
  NODE_RED_ADMIN_ROOT,
  NODE_RED_NODE_ROOT,
  type NodeRedRuntime,
  type NodeRedSettings,
} from './node-red-settings';
import { SetupPage, SetupToken, type PasswordRules } from './setup-page';

export type NodeRedState = 'stopped' | 'starting' | 'running' | 'failed';

export interface NodeRedHostStatus {
  state: NodeRedState;
  /** Why it failed (state `failed`). */
  error?: string;
  /** No admin password yet: the editor is closed, the setup page is open. */
  setupRequired: boolean;
}

/** The settings key holding the key Node-RED encrypts flow credentials with (generated once). */
export const CREDENTIAL_SECRET_SETTING = 'node-red.credentialSecret';

export const SETUP_PATH = '/setup';

export interface NodeRedHostOptions {
  /** The firmware's data directory; Node-RED's userDir is `<dataDir>/node-red`. */
  dataDir: string;
  router: Pick<HttpRouter, 'mount'>;
  /** The management server's http.Server (Node-RED's editor websocket needs it); undefined when it is off. */
  server: http.Server | undefined;
  /** Where the management server listens, for the setup URL in the log and on the banner. */
  address?: () => { host: string; port: number } | undefined;
  /** The appliance accounts (the console's). */
  accounts: ConsoleAccounts;
  /** The admin account: the console's first-boot account. */
  adminUser: string;
  settings: Pick<SettingsRepository, 'getOrCreate'>;
  logger: Logger;
  /** The antrea-edge palette module directory; absent or missing: Node-RED runs without it. */
  paletteDir?: string;
  /** Copied to `<userDir>/flows.json` when there is none (first start). */
  defaultFlowFile?: string;
  /** `RED.settings.antreaEdge` for the palette nodes. */
  paletteServices?: PaletteServices;
  /** Loads Node-RED; tests pass a fake. Default: `require('node-red')`. */
  loadRuntime?: () => NodeRedRuntime;
  passwordRules?: PasswordRules;
  /** Seconds an editor login lasts; one day unless told. */
  sessionExpirySeconds?: number;
  /** Setup-page attempts per client; 10 per 10 minutes unless told. */
  setupAttempts?: AttemptLimiterOptions;
  /** Failed logins (editor and flow endpoints) per client; 10 per 5 minutes unless told. */
  loginFailures?: AttemptLimiterOptions;
  now?: () => number;
}

export class NodeRedHost {
  private state: NodeRedState = 'stopped';
  private failure: string | undefined;
  private runtime: NodeRedRuntime | undefined;
  private starting: Promise<void> | undefined;
  private auth: ApplianceAuth | undefined;
  private setupPage: SetupPage | undefined;
  private readonly setupToken = new SetupToken();
  private loginFailures: AttemptLimiter | undefined;
  private setupRequired = true;

  constructor(private readonly options: NodeRedHostOptions) {}

  get userDir(): string {
    return path.join(this.options.dataDir, 'node-red');
  }

  /**
   * Mounts `/red` and `/api` and starts Node-RED in the background; resolves at once (see settled()). Never
   * rejects because of Node-RED.
   */
  async start(): Promise<void> {
    if (this.state !== 'stopped') return;
    const { options } = this;
    const logger = options.logger;
    this.loginFailures = new AttemptLimiter(
      options.loginFailures ?? { maxAttempts: 10, windowMs: 5 * 60_000 },
    );
    const auth = new ApplianceAuth({
      accounts: options.accounts,
      user: options.adminUser,
      failures: this.loginFailures,
      logger,
      ...(options.now ? { now: options.now } : {}),
    });
    this.auth = auth;
    this.setupPage = new SetupPage({
      auth,
      accounts: options.accounts,
      token: this.setupToken,
      attempts: new AttemptLimiter(options.setupAttempts ?? { maxAttempts: 10, windowMs: 10 * 60_000 }),
      ...(options.passwordRules ? { rules: options.passwordRules } : {}),
      editorPath: `${NODE_RED_ADMIN_ROOT}/`,
      logger,
      ...(options.now ? { now: options.now } : {}),
    });
    options.router.mount(NODE_RED_ADMIN_ROOT, (request, response, next) =>
      this.handleAdmin(request, response, next),
    );
    const basicAuth = auth.basicAuth();
    options.router.mount(NODE_RED_NODE_ROOT, (request, response, next) =>
      basicAuth(request, response, (error?: unknown) => {
        if (error !== undefined) return next(error);
        const runtime = this.runtime;
        if (this.state !== 'running' || runtime === undefined) return this.sendUnavailable(response);
        runtime.httpNode(request, response, next);
      }),
    );
    this.setupRequired = !(await auth.passwordSet());
    if (this.setupRequired) {
      const token = this.setupToken.issue();
      logger.warn(
        'no admin password yet: the editor is closed until one is set on the setup page or the console',
        {
          setupUrl: this.setupUrl(),
          setupToken: token,
          user: options.adminUser,
        },
      );
    }
    this.state = 'starting';
    this.starting = this.startRuntime();
  }

  /** Resolves once the start-up finished, either way; the status says how. */
  async settled(): Promise<NodeRedHostStatus> {
    await this.starting;
    return this.status();
  }

  status(): NodeRedHostStatus {
    return {
      state: this.state,
      ...(this.failure === undefined ? {} : { error: this.failure }),
      setupRequired: this.setupRequired,
    };
  }

  /** For /readyz: undefined while running, otherwise why the editor is not there. */
  readinessProblem(): string | undefined {
    switch (this.state) {
      case 'running':
        return undefined;
      case 'starting':
        return 'Node-RED is starting';
      case 'failed':
        return `Node-RED failed to start: ${this.failure ?? 'unknown error'}`;
      case 'stopped':
        return 'Node-RED is stopped';
    }
  }

  /** The setup token while the admin password is not set (for the console banner); undefined otherwise. */
  async pendingSetup(): Promise<{ url: string; token: string } | undefined> {
    const token = this.setupToken.current;
    if (token === undefined || this.auth === undefined) return undefined;
    if (await this.auth.passwordSet()) {
      // Set on the console meanwhile: the token has no use left.
      this.setupToken.consume();
      this.setupRequired = false;
      return undefined;
    }
    return { url: this.setupUrl(), token };
  }

  /** Lines for the console banner while setup is pending (the banner is only shown on the physical console). */
  async bannerLines(): Promise<string[]> {
    const pending = await this.pendingSetup();
    if (pending === undefined) return [];
    return [`Node-RED setup: ${pending.url}  token: ${pending.token}`];
  }

  /** Values that must not leave the appliance in support bundles. */
  secrets(): string[] {
    const token = this.setupToken.current;
    return token === undefined ? [] : [token];
  }

  async stop(): Promise<void> {
    const starting = this.starting;
    this.starting = undefined;
    await starting;
    const runtime = this.runtime;
    const wasRunning = this.state === 'running';
    this.state = 'stopped';
    if (!wasRunning || runtime === undefined) return;
    try {
      await runtime.stop();
    } catch (error) {
      this.options.logger.warn('Node-RED did not stop cleanly', { error });
    }
  }

  private async startRuntime(): Promise<void> {
    const { options } = this;
    const logger = options.logger;
    const startedAt = Date.now();
    try {
      const server = options.server;
      if (server === undefined) throw new Error('the management server is not listening');
      const settings = this.buildSettings();
      const runtime = (options.loadRuntime ?? loadNodeRed)();
      runtime.init(server, settings);
      this.runtime = runtime;
      await runtime.start();
      if (this.state !== 'starting') return;
      this.state = 'running';
      logger.info('Node-RED started', {
        editor: `${NODE_RED_ADMIN_ROOT}/`,
        userDir: this.userDir,
        palette: settings['nodesDir'] === undefined ? 'absent' : options.paletteDir,
        ms: Date.now() - startedAt,
      });
    } catch (error) {
      if (this.state !== 'starting') return;
      this.state = 'failed';
      this.failure = error instanceof Error ? error.message : String(error);
      logger.error('Node-RED did not start; the firmware runs on without the editor', { error });
    }
  }

  private buildSettings(): NodeRedSettings {
    const { options } = this;
    const userDir = this.userDir;
    fs.mkdirSync(userDir, { recursive: true, mode: 0o700 });
    const flowFile = path.join(userDir, 'flows.json');
    if (options.defaultFlowFile !== undefined && !fs.existsSync(flowFile)) {
      if (fs.existsSync(options.defaultFlowFile)) {
        fs.copyFileSync(options.defaultFlowFile, flowFile, fs.constants.COPYFILE_EXCL);
        options.logger.info('first start: default flows installed', { from: options.defaultFlowFile });
      } else {
        options.logger.warn('default flow file missing; the editor starts empty', {
          file: options.defaultFlowFile,
        });
      }
    }
    let paletteDir = options.paletteDir;
    if (paletteDir !== undefined && !fs.existsSync(path.join(paletteDir, 'package.json'))) {
      options.logger.warn('antrea-edge palette not found; Node-RED runs without it', { paletteDir });
      paletteDir = undefined;
    }
    const credentialSecret = options.settings.getOrCreate(CREDENTIAL_SECRET_SETTING, () =>
      crypto.randomBytes(32).toString('hex'),
    );
    const auth = this.auth;
    if (auth === undefined) throw new Error('not started');
    return buildNodeRedSettings({
      userDir,
      credentialSecret,
      adminAuth: auth.adminAuth(options.sessionExpirySeconds ?? 24 * 60 * 60),
      webSocketNodeVerifyClient: auth.webSocketVerifier(),
      ...(paletteDir === undefined ? {} : { paletteDir }),
      services: options.paletteServices,
      logger: options.logger.child({ component: 'node-red' }),
    });
  }

  /** `/red`: the setup page while there is no password, then Node-RED's editor and admin API. */
  private handleAdmin(
    request: http.IncomingMessage & { originalUrl?: string },
    response: http.ServerResponse,
    next: (error?: unknown) => void,
  ): void {
    const url = request.url ?? '/';
    const pathname = url.split(/[?#]/, 1)[0] ?? '/';
    const original = (request.originalUrl ?? url).split(/[?#]/, 1)[0];
    if (original === NODE_RED_ADMIN_ROOT) {
      // The editor loads its assets relative to `/red/`.
      response.writeHead(301, { location: `${NODE_RED_ADMIN_ROOT}/${url.slice(1)}` });
      response.end();
      return;
    }
    const auth = this.auth;
    const setupPage = this.setupPage;
    if (auth === undefined || setupPage === undefined) return this.sendUnavailable(response);
    if (pathname === SETUP_PATH) {
      setupPage.handle(request, response);
      return;
    }
    auth.passwordSet().then(
      (set) => {
        if (!set) {
          if (wantsHtml(request)) {
            response.writeHead(303, {
              location: `${NODE_RED_ADMIN_ROOT}${SETUP_PATH}`,
              'cache-control': 'no-store',
            });
            response.end();
          } else {
            sendJson(response, 503, {
              error: 'setup required',
              setup: `${NODE_RED_ADMIN_ROOT}${SETUP_PATH}`,
            });
          }
          return;
        }
        this.setupRequired = false;
        this.setupToken.consume();
        const runtime = this.runtime;
        if (this.state !== 'running' || runtime === undefined) return this.sendUnavailable(response);
        if (request.method === 'POST' && pathname === '/auth/token') {
          this.limitLogins(request, response, () => runtime.httpAdmin(request, response, next));
          return;
        }
        runtime.httpAdmin(request, response, next);
      },
      (error: unknown) => next(error ?? new Error('password state unknown')),
    );
  }

  /** Editor logins: refused for a while after too many failures from one client. */
  private limitLogins(request: http.IncomingMessage, response: http.ServerResponse, pass: () => void): void {
    const limiter = this.loginFailures;
    if (limiter === undefined) return pass();
    const client = clientAddress(request);
    const now = (): number => this.options.now?.() ?? Date.now();
    const retryAfterMs = limiter.retryAfterMs(client, now());
    if (retryAfterMs > 0) {
      response.setHeader('retry-after', String(Math.ceil(retryAfterMs / 1000)));
      sendJson(response, 429, { error: 'too many failed logins' });
      return;
    }
    response.once('finish', () => {
      if (response.statusCode === 401 || response.statusCode === 403) {
        limiter.record(client, now());
        this.options.logger.warn('editor login refused', { client });
      } else if (response.statusCode === 200) {
        limiter.reset(client);
      }
    });
    pass();
  }

  private sendUnavailable(response: http.ServerResponse): void {
    const status = this.status();
    response.setHeader('retry-after', '5');
    sendJson(response, 503, {
      error: status.state === 'failed' ? 'node-red failed to start' : `node-red is ${status.state}`,
      ...(status.error === undefined ? {} : { reason: status.error }),
    });
  }

  private setupUrl(): string {
    const address = this.options.address?.();
    const where = address === undefined ? '<management address>' : formatHostPort(address.host, address.port);
    return `http://${where}${NODE_RED_ADMIN_ROOT}${SETUP_PATH}`;
  }
}

function wantsHtml(request: http.IncomingMessage): boolean {
  return (
    (request.method === 'GET' || request.method === 'HEAD') &&
    (request.headers.accept ?? '').includes('text/html')
  );
}

function loadNodeRed(): NodeRedRuntime {
  // Loaded on start only: a firmware started with --node-red false never pays for Node-RED's memory.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('node-red') as NodeRedRuntime;
}
