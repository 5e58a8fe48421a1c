/**
 * A scripted OpenAI-compatible endpoint on 127.0.0.1 for tests and the bench: a real HTTP
 * server that answers `POST …/chat/completions` with replies written byte for byte as real
 * servers send them (SSE chunks, split lines, error statuses, HTML pages, resets, stalls).
 * Not part of the platform's core (it is a transport); exported as `@tracewire/server/testing`.
 * @module
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** One scripted answer to one request. */
export interface ScriptedReply {
  /** @default 200 */
  status?: number;
  /** Extra headers (`retry-after`, `content-type`…). */
  headers?: Record<string, string>;
  /**
   * SSE events: an object is sent as `data: <JSON>`, a string as `data: <string>` (e.g. a line
   * that is not JSON). `content-type: text/event-stream` unless `headers` says otherwise.
   */
  events?: readonly unknown[];
  /** Ends the events with `data: [DONE]`. @default true */
  done?: boolean;
  /** A non-SSE body (an error JSON, an HTML page). */
  body?: string;
  /** Writes the SSE text in pieces of this many bytes, so lines split across TCP writes. */
  splitBytes?: number;
  /** Pause before each write, in ms. @default 0 */
  delayMs?: number;
  /** Before any byte: `reset` destroys the socket, `stall` never answers. */
  before?: 'reset' | 'stall';
  /** After the events: `stall` keeps the response open and silent, `reset` destroys it. */
  after?: 'end' | 'stall' | 'reset';
}

/** A request the server received. */
export interface ScriptedRequest {
  /** The parsed JSON body. */
  body: Record<string, unknown>;
  headers: IncomingMessage['headers'];
  path: string;
  /** When the whole request had arrived (`Date.now()`). */
  receivedAt: number;
  /** Resolves when the client closed the connection this request came on (or it ended). */
  closed: Promise<void>;
  /** True once the client closed the connection before the reply was complete. */
  readonly abortedByClient: boolean;
}

/** Picks the reply of a request (after the queued ones are used up). */
export type Responder = (request: ScriptedRequest) => ScriptedReply;

/** A running scripted endpoint; `await using` closes it. */
export interface ScriptedLlmServer extends AsyncDisposable {
  /** Base URL to configure, e.g. `http://127.0.0.1:PORT/v1`. */
  baseUrl: string;
  requests: ScriptedRequest[];
  /** Queues replies, used one per request in order before the responder. */
  enqueue(...replies: ScriptedReply[]): void;
  /** Resolves once `count` requests have arrived. */
  waitForRequests(count: number, timeoutMs?: number): Promise<ScriptedRequest[]>;
  close(): Promise<void>;
}

/** Formats SSE events as a server writes them. */
export function sseText(events: readonly unknown[], done = true): string {
  const lines = events.map((e) => `data: ${typeof e === 'string' ? e : JSON.stringify(e)}\n\n`);
  return lines.join('') + (done ? 'data: [DONE]\n\n' : '');
}

const pause = (ms: number) =>
  ms > 0 ? new Promise<void>((r) => setTimeout(r, ms)) : Promise.resolve();

async function writeReply(
  reply: ScriptedReply,
  to: { res: ServerResponse; socket: Socket; gone: () => boolean },
): Promise<void> {
  const { res, socket, gone } = to;
  if (reply.before === 'reset') return void socket.destroy();
  if (reply.before === 'stall') return;
  const sse = reply.events !== undefined;
  res.writeHead(reply.status ?? 200, {
    'content-type': sse ? 'text/event-stream' : 'application/json',
    'cache-control': 'no-cache',
    ...reply.headers,
  });
  res.flushHeaders();
  const text = sse ? sseText(reply.events ?? [], reply.done ?? true) : (reply.body ?? '');
  const size = reply.splitBytes ?? (sse ? 0 : text.length);
  const pieces: string[] = [];
  if (size > 0) for (let i = 0; i < text.length; i += size) pieces.push(text.slice(i, i + size));
  else if (sse) pieces.push(...text.split(/(?<=\n\n)/));
  else pieces.push(text);
  for (const piece of pieces) {
    await pause(reply.delayMs ?? 0);
    if (gone()) return;
    res.write(piece);
  }
  if (reply.after === 'stall') return;
  if (reply.after === 'reset') {
    // Let the written bytes leave before the reset.
    await pause(10);
    return void socket.destroy();
  }
  res.end();
}

/** Starts a scripted endpoint on 127.0.0.1, port 0. */
export async function startScriptedLlmServer(
  opts: { responder?: Responder; replies?: ScriptedReply[] } = {},
): Promise<ScriptedLlmServer> {
  const queue: ScriptedReply[] = [...(opts.replies ?? [])];
  const requests: ScriptedRequest[] = [];
  const waiters: Array<() => void> = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        // Recorded as empty: the test looking at it fails with a clear diff.
      }
      let aborted = false;
      let finished = false;
      res.on('finish', () => (finished = true));
      const closed = new Promise<void>((resolve) => {
        res.on('close', () => {
          if (!finished) aborted = true;
          resolve();
        });
      });
      const request: ScriptedRequest = {
        body,
        headers: req.headers,
        path: req.url ?? '',
        receivedAt: Date.now(),
        closed,
        get abortedByClient() {
          return aborted;
        },
      };
      requests.push(request);
      for (const wake of waiters.splice(0)) wake();
      if (req.method !== 'POST' || !/\/chat\/completions$/.test(request.path)) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `no route ${req.method} ${request.path}` } }));
        return;
      }
      const reply = queue.shift() ?? opts.responder?.(request) ?? { status: 500, body: '{}' };
      void writeReply(reply, { res, socket: req.socket, gone: () => aborted || res.destroyed });
    });
  });
  server.on('connection', (socket) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }));
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    enqueue: (...replies) => void queue.push(...replies),
    async waitForRequests(count, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (requests.length < count) {
        const left = deadline - Date.now();
        if (left <= 0)
          throw new Error(`expected ${count} requests, got ${requests.length} in ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, Math.min(left, 50));
        });
      }
      return requests.slice(0, count);
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
