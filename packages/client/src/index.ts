// @aifactory/client public API: anything exported here is public API.
// A small typed client of the aifactory HTTP API, for browsers and Node.
export { AiFactoryClient, ApiError, CopilotChat } from './aifactory-client.ts';
export type { Approval, Authority, ChatReply, ClientOptions, Feedback, FeedbackInput, HeldAction, RunEvent, StreamHandlers } from './aifactory-client.ts';
export { parseServerSentEvents } from './sse.ts';
export type { ServerSentEvent } from './sse.ts';
