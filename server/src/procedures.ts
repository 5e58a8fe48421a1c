import { requireUser } from './middleware/auth.js';
import { requestContext } from './middleware/requestContext.js';
import { baseProcedure } from './trpc.js';

/** Every procedure starts here: request id, logger, `_meta` handling, error mapping. */
export const publicProcedure = baseProcedure.use(requestContext);

/** Procedures that need a verified user. */
export const authedProcedure = publicProcedure.use(requireUser);
