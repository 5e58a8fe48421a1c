import {
  AppError,
  CancelInputSchema,
  CreateThreadInputSchema,
  HistoryInputSchema,
  INPUT_LIMITS,
  ListThreadsInputSchema,
  SendInputSchema,
  formatEventId,
  type CreateThreadOutput,
  type HistoryOutput,
  type SendOutput,
} from '@tracewire/shared';
import { createAccess } from '../access.js';
import type { AgentRegistry } from '../agents/registry.js';
import { currentPosition, runStartPosition } from '../events/positions.js';
import { limitsFor } from '../limits/index.js';
import { authedProcedure } from '../procedures.js';
import { router } from '../trpc.js';

const agentNames = (agents: AgentRegistry) =>
  agents
    .list()
    .map((a) => a.name)
    .join(', ');

/** Threads, messages and runs: the mutations a chat client sends. */
export const chatRouter = router({
  createThread: authedProcedure
    .input(CreateThreadInputSchema)
    .mutation(async ({ ctx, input }): Promise<CreateThreadOutput> => {
      const { agents, defaultAgent } = ctx.services;
      const agent = input.agent ?? defaultAgent;
      if (!agents.has(agent)) {
        throw new AppError(
          'BAD_REQUEST',
          `Unknown agent "${agent}"; this server runs: ${agentNames(agents)}`,
        );
      }
      const limits = limitsFor(ctx.services);
      const max = limits.config.maxThreadsPerUser;
      const thread = await ctx.services.store.createThread({
        userId: ctx.principal.userId,
        title: input.title ?? 'New chat',
        agent,
        admit: (threadCount) => {
          if (threadCount < max) return;
          limits.hit('threads_per_user');
          throw new AppError('FORBIDDEN', `at most ${max} threads per user`);
        },
      });
      // The new stream's position: subscribing from it misses none of the thread's events.
      const lastEventId = await currentPosition(ctx.services.events, thread.id);
      ctx.log.info({ thread_id: thread.id }, 'thread created');
      return { ...thread, lastEventId };
    }),

  listThreads: authedProcedure.input(ListThreadsInputSchema).query(({ ctx, input }) =>
    ctx.services.store.listThreads(ctx.principal.userId, {
      cursor: input.cursor,
      limit: input.limit ?? INPUT_LIMITS.pageSizeDefault,
    }),
  ),

  send: authedProcedure
    .input(SendInputSchema)
    .mutation(async ({ ctx, input }): Promise<SendOutput> => {
      const { services, principal } = ctx;
      const thread = await createAccess(services.store).thread(principal.userId, input.threadId);
      if (!services.agents.has(thread.agent)) {
        // A thread made while another agent was configured (e.g. no LLM endpoint any more).
        throw new AppError(
          'UNAVAILABLE',
          `This thread's agent "${thread.agent}" is not running on this server (it runs: ${agentNames(services.agents)}); start a new thread`,
        );
      }
      const max = services.config.agent.maxConcurrentRunsPerUser;
      const { message, run, created } = await services.store.createMessageAndRun({
        threadId: input.threadId,
        userId: principal.userId,
        content: input.content,
        clientMessageId: input.clientMessageId,
        agent: thread.agent,
        // Checked only for a new send: a retry of an accepted send is never refused.
        admit: () => {
          if (services.runs.activeRunCount(principal.userId) >= max) {
            throw new AppError('TOO_MANY_REQUESTS', `at most ${max} concurrent runs per user`);
          }
        },
      });
      // Read before the run starts: none of its events can be at or before this position.
      const lastEventId = await runStartPosition(services.events, run, created);
      if (created) {
        services.runs.start(run, message);
      } else {
        ctx.log.info({ run_id: run.id }, 'send retried: returning the first run');
      }
      return { message, run, lastEventId };
    }),

  history: authedProcedure
    .input(HistoryInputSchema)
    .query(async ({ ctx, input }): Promise<HistoryOutput> => {
      const { services, principal } = ctx;
      const thread = await createAccess(services.store).thread(principal.userId, input.threadId);
      // A run's answer and its agent_completed event commit together, under this thread lock
      // (the run ledger's finish and reconcile take it): between reading the head and the
      // messages nothing can end a run, so the position returned matches the messages exactly.
      return services.locks.run(input.threadId, async () => {
        const head = await services.events.head(input.threadId);
        const page = await services.store.listMessages(input.threadId, {
          cursor: input.cursor,
          limit: input.limit ?? INPUT_LIMITS.pageSizeDefault,
        });
        return {
          ...page,
          lastEventId: formatEventId({ epoch: head.epoch, seq: head.headSeq }),
          /** The agent that answers the thread. */
          agent: thread.agent,
        };
      });
    }),

  cancel: authedProcedure.input(CancelInputSchema).mutation(async ({ ctx, input }) => {
    await createAccess(ctx.services.store).run(ctx.principal.userId, input.runId);
    const run = await ctx.services.runs.cancel(input.runId);
    ctx.log.info({ run_id: run.id, status: run.status }, 'run cancel requested');
    return run;
  }),
});
