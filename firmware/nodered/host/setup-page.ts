// The one-time setup page: while the appliance has no admin password, the editor is closed and `/red/setup` sets
// the password, given the setup token the firmware printed in its log and on the console banner (like a
// Jupyter token: proof of access to the box). The token is compared in constant time, works once, and attempts
// are rate-limited per client. The password rules are the console's, and the account is the console's.
import * as crypto from 'node:crypto';
import type * as http from 'node:http';
import type { ConsoleAccounts } from '../../core/console/ports';
import { DEFAULT_CONSOLE_LIMITS } from '../../core/console/session';
import type { Logger } from '../../core/logger';
import type { AttemptLimiter } from './attempt-limiter';
import { clientAddress, sendJson, type ApplianceAuth } from './appliance-auth';

export interface PasswordRules {
  minLength: number;
  maxLength: number;
}

/** The console's rules (ConsoleLimits), so a password set here could have been set there. */
export const CONSOLE_PASSWORD_RULES: PasswordRules = {
  minLength: DEFAULT_CONSOLE_LIMITS.minPasswordLength,
  maxLength: DEFAULT_CONSOLE_LIMITS.maxPasswordLength,
};

/** Why the password is not acceptable (the console's wording), or undefined. Lengths count code points. */
export function passwordProblem(user: string, password: string, rules: PasswordRules): string | undefined {
  const length = Array.from(password).length;
  if (length < rules.minLength) return `The password is too short: at least ${rules.minLength} characters.`;
  if (length > rules.maxLength) return `The password is too long: at most ${rules.maxLength} characters.`;
  if (password === user) return 'The password must not be the user name.';
  return undefined;
}

/** A random one-time token; compared through SHA-256 digests so the comparison time says nothing. */
export class SetupToken {
  private value: string | undefined;

  /** A new token (the previous one stops working). */
  issue(): string {
    this.value = crypto.randomBytes(18).toString('base64url');
    return this.value;
  }

  get current(): string | undefined {
    return this.value;
  }

  matches(candidate: string): boolean {
    const value = this.value;
    const expected = crypto
      .createHash('sha256')
      .update(value ?? '')
      .digest();
    const actual = crypto.createHash('sha256').update(candidate).digest();
    return crypto.timingSafeEqual(expected, actual) && value !== undefined;
  }

  /** Used up: no further setup with it. */
  consume(): void {
    this.value = undefined;
  }

  /** Puts back a consumed token (the password could not be stored). */
  restore(value: string): void {
    this.value = value;
  }
}

export interface SetupPageOptions {
  auth: ApplianceAuth;
  accounts: Pick<ConsoleAccounts, 'setPassword'>;
  token: SetupToken;
  /** Setup attempts per client address. */
  attempts: AttemptLimiter;
  rules?: PasswordRules;
  /** Where the editor is, e.g. `/red/`: the page links and redirects there. */
  editorPath: string;
  logger: Logger;
  now?: () => number;
}

const MAX_BODY_BYTES = 16 * 1024;

type SetupOutcome =
  | { status: 200; user: string }
  | { status: 400 | 403 | 410 | 413 | 415 | 429 | 500; error: string; retryAfterMs?: number };

export class SetupPage {
  constructor(private readonly options: SetupPageOptions) {}

  /** GET: the form (or a note that the password is set); POST: sets the password. */
  handle(request: http.IncomingMessage, response: http.ServerResponse): void {
    if (request.method === 'GET' || request.method === 'HEAD') {
      this.options.auth.passwordSet().then(
        (set) => this.sendPage(response, set ? 410 : 200, set ? { done: true } : {}),
        () => sendJson(response, 500, { error: 'internal error' }),
      );
      return;
    }
    if (request.method !== 'POST') {
      response.setHeader('allow', 'GET, HEAD, POST');
      sendJson(response, 405, { error: `method ${request.method ?? ''} not allowed` });
      return;
    }
    const wantsJson = isJsonRequest(request);
    this.submit(request).then(
      (outcome) => this.answer(response, outcome, wantsJson),
      (error: unknown) => {
        this.options.logger.error('setup page failed', { error });
        this.answer(response, { status: 500, error: 'internal error' }, wantsJson);
      },
    );
  }

  private async submit(request: http.IncomingMessage): Promise<SetupOutcome> {
    const { auth, attempts, token, logger } = this.options;
    const client = clientAddress(request);
    const retryAfterMs = attempts.retryAfterMs(client, this.now());
    if (retryAfterMs > 0) return { status: 429, error: 'Too many attempts; try again later.', retryAfterMs };
    attempts.record(client, this.now());
    const body = await readForm(request);
    if ('error' in body) return body;
    if (await auth.passwordSet()) return { status: 410, error: 'The admin password is already set.' };
    const presented = body.fields.get('token') ?? '';
    const issued = token.current;
    if (issued === undefined || !token.matches(presented.trim())) {
      logger.warn('setup page: wrong setup token', { client });
      return { status: 403, error: 'Wrong setup token.' };
    }
    const password = body.fields.get('password') ?? '';
    const problem = passwordProblem(auth.user, password, this.options.rules ?? CONSOLE_PASSWORD_RULES);
    if (problem !== undefined) return { status: 400, error: problem };
    if (password !== (body.fields.get('confirm') ?? '')) {
      return { status: 400, error: 'The passwords do not match.' };
    }
    // Consumed before the (slow) hashing, so two requests with the token cannot both set a password.
    token.consume();
    try {
      await this.options.accounts.setPassword(auth.user, password);
    } catch (error) {
      token.restore(issued);
      throw error;
    }
    auth.passwordChanged();
    attempts.reset(client);
    logger.info('admin password set on the setup page', { user: auth.user, client });
    return { status: 200, user: auth.user };
  }

  private answer(response: http.ServerResponse, outcome: SetupOutcome, wantsJson: boolean): void {
    if ('retryAfterMs' in outcome && outcome.retryAfterMs !== undefined) {
      response.setHeader('retry-after', String(Math.ceil(outcome.retryAfterMs / 1000)));
    }
    if (wantsJson) {
      if (outcome.status === 200) sendJson(response, 200, { ok: true, user: outcome.user });
      else sendJson(response, outcome.status, { error: outcome.error });
      return;
    }
    if (outcome.status === 200) {
      response.writeHead(303, { location: this.options.editorPath, 'cache-control': 'no-store' });
      response.end();
      return;
    }
    this.sendPage(
      response,
      outcome.status,
      outcome.status === 410 ? { done: true } : { error: outcome.error },
    );
  }

  private sendPage(
    response: http.ServerResponse,
    status: number,
    state: { error?: string; done?: boolean },
  ): void {
    const html = setupPageHtml({
      user: this.options.auth.user,
      rules: this.options.rules ?? CONSOLE_PASSWORD_RULES,
      editorPath: this.options.editorPath,
      ...state,
    });
    response.writeHead(status, {
      'content-type': 'text/html; charset=utf-8',
      'content-length': Buffer.byteLength(html),
      'cache-control': 'no-store',
      'x-frame-options': 'DENY',
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
      'referrer-policy': 'no-referrer',
    });
    response.end(html);
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }
}

function isJsonRequest(request: http.IncomingMessage): boolean {
  const type = request.headers['content-type'] ?? '';
  const accept = request.headers.accept ?? '';
  return (
    type.startsWith('application/json') ||
    (accept.includes('application/json') && !accept.includes('text/html'))
  );
}

/** The body as fields: application/x-www-form-urlencoded or a JSON object of strings. */
async function readForm(
  request: http.IncomingMessage,
): Promise<{ fields: Map<string, string> } | { status: 400 | 413 | 415; error: string }> {
  const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (type !== 'application/x-www-form-urlencoded' && type !== 'application/json') {
    request.resume();
    return { status: 415, error: 'Send the form (application/x-www-form-urlencoded) or JSON.' };
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return { status: 413, error: 'The request is too large.' };
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (type === 'application/x-www-form-urlencoded') return { fields: new Map(new URLSearchParams(text)) };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { status: 400, error: 'The body is not JSON.' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { status: 400, error: 'The body must be a JSON object.' };
  }
  const fields = new Map<string, string>();
  for (const [key, value] of Object.entries(parsed)) if (typeof value === 'string') fields.set(key, value);
  return { fields };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function setupPageHtml(page: {
  user: string;
  rules: PasswordRules;
  editorPath: string;
  error?: string;
  done?: boolean;
}): string {
  const body = page.done
    ? `<p>The admin password is set. <a href="${escapeHtml(page.editorPath)}">Open the editor</a> and log in as
  <b>${escapeHtml(page.user)}</b>.</p>`
    : `<p>This appliance has no admin password yet. Enter the setup token that the firmware printed in its log
  and on the serial console banner, and choose the password of <b>${escapeHtml(page.user)}</b> (at least
  ${page.rules.minLength} characters). It is the same password as on the console.</p>
  ${page.error === undefined ? '' : `<p class="error" role="alert">${escapeHtml(page.error)}</p>`}
  <form method="post" action="setup" autocomplete="off">
    <label>Setup token <input name="token" required autocomplete="off" spellcheck="false"></label>
    <label>New password <input name="password" type="password" required minlength="${page.rules.minLength}"
      maxlength="${page.rules.maxLength}" autocomplete="new-password"></label>
    <label>New password again <input name="confirm" type="password" required
      minlength="${page.rules.minLength}" autocomplete="new-password"></label>
    <button type="submit">Set password</button>
  </form>`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>antrea-edge setup</title>
<style>
body{font-family:sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#222}
label{display:block;margin:0.8rem 0}input{display:block;width:100%;padding:0.4rem;margin-top:0.2rem}
button{padding:0.5rem 1rem}.error{color:#b00020}
</style></head>
<body><h1>antrea-edge setup</h1>
${body}
</body></html>
`;
}
