import { describe, expect, test } from 'vitest';
import { isConnectionParamsFrame } from './trpcWs/frameGuard.js';
import { expectsConnectionParams } from './trpcWs/endpoint.js';
import { exceedsJsonDepth } from './jsonDepth.js';
import { isOriginAllowed } from './origin.js';

describe('JSON depth check', () => {
  test('counts nesting of arrays and objects, ignoring brackets inside strings', () => {
    expect(exceedsJsonDepth('{"a":[{"b":1}]}', 3)).toBe(false);
    expect(exceedsJsonDepth('{"a":[{"b":[1]}]}', 3)).toBe(true);
    expect(exceedsJsonDepth(`{"s":"${'['.repeat(100)}"}`, 2)).toBe(false);
    expect(exceedsJsonDepth(`{"s":"\\"${'{'.repeat(10)}"}`, 2)).toBe(false);
    expect(exceedsJsonDepth('['.repeat(1_000_000), 64)).toBe(true);
  });
});

describe('connectionParams frame check', () => {
  test('accepts the tRPC client frame and refuses anything else', () => {
    expect(isConnectionParamsFrame('{"method":"connectionParams","data":{"token":"t"}}')).toBe(
      true,
    );
    expect(isConnectionParamsFrame('{"method":"connectionParams","data":null}')).toBe(true);
    for (const bad of [
      'nope',
      '[]',
      '{"method":"query"}',
      '{"method":"connectionParams","data":{"token":1}}',
      '{"method":"connectionParams","data":[]}',
    ]) {
      expect(isConnectionParamsFrame(bad), bad).toBe(false);
    }
  });
});

describe('connectionParams announcement', () => {
  test('reads the query as tRPC does: percent-encoded, anywhere in the query, exactly 1', () => {
    for (const url of [
      '/trpc?connectionParams=1',
      '/trpc?connectionParams=%31',
      '/trpc?a=b&connectionParams=1',
    ])
      expect(expectsConnectionParams(url), url).toBe(true);
    for (const url of ['/trpc', '/trpc?connectionParams=0', '/trpc?connectionParams=11', undefined])
      expect(expectsConnectionParams(url), String(url)).toBe(false);
  });
});

describe('Origin allow-list', () => {
  test('null allows all; a list matches exact origins; no Origin header (non-browser) is allowed', () => {
    expect(isOriginAllowed('https://evil.example', null)).toBe(true);
    const list = ['https://app.example'];
    expect(isOriginAllowed('https://app.example', list)).toBe(true);
    expect(isOriginAllowed('https://APP.example/', list)).toBe(true);
    expect(isOriginAllowed('https://app.example.evil', list)).toBe(false);
    expect(isOriginAllowed('null', list)).toBe(false);
    expect(isOriginAllowed(undefined, list)).toBe(true);
  });
});
