// systemd's readiness and watchdog protocol (sd_notify(3)) for `Type=notify` + `WatchdogSec=`: READY=1 once the
// firmware enforces policy, WATCHDOG=1 at half the watchdog interval while the event loop runs, STOPPING=1 on
// the way down. Outside systemd (no NOTIFY_SOCKET) every call does nothing.
//
// The protocol is datagrams of `KEY=value` lines on the AF_UNIX SOCK_DGRAM socket named by NOTIFY_SOCKET. Node.js
// has no unix datagram sockets (net connects only to stream sockets, dgram is UDP only), so the datagram itself
// is sent by systemd's own `systemd-notify --pid=<our pid>`: as root it stamps the datagram's SCM_CREDENTIALS
// with our pid, which is how systemd attributes the message to the service's main process even after the helper
// has exited. Everything else — which messages, when, the watchdog schedule — lives here.
import { execFile } from 'node:child_process';
import type { Logger } from '../core/logger';

/** Sends one notification datagram (its `KEY=value` lines) to the socket, attributed to `pid`. */
export interface NotifyTransport {
  send(socketPath: string, pid: number, lines: readonly string[]): Promise<void>;
}

export class SdNotifyError extends Error {
  readonly code = 'SdNotifyFailed';
}

/** The transport of the appliance: systemd's `systemd-notify` executable. */
export class SystemdNotifyCommand implements NotifyTransport {
  constructor(private readonly options: { command?: string; timeoutMs?: number } = {}) {}

  send(socketPath: string, pid: number, lines: readonly string[]): Promise<void> {
    const command = this.options.command ?? 'systemd-notify';
    return new Promise((resolve, reject) => {
      execFile(
        command,
        // --no-block: no BARRIER=1 round trip after each message (systemd-notify waits up to 5 s for it).
        [`--pid=${pid}`, '--no-block', ...lines],
        {
          env: { PATH: process.env.PATH ?? '/usr/bin:/bin', NOTIFY_SOCKET: socketPath },
          timeout: this.options.timeoutMs ?? 5000,
        },
        (error, _stdout, stderr) => {
          if (error) reject(new SdNotifyError(`${command} failed: ${stderr.trim() || error.message}`));
          else resolve();
        },
      );
    });
  }
}

export interface SdNotifyTimers {
  setInterval(callback: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

const nodeTimers: SdNotifyTimers = {
  setInterval: (callback, ms) => {
    const handle = setInterval(callback, ms);
    // The watchdog alone must not keep the process alive.
    handle.unref();
    return handle;
  },
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout),
};

export interface SdNotifyOptions {
  /** NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID are read from here (normally process.env). */
  env: Readonly<Record<string, string | undefined>>;
  /** This process's pid (the service's main pid). */
  pid: number;
  transport: NotifyTransport;
  logger: Logger;
  timers?: SdNotifyTimers;
}

/** The interval of WATCHDOG=1 pings: half of WATCHDOG_USEC, when the watchdog is meant for this process. */
export function watchdogPingIntervalMs(env: SdNotifyOptions['env'], pid: number): number | undefined {
  const usec = Number(env.WATCHDOG_USEC);
  if (env.WATCHDOG_USEC === undefined || !Number.isInteger(usec) || usec <= 0) return undefined;
  if (env.WATCHDOG_PID !== undefined && Number(env.WATCHDOG_PID) !== pid) return undefined;
  return Math.max(1, Math.floor(usec / 2000));
}

export class SdNotify {
  private watchdog: unknown;
  private pingInFlight = false;
  private readonly timers: SdNotifyTimers;

  constructor(private readonly options: SdNotifyOptions) {
    this.timers = options.timers ?? nodeTimers;
  }

  /** True when systemd waits for our notifications (started as a notify service). */
  get enabled(): boolean {
    return this.socketPath !== undefined;
  }

  /** Milliseconds between watchdog pings, or undefined without a watchdog. */
  get watchdogIntervalMs(): number | undefined {
    return this.enabled ? watchdogPingIntervalMs(this.options.env, this.options.pid) : undefined;
  }

  private get socketPath(): string | undefined {
    const socket = this.options.env.NOTIFY_SOCKET;
    return socket === undefined || socket === '' ? undefined : socket;
  }

  /** Starts the watchdog pings (if systemd asked for them). */
  start(): void {
    const interval = this.watchdogIntervalMs;
    if (interval === undefined || this.watchdog !== undefined) return;
    this.watchdog = this.timers.setInterval(() => this.ping(), interval);
    this.options.logger.info('systemd watchdog pings started', { intervalMs: interval });
  }

  /** Tells systemd the service is ready, with a status line for `systemctl status`. */
  ready(status: string): Promise<void> {
    return this.notify(['READY=1', `STATUS=${oneLine(status)}`]);
  }

  status(text: string): Promise<void> {
    return this.notify([`STATUS=${oneLine(text)}`]);
  }

  /** Tells systemd the service is shutting down, and stops the pings. */
  stopping(status = 'stopping'): Promise<void> {
    this.stop();
    return this.notify(['STOPPING=1', `STATUS=${oneLine(status)}`]);
  }

  stop(): void {
    if (this.watchdog === undefined) return;
    this.timers.clearInterval(this.watchdog);
    this.watchdog = undefined;
  }

  /** One WATCHDOG=1; skipped while the previous one is still being sent, so a slow helper never piles up. */
  private ping(): void {
    if (this.pingInFlight) return;
    this.pingInFlight = true;
    this.notify(['WATCHDOG=1']).then(
      () => {
        this.pingInFlight = false;
      },
      () => {
        this.pingInFlight = false;
      },
    );
  }

  /** Sends the lines; failures are logged, never thrown: systemd's view must not stop the firmware. */
  private async notify(lines: string[]): Promise<void> {
    const socket = this.socketPath;
    if (socket === undefined) return;
    try {
      await this.options.transport.send(socket, this.options.pid, lines);
    } catch (error) {
      this.options.logger.warn('sd_notify failed', { error, message: lines.join(' ') });
    }
  }
}

function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}
