import { isRetryableAgentCode, type AgentErrorCode } from '@tracewire/shared';

/**
 * What an agent throws to end its run with a specific `agent_error` code (e.g. RATE_LIMITED
 * from a model endpoint). The code wins over the engine's own labelling (such as TOOL_FAILED
 * after a failed tool call), and its message reaches the client.
 */
export class AgentError extends Error {
  override readonly name = 'AgentError';
  readonly code: AgentErrorCode;
  /** Whether sending the message again may succeed. */
  readonly retryable: boolean;

  constructor(
    code: AgentErrorCode,
    message: string,
    options: { retryable?: boolean; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? isRetryableAgentCode(code);
  }
}

/** True for an {@link AgentError} (also across duplicated package copies). */
export const isAgentError = (value: unknown): value is AgentError =>
  value instanceof AgentError ||
  (value instanceof Error &&
    value.name === 'AgentError' &&
    typeof (value as { code?: unknown }).code === 'string' &&
    typeof (value as { retryable?: unknown }).retryable === 'boolean');
