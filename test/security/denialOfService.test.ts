import { createClientMessageId } from '@tracewire/shared';
import { describe, expect, test } from 'vitest';
import { startChildServer, type ChildServer } from '../helpers/childServer.js';
import { startHealthProbe } from '../helpers/healthProbe.js';
import { errorsOf, inputQuery, rawTrpc } from '../helpers/trpcHttp.js';

/**
 * Issue 28, denial of service: one message, one request or a hundred anonymous ones must not
 * hold the server's event loop or grow its memory. Each test runs the real server in its own
 * process and measures it from outside: `/health/live` latency while the attack is processed,
 * RSS of the process, status codes and sizes of the answers.
 *
 * The latency bounds are an order of magnitude above what the server needs on a loaded
 * machine and an order below what the attacks cost before (8 s, 3 s medians), so they tell
 * the two apart without being performance assertions (`npm run bench` measures those).
 */

/** Far above a healthy answer on a busy 2-core machine, far below the 8 s freeze. */
const HEALTH_MAX_MS = 1_500;

/** Calls one procedure over HTTP as an authenticated client; returns `result.data.json`. */
async function call(
  srv: ChildServer,
  token: string,
  path: string,
  input: unknown,
  method: 'GET' | 'POST',
): Promise<unknown> {
  const res =
    method === 'GET'
      ? await rawTrpc(srv.url, path, { token, query: inputQuery(input) })
      : await rawTrpc(srv.url, path, { token, method, body: JSON.stringify({ json: input }) });
  if (res.status !== 200)
    throw new Error(`${path} answered ${res.status}: ${res.text.slice(0, 300)}`);
  return (res.json as { result: { data: { json: unknown } } }).result.data.json;
}

/** Sends a message and waits until its run ended (polling `agent.run`). */
async function sendAndFinish(srv: ChildServer, token: string, threadId: string, content: string) {
  const { run } = (await call(
    srv,
    token,
    'chat.send',
    { threadId, content, clientMessageId: createClientMessageId() },
    'POST',
  )) as { run: { id: string } };
  for (let i = 0; i < 600; i++) {
    const r = (await call(srv, token, 'agent.run', { runId: run.id }, 'GET')) as {
      status: string;
    };
    if (['completed', 'failed', 'cancelled'].includes(r.status)) return r.status;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`run ${run.id} did not end`);
}

const N = 32_000;

/** The worst messages of the allowed size for the demo agent's expression finder and tools. */
const WORST_MESSAGES: Record<string, string> = {
  'closing parentheses after an expression (the 8 s freeze)': '1+1' + ')'.repeat(N - 3),
  'a run of operators between two digits': '1' + '+'.repeat(N - 2) + '1',
  'opening parentheses before an expression': '('.repeat(N - 3) + '1+1',
  'deep balanced parentheses': '('.repeat(N / 2 - 2) + '1+1' + ')'.repeat(N / 2 - 1),
  'a digit run': '9'.repeat(N),
  'a function name before a long run of spaces': 'sqrt' + ' '.repeat(N - 5) + 'x',
  'a sum of the whole length (quoted back shortened)': '1+'.repeat(N / 2 - 1) + '1',
  'the word count trigger over the whole length': 'words '.repeat(N / 6),
  'astral characters': '\u{1d11e}'.repeat(N / 2),
};

describe('one chat message', () => {
  test('no message of the allowed size holds the event loop: health answers throughout', async () => {
    await using srv = await startChildServer({ env: { TRACEWIRE_AGENT_PACE_MS: '0' } });
    const token = await srv.tokenFor('attacker');
    const thread = (await call(srv, token, 'chat.createThread', {}, 'POST')) as { id: string };
    // Warm up (first calls compile code paths) outside the measurement.
    await sendAndFinish(srv, token, thread.id, 'what is 2 + 2?');
    for (const [name, content] of Object.entries(WORST_MESSAGES)) {
      expect(content.length, name).toBeLessThanOrEqual(N);
      await using probe = startHealthProbe(srv.url);
      const status = await sendAndFinish(srv, token, thread.id, content);
      const health = await probe.stop();
      expect(status, name).toBe('completed');
      expect(health.samples, name).toBeGreaterThan(0);
      expect(health.failures, name).toEqual([]);
      expect(
        health.maxMs,
        `${name}: /health/live took ${Math.round(health.maxMs)} ms`,
      ).toBeLessThan(HEALTH_MAX_MS);
    }
  });
});

/** The security review's payload: superjson 2.2.6 recursed on it until the stack overflowed. */
const STACK_META = { values: { x: ['custom', 'bigint'] }, v: 1 };

describe('superjson annotations', () => {
  test('before login: 100 malformed inputs are refused with 401 without being decoded, and health stays fast', async () => {
    await using srv = await startChildServer();
    await using probe = startHealthProbe(srv.url);
    const answers = await Promise.all(
      Array.from({ length: 100 }, () =>
        rawTrpc(srv.url, 'chat.listThreads', { query: inputQuery({}, STACK_META) }),
      ),
    );
    const health = await probe.stop();
    for (const res of answers) {
      expect(res.status).toBe(401);
      expect(errorsOf(res.json)[0]?.data.appCode).toBe('UNAUTHORIZED');
      expect(res.text).not.toMatch(/call stack/i);
    }
    expect(health.failures).toEqual([]);
    expect(health.maxMs).toBeLessThan(HEALTH_MAX_MS);
    expect(health.medianMs).toBeLessThan(250);
  });

  test('after login: malformed and costly annotations get a clear 400 quickly, and health stays fast', async () => {
    await using srv = await startChildServer();
    const token = await srv.tokenFor('annotator');
    const hostile: Record<string, { json: unknown; meta: unknown }> = {
      'string subtree (stack overflow)': { json: { x: '1' }, meta: STACK_META },
      'path into nothing': { json: {}, meta: { values: { 'a.b.c': ['Date'] }, v: 1 } },
      'million-digit bigint': {
        json: { title: 't', n: '9'.repeat(900_000) },
        meta: { values: { n: ['bigint'] }, v: 1 },
      },
      'reference cycle': {
        json: { title: 't', a: { d: null }, b: { c: null } },
        meta: { referentialEqualities: { a: ['b.c'], b: ['a.d'] }, v: 1 },
      },
    };
    await using probe = startHealthProbe(srv.url);
    for (const [name, payload] of Object.entries(hostile)) {
      const answers = await Promise.all(
        Array.from({ length: 10 }, () =>
          rawTrpc(srv.url, 'chat.createThread', {
            token,
            method: 'POST',
            body: JSON.stringify(payload),
          }),
        ),
      );
      for (const res of answers) {
        expect(res.status, name).toBe(400);
        const error = errorsOf(res.json)[0]!;
        expect(error.data.appCode, name).toBe('BAD_REQUEST');
        expect(error.message, name).toMatch(/^unreadable superjson annotations: /);
      }
    }
    const health = await probe.stop();
    expect(health.failures).toEqual([]);
    expect(health.maxMs).toBeLessThan(HEALTH_MAX_MS);
    // The server still works for the same user.
    expect(await call(srv, token, 'chat.listThreads', {}, 'GET')).toMatchObject({ items: [] });
  });
});

/** RSS of the child sampled every 10 ms until `done` settles; resolves with the peak. */
async function peakRss(srv: ChildServer, done: Promise<unknown>): Promise<number> {
  let peak = srv.rssBytes();
  let finished = false;
  void done.finally(() => (finished = true));
  while (!finished) {
    peak = Math.max(peak, srv.rssBytes());
    await new Promise((r) => setTimeout(r, 10));
  }
  return Math.max(peak, srv.rssBytes());
}

describe('response budget', () => {
  test('a batched GET of 50 long histories is answered within the budget: the first calls, then PAYLOAD_TOO_LARGE for the rest; RSS stays bounded', async () => {
    const budget = 4 * 1024 * 1024;
    await using srv = await startChildServer({
      env: {
        TRACEWIRE_AGENT_PACE_MS: '0',
        TRACEWIRE_MUTATIONS_PER_SECOND: '1000',
        TRACEWIRE_MUTATION_BURST: '1000',
        TRACEWIRE_MAX_CONCURRENT_RUNS_PER_USER: '1000',
        TRACEWIRE_HTTP_RESPONSE_BUDGET_BYTES: String(budget),
      },
    });
    const token = await srv.tokenFor('reader');
    const thread = (await call(srv, token, 'chat.createThread', {}, 'POST')) as { id: string };
    // 60 messages of 30 KB: a history page of 100 (user messages and answers) is ~1.8 MB.
    const long = 'lorem ipsum '.repeat(2_500);
    for (let i = 0; i < 6; i++) {
      await Promise.all(
        Array.from({ length: 10 }, () => sendAndFinish(srv, token, thread.id, long)),
      );
    }
    const one = await rawTrpc(srv.url, 'chat.history', {
      token,
      query: inputQuery({ threadId: thread.id, limit: 100 }),
    });
    expect(one.status).toBe(200);
    const perCall = one.bytes;
    expect(perCall).toBeGreaterThan(1_500_000);

    // The review's request: 50 × chat.history(limit 100) in one batched GET.
    const batchInput = Object.fromEntries(
      Array.from({ length: 50 }, (_, i) => [i, { json: { threadId: thread.id, limit: 100 } }]),
    );
    const query = `batch=1&input=${encodeURIComponent(JSON.stringify(batchInput))}`;
    const path = Array(50).fill('chat.history').join(',');
    expect(query.length + path.length).toBeLessThan(8_000);
    const before = srv.rssBytes();
    const batches = Promise.all(
      Array.from({ length: 3 }, () => rawTrpc(srv.url, path, { token, query })),
    );
    const peak = await peakRss(srv, batches);
    for (const res of await batches) {
      // Never more than the budget plus one answer (instead of 50 answers, ~90 MB).
      expect(res.bytes).toBeLessThan(budget + perCall + 10_000);
      const entries = res.json as { result?: unknown }[];
      expect(entries).toHaveLength(50);
      const errors = errorsOf(entries);
      const answered = errors.findIndex((e) => e !== undefined);
      // A prefix is answered (as many as fit), every later call is refused with the same code.
      expect(answered).toBeGreaterThanOrEqual(1);
      expect(answered * perCall).toBeLessThanOrEqual(budget + 20_000);
      expect((answered + 1) * perCall).toBeGreaterThan(budget - 20_000);
      expect(entries.slice(0, answered).every((e) => e.result !== undefined)).toBe(true);
      for (const e of errors.slice(answered)) {
        expect(e?.data.appCode).toBe('PAYLOAD_TOO_LARGE');
        expect(e?.message).toMatch(/smaller batch/);
      }
    }
    // Three such requests at once: a few times the budget, not hundreds of MB.
    expect(peak - before).toBeLessThan(200 * 1024 * 1024);
    // Each call alone is still answered.
    expect(
      (
        await rawTrpc(srv.url, 'chat.history', {
          token,
          query: inputQuery({ threadId: thread.id, limit: 100 }),
        })
      ).status,
    ).toBe(200);
  });
});
