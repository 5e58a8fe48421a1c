/** One raw tRPC-over-HTTP exchange, as any HTTP client (not the tRPC client) sees it. */
export interface RawTrpcResponse {
  status: number;
  headers: Headers;
  /** The body as text. */
  text: string;
  /** Bytes on the wire (after any decoding). */
  bytes: number;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

/** Options of {@link rawTrpc}. */
export interface RawTrpcOptions {
  /** `Authorization: Bearer <token>`. */
  token?: string;
  /** Query string appended after `?` (e.g. `batch=1&input=...`), unencoded parts included as given. */
  query?: string;
  method?: 'GET' | 'POST';
  /** Request body (POST), sent as `application/json`. */
  body?: string;
}

/** Sends a raw request to `/trpc/<path>` and reads the whole answer. */
export async function rawTrpc(
  url: string,
  path: string,
  opts: RawTrpcOptions = {},
): Promise<RawTrpcResponse> {
  const res = await fetch(`${url}/trpc/${path}${opts.query ? `?${opts.query}` : ''}`, {
    method: opts.method ?? 'GET',
    headers: {
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(opts.body !== undefined ? { body: opts.body } : {}),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, bytes: Buffer.byteLength(text), json };
}

/** `input=` for one call: the superjson envelope of `json` (plus `meta` when given), URL-encoded. */
export const inputQuery = (json: unknown, meta?: unknown): string =>
  `input=${encodeURIComponent(JSON.stringify(meta === undefined ? { json } : { json, meta }))}`;

/** The error shape tRPC answers with (one call, or one entry of a batch). */
export interface RawTrpcError {
  message: string;
  code: number;
  data: { code: string; httpStatus: number; appCode: string; requestId: string; path?: string };
}

/**
 * The `error` of a single-call answer or of each batch entry (undefined where a call
 * succeeded), unwrapped from its superjson envelope.
 */
export function errorsOf(json: unknown): (RawTrpcError | undefined)[] {
  const entries = Array.isArray(json) ? json : [json];
  return entries.map((e) => (e as { error?: { json: RawTrpcError } }).error?.json);
}
