import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import type { Logger } from 'pino';

/** Options of {@link startCheckpointer}. */
export interface CheckpointerOptions {
  /** The database file (WAL mode). */
  file: string;
  /** The process's main connection: its automatic checkpoints are turned off while this runs. */
  sqlite: Database.Database;
  /** How often the worker copies the WAL back into the database. @default 100 */
  intervalMs?: number;
  /**
   * WAL size (pages) past which the worker restarts the log, briefly holding writers; without
   * it a write load the checkpoint never catches up with grows the WAL without bound.
   * @default 32768 (128 MiB with 4 KiB pages)
   */
  maxWalFrames?: number;
  logger?: Logger | undefined;
}

/** A running checkpoint thread. */
export interface Checkpointer {
  /** Stops the thread (a checkpoint interrupted midway is safe: the WAL stays valid). */
  stop(): Promise<void>;
}

/**
 * The worker: its own connection to the file, a PASSIVE checkpoint per tick (never blocks a
 * writer). Inline source (`eval: true`) so the same code runs from the compiled package and
 * from the TypeScript sources under test; the driver is resolved here and passed in.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 0');
const tick = () => {
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    // Under a sustained write load PASSIVE never catches up with the writer, and SQLite only
    // rewinds the WAL once every frame is copied: past the bound, one RESTART (which holds
    // writers while it copies what was written since the PASSIVE pass) lets it start over.
    if (r && r.log >= workerData.maxWalFrames) {
      db.pragma('busy_timeout = ' + workerData.restartWaitMs);
      try {
        db.pragma('wal_checkpoint(RESTART)');
      } finally {
        db.pragma('busy_timeout = 0');
      }
    }
  } catch (err) {
    parentPort.postMessage({ error: String(err && err.message || err) });
  }
};
const timer = setInterval(tick, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  clearInterval(timer);
  tick();
  db.close();
  parentPort.close();
});
`;

/** SQLite's default: checkpoint on commit once the WAL holds this many pages. */
const DEFAULT_AUTOCHECKPOINT_PAGES = 1000;

/**
 * Moves WAL checkpoints off the event loop. With SQLite's automatic checkpoints, the commit
 * that crosses 1,000 WAL pages copies them into the database and syncs it, synchronously, on
 * the thread serving sockets: a third of the cost of every small commit under a many-stream
 * load. A worker thread with its own connection checkpoints instead (PASSIVE: it never waits
 * for, nor blocks, the writer), and bounds the WAL's size (see `maxWalFrames`). If the worker
 * fails, automatic checkpoints come back.
 */
export function startCheckpointer(opts: CheckpointerOptions): Checkpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: {
      file: opts.file,
      driver,
      intervalMs: opts.intervalMs ?? 100,
      maxWalFrames: opts.maxWalFrames ?? 32_768,
      restartWaitMs: 20,
    },
  });
  worker.unref();
  opts.sqlite.pragma('wal_autocheckpoint = 0');
  let stopped = false;
  const fallBack = (reason: unknown) => {
    if (stopped) return;
    stopped = true;
    opts.logger?.error(
      { err: reason },
      'checkpoint thread failed: SQLite checkpoints on commit again',
    );
    if (opts.sqlite.open)
      opts.sqlite.pragma(`wal_autocheckpoint = ${DEFAULT_AUTOCHECKPOINT_PAGES}`);
  };
  worker.on('message', (m: { error?: string }) => {
    if (m.error) opts.logger?.warn({ reason: m.error }, 'WAL checkpoint failed; retrying');
  });
  worker.on('error', fallBack);
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.once('exit', (code) => {
    if (!stopped) fallBack(new Error(`checkpoint thread exited with code ${code}`));
  });
  return {
    async stop() {
      if (stopped) return exited;
      stopped = true;
      worker.postMessage('stop');
      const timer = setTimeout(() => void worker.terminate(), 2_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
