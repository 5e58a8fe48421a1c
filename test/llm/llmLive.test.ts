import { createTracewireClient } from '@tracewire/client';
import { describe, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { startTestServer } from '../helpers/server.js';

/**
 * Opt-in: the LLM agent against a real endpoint. Set TRACEWIRE_LLM_LIVE_URL (e.g.
 * http://127.0.0.1:11434/v1 for Ollama, http://127.0.0.1:8080/v1 for llama.cpp's server),
 * TRACEWIRE_LLM_LIVE_MODEL and, if needed, TRACEWIRE_LLM_LIVE_API_KEY. The model must
 * support tool calls.
 */
const url = process.env['TRACEWIRE_LLM_LIVE_URL'];
const model = process.env['TRACEWIRE_LLM_LIVE_MODEL'];
const key = process.env['TRACEWIRE_LLM_LIVE_API_KEY'];
const live = Boolean(url && model);
if (!live)
  console.warn(
    'test/llm/llmLive.test.ts skipped: set TRACEWIRE_LLM_LIVE_URL and TRACEWIRE_LLM_LIVE_MODEL to run it against a real endpoint',
  );

describe('the LLM agent against a live endpoint', () => {
  test.skipIf(!live)(
    `${live ? '' : 'SKIPPED (set TRACEWIRE_LLM_LIVE_URL and TRACEWIRE_LLM_LIVE_MODEL to run): '}answers a question that needs the calculator`,
    { timeout: 180_000 },
    async () => {
      await using srv = await startTestServer({
        env: {
          TRACEWIRE_LLM_BASE_URL: url!,
          TRACEWIRE_LLM_MODEL: model!,
          ...(key ? { TRACEWIRE_LLM_API_KEY: key } : {}),
          TRACEWIRE_RUN_TIMEOUT_MS: '170000',
          TRACEWIRE_LLM_TIMEOUT_MS: '120000',
        },
      });
      await using client = createTracewireClient({
        url: srv.url,
        token: await srv.tokenFor('live'),
        WebSocket,
        tracing: false,
      });
      const thread = await client.trpc.chat.createThread.mutate({ title: 'live' });
      const events = [];
      for await (const e of client.streamRun(
        thread.id,
        'Use the calculator tool to compute 1234 * 5678, then tell me the result.',
      ))
        events.push(e);
      const end = events.at(-1);
      expect(end, JSON.stringify(end)).toMatchObject({ type: 'agent_completed' });
      expect(events.some((e) => e.type === 'tool_executing' && e.tool === 'calculator')).toBe(true);
      const answer = end?.type === 'agent_completed' ? end.message.content : '';
      expect(answer.replace(/[,\s]/g, '')).toContain('7006652');
    },
  );
});
