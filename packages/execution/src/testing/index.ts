// Test doubles and local wire-protocol servers for testing agents and the model gateway
// offline (`@aifactory/execution/testing`). Anything exported here is public API.
export { ScriptedModel } from './scripted-model.ts';
export { UnexpectedModelCallError, parseScript } from '../models/model-script.ts';
export type { ModelScript, ScriptScenario, ScriptToolCall, ScriptTurn } from '../models/model-script.ts';
export { startOpenAIWireServer } from './openai-wire-server.ts';
export { startAnthropicWireServer } from './anthropic-wire-server.ts';
export type { WireHandler, WireReply, WireRequest, WireServer, WireServerOptions, WireToolCall } from './wire-server.ts';
