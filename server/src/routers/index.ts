import { router } from '../trpc.js';
import { agentRouter } from './agent.js';
import { chatRouter } from './chat.js';

/** The public API. Procedure names are part of the contract (DESIGN.md). */
export const appRouter = router({
  chat: chatRouter,
  agent: agentRouter,
});

/** The router's type: what the client SDK is generated from. */
export type AppRouter = typeof appRouter;
