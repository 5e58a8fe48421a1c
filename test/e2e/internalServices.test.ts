import { createServiceCaller, signToken } from '@tracewire/server';
import { createClientMessageId, type UserId } from '@tracewire/shared';
import { expect, test } from 'vitest';
import { sendAndCollect } from '../helpers/collect.js';
import { createPlainClient } from '../helpers/plainClient.js';
import { TEST_AUTH_SECRET, startTestServer } from '../helpers/server.js';

test('an in-process service caller acting for a user goes through validation and ownership', async () => {
  await using srv = await startTestServer();
  const services = srv.server.services;
  const asAlice = createServiceCaller(services, { service: 'billing', actAs: 'alice' as UserId });
  const asItself = createServiceCaller(services, { service: 'billing' });

  const thread = await asAlice.chat.createThread({ title: 'Invoice questions' });
  expect(thread.userId).toBe('alice');
  // Subscriptions work in process too: tracked events come as [id, event] tuples.
  type Tracked = [string, { type: string; runId?: string }];
  const stream = (await asAlice.agent.events({ threadId: thread.id })) as AsyncIterable<Tracked>;
  const it = stream[Symbol.asyncIterator]();
  expect((await it.next()).value?.[1].type).toBe('stream_position');
  const { run } = await asAlice.chat.send({
    threadId: thread.id,
    content: 'what is 3*3?',
    clientMessageId: createClientMessageId(),
  });
  const types: string[] = [];
  for (let r = await it.next(); !r.done; r = await it.next()) {
    types.push(r.value[1].type);
    if (r.value[1].type === 'agent_completed' || r.value[1].type === 'agent_error') break;
  }
  await it.return?.();
  expect(types[0]).toBe('agent_started');
  expect(types.at(-1)).toBe('agent_completed');

  // The user sees what the service wrote for her, over the network.
  await using alice = createPlainClient({
    url: srv.url,
    token: await srv.tokenFor('alice'),
    transport: 'ws',
  });
  expect((await alice.trpc.chat.listThreads.query({})).items.map((t) => t.id)).toContain(thread.id);
  expect((await alice.trpc.agent.run.query({ runId: run.id })).id).toBe(run.id);

  // Without actAs the service is its own user: Alice's thread is not found, bad input is refused.
  await expect(asItself.chat.history({ threadId: thread.id })).rejects.toMatchObject({
    code: 'NOT_FOUND',
  });
  await expect(
    asAlice.chat.send({ threadId: thread.id, content: '', clientMessageId: 'x' }),
  ).rejects.toMatchObject({
    code: 'BAD_REQUEST',
  });
});

test('another service calls over HTTP with a service token', async () => {
  await using srv = await startTestServer();
  const token = await signToken({
    secret: TEST_AUTH_SECRET,
    userId: 'svc-reports',
    service: 'reports',
  });
  await using client = createPlainClient({ url: srv.url, token, transport: 'http+sse' });
  const thread = await client.trpc.chat.createThread.mutate({ title: 'nightly' });
  expect(thread.userId).toBe('svc-reports');
  const { received } = await sendAndCollect(client.trpc, {
    threadId: thread.id,
    content: '2+2',
    clientMessageId: createClientMessageId(),
  });
  const seen = received.map((r) => r.data.type);
  expect(seen.at(-1)).toBe('agent_completed');
});
