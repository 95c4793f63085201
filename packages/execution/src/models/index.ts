// The model gateway of the execution plane. The package barrel re-exports from here; anything
// exported here is public API.
export type {
  ChatMessage,
  MeteredModelGateway,
  ModelAttribution,
  ModelCallOptions,
  ModelGateway,
  ModelRequest,
  ModelResponse,
  ModelUsage,
  ToolCall,
  ToolSpec,
  UsageFilter,
  UsageRecord,
} from './model-types.ts';
export type { BackoffConfig, ModelGatewayConfig, ProviderConfig, ProviderKind } from './gateway-config.ts';
export { modelGatewayConfigFromEnv } from './gateway-config.ts';
export type { ModelTarget } from './model-gateway.ts';
export { createModelGateway, parseModelId } from './model-gateway.ts';
export type { ModelPrice, PriceTable } from './price-table.ts';
export { computeCost, defaultPrices, findPrice } from './price-table.ts';
export type { ModelScript, ScriptScenario, ScriptToolCall, ScriptTurn, ScriptedAnswer } from './model-script.ts';
export { UnexpectedModelCallError, loadScript, parseScript, playScript } from './model-script.ts';
export type { ModelRegistry, RegisteredModel } from './model-registry.ts';
export { createModelRegistry, loadModelRegistry, modelDocumentSchema, parseModelDocument } from './model-registry.ts';
