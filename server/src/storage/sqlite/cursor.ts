import { AppError } from '@tracewire/shared';

/** Which list a cursor belongs to; a cursor of one list is refused by the other. */
export type CursorKind = 'threads' | 'messages';

const PREFIX: Record<CursorKind, string> = { threads: 't', messages: 'm' };

/**
 * Encodes a row position as an opaque cursor (base64url of `kind:pos`), so clients
 * cannot depend on its shape and the back end may change it later.
 */
export function encodeCursor(kind: CursorKind, pos: number): string {
  return Buffer.from(`${PREFIX[kind]}:${pos}`, 'utf8').toString('base64url');
}

/** Decodes a cursor from {@link encodeCursor}; anything else is a `BAD_REQUEST`. */
export function decodeCursor(kind: CursorKind, cursor: string): number {
  const invalid = () => new AppError('BAD_REQUEST', `invalid ${kind} cursor`);
  if (cursor.length === 0 || cursor.length > 64 || !/^[A-Za-z0-9_-]+$/.test(cursor))
    throw invalid();
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const m = /^([a-z]):(\d{1,15})$/.exec(text);
  if (!m || m[1] !== PREFIX[kind]) throw invalid();
  const pos = Number(m[2]);
  if (!Number.isSafeInteger(pos) || pos < 1) throw invalid();
  return pos;
}
