import { connect, createServer, type Socket } from 'node:net';

/**
 * A loopback TCP proxy in front of a server. Tests cut its connections to simulate network
 * drops (both sides are destroyed, as when a NAT or a load balancer forgets a flow) and can
 * refuse new connections for a while (a network partition).
 */
export interface TcpProxy extends AsyncDisposable {
  /** `http://127.0.0.1:PORT` of the proxy. */
  readonly url: string;
  /** Connections currently forwarded. */
  readonly open: number;
  /** Connections accepted so far (including refused ones). */
  readonly accepted: number;
  /** Connections cut by the test so far. */
  readonly cuts: number;
  /** Destroys every open connection; returns how many. */
  cutAll(): number;
  /** Destroys `count` connections picked at random; returns how many. */
  cutRandom(count: number): number;
  /**
   * Stops forwarding on every open connection without closing it: a half-open peer (the
   * cable was pulled; no FIN, no RST ever arrives). Returns how many.
   */
  freezeAll(): number;
  /** While true, new connections are destroyed as soon as they are accepted. */
  blocked: boolean;
  /** Stops accepting and cuts everything. */
  close(): Promise<void>;
}

/** Options of {@link startTcpProxy}. */
export interface TcpProxyOptions {
  /** Where to forward: `http://host:port`. */
  target: string;
  /** Source of randomness in [0, 1) (seeded tests). Default `Math.random`. */
  random?: () => number;
}

/** Starts a proxy on a free loopback port. */
export async function startTcpProxy(opts: TcpProxyOptions): Promise<TcpProxy> {
  const { hostname, port } = new URL(opts.target);
  const random = opts.random ?? Math.random;
  const pairs = new Set<[Socket, Socket]>();
  let accepted = 0;
  let cuts = 0;

  const drop = (pair: [Socket, Socket]) => {
    pairs.delete(pair);
    pair[0].destroy();
    pair[1].destroy();
  };

  const server = createServer((client) => {
    accepted++;
    if (proxy.blocked) {
      client.destroy();
      return;
    }
    const upstream = connect(Number(port), hostname);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.pipe(upstream);
    upstream.pipe(client);
    const onEnd = () => drop(pair);
    client.on('error', onEnd).on('close', onEnd);
    upstream.on('error', onEnd).on('close', onEnd);
  });

  const close = async () => {
    for (const pair of [...pairs]) drop(pair);
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };

  const proxy: TcpProxy = {
    url: '',
    blocked: false,
    get open() {
      return pairs.size;
    },
    get accepted() {
      return accepted;
    },
    get cuts() {
      return cuts;
    },
    cutAll() {
      const n = pairs.size;
      for (const pair of [...pairs]) drop(pair);
      cuts += n;
      return n;
    },
    freezeAll() {
      for (const [a, b] of pairs) {
        a.unpipe(b);
        b.unpipe(a);
        a.pause();
        b.pause();
      }
      return pairs.size;
    },
    cutRandom(count) {
      const all = [...pairs];
      let n = 0;
      while (n < count && all.length > 0) {
        const [pair] = all.splice(Math.floor(random() * all.length), 1);
        drop(pair!);
        n++;
      }
      cuts += n;
      return n;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: proxyPort } = server.address() as { port: number };
  return Object.assign(proxy, { url: `http://127.0.0.1:${proxyPort}` });
}
