// Typed errors of the OVSDB client. Callers branch on `code`, never on message text.

export type OvsdbErrorCode = 'OVSDB_CONNECTION' | 'OVSDB_RPC' | 'OVSDB_TRANSACTION' | 'OVSDB_TIMEOUT';

export abstract class OvsdbError extends Error {
  abstract readonly code: OvsdbErrorCode;
}

/** Not connected, the connection dropped while a request was pending, or the client was stopped. */
export class OvsdbConnectionError extends OvsdbError {
  override readonly name = 'OvsdbConnectionError';
  readonly code = 'OVSDB_CONNECTION';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The JSON-RPC response carried a non-null `error` member (e.g. unknown database, malformed request). */
export class OvsdbRpcError extends OvsdbError {
  override readonly name = 'OvsdbRpcError';
  readonly code = 'OVSDB_RPC';
  /** ovsdb-server's short error tag, e.g. "unknown database" (the `error` member, or its `error` field). */
  readonly error: string;
  readonly details: string | undefined;

  constructor(
    readonly method: string,
    /** The `error` member exactly as received. */
    readonly rpcError: unknown,
  ) {
    const { error, details } = describeErrorMember(rpcError);
    super(`OVSDB ${method} failed: ${error}${details ? ` (${details})` : ''}`);
    this.error = error;
    this.details = details;
  }
}

/**
 * A transaction that ovsdb-server executed but that did not commit. RFC 7047 §4.1.3: the result array has
 * one element per operation; the failed one is `{error, details}`, those after it are null. When every
 * operation succeeded but the commit failed (e.g. a referential integrity or constraint violation found at
 * commit time), the array has one extra trailing error element, and `failedIndex === operations.length`.
 */
export class OvsdbTransactionError extends OvsdbError {
  override readonly name = 'OvsdbTransactionError';
  readonly code = 'OVSDB_TRANSACTION';

  constructor(
    /** ovsdb-server's error tag, e.g. "constraint violation", "timed out", "referential integrity violation". */
    readonly error: string,
    readonly details: string | undefined,
    /** Index of the failed operation; equals operations.length for a commit-time error. */
    readonly failedIndex: number,
    /** The failed operation, undefined for a commit-time error. */
    readonly operation: unknown,
    /** The complete result array as received. */
    readonly results: readonly unknown[],
  ) {
    const where =
      operation === undefined ? 'at commit' : `in operation ${failedIndex} (${describeOperation(operation)})`;
    super(`OVSDB transaction failed ${where}: ${error}${details ? `: ${details}` : ''}`);
  }

  get isCommitError(): boolean {
    return this.operation === undefined;
  }

  /** The error in a transact result array, or undefined when every operation succeeded and committed. */
  static fromResults(
    operations: readonly unknown[],
    results: readonly unknown[],
  ): OvsdbTransactionError | undefined {
    for (let i = 0; i < results.length; i++) {
      const result = results[i];
      if (result !== null && typeof result === 'object' && 'error' in result) {
        const { error, details } = describeErrorMember(result);
        return new OvsdbTransactionError(error, details, i, operations[i], results);
      }
    }
    if (results.length < operations.length) {
      // Nulls alone (no error object) would mean "not attempted"; a short array is a protocol violation.
      return new OvsdbTransactionError(
        'malformed response',
        `${results.length} results for ${operations.length} operations`,
        results.length,
        operations[results.length],
        results,
      );
    }
    return undefined;
  }
}

/** A request got no response within its timeout, or the keep-alive echo went unanswered. */
export class OvsdbTimeoutError extends OvsdbError {
  override readonly name = 'OvsdbTimeoutError';
  readonly code = 'OVSDB_TIMEOUT';

  constructor(
    readonly method: string,
    readonly timeoutMs: number,
  ) {
    super(`OVSDB ${method} got no response within ${timeoutMs} ms`);
  }
}

function describeErrorMember(member: unknown): { error: string; details: string | undefined } {
  if (typeof member === 'string') return { error: member, details: undefined };
  if (member !== null && typeof member === 'object') {
    const { error, details } = member as { error?: unknown; details?: unknown };
    return {
      error: typeof error === 'string' ? error : JSON.stringify(error),
      details:
        typeof details === 'string' ? details : details === undefined ? undefined : JSON.stringify(details),
    };
  }
  return { error: JSON.stringify(member), details: undefined };
}

function describeOperation(operation: unknown): string {
  if (operation === null || typeof operation !== 'object') return JSON.stringify(operation);
  const { op, table } = operation as { op?: unknown; table?: unknown };
  return typeof table === 'string' ? `${String(op)} ${table}` : String(op);
}
