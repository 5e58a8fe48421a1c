import { randomBytes } from 'node:crypto';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { openPostgresStore, type PostgresStore, type PostgresStoreOptions } from '../index.js';

/**
 * The machine's PostgreSQL (trust auth for `postgres`; IPv6 refused, so 127.0.0.1), through
 * its maintenance database. `TRACEWIRE_TEST_PG_URL` points tests elsewhere.
 */
export const PG_ADMIN_URL =
  process.env['TRACEWIRE_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const uniqueName = (prefix: string) => `${prefix}_${process.pid}_${randomBytes(5).toString('hex')}`;

async function admin<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A fresh database, dropped (with any connection left on it) on dispose. */
export interface TestDatabase extends AsyncDisposable {
  /** `postgres://…/<name>` */
  url: string;
  name: string;
}

/** Creates a fresh, empty database on the test server. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = uniqueName('tw_test');
  await admin(PG_ADMIN_URL, (c) => c.query(`create database "${name}"`));
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    [Symbol.asyncDispose]: () =>
      admin(PG_ADMIN_URL, (c) => c.query(`drop database if exists "${name}" with (force)`)).then(
        () => undefined,
      ),
  };
}

/**
 * One fresh database for the calling test file: created before its first test, dropped after
 * its last. Returns the accessor of its URL (valid once the file's tests run).
 */
export function usePostgresDatabase(): () => string {
  let database: TestDatabase | undefined;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.[Symbol.asyncDispose]();
  });
  return () => {
    if (!database) throw new Error('the test database is created in beforeAll');
    return database.url;
  };
}

/** Creates a schema in the database at `url`; disposing drops it with everything in it. */
export async function createTestSchema(url: string): Promise<{ schema: string } & AsyncDisposable> {
  const schema = uniqueName('s');
  await admin(url, (c) => c.query(`create schema "${schema}"`));
  return {
    schema,
    [Symbol.asyncDispose]: () =>
      admin(url, (c) => c.query(`drop schema if exists "${schema}" cascade`)).then(() => undefined),
  };
}

/** A store on a fresh schema of the database at `url`; disposing closes it and drops the schema. */
export async function openTestPostgresStore(
  url: string,
  opts: Partial<PostgresStoreOptions> = {},
): Promise<PostgresStore & { schema: string } & AsyncDisposable> {
  const scratch = await createTestSchema(url);
  const opened = await openPostgresStore({
    url,
    schema: scratch.schema,
    poolSize: 4,
    logger: pino({ level: 'silent' }),
    ...opts,
  });
  return {
    ...opened,
    schema: scratch.schema,
    [Symbol.asyncDispose]: async () => {
      await opened.close();
      await scratch[Symbol.asyncDispose]();
    },
  };
}
