import { fork, type ChildProcess } from 'node:child_process';

/** A child Node process driven over IPC, with its output tail kept for error reports. */
export interface NodeProcess<In, Out extends { type: string }> {
  readonly pid: number;
  send(m: In): void;
  /** The next message of `type` (buffered if it came earlier); rejects on exit or timeout. */
  waitFor<T extends Out['type']>(type: T, timeoutMs: number): Promise<Extract<Out, { type: T }>>;
  /** Asks nicely with `exit`, then SIGKILLs after `graceMs`. */
  stop(exitMessage: In | null, graceMs?: number): Promise<void>;
  /** Last few KB of stdout + stderr. */
  output(): string;
}

const TAIL = 4096;

/** Forks `file` (a built .js) with IPC; `execArgv` are Node flags such as `--expose-gc`. */
export function startNode<In, Out extends { type: string }>(opts: {
  file: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  execArgv?: string[];
}): NodeProcess<In, Out> {
  const child: ChildProcess = fork(opts.file, opts.args ?? [], {
    env: { ...process.env, ...opts.env },
    execArgv: opts.execArgv ?? [],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let tail = '';
  const keep = (b: Buffer) => (tail = (tail + b.toString()).slice(-TAIL));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const inbox: Out[] = [];
  const waiters = new Set<{ type: string; resolve(m: Out): void; reject(e: Error): void }>();
  let exited: string | null = null;
  child.on('message', (m: Out) => {
    for (const w of waiters) {
      if (w.type === m.type) {
        waiters.delete(w);
        return w.resolve(m);
      }
    }
    inbox.push(m);
  });
  const exitPromise = new Promise<void>((resolve) =>
    child.on('exit', (code, signal) => {
      exited = `exited (code ${code}, signal ${signal})`;
      for (const w of waiters) w.reject(new Error(`${exited}: ${tail.slice(-800)}`));
      waiters.clear();
      resolve();
    }),
  );
  return {
    pid: child.pid ?? 0,
    send: (m) => {
      if (child.connected) child.send(m as object);
    },
    waitFor<T extends Out['type']>(type: T, timeoutMs: number) {
      const i = inbox.findIndex((m) => m.type === type);
      if (i >= 0) return Promise.resolve(inbox.splice(i, 1)[0] as Extract<Out, { type: T }>);
      if (exited) return Promise.reject(new Error(`${exited}: ${tail.slice(-800)}`));
      return new Promise<Extract<Out, { type: T }>>((resolve, reject) => {
        const w = {
          type,
          resolve: (m: Out) => {
            clearTimeout(timer);
            resolve(m as Extract<Out, { type: T }>);
          },
          reject: (e: Error) => {
            clearTimeout(timer);
            reject(e);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for "${type}"`));
        }, timeoutMs);
        waiters.add(w);
      });
    },
    async stop(exitMessage, graceMs = 3000) {
      if (exited) return;
      if (exitMessage) this.send(exitMessage);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exitPromise;
      clearTimeout(timer);
    },
    output: () => tail,
  };
}
