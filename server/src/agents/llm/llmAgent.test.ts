import { describe, expect, test } from 'vitest';
import { answerReply, chunk, toolCallReply } from '../../testing/index.js';
import { createLlmHarness, ofType, streamed } from './__tests__/llmHarness.js';
import { llamaCpp, ollama, openai, vllm } from './__tests__/wireFormats.js';

type Msg = { role: string; content?: unknown; tool_calls?: unknown[]; tool_call_id?: string };
const messagesOf = (body: Record<string, unknown>) => body['messages'] as Msg[];

describe('the LLM agent on the OpenAI wire format', () => {
  test('streams the answer from SSE lines split mid-way, as coalesced deltas, and stores it', async () => {
    const pieces = Array.from({ length: 40 }, (_, i) => `w${i} `);
    await using h = await createLlmHarness({
      replies: [{ events: openai.answer(pieces), splitBytes: 7 }],
      agent: { apiKey: 'sk-test-123' },
    });
    const run = await h.send('say forty words');
    const { events, end } = await h.finish(run);
    const answer = pieces.join('');
    expect(streamed(events)).toBe(answer);
    expect(end).toMatchObject({ type: 'agent_completed', message: { content: answer } });
    expect(ofType(events, 'message_delta').length).toBeLessThan(pieces.length);
    const [request] = h.llm.requests;
    expect(request!.headers['authorization']).toBe('Bearer sk-test-123');
    expect(request!.body).toMatchObject({
      model: 'scripted-model',
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(messagesOf(request!.body).map((m) => m.role)).toEqual(['system', 'user']);
    const tools = request!.body['tools'] as Array<{
      function: { name: string; parameters: object };
    }>;
    expect(tools.map((t) => t.function.name)).toEqual(['calculator', 'clock', 'wordCount']);
    expect(tools[0]!.function.parameters).toMatchObject({
      type: 'object',
      properties: { expression: { type: 'string' } },
      required: ['expression'],
    });
  });

  test('sends no Authorization header when no key is configured', async () => {
    await using h = await createLlmHarness({ replies: [answerReply(['hi'])] });
    await h.finish(await h.send('hello'));
    expect(h.llm.requests[0]!.headers['authorization']).toBeUndefined();
  });

  test('shows the model the thread’s earlier messages', async () => {
    await using h = await createLlmHarness({
      replies: [answerReply(['Four.']), answerReply(['Eight.'])],
    });
    const first = await h.send('2+2?');
    await h.finish(first);
    await h.finish(await h.send('and doubled?', first.threadId));
    expect(messagesOf(h.llm.requests[1]!.body).map((m) => [m.role, m.content])).toEqual([
      ['system', expect.any(String)],
      ['user', '2+2?'],
      ['assistant', 'Four.'],
      ['user', 'and doubled?'],
    ]);
  });

  test('runs interleaved parallel tool calls through the tool runner and sends the results back', async () => {
    await using h = await createLlmHarness({
      replies: [
        {
          events: openai.parallelCalls(
            { id: 'call_a', name: 'calculator', args: ['{"expr', 'ession": "6 *', ' 7"}'] },
            { id: 'call_b', name: 'wordCount', args: ['{"text": ', '"one two three"}'] },
          ),
          splitBytes: 11,
        },
        { events: openai.answer(['6 * 7 = 42; ', 'three words.']) },
      ],
    });
    const run = await h.send('compute and count');
    const { events, end } = await h.finish(run);
    expect(end.type).toBe('agent_completed');
    expect(ofType(events, 'tool_executing').map((e) => [e.tool, e.args])).toEqual([
      ['calculator', { expression: '6 * 7' }],
      ['wordCount', { text: 'one two three' }],
    ]);
    expect(ofType(events, 'tool_completed').every((e) => e.ok)).toBe(true);
    const second = messagesOf(h.llm.requests[1]!.body);
    expect(second.at(-3)).toMatchObject({
      role: 'assistant',
      tool_calls: [
        {
          id: 'call_a',
          type: 'function',
          function: { name: 'calculator', arguments: '{"expression": "6 * 7"}' },
        },
        {
          id: 'call_b',
          type: 'function',
          function: { name: 'wordCount', arguments: '{"text": "one two three"}' },
        },
      ],
    });
    expect(second.at(-2)).toEqual({
      role: 'tool',
      tool_call_id: 'call_a',
      content: JSON.stringify({ expression: '6 * 7', value: 42 }),
    });
    expect(second.at(-1)).toMatchObject({ role: 'tool', tool_call_id: 'call_b' });
    expect(JSON.parse(String(second.at(-1)!.content))).toMatchObject({ words: 3 });
    expect(streamed(events)).toBe('6 * 7 = 42; three words.');
  });

  test('vLLM: reasoning_content becomes agent_thinking, a first call chunk without arguments works', async () => {
    await using h = await createLlmHarness({
      replies: [
        {
          events: vllm.reasoningThenCall(['The user ', 'wants the time.'], {
            name: 'clock',
            args: ['{"timeZone"', ': "UTC"}'],
          }),
        },
        { events: vllm.answer(['It is ', 'noon.']) },
      ],
    });
    const { events, end } = await h.finish(await h.send('what time is it?'));
    expect(end.type).toBe('agent_completed');
    expect(
      ofType(events, 'agent_thinking')
        .map((e) => e.text)
        .join(''),
    ).toBe('The user wants the time.');
    expect(ofType(events, 'tool_executing')[0]).toMatchObject({
      tool: 'clock',
      args: { timeZone: 'UTC' },
    });
    expect(messagesOf(h.llm.requests[1]!.body).at(-1)).toMatchObject({
      role: 'tool',
      tool_call_id: 'chatcmpl-tool-7f3',
    });
    expect(streamed(events)).toBe('It is noon.');
  });

  test('llama.cpp: a whole call in one chunk, usage inside the finish chunk', async () => {
    await using h = await createLlmHarness({
      replies: [
        {
          events: [
            llamaCpp.chunk({ role: 'assistant', content: null }),
            llamaCpp.chunk({ reasoning_content: 'Need the calculator.' }),
            llamaCpp.chunk({
              tool_calls: [
                {
                  index: 0,
                  id: 'Yp2',
                  type: 'function',
                  function: { name: 'calculator', arguments: '{"expression":"2^10"}' },
                },
              ],
            }),
            llamaCpp.final('tool_calls', 90, 20),
          ],
        },
        { events: [llamaCpp.chunk({ content: '1024' }), llamaCpp.final('stop', 120, 3)] },
      ],
    });
    const { events, end } = await h.finish(await h.send('2^10?'));
    expect(end).toMatchObject({ type: 'agent_completed', message: { content: '1024' } });
    expect(ofType(events, 'tool_completed')[0]).toMatchObject({
      ok: true,
      result: { value: 1024 },
    });
    expect(ofType(events, 'agent_thinking')[0]!.text).toBe('Need the calculator.');
  });

  test('Ollama: a call without index or id and finish_reason stop, then an empty finish reason', async () => {
    await using h = await createLlmHarness({
      replies: [
        {
          events: [
            ollama.chunk({ role: 'assistant', content: '', reasoning: 'Counting.' }),
            ollama.chunk({
              role: 'assistant',
              content: '',
              tool_calls: [{ function: { name: 'wordCount', arguments: '{"text":"a b"}' } }],
            }),
            ollama.chunk({ role: 'assistant', content: '' }, 'stop'),
          ],
        },
        {
          events: [
            ollama.chunk({ role: 'assistant', content: 'Two ' }),
            ollama.chunk({ role: 'assistant', content: 'words.' }),
            ollama.chunk({ role: 'assistant', content: '' }, ''),
          ],
        },
      ],
      agent: { requestUsage: false },
    });
    const { events, end } = await h.finish(await h.send('count a b'));
    expect(end).toMatchObject({ type: 'agent_completed', message: { content: 'Two words.' } });
    expect(ofType(events, 'tool_completed')[0]).toMatchObject({ tool: 'wordCount', ok: true });
    expect(ofType(events, 'agent_thinking')[0]!.text).toBe('Counting.');
    expect(h.llm.requests[0]!.body['stream_options']).toBeUndefined();
    // The call had no id: the agent names it and the tool message answers that name.
    const second = messagesOf(h.llm.requests[1]!.body);
    expect(second.at(-2)).toMatchObject({ tool_calls: [{ id: 'call_0', type: 'function' }] });
    expect(second.at(-1)).toMatchObject({ role: 'tool', tool_call_id: 'call_0' });
  });

  test('a missing id and type, and a finish chunk without the field, still make one call', async () => {
    await using h = await createLlmHarness({
      replies: [
        {
          events: [
            chunk({ tool_calls: [{ index: 0, function: { name: 'clock', arguments: '{' } }] }),
            chunk(
              { tool_calls: [{ index: 0, function: { arguments: '}' } }] },
              { omitFinish: true },
            ),
            chunk({}, { finish: 'tool_calls' }),
          ],
        },
        answerReply(['ok']),
      ],
    });
    const { events, end } = await h.finish(await h.send('time?'));
    expect(end.type).toBe('agent_completed');
    expect(ofType(events, 'tool_executing').map((e) => [e.tool, e.args])).toEqual([['clock', {}]]);
  });

  test('bad JSON, an unknown tool and arguments failing the schema are failed results the model sees', async () => {
    await using h = await createLlmHarness({
      replies: [
        {
          events: [
            chunk({
              tool_calls: [
                {
                  index: 0,
                  id: 'c1',
                  type: 'function',
                  function: { name: 'calculator', arguments: '{"expression": "1+' },
                },
                {
                  index: 1,
                  id: 'c2',
                  type: 'function',
                  function: { name: 'teleport', arguments: '{}' },
                },
                {
                  index: 2,
                  id: 'c3',
                  type: 'function',
                  function: { name: 'calculator', arguments: '{"expression": 5}' },
                },
              ],
            }),
            chunk({}, { finish: 'tool_calls' }),
          ],
        },
        answerReply(['Sorry, those failed.']),
      ],
    });
    const { events, end } = await h.finish(await h.send('break things'));
    expect(end).toMatchObject({
      type: 'agent_completed',
      message: { content: 'Sorry, those failed.' },
    });
    expect(
      ofType(events, 'tool_completed').map((e) => [e.ok, e.ok ? undefined : e.error.code]),
    ).toEqual([
      [false, 'BAD_REQUEST'],
      [false, 'NOT_FOUND'],
      [false, 'BAD_REQUEST'],
    ]);
    const results = messagesOf(h.llm.requests[1]!.body)
      .filter((m) => m.role === 'tool')
      .map((m) => JSON.parse(String(m.content)) as { error: { message: string } });
    expect(results[0]!.error.message).toMatch(/not valid JSON/);
    expect(results[1]!.error.message).toMatch(/Unknown tool "teleport"/);
    expect(results[2]!.error.message).toMatch(/expression/);
  });

  test('stops with STEP_LIMIT when the model keeps asking for tools', async () => {
    await using h = await createLlmHarness({
      responder: () => toolCallReply({ id: 'c', name: 'clock', args: ['{}'] }),
      agent: { maxSteps: 3 },
    });
    const { events, end } = await h.finish(await h.send('loop forever'));
    expect(end).toMatchObject({ type: 'agent_error', code: 'STEP_LIMIT', retryable: false });
    expect(h.llm.requests).toHaveLength(3);
    expect(ofType(events, 'tool_executing')).toHaveLength(2);
  });
});
