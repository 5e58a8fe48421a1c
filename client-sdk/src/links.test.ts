import { EventSource as EventSourceImpl } from 'eventsource';
import { describe, expect, test } from 'vitest';
import { WebSocket as WebSocketImpl } from 'ws';
import { assertTransportAvailable, endpointUrls } from './links.js';

describe('endpointUrls', () => {
  test('puts HTTP and WebSocket calls under /trpc on the same origin', () => {
    expect(endpointUrls('http://127.0.0.1:3000')).toEqual({
      http: 'http://127.0.0.1:3000/trpc',
      ws: 'ws://127.0.0.1:3000/trpc',
    });
  });

  test('maps https to wss and ignores trailing slashes', () => {
    expect(endpointUrls('https://api.example.com/base/')).toEqual({
      http: 'https://api.example.com/base/trpc',
      ws: 'wss://api.example.com/base/trpc',
    });
  });
});

describe('assertTransportAvailable', () => {
  test('fails fast with the fix when the runtime has no WebSocket (Node 20) and none was passed', () => {
    const g = globalThis as { WebSocket?: unknown };
    const saved = g.WebSocket;
    delete g.WebSocket;
    try {
      expect(() => assertTransportAvailable({ transport: 'ws+http' })).toThrow(
        /import \{ WebSocket \} from 'ws'/,
      );
      expect(() =>
        assertTransportAvailable({ transport: 'ws', WebSocket: WebSocketImpl }),
      ).not.toThrow();
    } finally {
      if (saved !== undefined) g.WebSocket = saved;
    }
  });

  test('asks for an EventSource for SSE only', () => {
    const g = globalThis as { EventSource?: unknown };
    const saved = g.EventSource;
    delete g.EventSource;
    try {
      expect(() => assertTransportAvailable({ transport: 'http+sse' })).toThrow(/eventsource/);
      expect(() =>
        assertTransportAvailable({ transport: 'http+sse', EventSource: EventSourceImpl }),
      ).not.toThrow();
    } finally {
      if (saved !== undefined) g.EventSource = saved;
    }
  });
});
