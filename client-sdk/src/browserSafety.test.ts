import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

const srcDir = fileURLToPath(new URL('.', import.meta.url));

/** SDK runtime files: everything in src except tests, test helpers and the terminal client. */
function runtimeFiles(dir = srcDir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory())
      return entry.name === 'cli' || entry.name === '__tests__' ? [] : runtimeFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

describe('SDK runtime code', () => {
  test('imports no Node module, ws or eventsource, so it runs in browsers (users inject them)', () => {
    const files = runtimeFiles();
    expect(files.length).toBeGreaterThan(5);
    const offenders = files.flatMap((file) =>
      [...readFileSync(file, 'utf8').matchAll(/^\s*import\s[^;]*?from\s+'([^']+)'/gms)]
        .map((m) => m[1]!)
        .filter((spec) => spec.startsWith('node:') || spec === 'ws' || spec === 'eventsource')
        .map((spec) => `${file}: ${spec}`),
    );
    expect(offenders).toEqual([]);
  });
});
