import { createServer, connect, type Socket } from 'node:net';

/** A TCP proxy in front of a server that tests can cut, to drop real connections. */
export interface TcpProxy extends AsyncDisposable {
  /** http://127.0.0.1:PORT of the proxy. */
  url: string;
  /** Destroys every open connection (both sides), like a network drop. */
  cutAll(): number;
  /**
   * Called with each chunk the server sends (unmasked, unlike client WS frames); return true
   * to cut that connection instead of forwarding it.
   */
  onServerChunk: ((chunk: Buffer) => boolean) | null;
  /** Connections accepted so far. */
  readonly accepted: number;
}

/** Starts a proxy on port 0 forwarding to `target` (http://host:port). */
export async function startTcpProxy(target: string): Promise<TcpProxy> {
  const { hostname, port } = new URL(target);
  const pairs = new Set<[Socket, Socket]>();
  let accepted = 0;
  const proxy: TcpProxy = {
    url: '',
    onServerChunk: null,
    get accepted() {
      return accepted;
    },
    cutAll() {
      const n = pairs.size;
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      pairs.clear();
      return n;
    },
    async [Symbol.asyncDispose]() {
      proxy.cutAll();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server = createServer((client) => {
    accepted++;
    const upstream = connect(Number(port), hostname);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      if (proxy.onServerChunk?.(chunk)) drop();
      else client.write(chunk);
    });
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address() as { port: number };
  proxy.url = `http://127.0.0.1:${address.port}`;
  return proxy;
}
