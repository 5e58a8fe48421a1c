import { transformer, type StreamEvent } from '@tracewire/shared';
import { WebSocket } from 'ws';
import { createSocketWaiters } from './socketWaiters.js';

/** A tracked event as it arrives in a raw tRPC `data` frame. */
export interface RawEvent {
  id: string;
  data: StreamEvent;
}

/** How the socket closed. */
export interface RawClose {
  code: number;
  reason: string;
}

/**
 * A WebSocket speaking tRPC's JSON protocol by hand (connectionParams frame, then
 * `subscription` messages), for tests that need what a tRPC client hides: pausing reads,
 * not answering keepAlive `PING`s, and seeing the exact close code.
 */
export interface RawWsClient extends AsyncDisposable {
  readonly ws: WebSocket;
  /** Tracked events received, in arrival order. */
  readonly events: RawEvent[];
  /** Non-data frames (started, stopped, errors, reconnect notifications) as parsed JSON. */
  readonly control: unknown[];
  /** `PING` text frames received from the server. */
  readonly pings: number;
  /** Answer the server's `PING` with `PONG` (a healthy client). Default true. */
  answerPings: boolean;
  /** Resolves once the socket is closed. */
  readonly closed: Promise<RawClose>;
  /** Sends `agent.events` with the given input on request id `id`. */
  subscribe(input: { threadId: string; lastEventId?: string }, id?: number): void;
  /** Sends `subscription.stop` for request id `id`. */
  unsubscribe(id?: number): void;
  /** Stops reading from the socket (the kernel buffers fill, then the server's). */
  pause(): void;
  resume(): void;
  /** Resolves when `cond` holds for the received events (checked on every frame). */
  waitFor(cond: (events: RawEvent[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<RawClose>;
}

/** Options of {@link connectRawWs}. */
export interface RawWsOptions {
  /** ws://host:port/trpc */
  wsUrl: string;
  token: string;
}

/** Opens the socket and sends the connectionParams frame; resolves once open. */
export async function connectRawWs(opts: RawWsOptions): Promise<RawWsClient> {
  const ws = new WebSocket(`${opts.wsUrl}?connectionParams=1`);
  const events: RawEvent[] = [];
  const control: unknown[] = [];
  const { wake, until } = createSocketWaiters(ws);
  let pings = 0;
  const closed = new Promise<RawClose>((resolve) =>
    ws.once('close', (code, reason) => {
      resolve({ code, reason: reason.toString('utf8') });
      wake();
    }),
  );
  ws.on('error', () => undefined);
  ws.on('message', (raw: Buffer) => {
    const text = raw.toString('utf8');
    if (text === 'PING') {
      pings++;
      if (client.answerPings) ws.send('PONG');
      return;
    }
    if (text === 'PONG') return;
    const msg = JSON.parse(text) as { result?: { type?: string; data?: unknown } };
    if (msg.result?.type === 'data') {
      events.push(transformer.deserialize(msg.result.data as never));
    } else {
      control.push(msg);
    }
    wake();
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ method: 'connectionParams', data: { token: opts.token } }));

  const client: RawWsClient = {
    ws,
    events,
    control,
    get pings() {
      return pings;
    },
    answerPings: true,
    closed,
    subscribe(input, id = 1) {
      ws.send(
        JSON.stringify({
          id,
          method: 'subscription',
          params: { input: transformer.serialize(input), path: 'agent.events' },
        }),
      );
    },
    unsubscribe(id = 1) {
      ws.send(JSON.stringify({ id, method: 'subscription.stop' }));
    },
    pause: () => ws.pause(),
    resume: () => ws.resume(),
    waitFor(cond, timeoutMs = 10_000) {
      return until(
        () => (cond(events) ? true : undefined),
        timeoutMs,
        () => `the events wanted (${events.length} so far)`,
      ).then(() => undefined);
    },
    async close() {
      if (ws.readyState !== WebSocket.CLOSED) ws.close(1000);
      const t = setTimeout(() => ws.terminate(), 2_000);
      const result = await closed;
      clearTimeout(t);
      return result;
    },
    [Symbol.asyncDispose]: async () => {
      await client.close();
    },
  };
  return client;
}
