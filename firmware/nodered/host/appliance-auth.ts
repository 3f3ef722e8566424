// The appliance's one admin account, as Node-RED sees it: the editor's adminAuth (users/authenticate), HTTP basic
// auth in front of flow endpoints (httpNode) and the check of websocket clients of flows. It is the console's
// account (same users table, same scrypt hashes through ConsoleAccounts), so one password opens both.
//
// scrypt at the console's cost takes ~0.1–0.3 s and 128 MiB on the target: checks run one at a time (a burst of
// requests cannot exhaust memory), a bounded number may wait, and a successful check is remembered for a short
// while (by an HMAC of user and password under a per-process key) so that flow endpoints called with basic auth
// do not pay scrypt on every request.
import * as crypto from 'node:crypto';
import type * as http from 'node:http';
import type { ConsoleAccounts } from '../../core/console/ports';
import type { Logger } from '../../core/logger';
import type { HttpHandler } from '../../http/management-server';
import type { AttemptLimiter } from './attempt-limiter';

/** A Node-RED user: `permissions: '*'` is full access to the editor and admin API. */
export interface NodeRedUser {
  username: string;
  permissions: string;
}

/** Node-RED's `adminAuth` with custom user functions (https://nodered.org/docs/user-guide/runtime/securing-node-red). */
export interface NodeRedAdminAuth {
  type: 'credentials';
  users(username: string): Promise<NodeRedUser | null>;
  authenticate(username: string, password: string): Promise<NodeRedUser | null>;
  /** Seconds an editor login (access token) stays valid. */
  sessionExpiryTime: number;
}

/** `webSocketNodeVerifyClient`: ws's asynchronous verifyClient. */
export type WebSocketClientVerifier = (
  info: { req: http.IncomingMessage },
  callback: (accept: boolean, code?: number, message?: string) => void,
) => void;

export class ApplianceAuthError extends Error {
  override readonly name = 'ApplianceAuthError';
  constructor(
    readonly code: 'AUTH_BUSY',
    message: string,
  ) {
    super(message);
  }
}

export interface ApplianceAuthOptions {
  accounts: ConsoleAccounts;
  /** The admin account (the console's first-boot account). */
  user: string;
  /** Failed basic-auth attempts per client address. */
  failures: AttemptLimiter;
  logger: Logger;
  /** How long a verified user/password pair is taken without scrypt; 60 s unless told. */
  verifiedTtlMs?: number;
  /** Password checks allowed to wait for the one running; more are refused as busy. 8 unless told. */
  maxWaitingChecks?: number;
  now?: () => number;
}

export const BASIC_AUTH_REALM = 'antrea-edge';

export class ApplianceAuth {
  private passwordKnownSet = false;
  private cacheKey: Buffer | undefined;
  /** HMAC of user and password → when the entry expires. */
  private readonly verified = new Map<string, number>();
  private queue: Promise<unknown> = Promise.resolve();
  private waiting = 0;

  constructor(private readonly options: ApplianceAuthOptions) {}

  get user(): string {
    return this.options.user;
  }

  /** Whether the admin password is set. Once true it stays true (a password cannot be unset). */
  async passwordSet(): Promise<boolean> {
    if (this.passwordKnownSet) return true;
    this.passwordKnownSet = (await this.options.accounts.passwordState(this.options.user)) === 'set';
    return this.passwordKnownSet;
  }

  /**
   * Checks a password of the admin account (false for any other user, and while no password is set). Throws
   * ApplianceAuthError AUTH_BUSY when too many checks are already waiting.
   */
  async verify(user: string, password: string): Promise<boolean> {
    if (user !== this.options.user || !(await this.passwordSet())) return false;
    const key = this.pairKey(user, password);
    const now = this.now();
    const expiresAt = this.verified.get(key);
    if (expiresAt !== undefined && expiresAt > now) return true;
    this.verified.delete(key);
    if (this.waiting >= (this.options.maxWaitingChecks ?? 8)) {
      throw new ApplianceAuthError('AUTH_BUSY', 'too many password checks at once');
    }
    this.waiting++;
    const check = this.queue.then(() => this.options.accounts.verify(user, password));
    this.queue = check.catch(() => undefined);
    let ok: boolean;
    try {
      ok = await check;
    } finally {
      this.waiting--;
    }
    if (ok) this.remember(key);
    return ok;
  }

  /** Forgets remembered checks: the password changed. */
  passwordChanged(): void {
    this.verified.clear();
    this.passwordKnownSet = false;
  }

  /** Node-RED's adminAuth over the admin account; there is no default (anonymous) user. */
  adminAuth(sessionExpirySeconds: number): NodeRedAdminAuth {
    const admin = (): NodeRedUser => ({ username: this.options.user, permissions: '*' });
    return {
      type: 'credentials',
      users: async (username) =>
        username === this.options.user && (await this.passwordSet()) ? admin() : null,
      authenticate: async (username, password) => {
        try {
          return (await this.verify(username, password)) ? admin() : null;
        } catch (error) {
          this.options.logger.warn('editor login not checked', { error });
          return null;
        }
      },
      sessionExpiryTime: sessionExpirySeconds,
    };
  }

  /**
   * HTTP basic auth with the admin account in front of a handler (flow endpoints): 401 with a challenge without
   * or with wrong credentials, 429 after too many failures from one address, 503 while no password is set.
   */
  basicAuth(): HttpHandler {
    return (request, response, next) => {
      const client = clientAddress(request);
      this.checkBasic(request, client).then(
        (outcome) => {
          switch (outcome.kind) {
            case 'ok':
              next();
              return;
            case 'setup-required':
              sendJson(response, 503, { error: 'setup required' });
              return;
            case 'limited':
              response.setHeader('retry-after', String(Math.ceil(outcome.retryAfterMs / 1000)));
              sendJson(response, 429, { error: 'too many failed attempts' });
              return;
            case 'busy':
              response.setHeader('retry-after', '1');
              sendJson(response, 503, { error: 'busy' });
              return;
            case 'refused':
              response.setHeader('www-authenticate', `Basic realm="${BASIC_AUTH_REALM}", charset="UTF-8"`);
              sendJson(response, 401, { error: 'unauthorized' });
              return;
          }
        },
        (error: unknown) => next(error ?? new Error('basic auth failed')),
      );
    };
  }

  /** For flows' websocket-in nodes: the same basic auth on the upgrade request. */
  webSocketVerifier(): WebSocketClientVerifier {
    return (info, callback) => {
      this.checkBasic(info.req, clientAddress(info.req)).then(
        (outcome) => {
          if (outcome.kind === 'ok') callback(true);
          else callback(false, outcome.kind === 'refused' ? 401 : outcome.kind === 'limited' ? 429 : 503);
        },
        () => callback(false, 500),
      );
    };
  }

  private async checkBasic(
    request: http.IncomingMessage,
    client: string,
  ): Promise<
    { kind: 'ok' | 'refused' | 'setup-required' | 'busy' } | { kind: 'limited'; retryAfterMs: number }
  > {
    if (!(await this.passwordSet())) return { kind: 'setup-required' };
    const now = this.now();
    const retryAfterMs = this.options.failures.retryAfterMs(client, now);
    if (retryAfterMs > 0) return { kind: 'limited', retryAfterMs };
    const credentials = parseBasicAuth(request.headers.authorization);
    if (credentials === undefined) return { kind: 'refused' };
    let ok: boolean;
    try {
      ok = await this.verify(credentials.user, credentials.password);
    } catch (error) {
      if (error instanceof ApplianceAuthError) return { kind: 'busy' };
      throw error;
    }
    if (ok) return { kind: 'ok' };
    this.options.failures.record(client, this.now());
    this.options.logger.warn('flow endpoint login refused', { user: credentials.user, client });
    return { kind: 'refused' };
  }

  private pairKey(user: string, password: string): string {
    this.cacheKey ??= crypto.randomBytes(32);
    return crypto.createHmac('sha256', this.cacheKey).update(`${user}\0${password}`).digest('hex');
  }

  private remember(key: string): void {
    const now = this.now();
    for (const [entry, expiresAt] of this.verified) if (expiresAt <= now) this.verified.delete(entry);
    // A handful of clients at most use the one account; a bound keeps wrong-but-lucky growth impossible.
    if (this.verified.size >= 64) this.verified.clear();
    this.verified.set(key, now + (this.options.verifiedTtlMs ?? 60_000));
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }
}

/** `Authorization: Basic base64(user:password)`; undefined when absent or malformed. */
export function parseBasicAuth(header: string | undefined): { user: string; password: string } | undefined {
  if (header === undefined) return undefined;
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (match === null) return undefined;
  const decoded = Buffer.from(match[1] ?? '', 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export function clientAddress(request: http.IncomingMessage): string {
  return request.socket.remoteAddress ?? 'unknown';
}

export function sendJson(response: http.ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  if (response.headersSent) {
    response.end();
    return;
  }
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  response.end(text);
}
