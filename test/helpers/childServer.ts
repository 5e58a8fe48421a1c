import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEV_AUTH_SECRET, signToken } from '@tracewire/server';
import { TEST_AUTH_SECRET } from './server.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** `node server/dist/main.js`: the real entry point, as `npm start` runs it. */
export const MAIN_ENTRY = join(repoRoot, 'server/dist/main.js');
/** The built server with the `firehose` test agent as default (see firehoseServer.mjs). */
export const FIREHOSE_ENTRY = join(repoRoot, 'test/helpers/firehoseServer.mjs');

/** How a child server process ended. */
export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A server in its own process (restart, signal and memory tests). */
export interface ChildServer extends AsyncDisposable {
  readonly process: ChildProcess;
  readonly pid: number;
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with the first output line matching `pattern` (waits for it). */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Resident set size of the process in bytes (Linux `/proc/<pid>/status` VmRSS). */
  rssBytes(): number;
  /** Sends a signal and resolves with the exit code once the process ended. */
  stop(signal?: NodeJS.Signals): Promise<ChildExit>;
  /** Signs a token with the secret the child uses. */
  tokenFor(userId: string): Promise<string>;
}

/** Options of {@link startChildServer}. */
export interface ChildServerOptions {
  /** Script to run with `node`; {@link MAIN_ENTRY} by default. */
  entry?: string;
  /** Extra environment (TRACEWIRE_*). */
  env?: Record<string, string>;
  /** Variables the child must not get at all, defaults included (e.g. `NODE_ENV`, `TRACEWIRE_AUTH_SECRET`). */
  unset?: readonly string[];
  /** Reuse a data dir (restarts); a fresh temp dir otherwise, removed on dispose. */
  dataDir?: string;
  /** Port to bind (restarts reuse the first port); 0 picks a free one. */
  port?: number;
  /** How long to wait for the start line. Default 15 s. */
  startTimeoutMs?: number;
  /**
   * Run as `npm start` does on a developer's machine: NODE_ENV=development and no
   * TRACEWIRE_AUTH_SECRET (the built-in dev secret, a printed demo token). `tokenFor` then
   * signs with the dev secret.
   */
  devAuth?: boolean;
}

const LISTENING = /Tracewire listening on (http:\/\/\S+)/;

/** Reads VmRSS (kB) of a process from procfs. */
export function readRssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1];
  if (!kb) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kb) * 1024;
}

/**
 * Spawns the server with `node <entry>` and waits for its "Tracewire listening on" line.
 * The process gets only the environment given here (plus PATH), so a developer's shell
 * settings do not leak in.
 */
export async function startChildServer(opts: ChildServerOptions = {}): Promise<ChildServer> {
  const ownsDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'tracewire-child-'));
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '',
    NODE_ENV: opts.devAuth ? 'development' : 'test',
    HOST: '127.0.0.1',
    PORT: String(opts.port ?? 0),
    TRACEWIRE_DATA_DIR: dataDir,
    ...(opts.devAuth ? {} : { TRACEWIRE_AUTH_SECRET: TEST_AUTH_SECRET }),
    TRACEWIRE_LOG_LEVEL: 'warn',
    ...opts.env,
  };
  for (const name of opts.unset ?? []) delete env[name];
  const child = spawn(process.execPath, [opts.entry ?? MAIN_ENTRY], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const lineWaiters = new Set<() => void>();
  const onChunk = (chunk: Buffer) => {
    out += chunk.toString('utf8');
    for (const w of [...lineWaiters]) w();
  };
  child.stdout.on('data', onChunk);
  child.stderr.on('data', onChunk);
  const exited = new Promise<ChildExit>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let ended = false;
  void exited.then(() => {
    ended = true;
    for (const w of [...lineWaiters]) w();
  });

  const waitForLine = (pattern: RegExp, timeoutMs = 10_000) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const line = out.split('\n').find((l) => pattern.test(l));
        if (line !== undefined) {
          done();
          resolve(line);
        } else if (ended) {
          done();
          reject(new Error(`server exited before printing ${String(pattern)}:\n${out}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no line matching ${String(pattern)} within ${timeoutMs} ms:\n${out}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        lineWaiters.delete(check);
      };
      lineWaiters.add(check);
      check();
    });

  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (!ended) child.kill(signal);
    return exited;
  };

  let line: string;
  try {
    line = await waitForLine(LISTENING, opts.startTimeoutMs ?? 15_000);
  } catch (err) {
    child.kill('SIGKILL');
    if (ownsDir) rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  const url = LISTENING.exec(line)![1]!;
  return {
    process: child,
    pid: child.pid!,
    url,
    port: Number(new URL(url).port),
    dataDir,
    output: () => out,
    waitForLine,
    rssBytes: () => readRssBytes(child.pid!),
    stop,
    tokenFor: (userId) =>
      signToken({ secret: opts.devAuth ? DEV_AUTH_SECRET : TEST_AUTH_SECRET, userId }),
    async [Symbol.asyncDispose]() {
      if (!ended) {
        child.kill('SIGKILL');
        await exited;
      }
      if (ownsDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
