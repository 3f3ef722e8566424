// The serial console service: opens the board's console device (8N1 at the profile's baud rate) and runs one
// ConsoleSession per opening. When the device goes away (USB unplugged, the pty's other side closed) the session
// ends and the device is reopened with capped back-off; the agent keeps enforcing policy all the while.
import { SerialPort } from 'serialport';
import type { Logger } from '../core/logger';

/** What the service needs of a serial port (serialport's SerialPort and SerialPortStream both fit). */
export interface SerialPortLike {
  open(callback: (error: Error | null) => void): void;
  write(data: Uint8Array): boolean;
  close(callback?: (error?: Error | null) => void): void;
  readonly isOpen: boolean;
  on(event: 'data', listener: (chunk: Buffer) => void): this;
  on(event: 'close', listener: (error?: Error | null) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  removeAllListeners(): this;
}

export interface SerialPortSettings {
  path: string;
  baudRate: number;
  dataBits: 8;
  parity: 'none';
  stopBits: 1;
}

/** The part of a ConsoleSession the service drives. */
export interface SerialSession {
  start(): void;
  input(bytes: Uint8Array): void;
  stop(): void;
}

export interface SerialConsoleOptions {
  device: string;
  baudRate: number;
  logger: Logger;
  /** A new session for each opening of the device; `write` sends terminal text to it. */
  createSession(write: (text: string) => void): SerialSession;
  /** Default: serialport's SerialPort (not opened yet). */
  createPort?(settings: SerialPortSettings): SerialPortLike;
  /** Reopen delays: initialMs doubling up to maxMs. */
  retry?: { initialMs: number; maxMs: number };
}

export type SerialConsoleState = 'stopped' | 'opening' | 'open' | 'waiting';

const DEFAULT_RETRY = { initialMs: 500, maxMs: 10_000 };

export class SerialConsole {
  private state: SerialConsoleState = 'stopped';
  private port: SerialPortLike | undefined;
  private session: SerialSession | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private lastError: string | undefined;
  private openings = 0;

  constructor(private readonly options: SerialConsoleOptions) {}

  get currentState(): SerialConsoleState {
    return this.state;
  }

  /** How many times the device was opened (a reopen after unplugging counts again). */
  get openCount(): number {
    return this.openings;
  }

  start(): void {
    if (this.state !== 'stopped') return;
    this.open();
  }

  async stop(): Promise<void> {
    this.state = 'stopped';
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.session?.stop();
    this.session = undefined;
    const port = this.port;
    this.port = undefined;
    if (port?.isOpen) {
      await new Promise<void>((resolve) => port.close(() => resolve()));
    }
    port?.removeAllListeners();
  }

  private open(): void {
    this.state = 'opening';
    const { device, baudRate } = this.options;
    const settings: SerialPortSettings = { path: device, baudRate, dataBits: 8, parity: 'none', stopBits: 1 };
    let port: SerialPortLike;
    try {
      port = (this.options.createPort ?? createSerialPort)(settings);
    } catch (error) {
      this.openFailed(error);
      return;
    }
    this.port = port;
    // Errors after open arrive here; 'close' decides what happens next.
    port.on('error', (error) =>
      this.options.logger.debug('console device error', { device, error: error.message }),
    );
    port.open((error) => {
      if (this.port !== port || this.state !== 'opening') {
        if (!error) port.close();
        return;
      }
      if (error) {
        port.removeAllListeners();
        this.port = undefined;
        this.openFailed(error);
        return;
      }
      this.opened(port);
    });
  }

  private opened(port: SerialPortLike): void {
    const { device, baudRate, logger } = this.options;
    this.state = 'open';
    this.openings++;
    if (this.failures > 0)
      logger.info('console device is back', { device, after: `${this.failures} attempts` });
    else logger.info('console open', { device, baudRate });
    this.failures = 0;
    this.lastError = undefined;
    const session = this.options.createSession((text) => {
      if (this.port === port && port.isOpen) port.write(Buffer.from(text, 'utf8'));
    });
    this.session = session;
    port.on('data', (chunk) => {
      if (this.session === session) session.input(chunk);
    });
    port.on('close', (error) => {
      if (this.port !== port) return;
      session.stop();
      this.session = undefined;
      this.port = undefined;
      port.removeAllListeners();
      if (this.state === 'stopped') return;
      logger.warn('console device closed; reopening it when it is back', {
        device,
        reason: error?.message ?? 'closed',
      });
      this.scheduleOpen(this.options.retry?.initialMs ?? DEFAULT_RETRY.initialMs);
    });
    session.start();
  }

  private openFailed(error: unknown): void {
    const { device, logger } = this.options;
    if (this.state === 'stopped') return;
    this.failures++;
    const message = error instanceof Error ? error.message : String(error);
    const retry = this.options.retry ?? DEFAULT_RETRY;
    const delay = Math.min(retry.maxMs, retry.initialMs * 2 ** Math.min(this.failures - 1, 20));
    // One warning per distinct problem; the retries themselves are debug noise.
    if (message !== this.lastError) {
      logger.warn('console device cannot be opened; retrying (the agent keeps enforcing policy)', {
        device,
        error: message,
        retryInMs: delay,
      });
    } else
      logger.debug('console device still cannot be opened', { device, error: message, retryInMs: delay });
    this.lastError = message;
    this.scheduleOpen(delay);
  }

  private scheduleOpen(delayMs: number): void {
    this.state = 'waiting';
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.state === 'waiting') this.open();
    }, delayMs);
    this.retryTimer.unref();
  }
}

function createSerialPort(settings: SerialPortSettings): SerialPortLike {
  return new SerialPort({ ...settings, autoOpen: false });
}
