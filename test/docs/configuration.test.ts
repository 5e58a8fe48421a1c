import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configVariables } from '@tracewire/server';
import { describe, expect, test } from 'vitest';

/**
 * The configuration doc is the one table of every variable the server reads: nothing read and
 * missing, nothing listed and not read, no default that differs from the code's, and no
 * `TRACEWIRE_*` named anywhere in the docs that nothing reads.
 */
const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(join(root, path), 'utf8');

/** The rows of the first table in docs/configuration.md: names (a cell may hold two) and default. */
function configurationTable(): Map<string, string> {
  const rows = new Map<string, string>();
  const lines = read('docs/configuration.md').split('\n');
  const start = lines.findIndex((l) => l.startsWith('| variable'));
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    const [names = '', def = ''] = line
      .split('|')
      .slice(1)
      .map((c) => c.trim());
    for (const [, name] of names.matchAll(/`([A-Z][A-Z0-9_]*)`/g)) rows.set(name!, def);
  }
  return rows;
}

/** The `TRACEWIRE_*` names a text mentions. */
const mentioned = (text: string) =>
  new Set([...text.matchAll(/\bTRACEWIRE_[A-Z0-9_]*[A-Z0-9]\b/g)].map((m) => m[0]));

/** `TRACEWIRE_*` variables read elsewhere: the terminal client (`npm run chat`) and opt-in tests. */
function otherReaders(): Set<string> {
  const names = new Set<string>();
  const scan = (dir: string) => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) scan(path);
      else if (entry.name.endsWith('.ts'))
        for (const [, name] of read(path).matchAll(/process\.env\['(TRACEWIRE_[A-Z0-9_]+)'\]/g))
          names.add(name!);
    }
  };
  scan('client-sdk/src/cli');
  scan('test');
  return names;
}

describe('docs/configuration.md', () => {
  const table = configurationTable();
  const variables = configVariables();

  test('lists every variable the server reads, with the code’s default', () => {
    const missing = variables.filter((v) => !table.has(v.name)).map((v) => v.name);
    expect(missing).toEqual([]);
    for (const v of variables) {
      const doc = table.get(v.name)!;
      const literal = /^`([^`]*)`$/.exec(doc)?.[1];
      if (v.default === undefined) {
        // No default: the doc says what applies instead (unset, a dev secret), never a value.
        expect(literal, v.name).toBeUndefined();
      } else {
        expect(literal, `${v.name}: the doc’s default`).toBe(
          JSON.stringify(v.default).replace(/^"|"$/g, ''),
        );
      }
    }
  });

  test('lists no server variable the server does not read', () => {
    const read = new Set(variables.map((v) => v.name));
    const extra = [...table.keys()].filter((n) => !n.startsWith('OTEL_') && !read.has(n));
    expect(extra).toEqual([]);
  });

  test('every TRACEWIRE_* variable the README and docs/ name is read by the server, the terminal client or an opt-in test', () => {
    const known = new Set([...variables.map((v) => v.name), ...otherReaders()]);
    const docs = readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md'));
    for (const file of ['README.md', 'bench/HISTORY.md', ...docs.map((f) => `docs/${f}`)]) {
      const unknown = [...mentioned(read(file))].filter((n) => !known.has(n));
      expect(unknown, file).toEqual([]);
    }
  });
});
