/** Backoff settings of the model client's retries. */
export interface BackoffOptions {
  /** Upper bound of the first wait; doubles per attempt. */
  baseMs: number;
  /** Upper bound of any wait. */
  maxMs: number;
}

/** Full-jitter backoff: a uniformly random wait in [0, min(max, base * 2^attempt)). */
export function fullJitterMs(attempt: number, opts: BackoffOptions, random = Math.random): number {
  const ceiling = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.max(0, attempt));
  return Math.floor(random() * ceiling);
}

/** Headers as the fetch API and the `openai` client expose them. */
interface HeaderSource {
  get(name: string): string | null;
}

/**
 * The wait an endpoint asks for, in ms: `retry-after-ms` (OpenAI), else `Retry-After` in
 * seconds or as an HTTP date (RFC 9110 §10.2.3). Undefined when absent or unreadable; never
 * negative (a date in the past means now).
 */
export function retryAfterMs(
  headers: HeaderSource | undefined,
  now = Date.now(),
): number | undefined {
  if (!headers) return undefined;
  const ms = headers.get('retry-after-ms');
  if (ms !== null && /^\s*\d+(\.\d+)?\s*$/.test(ms)) return Math.ceil(Number(ms));
  const value = headers.get('retry-after')?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.ceil(Number(value) * 1000);
  // An HTTP date has a day and month name; Date.parse alone takes '-1' for year -1.
  const date = /[a-z]{3}/i.test(value) ? Date.parse(value) : NaN;
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
