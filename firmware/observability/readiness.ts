// What /readyz reports: named checks that components add as they are built. A check answers undefined when it
// passes, or why it fails; the firmware is ready when every check passes.

/** Undefined: passing; otherwise the reason it fails, for the /readyz body. */
export type ReadinessCheck = () => string | undefined;

export interface ReadinessReport {
  ready: boolean;
  /** Every check by name: "ok" or why it fails. */
  checks: Record<string, string>;
}

export class ReadinessError extends Error {
  override readonly name = 'ReadinessError';
  constructor(
    readonly code: 'DUPLICATE_CHECK',
    message: string,
  ) {
    super(message);
  }
}

export class Readiness {
  private readonly checks = new Map<string, ReadinessCheck>();

  add(name: string, check: ReadinessCheck): void {
    if (this.checks.has(name)) {
      throw new ReadinessError('DUPLICATE_CHECK', `readiness check "${name}" is already registered`);
    }
    this.checks.set(name, check);
  }

  report(): ReadinessReport {
    const checks: Record<string, string> = {};
    let ready = true;
    for (const [name, check] of this.checks) {
      let failure: string | undefined;
      try {
        failure = check();
      } catch (error) {
        failure = `check failed: ${error instanceof Error ? error.message : String(error)}`;
      }
      checks[name] = failure ?? 'ok';
      if (failure !== undefined) ready = false;
    }
    return { ready, checks };
  }
}
