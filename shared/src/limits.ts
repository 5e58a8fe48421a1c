/** Input limits enforced by the contract's schemas (the server may set tighter ones). */
export const INPUT_LIMITS = {
  /** Max characters in a message. */
  contentMaxChars: 32_000,
  /** Max characters in a thread title. */
  titleMaxChars: 200,
  /** Default page size for list/history. */
  pageSizeDefault: 50,
  /** Max page size for list/history. */
  pageSizeMax: 100,
  /** Max length of an opaque cursor. */
  cursorMaxChars: 200,
  /** Max length of an event id (`lastEventId`). */
  eventIdMaxChars: 64,
  /** Max length of an agent name (`chat.createThread`). */
  agentNameMaxChars: 64,
} as const;
