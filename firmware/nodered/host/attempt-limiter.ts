// Counts attempts per client (remote address) in a fixed window and refuses more than allowed: slows password
// and setup-token guessing over HTTP. Bounded memory: expired windows are dropped, and past `maxKeys` clients
// the oldest window goes first.

export interface AttemptLimiterOptions {
  /** Attempts allowed per window and client. */
  maxAttempts: number;
  windowMs: number;
  /** Clients tracked at most. */
  maxKeys?: number;
}

interface Window {
  startedAt: number;
  attempts: number;
}

export class AttemptLimiter {
  private readonly windows = new Map<string, Window>();

  constructor(private readonly options: AttemptLimiterOptions) {}

  /** 0 when `key` may try now, otherwise how many ms until it may. */
  retryAfterMs(key: string, now: number): number {
    const window = this.current(key, now);
    if (window === undefined || window.attempts < this.options.maxAttempts) return 0;
    return Math.max(1, window.startedAt + this.options.windowMs - now);
  }

  record(key: string, now: number): void {
    const window = this.current(key, now);
    if (window !== undefined) {
      window.attempts++;
      return;
    }
    this.prune(now);
    this.windows.set(key, { startedAt: now, attempts: 1 });
  }

  /** Forgets the client's attempts (after it succeeded). */
  reset(key: string): void {
    this.windows.delete(key);
  }

  private current(key: string, now: number): Window | undefined {
    const window = this.windows.get(key);
    if (window === undefined) return undefined;
    if (now - window.startedAt >= this.options.windowMs) {
      this.windows.delete(key);
      return undefined;
    }
    return window;
  }

  private prune(now: number): void {
    const maxKeys = this.options.maxKeys ?? 1024;
    if (this.windows.size < maxKeys) return;
    for (const [key, window] of this.windows) {
      if (now - window.startedAt >= this.options.windowMs) this.windows.delete(key);
    }
    // Map order is insertion order: the first entries are the oldest windows.
    for (const key of this.windows.keys()) {
      if (this.windows.size < maxKeys) break;
      this.windows.delete(key);
    }
  }
}
