// Typed failures of agent queries. Each edge (HTTP, console) maps `code` to its own vocabulary in one place.

export type ApiErrorCode = 'NotFound' | 'BadRequest' | 'Unavailable';

const API_ERROR_CODES: readonly ApiErrorCode[] = ['NotFound', 'BadRequest', 'Unavailable'];

export class ApiError extends Error {
  override readonly name = 'ApiError';

  constructor(
    readonly code: ApiErrorCode,
    message: string,
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
