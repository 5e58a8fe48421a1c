import { IncomingMessage } from 'node:http';
import { queryObjects } from 'node:v8';
import { expect, test } from 'vitest';
import { waitFor } from '../helpers/collect.js';
import { probeListeners } from '../helpers/listenerProbe.js';
import { createPlainClient } from '../helpers/plainClient.js';
import { connectRawWs } from '../helpers/rawWsClient.js';
import { startTestServer } from '../helpers/server.js';
import { startTcpProxy } from '../helpers/tcpProxy.js';

const PING_MS = 200;
const PONG_WAIT_MS = 200;

test('a peer that stops answering PING, or whose network silently vanished, is terminated and its subscription released; a healthy one stays', async () => {
  await using srv = await startTestServer({
    env: { TRACEWIRE_WS_PING_MS: String(PING_MS), TRACEWIRE_WS_PONG_WAIT_MS: String(PONG_WAIT_MS) },
  });
  const { transport, services } = srv.server;
  const listeners = probeListeners(services.events);
  const token = await srv.tokenFor('alice');
  await using setup = createPlainClient({ url: srv.url, token, transport: 'ws' });
  const thread = await setup.trpc.chat.createThread.mutate({});
  await setup.close();
  await waitFor(() => transport.connections.stats().open === 0);

  await using healthy = await connectRawWs({ wsUrl: srv.wsUrl, token });
  await using silent = await connectRawWs({ wsUrl: srv.wsUrl, token });
  silent.answerPings = false;
  // Half-open: a plain @trpc/client (no client keepAlive) behind a proxy that stops forwarding.
  await using proxy = await startTcpProxy({ target: srv.url });
  await using halfOpen = createPlainClient({ url: proxy.url, token, transport: 'ws' });
  let halfOpenFrames = 0;
  const halfOpenSub = halfOpen.trpc.agent.events.subscribe(
    { threadId: thread.id },
    { onData: () => halfOpenFrames++, onError: () => undefined },
  );
  for (const c of [healthy, silent]) c.subscribe({ threadId: thread.id });
  await healthy.waitFor((e) => e.length === 1);
  await silent.waitFor((e) => e.length === 1);
  await waitFor(() => halfOpenFrames === 1);
  expect(transport.connections.stats().byState.active).toBe(3);
  expect(listeners.active).toBe(3);
  proxy.freezeAll();

  const started = Date.now();
  const closed = await silent.closed;
  const elapsed = Date.now() - started;
  // terminate() (no close frame): the client sees an abnormal closure.
  expect(closed.code).toBe(1006);
  expect(silent.pings).toBeGreaterThanOrEqual(1);
  expect(elapsed).toBeLessThan(5_000);
  // The frozen connection is cut the same way on the server side.
  await waitFor(() => transport.connections.stats().open === 1, 5_000);
  await waitFor(() => listeners.active === 1, 2_000);
  expect(halfOpenFrames).toBe(1);

  // The healthy client has answered several PINGs by now and is still served.
  await new Promise((r) => setTimeout(r, 3 * (PING_MS + PONG_WAIT_MS)));
  expect(healthy.pings).toBeGreaterThanOrEqual(3);
  expect(healthy.ws.readyState).toBe(healthy.ws.OPEN);
  expect(transport.connections.stats().byState.active).toBe(1);

  halfOpenSub.unsubscribe();
  await healthy.close();
  await waitFor(() => transport.connections.stats().open === 0 && listeners.active === 0, 2_000);
  expect(listeners.total).toBe(3);
});

test('held connections cost no timer and no upgrade request each: one clock serves keepalive, auth deadline and token expiry', async () => {
  await using srv = await startTestServer({ env: { TRACEWIRE_MAX_CONNECTIONS_PER_USER: '40' } });
  const token = await srv.tokenFor('alice');
  await using setup = createPlainClient({ url: srv.url, token, transport: 'ws' });
  const thread = await setup.trpc.chat.createThread.mutate({});
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const requests = () => queryObjects(IncomingMessage) as number;
  const before = timers();
  const requestsBefore = requests();
  const clients = await Promise.all(
    Array.from({ length: 30 }, () => connectRawWs({ wsUrl: srv.wsUrl, token })),
  );
  try {
    for (const c of clients) c.subscribe({ threadId: thread.id });
    await Promise.all(clients.map((c) => c.waitFor((e) => e.length === 1)));
    expect(srv.server.transport.connections.stats().byState.active).toBe(31);
    // Was at least one per connection (tRPC's keepalive timers; one more for a token's expiry).
    expect(timers() - before).toBeLessThan(5);
    // tRPC's handler kept each upgrade request (headers, raw headers) for the connection's life.
    expect(requests() - requestsBefore).toBeLessThan(5);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
});
