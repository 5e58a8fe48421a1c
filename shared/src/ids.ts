import { z } from 'zod';

/** Random part of ids: lowercase base-32, enough entropy that ids are unguessable. */
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/**
 * Random bytes drawn from the CSPRNG in blocks (as `uuid` does): one `getRandomValues` call of
 * 16 bytes costs ~2.5 µs and an ArrayBuffer on Node, and a chat turn makes several ids.
 */
const POOL = new Uint8Array(4096);
let poolPos = POOL.length;

function randomPart(length: number): string {
  if (poolPos + length > POOL.length) {
    globalThis.crypto.getRandomValues(POOL);
    poolPos = 0;
  }
  let out = '';
  for (let i = poolPos; i < poolPos + length; i++) out += ALPHABET[POOL[i]! & 31];
  poolPos += length;
  return out;
}

/**
 * Time-ordered id: 10 chars of millisecond time then 16 random chars, so ids sort by
 * creation time (useful for cursors) and cannot be guessed.
 */
function timeOrderedId(prefix: string): string {
  let t = Date.now();
  let time = '';
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[t % 32]! + time;
    t = Math.floor(t / 32);
  }
  return `${prefix}_${time}${randomPart(16)}`;
}

const idPattern = (prefix: string) => new RegExp(`^${prefix}_[0-9a-z]{26}$`);

/** Thread id (`thr_…`). */
export const ThreadIdSchema = z
  .string()
  .regex(idPattern('thr'), 'invalid thread id')
  .brand<'ThreadId'>();
export type ThreadId = z.infer<typeof ThreadIdSchema>;
/** Message id (`msg_…`). */
export const MessageIdSchema = z
  .string()
  .regex(idPattern('msg'), 'invalid message id')
  .brand<'MessageId'>();
export type MessageId = z.infer<typeof MessageIdSchema>;
/** Run id (`run_…`). */
export const RunIdSchema = z.string().regex(idPattern('run'), 'invalid run id').brand<'RunId'>();
export type RunId = z.infer<typeof RunIdSchema>;
/** Tool call id (`call_…`), unique within a run. */
export const ToolCallIdSchema = z
  .string()
  .regex(idPattern('call'), 'invalid tool call id')
  .brand<'ToolCallId'>();
export type ToolCallId = z.infer<typeof ToolCallIdSchema>;
/** User id: the verified token's `sub`. */
export const UserIdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\w.@:|-]+$/, 'invalid user id')
  .brand<'UserId'>();
export type UserId = z.infer<typeof UserIdSchema>;
/** Client-chosen idempotency key for `chat.send` (a UUID or any 8–64 char token). */
export const ClientMessageIdSchema = z
  .string()
  .min(8)
  .max(64)
  .regex(/^[\w-]+$/, 'clientMessageId must be 8–64 chars of [A-Za-z0-9_-]')
  .brand<'ClientMessageId'>();
export type ClientMessageId = z.infer<typeof ClientMessageIdSchema>;

/** Creates a new thread id. */
export const createThreadId = (): ThreadId => timeOrderedId('thr') as ThreadId;
/** Creates a new message id. */
export const createMessageId = (): MessageId => timeOrderedId('msg') as MessageId;
/** Creates a new run id. */
export const createRunId = (): RunId => timeOrderedId('run') as RunId;
/** Creates a new tool call id. */
export const createToolCallId = (): ToolCallId => timeOrderedId('call') as ToolCallId;
/** Creates a new client message id (for `chat.send` idempotency). */
export const createClientMessageId = (): ClientMessageId =>
  globalThis.crypto.randomUUID() as ClientMessageId;
/** Creates a new request id (correlation only, never a credential). */
export const createRequestId = (): string => globalThis.crypto.randomUUID();
/** Short random string used for stream epochs. */
export const createEpoch = (): string => randomPart(12);
