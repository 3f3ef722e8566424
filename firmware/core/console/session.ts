// One console session on a serial line: banner, login (first boot forces a password), the shell, paste mode for
// `apply -f -`, confirmations, idle logout. Fed raw bytes, writes terminal text; every outside effect goes through
// the injected ports, so the whole state machine runs under fake timers in unit tests.
import {
  describeCommandError,
  runCommand,
  type AntctlBackend,
  type RunnableCommand,
} from '../antctl/commands';
import type { AgentCommands } from '../antctl/views';
import type { Logger } from '../logger';
import { formatOutput, formatTable, type OutputKind, type TableData } from '../output/format';
import {
  completeConsoleLine,
  mergeLabels,
  parseConsoleLine,
  PASTE_END_HINT,
  type CompletionNames,
} from './console-commands';
import { LineEditor } from './line-editor';
import type {
  BoardInfo,
  CancelTimer,
  ConsoleAccounts,
  ConsoleTimers,
  HostFacts,
  HostInterface,
  PodLabelSource,
  PowerControl,
  SystemFacts,
} from './ports';

/** What the console runs commands against: the same handlers as the local API, in process. */
export type ConsoleBackend = AntctlBackend & Partial<AgentCommands>;

export interface ConsoleLimits {
  /** Longest command line, in characters. */
  maxLineLength: number;
  /** Logged-in sessions without input end after this long. */
  idleTimeoutMs: number;
  /** Largest manifest accepted by paste mode. */
  maxPasteBytes: number;
  /** A `---` line ends the paste when nothing follows it within this time; otherwise it separates documents. */
  pasteSeparatorWaitMs: number;
  minPasswordLength: number;
  maxPasswordLength: number;
  /** How long the banner waits for the agent's status before printing "unknown". */
  bannerStatusTimeoutMs: number;
}

export const DEFAULT_CONSOLE_LIMITS: ConsoleLimits = {
  maxLineLength: 1024,
  idleTimeoutMs: 15 * 60_000,
  maxPasteBytes: 1024 * 1024,
  pasteSeparatorWaitMs: 1500,
  minPasswordLength: 8,
  maxPasswordLength: 256,
  bannerStatusTimeoutMs: 3000,
};

export const DEFAULT_CONSOLE_USER = 'admin';

/**
 * Failed logins wait 1 s, 2 s, 4 s … up to 60 s before the next attempt. Shared by the sessions of one line, so
 * re-plugging a USB console does not reset it.
 */
export class LoginBackoff {
  private failures = 0;

  constructor(
    private readonly baseMs = 1000,
    private readonly maxMs = 60_000,
  ) {}

  get failedAttempts(): number {
    return this.failures;
  }

  /** Records a failure and returns how long to wait before the next attempt. */
  fail(): number {
    this.failures++;
    return Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.failures - 1, 30));
  }

  reset(): void {
    this.failures = 0;
  }
}

export interface ConsoleSessionOptions {
  /** Terminal output (already with CR LF line ends). */
  write(text: string): void;
  backend: ConsoleBackend;
  labels: PodLabelSource;
  accounts: ConsoleAccounts;
  power: PowerControl;
  host: HostFacts;
  board: BoardInfo;
  firmwareVersion: string;
  timers: ConsoleTimers;
  logger: Logger;
  backoff?: LoginBackoff;
  limits?: Partial<ConsoleLimits>;
  /** The account that first boot asks a password for. */
  defaultUser?: string;
  /**
   * More banner lines, e.g. the Node-RED setup token while no admin password is set (the console is physical
   * access to the box, the proof the setup page asks for).
   */
  bannerNotes?: () => Promise<readonly string[]>;
}

type PasswordPurpose = 'first-boot' | 'passwd';

type State =
  | { kind: 'stopped' }
  | { kind: 'banner' }
  | { kind: 'login' }
  | { kind: 'password'; user: string }
  | { kind: 'locked' }
  | { kind: 'new-password'; user: string; purpose: PasswordPurpose }
  | { kind: 'confirm-password'; user: string; purpose: PasswordPurpose; password: string }
  | { kind: 'current-password'; user: string }
  | { kind: 'shell'; user: string }
  | { kind: 'busy'; user?: string; interruptible: boolean; changes: boolean }
  | {
      kind: 'paste';
      user: string;
      command: Extract<RunnableCommand, { kind: 'apply' }>;
      lines: string[];
      bytes: number;
      separatorWait?: CancelTimer;
    }
  | { kind: 'confirm'; user: string; action: 'reboot' | 'shutdown' };

export type ConsoleStateKind = State['kind'];

export class ConsoleSession {
  private readonly limits: ConsoleLimits;
  private readonly editor: LineEditor;
  private readonly backoff: LoginBackoff;
  private readonly logger: Logger;
  private state: State = { kind: 'stopped' };
  /** Bumped whenever pending work must be forgotten (Ctrl-C, logout, stop). */
  private epoch = 0;
  private idleTimer: CancelTimer | undefined;
  private lockTimer: CancelTimer | undefined;
  private hostname = 'antrea-edge';
  private names: CompletionNames = { pods: [], policies: [] };
  private readonly inflight = new Set<Promise<unknown>>();

  constructor(private readonly options: ConsoleSessionOptions) {
    this.limits = { ...DEFAULT_CONSOLE_LIMITS, ...options.limits };
    this.backoff = options.backoff ?? new LoginBackoff();
    this.logger = options.logger;
    this.editor = new LineEditor({
      write: (text) => options.write(text),
      maxLineLength: this.limits.maxLineLength,
      complete: (line) => completeConsoleLine(line, this.names),
      onLine: (line) => this.onLine(line),
      onInterrupt: () => this.onInterrupt(),
      onEndOfInput: () => this.onEndOfInput(),
    });
  }

  /** The state's name, for tests and logs. */
  get stateKind(): ConsoleStateKind {
    return this.state.kind;
  }

  /** The logged-in user, if any. */
  get user(): string | undefined {
    const state = this.state;
    switch (state.kind) {
      case 'shell':
      case 'paste':
      case 'confirm':
      case 'current-password':
      case 'busy':
        return state.user;
      case 'new-password':
      case 'confirm-password':
        return state.purpose === 'passwd' ? state.user : undefined;
      default:
        return undefined;
    }
  }

  start(): void {
    if (this.state.kind !== 'stopped') return;
    this.showBanner();
  }

  stop(): void {
    this.epoch++;
    this.cancelTimers();
    this.editor.hold();
    this.editor.discardInput();
    this.state = { kind: 'stopped' };
  }

  input(bytes: Uint8Array): void {
    if (this.state.kind === 'stopped' || bytes.length === 0) return;
    const state = this.state;
    if (state.kind === 'paste' && state.separatorWait !== undefined) {
      // More input after a `---` line: it separated two documents.
      state.separatorWait();
      state.separatorWait = undefined;
    }
    this.armIdleTimer();
    try {
      this.editor.feed(bytes);
    } catch (error) {
      // The editor does not throw on input; a bug in a handler must not take the console down either.
      this.logger.error('console input handler failed', { error });
      this.enterShellOrLogin();
    }
  }

  /** Resolves when no command, check or refresh is pending (tests, orderly shutdown). */
  async settled(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  // ------------------------------------------------------------------------------------------------
  // Lines

  private onLine(line: string): void {
    const state = this.state;
    switch (state.kind) {
      case 'login': {
        const user = line.trim();
        if (user === '') {
          this.loginPrompt();
          return;
        }
        this.track(
          { kind: 'busy', interruptible: false, changes: false },
          () => this.options.accounts.passwordState(user),
          (passwordState) => {
            if (passwordState === 'unset') {
              this.write(
                `First boot: no password is set for ${user}. Choose one (at least ${this.limits.minPasswordLength} characters).\n`,
              );
              this.newPassword(user, 'first-boot');
            } else {
              this.state = { kind: 'password', user };
              this.editor.prompt('Password: ', { echo: false, history: false });
            }
          },
        );
        return;
      }
      case 'password': {
        const { user } = state;
        this.track(
          { kind: 'busy', interruptible: false, changes: false },
          () => this.options.accounts.verify(user, line),
          (ok) => {
            if (ok) {
              this.backoff.reset();
              this.logger.info('console login', { user });
              this.enterShell(user);
            } else {
              this.logger.warn('console login failed', {
                user,
                failedAttempts: this.backoff.failedAttempts + 1,
              });
              this.loginFailed('Login incorrect');
            }
          },
        );
        return;
      }
      case 'current-password': {
        const { user } = state;
        this.track(
          { kind: 'busy', user, interruptible: false, changes: false },
          () => this.options.accounts.verify(user, line),
          (ok) => {
            if (ok) this.newPassword(user, 'passwd');
            else {
              this.backoff.fail();
              this.write('passwd: wrong password; the password is unchanged\n');
              this.shellPrompt(user);
            }
          },
        );
        return;
      }
      case 'new-password': {
        const problem = this.passwordProblem(state.user, line);
        if (problem !== undefined) {
          this.write(`${problem}\n`);
          this.newPassword(state.user, state.purpose);
          return;
        }
        this.state = { kind: 'confirm-password', user: state.user, purpose: state.purpose, password: line };
        this.editor.prompt('Retype new password: ', { echo: false, history: false });
        return;
      }
      case 'confirm-password': {
        const { user, purpose, password } = state;
        if (line !== password) {
          this.write('The passwords do not match; try again.\n');
          this.newPassword(user, purpose);
          return;
        }
        this.track(
          { kind: 'busy', interruptible: false, changes: true },
          () => this.options.accounts.setPassword(user, password),
          () => {
            this.logger.info('console password set', { user, reason: purpose });
            this.write('Password set.\n');
            if (purpose === 'first-boot') {
              this.backoff.reset();
              this.enterShell(user);
            } else this.shellPrompt(user);
          },
          (error) => {
            this.write(`Error: the password could not be stored: ${describeCommandError(error)}\n`);
            if (purpose === 'first-boot') this.showBanner();
            else this.shellPrompt(user);
          },
        );
        return;
      }
      case 'shell':
        this.runLine(state.user, line);
        return;
      case 'paste':
        this.pasteLine(state, line);
        return;
      case 'confirm': {
        const { user, action } = state;
        if (!/^(y|yes)$/i.test(line.trim())) {
          this.write(`Not confirmed: no ${action}.\n`);
          this.shellPrompt(user);
          return;
        }
        this.powerAction(user, action);
        return;
      }
      case 'stopped':
      case 'banner':
      case 'locked':
      case 'busy':
        return;
    }
  }

  private runLine(user: string, line: string): void {
    const action = parseConsoleLine(line);
    switch (action.kind) {
      case 'empty':
        this.shellPrompt(user);
        return;
      case 'error':
        this.write(`Error: ${action.message}\n`);
        this.shellPrompt(user);
        return;
      case 'help':
        this.write(action.text);
        this.shellPrompt(user);
        return;
      case 'antctl': {
        const { command } = action;
        if (command.kind === 'apply') {
          this.write(`Paste the manifest; ${PASTE_END_HINT}. Ctrl-C cancels.\n`);
          this.state = { kind: 'paste', user, command, lines: [], bytes: 0 };
          this.editor.prompt('', { history: false });
          return;
        }
        this.command(user, command.kind === 'delete', () => this.antctl(command, ''));
        return;
      }
      case 'label':
        this.command(user, true, async () => {
          const current = await this.options.labels.podLabels(action.namespace, action.name);
          if (current === undefined)
            throw new ConsoleCommandError(`pod ${action.namespace}/${action.name} not found`);
          const merged = mergeLabels(current, action);
          if ('error' in merged) throw new ConsoleCommandError(merged.error);
          const { setPodLabels } = this.options.backend;
          if (setPodLabels === undefined)
            throw new ConsoleCommandError('this agent does not accept label changes');
          await setPodLabels.call(this.options.backend, action.namespace, action.name, merged.labels);
          return [...merged.notes, `pod/${action.name} labeled`].join('\n') + '\n';
        });
        return;
      case 'show system':
        this.command(user, false, async () =>
          renderSystem(await this.options.host.system(), this.options, action.output),
        );
        return;
      case 'show interfaces':
        this.command(user, false, async () =>
          renderInterfaces(await this.options.host.interfaces(), this.options.board, action.output),
        );
        return;
      case 'passwd':
        this.state = { kind: 'current-password', user };
        this.editor.prompt('Current password: ', { echo: false, history: false });
        return;
      case 'reboot':
      case 'shutdown': {
        this.state = { kind: 'confirm', user, action: action.kind };
        const what =
          action.kind === 'reboot' ? `Reboot ${this.hostname} now?` : `Power ${this.hostname} off now?`;
        this.editor.prompt(`${what} [y/N] `, { history: false });
        return;
      }
      case 'logout':
        this.logout('Logged out.');
        return;
    }
  }

  private antctl(command: RunnableCommand, manifest: string): Promise<string> {
    return runCommand(command, this.options.backend, {
      antctlVersion: this.options.firmwareVersion,
      readManifest: () => Promise.resolve(manifest),
    }).then((output) => output.stdout + output.stderr);
  }

  private powerAction(user: string, action: 'reboot' | 'shutdown'): void {
    const { power, board } = this.options;
    if (power.simulated) {
      this.write(`This is the ${board.name} board: the ${action} is simulated and nothing was done.\n`);
      this.shellPrompt(user);
      return;
    }
    this.logger.warn(`console ${action} requested`, { user });
    this.write(action === 'reboot' ? 'Rebooting...\n' : 'Powering off...\n');
    this.track(
      { kind: 'busy', user, interruptible: false, changes: true },
      () => (action === 'reboot' ? power.reboot() : power.shutdown()),
      () => this.shellPrompt(user),
      (error) => {
        this.write(`Error: ${action} failed: ${describeCommandError(error)}\n`);
        this.shellPrompt(user);
      },
    );
  }

  // ------------------------------------------------------------------------------------------------
  // Paste mode

  private pasteLine(state: Extract<State, { kind: 'paste' }>, line: string): void {
    // A line after a `---` line: that one separated two documents.
    state.separatorWait?.();
    state.separatorWait = undefined;
    if (line === '.') {
      this.finishPaste(state);
      return;
    }
    state.bytes += line.length + 1;
    if (state.bytes > this.limits.maxPasteBytes) {
      this.write(
        `Error: the manifest is larger than ${this.limits.maxPasteBytes} bytes; nothing was applied\n`,
      );
      this.shellPrompt(state.user);
      return;
    }
    state.lines.push(line);
    if (line.trimEnd() === '---') {
      state.separatorWait = this.options.timers.after(this.limits.pasteSeparatorWaitMs, () => {
        state.separatorWait = undefined;
        // Half a line typed after the `---`: it was a separator after all.
        if (this.state !== state || this.editor.line !== '') return;
        this.editor.hold();
        this.finishPaste(state);
      });
    }
    this.editor.prompt('', { history: false });
  }

  private finishPaste(state: Extract<State, { kind: 'paste' }>): void {
    state.separatorWait?.();
    const lines = [...state.lines];
    while (lines.length > 0 && /^(---\s*)?$/.test(lines[lines.length - 1] ?? '')) lines.pop();
    if (lines.length === 0) {
      this.write('Nothing was pasted; nothing was applied.\n');
      this.shellPrompt(state.user);
      return;
    }
    const manifest = `${lines.join('\n')}\n`;
    this.command(state.user, true, () => this.antctl(state.command, manifest));
  }

  // ------------------------------------------------------------------------------------------------
  // Keys

  private onInterrupt(): void {
    const state = this.state;
    switch (state.kind) {
      case 'busy':
        if (!state.interruptible || state.user === undefined) return;
        this.epoch++;
        this.write(
          state.changes
            ? '^C\nCancelled: the console stopped waiting; the change may still complete in the agent.\n'
            : '^C\nCancelled.\n',
        );
        this.shellPrompt(state.user);
        return;
      case 'paste':
        state.separatorWait?.();
        this.write('Cancelled: nothing was applied.\n');
        this.shellPrompt(state.user);
        return;
      case 'confirm':
        this.write(`Cancelled: no ${state.action}.\n`);
        this.shellPrompt(state.user);
        return;
      case 'current-password':
        this.write('passwd: cancelled; the password is unchanged\n');
        this.shellPrompt(state.user);
        return;
      case 'new-password':
      case 'confirm-password':
        if (state.purpose === 'passwd') {
          this.write('passwd: cancelled; the password is unchanged\n');
          this.shellPrompt(state.user);
        } else this.loginPrompt();
        return;
      case 'shell':
        this.shellPrompt(state.user);
        return;
      case 'login':
      case 'password':
        this.loginPrompt();
        return;
      case 'stopped':
      case 'banner':
      case 'locked':
        return;
    }
  }

  private onEndOfInput(): void {
    const state = this.state;
    switch (state.kind) {
      case 'shell':
        this.write('logout\n');
        this.logout('Logged out.');
        return;
      case 'paste':
        this.write('\n');
        this.finishPaste(state);
        return;
      case 'login':
        this.write('\n');
        this.loginPrompt();
        return;
      default:
        this.write('\n');
        this.onInterrupt();
    }
  }

  // ------------------------------------------------------------------------------------------------
  // Transitions

  private showBanner(): void {
    this.epoch++;
    this.cancelTimers();
    const epoch = this.epoch;
    this.state = { kind: 'banner' };
    this.editor.hold();
    const work = this.banner().then(
      (text) => {
        if (epoch !== this.epoch) return;
        this.write(text);
        this.loginPrompt();
      },
      (error: unknown) => {
        if (epoch !== this.epoch) return;
        this.logger.warn('console banner failed', { error });
        this.write('\nantrea-edge\n\n');
        this.loginPrompt();
      },
    );
    this.keep(work);
  }

  private async banner(): Promise<string> {
    const { host, backend, board, firmwareVersion, timers } = this.options;
    const [system, interfaces, status, notes] = await Promise.all([
      host.system().catch(() => undefined),
      host.interfaces().catch(() => [] as HostInterface[]),
      withTimeout(timers, this.limits.bannerStatusTimeoutMs, backend.agentInfo()).then(
        (info) =>
          info === undefined
            ? 'unknown (the agent did not answer in time)'
            : `${info.status}, ${info.localPods} local pod${info.localPods === 1 ? '' : 's'}, ${info.networkPolicies} network polic${info.networkPolicies === 1 ? 'y' : 'ies'}`,
        (error: unknown) => `unknown (${describeCommandError(error)})`,
      ),
      this.options.bannerNotes === undefined
        ? ([] as readonly string[])
        : withTimeout(timers, this.limits.bannerStatusTimeoutMs, this.options.bannerNotes()).then(
            (lines) => lines ?? [],
            () => [] as readonly string[],
          ),
    ]);
    if (system !== undefined) this.hostname = system.hostname;
    const management = board.nics.filter((nic) => nic.role === 'management').map((nic) => nic.name);
    const managementIps = interfaces
      .filter((entry) => management.includes(entry.name))
      .flatMap((entry) => entry.addresses.map((address) => `${address} (${entry.name})`));
    return [
      '',
      `antrea-edge ${firmwareVersion} on ${this.hostname} - ${board.model}`,
      `Management IP: ${managementIps.length > 0 ? managementIps.join(', ') : 'none'}`,
      `Node status:   ${status}`,
      ...notes,
      '',
      '',
    ].join('\n');
  }

  private loginPrompt(): void {
    this.state = { kind: 'login' };
    this.editor.prompt(`${this.hostname} login: `, { history: false });
  }

  private loginFailed(message: string): void {
    const delay = this.backoff.fail();
    this.write(`${message}\n`);
    this.state = { kind: 'locked' };
    this.editor.hold();
    this.lockTimer = this.options.timers.after(delay, () => {
      this.lockTimer = undefined;
      if (this.state.kind !== 'locked') return;
      // What was typed while locked is not a login attempt.
      this.editor.discardInput();
      this.write('\n');
      this.loginPrompt();
    });
  }

  private newPassword(user: string, purpose: PasswordPurpose): void {
    this.state = { kind: 'new-password', user, purpose };
    this.editor.prompt('New password: ', { echo: false, history: false });
  }

  private passwordProblem(user: string, password: string): string | undefined {
    const length = Array.from(password).length;
    if (length < this.limits.minPasswordLength)
      return `The password is too short: at least ${this.limits.minPasswordLength} characters.`;
    if (length > this.limits.maxPasswordLength)
      return `The password is too long: at most ${this.limits.maxPasswordLength} characters.`;
    if (password === user) return 'The password must not be the user name.';
    return undefined;
  }

  private enterShell(user: string): void {
    this.write(`Logged in as ${user}. Type "help" for the commands.\n`);
    this.refreshNames();
    this.shellPrompt(user);
  }

  private shellPrompt(user: string): void {
    this.state = { kind: 'shell', user };
    this.editor.prompt(`${user}@${this.hostname}> `);
  }

  private enterShellOrLogin(): void {
    const user = this.user;
    if (user !== undefined) this.shellPrompt(user);
    else this.loginPrompt();
  }

  private logout(message: string): void {
    const user = this.user;
    this.logger.info('console logout', { user, reason: message });
    this.write(`${message}\n`);
    this.showBanner();
  }

  private armIdleTimer(): void {
    this.idleTimer?.();
    this.idleTimer = this.options.timers.after(this.limits.idleTimeoutMs, () => this.onIdle());
  }

  private onIdle(): void {
    this.idleTimer = undefined;
    const state = this.state;
    if (state.kind === 'busy' && state.user !== undefined) {
      this.armIdleTimer();
      return;
    }
    const minutes = Math.round(this.limits.idleTimeoutMs / 60_000);
    const idle = `Idle for ${minutes} minute${minutes === 1 ? '' : 's'}`;
    if (this.user !== undefined) {
      this.editor.hold();
      this.write('\n');
      this.logout(`${idle}: logged out.`);
    } else if (
      state.kind === 'password' ||
      state.kind === 'new-password' ||
      state.kind === 'confirm-password'
    ) {
      this.editor.hold();
      this.write(`\n${idle}: login cancelled.\n`);
      this.loginPrompt();
    }
  }

  private cancelTimers(): void {
    this.idleTimer?.();
    this.idleTimer = undefined;
    this.lockTimer?.();
    this.lockTimer = undefined;
    if (this.state.kind === 'paste') this.state.separatorWait?.();
  }

  // ------------------------------------------------------------------------------------------------
  // Async work

  /** Runs a shell command: its text is printed, errors as `Error: ...`; Ctrl-C stops waiting for it. */
  private command(user: string, changes: boolean, work: () => Promise<string>): void {
    this.track(
      { kind: 'busy', user, interruptible: true, changes },
      work,
      (text) => {
        this.write(text);
        this.refreshNames();
        this.shellPrompt(user);
      },
      (error) => {
        this.write(`Error: ${describeCommandError(error)}\n`);
        this.shellPrompt(user);
      },
    );
  }

  /**
   * Enters `busy`, runs the work and hands its outcome to the callbacks unless the session moved on meanwhile
   * (Ctrl-C, idle logout, stop). Unexpected failures of the login checks end at the login prompt.
   */
  private track<T>(
    busy: Extract<State, { kind: 'busy' }>,
    work: () => Promise<T>,
    done: (value: T) => void,
    failed?: (error: unknown) => void,
  ): void {
    const epoch = ++this.epoch;
    this.state = busy;
    this.editor.hold();
    let promise: Promise<T>;
    try {
      promise = work();
    } catch (error) {
      promise = Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    const settled = promise.then(
      (value) => {
        if (epoch === this.epoch) done(value);
      },
      (error: unknown) => {
        if (epoch !== this.epoch) return;
        if (failed !== undefined) failed(error);
        else {
          this.logger.error('console check failed', { error });
          this.write('The check failed; try again.\n');
          this.loginPrompt();
        }
      },
    );
    this.keep(settled);
  }

  private keep(promise: Promise<unknown>): void {
    const guarded = promise.catch((error: unknown) => {
      this.logger.error('console session handler failed', { error });
    });
    this.inflight.add(guarded);
    void guarded.finally(() => this.inflight.delete(guarded));
  }

  private refreshNames(): void {
    const { backend } = this.options;
    const work = Promise.all([
      backend.podInterfaces({}),
      backend.networkPolicies === undefined ? Promise.resolve([]) : backend.networkPolicies({}),
    ]).then(
      ([pods, policies]) => {
        this.names = {
          pods: [...new Set(pods.map((pod) => `${pod.namespace}/${pod.name}`))].sort(),
          policies: [...new Set(policies.map((policy) => policy.sourceRef.name))].sort(),
        };
      },
      (error: unknown) => this.logger.debug('console completion names not refreshed', { error }),
    );
    this.keep(work);
  }

  private write(text: string): void {
    this.options.write(terminalText(text));
  }
}

/** A command failure worded for the console (no HTTP or API code involved). */
export class ConsoleCommandError extends Error {
  override readonly name = 'ConsoleCommandError';
  readonly code = 'ConsoleCommandFailed';
}

/**
 * Text for a terminal: CR LF line ends, and no control characters other than tab, so that names from a pasted
 * manifest cannot send escape sequences to the technician's terminal.
 */
export function terminalText(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]/g, '?').replace(/\n/g, '\r\n');
}

function withTimeout<T>(timers: ConsoleTimers, ms: number, promise: Promise<T>): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    const cancel = timers.after(ms, () => resolve(undefined));
    promise.then(
      (value) => {
        cancel();
        resolve(value);
      },
      (error: unknown) => {
        cancel();
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

// ------------------------------------------------------------------------------------------------
// show system / show interfaces

function renderSystem(
  facts: SystemFacts,
  options: Pick<ConsoleSessionOptions, 'board' | 'firmwareVersion'>,
  output: OutputKind,
): string {
  const data = {
    board: options.board.name,
    model: options.board.model,
    hostname: facts.hostname,
    firmwareVersion: options.firmwareVersion,
    cpuTemperatureC: facts.cpuTemperatureC ?? null,
    memory: { totalBytes: facts.memoryTotalBytes, availableBytes: facts.memoryAvailableBytes },
    loadAverage: [...facts.loadAverage],
    uptimeSeconds: Math.round(facts.uptimeSeconds),
  };
  if (output !== 'table') return formatOutput(output, data, () => ({ columns: [], rows: [] }));
  const used = facts.memoryTotalBytes - facts.memoryAvailableBytes;
  const percent = facts.memoryTotalBytes > 0 ? Math.round((used / facts.memoryTotalBytes) * 100) : 0;
  const rows: [string, string][] = [
    ['Board', `${options.board.model} (${options.board.name})`],
    ['Hostname', facts.hostname],
    ['Firmware', `antrea-edge ${options.firmwareVersion}`],
    [
      'CPU temperature',
      facts.cpuTemperatureC === undefined ? 'n/a (no sensor)' : `${facts.cpuTemperatureC.toFixed(1)} °C`,
    ],
    ['Memory', `${formatBytes(used)} used of ${formatBytes(facts.memoryTotalBytes)} (${percent}%)`],
    ['Load average', facts.loadAverage.map((load) => load.toFixed(2)).join(' ')],
    ['Uptime', formatDuration(facts.uptimeSeconds)],
  ];
  return rows.map(([key, value]) => `${`${key}:`.padEnd(17)}${value}\n`).join('');
}

function renderInterfaces(
  interfaces: readonly HostInterface[],
  board: BoardInfo,
  output: OutputKind,
): string {
  const byName = new Map(interfaces.map((entry) => [entry.name, entry]));
  const rows = [
    ...board.nics.map((nic) => {
      const found = byName.get(nic.name);
      return {
        name: nic.name,
        role: nic.role,
        linkState: found?.linkState ?? 'absent',
        mac: found?.mac ?? '',
        addresses: [...(found?.addresses ?? [])],
        description: nic.description ?? '',
      };
    }),
    ...interfaces
      .filter((entry) => !board.nics.some((nic) => nic.name === entry.name))
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((entry) => ({
        name: entry.name,
        role: '',
        linkState: entry.linkState,
        mac: entry.mac ?? '',
        addresses: [...entry.addresses],
        description: '',
      })),
  ];
  const table = (): TableData => ({
    columns: ['NAME', 'ROLE', 'LINK', 'MAC', 'ADDRESSES'],
    rows: rows.map((row) => [row.name, row.role, row.linkState, row.mac, row.addresses.join(',')]),
  });
  return output === 'table' ? formatTable(table().columns, table().rows) : formatOutput(output, rows, table);
}

function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit] ?? ''}`;
}

function formatDuration(seconds: number): string {
  const total = Math.max(0, Math.floor(seconds));
  const days = Math.floor(total / 86_400);
  const hours = Math.floor((total % 86_400) / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  if (days > 0) return `${days}d ${hours}h ${minutes}m`;
  if (hours > 0) return `${hours}h ${minutes}m`;
  return `${minutes}m ${total % 60}s`;
}
