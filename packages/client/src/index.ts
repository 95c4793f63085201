// @aifactory/client public API: anything exported here is public API.
// A small typed client of the aifactory HTTP API, for browsers and Node.
export { AiFactoryClient, ApiError, CopilotChat } from './aifactory-client.ts';
export type {
  Approval,
  Authority,
  ChatReply,
  ClientOptions,
  Feedback,
  FeedbackInput,
  HeldAction,
  RunEvent,
  RunListFilter,
  RunPage,
  RunSummary,
  StreamHandlers,
  UsageDimension,
  UsageFigures,
  UsageReport,
  UsageRow,
} from './aifactory-client.ts';
export { parseServerSentEvents } from './sse.ts';
export type { ServerSentEvent } from './sse.ts';
// The OpenAPI document's own types (generated; for apps that call routes this client does not wrap).
export type { components as OpenApiComponents, operations as OpenApiOperations, paths as OpenApiPaths } from './generated/openapi.ts';
