import { describe, expect, test } from 'vitest';
import { API_SECURITY_HEADERS, pageSecurityHeaders } from './httpHeaders.js';

/** The directives of a Content-Security-Policy, by name. */
const directives = (csp: string) =>
  Object.fromEntries(
    csp.split(';').map((d) => {
      const [name = '', ...values] = d.trim().split(/\s+/);
      return [name, values];
    }),
  );

describe('security header policy', () => {
  test('API responses: nothing may load, run, frame or cache them', () => {
    expect(API_SECURITY_HEADERS['x-content-type-options']).toBe('nosniff');
    expect(API_SECURITY_HEADERS['cache-control']).toBe('no-store');
    const csp = directives(API_SECURITY_HEADERS['content-security-policy']!);
    expect(csp['default-src']).toEqual(["'none'"]);
    expect(csp['frame-ancestors']).toEqual(["'none'"]);
  });

  test('pages: own-origin scripts and styles only, no inline code, no plugins, no framing', () => {
    const headers = pageSecurityHeaders({ connectSources: ['https://api.example.com'] });
    const csp = directives(headers['content-security-policy']!);
    expect(csp['script-src']).toEqual(["'self'"]);
    expect(csp['style-src']).toEqual(["'self'"]);
    expect(csp['object-src']).toEqual(["'none'"]);
    expect(csp['frame-ancestors']).toEqual(["'none'"]);
    expect(csp['base-uri']).toEqual(["'none'"]);
    expect(csp['connect-src']).toEqual(["'self'", 'https://api.example.com']);
    expect(headers['content-security-policy']).not.toMatch(/unsafe-|\*/);
    expect(headers['x-content-type-options']).toBe('nosniff');
  });
});
