/** One server-sent event as the wire carries it. */
export interface SseEvent {
  /** `event:` field; null for plain data events. */
  event: string | null;
  id: string | null;
  data: string;
}

/** A raw SSE stream (no EventSource, no tRPC client): what the server sends, as it arrives. */
export interface RawSse extends AsyncDisposable {
  status: number;
  headers: Headers;
  events: SseEvent[];
  /** Resolves when the server ended the stream (or the connection was cut). */
  ended: Promise<void>;
  /** Resolves with the first event matching `pred` (past or future); rejects after `timeoutMs`. */
  waitFor(pred: (e: SseEvent) => boolean, timeoutMs?: number): Promise<SseEvent>;
  close(): void;
}

/** Options of {@link openRawSse}. */
export interface RawSseOptions {
  /** The subscription input (sent as `input={"json":…}`). */
  input: unknown;
  /** Token in `?connectionParams=` (what `httpSubscriptionLink` does). */
  urlToken?: string;
  /** Token in `Authorization: Bearer`. */
  headerToken?: string;
}

/** Opens `GET /trpc/<path>` as an event stream and parses events as they come. */
export async function openRawSse(url: string, path: string, opts: RawSseOptions): Promise<RawSse> {
  const params = new URLSearchParams({ input: JSON.stringify({ json: opts.input }) });
  if (opts.urlToken) params.set('connectionParams', JSON.stringify({ token: opts.urlToken }));
  const abort = new AbortController();
  const res = await fetch(`${url}/trpc/${path}?${params}`, {
    headers: {
      accept: 'text/event-stream',
      ...(opts.headerToken ? { authorization: `Bearer ${opts.headerToken}` } : {}),
    },
    signal: abort.signal,
  });
  const events: SseEvent[] = [];
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const w of [...waiters]) w();
  };
  const ended = (async () => {
    if (!res.body) return;
    const decoder = new TextDecoder();
    let buffer = '';
    const reader = res.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const event: SseEvent = { event: null, id: null, data: '' };
          for (const line of block.split('\n')) {
            const colon = line.indexOf(':');
            const field = colon < 0 ? line : line.slice(0, colon);
            const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'event') event.event = value;
            else if (field === 'id') event.id = value;
            else if (field === 'data') event.data += value;
          }
          events.push(event);
          notify();
        }
      }
    } catch {
      // Aborted by close(), or the server cut the connection: either way the stream ended.
    } finally {
      notify();
    }
  })();
  let done = false;
  void ended.then(() => (done = true));
  const waitFor = (pred: (e: SseEvent) => boolean, timeoutMs = 5_000) =>
    new Promise<SseEvent>((resolve, reject) => {
      const check = () => {
        const hit = events.find(pred);
        if (hit) finish(() => resolve(hit));
        else if (done) finish(() => reject(new Error('stream ended without the event')));
      };
      const timer = setTimeout(
        () => finish(() => reject(new Error(`no matching event in ${timeoutMs} ms`))),
        timeoutMs,
      );
      const finish = (fn: () => void) => {
        clearTimeout(timer);
        waiters.delete(check);
        fn();
      };
      waiters.add(check);
      check();
    });
  const close = () => abort.abort();
  return {
    status: res.status,
    headers: res.headers,
    events,
    ended,
    waitFor,
    close,
    async [Symbol.asyncDispose]() {
      close();
      await ended;
    },
  };
}
