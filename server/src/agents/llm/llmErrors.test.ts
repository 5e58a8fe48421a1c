import { describe, expect, test } from 'vitest';
import { answerReply, chunk, toolCallReply, type ScriptedReply } from '../../testing/index.js';
import { createLlmHarness, ofType, streamed } from './__tests__/llmHarness.js';

const rateLimited = (retryAfter: string): ScriptedReply => ({
  status: 429,
  headers: { 'retry-after': retryAfter },
  body: JSON.stringify({
    error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' },
  }),
});
const html502: ScriptedReply = {
  status: 502,
  headers: { 'content-type': 'text/html' },
  body: '<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>',
};
const partial = (pieces: string[]): readonly unknown[] => [
  chunk({ role: 'assistant', content: '' }),
  ...pieces.map((content) => chunk({ content })),
];
/** Time between the first two requests the endpoint saw, in ms. */
const gapMs = (requests: readonly { receivedAt: number }[]) =>
  requests[1]!.receivedAt - requests[0]!.receivedAt;

describe('LLM agent: upstream failures', () => {
  test('429 with Retry-After in seconds is waited for, then the call succeeds', async () => {
    await using h = await createLlmHarness({
      replies: [rateLimited('1'), answerReply(['fine'])],
    });
    const { end } = await h.finish(await h.send('hi'));
    expect(end).toMatchObject({ type: 'agent_completed', message: { content: 'fine' } });
    expect(gapMs(h.llm.requests)).toBeGreaterThanOrEqual(950);
  });

  test('429 with Retry-After as an HTTP date is waited for', async () => {
    let first = true;
    await using h = await createLlmHarness({
      // The date is written when the request arrives: 3 s ahead, at least 2 s once truncated
      // to the second an HTTP date has.
      responder: () => {
        if (!first) return answerReply(['ok']);
        first = false;
        return rateLimited(new Date(Date.now() + 3000).toUTCString());
      },
    });
    const { end } = await h.finish(await h.send('hi'));
    expect(end.type).toBe('agent_completed');
    expect(h.llm.requests).toHaveLength(2);
    expect(gapMs(h.llm.requests)).toBeGreaterThanOrEqual(1500);
  });

  test('a Retry-After above the cap ends the run at once with RATE_LIMITED', async () => {
    await using h = await createLlmHarness({
      replies: [rateLimited('3600')],
      agent: { retryAfterMaxMs: 5000 },
    });
    const { end } = await h.finish(await h.send('hi'));
    expect(end).toMatchObject({ type: 'agent_error', code: 'RATE_LIMITED', retryable: true });
    expect(end.type === 'agent_error' && end.message).toMatch(
      /wait 3600 s.*TRACEWIRE_LLM_RETRY_AFTER_MAX_MS/,
    );
    expect(h.llm.requests).toHaveLength(1);
  });

  test('429 on every attempt ends with RATE_LIMITED after the retries', async () => {
    await using h = await createLlmHarness({
      responder: () => rateLimited('0'),
      agent: { retries: 2 },
    });
    const { end } = await h.finish(await h.send('hi'));
    expect(end).toMatchObject({ code: 'RATE_LIMITED', retryable: true });
    expect(end.type === 'agent_error' && end.message).toMatch(/after 3 attempts/);
    expect(h.llm.requests).toHaveLength(3);
  });

  test('a 5xx and a reset before the first byte are retried', async () => {
    await using h = await createLlmHarness({
      replies: [
        { status: 503, body: '{"error":{"message":"overloaded"}}' },
        { before: 'reset' },
        answerReply(['third time lucky']),
      ],
    });
    const { end } = await h.finish(await h.send('hi'));
    expect(end).toMatchObject({
      type: 'agent_completed',
      message: { content: 'third time lucky' },
    });
    expect(h.llm.requests).toHaveLength(3);
  });

  test('an HTML error page from a proxy on every attempt: UPSTREAM_ERROR naming it', async () => {
    await using h = await createLlmHarness({ responder: () => html502, agent: { retries: 1 } });
    const { end } = await h.finish(await h.send('hi'));
    expect(end).toMatchObject({ type: 'agent_error', code: 'UPSTREAM_ERROR', retryable: true });
    expect(end.type === 'agent_error' && end.message).toMatch(
      /502: an HTML error page \("502 Bad Gateway"\), likely from a proxy/,
    );
    expect(h.llm.requests).toHaveLength(2);
  });

  test('a page that is not an event stream with status 200 is a clear error, not an empty answer', async () => {
    await using h = await createLlmHarness({
      replies: [
        {
          status: 200,
          headers: { 'content-type': 'text/html; charset=utf-8' },
          body: '<!doctype html><title>Open WebUI</title>',
        },
      ],
    });
    const { end } = await h.finish(await h.send('hi'));
    expect(end).toMatchObject({ type: 'agent_error', code: 'UPSTREAM_ERROR', retryable: false });
    expect(end.type === 'agent_error' && end.message).toMatch(
      /text\/html.*instead of an event stream/,
    );
    expect(h.llm.requests).toHaveLength(1);
  });

  test('a mid-stream error after text was shown ends the run with the upstream reason, no retry', async () => {
    await using h = await createLlmHarness({
      replies: [
        {
          events: [
            ...partial(['The answer ', 'is ']),
            { error: { message: 'model crashed: CUDA out of memory', type: 'server_error' } },
          ],
          done: false,
        },
      ],
    });
    const { events, end } = await h.finish(await h.send('hi'));
    expect(streamed(events)).toBe('The answer is ');
    expect(end).toMatchObject({ type: 'agent_error', code: 'UPSTREAM_ERROR' });
    expect(end.type === 'agent_error' && end.message).toMatch(
      /CUDA out of memory.*after part of the answer was sent/,
    );
    expect(ofType(events, 'agent_completed')).toHaveLength(0);
    expect(h.llm.requests).toHaveLength(1);
  });

  test('a mid-stream error before any text is retried', async () => {
    await using h = await createLlmHarness({
      replies: [
        {
          events: [chunk({ role: 'assistant' }), { error: { message: 'worker restarted' } }],
          done: false,
        },
        answerReply(['recovered']),
      ],
    });
    const { end } = await h.finish(await h.send('hi'));
    expect(end).toMatchObject({ type: 'agent_completed', message: { content: 'recovered' } });
  });

  test('a connection reset after text was shown is an error, never a silent truncation', async () => {
    await using h = await createLlmHarness({
      replies: [{ events: partial(['Half an ', 'answer']), done: false, after: 'reset' }],
    });
    const { events, end } = await h.finish(await h.send('hi'));
    expect(streamed(events)).toBe('Half an answer');
    expect(end).toMatchObject({ type: 'agent_error', code: 'UPSTREAM_ERROR', retryable: true });
    expect(h.llm.requests).toHaveLength(1);
  });

  test('a stall mid-stream and a stall before the first byte end with the idle timeout', async () => {
    await using h = await createLlmHarness({
      replies: [{ events: partial(['Thinking about ']), done: false, after: 'stall' }],
      agent: { timeoutMs: 1000 },
    });
    const { end } = await h.finish(await h.send('hi'));
    expect(end.type === 'agent_error' && end.message).toMatch(
      /did not send the next chunk within 1000 ms.*after part of the answer/,
    );
    await using silent = await createLlmHarness({
      responder: () => ({ before: 'stall' }),
      agent: { timeoutMs: 200, retries: 1 },
    });
    const second = await silent.finish(await silent.send('hi'));
    expect(second.end).toMatchObject({ code: 'UPSTREAM_ERROR', retryable: true });
    expect(second.end.type === 'agent_error' && second.end.message).toMatch(
      /did not start answering within 200 ms \(after 2 attempts\)/,
    );
    // Each stalled attempt's connection was closed by the agent.
    await Promise.all(silent.llm.requests.map((r) => r.closed));
    expect(silent.llm.requests.every((r) => r.abortedByClient)).toBe(true);
  });

  test('a stream that ends without a finish reason is retried, then reported', async () => {
    await using h = await createLlmHarness({
      responder: () => ({ events: [chunk({ role: 'assistant' })] }),
      agent: { retries: 1 },
    });
    const { end } = await h.finish(await h.send('hi'));
    expect(end).toMatchObject({ code: 'UPSTREAM_ERROR', retryable: true });
    expect(end.type === 'agent_error' && end.message).toMatch(/without a finish reason/);
    expect(h.llm.requests).toHaveLength(2);
  });

  test('finish_reason length in the middle of a tool call is a clear error', async () => {
    await using h = await createLlmHarness({
      replies: [
        {
          events: [
            chunk({
              tool_calls: [
                {
                  index: 0,
                  id: 'c',
                  type: 'function',
                  function: { name: 'calculator', arguments: '{"expre' },
                },
              ],
            }),
            chunk({}, { finish: 'length' }),
          ],
        },
      ],
    });
    const { events, end } = await h.finish(await h.send('hi'));
    expect(end).toMatchObject({ code: 'UPSTREAM_ERROR', retryable: false });
    expect(end.type === 'agent_error' && end.message).toMatch(
      /out of tokens in the middle of a tool call/,
    );
    expect(ofType(events, 'tool_executing')).toHaveLength(0);
  });

  test('a line that is not JSON is reported as such', async () => {
    await using h = await createLlmHarness({
      replies: [{ events: ['{"choices": [ oops'], done: true }],
    });
    const { end } = await h.finish(await h.send('hi'));
    expect(end).toMatchObject({ code: 'UPSTREAM_ERROR', retryable: false });
    expect(end.type === 'agent_error' && end.message).toMatch(/not JSON/);
  });

  test('401 is a configuration error that never shows the key', async () => {
    const key = 'sk-live-secret-0123456789';
    await using h = await createLlmHarness({
      responder: () => ({
        status: 401,
        body: JSON.stringify({
          error: { message: `Incorrect API key provided: ${key}`, code: 'invalid_api_key' },
        }),
      }),
      agent: { apiKey: key },
    });
    const { end } = await h.finish(await h.send('hi'));
    expect(end).toMatchObject({ type: 'agent_error', code: 'MISCONFIGURED', retryable: false });
    expect(end.type === 'agent_error' && end.message).toMatch(
      /credentials \(401\).*TRACEWIRE_LLM_API_KEY/,
    );
    expect(JSON.stringify(end)).not.toContain(key);
    expect(h.llm.requests).toHaveLength(1);
    const run = await h.engine.store.getRun(end.runId);
    expect(JSON.stringify(run)).not.toContain(key);
  });

  test('a 404 names the URL and model settings', async () => {
    await using h = await createLlmHarness({
      replies: [
        {
          status: 404,
          body: '{"error":{"message":"model \\"nope\\" not found, try pulling it first"}}',
        },
      ],
    });
    const { end } = await h.finish(await h.send('hi'));
    expect(end).toMatchObject({ code: 'MISCONFIGURED', retryable: false });
    expect(end.type === 'agent_error' && end.message).toMatch(
      /not found, try pulling it first.*TRACEWIRE_LLM_MODEL/,
    );
  });

  test('a 429 after a failed tool call is RATE_LIMITED, not TOOL_FAILED', async () => {
    await using h = await createLlmHarness({
      replies: [toolCallReply({ id: 'c', name: 'calculator', args: ['{"expression": "1/0"}'] })],
      responder: () => rateLimited('0'),
      agent: { retries: 1 },
    });
    const { events, end } = await h.finish(await h.send('divide by zero'));
    expect(ofType(events, 'tool_completed')[0]).toMatchObject({
      ok: false,
      error: { code: 'BAD_REQUEST' },
    });
    expect(end).toMatchObject({ type: 'agent_error', code: 'RATE_LIMITED', retryable: true });
  });
});
