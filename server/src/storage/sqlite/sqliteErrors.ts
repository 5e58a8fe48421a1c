import { AppError } from '@tracewire/shared';

/** better-sqlite3's error shape: `code` is the extended SQLite result code name. */
interface SqliteErrorLike {
  code: string;
  message: string;
}

/** True for any error raised by SQLite (better-sqlite3 `SqliteError`). */
export function isSqliteError(err: unknown): err is SqliteErrorLike {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('SQLITE_');
}

/** True when a UNIQUE or PRIMARY KEY constraint refused the write. */
export const isUniqueViolation = (err: unknown): boolean =>
  isSqliteError(err) &&
  (err.code === 'SQLITE_CONSTRAINT_UNIQUE' || err.code === 'SQLITE_CONSTRAINT_PRIMARYKEY');

/** True when a FOREIGN KEY constraint refused the write (the parent row is missing). */
export const isForeignKeyViolation = (err: unknown): boolean =>
  isSqliteError(err) && err.code === 'SQLITE_CONSTRAINT_FOREIGNKEY';

/**
 * Maps SQLite failures to the platform's error model: lock contention and I/O trouble are
 * retryable (`UNAVAILABLE`), everything else unexpected is `INTERNAL`.
 */
export function toAppError(err: unknown): AppError {
  if (AppError.is(err)) return err;
  if (isSqliteError(err)) {
    const code = err.code;
    if (
      code.startsWith('SQLITE_BUSY') ||
      code.startsWith('SQLITE_LOCKED') ||
      code.startsWith('SQLITE_IOERR') ||
      code === 'SQLITE_FULL' ||
      code.startsWith('SQLITE_CANTOPEN') ||
      code.startsWith('SQLITE_READONLY')
    ) {
      return new AppError('UNAVAILABLE', `storage unavailable: ${err.message}`, { cause: err });
    }
  }
  if (err instanceof TypeError && /database connection is not open/i.test(err.message)) {
    return new AppError('UNAVAILABLE', 'storage is closed', { cause: err });
  }
  return AppError.from(err);
}
