import { once } from 'node:events';
import net from 'node:net';
import { expect, test } from 'vitest';
import { batchTick, uncorkSoon } from './writeBatch.js';

/** A real loopback TCP pair; the server side collects what it receives. */
async function socketPair() {
  let received = '';
  const server = net.createServer((s) => s.on('data', (b: Buffer) => (received += b.toString())));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const client = net.connect(port, '127.0.0.1');
  await once(client, 'connect');
  return {
    client,
    received: () => received,
    [Symbol.asyncDispose]: async () => {
      client.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

const macrotask = () => new Promise((r) => setImmediate(r));

test('writes of one turn are held corked until the check phase, then leave together', async () => {
  await using pair = await socketPair();
  batchTick(pair.client);
  pair.client.write('a');
  batchTick(pair.client);
  pair.client.write('b');
  await Promise.resolve();
  expect(pair.client.writableLength).toBe(2);
  await macrotask();
  expect(pair.client.writableLength).toBe(0);
  await expect.poll(pair.received).toBe('ab');
});

test('uncorkSoon releases the corked writes as soon as the current synchronous work is done', async () => {
  await using pair = await socketPair();
  for (const chunk of ['x', 'y', 'z']) {
    batchTick(pair.client);
    pair.client.write(chunk);
    uncorkSoon();
  }
  // Still one batch while the loop runs...
  expect(pair.client.writableLength).toBe(3);
  // ...handed to the kernel at the next microtask, not a turn later.
  await Promise.resolve();
  expect(pair.client.writableLength).toBe(0);
  await expect.poll(pair.received).toBe('xyz');
  // A stream with nothing corked is left alone.
  uncorkSoon();
  pair.client.write('!');
  await expect.poll(pair.received).toBe('xyz!');
});
