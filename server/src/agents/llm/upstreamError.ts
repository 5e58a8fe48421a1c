import { APIConnectionError, APIError } from 'openai';
import { AgentError } from '../agentError.js';
import { retryAfterMs } from './retry.js';

/**
 * A failed model call, classified: whether another attempt may succeed (`transient`), the
 * wait the endpoint asked for, and the `agent_error` the run ends with if it is not retried.
 */
export interface UpstreamFailure {
  transient: boolean;
  /** From `Retry-After` / `retry-after-ms` on a 429 or 503. */
  retryAfterMs?: number | undefined;
  /** HTTP status, when the endpoint answered with one. */
  status?: number | undefined;
  /** What the run ends with when this failure is final. */
  error: AgentError;
}

/** Thrown by the stream reader for what the `openai` client does not see as an error. */
export class UpstreamProtocolError extends Error {
  override readonly name = 'UpstreamProtocolError';
  readonly transient: boolean;

  constructor(message: string, opts: { transient: boolean }) {
    super(message);
    this.transient = opts.transient;
  }
}

/** Longest piece of an upstream message shown to a client. */
const MAX_REASON = 300;

/** A short, single-line reason from an upstream message (HTML pages are summarised). */
export function upstreamReason(message: string): string {
  if (/<\s*(!doctype|html|head|body)\b/i.test(message)) {
    const title = /<title[^>]*>([^<]*)<\/title>/i.exec(message)?.[1]?.trim();
    return `an HTML error page${title ? ` ("${title}")` : ''}, likely from a proxy`;
  }
  const line = message.replace(/\s+/g, ' ').trim();
  return line.length > MAX_REASON ? `${line.slice(0, MAX_REASON - 1)}…` : line;
}

/**
 * Why a response body stopped arriving, when it was the connection: undici fails a body
 * read with `TypeError: terminated` whose cause is the socket error (ECONNRESET, …).
 */
function connectionLoss(error: unknown): string | null {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^(E[A-Z]+|UND_ERR_\w+)$/.test(code)) return code;
    e = e.cause;
  }
  return error instanceof TypeError && error.message === 'terminated' ? 'terminated' : null;
}

const fail = (
  transient: boolean,
  error: AgentError,
  extra: { status?: number | undefined; retryAfterMs?: number | undefined } = {},
): UpstreamFailure => ({ transient, error, ...extra });

/**
 * Classifies anything a model call threw. The `AgentError`s carry no `cause`: the upstream
 * error may quote the API key (OpenAI's 401 does), and causes are logged. 429 → RATE_LIMITED; 401/403 → MISCONFIGURED
 * (credentials; the upstream text is not repeated, it may echo part of the key); 404 →
 * MISCONFIGURED (URL or model); other 4xx → UPSTREAM_ERROR, final; 5xx, connection errors,
 * stalls and mid-stream error events → UPSTREAM_ERROR, transient.
 */
export function classifyUpstreamError(error: unknown): UpstreamFailure {
  if (error instanceof UpstreamProtocolError) {
    return fail(
      error.transient,
      new AgentError('UPSTREAM_ERROR', `The model endpoint ${error.message}`, {
        retryable: error.transient,
      }),
    );
  }
  if (error instanceof APIConnectionError) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return fail(
      true,
      new AgentError(
        'UPSTREAM_ERROR',
        `Could not reach the model endpoint (${error.message}${cause})`,
        {},
      ),
    );
  }
  if (error instanceof APIError) {
    // The client's generics leave these as `any`.
    const status = error.status as number | undefined;
    const headers = error.headers as Headers | undefined;
    const reason = upstreamReason(error.message.replace(/^\d{3}\s+/, ''));
    if (status === 429) {
      return fail(
        true,
        new AgentError(
          'RATE_LIMITED',
          `The model endpoint is rate limiting requests (429: ${reason})`,
          {},
        ),
        { status, retryAfterMs: retryAfterMs(headers) },
      );
    }
    if (status === 401 || status === 403) {
      return fail(
        false,
        new AgentError(
          'MISCONFIGURED',
          `The model endpoint refused the server's credentials (${status}): check TRACEWIRE_LLM_API_KEY`,
          {},
        ),
        { status },
      );
    }
    if (status === 404) {
      return fail(
        false,
        new AgentError(
          'MISCONFIGURED',
          `The model endpoint does not know this URL or model (404: ${reason}): check TRACEWIRE_LLM_BASE_URL and TRACEWIRE_LLM_MODEL`,
          {},
        ),
        { status },
      );
    }
    if (status !== undefined && status < 500) {
      return fail(
        false,
        new AgentError(
          'UPSTREAM_ERROR',
          `The model endpoint refused the request (${status}: ${reason})`,
          {
            retryable: false,
          },
        ),
        { status },
      );
    }
    // A 5xx, or an error event in the middle of the stream (no status).
    return fail(
      true,
      new AgentError(
        'UPSTREAM_ERROR',
        status === undefined
          ? `The model endpoint reported an error in its stream: ${reason}`
          : `The model endpoint failed (${status}: ${reason})`,
        {},
      ),
      { status, retryAfterMs: retryAfterMs(headers) },
    );
  }
  const lost = connectionLoss(error);
  if (lost) {
    return fail(
      true,
      new AgentError('UPSTREAM_ERROR', `The connection to the model endpoint broke (${lost})`, {}),
    );
  }
  if (error instanceof SyntaxError) {
    return fail(
      false,
      new AgentError(
        'UPSTREAM_ERROR',
        `The model endpoint sent a stream line that is not JSON (${error.message})`,
        {
          retryable: false,
        },
      ),
    );
  }
  return fail(
    false,
    new AgentError(
      'UPSTREAM_ERROR',
      `The model call failed: ${error instanceof Error ? error.message : String(error)}`,
      { retryable: false },
    ),
  );
}
