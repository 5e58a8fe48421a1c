import type { z } from 'zod';
import {
  CancelInputSchema,
  CreateThreadInputSchema,
  CreateThreadOutputSchema,
  EventsInputSchema,
  GetRunInputSchema,
  HistoryInputSchema,
  HistoryOutputSchema,
  ListThreadsInputSchema,
  ListThreadsOutputSchema,
  SendInputSchema,
  SendOutputSchema,
} from './api.js';
import { StreamEventSchema } from './events.js';
import { RunSchema } from './models.js';

/** One public procedure: its tRPC kind and the zod schemas of what goes in and comes out. */
export interface ProcedureContract {
  type: 'query' | 'mutation' | 'subscription';
  /** What the procedure does, for generated documents. */
  description: string;
  input: z.ZodType;
  /** For a subscription: one item of the stream (each sent as tRPC tracked data). */
  output: z.ZodType;
}

/**
 * Every public procedure (DESIGN.md "Public contract"): the names are API. The JSON Schema
 * files under `shared/schema/` are generated from this table, and a server test checks that
 * the router serves exactly these procedures.
 */
export const PROCEDURES = {
  'chat.createThread': {
    type: 'mutation',
    description: 'Creates a thread; returns it with the position of its stream (lastEventId).',
    input: CreateThreadInputSchema,
    output: CreateThreadOutputSchema,
  },
  'chat.listThreads': {
    type: 'query',
    description: "The caller's threads, newest first.",
    input: ListThreadsInputSchema,
    output: ListThreadsOutputSchema,
  },
  'chat.send': {
    type: 'mutation',
    description:
      'Stores a user message and starts a run (idempotent on clientMessageId); lastEventId is the position after which the run’s first event comes.',
    input: SendInputSchema,
    output: SendOutputSchema,
  },
  'chat.history': {
    type: 'query',
    description:
      'One page of messages, oldest first, with the stream position (lastEventId) matching them.',
    input: HistoryInputSchema,
    output: HistoryOutputSchema,
  },
  'chat.cancel': {
    type: 'mutation',
    description: 'Cancels a run; its stream ends with agent_error CANCELLED.',
    input: CancelInputSchema,
    output: RunSchema,
  },
  'agent.run': {
    type: 'query',
    description: 'A run: status and timings.',
    input: GetRunInputSchema,
    output: RunSchema,
  },
  'agent.events': {
    type: 'subscription',
    description:
      'A thread’s events, live from the end of its stream or resumed right after lastEventId; each item is tracked with id `epoch:seq`.',
    input: EventsInputSchema,
    output: StreamEventSchema,
  },
} as const satisfies Record<string, ProcedureContract>;

/** A public procedure's path, e.g. `chat.send`. */
export type ProcedurePath = keyof typeof PROCEDURES;
