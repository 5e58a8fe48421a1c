import { AppError } from '@tracewire/shared';

/** What node-postgres errors carry: a SQLSTATE from the server, or a Node errno code. */
interface PgErrorLike {
  code?: unknown;
  message: string;
}

const sqlState = (err: unknown): string | undefined => {
  if (!(err instanceof Error)) return undefined;
  const code = (err as PgErrorLike).code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
};

/** True when a UNIQUE or PRIMARY KEY constraint refused the write. */
export const isPgUniqueViolation = (err: unknown): boolean => sqlState(err) === '23505';

/** True when a FOREIGN KEY constraint refused the write (the parent row is missing). */
export const isPgForeignKeyViolation = (err: unknown): boolean => sqlState(err) === '23503';

/** Server states that mean "try again later": connection, shutdown, resources, contention. */
function isTransientState(state: string): boolean {
  return (
    state.startsWith('08') || // connection exception
    state.startsWith('53') || // insufficient resources (too many connections, disk full)
    state.startsWith('57P') || // admin/crash shutdown, cannot connect now
    state === '40001' || // serialization failure
    state === '40P01' || // deadlock detected
    state === '55P03' || // lock not available
    state === '57014' // statement timeout / cancelled
  );
}

/** Failures of the connection itself (no SQLSTATE): refused, reset, timed out, closed pool. */
const CONNECTION_TROUBLE =
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENOTFOUND|Connection terminated|timeout|not queryable|Cannot use a pool after calling end|connection error/i;

/**
 * Maps node-postgres failures to the platform's error model: an unreachable, restarting or
 * overloaded server is `UNAVAILABLE` (retryable) with a message that names PostgreSQL;
 * anything else unexpected is `INTERNAL`.
 */
export function pgToAppError(err: unknown): AppError {
  if (AppError.is(err)) return err;
  if (err instanceof Error) {
    const state = sqlState(err);
    const errno = (err as PgErrorLike).code;
    if (
      (state !== undefined && isTransientState(state)) ||
      (state === undefined &&
        ((typeof errno === 'string' && errno.startsWith('E')) ||
          CONNECTION_TROUBLE.test(err.message)))
    ) {
      return new AppError('UNAVAILABLE', `PostgreSQL unavailable: ${err.message}`, { cause: err });
    }
  }
  return AppError.from(err);
}
