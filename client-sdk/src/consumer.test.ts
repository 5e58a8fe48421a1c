import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';

const sdkDir = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const fixtureDir = join(sdkDir, 'fixtures/consumer');
const distTypes = join(sdkDir, 'dist/index.d.ts');
const tscBin = createRequire(import.meta.url).resolve('typescript/bin/tsc');

/** Runs the TypeScript compiler on a project; returns its exit code and output. */
function tsc(project: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [tscBin, '-p', project, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/**
 * Installs the built package the way npm would for a consumer: node_modules/@tracewire/client
 * holds package.json and dist only (no src, no tsconfig, no workspace sources).
 */
function installBuiltPackage() {
  const pkgDir = join(fixtureDir, 'node_modules/@tracewire/client');
  rmSync(join(fixtureDir, 'node_modules'), { recursive: true, force: true });
  mkdirSync(pkgDir, { recursive: true });
  copyFileSync(join(sdkDir, 'package.json'), join(pkgDir, 'package.json'));
  symlinkSync(relative(pkgDir, join(sdkDir, 'dist')), join(pkgDir, 'dist'), 'dir');
}

describe('the built package, seen by a consumer', () => {
  beforeAll(() => {
    if (!existsSync(distTypes)) {
      throw new Error(
        'client-sdk/dist is missing: run `npm run build -w @tracewire/client` (npm test does)',
      );
    }
    installBuiltPackage();
  });

  test('carries the router types: a strict consumer compiles against dist alone', () => {
    const { status, output } = tsc(join(fixtureDir, 'tsconfig.json'), '--listFiles');
    expect(output.split('\n').filter((l) => l.includes('error TS'))).toEqual([]);
    expect(status).toBe(0);
    const files = output
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
    expect(files).toContain(distTypes);
    // No source or declarations of the server or the shared contract were needed.
    const repo = resolve(sdkDir, '..');
    const workspaceSources = ['server', 'shared', 'otel', 'client-sdk/src'].map(
      (d) => join(repo, d) + '/',
    );
    const leaked = files.filter((f) => workspaceSources.some((dir) => f.startsWith(dir)));
    expect(leaked).toEqual([]);
  });

  test('a browser-only project (lib ES2022 + DOM, skipLibCheck false) compiles against dist', () => {
    // No Node types and no esnext.disposable: what a web app has. Also checks the README's
    // `event.ok ? event.result : event.error.message` and the StreamEvent name.
    const { status, output } = tsc(join(fixtureDir, 'tsconfig.browser.json'), '--listFiles');
    expect(output.split('\n').filter((l) => l.includes('error TS'))).toEqual([]);
    expect(status).toBe(0);
    expect(output).toContain(distTypes);
    expect(output).not.toMatch(/@types\/node|lib\.esnext\.disposable/);
  });

  test('a wrong input fails to compile: removing the @ts-expect-error line breaks the build', () => {
    const source = readFileSync(join(fixtureDir, 'consumer.ts'), 'utf8');
    const lines = source.split('\n');
    const directive = lines.findIndex((l) => l.trim().startsWith('// @ts-expect-error'));
    expect(directive).toBeGreaterThan(0);
    const tmp = join(fixtureDir, `.tmp-${process.pid}`);
    mkdirSync(tmp, { recursive: true });
    try {
      writeFileSync(join(tmp, 'consumer.ts'), lines.filter((_, i) => i !== directive).join('\n'));
      writeFileSync(
        join(tmp, 'tsconfig.json'),
        JSON.stringify({ extends: '../tsconfig.json', files: ['consumer.ts'] }),
      );
      const { status, output } = tsc(join(tmp, 'tsconfig.json'));
      expect(status).not.toBe(0);
      // The error is on the line that followed the directive (1-based: directive + 1).
      expect(output).toMatch(new RegExp(`consumer\\.ts\\(${directive + 1},\\d+\\): error TS2322`));
      expect(output).toContain("Type 'number' is not assignable to type 'string'");
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
