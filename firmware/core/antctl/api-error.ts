// Typed failures of agent queries. Each edge (HTTP, console) maps `code` to its own vocabulary in one place.

export type ApiErrorCode = 'NotFound' | 'BadRequest' | 'Unavailable' | 'Conflict';

const API_ERROR_CODES: readonly ApiErrorCode[] = ['NotFound', 'BadRequest', 'Unavailable', 'Conflict'];

/** One problem of a rejected object, as validation reported it. */
export interface InvalidFieldView {
  /** JSON field path, e.g. "spec.ingress[0].ports[0].port". */
  path: string;
  reason: string;
  value?: unknown;
}

/** An object of an apply that was rejected, with every problem found in it. */
export interface InvalidObjectView {
  /** 0-based position of the object in the apply request (`objects[index]`). */
  index: number;
  /** The object key's kind, e.g. K8sNetworkPolicy or ClusterNetworkPolicy. */
  kind: string;
  name: string;
  namespace?: string;
  errors: InvalidFieldView[];
}

/** Machine-readable detail that travels with an error (HTTP body `details`). */
export interface ApiErrorDetails {
  /** How many objects the rejected apply carried. */
  objectCount?: number;
  invalidObjects?: InvalidObjectView[];
}

export class ApiError extends Error {
  override readonly name = 'ApiError';

  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly details?: ApiErrorDetails,
  ) {
    super(message);
  }

  /**
   * The one wording for an unknown `-T` value, so that every AgentQueries implementation tells the
   * user the same thing: what was asked and which tables exist.
   */
  static unknownTable(requested: string, validTables: readonly { name: string; number: number }[]): ApiError {
    const valid = validTables.map((table) => `${table.name} (${table.number})`).join(', ');
    return new ApiError('BadRequest', `unknown table "${requested}": valid tables are ${valid}`);
  }
}

export function isApiErrorCode(value: unknown): value is ApiErrorCode {
  return typeof value === 'string' && (API_ERROR_CODES as readonly string[]).includes(value);
}
