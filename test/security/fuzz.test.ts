import { TRPCClientError } from '@trpc/client';
import type { AppRouter } from '@tracewire/server';
import {
  APP_ERROR_CODES,
  CLOSE_CODES,
  createClientMessageId,
  isTerminalEvent,
} from '@tracewire/shared';
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { collectUntil } from '../helpers/collect.js';
import { createPlainClient, type PlainClient } from '../helpers/plainClient.js';
import { openRawSocket, type RawSocket } from '../helpers/rawWs.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Property-based fuzzing of every procedure's input (WS and HTTP/SSE) and of raw WS frames,
 * against one server while an honest user streams runs. Sizes are bounded so the whole file
 * takes seconds; the case counts are in CASES.
 */
const CASES = {
  perProcedureWs: 250,
  perProcedureHttp: 150,
  subscriptionWs: 200,
  subscriptionSse: 30,
  rawFrames: 1200,
};
/** Generous bound on heap growth over the whole fuzz run (no GC is forced). */
const HEAP_BOUND_BYTES = 256 * 1024 * 1024;

const APP_CODES = new Set(Object.keys(APP_ERROR_CODES));
const FRAME_CLOSE_CODES = new Set<number>([
  CLOSE_CODES.PROTOCOL_ERROR,
  CLOSE_CODES.RATE_LIMITED,
  CLOSE_CODES.MESSAGE_TOO_BIG,
]);

interface Ids {
  ownThread: string;
  aliceThread: string;
  aliceRun: string;
}

/** Inputs: random values, and records whose fields mix valid ids (own and another user's) with junk. */
function inputArb(ids: Ids): fc.Arbitrary<unknown> {
  const junk = fc.anything({
    maxDepth: 3,
    maxKeys: 4,
    withNullPrototype: true,
    withBigInt: true,
    withDate: true,
    withMap: true,
    withSet: true,
  });
  const threadId = fc.oneof(
    fc.constantFrom(ids.ownThread, ids.aliceThread, 'thr_00000000000000000000000000'),
    fc.string({ maxLength: 40 }),
    junk,
  );
  const runId = fc.oneof(
    fc.constantFrom(ids.aliceRun, 'run_00000000000000000000000000'),
    fc.string({ maxLength: 40 }),
    junk,
  );
  const text = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.string({ unit: 'grapheme', maxLength: 50 }),
    fc.constant(''),
    junk,
  );
  const meta = fc.oneof(
    fc.record(
      {
        requestId: fc.oneof(fc.stringMatching(/^[\w.:-]{1,20}$/), fc.string()),
        traceparent: fc.string(),
        tracestate: fc.string(),
      },
      { requiredKeys: [] },
    ),
    junk,
  );
  const record = fc.record(
    {
      threadId,
      runId,
      content: text,
      title: text,
      clientMessageId: fc.oneof(fc.constant(createClientMessageId()), fc.string({ maxLength: 80 })),
      cursor: fc.oneof(fc.string({ maxLength: 250 }), junk),
      limit: fc.oneof(fc.integer({ min: -5, max: 500 }), fc.double(), junk),
      lastEventId: fc.oneof(
        fc.string({ maxLength: 80 }),
        fc.stringMatching(/^[a-z0-9]{1,12}:\d{1,4}$/),
        junk,
      ),
      _meta: meta,
    },
    { requiredKeys: [] },
  );
  return fc.oneof({ weight: 3, arbitrary: record }, { weight: 1, arbitrary: junk });
}

/** Every failure must be a TRPCClientError carrying a known app code. */
function expectTypedError(err: unknown, where: string): void {
  // superjson on the client refuses `__proto__` keys before sending: nothing reached the server
  // (the raw-frame fuzz sends such payloads directly).
  if (
    /prototype pollution/.test((err as Error).message) &&
    !(err as TRPCClientError<AppRouter>).data
  )
    return;
  expect(err, where).toBeInstanceOf(TRPCClientError);
  const appCode = (err as TRPCClientError<AppRouter>).data?.appCode as string | undefined;
  expect(
    APP_CODES.has(appCode ?? ''),
    `${where}: appCode ${String(appCode)} (${(err as Error).message})`,
  ).toBe(true);
}

type Caller = (input: unknown) => Promise<unknown>;

function callers(client: PlainClient): Record<string, Caller> {
  const t = client.trpc;
  return {
    'chat.createThread': (i) => t.chat.createThread.mutate(i as never),
    'chat.listThreads': (i) => t.chat.listThreads.query(i as never),
    'chat.send': (i) => t.chat.send.mutate(i as never),
    'chat.history': (i) => t.chat.history.query(i as never),
    'chat.cancel': (i) => t.chat.cancel.mutate(i as never),
    'agent.run': (i) => t.agent.run.query(i as never),
  };
}

/** Subscribes with a fuzzed input; resolves on the first frame (started fine) or the error. */
function subscribeOnce(
  client: PlainClient,
  input: unknown,
): Promise<{ data?: unknown; error?: unknown }> {
  return new Promise((resolve) => {
    let sub: { unsubscribe(): void } | undefined;
    const finish = (r: { data?: unknown; error?: unknown }) => {
      clearTimeout(timer);
      sub?.unsubscribe();
      resolve(r);
    };
    const timer = setTimeout(
      () => finish({ error: new Error('subscription neither answered nor failed within 5 s') }),
      5_000,
    );
    try {
      sub = client.trpc.agent.events.subscribe(input as never, {
        onData: (data) => finish({ data }),
        onError: (error) => finish({ error }),
      });
    } catch (error) {
      // The client's serializer refused the input before anything was sent.
      finish({ error });
    }
  });
}

/** An honest user running chat turns until `stop`; every turn must be complete and in order. */
function honestUser(client: PlainClient, threadId: string, stop: () => boolean): Promise<number> {
  return (async () => {
    let turns = 0;
    while (!stop() || turns === 0) {
      let runId: string | undefined = undefined;
      const done = collectUntil(
        (h) => client.trpc.agent.events.subscribe({ threadId }, h),
        (e) => isTerminalEvent(e) && e.runId === runId,
        20_000,
      );
      await new Promise((r) => setTimeout(r, 30));
      runId = (
        await client.trpc.chat.send.mutate({
          threadId,
          content: `turn ${turns}: what is 6*7?`,
          clientMessageId: createClientMessageId(),
        })
      ).run.id;
      const events = (await done)
        .map((r) => r.data)
        .filter((e) => 'runId' in e && e.runId === runId);
      expect(events[0]?.type).toBe('agent_started');
      expect(events.at(-1)?.type).toBe('agent_completed');
      for (let i = 1; i < events.length; i++) {
        const [a, b] = [events[i - 1]!, events[i]!];
        if ('seq' in a && 'seq' in b) expect(b.seq).toBe(a.seq + 1);
      }
      turns++;
    }
    return turns;
  })();
}

async function fuzzProcedures(
  srv: TestServer,
  ids: Ids,
  client: PlainClient,
  opts: { transport: string; runs: number; subRuns: number },
): Promise<number> {
  let cases = 0;
  const leak = (value: unknown) =>
    JSON.stringify(value ?? null).includes(ids.aliceThread) ||
    JSON.stringify(value ?? null).includes(ids.aliceRun);
  for (const [path, call] of Object.entries(callers(client))) {
    await fc.assert(
      fc.asyncProperty(inputArb(ids), async (input) => {
        cases++;
        try {
          const out = await call(input);
          expect(leak(out), `${opts.transport} ${path} leaked another user's data`).toBe(false);
        } catch (err) {
          expectTypedError(err, `${opts.transport} ${path}`);
        }
      }),
      { numRuns: opts.runs },
    );
  }
  await fc.assert(
    fc.asyncProperty(inputArb(ids), async (input) => {
      cases++;
      const r = await subscribeOnce(client, input);
      if (r.error !== undefined) expectTypedError(r.error, `${opts.transport} agent.events`);
      else expect(leak(r.data), `${opts.transport} agent.events leaked`).toBe(false);
    }),
    { numRuns: opts.subRuns },
  );
  expect(srv.server.transport.stopping).toBe(false);
  return cases;
}

/** Raw frames: text junk, JSON, envelopes and batches of them, binary. */
function frameArb(ids: Ids): fc.Arbitrary<string | Uint8Array> {
  const paths = fc.oneof(
    fc.constantFrom(
      'chat.createThread',
      'chat.listThreads',
      'chat.send',
      'chat.history',
      'chat.cancel',
      'agent.run',
      'agent.events',
    ),
    fc.string({ maxLength: 20 }),
  );
  const envelope = fc.record(
    {
      id: fc.oneof(
        fc.integer(),
        fc.string({ maxLength: 10 }),
        fc.constant(null),
        fc.anything({ maxDepth: 1 }),
      ),
      jsonrpc: fc.oneof(fc.constant('2.0'), fc.string({ maxLength: 5 })),
      method: fc.oneof(
        fc.constantFrom(
          'query',
          'mutation',
          'subscription',
          'subscription.stop',
          'connectionParams',
        ),
        fc.string({ maxLength: 12 }),
      ),
      params: fc.oneof(
        fc.record(
          {
            path: paths,
            input: fc.oneof(
              fc.record({ json: inputArb(ids) }, { requiredKeys: [] }),
              fc.anything({ maxDepth: 3 }),
            ),
            lastEventId: fc.oneof(fc.string({ maxLength: 30 }), fc.anything({ maxDepth: 1 })),
          },
          { requiredKeys: [] },
        ),
        fc.anything({ maxDepth: 2 }),
      ),
    },
    { requiredKeys: [] },
  );
  const toJson = (v: unknown) => {
    try {
      return JSON.stringify(v) ?? 'null';
    } catch {
      return 'null';
    }
  };
  return fc.oneof(
    { weight: 2, arbitrary: fc.string({ maxLength: 200 }) },
    { weight: 2, arbitrary: fc.json({ maxDepth: 4 }) },
    { weight: 6, arbitrary: envelope.map(toJson) },
    { weight: 2, arbitrary: fc.array(envelope, { maxLength: 5 }).map(toJson) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '{"id":1,"method":"mutation","params":{"path":"chat.createThread","input":{"json":{"__proto__":{"polluted":1}}}}}',
        '{"id":2,"method":"query","params":{"path":"chat.listThreads","input":{"json":{},"meta":{"values":{"__proto__.polluted":["undefined"]}}}}}',
        '{"__proto__":{"polluted":1},"id":3,"method":"query","params":{"path":"chat.listThreads"}}',
      ),
    },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 65, max: 300 }).map((d) => `${'['.repeat(d)}${']'.repeat(d)}`),
    },
  );
}

async function fuzzRawFrames(
  srv: TestServer,
  ids: Ids,
): Promise<{ cases: number; closes: number }> {
  const token = await srv.tokenFor('mallory');
  let raw: RawSocket = await openRawSocket(srv.wsUrl, { token });
  let cases = 0;
  let closes = 0;
  let sentinel = 0;
  try {
    await fc.assert(
      fc.asyncProperty(frameArb(ids), async (frame) => {
        cases++;
        raw.ws.send(frame, { binary: typeof frame !== 'string' });
        // A query after every frame: answered = the frame was handled; else a documented close.
        const id = `__sentinel_${++sentinel}`;
        raw.send({
          id,
          method: 'query',
          params: { path: 'chat.listThreads', input: { json: {} } },
        });
        const outcome = await Promise.race([
          raw
            .waitFor((f) => (f as { id?: unknown }).id === id, 5_000)
            .then(() => 'answered' as const),
          raw.closed,
        ]);
        if (outcome !== 'answered') {
          closes++;
          expect(
            FRAME_CLOSE_CODES.has(outcome.code),
            `closed with ${outcome.code} ${outcome.reason} after ${String(frame).slice(0, 100)}`,
          ).toBe(true);
          raw = await openRawSocket(srv.wsUrl, { token });
          return;
        }
        for (const f of raw.frames.splice(0)) {
          const err = (f as { error?: { json?: { data?: { appCode?: string } } } }).error;
          if (err)
            expect(
              APP_CODES.has(err.json?.data?.appCode ?? ''),
              JSON.stringify(f).slice(0, 300),
            ).toBe(true);
          expect(JSON.stringify(f).includes(ids.aliceThread), 'raw frame leaked alice data').toBe(
            false,
          );
        }
      }),
      { numRuns: CASES.rawFrames },
    );
  } finally {
    await raw[Symbol.asyncDispose]();
  }
  return { cases, closes };
}

test('fuzzed inputs and raw frames get typed errors or documented closes; the server stays up, bounded, and honest users keep streaming', async () => {
  await using srv = await startTestServer({
    env: {
      TRACEWIRE_AGENT_PACE_MS: '2',
      TRACEWIRE_MUTATIONS_PER_SECOND: '100000',
      TRACEWIRE_MUTATION_BURST: '100000',
      TRACEWIRE_WS_FRAMES_PER_SECOND: '100000',
      TRACEWIRE_WS_FRAME_BURST: '100000',
      TRACEWIRE_MAX_CONCURRENT_RUNS_PER_USER: '4',
      TRACEWIRE_MAX_PAYLOAD_BYTES: '65536',
    },
  });
  const heapBefore = process.memoryUsage().heapUsed;
  await using alice = createPlainClient({
    url: srv.url,
    token: await srv.tokenFor('alice'),
    transport: 'ws',
  });
  await using mallory = createPlainClient({
    url: srv.url,
    token: await srv.tokenFor('mallory'),
    transport: 'ws',
  });
  await using malloryHttp = createPlainClient({
    url: srv.url,
    token: await srv.tokenFor('mallory'),
    transport: 'http+sse',
  });
  const aliceThread = await alice.trpc.chat.createThread.mutate({ title: 'honest' });
  const { run: aliceRun } = await alice.trpc.chat.send.mutate({
    threadId: aliceThread.id,
    content: 'hello',
    clientMessageId: createClientMessageId(),
  });
  const ownThread = await mallory.trpc.chat.createThread.mutate({});
  while (
    ['queued', 'running'].includes(
      (await alice.trpc.agent.run.query({ runId: aliceRun.id })).status,
    )
  ) {
    await new Promise((r) => setTimeout(r, 20));
  }
  const ids: Ids = { ownThread: ownThread.id, aliceThread: aliceThread.id, aliceRun: aliceRun.id };

  let fuzzing = true;
  const honest = honestUser(alice, aliceThread.id, () => !fuzzing);
  let cases = 0;
  try {
    cases += await fuzzProcedures(srv, ids, mallory, {
      transport: 'ws',
      runs: CASES.perProcedureWs,
      subRuns: CASES.subscriptionWs,
    });
    cases += await fuzzProcedures(srv, ids, malloryHttp, {
      transport: 'http',
      runs: CASES.perProcedureHttp,
      subRuns: CASES.subscriptionSse,
    });
    const raw = await fuzzRawFrames(srv, ids);
    cases += raw.cases;
    // Some frames (binary, over-deep JSON) must have been answered with a close.
    expect(raw.closes).toBeGreaterThan(0);
    expect(Object.prototype).not.toHaveProperty('polluted');
  } finally {
    fuzzing = false;
  }
  const turns = await honest;

  expect(cases).toBeGreaterThanOrEqual(3000);
  expect(turns).toBeGreaterThanOrEqual(1);
  for (const probe of ['/health/live', '/health/ready'])
    expect((await fetch(`${srv.url}${probe}`)).status).toBe(200);
  // The honest user's thread holds only her own messages.
  const history = await alice.trpc.chat.history.query({ threadId: aliceThread.id, limit: 100 });
  expect(history.items.every((m) => m.threadId === aliceThread.id)).toBe(true);
  expect(
    history.items
      .filter((m) => m.role === 'user')
      .every((m) => m.content === 'hello' || m.content.startsWith('turn ')),
  ).toBe(true);
  const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
  expect(heapGrowth).toBeLessThan(HEAP_BOUND_BYTES);
}, 120_000);
