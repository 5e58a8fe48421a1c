/**
 * @module
 * Test utilities: a scripted OpenAI-compatible endpoint (a real HTTP server on 127.0.0.1)
 * and builders for chunks in OpenAI's streaming wire format. Used by the test suite and the
 * bench; not loaded by the server itself.
 */
export { sseText, startScriptedLlmServer } from './scriptedLlmServer.js';
export type {
  Responder,
  ScriptedLlmServer,
  ScriptedReply,
  ScriptedRequest,
} from './scriptedLlmServer.js';
export {
  answerReply,
  chunk,
  createToolLoopResponder,
  toolCallReply,
  usageChunk,
} from './openaiChunks.js';
export type { ChunkOptions } from './openaiChunks.js';
